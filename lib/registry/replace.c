/* Replacing a guest's label by another without a moment in which it holds
 * neither (mcs_registry_replace_label).
 *
 * The backends store one record per UUID and change a record's label only
 * by removing it and creating another. So the new label is checked against
 * the view first (the guest's own old label set aside): a conflict refuses
 * before anything is written. Then the old record goes and the new one is
 * created; should the create fail all the same, the old record is put back
 * (the same label, kind, host, state and creation time; a generation of its
 * own, as every new record). Inside a write section (sqlite, or a caller's batch) nobody
 * else writes between the three steps, so the put-back cannot fail for a
 * conflict and other hosts never see the gap; a section that is not a
 * caller's batch is rolled back besides.
 *
 * Also here: marking a record migrating (mcs_registry_set_migrating), an
 * update that keeps the record's host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "mcs-macro.h"

struct replace_args {
        const mcs_guest *g;
        const mcs_label *want;
        const char *if_host;
        uint64_t if_generation;
        mcs_record *out;
};

/* 0 when want conflicts with no label but the guest's own old one (own). */
static int check_free(mcs_registry *reg, const struct replace_args *a, const mcs_catset *own, mcs_err *e) {
        mcs_alloc *alloc = reg->view.alloc;
        mcs_catset conflict;
        mcs_record holder;
        int r;
        if (mcs_alloc_remove(alloc, own, NULL) < 0)
                return -(int) MCS_E_STALE; /* the view does not hold it: it is behind */
        int c = mcs_alloc_check(alloc, &a->want->range.high.cats, &conflict);
        if (mcs_alloc_add(alloc, own, NULL) < 0) {
                mcs_view_drop(&reg->view);
                return -(int) MCS_E_STALE;
        }
        if (c == 0)
                return 0;
        if ((r = mcs_view_holder(reg->ops, reg->b, &conflict, &holder, e)) < 0)
                return r;
        r = mcs_fail(e, MCS_E_CONFLICT,
                     "label %s for guest %s (%s) conflicts with label %s held by guest %s (%s) on host %s; "
                     "either guest could read the other's images",
                     a->want->text, a->g->name, a->g->uuid, holder.label, holder.name, holder.uuid, holder.host);
        mcs_record_clear(&holder);
        return r;
}

