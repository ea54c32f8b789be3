#include "mcs-alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcs-grow.h"
#include "mcs-level.h"
#include "mcs-macro.h"
#include "mcs-pair.h"
#include "mcs-rng.h"

#define NWORDS ((MCS_NPAIRS + 63) / 64)
#define FENWICK_SIZE 8192u /* power of two >= NWORDS */

_Static_assert(FENWICK_SIZE >= NWORDS, "Fenwick tree too small");

/* Per pair, only bits, so that a view of a full registry stays small: a pair
 * held twice (a registry may hold anything) counts its extra holds in dups,
 * and the per-pair count of larger sets exists only while one is held. */
typedef struct pair_count {
        uint64_t pair;
        uint32_t extra; /* holds beyond the first */
} pair_count;

struct mcs_alloc {
        mcs_catset pool;
        uint64_t *held;     /* per pair: held as a label of exactly this pair */
        pair_count *dups;   /* pairs held more than once */
        size_t ndups, capdups;
        uint32_t *covered;  /* per pair: held sets of three or more containing it; NULL while none */
        uint64_t *freebits; /* per pair: 1 when in the pool and unavailable() is false */
        uint32_t *tree;     /* Fenwick tree, 1-based, over popcount(freebits[w]) */
        uint32_t cat_ref[MCS_NCATS];    /* held labels containing the category */
        uint32_t cat_single[MCS_NCATS]; /* held labels that are that one category */
        mcs_catset *big;                /* held labels of three or more categories */
        size_t nbig, capbig;
        uint64_t pool_pairs, free_pairs, held_pairs_in_pool, labels;
        mcs_rng rng;
};

/* i < j: the colex rank of mcs_pair_rank over c0..c1023, without its checks. */
static inline uint64_t pair_index(unsigned i, unsigned j) {
        return mcs_pair_count(j) + i;
}

static bool in_pool(const mcs_alloc *a, unsigned i, unsigned j) {
        return mcs_catset_has(&a->pool, i) && mcs_catset_has(&a->pool, j);
}

static void fenwick_add(mcs_alloc *a, size_t word, int32_t delta) {
        for (size_t k = word + 1; k <= FENWICK_SIZE; k += k & -k)
                a->tree[k] = (uint32_t) ((int32_t) a->tree[k] + delta);
}

static void set_free(mcs_alloc *a, uint64_t p, bool is_free) {
        uint64_t bit = UINT64_C(1) << (p % 64);
        if (is_free) {
                a->freebits[p / 64] |= bit;
                a->free_pairs++;
        } else {
                a->freebits[p / 64] &= ~bit;
                a->free_pairs--;
        }
        fenwick_add(a, p / 64, is_free ? 1 : -1);
}

static bool bit_get(const uint64_t *bits, uint64_t p) {
        return bits[p / 64] >> (p % 64) & 1;
}

static bool is_held(const mcs_alloc *a, unsigned i, unsigned j) {
        return bit_get(a->held, pair_index(i, j));
}

/* Held as a pair, inside a held larger set, or containing a held single category. */
static bool unavailable(const mcs_alloc *a, unsigned i, unsigned j) {
        uint64_t p = pair_index(i, j);
        return bit_get(a->held, p) || a->cat_single[i] || a->cat_single[j] || (a->covered && a->covered[p]);
}

/* Brings the pair's free bit in line with what is held. */
static void refresh(mcs_alloc *a, unsigned i, unsigned j) {
        uint64_t p = pair_index(i, j);
        bool want = in_pool(a, i, j) && !unavailable(a, i, j);
        if (want != bit_get(a->freebits, p))
                set_free(a, p, want);
}

static void cover_inc(mcs_alloc *a, unsigned i, unsigned j) {
        a->covered[pair_index(i, j)]++;
        refresh(a, i, j);
}

static void cover_dec(mcs_alloc *a, unsigned i, unsigned j) {
        a->covered[pair_index(i, j)]--;
        refresh(a, i, j);
}

static pair_count *find_dup(mcs_alloc *a, uint64_t p) {
        for (size_t k = 0; k < a->ndups; k++)
                if (a->dups[k].pair == p)
                        return &a->dups[k];
        return NULL;
}

