#include "mcs-registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handle.h"
#include "mcs-grow.h"
#include "mcs-macro.h"

extern const mcs_backend_ops mcs_backend_dir, mcs_backend_nfs; /* dir/ops.c */

static const mcs_backend_ops *const backends[] = {
        &mcs_backend_sqlite,
        &mcs_backend_etcd,
        &mcs_backend_dir,
        &mcs_backend_nfs,
};

static const char *const kind_names[] = {"dynamic", "static", "transient"};
static const char *const state_names[] = {"reserved", "running", "migrating"};
static const char *const op_names[] = {"reserve", "release", "state"};

const char *mcs_kind_name(mcs_kind k) {
        return (unsigned) k < MCS_ARRAY_SIZE(kind_names) ? kind_names[k] : "unknown";
}
const char *mcs_state_name(mcs_state s) {
        return (unsigned) s < MCS_ARRAY_SIZE(state_names) ? state_names[s] : "unknown";
}
const char *mcs_history_op_name(mcs_history_op op) {
        return (unsigned) op < MCS_ARRAY_SIZE(op_names) ? op_names[op] : "unknown";
}

static int index_of(const char *const *names, size_t n, const char *s) {
        for (size_t i = 0; s && i < n; i++)
                if (strcmp(names[i], s) == 0)
                        return (int) i;
        return -1;
}

int mcs_kind_from_name(const char *s, mcs_kind *out) {
        int i = index_of(kind_names, MCS_ARRAY_SIZE(kind_names), s);
        if (i < 0)
                return -(int) MCS_E_INVALID;
        *out = (mcs_kind) i;
        return 0;
}
int mcs_state_from_name(const char *s, mcs_state *out) {
        int i = index_of(state_names, MCS_ARRAY_SIZE(state_names), s);
        if (i < 0)
                return -(int) MCS_E_INVALID;
        *out = (mcs_state) i;
        return 0;
}
int mcs_history_op_from_name(const char *s, mcs_history_op *out) {
        int i = index_of(op_names, MCS_ARRAY_SIZE(op_names), s);
        if (i < 0)
                return -(int) MCS_E_INVALID;
        *out = (mcs_history_op) i;
        return 0;
}

/* Names and host ids end up in logs, tables and JSON: printable, bounded. */
int mcs_registry_check_text(const char *what, const char *s, size_t max, bool allow_space, mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        if (!s || !*s)
                return mcs_fail(e, MCS_E_INVALID, "empty %s", what);
        size_t n = strlen(s);
        if (n > max)
                return mcs_fail(e, MCS_E_INVALID, "%s '%s' is %zu bytes long, more than %zu", what,
                                mcs_quote(s, q, sizeof q), n, max);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c == 0x7f || (!allow_space && c == ' '))
                        return mcs_fail(e, MCS_E_INVALID, "%s '%s' has a %s at column %zu", what,
                                        mcs_quote(s, q, sizeof q),
                                        c == ' ' ? "space" : "control character", i + 1);
        }
        return 0;
}


int64_t mcs_registry_now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *mcs_registry_default_location(void) {
        return MCS_DEFAULT_REGISTRY;
}

/* The backend's struct must hold every operation of the version it claims,
 * and the ones every version needs must be set. */
static int check_backend(const mcs_backend_ops *ops, mcs_err *e) {
        if (ops->version < 1 || ops->size < offsetof(mcs_backend_ops, import_original) + sizeof ops->import_original)
                return mcs_fail(e, MCS_E_SCHEMA, "registry backend %s: version %d, %zu bytes: not a backend this "
                                "libmcs can use", ops->name, ops->version, ops->size);
        if (!ops->open || !ops->close || !ops->changes || !ops->scan || !ops->get || !ops->create || !ops->update ||
            !ops->remove || !ops->remember_original || !ops->originals || !ops->forget_original)
                return mcs_fail(e, MCS_E_SCHEMA, "registry backend %s lacks an operation every backend needs",
                                ops->name);
        return 0;
}

