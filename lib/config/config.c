#include "mcs-config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcs-level.h"
#include "mcs-macro.h"

#define CONFIG_MAX_BYTES (1u << 20)
#define CONFIG_MAX_VALUE 4096u
#define HOUR_MS (3600u * 1000u)

static const char *const level_names[] = {"error", "warning", "info", "debug"};

const char *mcs_log_level_name(mcs_log_level l) {
        return (unsigned) l < MCS_ARRAY_SIZE(level_names) ? level_names[l] : "?";
}

void mcs_config_init(mcs_config *c) {
        *c = (mcs_config){
                .undefine_grace_ms = 30u * 1000u,
                .reconnect_min_ms = 500u,
                .reconnect_max_ms = 30u * 1000u,
                .keepalive_interval_s = 5u,
                .keepalive_count = 3u,
                .busy_timeout_ms = 3u * 1000u,
                .log_level = MCS_LOG_INFO,
                .socket_mode = 0660,
                .max_clients = 64u,
                .client_timeout_ms = 10u * 1000u,
                .hook_timeout_ms = 5u * 1000u,
        };
}

void mcs_config_clear(mcs_config *c) {
        free(c->uri);
        free(c->registry);
        free(c->host_id);
        free(c->domain_context_file);
        free(c->socket);
        free(c->socket_group);
        free(c->admin_group);
        free(c->hook_socket);
        free(c->semanage_root);
        free(c->metrics_textfile_dir);
        for (size_t i = 0; i < c->n_excludes; i++)
                free(c->excludes[i]);
        for (size_t i = 0; i < c->n_image_roots; i++)
                free(c->image_roots[i]);
        for (size_t i = 0; i < c->n_shared_roots; i++)
                free(c->shared_roots[i]);
        mcs_config_init(c);
}

/* Where a value came from, for messages. */
typedef struct where {
        const char *path;
        unsigned line;
} where;