int mcs_alloc_new(const mcs_catset *pool, uint64_t seed, mcs_alloc **out, mcs_err *e) {
        mcs_alloc *a;
        int r;

        if (mcs_catset_count(pool) < 2)
                return mcs_fail(e, MCS_E_RANGE, "the category pool needs at least two categories, it has %u",
                                mcs_catset_count(pool));
        a = calloc(1, sizeof *a);
        if (!a)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory for the allocator");
        a->held = calloc(NWORDS, sizeof *a->held);
        a->freebits = calloc(NWORDS, sizeof *a->freebits);
        a->tree = calloc(FENWICK_SIZE + 1, sizeof *a->tree);
        if (!a->held || !a->freebits || !a->tree) {
                mcs_alloc_free(a);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory for the allocator");
        }
        if ((r = mcs_rng_init(&a->rng, seed, e)) < 0) {
                mcs_alloc_free(a);
                return r;
        }
        a->pool = *pool;
        for (int j = mcs_catset_next(pool, 0); j >= 0; j = mcs_catset_next(pool, (unsigned) j + 1))
                for (int i = mcs_catset_next(pool, 0); i >= 0 && i < j; i = mcs_catset_next(pool, (unsigned) i + 1)) {
                        uint64_t p = pair_index((unsigned) i, (unsigned) j);
                        a->freebits[p / 64] |= UINT64_C(1) << (p % 64);
                }
        /* Linear-time Fenwick build: each node passes its sum to its parent. */
        for (size_t w = 0; w < NWORDS; w++) {
                a->tree[w + 1] += (uint32_t) __builtin_popcountll(a->freebits[w]);
                a->free_pairs += (uint64_t) __builtin_popcountll(a->freebits[w]);
        }
        for (size_t k = 1; k <= FENWICK_SIZE; k++) {
                size_t parent = k + (k & -k);
                if (parent <= FENWICK_SIZE)
                        a->tree[parent] += a->tree[k];
        }
        a->pool_pairs = a->free_pairs;
        *out = a;
        return 0;
}

void mcs_alloc_free(mcs_alloc *a) {
        if (!a)
                return;
        free(a->held);
        free(a->dups);
        free(a->covered);
        free(a->freebits);
        free(a->tree);
        free(a->big);
        free(a);
}

/* Index of the free pair of the given rank among all free pairs. */
static uint64_t select_free(const mcs_alloc *a, uint64_t rank) {
        size_t pos = 0;
        for (size_t step = FENWICK_SIZE; step; step >>= 1)
                if (pos + step <= FENWICK_SIZE && a->tree[pos + step] <= rank) {
                        pos += step;
                        rank -= a->tree[pos];
                }
        uint64_t word = a->freebits[pos];
        while (rank--)
                word &= word - 1;
        return (uint64_t) pos * 64 + (uint64_t) __builtin_ctzll(word);
}

static void describe_pool(const mcs_alloc *a, char *buf, size_t len) {
        if (mcs_catset_format(&a->pool, buf, len) < 0)
                snprintf(buf, len, "(%u categories)", mcs_catset_count(&a->pool));
}

int mcs_alloc_take(mcs_alloc *a, unsigned *ci, unsigned *cj, mcs_err *e) {
        if (a->free_pairs == 0) {
                char pool[MCS_LEVEL_STRMAX];
                describe_pool(a, pool, sizeof pool);
                return mcs_fail(e, MCS_E_EXHAUSTED,
                                "no free category pair left in %s: %llu pairs, %llu held as pair labels, "
                                "%llu blocked by labels of one or of three or more categories",
                                pool, (unsigned long long) a->pool_pairs,
                                (unsigned long long) a->held_pairs_in_pool,
                                (unsigned long long) (a->pool_pairs - a->held_pairs_in_pool));
        }
        uint64_t p = select_free(a, mcs_rng_below(&a->rng, a->free_pairs));
        mcs_pair_unrank(0, MCS_NCATS - 1, p, ci, cj, NULL); /* p < MCS_NPAIRS: cannot fail */
        mcs_catset s = mcs_catset_pair(*ci, *cj);
        return mcs_alloc_add(a, &s, e);
}

