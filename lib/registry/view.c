#include "view.h"

#include <string.h>

void mcs_view_init(mcs_view *v, const mcs_catset *pool, uint64_t seed) {
        memset(v, 0, sizeof *v);
        v->pool = *pool;
        v->seed = seed;
}

void mcs_view_drop(mcs_view *v) { /* keeps breaks */
        mcs_alloc_free(v->alloc);
        v->alloc = NULL;
        memset(&v->at, 0, sizeof v->at);
}

static int stored_label(const char *label, const char *uuid, mcs_catset *out, mcs_err *e) {
        mcs_range range;
        if (mcs_range_parse(label ? label : "", &range, e) < 0) {
                mcs_err_prefix(e, "registry: stored label of guest %s", uuid ? uuid : "?");
                return -(int) MCS_E_SCHEMA;
        }
        *out = range.high.cats;
        return 0;
}

static int add_record(void *ctx, const mcs_record *rec, mcs_err *e) {
        mcs_catset set;
        int r = stored_label(rec->label, rec->uuid, &set, e);
        return r < 0 ? r : mcs_alloc_add(ctx, &set, e);
}

static int rebuild(mcs_view *v, const mcs_backend_ops *ops, mcs_backend *b, mcs_err *e) {
        mcs_alloc *a;
        mcs_cursor at = {0};
        int r;

        mcs_view_drop(v);
        if ((r = mcs_alloc_new(&v->pool, v->seed, &a, e)) < 0)
                return r;
        if ((r = ops->scan(b, add_record, a, &at, e)) < 0) {
                mcs_alloc_free(a);
                return r;
        }
        v->alloc = a;
        v->at = at;
        return 0;
}

/* A change that does not add up (a release of a label the view does not
 * hold, a label that does not parse) means the view went wrong: rebuild. */
static int apply_change(void *ctx, const mcs_change *c, mcs_err *e) {
        mcs_alloc *a = ctx;
        mcs_catset set;
        (void) e;
        if (c->op == MCS_OP_STATE)
                return 0;
        if (stored_label(c->label, c->uuid, &set, NULL) < 0)
                return -(int) MCS_E_STALE;
        int r = c->op == MCS_OP_RESERVE ? mcs_alloc_add(a, &set, NULL) : mcs_alloc_remove(a, &set, NULL);
        return r < 0 ? -(int) MCS_E_STALE : 0;
}

int mcs_view_sync(mcs_view *v, const mcs_backend_ops *ops, mcs_backend *b, mcs_err *e) {
        if (!v->alloc)
                return rebuild(v, ops, b, e);
        int r = ops->changes(b, &v->at, apply_change, v->alloc, e);
        if (r == -(int) MCS_E_STALE) {
                v->breaks++;
                return rebuild(v, ops, b, e);
        }
        /* On another error the view stays: the backend moves the cursor past
         * each change as it hands it over, so view and cursor still agree,
         * and the next sync goes on from there (and notices, through the
         * cursor's mark, a registry replaced meanwhile). */
        return r;
}

struct holder_search {
        const mcs_catset *set;
        mcs_record *out;
        bool found;
};

static int match_holder(void *ctx, const mcs_record *rec, mcs_err *e) {
        struct holder_search *h = ctx;
        mcs_range range;
        if (mcs_range_parse(rec->label, &range, NULL) < 0 || !mcs_catset_equal(&range.high.cats, h->set))
                return 0;
        int r = mcs_record_copy(h->out, rec, e);
        if (r < 0)
                return r;
        h->found = true;
        return 1; /* stop */
}

int mcs_view_holder(const mcs_backend_ops *ops, mcs_backend *b, const mcs_catset *set, mcs_record *out,
                    mcs_err *e) {
        struct holder_search h = {set, out, false};
        mcs_cursor ignored;
        int r = ops->scan(b, match_holder, &h, &ignored, e);
        if (r < 0)
                return r;
        return h.found ? 0 : -(int) MCS_E_STALE;
}
