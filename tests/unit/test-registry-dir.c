/* The dir:// registry: the API cases every backend shares (registry-api.c)
 * on a directory, and what only a directory of files can go through (its
 * layout, a directory replaced, writers that died half-way, snapshots). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcs-registry.h"
#include "registry-api.h"
#include "test-util.h"
/* The backend itself, for the import operations no public call reaches yet. */
#include "../../lib/registry/backend.h"
/* The dir backend's own layer, to lower its read limit. */
#include "../../lib/registry/dir/dir.h"

static char *reg_dir, *location;

static void setup(void) {
        test_db_setup();
        ck_assert_int_ge(asprintf(&reg_dir, "%s/reg", test_dir), 0);
        ck_assert_int_ge(asprintf(&location, "dir://%s", reg_dir), 0);
}

static void teardown(void) {
        free(reg_dir);
        free(location);
        test_db_teardown();
}

static mcs_registry *open_at(const char *where, const char *host, const char *pool) {
        mcs_registry_config cfg = {.create = true, .host_id = host};
        mcs_registry *r;
        mcs_err e = {0};
        ck_assert_ok(mcs_catset_parse(pool, &cfg.pool, &e), &e);
        ck_assert_ok(mcs_registry_open(where, &cfg, &r, &e), &e);
        return r;
}

static mcs_registry *open_as(const char *host, const char *pool) {
        return open_at(location, host, pool);
}

static mcs_guest guest(const char *uuid, const char *name) {
        return (mcs_guest){.uuid = uuid, .name = name, .kind = MCS_KIND_DYNAMIC};
}

static mcs_guest static_guest(const char *uuid, const char *name) {
        return (mcs_guest){.uuid = uuid, .name = name, .kind = MCS_KIND_STATIC};
}

static int count_files(const char *sub) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", reg_dir, sub);
        DIR *d = opendir(path);
        int n = 0;
        if (!d)
                return -1;
        for (struct dirent *de; (de = readdir(d));)
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static char *slurp(const char *path, size_t *len);

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
}

/* Who asked for an entry lives in who/<token>, not in the entry, whose
 * text stays what an mcsd that predates it parses; a who file that is not
 * exactly what mcsd writes stops the history read, naming it. */
START_TEST(who_asked_beside_the_entry) {
        mcs_registry *r = open_as("host-a", "c0.c1023");
        mcs_actor who = {.known = true, .uid = 1000, .pid = 4242};
        mcs_guest g1 = guest(U1, "one"), g2 = guest(U2, "two");
        mcs_history_list l;
        mcs_record rec;
        mcs_err e = {0};
        char path[4096], name[64];
        size_t len;

        mcs_registry_set_actor(r, &who);
        ck_assert_ok(mcs_registry_reserve(r, &g1, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        mcs_registry_set_actor(r, NULL);
        ck_assert_ok(mcs_registry_reserve(r, &g2, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_int_eq(count_files("who"), 1);

        snprintf(path, sizeof path, "%s/log/00000000000000000001", reg_dir);
        char *entry = slurp(path, &len), *token = strstr(entry, "\ntoken=");
        ck_assert_ptr_nonnull(token);
        ck_assert_ptr_null(strstr(entry, "\tuid="));
        ck_assert_ptr_null(strstr(entry, "4242"));
        snprintf(name, sizeof name, "who/%.32s", token + 7);
        free(entry);
        snprintf(path, sizeof path, "%s/%s", reg_dir, name);
        char *text = slurp(path, &len);
        ck_assert_str_eq(text, "mcs-dir-who 1\nuid=1000\tpid=4242\n");
        free(text);

        ck_assert_ok(mcs_registry_history_query(r, &(mcs_history_query){0}, &l, NULL, &e), &e);
        ck_assert_uint_eq(l.n, 2);
        ck_assert(!l.v[0].who.known);
        ck_assert(l.v[1].who.known);
        ck_assert_uint_eq(l.v[1].who.uid, 1000);
        ck_assert_int_eq(l.v[1].who.pid, 4242);
        mcs_history_list_clear(&l);

        static const char *const bad[] = {"mcs-dir-who 1\nuid=0\tpid=0\n", "mcs-dir-who 1\nuid=01\tpid=5\n",
                                          "mcs-dir-who 1\nuid=0\tpid=5\nuid=0\tpid=5\n", "mcs-dir-who 1\nuid=-1\tpid=5\n",
                                          "mcs-dir-who 1\nuid=4294967295\tpid=5\n", "mcs-dir-who 2\nuid=0\tpid=5\n",
                                          "mcs-dir-who 1\nuid=0\tpid=5"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                write_file(path, bad[i]);
                e = (mcs_err){0};
                ck_assert_msg(mcs_registry_history_query(r, &(mcs_history_query){0}, &l, NULL, &e) ==
                                      -(int) MCS_E_SCHEMA, "who file %zu accepted", i);
                ck_assert_msg(strstr(e.msg, name) != NULL, "who file %zu: %s", i, e.msg);
        }
        mcs_registry_close(r);
}
END_TEST

/* One reservation on disk: one entry in the log (reserving it again
 * writes none), nothing left in tmp/, the entry linked once. */
START_TEST(reservation_layout) {
        mcs_registry *r = open_as("host-a", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        bool created;
        mcs_guest g = guest(U1, "web1");

        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, &created, &e), &e);
        ck_assert(created);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, &created, &e), &e);
        ck_assert(!created);
        mcs_record_clear(&rec);

        ck_assert_int_eq(count_files("log"), 1);
        ck_assert_int_eq(count_files("tmp"), 0);
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/log/00000000000000000001", reg_dir);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_nlink, 1);
        mcs_registry_close(r);
}
END_TEST

/* dir has no shared commit: a batch opens nothing, and each write inside
 * stands on its own (mcsd then answers each on its own outcome). */
START_TEST(batch_without_a_shared_commit) {
        mcs_registry *r = open_as("host-a", "c0.c1023"), *other = open_as("host-b", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest g = guest("bbbbbbbb-0000-4000-8000-000000000001", "alone");

        ck_assert_ok(mcs_registry_batch_begin(r, &e), &e);
        ck_assert(!mcs_registry_in_batch(r));
        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_get(other, g.uuid, &rec, &e), &e); /* durable before batch_end */
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_batch_end(r, false, &e), &e);
        ck_assert_ok(mcs_registry_get(other, g.uuid, &rec, &e), &e); /* and not rolled back */
        mcs_record_clear(&rec);
        mcs_registry_close(other);
        mcs_registry_close(r);
}
END_TEST