/* Calls fn on every pair inside s. */
static void each_pair_in(mcs_alloc *a, const mcs_catset *s, void (*fn)(mcs_alloc *, unsigned, unsigned)) {
        for (int j = mcs_catset_next(s, 0); j >= 0; j = mcs_catset_next(s, (unsigned) j + 1))
                for (int i = mcs_catset_next(s, 0); i >= 0 && i < j; i = mcs_catset_next(s, (unsigned) i + 1))
                        fn(a, (unsigned) i, (unsigned) j);
}

static void each_pair_with(mcs_alloc *a, unsigned k, void (*fn)(mcs_alloc *, unsigned, unsigned)) {
        for (unsigned x = 0; x < MCS_NCATS; x++)
                if (x != k)
                        fn(a, x < k ? x : k, x < k ? k : x);
}

static void first_two(const mcs_catset *s, unsigned *i, unsigned *j) {
        *i = (unsigned) mcs_catset_next(s, 0);
        *j = (unsigned) mcs_catset_next(s, *i + 1);
}

static void count_cats(mcs_alloc *a, const mcs_catset *s, int delta) {
        for (int k = mcs_catset_next(s, 0); k >= 0; k = mcs_catset_next(s, (unsigned) k + 1))
                a->cat_ref[k] = (uint32_t) ((int64_t) a->cat_ref[k] + delta);
}

/* Makes room for one more element in a list of n that holds cap (doubling, from first). */
static int room_for_one(void **v, size_t *cap, size_t n, size_t size, size_t first, mcs_err *e) {
        return mcs_grow(v, cap, n, size, first) < 0 ? mcs_fail(e, MCS_E_NOMEM, "out of memory for held labels") : 0;
}

int mcs_alloc_add(mcs_alloc *a, const mcs_catset *set, mcs_err *e) {
        unsigned n = mcs_catset_count(set), i, j;

        if (n == 0)
                return mcs_fail(e, MCS_E_INVALID, "a label without categories is not tracked");
        if (n == 1) {
                i = (unsigned) mcs_catset_next(set, 0);
                if (a->cat_single[i]++ == 0)
                        each_pair_with(a, i, refresh);
        } else if (n == 2) {
                first_two(set, &i, &j);
                uint64_t p = pair_index(i, j);
                if (bit_get(a->held, p)) {
                        pair_count *d = find_dup(a, p);
                        if (d)
                                d->extra++;
                        else {
                                int r = room_for_one((void **) &a->dups, &a->capdups, a->ndups, sizeof *a->dups, 8, e);
                                if (r < 0)
                                        return r;
                                a->dups[a->ndups++] = (pair_count){.pair = p, .extra = 1};
                        }
                } else {
                        a->held[p / 64] |= UINT64_C(1) << (p % 64);
                        if (in_pool(a, i, j))
                                a->held_pairs_in_pool++;
                        refresh(a, i, j);
                }
        } else {
                if (!a->covered && !(a->covered = calloc(MCS_NPAIRS, sizeof *a->covered)))
                        return mcs_fail(e, MCS_E_NOMEM, "out of memory for held labels");
                int r = room_for_one((void **) &a->big, &a->capbig, a->nbig, sizeof *a->big, 16, e);
                if (r < 0)
                        return r;
                a->big[a->nbig++] = *set;
                each_pair_in(a, set, cover_inc);
        }
        count_cats(a, set, +1);
        a->labels++;
        return 0;
}

