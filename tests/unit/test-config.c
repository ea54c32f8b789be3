/* mcsd.conf: defaults, every key, and rejections that name file and line. */
#include <stdio.h>
#include <unistd.h>

#include "mcs-config.h"
#include "test-util.h"

START_TEST(defaults_and_every_key) {
        mcs_config c;
        mcs_err e = {0};
        mcs_config_init(&c);
        ck_assert_ok(mcs_config_parse(&c, "empty.conf", "", &e), &e);
        ck_assert_str_eq(c.uri, "qemu:///system");
        ck_assert_ptr_null(c.registry);
        ck_assert_ptr_null(c.host_id);
        ck_assert_uint_eq(c.undefine_grace_ms, 30000);
        ck_assert_uint_eq(c.reconnect_min_ms, 500);
        ck_assert_uint_eq(c.reconnect_max_ms, 30000);
        ck_assert_uint_eq(c.keepalive_interval_s, 5);
        ck_assert_uint_eq(c.keepalive_count, 3);
        ck_assert_int_eq(c.log_level, MCS_LOG_INFO);
        ck_assert(!c.has_range);
        ck_assert_ptr_null(c.socket);
        ck_assert_uint_eq(c.socket_mode, 0660);
        ck_assert_ptr_null(c.socket_group);
        ck_assert_ptr_null(c.admin_group);
        ck_assert_uint_eq(c.max_clients, 64);
        ck_assert_uint_eq(c.client_timeout_ms, 10000);
        ck_assert_ptr_null(c.hook_socket);
        ck_assert_uint_eq(c.hook_timeout_ms, 5000);
        ck_assert_uint_eq(c.busy_timeout_ms, 3000); /* below hook_timeout */
        ck_assert(!c.hook_fail_open);
        ck_assert(!c.reserve_without_selinux);
        ck_assert(!c.registry_create); /* a registry is made only when told */
        ck_assert_ptr_null(c.metrics_textfile_dir); /* no metrics file unless asked */

        const char *text = "# a comment\n"
                           "uri = test+unix:///default?socket=/run/x.sock\n"
                           "  registry=sqlite:/srv/mcs/registry.db  \n"
                           "host_id = kvm-07\n"
                           "exclude = scratch-*\n"
                           "exclude = ci-[0-9]*\n"
                           "range = c0.c511\n"
                           "domain_context_file = /etc/mcsd/domain_context\n"
                           "undefine_grace = 500ms\n"
                           "reconnect_min = 1\n"
                           "reconnect_max = 2m\n"
                           "busy_timeout = 1500ms\n"
                           "keepalive_interval = 0\n"
                           "keepalive_count = 9\n"
                           "socket = /run/mcsd-test/ctl.sock\n"
                           "socket_mode = 0666\n"
                           "socket_group = libvirt\n"
                           "admin_group = mcs-admins\n"
                           "max_clients = 200\n"
                           "client_timeout = 250ms\n"
                           "hook_socket = /run/mcsd-test/hook.sock\n"
                           "hook_timeout = 2s\n"
                           "hook_fail_open = yes\n"
                           "registry_create = yes\n"
                           "without_selinux = reserve\n"
                           "image_root = /srv/images\n"
                           "image_root = /mnt/nfs/vm\n"
                           "shared_root = /mnt/nfs/vm/pool\n"
                           "shared_root = /mnt/nfs/vm\n"
                           "metrics_textfile_dir = /var/lib/prometheus/node-exporter\n"
                           "log_level = debug\r\n";
        ck_assert_ok(mcs_config_parse(&c, "full.conf", text, &e), &e);
        ck_assert_str_eq(c.uri, "test+unix:///default?socket=/run/x.sock");
        ck_assert_str_eq(c.registry, "sqlite:/srv/mcs/registry.db");
        ck_assert_str_eq(c.host_id, "kvm-07");
        ck_assert_uint_eq(c.n_excludes, 2);
        ck_assert(mcs_config_excludes(&c, "scratch-1"));
        ck_assert(mcs_config_excludes(&c, "ci-42"));
        ck_assert(!mcs_config_excludes(&c, "db-1"));
        ck_assert(c.has_range);
        ck_assert_uint_eq(mcs_catset_count(&c.range), 512);
        ck_assert_str_eq(c.domain_context_file, "/etc/mcsd/domain_context");
        ck_assert_uint_eq(c.undefine_grace_ms, 500);
        ck_assert_uint_eq(c.reconnect_min_ms, 1000);
        ck_assert_uint_eq(c.reconnect_max_ms, 120000);
        ck_assert_uint_eq(c.busy_timeout_ms, 1500);
        ck_assert_uint_eq(c.keepalive_interval_s, 0);
        ck_assert_uint_eq(c.keepalive_count, 9);
        ck_assert_int_eq(c.log_level, MCS_LOG_DEBUG);
        ck_assert_str_eq(c.socket, "/run/mcsd-test/ctl.sock");
        ck_assert_uint_eq(c.socket_mode, 0666);
        ck_assert_str_eq(c.socket_group, "libvirt");
        ck_assert_str_eq(c.admin_group, "mcs-admins");
        ck_assert_uint_eq(c.max_clients, 200);
        ck_assert_uint_eq(c.client_timeout_ms, 250);
        ck_assert_str_eq(c.hook_socket, "/run/mcsd-test/hook.sock");
        ck_assert_uint_eq(c.hook_timeout_ms, 2000);
        ck_assert(c.hook_fail_open);
        ck_assert(c.registry_create);
        ck_assert(c.reserve_without_selinux);
        ck_assert_uint_eq(c.n_image_roots, 2);
        ck_assert_str_eq(c.image_roots[1], "/mnt/nfs/vm");
        ck_assert_uint_eq(c.n_shared_roots, 2);
        ck_assert_str_eq(c.shared_roots[0], "/mnt/nfs/vm/pool");
        ck_assert_str_eq(c.metrics_textfile_dir, "/var/lib/prometheus/node-exporter");
        mcs_config_clear(&c);
}
END_TEST

