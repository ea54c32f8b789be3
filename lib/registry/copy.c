/* Moving a registry: an offline copy from one backend to another, and its
 * verification.
 *
 * The copy reads the source with the ordinary reads (records, the whole
 * history, every original label) and writes the destination with the
 * backend's import operations, which keep generations and times. It is
 * meant for a registry no mcsd uses: each read is consistent on its own,
 * and the verification reads both registries again and compares them, so a
 * source that changed during the copy is reported, not copied half. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "mcs-macro.h"

typedef struct snapshot {
        mcs_record_list records;    /* by uuid */
        mcs_history_list history;   /* oldest first */
        mcs_original_list originals; /* by path */
} snapshot;

static void snapshot_clear(snapshot *s) {
        mcs_record_list_clear(&s->records);
        mcs_history_list_clear(&s->history);
        mcs_original_list_clear(&s->originals);
}

static int by_uuid(const void *a, const void *b) {
        return strcmp(((const mcs_record *) a)->uuid, ((const mcs_record *) b)->uuid);
}

static int by_path(const void *a, const void *b) {
        return strcmp(((const mcs_original *) a)->path, ((const mcs_original *) b)->path);
}

static bool snapshot_empty(const snapshot *s) {
        return !s->records.n && !s->history.n && !s->originals.n;
}

static int read_snapshot(mcs_registry *reg, snapshot *s, mcs_err *e) {
        int r;
        *s = (snapshot){0};
        if ((r = mcs_registry_list(reg, NULL, &s->records, e)) < 0 ||
            (MCS_BACKEND_HAS(reg->ops, history) && (r = mcs_registry_history(reg, NULL, &s->history, e)) < 0) ||
            (r = mcs_registry_originals(reg, NULL, &s->originals, e)) < 0) {
                snapshot_clear(s);
                return r;
        }
        if (s->records.n > 1)
                qsort(s->records.v, s->records.n, sizeof *s->records.v, by_uuid);
        if (s->originals.n > 1)
                qsort(s->originals.v, s->originals.n, sizeof *s->originals.v, by_path);
        return 0;
}

static void close_registry(mcs_registry **reg) {
        mcs_registry_close(*reg);
}

/* create: a copy's destination is made when missing (a copy goes into a
 * new registry); a source, and what a verification reads, must exist. */
static int open_one(const char *what, const char *location, const mcs_registry_config *cfg, bool create,
                    mcs_registry **out, mcs_err *e) {
        mcs_registry_config c = *cfg;
        c.create = create;
        int r = mcs_registry_open(location, &c, out, e);
        if (r < 0) {
                *out = NULL;
                mcs_err_prefix(e, "%s registry", what);
        }
        return r;
}

/* ---- verification ---- */

static int differs(mcs_err *e, const char *where, const char *field, const char *a, const char *b) {
        char qa[MCS_QUOTE_MAX], qb[MCS_QUOTE_MAX];
        return mcs_fail(e, MCS_E_CHANGED, "copy differs: %s: %s is '%s' in the source, '%s' in the destination",
                        where, field, mcs_quote(a, qa, sizeof qa), mcs_quote(b, qb, sizeof qb));
}

static int differs_num(mcs_err *e, const char *where, const char *field, long long a, long long b) {
        return mcs_fail(e, MCS_E_CHANGED, "copy differs: %s: %s is %lld in the source, %lld in the destination",
                        where, field, a, b);
}

/* The fields a record and a history entry share. */
static int compare_record(const char *where, const mcs_record *a, const mcs_record *b, mcs_err *e) {
        if (strcmp(a->uuid, b->uuid))
                return differs(e, where, "uuid", a->uuid, b->uuid);
        if (strcmp(a->name, b->name))
                return differs(e, where, "name", a->name, b->name);
        if (strcmp(a->label, b->label))
                return differs(e, where, "label", a->label, b->label);
        if (a->kind != b->kind)
                return differs(e, where, "kind", mcs_kind_name(a->kind), mcs_kind_name(b->kind));
        if (strcmp(a->host, b->host))
                return differs(e, where, "host", a->host, b->host);
        if (a->state != b->state)
                return differs(e, where, "state", mcs_state_name(a->state), mcs_state_name(b->state));
        if (a->generation != b->generation)
                return differs_num(e, where, "generation", (long long) a->generation, (long long) b->generation);
        return 0;
}

