/* A handle's view of which labels the registry holds: an allocator kept
 * current from the backend's change feed, rebuilt from a scan when the feed
 * cannot go on. Decisions (conflicts, draws) are made against it; the
 * backend's conditional writes refuse any decision the view was too old for. */
#pragma once

#include "backend.h"
#include "mcs-alloc.h"

typedef struct mcs_view {
        mcs_alloc *alloc; /* NULL: rebuild at the next sync */
        mcs_cursor at;    /* the feed position alloc reflects */
        mcs_catset pool;
        uint64_t seed;
        uint64_t breaks; /* times the feed could not go on and the view started again */
} mcs_view;

void mcs_view_init(mcs_view *v, const mcs_catset *pool, uint64_t seed);
void mcs_view_drop(mcs_view *v); /* forget it: the next sync rebuilds */

/* Brings the view up to date with the backend. */
int mcs_view_sync(mcs_view *v, const mcs_backend_ops *ops, mcs_backend *b, mcs_err *e);

/* The record whose label's categories are exactly set (the allocator's
 * answer to a conflict); -MCS_E_STALE when no record has them (the view is
 * behind: sync again). */
int mcs_view_holder(const mcs_backend_ops *ops, mcs_backend *b, const mcs_catset *set, mcs_record *out,
                    mcs_err *e);
