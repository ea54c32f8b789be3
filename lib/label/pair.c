#include "mcs-pair.h"

#include <math.h>

#include "mcs-catset.h"

static int check_range(unsigned lo, unsigned hi, mcs_err *e) {
        if (hi >= MCS_NCATS || lo >= hi)
                return mcs_fail(e, MCS_E_RANGE, "category range c%u.c%u holds no pair (needs lo < hi <= c%u)",
                                lo, hi, MCS_NCATS - 1);
        return 0;
}

int mcs_pair_rank(unsigned lo, unsigned hi, unsigned ci, unsigned cj, uint64_t *rank, mcs_err *e) {
        int r = check_range(lo, hi, e);
        if (r < 0)
                return r;
        if (ci >= cj || ci < lo || cj > hi)
                return mcs_fail(e, MCS_E_RANGE, "c%u,c%u is not a pair of distinct categories in c%u.c%u",
                                ci, cj, lo, hi);
        *rank = mcs_pair_count(cj - lo) + (ci - lo);
        return 0;
}

int mcs_pair_unrank(unsigned lo, unsigned hi, uint64_t rank, unsigned *ci, unsigned *cj, mcs_err *e) {
        int r = check_range(lo, hi, e);
        if (r < 0)
                return r;
        uint64_t total = mcs_pair_count(hi - lo + 1);
        if (rank >= total)
                return mcs_fail(e, MCS_E_RANGE, "pair rank %llu out of range 0..%llu for c%u.c%u",
                                (unsigned long long) rank, (unsigned long long) (total - 1), lo, hi);
        /* b = largest b with C(b,2) <= rank; the estimate is exact or off by one. */
        unsigned b = (unsigned) ((1.0 + sqrt(1.0 + 8.0 * (double) rank)) / 2.0);
        while (mcs_pair_count(b) > rank)
                b--;
        while (mcs_pair_count(b + 1) <= rank)
                b++;
        *ci = lo + (unsigned) (rank - mcs_pair_count(b));
        *cj = lo + b;
        return 0;
}