static int compare_counts(const char *what, size_t a, size_t b, mcs_err *e) {
        if (a == b)
                return 0;
        return mcs_fail(e, MCS_E_CHANGED, "copy differs: %zu %s in the source, %zu in the destination", a, what, b);
}

static int compare_records(const mcs_record_list *a, const mcs_record_list *b, mcs_err *e) {
        int r = compare_counts("records", a->n, b->n, e);
        for (size_t i = 0; r == 0 && i < a->n; i++) {
                char where[96];
                const mcs_record *x = &a->v[i], *y = &b->v[i];
                snprintf(where, sizeof where, "record of guest %s", x->uuid);
                if ((r = compare_record(where, x, y, e)) < 0)
                        break;
                if (x->created_us != y->created_us)
                        r = differs_num(e, where, "created_us", x->created_us, y->created_us);
                else if (x->updated_us != y->updated_us)
                        r = differs_num(e, where, "updated_us", x->updated_us, y->updated_us);
        }
        return r;
}

static int compare_history(const mcs_history_list *a, const mcs_history_list *b, mcs_err *e) {
        int r = compare_counts("history entries", a->n, b->n, e);
        for (size_t i = 0; r == 0 && i < a->n; i++) {
                char where[128];
                const mcs_history_entry *x = &a->v[i], *y = &b->v[i];
                snprintf(where, sizeof where, "history entry %zu of %zu (guest %s)", i + 1, a->n, x->rec.uuid);
                if (x->op != y->op)
                        r = differs(e, where, "operation", mcs_history_op_name(x->op), mcs_history_op_name(y->op));
                else if (x->at_us != y->at_us)
                        r = differs_num(e, where, "at_us", x->at_us, y->at_us);
                else if (x->who.known != y->who.known || x->who.uid != y->who.uid)
                        r = differs_num(e, where, "who's uid", x->who.known ? (long long) x->who.uid : -1,
                                        y->who.known ? (long long) y->who.uid : -1);
                else if (x->who.pid != y->who.pid)
                        r = differs_num(e, where, "who's pid", x->who.pid, y->who.pid);
                else
                        r = compare_record(where, &x->rec, &y->rec, e);
        }
        return r;
}

static int compare_originals(const mcs_original_list *a, const mcs_original_list *b, mcs_err *e) {
        int r = compare_counts("original labels", a->n, b->n, e);
        for (size_t i = 0; r == 0 && i < a->n; i++) {
                char where[MCS_QUOTE_MAX + 32], q[MCS_QUOTE_MAX];
                const mcs_original *x = &a->v[i], *y = &b->v[i];
                snprintf(where, sizeof where, "original label of '%s'", mcs_quote(x->path, q, sizeof q));
                if (strcmp(x->path, y->path))
                        r = differs(e, where, "path", x->path, y->path);
                else if (strcmp(x->uuid, y->uuid))
                        r = differs(e, where, "guest", x->uuid, y->uuid);
                else if (strcmp(x->context, y->context))
                        r = differs(e, where, "context", x->context, y->context);
                else if (strcmp(x->host, y->host))
                        r = differs(e, where, "host", x->host, y->host);
                else if (x->saved_us != y->saved_us)
                        r = differs_num(e, where, "saved_us", x->saved_us, y->saved_us);
        }
        return r;
}

static void free_alloc(mcs_alloc **a) {
        mcs_alloc_free(*a);
}