static int bad(mcs_err *e, const where *w, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(mcs_err *e, const where *w, const char *fmt, ...) {
        char msg[MCS_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        return mcs_fail(e, MCS_E_INVALID, "%s:%u: %s", w->path, w->line, msg);
}

/* "30", "30s", "500ms", "2m": a duration in milliseconds up to an hour. */
static int parse_duration(const char *v, unsigned *out) {
        char *end;
        errno = 0;
        if (!isdigit((unsigned char) v[0]))
                return -1;
        unsigned long long n = strtoull(v, &end, 10);
        unsigned long long mult;
        if (errno)
                return -1;
        if (!*end || !strcmp(end, "s"))
                mult = 1000;
        else if (!strcmp(end, "ms"))
                mult = 1;
        else if (!strcmp(end, "m"))
                mult = 60 * 1000;
        else
                return -1;
        if (n > HOUR_MS / mult)
                return -1;
        *out = (unsigned) (n * mult);
        return 0;
}

static int parse_uint(const char *v, unsigned max, unsigned *out) {
        char *end;
        errno = 0;
        if (!isdigit((unsigned char) v[0]))
                return -1;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || *end || n > max)
                return -1;
        *out = (unsigned) n;
        return 0;
}

static bool printable_word(const char *v) {
        for (const unsigned char *p = (const unsigned char *) v; *p; p++)
                if (*p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

/* Names as useradd(8) accepts them, and no longer than 32 bytes. */
static bool valid_group_name(const char *v) {
        size_t n = strlen(v);
        if (n == 0 || n > 32 || v[0] == '-' || isdigit((unsigned char) v[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) v[i]) && v[i] != '_' && v[i] != '-' && v[i] != '.' &&
                    !(v[i] == '$' && i == n - 1))
                        return false;
        return true;
}

static int set_string(char **slot, const char *v) {
        char *s = strdup(v);
        if (!s)
                return -1;
        free(*slot);
        *slot = s;
        return 0;
}

/* dir equals or lies below one of the image roots in force (lexically). */
static bool inside_image_root(const mcs_config *c, const char *dir) {
        size_t n;
        const char *const *roots = mcs_config_image_roots(c, &n);
        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(roots[i]);
                while (l > 1 && roots[i][l - 1] == '/')
                        l--;
                if (!strncmp(dir, roots[i], l) && (dir[l] == '/' || dir[l] == '\0'))
                        return true;
        }
        return false;
}

static int apply_key(mcs_config *c, const where *w, const char *key, const char *v, mcs_err *e) {
        char qv[MCS_QUOTE_MAX];
        mcs_quote(v, qv, sizeof qv);
        if (!strcmp(key, "uri") || !strcmp(key, "registry") || !strcmp(key, "domain_context_file")) {
                if (!printable_word(v))
                        return bad(e, w, "%s: the value '%s' must be one word without spaces or control characters", key, qv);
                char **slot = key[0] == 'u' ? &c->uri : key[0] == 'r' ? &c->registry : &c->domain_context_file;
                return set_string(slot, v) < 0 ? mcs_fail(e, MCS_E_NOMEM, "out of memory") : 0;
        }
        if (!strcmp(key, "socket") || !strcmp(key, "hook_socket")) {
                if (v[0] != '/' || !printable_word(v) || strlen(v) >= 108)
                        return bad(e, w, "%s: '%s' must be an absolute path under 108 bytes without spaces", key, qv);
                return set_string(key[0] == 's' ? &c->socket : &c->hook_socket, v) < 0
                               ? mcs_fail(e, MCS_E_NOMEM, "out of memory")
                               : 0;
        }
        if (!strcmp(key, "semanage_root")) {
                if (v[0] != '/' || !printable_word(v))
                        return bad(e, w, "semanage_root: '%s' must be an absolute path without spaces", qv);
                return set_string(&c->semanage_root, v) < 0 ? mcs_fail(e, MCS_E_NOMEM, "out of memory") : 0;
        }
        if (!strcmp(key, "metrics_textfile_dir")) {
                if (v[0] != '/' || !printable_word(v))
                        return bad(e, w, "metrics_textfile_dir: '%s' must be an absolute path without spaces", qv);
                return set_string(&c->metrics_textfile_dir, v) < 0 ? mcs_fail(e, MCS_E_NOMEM, "out of memory") : 0;
        }
        if (!strcmp(key, "without_selinux")) {
                if (strcmp(v, "skip") && strcmp(v, "reserve"))
                        return bad(e, w, "without_selinux: '%s' is not skip or reserve", qv);
                c->reserve_without_selinux = !strcmp(v, "reserve");
                return 0;
        }
        if (!strcmp(key, "registry_create")) {
                if (strcmp(v, "yes") && strcmp(v, "no"))
                        return bad(e, w, "registry_create: '%s' is not yes or no", qv);
                c->registry_create = !strcmp(v, "yes");
                return 0;
        }
        if (!strcmp(key, "hook_fail_open")) {
                if (strcmp(v, "yes") && strcmp(v, "no"))
                        return bad(e, w, "hook_fail_open: '%s' is not yes or no", qv);
                c->hook_fail_open = !strcmp(v, "yes");
                return 0;
        }
        if (!strcmp(key, "socket_group") || !strcmp(key, "admin_group")) {
                if (!valid_group_name(v))
                        return bad(e, w, "%s: '%s' is not a group name", key, qv);
                return set_string(key[0] == 's' ? &c->socket_group : &c->admin_group, v) < 0
                               ? mcs_fail(e, MCS_E_NOMEM, "out of memory")
                               : 0;
        }
        if (!strcmp(key, "socket_mode")) {
                char *end;
                errno = 0;
                unsigned long m = strtoul(v, &end, 8);
                if (v[0] != '0' || *end || errno || m > 0777 || !(m & 0600))
                        return bad(e, w, "socket_mode: '%s' is not an octal mode from 0600 to 0777 (e.g. 0660)", qv);
                c->socket_mode = (unsigned) m;
                return 0;
        }
        if (!strcmp(key, "host_id")) {
                if (!printable_word(v) || strlen(v) > 255)
                        return bad(e, w, "host_id: '%s' must be at most 255 printable characters without spaces", qv);
                return set_string(&c->host_id, v) < 0 ? mcs_fail(e, MCS_E_NOMEM, "out of memory") : 0;
        }
        if (!strcmp(key, "exclude")) {
                if (c->n_excludes == MCS_CONFIG_MAX_EXCLUDES)
                        return bad(e, w, "exclude: more than %u patterns", MCS_CONFIG_MAX_EXCLUDES);
                char *s = strdup(v);
                if (!s)
                        return mcs_fail(e, MCS_E_NOMEM, "out of memory");
                c->excludes[c->n_excludes++] = s;
                return 0;
        }
        if (!strcmp(key, "image_root") || !strcmp(key, "shared_root")) {
                bool image = key[0] == 'i';
                size_t *n = image ? &c->n_image_roots : &c->n_shared_roots;
                char **v_ = image ? c->image_roots : c->shared_roots;
                if (*n == MCS_CONFIG_MAX_IMAGE_ROOTS)
                        return bad(e, w, "%s: more than %u directories", key, MCS_CONFIG_MAX_IMAGE_ROOTS);
                if (v[0] != '/' || !printable_word(v) || !strcmp(v, "/"))
                        return bad(e, w, "%s: '%s' must be an absolute directory other than /, without spaces", key, qv);
                if (!image && !inside_image_root(c, v))
                        return bad(e, w, "shared_root: '%s' is not inside an image_root given before it", qv);
                char *s = strdup(v);
                if (!s)
                        return mcs_fail(e, MCS_E_NOMEM, "out of memory");
                v_[(*n)++] = s;
                return 0;
        }
        if (!strcmp(key, "range")) {
                mcs_err pe = {0};
                mcs_catset set;
                if (mcs_catset_parse(v, &set, &pe) < 0)
                        return mcs_fail(e, MCS_E_INVALID, "%s:%u: range: %s", w->path, w->line, pe.msg);
                if (mcs_catset_count(&set) < 8)
                        return bad(e, w, "range: '%s' has fewer than 8 categories (libvirt refuses such a range)", qv);
                c->range = set;
                c->has_range = true;
                return 0;
        }
        if (!strcmp(key, "log_level")) {
                for (size_t i = 0; i < MCS_ARRAY_SIZE(level_names); i++)
                        if (!strcmp(v, level_names[i])) {
                                c->log_level = (mcs_log_level) i;
                                return 0;
                        }
                return bad(e, w, "log_level: '%s' is not one of error, warning, info, debug", qv);
        }
        static const struct {
                const char *key;
                size_t off;
                bool duration;
                unsigned max;
        } numbers[] = {
                {"undefine_grace", offsetof(mcs_config, undefine_grace_ms), true, 0},
                {"reconnect_min", offsetof(mcs_config, reconnect_min_ms), true, 0},
                {"reconnect_max", offsetof(mcs_config, reconnect_max_ms), true, 0},
                {"busy_timeout", offsetof(mcs_config, busy_timeout_ms), true, 0},
                {"client_timeout", offsetof(mcs_config, client_timeout_ms), true, 0},
                {"hook_timeout", offsetof(mcs_config, hook_timeout_ms), true, 0},
                {"max_clients", offsetof(mcs_config, max_clients), false, MCS_MAX_CLIENTS_LIMIT},
                {"keepalive_interval", offsetof(mcs_config, keepalive_interval_s), false, 3600},
                {"keepalive_count", offsetof(mcs_config, keepalive_count), false, 100},
        };
        for (size_t i = 0; i < MCS_ARRAY_SIZE(numbers); i++) {
                if (strcmp(key, numbers[i].key))
                        continue;
                unsigned *slot = (unsigned *) ((char *) c + numbers[i].off);
                if (numbers[i].duration ? parse_duration(v, slot) < 0 : parse_uint(v, numbers[i].max, slot) < 0)
                        return numbers[i].duration
                                       ? bad(e, w, "%s: '%s' is not a duration up to 1 hour (30, 30s, 500ms, 2m)", key, qv)
                                       : bad(e, w, "%s: '%s' is not a whole number from 0 to %u", key, qv, numbers[i].max);
                return 0;
        }
        char qk[MCS_QUOTE_MAX];
        return bad(e, w, "unknown key '%s'", mcs_quote(key, qk, sizeof qk));
}

static char *trim(char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
                s[--n] = '\0';
        return s;
}

/* A registry wait, in the hook thread or the main loop, must end before the
 * hook gives up on mcsd: busy_timeout < hook_timeout. The operator may set
 * either alone and the other follows (busy_timeout is 3/5 of hook_timeout,
 * as the defaults 3 s and 5 s are); only two values set in the file that
 * contradict each other are refused. */
#define HOOK_TIMEOUT_MAX_MS (60u * 1000u)
#define BUSY_PER_HOOK_NUM 3u
#define BUSY_PER_HOOK_DEN 5u
static int settle_timeouts(mcs_config *c, where *w, unsigned busy_line, unsigned hook_line, mcs_err *e) {
        if (busy_line && hook_line) {
                if (c->busy_timeout_ms < c->hook_timeout_ms)
                        return 0;
                w->line = busy_line > hook_line ? busy_line : hook_line;
                return bad(e, w, "busy_timeout (%u ms) must be below hook_timeout (%u ms)", c->busy_timeout_ms,
                           c->hook_timeout_ms);
        }
        if (!busy_line) {
                c->busy_timeout_ms = (unsigned) ((uint64_t) c->hook_timeout_ms * BUSY_PER_HOOK_NUM / BUSY_PER_HOOK_DEN);
                return 0;
        }
        if (c->busy_timeout_ms < c->hook_timeout_ms)
                return 0; /* the default hook_timeout already leaves room */
        uint64_t hook = ((uint64_t) c->busy_timeout_ms * BUSY_PER_HOOK_DEN + BUSY_PER_HOOK_NUM - 1) / BUSY_PER_HOOK_NUM;
        if (hook > HOOK_TIMEOUT_MAX_MS) {
                w->line = busy_line;
                return bad(e, w, "busy_timeout (%u ms) must be below hook_timeout, which is at most 60s: set busy_timeout "
                           "to 36s or less, or both", c->busy_timeout_ms);
        }
        c->hook_timeout_ms = (unsigned) hook;
        return 0;
}

static bool once_key(const char *key) {
        return strcmp(key, "exclude") != 0 && strcmp(key, "image_root") != 0 && strcmp(key, "shared_root") != 0;
}

static int parse_into(mcs_config *c, const char *path, const char *text, mcs_err *e) {
        char seen[32][32]; /* more than the keys there are */
        size_t n_seen = 0;
        where w = {path, 0};
        const char *p = text;
        unsigned busy_line = 0, hook_line = 0; /* where the file sets them; 0: it does not */

        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);
                w.line++;
                if (len > CONFIG_MAX_VALUE)
                        return bad(e, &w, "line longer than %u bytes", CONFIG_MAX_VALUE);
                char buf[CONFIG_MAX_VALUE + 1];
                memcpy(buf, p, len);
                buf[len] = '\0';
                p += len + (nl ? 1 : 0);
                if (memchr(buf, '\0', len))
                        return bad(e, &w, "NUL byte in line");

                char *line = trim(buf);
                if (!*line || *line == '#')
                        continue;
                char *eq = strchr(line, '=');
                char q[MCS_QUOTE_MAX];
                if (!eq)
                        return bad(e, &w, "expected \"key = value\", got '%s'", mcs_quote(line, q, sizeof q));
                *eq = '\0';
                char *key = trim(line), *value = trim(eq + 1);
                if (!*key)
                        return bad(e, &w, "missing key before '='");
                if (!*value)
                        return bad(e, &w, "%s: missing value after '='", mcs_quote(key, q, sizeof q));
                if (once_key(key)) {
                        for (size_t i = 0; i < n_seen; i++)
                                if (!strcmp(seen[i], key))
                                        return bad(e, &w, "%s is set twice", mcs_quote(key, q, sizeof q));
                        if (n_seen < MCS_ARRAY_SIZE(seen) && strlen(key) < sizeof seen[0])
                                strcpy(seen[n_seen++], key);
                }
                int r = apply_key(c, &w, key, value, e);
                if (r < 0)
                        return r;
                if (!strcmp(key, "busy_timeout"))
                        busy_line = w.line;
                else if (!strcmp(key, "hook_timeout"))
                        hook_line = w.line;
        }
        if (c->max_clients == 0)
                return mcs_fail(e, MCS_E_INVALID, "%s: max_clients must be at least 1", path);
        if (c->hook_timeout_ms < 100 || c->hook_timeout_ms > HOOK_TIMEOUT_MAX_MS)
                return mcs_fail(e, MCS_E_INVALID, "%s: hook_timeout must be from 100ms to 60s (libvirt waits for the hook)",
                                path);
        int r = settle_timeouts(c, &w, busy_line, hook_line, e);
        if (r < 0)
                return r;
        if (c->client_timeout_ms < 100)
                return mcs_fail(e, MCS_E_INVALID, "%s: client_timeout must be at least 100ms", path);
        if (c->reconnect_min_ms == 0 || c->reconnect_min_ms > c->reconnect_max_ms) {
                return mcs_fail(e, MCS_E_INVALID, "%s: reconnect_min (%u ms) must be above 0 and at most reconnect_max (%u ms)",
                                path, c->reconnect_min_ms, c->reconnect_max_ms);
        }
        return 0;
}