int mcs_alloc_remove(mcs_alloc *a, const mcs_catset *set, mcs_err *e) {
        unsigned n = mcs_catset_count(set), i, j;
        char text[MCS_LEVEL_STRMAX];

        if (n == 1) {
                i = (unsigned) mcs_catset_next(set, 0);
                if (a->cat_single[i] == 0)
                        goto not_held;
                if (--a->cat_single[i] == 0)
                        each_pair_with(a, i, refresh);
        } else if (n == 2) {
                first_two(set, &i, &j);
                uint64_t p = pair_index(i, j);
                pair_count *d;
                if (!bit_get(a->held, p))
                        goto not_held;
                if ((d = find_dup(a, p))) {
                        if (--d->extra == 0)
                                *d = a->dups[--a->ndups];
                } else {
                        a->held[p / 64] &= ~(UINT64_C(1) << (p % 64));
                        if (in_pool(a, i, j))
                                a->held_pairs_in_pool--;
                        refresh(a, i, j);
                }
        } else if (n >= 3) {
                size_t k;
                for (k = 0; k < a->nbig && !mcs_catset_equal(&a->big[k], set); k++)
                        ;
                if (k == a->nbig)
                        goto not_held;
                a->big[k] = a->big[--a->nbig];
                each_pair_in(a, set, cover_dec);
                if (a->nbig == 0) { /* every count is back to zero: give the memory back */
                        free(a->covered);
                        a->covered = NULL;
                }
        } else
                goto not_held;
        count_cats(a, set, -1);
        a->labels--;
        return 0;

not_held:
        if (mcs_catset_format(set, text, sizeof text) < 0)
                snprintf(text, sizeof text, "(%u categories)", n);
        return mcs_fail(e, MCS_E_NOTFOUND, "categories %s are not held", text[0] ? text : "(none)");
}

static int conflict_with(mcs_catset *out, const mcs_catset *held) {
        if (out)
                *out = *held;
        return -(int) MCS_E_CONFLICT;
}

static int conflict_single(mcs_catset *out, unsigned k) {
        mcs_catset s;
        mcs_catset_clear(&s);
        mcs_catset_add(&s, k);
        return conflict_with(out, &s);
}

static int conflict_pair(mcs_catset *out, unsigned i, unsigned j) {
        mcs_catset s = mcs_catset_pair(i, j);
        return conflict_with(out, &s);
}

static int conflict_big(const mcs_alloc *a, const mcs_catset *set, mcs_catset *out) {
        for (size_t k = 0; k < a->nbig; k++)
                if (mcs_catset_conflict(&a->big[k], set))
                        return conflict_with(out, &a->big[k]);
        return 0;
}

int mcs_alloc_check(const mcs_alloc *a, const mcs_catset *set, mcs_catset *conflict) {
        unsigned n = mcs_catset_count(set), i, j;

        if (n == 0)
                return 0;
        if (n == 1) {
                unsigned k = (unsigned) mcs_catset_next(set, 0);
                if (!a->cat_ref[k])
                        return 0;
                if (a->cat_single[k])
                        return conflict_single(conflict, k);
                for (unsigned x = 0; x < MCS_NCATS; x++)
                        if (x != k && is_held(a, x < k ? x : k, x < k ? k : x))
                                return conflict_pair(conflict, x < k ? x : k, x < k ? k : x);
                return conflict_big(a, set, conflict);
        }
        if (n == 2) {
                first_two(set, &i, &j);
                if (!unavailable(a, i, j))
                        return 0;
                if (is_held(a, i, j))
                        return conflict_with(conflict, set);
                if (a->cat_single[i])
                        return conflict_single(conflict, i);
                if (a->cat_single[j])
                        return conflict_single(conflict, j);
                return conflict_big(a, set, conflict);
        }
        for (int k = mcs_catset_next(set, 0); k >= 0; k = mcs_catset_next(set, (unsigned) k + 1))
                if (a->cat_single[k])
                        return conflict_single(conflict, (unsigned) k);
        for (int y = mcs_catset_next(set, 0); y >= 0; y = mcs_catset_next(set, (unsigned) y + 1))
                if (a->cat_ref[y])
                        for (int x = mcs_catset_next(set, 0); x >= 0 && x < y; x = mcs_catset_next(set, (unsigned) x + 1))
                                if (is_held(a, (unsigned) x, (unsigned) y))
                                        return conflict_pair(conflict, (unsigned) x, (unsigned) y);
        return conflict_big(a, set, conflict);
}

void mcs_alloc_stats_get(const mcs_alloc *a, mcs_alloc_stats *st) {
        st->pool_pairs = a->pool_pairs;
        st->free_pairs = a->free_pairs;
        st->held_pairs = a->held_pairs_in_pool;
        st->labels = a->labels;
}

const mcs_catset *mcs_alloc_pool(const mcs_alloc *a) {
        return &a->pool;
}