/* No two labels of the destination may conflict: each is checked against
 * the ones before it, as a reservation would have been. */
static int check_labels(const mcs_record_list *l, const mcs_catset *pool, mcs_err *e) {
        _cleanup_(free_alloc) mcs_alloc *a = NULL;
        int r = mcs_alloc_new(pool, 1, &a, e);
        for (size_t i = 0; r == 0 && i < l->n; i++) {
                const mcs_record *rec = &l->v[i];
                mcs_range range;
                mcs_catset other;
                if (mcs_range_parse(rec->label, &range, e) < 0) {
                        mcs_err_prefix(e, "copy: label of guest %s", rec->uuid);
                        return -(int) MCS_E_SCHEMA;
                }
                if (mcs_alloc_check(a, &range.high.cats, &other) < 0) {
                        /* Name the holder: the record before this one whose categories are other. */
                        for (size_t j = 0; j < i; j++) {
                                mcs_range held;
                                if (mcs_range_parse(l->v[j].label, &held, NULL) == 0 &&
                                    mcs_catset_equal(&held.high.cats, &other))
                                        return mcs_fail(e, MCS_E_CONFLICT,
                                                        "copy: label %s of guest %s conflicts with label %s of "
                                                        "guest %s",
                                                        rec->label, rec->uuid, l->v[j].label, l->v[j].uuid);
                        }
                        return mcs_fail(e, MCS_E_CONFLICT, "copy: label %s of guest %s conflicts with another",
                                        rec->label, rec->uuid);
                }
                r = mcs_alloc_add(a, &range.high.cats, e);
        }
        return r;
}

static int verify(mcs_registry *from, mcs_registry *to, const mcs_registry_config *cfg, mcs_copy_report *out,
                  mcs_err *e) {
        _cleanup_(snapshot_clear) snapshot a = {0};
        _cleanup_(snapshot_clear) snapshot b = {0};
        int r;
        if ((r = read_snapshot(from, &a, e)) < 0 || (r = read_snapshot(to, &b, e)) < 0)
                return r;
        if (a.history.n && !MCS_BACKEND_HAS(to->ops, history))
                return mcs_fail(e, MCS_E_CHANGED, "copy differs: registry %s keeps no history", to->location);
        if ((r = compare_records(&a.records, &b.records, e)) < 0)
                return r;
        out->records_verified = b.records.n;
        if ((r = compare_history(&a.history, &b.history, e)) < 0)
                return r;
        out->history_verified = b.history.n;
        if ((r = compare_originals(&a.originals, &b.originals, e)) < 0)
                return r;
        out->originals_verified = b.originals.n;
        return check_labels(&b.records, &cfg->pool, e);
}

int mcs_registry_verify_copy(const char *from, const char *to, const mcs_registry_config *cfg, mcs_copy_report *out,
                             mcs_err *e) {
        _cleanup_(close_registry) mcs_registry *src = NULL;
        _cleanup_(close_registry) mcs_registry *dst = NULL;
        mcs_copy_report rep = {0};
        int r;
        if ((r = open_one("source", from, cfg, false, &src, e)) < 0 ||
            (r = open_one("destination", to, cfg, false, &dst, e)) < 0)
                return r;
        r = verify(src, dst, cfg, &rep, e);
        if (out) {
                out->records_verified = rep.records_verified;
                out->history_verified = rep.history_verified;
                out->originals_verified = rep.originals_verified;
        }
        return r;
}

/* ---- the copy ---- */