START_TEST(locations_and_foreign_directories) {
        mcs_registry_config cfg = {.create = true, .host_id = "h"};
        mcs_registry *r;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_fails(mcs_registry_open("dir:relative/path", &cfg, &r, &e), &e, MCS_E_INVALID,
                        "expected dir:///ABSOLUTE/PATH");
        ck_assert_fails(mcs_registry_open("nfs:/no/server", &cfg, &r, &e), &e, MCS_E_INVALID,
                        "expected nfs://SERVER/EXPORT/PATH");
        ck_assert_fails(mcs_registry_open("nfs://server/a/../b", &cfg, &r, &e), &e, MCS_E_INVALID, "must be plain");

        /* A directory with files of its own is not taken over. */
        char *other, *where, path[4096];
        ck_assert_int_ge(asprintf(&other, "%s/other", test_dir), 0);
        ck_assert_int_eq(mkdir(other, 0700), 0);
        snprintf(path, sizeof path, "%s/precious", other);
        write_file(path, "keep me\n");
        ck_assert_int_ge(asprintf(&where, "dir://%s", other), 0);
        ck_assert_fails(mcs_registry_open(where, &cfg, &r, &e), &e, MCS_E_INVALID,
                        "holds 'precious' and 0 more names of its own, and no registry-id");
        free(where);
        /* Nor one whose parent is missing. */
        ck_assert_int_ge(asprintf(&where, "dir://%s/no/such", test_dir), 0);
        ck_assert_fails(mcs_registry_open(where, &cfg, &r, &e), &e, MCS_E_IO, "cannot create directory");
        free(where);
        free(other);

        /* A damaged id is refused, not replaced. */
        r = open_as("h", "c0.c1023");
        mcs_registry_close(r);
        snprintf(path, sizeof path, "%s/registry-id", reg_dir);
        write_file(path, "something else\n");
        ck_assert_fails(mcs_registry_open(location, &cfg, &r, &e), &e, MCS_E_SCHEMA, "not a registry id");
}
END_TEST

static void rename_dir(const char *from_suffix, const char *to_suffix) {
        char a[4096], b[4096];
        snprintf(a, sizeof a, "%s%s", reg_dir, from_suffix);
        snprintf(b, sizeof b, "%s%s", reg_dir, to_suffix);
        ck_assert_int_eq(rename(a, b), 0);
}