static int pick_backend(const char *location, const mcs_backend_ops **ops, const char **rest, mcs_err *e) {
        /* "NAME:REST" with NAME in [a-z]+ picks a backend; anything else is a sqlite path
         * (write "./a:b" for a relative path that holds a colon). */
        size_t n = strspn(location, "abcdefghijklmnopqrstuvwxyz");
        if (n == 0 || location[n] != ':') {
                *ops = &mcs_backend_sqlite;
                *rest = location;
                return 0;
        }
        for (size_t i = 0; i < MCS_ARRAY_SIZE(backends); i++)
                if (strlen(backends[i]->name) == n && strncmp(backends[i]->name, location, n) == 0) {
                        *ops = backends[i];
                        *rest = location + n + 1;
                        return 0;
                }
        char known[128] = "";
        for (size_t i = 0; i < MCS_ARRAY_SIZE(backends); i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                         backends[i]->name);
        return mcs_fail(e, MCS_E_INVALID, "registry '%.*s': unknown backend (known: %s)", (int) n, location, known);
}

int mcs_registry_check_location(const char *location, mcs_err *e) {
        const mcs_backend_ops *ops = NULL;
        const char *rest = NULL;
        if (!location)
                return 0;
        if (!*location)
                return mcs_fail(e, MCS_E_INVALID, "empty registry location");
        return pick_backend(location, &ops, &rest, e);
}