START_TEST(rejections_name_file_and_line) {
        static const struct {
                const char *text, *needle;
        } cases[] = {
                {"uri = a\nnonsense\n", "bad.conf:2: expected \"key = value\", got 'nonsense'"},
                {"colour = blue\n", "bad.conf:1: unknown key 'colour'"},
                {"\n\nuri =\n", "bad.conf:3: uri: missing value after '='"},
                {"= x\n", "bad.conf:1: missing key before '='"},
                {"uri = a\nuri = b\n", "bad.conf:2: uri is set twice"},
                {"uri = a b\n", "bad.conf:1: uri: the value 'a b' must be one word"},
                {"host_id = a\tb\n", "bad.conf:1: host_id: 'a\\x09b' must be at most 255"},
                {"range = c0.c3\n", "bad.conf:1: range: 'c0.c3' has fewer than 8 categories"},
                {"range = c9.c2\n", "bad.conf:1: range: "},
                {"range = c0.c2000\n", "bad.conf:1: range: "},
                {"log_level = loud\n", "bad.conf:1: log_level: 'loud' is not one of error, warning, info, debug"},
                {"undefine_grace = soon\n", "bad.conf:1: undefine_grace: 'soon' is not a duration"},
                {"undefine_grace = 2h\n", "bad.conf:1: undefine_grace: '2h' is not a duration"},
                {"undefine_grace = 3601s\n", "bad.conf:1: undefine_grace: '3601s' is not a duration"},
                {"undefine_grace = -1\n", "bad.conf:1: undefine_grace: '-1' is not a duration"},
                {"keepalive_count = 101\n", "bad.conf:1: keepalive_count: '101' is not a whole number from 0 to 100"},
                {"keepalive_interval = 99999999999999999999\n", "bad.conf:1: keepalive_interval: "},
                {"reconnect_min = 5s\nreconnect_max = 1s\n", "bad.conf: reconnect_min (5000 ms) must be above 0"},
                {"reconnect_min = 0\n", "bad.conf: reconnect_min (0 ms) must be above 0"},
                {"socket = run/mcsd.sock\n", "bad.conf:1: socket: 'run/mcsd.sock' must be an absolute path"},
                {"socket = /run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
                 "must be an absolute path under 108 bytes"},
                {"socket_mode = 660\n", "bad.conf:1: socket_mode: '660' is not an octal mode"},
                {"socket_mode = 0999\n", "bad.conf:1: socket_mode: '0999' is not an octal mode"},
                {"socket_mode = 0066\n", "bad.conf:1: socket_mode: '0066' is not an octal mode"},
                {"admin_group = 1wheel\n", "bad.conf:1: admin_group: '1wheel' is not a group name"},
                {"socket_group = a/b\n", "bad.conf:1: socket_group: 'a/b' is not a group name"},
                {"max_clients = 0\n", "bad.conf: max_clients must be at least 1"},
                {"max_clients = 5000\n", "bad.conf:1: max_clients: '5000' is not a whole number from 0 to 4096"},
                {"client_timeout = 10ms\n", "bad.conf: client_timeout must be at least 100ms"},
                {"image_root = /\n", "bad.conf:1: image_root: '/' must be an absolute directory other than /"},
                {"image_root = images\n", "bad.conf:1: image_root: 'images' must be an absolute directory"},
                {"image_root = /srv/a\nshared_root = /srv/ab\n",
                 "bad.conf:2: shared_root: '/srv/ab' is not inside an image_root given before it"},
                {"shared_root = /srv/images\n", "bad.conf:1: shared_root: '/srv/images' is not inside an image_root"},
                {"shared_root = nfs\n", "bad.conf:1: shared_root: 'nfs' must be an absolute directory"},
                {"hook_fail_open = maybe\n", "bad.conf:1: hook_fail_open: 'maybe' is not yes or no"},
                {"registry_create = 1\n", "bad.conf:1: registry_create: '1' is not yes or no"},
                {"without_selinux = label\n", "bad.conf:1: without_selinux: 'label' is not skip or reserve"},
                {"hook_timeout = 2m\n", "bad.conf: hook_timeout must be from 100ms to 60s"},
                {"uri = a\nbusy_timeout = 10s\nhook_timeout = 5s\n",
                 "bad.conf:3: busy_timeout (10000 ms) must be below hook_timeout (5000 ms)"},
                {"busy_timeout = 1s\n\nhook_timeout = 1s\nuri = a\n",
                 "bad.conf:3: busy_timeout (1000 ms) must be below hook_timeout (1000 ms)"},
                {"hook_timeout = 2s\nbusy_timeout = 2s\n",
                 "bad.conf:2: busy_timeout (2000 ms) must be below hook_timeout (2000 ms)"},
                {"uri = a\nbusy_timeout = 37s\n",
                 "bad.conf:2: busy_timeout (37000 ms) must be below hook_timeout, which is at most 60s"},
                {"hook_socket = hook.sock\n", "bad.conf:1: hook_socket: 'hook.sock' must be an absolute path"},
                {"metrics_textfile_dir = textfile\n",
                 "bad.conf:1: metrics_textfile_dir: 'textfile' must be an absolute path"},
                {"metrics_textfile_dir = /var/lib/node exporter\n", "bad.conf:1: metrics_textfile_dir: "},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                mcs_config c;
                mcs_err e = {0};
                mcs_config_init(&c);
                ck_assert_ok(mcs_config_parse(&c, "ok.conf", "host_id = keep\n", &e), &e);
                ck_assert_fails(mcs_config_parse(&c, "bad.conf", cases[i].text, &e), &e, MCS_E_INVALID,
                                cases[i].needle);
                /* A refused file leaves the running config as it was. */
                ck_assert_str_eq(c.host_id, "keep");
                mcs_config_clear(&c);
        }
}
END_TEST

