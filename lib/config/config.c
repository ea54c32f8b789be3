#include "mcs-config.h"

#include "config-keys.h"

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
        mcs_config_free_strings(c);
        mcs_config_init(c);
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
static int settle_timeouts(mcs_config *c, mcs_config_where *w, unsigned busy_line, unsigned hook_line, mcs_err *e) {
        if (busy_line && hook_line) {
                if (c->busy_timeout_ms < c->hook_timeout_ms)
                        return 0;
                w->line = busy_line > hook_line ? busy_line : hook_line;
                return mcs_config_bad(e, w, "busy_timeout (%u ms) must be below hook_timeout (%u ms)",
                                      c->busy_timeout_ms, c->hook_timeout_ms);
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
                return mcs_config_bad(e, w,
                                      "busy_timeout (%u ms) must be below hook_timeout, "
                                      "which is at most 60s: set busy_timeout "
                                      "to 36s or less, or both",
                                      c->busy_timeout_ms);
        }
        c->hook_timeout_ms = (unsigned) hook;
        return 0;
}

static int parse_into(mcs_config *c, const char *path, const char *text, mcs_err *e) {
        char seen[32][32]; /* more than the keys there are */
        size_t n_seen = 0;
        mcs_config_where w = {path, 0};
        const char *p = text;
        unsigned busy_line = 0, hook_line = 0; /* where the file sets them; 0: it does not */

        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);
                w.line++;
                if (len > CONFIG_MAX_VALUE)
                        return mcs_config_bad(e, &w, "line longer than %u bytes", CONFIG_MAX_VALUE);
                char buf[CONFIG_MAX_VALUE + 1];
                memcpy(buf, p, len);
                buf[len] = '\0';
                p += len + (nl ? 1 : 0);
                if (memchr(buf, '\0', len))
                        return mcs_config_bad(e, &w, "NUL byte in line");

                char *line = trim(buf);
                if (!*line || *line == '#')
                        continue;
                char *eq = strchr(line, '=');
                char q[MCS_QUOTE_MAX];
                if (!eq)
                        return mcs_config_bad(e, &w, "expected \"key = value\", got '%s'",
                                              mcs_quote(line, q, sizeof q));
                *eq = '\0';
                char *key = trim(line), *value = trim(eq + 1);
                if (!*key)
                        return mcs_config_bad(e, &w, "missing key before '='");
                if (!*value)
                        return mcs_config_bad(e, &w, "%s: missing value after '='", mcs_quote(key, q, sizeof q));
                if (!mcs_config_key_repeats(key)) {
                        for (size_t i = 0; i < n_seen; i++)
                                if (!strcmp(seen[i], key))
                                        return mcs_config_bad(e, &w, "%s is set twice", mcs_quote(key, q, sizeof q));
                        if (n_seen < MCS_ARRAY_SIZE(seen) && strlen(key) < sizeof seen[0])
                                strcpy(seen[n_seen++], key);
                }
                int r = mcs_config_apply_key(c, &w, key, value, e);
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
                return mcs_fail(e, MCS_E_INVALID,
                                "%s: hook_timeout must be from 100ms to 60s (libvirt waits "
                                "for the hook)",
                                path);
        int r = settle_timeouts(c, &w, busy_line, hook_line, e);
        if (r < 0)
                return r;
        if (c->client_timeout_ms < 100)
                return mcs_fail(e, MCS_E_INVALID, "%s: client_timeout must be at least 100ms", path);
        if (c->reconnect_min_ms == 0 || c->reconnect_min_ms > c->reconnect_max_ms) {
                return mcs_fail(e, MCS_E_INVALID,
                                "%s: reconnect_min (%u ms) must be above 0 and at most "
                                "reconnect_max (%u ms)",
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
        if (!n.uri && !(n.uri = strdup(MCS_DEFAULT_URI))) {
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
        if (!ok || !n || !mcs_config_printable_word(id))
                return mcs_fail(e, MCS_E_INVALID, "no host_id in the config and %s holds no usable id",
                                machine_id_path);
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