static int import_all(mcs_registry *to, const snapshot *s, mcs_copy_report *out, mcs_err *e) {
        const mcs_backend_ops *ops = to->ops;
        int r = 0;
        if (MCS_BACKEND_HAS(ops, import_records)) {
                if ((r = ops->import_records(to->b, s->records.v, s->records.n, e)) == 0)
                        out->records = s->records.n;
        } else
                for (size_t i = 0; r == 0 && i < s->records.n; i++)
                        if ((r = ops->import_record(to->b, &s->records.v[i], e)) == 0)
                                out->records++;
        for (size_t i = 0; r == 0 && i < s->history.n; i++)
                if ((r = ops->import_history(to->b, &s->history.v[i], e)) == 0)
                        out->history++;
        for (size_t i = 0; r == 0 && i < s->originals.n; i++)
                if ((r = ops->import_original(to->b, &s->originals.v[i], e)) == 0)
                        out->originals++;
        return r;
}

/* Inside the destination's write section when it has one: then the copy
 * lands whole or not at all. */
static int import_snapshot(mcs_registry *to, const snapshot *s, mcs_copy_report *out, mcs_err *e) {
        const mcs_backend_ops *ops = to->ops;
        bool section = MCS_BACKEND_HAS(ops, write_begin) && MCS_BACKEND_HAS(ops, write_end);
        int r;
        if (section && (r = ops->write_begin(to->b, e)) < 0)
                return r;
        r = import_all(to, s, out, e);
        if (section) {
                mcs_err end_err = {0};
                int r2 = ops->write_end(to->b, r == 0, &end_err);
                if (r == 0 && r2 < 0) {
                        if (e)
                                *e = end_err;
                        r = r2;
                }
        }
        if (r < 0) {
                mcs_err_prefix(e, "copy into %s%s", to->location,
                               section ? " (nothing was written)"
                                       : " (part of the copy is there: empty it before trying again)");
                *out = (mcs_copy_report){0};
        }
        return r;
}

int mcs_registry_copy(const char *from, const char *to, const mcs_registry_config *cfg, mcs_copy_report *out,
                      mcs_err *e) {
        _cleanup_(close_registry) mcs_registry *src = NULL;
        _cleanup_(close_registry) mcs_registry *dst = NULL;
        _cleanup_(snapshot_clear) snapshot s = {0};
        _cleanup_(snapshot_clear) snapshot there = {0};
        mcs_copy_report rep = {0};
        int r;

        if (out)
                *out = rep;
        if (!from || !to || !*from || !*to)
                return mcs_fail(e, MCS_E_INVALID, "copy: a source and a destination registry are needed");
        if (!strcmp(from, to))
                return mcs_fail(e, MCS_E_INVALID, "copy: %s is both the source and the destination", from);
        if ((r = open_one("source", from, cfg, false, &src, e)) < 0 || (r = read_snapshot(src, &s, e)) < 0)
                return r;
        if (snapshot_empty(&s))
                return mcs_fail(e, MCS_E_NOTFOUND,
                                "copy: registry %s holds no record, history or original label: nothing to copy "
                                "(is it the right location?)",
                                from);
        if ((r = open_one("destination", to, cfg, true, &dst, e)) < 0)
                return r;
        const mcs_backend_ops *ops = dst->ops;
        if (!MCS_BACKEND_HAS(ops, import_record) || !MCS_BACKEND_HAS(ops, import_history) ||
            !MCS_BACKEND_HAS(ops, import_original))
                return mcs_fail(e, MCS_E_INVALID,
                                "copy: registry %s: the %s backend cannot be filled by a copy (it has no import "
                                "operations)",
                                to, ops->name);
        if ((r = read_snapshot(dst, &there, e)) < 0)
                return r;
        if (!snapshot_empty(&there))
                return mcs_fail(e, MCS_E_EXISTS,
                                "copy: registry %s is not empty (%zu records, %zu history entries, %zu original "
                                "labels); a copy goes only into a new, empty registry",
                                to, there.records.n, there.history.n, there.originals.n);
        if ((r = import_snapshot(dst, &s, &rep, e)) < 0)
                return r;
        if ((r = verify(src, dst, cfg, &rep, e)) < 0)
                mcs_err_prefix(e, "copied %s to %s, but the copy is not verified", from, to);
        if (out)
                *out = rep;
        return r;
}