/* Another registry at the path: a handle notices and starts again from it. */
START_TEST(replaced_directory_is_noticed) {
        mcs_registry *a = open_as("host-a", "c0.c3");
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest g = static_guest(U1, "old");
        ck_assert_ok(mcs_registry_reserve_label(a, &g, "s0:c0,c1", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);

        rename_dir("", ".old");
        mcs_registry *b = open_as("host-b", "c0.c3"); /* a new, empty registry */
        g = static_guest(U2, "new");
        ck_assert_ok(mcs_registry_reserve_label(b, &g, "s0:c2", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);

        /* a's view held c0,c1; the registry now holds c2 only: three pairs free (c0,c1 c0,c3 c1,c3). */
        ck_assert_fails(mcs_registry_get(a, U1, &rec, &e), &e, MCS_E_NOTFOUND, U1);
        for (int n = 0; n < 3; n++) {
                char uuid[40];
                snprintf(uuid, sizeof uuid, "00000000-0000-0000-0000-%012d", n);
                mcs_guest d = guest(uuid, "d");
                ck_assert_ok(mcs_registry_reserve(a, &d, &rec, NULL, &e), &e);
                ck_assert_msg(!strstr(rec.label, "c2"), "drew %s, which holds c2", rec.label);
                mcs_record_clear(&rec);
        }
        mcs_guest d = guest(U3, "one-too-many");
        ck_assert_fails(mcs_registry_reserve(a, &d, &rec, NULL, &e), &e, MCS_E_EXHAUSTED, "6 pairs");

        /* And without a registry at the path it says so. */
        rename_dir("", ".new");
        char buf[512];
        ck_assert_int_lt(mcs_registry_health(a, buf, sizeof buf, &e), 0);
        ck_assert_msg(strstr(buf, "cannot") || strstr(buf, "No such file"), "health said '%s'", buf);
        ck_assert_fails(mcs_registry_get(a, U1, &rec, &e), &e, MCS_E_IO, "reach the registry directory");
        mcs_registry_close(a);
        mcs_registry_close(b);
}
END_TEST

static void copy_tree(const char *from, const char *to) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", from, to);
        ck_assert_int_eq(system(cmd), 0);
}

/* What writers killed at each step leave: a temporary file not yet
 * published changes nothing; one published but not removed is an entry
 * like any other. Their host removes the leftovers; nobody is blocked. */
START_TEST(leftovers_of_killed_writers) {
        mcs_registry *a = open_as("host-a", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest g = static_guest(U1, "first");
        ck_assert_ok(mcs_registry_reserve_label(a, &g, "s0:c1,c2", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        char path[4096], tmp[4096], log2[4096];

        /* A dead process of host-a wrote entry 2 completely, linked it, and died before unlinking. */
        pid_t dead = fork();
        ck_assert_int_ge(dead, 0);
        if (dead == 0)
                _exit(0);
        ck_assert_int_eq(waitpid(dead, NULL, 0), dead);
        snprintf(tmp, sizeof tmp, "%s/tmp/host-a.%ld.0123456789abcdef0123456789abcdef", reg_dir, (long) dead);
        write_file(tmp, "mcs-dir-entry 1\ntoken=0123456789abcdef0123456789abcdef\n"
                        "op=reserve\tat=5\tuuid=" U2 "\tname=half\tlabel=s0:c3,c4\tkind=static\thost=host-a\t"
                        "state=reserved\tcreated=5\tupdated=5\tgeneration=1\n");
        snprintf(log2, sizeof log2, "%s/log/00000000000000000002", reg_dir);
        ck_assert_int_eq(link(tmp, log2), 0);
        /* Another wrote entry 3 to a temporary file and died before publishing it. */
        snprintf(path, sizeof path, "%s/tmp/host-a.%ld.fedcba9876543210fedcba9876543210", reg_dir, (long) dead);
        write_file(path, "mcs-dir-entry 1\ntoken=fedcba9876543210fedcba9876543210\n"
                         "op=reserve\tat=6\tuuid=" U3 "\tname=never\tlabel=s0:c5,c6\tkind=static\thost=host-a\t"
                         "state=reserved\tcreated=6\tupdated=6\tgeneration=1\n");
        /* And one of a third host, which the others leave alone, even one
         * whose host id starts with another's and a dot. */
        snprintf(path, sizeof path, "%s/tmp/host-c.%ld.00000000000000000000000000000000", reg_dir, (long) dead);
        write_file(path, "partial");
        snprintf(path, sizeof path, "%s/tmp/host-a.%ld.%ld.00000000000000000000000000000000", reg_dir, (long) dead,
                 (long) dead);
        write_file(path, "partial");

        mcs_registry *b = open_as("host-b", "c0.c1023");
        ck_assert_ok(mcs_registry_get(b, U2, &rec, &e), &e);
        ck_assert_str_eq(rec.label, "s0:c3,c4");
        mcs_record_clear(&rec);
        ck_assert_fails(mcs_registry_get(b, U3, &rec, &e), &e, MCS_E_NOTFOUND, U3);
        mcs_guest c = static_guest(U4, "next");
        ck_assert_fails(mcs_registry_reserve_label(b, &c, "s0:c4", &rec, NULL, &e), &e, MCS_E_CONFLICT,
                        "held by guest half");
        ck_assert_ok(mcs_registry_reserve_label(b, &c, "s0:c5,c6", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_int_eq(count_files("tmp"), 4);
        mcs_registry_close(b);
        mcs_registry_close(a);

        /* host-a's next start (or heartbeat) removes its own dead leftovers. */
        a = open_as("host-a", "c0.c1023");
        ck_assert_int_eq(count_files("tmp"), 2);
        struct stat st;
        ck_assert_int_eq(stat(log2, &st), 0);
        ck_assert_uint_eq(st.st_nlink, 1);
        mcs_registry_close(a);
}
END_TEST

START_TEST(snapshot_starts_new_handles) {
        mcs_registry *a = open_as("host-a", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        char uuid[40];
        /* 1000 entries: 600 reservations, 400 of them released again. */
        for (int n = 0; n < 600; n++) {
                snprintf(uuid, sizeof uuid, "00000000-0000-0000-0000-%012d", n);
                mcs_guest g = guest(uuid, "g");
                ck_assert_ok(mcs_registry_reserve(a, &g, &rec, NULL, &e), &e);
                mcs_record_clear(&rec);
        }
        for (int n = 0; n < 400; n++) {
                snprintf(uuid, sizeof uuid, "00000000-0000-0000-0000-%012d", n);
                ck_assert_ok(mcs_registry_release(a, uuid, NULL, &e), &e);
        }
        ck_assert_int_eq(count_files("snap"), 1);
        mcs_registry_close(a);

        /* Entries before the snapshot's own moved away: a new handle must start from the snapshot. */
        char path[4096];
        for (int n = 1; n < 1000; n++) {
                snprintf(path, sizeof path, "%s/log/%020d", reg_dir, n);
                ck_assert_int_eq(unlink(path), 0);
        }
        mcs_registry *b = open_as("host-b", "c0.c1023");
        mcs_record_list l;
        ck_assert_ok(mcs_registry_list(b, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, 200);
        mcs_record_list_clear(&l);
        mcs_alloc_stats st;
        ck_assert_ok(mcs_registry_stats(b, &st, &e), &e);
        ck_assert_uint_eq(st.labels, 200);
        /* The history starts where the entries left begin: the snapshot's own, a release. */
        mcs_history_list h;
        ck_assert_ok(mcs_registry_history(b, NULL, &h, &e), &e);
        ck_assert_uint_eq(h.n, 1);
        ck_assert_int_eq(h.v[0].op, MCS_OP_RELEASE);
        ck_assert_uint_eq(h.v[0].seq, 1000);
        mcs_history_list_clear(&h);
        uint64_t first;
        ck_assert_ok(mcs_registry_history_start(b, &first, &e), &e);
        ck_assert_uint_eq(first, 1000); /* said, not silently left out */
        mcs_guest g = guest(U1, "after");
        ck_assert_ok(mcs_registry_reserve(b, &g, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        snprintf(path, sizeof path, "%s/log/%020d", reg_dir, 1001);
        ck_assert_int_eq(access(path, F_OK), 0);
        mcs_registry_close(b);
}
END_TEST

START_TEST(heartbeats_and_health) {
        mcs_registry *a = open_as("host-a", "c0.c1023"), *b = open_as("weird/host%id", "c0.c1023");
        mcs_err e = {0};
        mcs_host_list hl;
        char buf[512];
        ck_assert_ok(mcs_registry_hosts(a, &hl, &e), &e);
        ck_assert_uint_eq(hl.n, 0);
        ck_assert_ok(mcs_registry_heartbeat(a, &e), &e);
        ck_assert_ok(mcs_registry_heartbeat(b, &e), &e);
        ck_assert_ok(mcs_registry_heartbeat(a, &e), &e);
        ck_assert_ok(mcs_registry_hosts(b, &hl, &e), &e);
        ck_assert_uint_eq(hl.n, 2);
        ck_assert_str_eq(hl.v[0].host, "host-a");
        ck_assert_str_eq(hl.v[1].host, "weird/host%id");
        ck_assert_int_gt(hl.v[0].seen_us, 0);
        mcs_host_list_clear(&hl);
        ck_assert_int_eq(count_files("tmp"), 0);
        ck_assert_ok(mcs_registry_health(a, buf, sizeof buf, &e), &e);
        ck_assert_msg(strncmp(buf, "ok: dir registry ", 17) == 0, "health said '%s'", buf);

        /* An entry that does not parse stops every reader, and says where. */
        char path[4096];
        snprintf(path, sizeof path, "%s/log/00000000000000000001", reg_dir);
        write_file(path, "garbage\n");
        ck_assert_int_lt(mcs_registry_health(a, buf, sizeof buf, &e), 0);
        ck_assert_msg(strstr(buf, "log/00000000000000000001") && strstr(buf, "not a registry entry"),
                      "health said '%s'", buf);
        mcs_registry_close(a);
        mcs_registry_close(b);
}
END_TEST

/* A copy into an empty registry keeps records, history and originals as
 * they were; the copied records block what they hold. */
START_TEST(import_into_an_empty_registry) {
        mcs_registry_config cfg = {.create = true, .host_id = "copier"};
        mcs_backend *b;
        mcs_err e = {0};
        char loc[4200];
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        snprintf(loc, sizeof loc, "//%s", reg_dir);
        ck_assert_ok(mcs_backend_dir.open(loc, &cfg, &b, &e), &e);
        mcs_record rec = {.name = (char *) "imported", .label = (char *) "s0:c1,c2", .kind = MCS_KIND_STATIC,
                          .state = MCS_STATE_RUNNING, .host = (char *) "old-host", .created_us = 100,
                          .updated_us = 200, .generation = 7};
        snprintf(rec.uuid, sizeof rec.uuid, "%s", U1);
        ck_assert_ok(mcs_backend_dir.import_record(b, &rec, &e), &e);
        ck_assert_fails(mcs_backend_dir.import_record(b, &rec, &e), &e, MCS_E_EXISTS, "holds a label already");
        mcs_record other = rec;
        snprintf(other.uuid, sizeof other.uuid, "%s", U2);
        ck_assert_fails(mcs_backend_dir.import_record(b, &other, &e), &e, MCS_E_EXISTS,
                        "label s0:c1,c2 is held already");
        mcs_history_entry h = {.seq = 1, .at_us = 50, .op = MCS_OP_RESERVE, .rec = rec};
        ck_assert_ok(mcs_backend_dir.import_history(b, &h, &e), &e);
        mcs_original o = {.path = (char *) "/img/x", .context = (char *) "u:r:t:s0", .host = (char *) "old-host",
                          .saved_us = 42};
        snprintf(o.uuid, sizeof o.uuid, "%s", U1);
        ck_assert_ok(mcs_backend_dir.import_original(b, &o, &e), &e);
        ck_assert_fails(mcs_backend_dir.import_original(b, &o, &e), &e, MCS_E_EXISTS, "is there already");
        mcs_backend_dir.close(b);

        mcs_registry *r = open_as("host-a", "c0.c1023");
        mcs_record now;
        ck_assert_ok(mcs_registry_get(r, U1, &now, &e), &e);
        ck_assert_str_eq(now.host, "old-host");
        ck_assert_uint_eq(now.generation, 7);
        ck_assert_int_eq(now.created_us, 100);
        ck_assert_int_eq(now.updated_us, 200);
        ck_assert_int_eq(now.state, MCS_STATE_RUNNING);
        mcs_record_clear(&now);
        mcs_history_list hl;
        ck_assert_ok(mcs_registry_history(r, U1, &hl, &e), &e);
        ck_assert_uint_eq(hl.n, 1);
        ck_assert_int_eq(hl.v[0].at_us, 50);
        ck_assert_int_eq(hl.v[0].op, MCS_OP_RESERVE);
        mcs_history_list_clear(&hl);
        mcs_original_list ol;
        ck_assert_ok(mcs_registry_originals(r, U1, &ol, &e), &e);
        ck_assert_uint_eq(ol.n, 1);
        ck_assert_str_eq(ol.v[0].host, "old-host");
        ck_assert_int_eq(ol.v[0].saved_us, 42);
        mcs_original_list_clear(&ol);
        mcs_guest g = static_guest(U3, "newcomer");
        ck_assert_fails(mcs_registry_reserve_label(r, &g, "s0:c2", &now, NULL, &e), &e, MCS_E_CONFLICT,
                        "held by guest imported (" U1 ") on host old-host");
        mcs_registry_close(r);
}
END_TEST

static int ignore_record(void *ctx, const mcs_record *rec, mcs_err *e) {
        (void) ctx;
        (void) rec;
        (void) e;
        return 0;
}

/* create's guard, at the backend: a view that missed entries is refused
 * when one of them touched a category of the claim (here a range around
 * the pair), and accepted when they all lie elsewhere. */
START_TEST(create_refuses_a_view_that_missed_a_touching_entry) {
        mcs_registry_config cfg = {.create = true, .host_id = "h1"};
        mcs_backend *b;
        mcs_err e = {0};
        mcs_cursor view;
        char loc[4200];
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        snprintf(loc, sizeof loc, "//%s", reg_dir);
        ck_assert_ok(mcs_backend_dir.open(loc, &cfg, &b, &e), &e);
        ck_assert_ok(mcs_backend_dir.scan(b, ignore_record, NULL, &view, &e), &e);

        /* Another host reserves s0:c1.c5 after that view was taken. */
        mcs_registry *other = open_as("h2", "c0.c1023");
        mcs_record rec;
        mcs_guest wide = static_guest(U1, "wide");
        ck_assert_ok(mcs_registry_reserve_label(other, &wide, "s0:c1.c5", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        mcs_registry_close(other);
        ck_assert_fails(mcs_backend_dir.get(b, U2, &rec, &e), &e, MCS_E_NOTFOUND, U2); /* the handle reads on */

        mcs_record pair = {.name = (char *) "pair", .label = (char *) "s0:c2,c3", .kind = MCS_KIND_STATIC,
                           .host = (char *) "h1", .created_us = 1, .updated_us = 1, .generation = 1};
        snprintf(pair.uuid, sizeof pair.uuid, "%s", U2);
        mcs_catset claims = mcs_catset_pair(2, 3);
        ck_assert_int_eq(mcs_backend_dir.create(b, &pair, &claims, &view, &e), -(int) MCS_E_STALE);
        pair.label = (char *) "s0:c700,c701";
        claims = mcs_catset_pair(700, 701);
        ck_assert_ok(mcs_backend_dir.create(b, &pair, &claims, &view, &e), &e);
        mcs_backend_dir.close(b);
}
END_TEST

static void reserve_many(mcs_registry *r, int first, int count) {
        mcs_record rec;
        mcs_err e = {0};
        char uuid[40];
        for (int n = first; n < first + count; n++) {
                snprintf(uuid, sizeof uuid, "00000000-0000-0000-0000-%012d", n);
                mcs_guest g = guest(uuid, "g");
                ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
                mcs_record_clear(&rec);
        }
}

static void remove_entries(int first, int last) {
        char path[4096];
        for (int n = first; n <= last; n++) {
                snprintf(path, sizeof path, "%s/log/%020d", reg_dir, n);
                ck_assert_int_eq(unlink(path), 0);
        }
}

/* A handle whose position was moved away with the entries after it must
 * not take the first missing name for the end of the log (it would write
 * there, against a state that misses everything since). */
START_TEST(entries_moved_away_under_a_handle) {
        mcs_registry *writer = open_as("host-a", "c0.c1023");
        reserve_many(writer, 0, 1000);
        mcs_registry *idle = open_as("host-b", "c0.c1023"); /* starts from snapshot 1000 */
        reserve_many(writer, 1000, 1000);
        ck_assert_int_eq(count_files("snap"), 2);
        remove_entries(1, 1999); /* everything before the newest snapshot's own entry */

        mcs_record_list l;
        mcs_err e = {0};
        ck_assert_ok(mcs_registry_list(idle, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, 2000);
        mcs_record_list_clear(&l);
        reserve_many(idle, 2000, 1);
        char path[4096];
        snprintf(path, sizeof path, "%s/log/%020d", reg_dir, 2001);
        ck_assert_int_eq(access(path, F_OK), 0);
        snprintf(path, sizeof path, "%s/log/%020d", reg_dir, 1001);
        ck_assert_int_ne(access(path, F_OK), 0); /* not written into the gap */
        /* snap/1000 stays, its next entry gone: an mcsd that cannot read
         * snapshot version 2 would start from it. A handle that loaded says so. */
        char health[2048];
        ck_assert_ok(mcs_registry_health(idle, health, sizeof health, &e), &e);
        ck_assert_msg(strstr(health, "; snap/00000000000000001000 is older than the entries left in log/: an mcsd "
                                     "that cannot read the newest snapshot"), "health: %s", health);
        snprintf(path, sizeof path, "%s/snap/%020d", reg_dir, 1000);
        ck_assert_int_eq(unlink(path), 0);
        mcs_registry *fresh = open_as("host-c", "c0.c1023");
        ck_assert_ok(mcs_registry_health(fresh, health, sizeof health, &e), &e);
        ck_assert_msg(!strstr(health, "snap/"), "health: %s", health);
        mcs_registry_close(fresh);
        mcs_registry_close(idle);
        mcs_registry_close(writer);

        /* Without a snapshot that loads, a log that lost its start is refused. */
        char snap[4096];
        snprintf(snap, sizeof snap, "rm -f '%s'/snap/*", reg_dir);
        ck_assert_int_eq(system(snap), 0);
        mcs_registry_config cfg = {.create = true, .host_id = "h"};
        mcs_registry *r;
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_fails(mcs_registry_open(location, &cfg, &r, &e), &e, MCS_E_SCHEMA,
                        "log/00000000000000000001 is gone and no snapshot loads");
}
END_TEST

static char *slurp(const char *path, size_t *len) {
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        char *text = NULL;
        size_t cap = 0;
        FILE *m = open_memstream(&text, &cap);
        ck_assert_ptr_nonnull(m);
        for (int c; (c = fgetc(f)) != EOF;)
                fputc(c, m);
        fclose(f);
        ck_assert_int_eq(fclose(m), 0);
        *len = cap;
        return text;
}

static void put_back_file(const char *path, const char *text, size_t len) {
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
                ck_assert_int_eq(rmdir(path), 0);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(text, 1, len, f), len);
        ck_assert_int_eq(fclose(f), 0);
}

/* Ways a snapshot goes bad, each with the words that must name it. */
static void garble(const char *path) {
        size_t len;
        char *text = slurp(path, &len), *op = strstr(text, "op=import-record");
        ck_assert_ptr_nonnull(op);
        op[3] = 'X';
        put_back_file(path, text, len);
        free(text);
}

static void cut_at_a_line_end(const char *path) {
        size_t len;
        char *text = slurp(path, &len), *p = text;
        for (int n = 0; n < 200; n++)
                p = strchr(p, '\n') + 1;
        ck_assert_int_eq(truncate(path, p - text), 0);
        free(text);
}

static void grow_past_the_read_limit(const char *path) {
        /* Sparse: no disk blocks, and refused from its size before any read. */
        ck_assert_int_eq(truncate(path, (off_t) (128 << 20) + 1), 0);
}

static void make_unreadable(const char *path) {
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(mkdir(path, 0700), 0); /* listed, but read() says EISDIR */
}

static const struct snap_harm {
        void (*harm)(const char *path);
        mcs_code code;
        const char *why;
} snap_harms[] = {
        {garble, MCS_E_SCHEMA, "a snapshot line does not parse"},
        {cut_at_a_line_end, MCS_E_SCHEMA, "a snapshot ends without its end line (cut short)"},
        {grow_past_the_read_limit, MCS_E_IO, "it is larger than 134217728 bytes"},
        {make_unreadable, MCS_E_IO, "read: Is a directory"},
};

static void assert_absent(int seq) {
        char path[4096];
        snprintf(path, sizeof path, "%s/log/%020d", reg_dir, seq);
        ck_assert_msg(access(path, F_OK) != 0, "log/%020d was written", seq);
}

static void assert_list_size(mcs_registry *r, size_t n) {
        mcs_record_list l;
        mcs_err e = {0};
        ck_assert_ok(mcs_registry_list(r, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, n);
        mcs_record_list_clear(&l);
}

/* What a handle that has replayed the registry does once the newest state
 * cannot be reached: it reads on from its own, and refuses every write as a
 * storage fault naming the cause (health says so too). */
static void assert_writes_stop(mcs_registry *r, mcs_code code, const char *needle) {
        mcs_record rec;
        mcs_err e = {0};
        char health[1024];
        mcs_guest g = guest(U1, "new");
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, code, needle);
        ck_assert(mcs_registry_fault_code(code));
        /* An existing guest's reservation is a write too: its answer would come from the old state. */
        mcs_guest old = guest("00000000-0000-0000-0000-000000000000", "g");
        ck_assert_fails(mcs_registry_reserve(r, &old, &rec, NULL, &e), &e, code, needle);
        ck_assert_fails(mcs_registry_release(r, old.uuid, NULL, &e), &e, code, needle);
        ck_assert_int_eq(mcs_registry_health(r, health, sizeof health, &e), -(int) code);
        ck_assert_msg(strstr(health, needle), "health '%s' lacks '%s'", health, needle);
}

static void assert_open_fails(mcs_code code, const char *needle) {
        mcs_registry_config cfg = {.host_id = "h"};
        mcs_registry *r;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_fails(mcs_registry_open(location, &cfg, &r, &e), &e, code, needle);
}

static void move_entries(int first, int last, bool back) {
        char here[4096], there[4096];
        snprintf(there, sizeof there, "%s/moved", test_dir);
        mkdir(there, 0700);
        for (int n = first; n <= last; n++) {
                snprintf(here, sizeof here, "%s/log/%020d", reg_dir, n);
                snprintf(there, sizeof there, "%s/moved/%020d", test_dir, n);
                ck_assert_int_eq(back ? rename(there, here) : rename(here, there), 0);
        }
}

static void assert_present(int seq) {
        char path[4096];
        snprintf(path, sizeof path, "%s/log/%020d", reg_dir, seq);
        ck_assert_msg(access(path, F_OK) == 0, "log/%020d is missing", seq);
}

#define N_HARMS (sizeof snap_harms / sizeof *snap_harms)

/* Only the newest state is ever decided against. (One registry for all
 * cases: its 2000 entries are what takes time.)
 *
 * First the newest snapshot damaged, cut short, too large or unreadable
 * after the entries before it were moved away, as docs/registry.md allows:
 * an older snapshot would take the gap after it for the end of the log,
 * and the next write would be decided against a state 1000 entries old.
 * Then entries missing after the newest snapshot, below others that exist:
 * the first missing one is not the end of the log either. */
START_TEST(only_the_newest_state_is_written_against) {
        mcs_registry *writer = open_as("host-a", "c0.c1023"), *idle[N_HARMS];
        reserve_many(writer, 0, 1500);
        for (size_t i = 0; i < N_HARMS; i++)
                idle[i] = open_as("host-b", "c0.c1023"); /* snapshot 1000, entries up to 1500 */
        reserve_many(writer, 1500, 500);
        ck_assert_int_eq(count_files("snap"), 2);
        move_entries(1, 1999, false); /* the idle handles' position with them: they start again from the newest snapshot */

        char snap[4096], needle[512];
        size_t len;
        snprintf(snap, sizeof snap, "%s/snap/%020d", reg_dir, 2000);
        char *good = slurp(snap, &len);
        for (size_t i = 0; i < N_HARMS; i++) {
                const struct snap_harm *h = &snap_harms[i];
                h->harm(snap);
                snprintf(needle, sizeof needle, "snap/%020d, the newest snapshot, cannot be used: %s", 2000, h->why);
                assert_open_fails(h->code, needle); /* a new handle has no state to fall back on */
                assert_list_size(idle[i], 1500);    /* reads go on against the last good state */
                assert_writes_stop(idle[i], h->code, needle);
                assert_absent(1001);
                assert_absent(1501);
                assert_absent(2001 + (int) i);

                /* Repaired: the next write goes after the newest entry. */
                put_back_file(snap, good, len);
                reserve_many(idle[i], 2000 + (int) i, 1);
                assert_present(2001 + (int) i);
                assert_list_size(idle[i], 2001 + i);
                mcs_registry_close(idle[i]);
        }
        free(good);

        /* Entries 2001..2004 moved away, 2005 and on there. */
        reserve_many(writer, 2000 + N_HARMS, 1);
        mcs_registry *at_2005 = open_as("host-b", "c0.c1023");
        reserve_many(writer, 2001 + N_HARMS, 5);
        move_entries(2001, 2005, false);
        snprintf(needle, sizeof needle, "log/%020d is missing but log/%020d exists: the log has a gap after entry "
                 "2000 (replayed from snap/%020d)", 2001, 2010, 2000);
        assert_open_fails(MCS_E_SCHEMA, needle);
        assert_list_size(at_2005, 2005);
        assert_writes_stop(at_2005, MCS_E_SCHEMA, needle);
        assert_absent(2011);
        move_entries(2001, 2005, true);
        reserve_many(at_2005, 2010, 1);
        assert_present(2011);
        assert_list_size(at_2005, 2011);
        mcs_registry_close(at_2005);
        mcs_registry_close(writer);

        /* Without any snapshot, a gap in the middle stops a new handle too. */
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "rm -f '%s'/snap/*", reg_dir);
        ck_assert_int_eq(system(cmd), 0);
        move_entries(1, 1999, true);
        move_entries(500, 500, false);
        assert_open_fails(MCS_E_SCHEMA, "log/00000000000000000500 is missing but log/00000000000000002011 exists: "
                                        "the log has a gap after entry 499 (no snapshot)");
}
END_TEST

/* A file read refuses more than the layer's limit, whole. */
static int read_from_string(void *h, char *buf, size_t len) {
        const char **p = h;
        size_t n = strlen(*p) < len ? strlen(*p) : len;
        memcpy(buf, *p, n);
        *p += n;
        return (int) n;
}

START_TEST(read_limit) {
        static char big[10000];
        memset(big, 'x', sizeof big - 1);
        char *data;
        size_t len;
        const char *p = big;
        ck_assert_int_eq(dir_io_read_all(read_from_string, &p, 9999, &data, &len), 0);
        ck_assert_uint_eq(len, 9999);
        free(data);
        p = big;
        ck_assert_int_eq(dir_io_read_all(read_from_string, &p, 9998, &data, &len), -EFBIG);
        p = big + 9000;
        ck_assert_int_eq(dir_io_read_all(read_from_string, &p, 100, &data, &len), -EFBIG);
}
END_TEST

/* A snapshot longer than readers take is not written: as the newest it
 * would stop every writer. The entries stay, and handles replay them. */
START_TEST(snapshot_past_the_read_limit_is_not_written) {
        mcs_registry_config cfg = {.create = true, .host_id = "host-a"};
        mcs_backend *b;
        dir_io *io;
        char why[256];
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_int_eq(dir_io_posix_open(reg_dir, true, &io, why, sizeof why), 0);
        io->read_max = 64 << 10; /* an entry fits, 1000 records do not */
        ck_assert_ok(dir_backend_ops_open(io, "dir", &cfg, &b, &e), &e);
        for (int n = 0; n < 1000; n++) {
                mcs_record rec = {.name = (char *) "g", .label = NULL, .host = (char *) "host-a", .generation = 1,
                                  .kind = MCS_KIND_DYNAMIC, .state = MCS_STATE_RESERVED};
                char label[32];
                snprintf(rec.uuid, sizeof rec.uuid, "00000000-0000-0000-0000-%012d", n);
                snprintf(label, sizeof label, "s0:c%d,c%d", n / 1000, 1 + n % 1000 + n / 1000);
                rec.label = label;
                ck_assert_ok(mcs_backend_dir.import_record(b, &rec, &e), &e);
        }
        ck_assert_int_eq(count_files("log"), 1000);
        ck_assert_int_eq(count_files("snap"), 0);
        char health[1024];
        ck_assert_ok(mcs_backend_dir.health(b, health, sizeof health, &e), &e);
        ck_assert_msg(strstr(health, "; snapshot 1000 not written: ") &&
                      strstr(health, " bytes, above the 65536-byte read limit (new handles replay the log from an "
                                     "older snapshot)"), "health: %s", health);
        mcs_backend_dir.close(b);
        mcs_registry *r = open_as("host-b", "c0.c1023");
        assert_list_size(r, 1000);
        mcs_registry_close(r);
}
END_TEST

/* What the log holds is input like a client's: an entry whose fields a
 * client could not have sent (a name with a line end, written escaped; a
 * label without a category or not in canonical form; a host id with a
 * space) makes the log refused, not a record. */
START_TEST(crafted_entries_are_refused) {
        static const struct {
                const char *fields, *why;
        } bad[] = {
                {"name=evil%0Aline\tlabel=s0:c3,c4\tkind=static\thost=host-a", "control character"},
                {"name=ok\tlabel=s0\tkind=static\thost=host-a", "has no category"},
                {"name=ok\tlabel=s0:c4,c3\tkind=static\thost=host-a", "not in canonical form"},
                {"name=ok\tlabel=s0:c3,c4\tkind=static\thost=host a", "has a space"},
        };
        mcs_registry_config cfg = {.create = true, .host_id = "host-b"};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        mcs_registry_close(open_as("host-a", "c0.c1023")); /* an empty registry */
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                char path[4096], text[1024];
                mcs_registry *r;
                mcs_err e = {0};
                snprintf(path, sizeof path, "%s/log/%020d", reg_dir, 1);
                snprintf(text, sizeof text,
                         "mcs-dir-entry 1\ntoken=0123456789abcdef0123456789abcdef\nop=reserve\tat=5\tuuid=" U2
                         "\t%s\tstate=reserved\tcreated=5\tupdated=5\tgeneration=1\n",
                         bad[i].fields);
                write_file(path, text);
                ck_assert_fails(mcs_registry_open(location, &cfg, &r, &e), &e, MCS_E_SCHEMA, bad[i].why);
        }
}
END_TEST

/* Without create, neither a missing directory nor an empty one (an
 * unmounted mount point) is made a registry, and nothing is written. */
START_TEST(registry_made_only_when_told) {
        mcs_registry_config cfg = {.host_id = "h"};
        mcs_registry *r;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_fails(mcs_registry_open(location, &cfg, &r, &e), &e, MCS_E_NOTFOUND, "registry_create = yes");
        ck_assert_int_ne(access(reg_dir, F_OK), 0);
        ck_assert_int_eq(mkdir(reg_dir, 0700), 0);
        ck_assert_fails(mcs_registry_open(location, &cfg, &r, &e), &e, MCS_E_NOTFOUND, "no registry-id file");
        ck_assert_msg(strstr(e.msg, "registry_create = yes"), "%s", e.msg);
        ck_assert_int_eq(count_files(""), 0);
        cfg.create = true;
        ck_assert_ok(mcs_registry_open(location, &cfg, &r, &e), &e);
        mcs_registry_close(r);
        cfg.create = false;
        ck_assert_ok(mcs_registry_open(location, &cfg, &r, &e), &e);
        mcs_registry_close(r);
}
END_TEST

/* A handle opened on an empty registry and idle since is at entry 0:
 * with log/1 moved away it must not take the missing name for the end of
 * an empty log, reserve a label held elsewhere against nothing, and fork
 * the log by writing log/1 (free again after the move). It starts from
 * the newest snapshot like any other handle whose position went away. */
START_TEST(an_idle_handle_at_entry_0_never_writes_into_a_moved_log) {
        mcs_registry *idle = open_as("host-c", "c0.c1023"); /* the registry is empty */
        mcs_registry *writer = open_as("host-a", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest held = static_guest(U1, "held");
        ck_assert_ok(mcs_registry_reserve_label(writer, &held, "s0:c1000,c1001", &rec, NULL, &e), &e); /* 1 */
        mcs_record_clear(&rec);
        reserve_many(writer, 0, 1999); /* 2..2000, snapshots 1000 and 2000 */
        move_entries(1, 1999, false);

        mcs_guest g = static_guest(U2, "other");
        ck_assert_fails(mcs_registry_reserve_label(idle, &g, "s0:c1000,c1001", &rec, NULL, &e), &e,
                        MCS_E_CONFLICT, "held by guest held");
        assert_absent(1);
        assert_list_size(idle, 2000);
        ck_assert_ok(mcs_registry_reserve(idle, &g, &rec, NULL, &e), &e);
        ck_assert_uint_eq(rec.generation, 2001);
        mcs_record_clear(&rec);
        assert_present(2001);
        assert_absent(1);
        mcs_registry_close(writer);
        mcs_registry_close(idle);
}
END_TEST

/* The shared API cases (registry-api.c) on a fresh directory; an older
 * copy is put back as an operator would: the directory moved away and the
 * copy renamed into its place. */
static const char *dir_location(void) {
        return location;
}

static void dir_save_copy(void) {
        char old[4096];
        snprintf(old, sizeof old, "%s.old", reg_dir);
        copy_tree(reg_dir, old);
}

static void dir_put_back_copy(void) {
        rename_dir("", ".gone");
        rename_dir(".old", "");
}

/* The state changes of U1 a feed from entry 3 on carries. */
struct fed {
        int states;
        char labels[256];
};

static int note_fed(void *ctx, const mcs_change *c, mcs_err *e) {
        (void) e;
        struct fed *f = ctx;
        if (c->op == MCS_OP_STATE) {
                f->states++;
                size_t n = strlen(f->labels);
                snprintf(f->labels + n, sizeof f->labels - n, "%s %s;", c->uuid, c->label);
        }
        return 0;
}

static void write_state_entry(int seq, const char *uuid, const char *label, const char *host, long long created,
                              int generation) {
        char path[4096], text[1024];
        snprintf(text, sizeof text,
                 "mcs-dir-entry 1\ntoken=%032d\n"
                 "op=state\tat=7\tuuid=%s\tname=again\tlabel=%s\tkind=static\thost=%s\t"
                 "state=running\tcreated=%lld\tupdated=7\tgeneration=%d\n",
                 seq, uuid, label, host, created, generation);
        snprintf(path, sizeof path, "%s/log/%020d", reg_dir, seq);
        write_file(path, text);
}

/* A state entry that an older mcsd appended over what it had read changes
 * only the record it was decided against: after the guest's record was
 * released and reserved again with another label, or over a newer
 * generation of the same record, it changes nothing (label, host, state,
 * generation stay; the old label stays free), in the handle that replays
 * it as it comes, in one that loads it, and in the change feed. A state
 * entry for a guest without a record changes nothing; one over the record
 * it read (same label, kind, creation, a higher generation) applies. */
START_TEST(state_entries_never_bring_an_old_label_back) {
        mcs_registry *a = open_as("host-a", "c0.c1023");
        mcs_record read, rec;
        mcs_err e = {0};
        mcs_guest g = static_guest(U1, "again");

        ck_assert_ok(mcs_registry_reserve_label(a, &g, "s0:c1,c2", &read, NULL, &e), &e); /* entry 1 */
        ck_assert_ok(mcs_registry_release(a, U1, NULL, &e), &e);                          /* entry 2 */
        ck_assert_ok(mcs_registry_reserve_label(a, &g, "s0:c3,c4", &rec, NULL, &e), &e);  /* entry 3 */
        ck_assert_uint_eq(rec.generation, 3);
        long long created = rec.created_us;
        mcs_record_clear(&rec);

        mcs_registry_config cfg = {.host_id = "feed"};
        mcs_backend *raw;
        mcs_cursor at = {0};
        ck_assert_ok(mcs_backend_dir.open(location + strlen("dir:"), &cfg, &raw, &e), &e);
        ck_assert_ok(mcs_backend_dir.scan(raw, ignore_record, NULL, &at, &e), &e);
        ck_assert_uint_eq(at.pos, 3);

        write_state_entry(4, U1, "s0:c1,c2", "host-old", (long long) read.created_us, 2); /* the old record */
        write_state_entry(5, U1, "s0:c3,c4", "host-old", created + 1, 4);                 /* another creation */
        write_state_entry(6, U1, "s0:c3,c4", "host-old", created, 3);                     /* not above 3 */
        write_state_entry(7, U2, "s0:c5,c6", "host-old", 8, 2);                           /* no record */
        mcs_record_clear(&read);

        mcs_registry *b = open_as("host-b", "c0.c1023");
        mcs_registry *handles[] = {a, b};
        for (size_t i = 0; i < 2; i++) {
                ck_assert_ok(mcs_registry_get(handles[i], U1, &rec, &e), &e);
                ck_assert_str_eq(rec.label, "s0:c3,c4");
                ck_assert_int_eq(rec.state, MCS_STATE_RESERVED);
                ck_assert_str_eq(rec.host, "host-a");
                ck_assert_uint_eq(rec.generation, 3);
                mcs_record_clear(&rec);
                ck_assert_fails(mcs_registry_find_label(handles[i], "s0:c1,c2", &rec, &e), &e, MCS_E_NOTFOUND,
                                "s0:c1,c2");
                ck_assert_fails(mcs_registry_get(handles[i], U2, &rec, &e), &e, MCS_E_NOTFOUND, U2);
        }
        /* A reader of the old record cannot free the new one. */
        ck_assert_fails(mcs_registry_release_if(b, U1, "host-old", 2, NULL, &e), &e, MCS_E_CHANGED, U1);
        struct fed f = {0};
        ck_assert_ok(mcs_backend_dir.changes(raw, &at, note_fed, &f, &e), &e);
        ck_assert_msg(f.states == 0, "fed: %s", f.labels);
        ck_assert_uint_eq(at.pos, 7);

        /* The entry a current writer appends over the record it read applies. */
        write_state_entry(8, U1, "s0:c3,c4", "host-new", created, 4);
        for (size_t i = 0; i < 2; i++) {
                ck_assert_ok(mcs_registry_get(handles[i], U1, &rec, &e), &e);
                ck_assert_int_eq(rec.state, MCS_STATE_RUNNING);
                ck_assert_str_eq(rec.host, "host-new");
                ck_assert_uint_eq(rec.generation, 4);
                mcs_record_clear(&rec);
        }
        ck_assert_ok(mcs_backend_dir.changes(raw, &at, note_fed, &f, &e), &e);
        ck_assert_msg(f.states == 1 && strcmp(f.labels, U1 " s0:c3,c4;") == 0, "fed: %s", f.labels);
        mcs_backend_dir.close(raw);

        mcs_guest o = static_guest(U3, "other");
        ck_assert_fails(mcs_registry_reserve_label(b, &o, "s0:c3,c4", &rec, NULL, &e), &e, MCS_E_CONFLICT,
                        "held by guest again");
        ck_assert_ok(mcs_registry_reserve_label(b, &o, "s0:c1,c2", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        mcs_registry_close(b);
        mcs_registry_close(a);
}
END_TEST

static const registry_api_backend dir_backend = {
        .name = "dir",
        .setup = setup,
        .teardown = teardown,
        .location = dir_location,
        .open = open_as,
        .save_copy = dir_save_copy,
        .put_back_copy = dir_put_back_copy,
};

int main(void) {
        Suite *s = suite_create("registry-dir");
        suite_add_tcase(s, registry_api_tcase(&dir_backend));
        TCase *tc = tcase_create("dir");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, reservation_layout);
        tcase_add_test(tc, who_asked_beside_the_entry);
        tcase_add_test(tc, batch_without_a_shared_commit);
        tcase_add_test(tc, locations_and_foreign_directories);
        tcase_add_test(tc, replaced_directory_is_noticed);
        tcase_add_test(tc, leftovers_of_killed_writers);
        tcase_add_test(tc, snapshot_starts_new_handles);
        tcase_add_test(tc, heartbeats_and_health);
        tcase_add_test(tc, import_into_an_empty_registry);
        tcase_add_test(tc, entries_moved_away_under_a_handle);
        tcase_add_test(tc, create_refuses_a_view_that_missed_a_touching_entry);
        tcase_add_test(tc, only_the_newest_state_is_written_against);
        tcase_add_test(tc, read_limit);
        tcase_add_test(tc, snapshot_past_the_read_limit_is_not_written);
        tcase_add_test(tc, state_entries_never_bring_an_old_label_back);
        tcase_add_test(tc, crafted_entries_are_refused);
        tcase_add_test(tc, registry_made_only_when_told);
        tcase_add_test(tc, an_idle_handle_at_entry_0_never_writes_into_a_moved_log);
        suite_add_tcase(s, tc);
        return test_run(s);
}
