/* The bijection between pairs ci < cj of a category range lo..hi and the
 * ranks 0 .. C(n,2)-1, n = hi-lo+1. Colexicographic order:
 * rank = C(j-lo, 2) + (i-lo), so a pair's rank does not depend on hi. */
#pragma once

#include <stdint.h>

#include "mcs-error.h"

/* C(n, 2); inline because the allocator's loops rank pairs by the million. */
static inline uint64_t mcs_pair_count(unsigned n) {
        return (uint64_t) n * (n ? n - 1 : 0) / 2;
}
int mcs_pair_rank(unsigned lo, unsigned hi, unsigned ci, unsigned cj, uint64_t *rank, mcs_err *e);
int mcs_pair_unrank(unsigned lo, unsigned hi, uint64_t rank, unsigned *ci, unsigned *cj, mcs_err *e);
