/* History queries: a page of the history, newest first, filtered by guest,
 * overlapping label, host and time. A backend pushes down what it can
 * (history_page); the filters are all checked here again, so a backend
 * that hands over more than matches costs time, never a wrong answer. */
#define _DEFAULT_SOURCE /* timegm */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handle.h"
#include "mcs-grow.h"
#include "mcs-macro.h"

void mcs_registry_set_actor(mcs_registry *reg, const mcs_actor *who) {
        if (MCS_BACKEND_HAS(reg->ops, set_actor))
                reg->ops->set_actor(reg->b, who && who->known ? who : NULL);
}

int mcs_registry_history_start(mcs_registry *reg, uint64_t *first, mcs_err *e) {
        *first = 0;
        return MCS_BACKEND_HAS(reg->ops, history_start) ? reg->ops->history_start(reg->b, first, e) : 0;
}

/* The query as a backend gets it: checked and canonical. */
struct page {
        mcs_history_query q;
        char uuid[MCS_UUID_STRLEN + 1];
        mcs_label label; /* when q.label */
        mcs_history_list *out;
        size_t cap;
        uint64_t *next;
};

/* Whether held equals, contains or is contained in want: a guest holding
 * one could read images of the other's level, or the other its. */
static bool overlaps(const mcs_label *want, const char *held_text) {
        mcs_range held;
        if (mcs_range_parse(held_text, &held, NULL) < 0)
                return false;
        const mcs_catset *a = &want->range.high.cats, *b = &held.high.cats;
        return mcs_catset_contains(a, b) || mcs_catset_contains(b, a);
}

static bool matches(const struct page *p, const mcs_history_entry *h) {
        const mcs_history_query *q = &p->q;
        return (!q->before || h->seq < q->before) && (!q->uuid || strcmp(h->rec.uuid, q->uuid) == 0) &&
               (!q->name || strcmp(h->rec.name, q->name) == 0) && (!q->host || strcmp(h->rec.host, q->host) == 0) && (!q->since_us || h->at_us >= q->since_us) &&
               (!q->until_us || h->at_us <= q->until_us) && (!q->label || overlaps(&p->label, h->rec.label));
}

/* Takes h into the page; 1 once the page has one entry more than its
 * limit (which says another page follows, and is dropped). */
static int take(void *ctx, mcs_history_entry *h, mcs_err *e) {
        struct page *p = ctx;
        if (!matches(p, h))
                return 0;
        if (p->out->n == p->q.limit) {
                *p->next = p->out->v[p->out->n - 1].seq;
                return 1;
        }
        if (mcs_grow((void **) &p->out->v, &p->cap, p->out->n, sizeof *p->out->v, 16) < 0)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        p->out->v[p->out->n++] = *h;
        h->rec = (mcs_record){0};
        return 0;
}

/* Without history_page: the whole history, oldest first, walked back. */
static int page_from_all(mcs_registry *reg, struct page *p, mcs_err *e) {
        mcs_history_list all = {0};
        int r = reg->ops->history(reg->b, p->q.uuid, &all, e);
        for (size_t i = all.n; r == 0 && i > 0; i--)
                r = take(p, &all.v[i - 1], e);
        mcs_history_list_clear(&all);
        return r < 0 ? r : 0;
}

static int check_query(const mcs_history_query *q, struct page *p, mcs_err *e) {
        int r;
        p->q = *q;
        if (q->uuid) {
                if ((r = mcs_uuid_canonical(q->uuid, p->uuid, e)) < 0)
                        return r;
                p->q.uuid = p->uuid;
        }
        if (q->label) {
                if ((r = mcs_registry_parse_label(q->label, &p->label, e)) < 0)
                        return r;
                p->q.label = p->label.text;
        }
        if (q->name && (r = mcs_registry_check_text("guest name", q->name, MCS_NAME_MAX, true, e)) < 0)
                return r;
        if (q->host && (r = mcs_registry_check_text("host id", q->host, MCS_HOST_MAX, false, e)) < 0)
                return r;
        if (q->limit > MCS_HISTORY_PAGE_MAX)
                return mcs_fail(e, MCS_E_INVALID, "a history page holds at most %u entries, not %zu",
                                MCS_HISTORY_PAGE_MAX, q->limit);
        if (q->since_us < 0 || q->until_us < 0 || (q->until_us && q->since_us > q->until_us))
                return mcs_fail(e, MCS_E_INVALID, "the history's time span ends before it begins");
        if (q->before > INT64_MAX)
                return mcs_fail(e, MCS_E_INVALID, "history position %llu out of range",
                                (unsigned long long) q->before);
        if (!p->q.limit)
                p->q.limit = MCS_HISTORY_PAGE_DEFAULT;
        return 0;
}

int mcs_registry_history_query(mcs_registry *reg, const mcs_history_query *q, mcs_history_list *out, uint64_t *next,
                               mcs_err *e) {
        _cleanup_free_ struct page *p = calloc(1, sizeof *p);
        uint64_t ignored;
        *out = (mcs_history_list){0};
        if (!p)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        p->out = out;
        p->next = next ? next : &ignored;
        *p->next = 0;
        int r = check_query(q, p, e);
        if (r < 0)
                return r;
        if (MCS_BACKEND_HAS(reg->ops, history_page))
                r = reg->ops->history_page(reg->b, &p->q, take, p, e);
        else if (MCS_BACKEND_HAS(reg->ops, history))
                r = page_from_all(reg, p, e);
        else
                r = mcs_fail(e, MCS_E_NOTFOUND, "registry %s keeps no history", reg->location);
        if (r < 0) {
                mcs_history_list_clear(out);
                *p->next = 0;
        }
        return r < 0 ? r : 0;
}

/* ---- times ---- */