/* The operator sets one of the two timeouts; the other follows. */
START_TEST(timeouts_follow_each_other) {
        static const struct {
                const char *text;
                unsigned busy_ms, hook_ms;
        } cases[] = {
                {"", 3000, 5000},
                {"hook_timeout = 2s\n", 1200, 2000},     /* refused before: busy_timeout's default 3s */
                {"hook_timeout = 100ms\n", 60, 100},
                {"hook_timeout = 60s\n", 36000, 60000},
                {"busy_timeout = 1s\n", 1000, 5000},     /* the default hook_timeout leaves room */
                {"busy_timeout = 10s\n", 10000, 16667},  /* refused before: hook_timeout's default 5s */
                {"busy_timeout = 36s\n", 36000, 60000},
                {"busy_timeout = 4s\nhook_timeout = 4500ms\n", 4000, 4500}, /* both set: kept as they are */
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                mcs_config c;
                mcs_err e = {0};
                mcs_config_init(&c);
                ck_assert_ok(mcs_config_parse(&c, "t.conf", cases[i].text, &e), &e);
                ck_assert_msg(c.busy_timeout_ms == cases[i].busy_ms && c.hook_timeout_ms == cases[i].hook_ms,
                              "'%s': busy_timeout %u ms, hook_timeout %u ms; expected %u and %u", cases[i].text,
                              c.busy_timeout_ms, c.hook_timeout_ms, cases[i].busy_ms, cases[i].hook_ms);
                mcs_config_clear(&c);
        }
}
END_TEST