int mcs_registry_open(const char *location, const mcs_registry_config *cfg, mcs_registry **out, mcs_err *e) {
        const mcs_backend_ops *ops = NULL;
        const char *rest = NULL;
        mcs_registry_config c = *cfg;
        int r;

        if (!location)
                location = mcs_registry_default_location();
        if ((r = mcs_registry_check_text("host id", cfg->host_id, MCS_HOST_MAX, false, e)) < 0)
                return r;
        if (mcs_catset_count(&cfg->pool) < 2)
                return mcs_fail(e, MCS_E_RANGE, "the category pool needs at least two categories");
        /* Drawn pairs are reservations too: none may lie outside what the policy allows. */
        if (cfg->allowed && !mcs_catset_contains(&cfg->allowed->high.cats, &cfg->pool)) {
                char pool[MCS_LEVEL_STRMAX], allowed[MCS_RANGE_STRMAX];
                mcs_catset_format(&cfg->pool, pool, sizeof pool);
                mcs_range_format(cfg->allowed, allowed, sizeof allowed);
                return mcs_fail(e, MCS_E_RANGE, "the category pool %s reaches beyond %s, the range the SELinux policy "
                                "allows (system_u's): pairs drawn there could never run", pool, allowed);
        }
        if (!c.busy_timeout_ms)
                c.busy_timeout_ms = MCS_DEFAULT_BUSY_TIMEOUT_MS;
        if (!*location)
                return mcs_fail(e, MCS_E_INVALID, "empty registry location");
        if ((r = pick_backend(location, &ops, &rest, e)) < 0 || (r = check_backend(ops, e)) < 0)
                return r;

        mcs_registry *reg = calloc(1, sizeof *reg);
        if (!reg)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        reg->ops = ops;
        reg->host = strdup(cfg->host_id);
        reg->location = strdup(location);
        mcs_view_init(&reg->view, &cfg->pool, cfg->seed);
        if (cfg->allowed) {
                reg->has_allowed = true;
                reg->allowed = *cfg->allowed;
        }
        if (!reg->host || !reg->location) {
                mcs_registry_close(reg);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        if ((r = ops->open(rest, &c, &reg->b, e)) < 0) {
                reg->b = NULL;
                mcs_registry_close(reg);
                return r;
        }
        *out = reg;
        return 0;
}

void mcs_registry_close(mcs_registry *reg) {
        if (!reg)
                return;
        if (reg->b)
                reg->ops->close(reg->b);
        mcs_view_drop(&reg->view);
        free(reg->host);
        free(reg->location);
        free(reg);
}

const char *mcs_registry_backend_name(const mcs_registry *reg) {
        return reg->ops->name;
}

const char *mcs_registry_location(const mcs_registry *reg) {
        return reg->location;
}

int mcs_registry_check_guest(const mcs_guest *g, char uuid[MCS_UUID_STRLEN + 1], mcs_guest *canon, mcs_err *e) {
        int r;
        if ((r = mcs_uuid_canonical(g->uuid, uuid, e)) < 0 ||
            (r = mcs_registry_check_text("guest name", g->name, MCS_NAME_MAX, true, e)) < 0)
                return r;
        if ((unsigned) g->kind > MCS_KIND_TRANSIENT)
                return mcs_fail(e, MCS_E_INVALID, "unknown reservation kind %d", (int) g->kind);
        *canon = *g;
        canon->uuid = uuid;
        return 0;
}

int mcs_registry_parse_label(const char *text, mcs_label *l, mcs_err *e) {
        int r;
        if (!text)
                return mcs_fail(e, MCS_E_INVALID, "missing label");
        if ((r = mcs_range_parse(text, &l->range, e)) < 0)
                return r;
        if (mcs_catset_is_empty(&l->range.high.cats)) {
                char q[MCS_QUOTE_MAX];
                return mcs_fail(e, MCS_E_INVALID,
                                "label '%s' has no category: a guest with it is isolated from no other "
                                "guest's shared s0 content; give it a category pair",
                                mcs_quote(text, q, sizeof q));
        }
        if ((r = mcs_range_format(&l->range, l->text, sizeof l->text)) < 0)
                return mcs_fail(e, MCS_E_RANGE, "label too long to format");
        return 0;
}

/* The policy's range bounds a context's range from both ends: its low
 * level must dominate the policy's low, the policy's high must dominate
 * its high (sensitivities and categories alike), or the kernel refuses
 * the context and the guest cannot start. */
int mcs_registry_check_allowed(const mcs_registry *reg, const mcs_label *l, mcs_err *e) {
        char allowed[MCS_RANGE_STRMAX];
        if (!reg->has_allowed || (mcs_level_dominates(&l->range.low, &reg->allowed.low) &&
                                  mcs_level_dominates(&reg->allowed.high, &l->range.high)))
                return 0;
        if (mcs_range_format(&reg->allowed, allowed, sizeof allowed) < 0)
                snprintf(allowed, sizeof allowed, "?");
        return mcs_fail(e, MCS_E_INVALID,
                        "label %s is outside %s, the range the SELinux policy allows (system_u's): a guest with it "
                        "could never start; use sensitivity s%u%s and categories within it",
                        l->text, allowed, reg->allowed.high.sens, reg->allowed.high.sens ? " or lower" : "");
}

int mcs_registry_check_unchanged(const mcs_record *rec, const char *host, uint64_t generation, const char *doing,
                                 mcs_err *e) {
        if (host && strcmp(rec->host, host))
                return mcs_fail(e, MCS_E_CHANGED, "guest %s (%s): not %s: its record is now on host %s, not %s",
                                rec->name, rec->uuid, doing, rec->host, host);
        if (generation && rec->generation != generation)
                return mcs_fail(e, MCS_E_CHANGED,
                                "guest %s (%s): not %s: its record changed meanwhile (generation %llu, read %llu; "
                                "now %s %s on host %s)",
                                rec->name, rec->uuid, doing, (unsigned long long) rec->generation,
                                (unsigned long long) generation, rec->label, mcs_state_name(rec->state), rec->host);
        return 0;
}

int mcs_registry_check_same_record(const mcs_record *now, const mcs_record *rec, uint64_t if_generation,
                                   mcs_err *e) {
        /* Another record first: that says more than its generation does. */
        if (strcmp(now->label, rec->label) == 0 && now->kind == rec->kind && now->created_us == rec->created_us)
                return mcs_registry_check_unchanged(now, NULL, if_generation, "updated", e);
        return mcs_fail(e, MCS_E_CHANGED,
                        "guest %s (%s): not updated: it was released and reserved again since it was read "
                        "(now %s %s since %lld, read %s %s since %lld)",
                        now->name, now->uuid, mcs_kind_name(now->kind), now->label, (long long) now->created_us,
                        mcs_kind_name(rec->kind), rec->label, (long long) rec->created_us);
}

/* ---- reads ---- */

int mcs_registry_get(mcs_registry *reg, const char *uuid, mcs_record *out, mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int r = mcs_uuid_canonical(uuid, u, e);
        return r < 0 ? r : reg->ops->get(reg->b, u, out, e);
}

struct label_search {
        const char *label;
        mcs_record *out;
        bool found;
};

static int match_label(void *ctx, const mcs_record *rec, mcs_err *e) {
        struct label_search *s = ctx;
        if (strcmp(rec->label, s->label))
                return 0;
        int r = mcs_record_copy(s->out, rec, e);
        if (r < 0)
                return r;
        s->found = true;
        return 1;
}

int mcs_registry_find_label(mcs_registry *reg, const char *label, mcs_record *out, mcs_err *e) {
        _cleanup_free_ mcs_label *l = malloc(sizeof *l);
        int r;
        if (!l)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        if ((r = mcs_registry_parse_label(label, l, e)) < 0)
                return r;
        if (MCS_BACKEND_HAS(reg->ops, find_label))
                return reg->ops->find_label(reg->b, l->text, out, e);
        struct label_search s = {l->text, out, false};
        mcs_cursor ignored;
        if ((r = reg->ops->scan(reg->b, match_label, &s, &ignored, e)) < 0)
                return r;
        return s.found ? 0 : mcs_fail(e, MCS_E_NOTFOUND, "no reservation for %s", l->text);
}

struct list_fill {
        const mcs_filter *f;
        mcs_record_list *out;
        size_t cap;
};

static int keep_matching(void *ctx, const mcs_record *rec, mcs_err *e) {
        struct list_fill *l = ctx;
        const mcs_filter *f = l->f;
        if ((f->host && strcmp(rec->host, f->host)) || (f->name && strcmp(rec->name, f->name)) ||
            (f->state >= 0 && (int) rec->state != f->state) || (f->kind >= 0 && (int) rec->kind != f->kind))
                return 0;
        if (mcs_grow((void **) &l->out->v, &l->cap, l->out->n, sizeof *l->out->v, 16) < 0)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        int r = mcs_record_copy(&l->out->v[l->out->n], rec, e);
        if (r == 0)
                l->out->n++;
        return r;
}

static int by_name_then_uuid(const void *a, const void *b) {
        const mcs_record *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        return c ? c : strcmp(x->uuid, y->uuid);
}

int mcs_registry_list(mcs_registry *reg, const mcs_filter *f, mcs_record_list *out, mcs_err *e) {
        mcs_filter all = MCS_FILTER_ALL;
        struct list_fill l = {f ? f : &all, out, 0};
        mcs_cursor ignored;
        *out = (mcs_record_list){0};
        int r = reg->ops->scan(reg->b, keep_matching, &l, &ignored, e);
        if (r < 0) {
                mcs_record_list_clear(out);
                return r;
        }
        if (out->n > 1)
                qsort(out->v, out->n, sizeof *out->v, by_name_then_uuid);
        return 0;
}

int mcs_registry_history(mcs_registry *reg, const char *uuid, mcs_history_list *out, mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        if (uuid) {
                int r = mcs_uuid_canonical(uuid, u, e);
                if (r < 0)
                        return r;
        }
        if (!MCS_BACKEND_HAS(reg->ops, history))
                return mcs_fail(e, MCS_E_NOTFOUND, "registry %s keeps no history", reg->location);
        return reg->ops->history(reg->b, uuid ? u : NULL, out, e);
}

int mcs_registry_stats(mcs_registry *reg, mcs_alloc_stats *out, mcs_err *e) {
        int r = mcs_view_sync(&reg->view, reg->ops, reg->b, e);
        if (r < 0)
                return r;
        mcs_alloc_stats_get(reg->view.alloc, out);
        return 0;
}

/* ---- hosts and health ---- */

int mcs_registry_heartbeat(mcs_registry *reg, mcs_err *e) {
        if (!MCS_BACKEND_HAS(reg->ops, heartbeat))
                return 0;
        mcs_err local = {0};
        int r = reg->ops->heartbeat(reg->b, &local);
        mcs_registry_note_write(reg, r, &local);
        if (e)
                *e = local;
        return r;
}

uint64_t mcs_registry_breaks(mcs_registry *reg, mcs_err *e) {
        mcs_alloc_stats ignored;
        mcs_registry_stats(reg, &ignored, e); /* brings the view up to date */
        return reg->view.breaks;
}

struct hosts_fill {
        mcs_host_list *out;
        size_t cap;
};

static int add_host(void *ctx, const mcs_host_beat *h, mcs_err *e) {
        struct hosts_fill *l = ctx;
        if (mcs_grow((void **) &l->out->v, &l->cap, l->out->n, sizeof *l->out->v, 8) < 0)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        mcs_host_seen *s = &l->out->v[l->out->n];
        if (!(s->host = strdup(h->host)))
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        s->seen_us = h->seen_us;
        l->out->n++;
        return 0;
}

int mcs_registry_hosts(mcs_registry *reg, mcs_host_list *out, mcs_err *e) {
        *out = (mcs_host_list){0};
        if (!MCS_BACKEND_HAS(reg->ops, hosts))
                return 0;
        struct hosts_fill l = {out, 0};
        int r = reg->ops->hosts(reg->b, add_host, &l, e);
        if (r < 0)
                mcs_host_list_clear(out);
        return r;
}

void mcs_host_list_clear(mcs_host_list *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].host);
        free(l->v);
        *l = (mcs_host_list){0};
}

