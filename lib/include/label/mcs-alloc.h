/* The pair allocator: which category pairs are free, given every label held
 * in the cluster, and a uniform draw among them.
 *
 * It tracks all pairs of c0..c1023 (523,776) whatever the pool, so held labels
 * outside the pool still block what they must. A pair is unavailable when it
 * is held, lies inside a held set of three or more categories, or contains a
 * held single category. Free pairs sit in a bitmap with a Fenwick tree over
 * the words' counts: a draw is a random rank among the free pairs followed by
 * a select, O(log n) at any occupancy, and an empty pool is known at once. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "mcs-catset.h"
#include "mcs-error.h"

#define MCS_NPAIRS ((uint64_t) MCS_NCATS * (MCS_NCATS - 1) / 2)

typedef struct mcs_alloc mcs_alloc;

typedef struct mcs_alloc_stats {
        uint64_t pool_pairs;     /* pairs whose two categories are in the pool */
        uint64_t free_pairs;     /* of those, pairs that may be handed out */
        uint64_t held_pairs;     /* of those, pairs held as labels */
        uint64_t labels;         /* labels held, of any shape, in or out of the pool */
} mcs_alloc_stats;

/* pool: the categories pairs may be drawn from (at least two).
 * seed: 0 for a kernel-random seed, else a repeatable stream (tests). */
int mcs_alloc_new(const mcs_catset *pool, uint64_t seed, mcs_alloc **out, mcs_err *e);
void mcs_alloc_free(mcs_alloc *a);

/* Draws a uniformly random free pair of the pool, marks it held, returns ci < cj. */
int mcs_alloc_take(mcs_alloc *a, unsigned *ci, unsigned *cj, mcs_err *e);

/* Marks a label's category set held / no longer held. The set must not be
 * empty. add does not check conflicts (a registry may already hold any);
 * call mcs_alloc_check first to refuse them. */
int mcs_alloc_add(mcs_alloc *a, const mcs_catset *set, mcs_err *e);
int mcs_alloc_remove(mcs_alloc *a, const mcs_catset *set, mcs_err *e);

/* 0 when set conflicts with no held label; else -MCS_E_CONFLICT and, when
 * conflict is not NULL, one held set that contains or is contained in it. */
int mcs_alloc_check(const mcs_alloc *a, const mcs_catset *set, mcs_catset *conflict);

void mcs_alloc_stats_get(const mcs_alloc *a, mcs_alloc_stats *st);
const mcs_catset *mcs_alloc_pool(const mcs_alloc *a);
