#include "mcs-registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcs-macro.h"
#include "registry-backend.h"

struct mcs_registry {
        const mcs_registry_ops *ops;
        void *state;
};

static const mcs_registry_ops *const backends[] = {
        &mcs_registry_sqlite_ops,
};

static const char *const kind_names[] = {"dynamic", "static", "transient"};
static const char *const state_names[] = {"reserved", "running"};
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
static int check_text(const char *what, const char *s, size_t max, bool allow_space, mcs_err *e) {
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

const char *mcs_registry_default_location(void) {
        return MCS_DEFAULT_REGISTRY;
}

int mcs_registry_open(const char *location, const mcs_registry_config *cfg, mcs_registry **out, mcs_err *e) {
        const mcs_registry_ops *ops = NULL;
        mcs_registry_config c = *cfg;
        int r;

        if (!location)
                location = mcs_registry_default_location();
        const char *path = location;

        if ((r = check_text("host id", cfg->host_id, MCS_HOST_MAX, false, e)) < 0)
                return r;
        if (mcs_catset_count(&cfg->pool) < 2)
                return mcs_fail(e, MCS_E_RANGE, "the category pool needs at least two categories");
        if (!c.busy_timeout_ms)
                c.busy_timeout_ms = MCS_DEFAULT_BUSY_TIMEOUT_MS;
        if (!*location)
                return mcs_fail(e, MCS_E_INVALID, "empty registry location");

        /* "NAME:REST" with NAME in [a-z]+ picks a backend; anything else is a sqlite path
         * (write "./a:b" for a relative path that holds a colon). */
        size_t n = strspn(location, "abcdefghijklmnopqrstuvwxyz");
        if (n > 0 && location[n] == ':') {
                for (size_t i = 0; i < MCS_ARRAY_SIZE(backends); i++)
                        if (strlen(backends[i]->name) == n && strncmp(backends[i]->name, location, n) == 0)
                                ops = backends[i];
                if (!ops)
                        return mcs_fail(e, MCS_E_INVALID, "registry '%.*s': unknown backend (known: sqlite)",
                                        (int) n, location);
                path = location + n + 1;
        } else
                ops = &mcs_registry_sqlite_ops;

        mcs_registry *reg = calloc(1, sizeof *reg);
        if (!reg)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        reg->ops = ops;
        if ((r = ops->open(path, &c, &reg->state, e)) < 0) {
                free(reg);
                return r;
        }
        *out = reg;
        return 0;
}

void mcs_registry_close(mcs_registry *r) {
        if (!r)
                return;
        r->ops->close(r->state);
        free(r);
}

const char *mcs_registry_backend_name(const mcs_registry *r) {
        return r->ops->name;
}

static int check_guest(const mcs_guest *g, char uuid[MCS_UUID_STRLEN + 1], mcs_guest *canon, mcs_err *e) {
        int r;
        if ((r = mcs_uuid_canonical(g->uuid, uuid, e)) < 0 ||
            (r = check_text("guest name", g->name, MCS_NAME_MAX, true, e)) < 0)
                return r;
        if ((unsigned) g->kind > MCS_KIND_TRANSIENT)
                return mcs_fail(e, MCS_E_INVALID, "unknown reservation kind %d", (int) g->kind);
        *canon = *g;
        canon->uuid = uuid;
        return 0;
}

int mcs_registry_reserve(mcs_registry *r, const mcs_guest *g, mcs_record *out, bool *created, mcs_err *e) {
        char uuid[MCS_UUID_STRLEN + 1];
        mcs_guest c;
        bool dummy;
        int rc = check_guest(g, uuid, &c, e);
        return rc < 0 ? rc : r->ops->reserve_any(r->state, &c, out, created ? created : &dummy, e);
}

static int parse_label(const char *text, mcs_label *l, mcs_err *e) {
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

int mcs_registry_reserve_label(mcs_registry *r, const mcs_guest *g, const char *label, mcs_record *out,
                               bool *created, mcs_err *e) {
        char uuid[MCS_UUID_STRLEN + 1];
        mcs_guest c;
        bool dummy;
        int rc;
        _cleanup_free_ mcs_label *l = malloc(sizeof *l);

        if (!l)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        if ((rc = check_guest(g, uuid, &c, e)) < 0 || (rc = parse_label(label, l, e)) < 0)
                return rc;
        return r->ops->reserve_label(r->state, &c, l, out, created ? created : &dummy, e);
}

int mcs_registry_release(mcs_registry *r, const char *uuid, mcs_record *out, mcs_err *e) {
        return mcs_registry_release_if(r, uuid, NULL, 0, out, e);
}

int mcs_registry_release_if(mcs_registry *r, const char *uuid, const char *host, uint64_t generation,
                            mcs_record *out, mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int rc = mcs_uuid_canonical(uuid, u, e);
        if (rc < 0 || (host && (rc = check_text("host id", host, MCS_HOST_MAX, false, e)) < 0))
                return rc;
        if (generation > INT64_MAX)
                return mcs_fail(e, MCS_E_INVALID, "generation %llu out of range", (unsigned long long) generation);
        return r->ops->release(r->state, u, host, generation, out, e);
}

int mcs_registry_set_name(mcs_registry *r, const char *uuid, const char *name, uint64_t generation, mcs_record *out,
                          mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int rc = mcs_uuid_canonical(uuid, u, e);
        if (rc < 0 || (rc = check_text("guest name", name, MCS_NAME_MAX, true, e)) < 0)
                return rc;
        if (generation > INT64_MAX)
                return mcs_fail(e, MCS_E_INVALID, "generation %llu out of range", (unsigned long long) generation);
        return r->ops->set_name(r->state, u, name, generation, out, e);
}

int mcs_registry_set_state(mcs_registry *r, const char *uuid, mcs_state state, mcs_record *out, mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int rc = mcs_uuid_canonical(uuid, u, e);
        if (rc < 0)
                return rc;
        if ((unsigned) state > MCS_STATE_RUNNING)
                return mcs_fail(e, MCS_E_INVALID, "unknown state %d", (int) state);
        return r->ops->set_state(r->state, u, state, out, e);
}

int mcs_registry_get(mcs_registry *r, const char *uuid, mcs_record *out, mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int rc = mcs_uuid_canonical(uuid, u, e);
        return rc < 0 ? rc : r->ops->get(r->state, u, out, e);
}

int mcs_registry_find_label(mcs_registry *r, const char *label, mcs_record *out, mcs_err *e) {
        _cleanup_free_ mcs_label *l = malloc(sizeof *l);
        int rc;
        if (!l)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        if ((rc = parse_label(label, l, e)) < 0)
                return rc;
        return r->ops->find_label(r->state, l->text, out, e);
}

int mcs_registry_list(mcs_registry *r, const mcs_filter *f, mcs_record_list *out, mcs_err *e) {
        mcs_filter all = MCS_FILTER_ALL;
        return r->ops->list(r->state, f ? f : &all, out, e);
}

int mcs_registry_history(mcs_registry *r, const char *uuid, mcs_history_list *out, mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        if (uuid) {
                int rc = mcs_uuid_canonical(uuid, u, e);
                if (rc < 0)
                        return rc;
        }
        return r->ops->history(r->state, uuid ? u : NULL, out, e);
}

int mcs_registry_stats(mcs_registry *r, mcs_alloc_stats *out, mcs_err *e) {
        return r->ops->stats(r->state, out, e);
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

int mcs_registry_conflict_error(mcs_err *e, const mcs_guest *g, const mcs_label *want, const mcs_record *holder) {
        mcs_range held;
        const char *how = "conflicts with";
        if (mcs_range_parse(holder->label, &held, NULL) == 0) {
                const mcs_catset *a = &want->range.high.cats, *b = &held.high.cats;
                how = mcs_catset_equal(a, b)      ? "has the categories of"
                      : mcs_catset_contains(b, a) ? "is contained in"
                                                  : "contains";
        }
        return mcs_fail(e, MCS_E_CONFLICT,
                        "label %s for guest %s (%s) %s label %s held by guest %s (%s) on host %s; "
                        "either guest could read the other's images",
                        want->text, g->name, g->uuid, how, holder->label, holder->name, holder->uuid,
                        holder->host);
}

/* Paths end up in logs and replies too; contexts are checked by libselinux
 * before a file gets them, here only for size and shape. */
static int check_path(const char *path, mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        if (!path || path[0] != '/')
                return mcs_fail(e, MCS_E_INVALID, "'%s' is not an absolute path", path ? mcs_quote(path, q, sizeof q) : "");
        return check_text("path", path, 4095, true, e);
}

int mcs_registry_remember_original(mcs_registry *r, const char *uuid, const char *path, const char *context,
                                   mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int rc;
        if ((rc = mcs_uuid_canonical(uuid, u, e)) < 0 || (rc = check_path(path, e)) < 0)
                return rc;
        if (!context || strlen(context) > 4095 || strchr(context, '\n'))
                return mcs_fail(e, MCS_E_INVALID, "unusable original label for %s", path);
        return r->ops->remember_original(r->state, u, path, context, e);
}

int mcs_registry_originals(mcs_registry *r, const char *uuid, mcs_original_list *out, mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int rc = mcs_uuid_canonical(uuid, u, e);
        return rc < 0 ? rc : r->ops->originals(r->state, u, out, e);
}

int mcs_registry_forget_original(mcs_registry *r, const char *path, mcs_err *e) {
        int rc = check_path(path, e);
        return rc < 0 ? rc : r->ops->forget_original(r->state, path, e);
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