/* A copy owns its strings: the original can go, the copy keeps every
 * value (valgrind checks that nothing is freed twice or lost). */
START_TEST(copy_owns_its_strings) {
        mcs_config c, copy;
        mcs_err e = {0};
        mcs_config_init(&c);
        ck_assert_ok(mcs_config_parse(&c, "t.conf",
                                      "uri = test:///default\nregistry = /var/lib/r.db\nhost_id = h1\n"
                                      "socket_group = mcs\nexclude = a-*\nexclude = b-*\nimage_root = /srv/img\n"
                                      "shared_root = /srv/img/nfs\nhook_timeout = 2s\n",
                                      &e),
                     &e);
        ck_assert_ok(mcs_config_copy(&copy, &c, &e), &e);
        ck_assert_ptr_ne(copy.uri, c.uri);
        ck_assert_ptr_ne(copy.excludes[1], c.excludes[1]);
        mcs_config_clear(&c);
        ck_assert_str_eq(copy.uri, "test:///default");
        ck_assert_str_eq(copy.registry, "/var/lib/r.db");
        ck_assert_str_eq(copy.host_id, "h1");
        ck_assert_str_eq(copy.socket_group, "mcs");
        ck_assert_uint_eq(copy.n_excludes, 2);
        ck_assert_str_eq(copy.excludes[1], "b-*");
        ck_assert_str_eq(copy.shared_roots[0], "/srv/img/nfs");
        ck_assert_uint_eq(copy.hook_timeout_ms, 2000);
        ck_assert_ptr_null(copy.admin_group);
        mcs_config_clear(&copy);
}
END_TEST

START_TEST(files_and_host_id) {
        char *dir = test_tmpdir(), path[4096], mid[4096], id[256];
        mcs_config c;
        mcs_err e = {0};
        mcs_config_init(&c);

        snprintf(path, sizeof path, "%s/mcsd.conf", dir);
        ck_assert_fails(mcs_config_load(&c, path, false, &e), &e, MCS_E_NOTFOUND, "No such file or directory");
        ck_assert_ok(mcs_config_load(&c, path, true, &e), &e);

        FILE *f = fopen(path, "w");
        fputs("uri = x\n", f);
        fwrite("exclude = a\0b\n", 1, 14, f);
        fclose(f);
        ck_assert_fails(mcs_config_load(&c, path, false, &e), &e, MCS_E_INVALID, "mcsd.conf:2: NUL byte in line");

        snprintf(mid, sizeof mid, "%s/machine-id", dir);
        ck_assert_fails(mcs_config_host_id(&c, mid, id, sizeof id, &e), &e, MCS_E_IO, "no host_id in the config");
        f = fopen(mid, "w");
        fputs("\n", f);
        fclose(f);
        ck_assert_fails(mcs_config_host_id(&c, mid, id, sizeof id, &e), &e, MCS_E_INVALID, "holds no usable id");
        f = fopen(mid, "w");
        fputs("0123456789abcdef0123456789abcdef\n", f);
        fclose(f);
        ck_assert_ok(mcs_config_host_id(&c, mid, id, sizeof id, &e), &e);
        ck_assert_str_eq(id, "0123456789abcdef0123456789abcdef");

        f = fopen(path, "w");
        fputs("host_id = from-config\n", f);
        fclose(f);
        ck_assert_ok(mcs_config_load(&c, path, false, &e), &e);
        ck_assert_ok(mcs_config_host_id(&c, mid, id, sizeof id, &e), &e);
        ck_assert_str_eq(id, "from-config");
        mcs_config_clear(&c);
        unlink(path);
        unlink(mid);
        test_rmtree(dir);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("config");
        tcase_add_test(tc, defaults_and_every_key);
        tcase_add_test(tc, rejections_name_file_and_line);
        tcase_add_test(tc, timeouts_follow_each_other);
        tcase_add_test(tc, files_and_host_id);
        tcase_add_test(tc, copy_owns_its_strings);
        suite_add_tcase(s, tc);
        return test_run(s);
}