int mcs_config_parse(mcs_config *c, const char *path, const char *text, mcs_err *e) {
        mcs_config n;
        mcs_config_init(&n);
        int r = parse_into(&n, path, text, e);
        if (r < 0) {
                mcs_config_clear(&n);
                return r;
        }
        if (!n.uri && set_string(&n.uri, MCS_DEFAULT_URI) < 0) {
                mcs_config_clear(&n);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        mcs_config_clear(c);
        *c = n;
        return 0;
}

int mcs_config_load(mcs_config *c, const char *path, bool missing_ok, mcs_err *e) {
        _cleanup_free_ char *text = NULL;
        FILE *f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT && missing_ok)
                        return mcs_config_parse(c, path, "", e);
                return mcs_fail(e, errno == ENOENT ? MCS_E_NOTFOUND : MCS_E_IO, "%s: %s", path, strerror(errno));
        }
        text = malloc(CONFIG_MAX_BYTES + 1);
        if (!text) {
                fclose(f);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        size_t n = fread(text, 1, CONFIG_MAX_BYTES + 1, f);
        int err = ferror(f);
        fclose(f);
        if (err)
                return mcs_fail(e, MCS_E_IO, "%s: read error", path);
        if (n > CONFIG_MAX_BYTES)
                return mcs_fail(e, MCS_E_INVALID, "%s: larger than 1 MiB", path);
        if (memchr(text, '\0', n)) {
                /* Name the line of the first NUL. */
                unsigned line = 1;
                for (const char *q = text; *q; q++)
                        line += *q == '\n';
                return mcs_fail(e, MCS_E_INVALID, "%s:%u: NUL byte in line", path, line);
        }
        text[n] = '\0';
        return mcs_config_parse(c, path, text, e);
}

