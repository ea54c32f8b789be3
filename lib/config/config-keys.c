#include "config-keys.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcs-level.h"
#include "mcs-macro.h"

#define HOUR_MS (3600u * 1000u)
#define SUN_PATH_MAX 108u /* sizeof (struct sockaddr_un){0}.sun_path */

typedef struct key_spec key_spec;
typedef int (*key_reader)(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *qv,
                          mcs_err *e);

/* One key: its reader, the field it fills (an offset into mcs_config) and
 * what the reader needs to know about it. */
struct key_spec {
        const char *key;
        key_reader read;
        size_t field;
        size_t count_field; /* lists: the field counting their entries */
        unsigned max; /* words: longest value (0: any); numbers: largest; lists: most
                         entries */
        const char *words[2]; /* switches: the two words, in the order messages name them */
        const char *on; /* switches: the word of the two that sets true */
        bool absolute; /* words: must be an absolute path */
        bool repeats; /* lists: the key may appear on several lines */
        bool inside_images; /* roots: must lie inside an image root */
};

#define FIELD(c, k, type) ((type *) ((char *) (c) + (k)->field))

int mcs_config_bad(mcs_err *e, const mcs_config_where *w, const char *fmt, ...) {
        char msg[MCS_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        return mcs_fail(e, MCS_E_INVALID, "%s:%u: %s", w->path, w->line, msg);
}

bool mcs_config_printable_word(const char *v) {
        for (const unsigned char *p = (const unsigned char *) v; *p; p++)
                if (*p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

static int set_string(char **slot, const char *v, mcs_err *e) {
        char *s = strdup(v);
        if (!s)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        free(*slot);
        *slot = s;
        return 0;
}

/* A word: a URI, a path, an id. */
static int read_word(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *qv,
                     mcs_err *e) {
        bool ok = mcs_config_printable_word(v) && (!k->absolute || v[0] == '/') && (!k->max || strlen(v) <= k->max);
        if (!ok) {
                if (k->absolute && k->max)
                        return mcs_config_bad(e, w, "%s: '%s' must be an absolute path under %u bytes without spaces",
                                              k->key, qv, k->max + 1);
                if (k->absolute)
                        return mcs_config_bad(e, w, "%s: '%s' must be an absolute path without spaces", k->key, qv);
                if (k->max)
                        return mcs_config_bad(e, w, "%s: '%s' must be at most %u printable characters without spaces",
                                              k->key, qv, k->max);
                return mcs_config_bad(e, w,
                                      "%s: the value '%s' must be one word without spaces "
                                      "or control characters",
                                      k->key, qv);
        }
        return set_string(FIELD(c, k, char *), v, e);
}

/* One of two words. */
static int read_switch(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *qv,
                       mcs_err *e) {
        if (strcmp(v, k->words[0]) && strcmp(v, k->words[1]))
                return mcs_config_bad(e, w, "%s: '%s' is not %s or %s", k->key, qv, k->words[0], k->words[1]);
        *FIELD(c, k, bool) = !strcmp(v, k->on);
        return 0;
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

static int read_group(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *qv,
                      mcs_err *e) {
        if (!valid_group_name(v))
                return mcs_config_bad(e, w, "%s: '%s' is not a group name", k->key, qv);
        return set_string(FIELD(c, k, char *), v, e);
}

static int read_mode(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *qv,
                     mcs_err *e) {
        char *end;
        errno = 0;
        unsigned long m = strtoul(v, &end, 8);
        if (v[0] != '0' || *end || errno || m > 0777 || !(m & 0600))
                return mcs_config_bad(e, w, "%s: '%s' is not an octal mode from 0600 to 0777 (e.g. 0660)", k->key, qv);
        *FIELD(c, k, unsigned) = (unsigned) m;
        return 0;
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

static int read_duration(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *qv,
                         mcs_err *e) {
        if (parse_duration(v, FIELD(c, k, unsigned)) < 0)
                return mcs_config_bad(e, w, "%s: '%s' is not a duration up to 1 hour (30, 30s, 500ms, 2m)", k->key, qv);
        return 0;
}

static int read_number(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *qv,
                       mcs_err *e) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = isdigit((unsigned char) v[0]) ? strtoull(v, &end, 10) : 0;
        if (!end || errno || *end || n > k->max)
                return mcs_config_bad(e, w, "%s: '%s' is not a whole number from 0 to %u", k->key, qv, k->max);
        *FIELD(c, k, unsigned) = (unsigned) n;
        return 0;
}

static int read_log_level(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *qv,
                          mcs_err *e) {
        for (int i = MCS_LOG_ERROR; i <= MCS_LOG_DEBUG; i++)
                if (!strcmp(v, mcs_log_level_name((mcs_log_level) i))) {
                        *FIELD(c, k, mcs_log_level) = (mcs_log_level) i;
                        return 0;
                }
        return mcs_config_bad(e, w, "%s: '%s' is not one of error, warning, info, debug", k->key, qv);
}

static int read_range(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *qv,
                      mcs_err *e) {
        mcs_err pe = {0};
        mcs_catset set;
        if (mcs_catset_parse(v, &set, &pe) < 0)
                return mcs_fail(e, MCS_E_INVALID, "%s:%u: %s: %s", w->path, w->line, k->key, pe.msg);
        if (mcs_catset_count(&set) < 8)
                return mcs_config_bad(e, w, "%s: '%s' has fewer than 8 categories (libvirt refuses such a range)",
                                      k->key, qv);
        c->range = set;
        c->has_range = true;
        return 0;
}

/* A list entry: appended to the field's array. */
static int append(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *what,
                  mcs_err *e) {
        size_t *n = (size_t *) ((char *) c + k->count_field);
        char **list = FIELD(c, k, char *);
        if (*n == k->max)
                return mcs_config_bad(e, w, "%s: more than %u %s", k->key, k->max, what);
        char *s = strdup(v);
        if (!s)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        list[(*n)++] = s;
        return 0;
}

static int read_pattern(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *qv,
                        mcs_err *e) {
        (void) qv;
        return append(c, k, w, v, "patterns", e);
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

/* An image or shared root. A shared root lies inside an image root given
 * before it: mcsd relabels nothing outside those. */
static int read_root(mcs_config *c, const key_spec *k, const mcs_config_where *w, const char *v, const char *qv,
                     mcs_err *e) {
        if (v[0] != '/' || !mcs_config_printable_word(v) || !strcmp(v, "/"))
                return mcs_config_bad(e, w, "%s: '%s' must be an absolute directory other than /, without spaces",
                                      k->key, qv);
        if (k->inside_images && !inside_image_root(c, v))
                return mcs_config_bad(e, w, "%s: '%s' is not inside an image_root given before it", k->key, qv);
        return append(c, k, w, v, "directories", e);
}

#define AT(f) offsetof(mcs_config, f)
static const key_spec keys[] = {
        {.key = "uri", .read = read_word, .field = AT(uri)},
        {.key = "registry", .read = read_word, .field = AT(registry)},
        {.key = "domain_context_file", .read = read_word, .field = AT(domain_context_file)},
        {.key = "socket", .read = read_word, .field = AT(socket), .max = SUN_PATH_MAX - 1, .absolute = true},
        {.key = "hook_socket", .read = read_word, .field = AT(hook_socket), .max = SUN_PATH_MAX - 1, .absolute = true},
        {.key = "semanage_root", .read = read_word, .field = AT(semanage_root), .absolute = true},
        {.key = "metrics_textfile_dir", .read = read_word, .field = AT(metrics_textfile_dir), .absolute = true},
        {.key = "host_id", .read = read_word, .field = AT(host_id), .max = 255},
        {.key = "without_selinux",
         .read = read_switch,
         .field = AT(reserve_without_selinux),
         .words = {"skip", "reserve"},
         .on = "reserve"},
        {.key = "registry_create",
         .read = read_switch,
         .field = AT(registry_create),
         .words = {"yes", "no"},
         .on = "yes"},
        {.key = "hook_fail_open",
         .read = read_switch,
         .field = AT(hook_fail_open),
         .words = {"yes", "no"},
         .on = "yes"},
        {.key = "socket_group", .read = read_group, .field = AT(socket_group)},
        {.key = "admin_group", .read = read_group, .field = AT(admin_group)},
        {.key = "socket_mode", .read = read_mode, .field = AT(socket_mode)},
        {.key = "exclude",
         .read = read_pattern,
         .field = AT(excludes),
         .count_field = AT(n_excludes),
         .max = MCS_CONFIG_MAX_EXCLUDES,
         .repeats = true},
        {.key = "image_root",
         .read = read_root,
         .field = AT(image_roots),
         .count_field = AT(n_image_roots),
         .max = MCS_CONFIG_MAX_IMAGE_ROOTS,
         .repeats = true},
        {.key = "shared_root",
         .read = read_root,
         .field = AT(shared_roots),
         .count_field = AT(n_shared_roots),
         .max = MCS_CONFIG_MAX_IMAGE_ROOTS,
         .repeats = true,
         .inside_images = true},
        {.key = "range", .read = read_range, .field = AT(range)},
        {.key = "log_level", .read = read_log_level, .field = AT(log_level)},
        {.key = "undefine_grace", .read = read_duration, .field = AT(undefine_grace_ms)},
        {.key = "reconnect_min", .read = read_duration, .field = AT(reconnect_min_ms)},
        {.key = "reconnect_max", .read = read_duration, .field = AT(reconnect_max_ms)},
        {.key = "busy_timeout", .read = read_duration, .field = AT(busy_timeout_ms)},
        {.key = "client_timeout", .read = read_duration, .field = AT(client_timeout_ms)},
        {.key = "hook_timeout", .read = read_duration, .field = AT(hook_timeout_ms)},
        {.key = "max_clients", .read = read_number, .field = AT(max_clients), .max = MCS_MAX_CLIENTS_LIMIT},
        {.key = "keepalive_interval", .read = read_number, .field = AT(keepalive_interval_s), .max = 3600},
        {.key = "keepalive_count", .read = read_number, .field = AT(keepalive_count), .max = 100},
};
#undef AT

static const key_spec *find_key(const char *key) {
        for (size_t i = 0; i < MCS_ARRAY_SIZE(keys); i++)
                if (!strcmp(keys[i].key, key))
                        return &keys[i];
        return NULL;
}

bool mcs_config_key_repeats(const char *key) {
        const key_spec *k = find_key(key);
        return k && k->repeats;
}

int mcs_config_apply_key(mcs_config *c, const mcs_config_where *w, const char *key, const char *v, mcs_err *e) {
        const key_spec *k = find_key(key);
        if (!k) {
                char qk[MCS_QUOTE_MAX];
                return mcs_config_bad(e, w, "unknown key '%s'", mcs_quote(key, qk, sizeof qk));
        }
        char qv[MCS_QUOTE_MAX];
        mcs_quote(v, qv, sizeof qv);
        return k->read(c, k, w, v, qv, e);
}

/* Every string the config owns, through the table: a key added to it is
 * copied and freed without another list to keep. */
static bool owns_strings(const key_spec *k) {
        return k->read == read_word || k->read == read_group || k->read == read_pattern || k->read == read_root;
}

static void each_string(mcs_config *c, void (*fn)(char **slot, void *ctx), void *ctx) {
        for (size_t i = 0; i < MCS_ARRAY_SIZE(keys); i++) {
                const key_spec *k = &keys[i];
                if (!owns_strings(k))
                        continue;
                if (!k->count_field) {
                        fn(FIELD(c, k, char *), ctx);
                        continue;
                }
                size_t n = *(size_t *) ((char *) c + k->count_field);
                for (size_t j = 0; j < n; j++)
                        fn(&FIELD(c, k, char *)[j], ctx);
        }
}

static void free_slot(char **slot, void *ctx) {
        (void) ctx;
        free(*slot);
        *slot = NULL;
}

static void dup_slot(char **slot, void *ctx) {
        (void) ctx;
        if (*slot)
                *slot = strdup(*slot);
}

void mcs_config_free_strings(mcs_config *c) {
        each_string(c, free_slot, NULL);
}

/* Each string slot of dst, still pointing into src, is replaced by a copy;
 * a failed strdup leaves NULL, found by comparing with src afterwards. */
typedef struct dup_check {
        const mcs_config *src;
        const mcs_config *dst;
        bool short_of_memory;
} dup_check;

static void check_slot(char **slot, void *ctx) {
        dup_check *d = ctx;
        const char *const *in_src = (const char *const *) ((const char *) d->src + ((char *) slot - (char *) d->dst));
        if (*in_src && !*slot)
                d->short_of_memory = true;
}

int mcs_config_copy(mcs_config *dst, const mcs_config *src, mcs_err *e) {
        *dst = *src;
        each_string(dst, dup_slot, NULL);
        dup_check d = {src, dst, false};
        each_string(dst, check_slot, &d);
        if (d.short_of_memory) {
                mcs_config_free_strings(dst);
                mcs_config_init(dst);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        return 0;
}