int mcs_registry_health(mcs_registry *reg, char *out, size_t len, mcs_err *e) {
        int r = 0;
        if (MCS_BACKEND_HAS(reg->ops, health))
                r = reg->ops->health(reg->b, out, len, e);
        else
                snprintf(out, len, "ok");
        if (r < 0 || !reg->fault[0])
                return r;
        char when[32];
        time_t t = (time_t) (reg->fault_since_us / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(out, len, "failing since %s: %s", when, reg->fault);
        return 0;
}

/* ---- records ---- */

int mcs_record_copy(mcs_record *dst, const mcs_record *src, mcs_err *e) {
        *dst = *src;
        dst->name = strdup(src->name);
        dst->label = strdup(src->label);
        dst->host = strdup(src->host);
        if (!dst->name || !dst->label || !dst->host) {
                mcs_record_clear(dst);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        return 0;
}

void mcs_record_clear(mcs_record *rec) {
        if (!rec)
                return;
        free(rec->name);
        free(rec->label);
        free(rec->host);
        memset(rec, 0, sizeof *rec);
}

void mcs_record_list_clear(mcs_record_list *l) {
        for (size_t i = 0; i < l->n; i++)
                mcs_record_clear(&l->v[i]);
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

void mcs_history_list_clear(mcs_history_list *l) {
        for (size_t i = 0; i < l->n; i++)
                mcs_record_clear(&l->v[i].rec);
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

/* ---- originals ---- */

/* Paths end up in logs and replies too; contexts are checked by libselinux
 * before a file gets them, here only for size and shape. */
static int check_path(const char *path, mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        if (!path || path[0] != '/')
                return mcs_fail(e, MCS_E_INVALID, "'%s' is not an absolute path",
                                path ? mcs_quote(path, q, sizeof q) : "");
        return mcs_registry_check_text("path", path, 4095, true, e);
}

int mcs_registry_remember_original(mcs_registry *reg, const char *uuid, const char *path, const char *context,
                                   mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int r;
        if ((r = mcs_uuid_canonical(uuid, u, e)) < 0 || (r = check_path(path, e)) < 0)
                return r;
        if (!context || strlen(context) > 4095 || strchr(context, '\n'))
                return mcs_fail(e, MCS_E_INVALID, "unusable original label for %s", path);
        return reg->ops->remember_original(reg->b, u, path, context, e);
}

int mcs_registry_originals(mcs_registry *reg, const char *uuid, mcs_original_list *out, mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        if (uuid) {
                int r = mcs_uuid_canonical(uuid, u, e);
                if (r < 0)
                        return r;
        }
        return reg->ops->originals(reg->b, uuid ? u : NULL, out, e);
}

int mcs_registry_forget_original(mcs_registry *reg, const char *path, mcs_err *e) {
        int r = check_path(path, e);
        return r < 0 ? r : reg->ops->forget_original(reg->b, path, e);
}

void mcs_original_list_clear(mcs_original_list *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].path);
                free(l->v[i].context);
                free(l->v[i].host);
        }
        free(l->v);
        *l = (mcs_original_list){0};
}