bool mcs_config_excludes(const mcs_config *c, const char *name) {
        for (size_t i = 0; i < c->n_excludes; i++)
                if (fnmatch(c->excludes[i], name, 0) == 0)
                        return true;
        return false;
}

int mcs_config_host_id(const mcs_config *c, const char *machine_id_path, char *out, size_t len, mcs_err *e) {
        if (c->host_id) {
                if (strlen(c->host_id) >= len)
                        return mcs_fail(e, MCS_E_RANGE, "host_id is too long");
                strcpy(out, c->host_id);
                return 0;
        }
        FILE *f = fopen(machine_id_path, "re");
        if (!f)
                return mcs_fail(e, MCS_E_IO, "no host_id in the config and %s: %s", machine_id_path, strerror(errno));
        char buf[256];
        bool ok = fgets(buf, sizeof buf, f) != NULL;
        fclose(f);
        char *id = ok ? trim(buf) : buf;
        size_t n = ok ? strlen(id) : 0;
        if (!ok || !n || !printable_word(id))
                return mcs_fail(e, MCS_E_INVALID, "no host_id in the config and %s holds no usable id", machine_id_path);
        if (n >= len)
                return mcs_fail(e, MCS_E_RANGE, "%s: the id is too long", machine_id_path);
        strcpy(out, id);
        return 0;
}

const char *const *mcs_config_image_roots(const mcs_config *c, size_t *n) {
        static const char *const fallback[] = {MCS_DEFAULT_IMAGE_ROOT};
        if (c->n_image_roots) {
                *n = c->n_image_roots;
                return (const char *const *) c->image_roots;
        }
        *n = 1;
        return fallback;
}

const char *const *mcs_config_shared_roots(const mcs_config *c, size_t *n) {
        *n = c->n_shared_roots;
        return (const char *const *) c->shared_roots;
}

const char *mcs_config_hook_socket(const mcs_config *c) {
        return c->hook_socket ? c->hook_socket : MCS_DEFAULT_HOOK_SOCKET;
}