static int new_record(mcs_registry *reg, const struct replace_args *a, const mcs_record *old, mcs_record *rec,
                      mcs_err *e) {
        *rec = (mcs_record){0};
        snprintf(rec->uuid, sizeof rec->uuid, "%s", old->uuid);
        rec->name = strdup(a->g->name);
        rec->label = strdup(a->want->text);
        rec->host = strdup(reg->host);
        rec->kind = a->g->kind;
        rec->state = MCS_STATE_RESERVED;
        rec->created_us = rec->updated_us = mcs_registry_now_us();
        /* The backend's create numbers it, past every earlier record of the
         * UUID: a holder of the old generation finds it changed. */
        rec->generation = 0;
        if (!rec->name || !rec->label || !rec->host) {
                mcs_record_clear(rec);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        return 0;
}

/* After the old record went: the new one, else the old one back. */
static int create_or_put_back(mcs_registry *reg, const struct replace_args *a, const mcs_record *old,
                              const mcs_catset *own, mcs_err *e) {
        mcs_record rec;
        mcs_err back = {0};
        int r = mcs_view_sync(&reg->view, reg->ops, reg->b, e);
        /* The backends guard against a stale view, not against conflicts:
         * the view, now without the old label, is asked again. */
        if (r >= 0 && mcs_alloc_check(reg->view.alloc, &a->want->range.high.cats, NULL) < 0)
                r = mcs_fail(e, MCS_E_CONFLICT, "label %s for guest %s (%s) conflicts with a label reserved meanwhile",
                             a->want->text, old->name, old->uuid);
        if (r >= 0 && (r = new_record(reg, a, old, &rec, e)) == 0) {
                r = reg->ops->create(reg->b, &rec, &a->want->range.high.cats, &reg->view.at, e);
                if (r == 0) {
                        if (a->out)
                                *a->out = rec;
                        else
                                mcs_record_clear(&rec);
                        return 0;
                }
                mcs_record_clear(&rec);
        }
        /* The view may have read rows a rollback takes back. */
        mcs_view_drop(&reg->view);
        int rb = mcs_view_sync(&reg->view, reg->ops, reg->b, &back);
        if (rb >= 0) {
                /* The old record again, under a generation of its own. */
                mcs_record again;
                if ((rb = mcs_record_copy(&again, old, &back)) == 0) {
                        again.generation = 0;
                        rb = reg->ops->create(reg->b, &again, own, &reg->view.at, &back);
                        mcs_record_clear(&again);
                }
        }
        mcs_view_drop(&reg->view);
        if (rb < 0)
                return mcs_fail(e, MCS_E_IO, "guest %s (%s): its label %s was released to reserve %s, which failed "
                                "(%s), and could not be reserved again: %s", old->name, old->uuid, old->label,
                                a->want->text, e && e->msg[0] ? e->msg : "?", back.msg);
        /* Put back as it was: a stale view (others wrote meanwhile) tries
         * the whole replace again from the read, as any write does. */
        return r;
}

static int do_replace(mcs_registry *reg, void *arg, mcs_err *e) {
        struct replace_args *a = arg;
        mcs_record old;
        mcs_range range;
        int r = reg->ops->get(reg->b, a->g->uuid, &old, e);
        if (r < 0)
                return r;
        if ((r = mcs_registry_check_unchanged(&old, a->if_host, a->if_generation, "replaced", e)) < 0)
                goto out;
        if (!strcmp(old.label, a->want->text)) {
                if (a->out) {
                        *a->out = old;
                        return 0;
                }
                goto out;
        }
        if (mcs_range_parse(old.label, &range, NULL) < 0) {
                r = mcs_fail(e, MCS_E_SCHEMA, "guest %s (%s): its stored label %s does not parse", old.name, old.uuid,
                             old.label);
                goto out;
        }
        if ((r = check_free(reg, a, &range.high.cats, e)) < 0)
                goto out;
        /* Conditional on the generation read: a change since refuses, and
         * the write is tried again from the read. */
        if ((r = reg->ops->remove(reg->b, old.uuid, old.host, old.generation, NULL, e)) < 0) {
                if (r == -(int) MCS_E_CHANGED || r == -(int) MCS_E_NOTFOUND)
                        r = a->if_generation ? r : -(int) MCS_E_STALE;
                goto out;
        }
        r = create_or_put_back(reg, a, &old, &range.high.cats, e);
out:
        mcs_record_clear(&old);
        return r;
}

int mcs_registry_replace_label(mcs_registry *reg, const mcs_guest *g, const char *label, const char *if_host,
                               uint64_t if_generation, mcs_record *out, mcs_err *e) {
        char uuid[MCS_UUID_STRLEN + 1];
        mcs_guest c;
        int r;
        _cleanup_free_ mcs_label *l = malloc(sizeof *l);

        if (!l)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        if ((r = mcs_registry_check_guest(g, uuid, &c, e)) < 0 || (r = mcs_registry_parse_label(label, l, e)) < 0 ||
            (if_host && (r = mcs_registry_check_text("host id", if_host, MCS_HOST_MAX, false, e)) < 0))
                return r;
        if (if_generation > INT64_MAX)
                return mcs_fail(e, MCS_E_INVALID, "generation %llu out of range", (unsigned long long) if_generation);
        struct replace_args a = {&c, l, if_host, if_generation, out};
        return mcs_registry_write(reg, do_replace, &a, e);
}

const char *mcs_registry_host(const mcs_registry *reg) {
        return reg->host;
}

/* ---- a guest migrating away ---- */

struct migrating_args {
        const char *uuid;
        uint64_t generation;
        mcs_record *out;
};

static int do_set_migrating(mcs_registry *reg, void *arg, mcs_err *e) {
        struct migrating_args *a = arg;
        mcs_record rec;
        int r = reg->ops->get(reg->b, a->uuid, &rec, e);
        if (r < 0)
                return r;
        if ((r = mcs_registry_check_unchanged(&rec, NULL, a->generation, "marked migrating", e)) < 0)
                goto out;
        if (rec.state == MCS_STATE_RESERVED) {
                r = mcs_fail(e, MCS_E_INVALID, "guest %s (%s) does not run (reserved on host %s): nothing migrates",
                             rec.name, rec.uuid, rec.host);
                goto out;
        }
        if (rec.state != MCS_STATE_MIGRATING) {
                uint64_t read = rec.generation;
                rec.state = MCS_STATE_MIGRATING;
                rec.updated_us = mcs_registry_now_us();
                rec.generation = read + 1;
                if ((r = reg->ops->update(reg->b, &rec, read, e)) < 0) {
                        /* Changed since the get: read again, unless the caller asked for that generation. */
                        if (r == -(int) MCS_E_CHANGED && !a->generation)
                                r = -(int) MCS_E_STALE;
                        goto out;
                }
        }
        if (a->out) {
                *a->out = rec;
                return 0;
        }
out:
        mcs_record_clear(&rec);
        return r;
}

int mcs_registry_set_migrating(mcs_registry *reg, const char *uuid, uint64_t generation, mcs_record *out,
                               mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int r = mcs_uuid_canonical(uuid, u, e);
        if (r < 0)
                return r;
        if (generation > INT64_MAX)
                return mcs_fail(e, MCS_E_INVALID, "generation %llu out of range", (unsigned long long) generation);
        struct migrating_args a = {u, generation, out};
        return mcs_registry_write(reg, do_set_migrating, &a, e);
}
