#include "mcs-alloc.h"
#include "mcs-grow.h"
#include "mcs-level.h"
#include "mcs-rng.h"
#include "test-util.h"

static mcs_catset range_set(unsigned lo, unsigned hi) {
        mcs_catset s;
        mcs_catset_clear(&s);
        mcs_catset_add_range(&s, lo, hi);
        return s;
}

static mcs_alloc *new_alloc(unsigned lo, unsigned hi, uint64_t seed) {
        mcs_catset pool = range_set(lo, hi);
        mcs_alloc *a;
        mcs_err e = {0};
        ck_assert_ok(mcs_alloc_new(&pool, seed, &a, &e), &e);
        return a;
}

START_TEST(fill_small_pool_then_exhausted) {
        mcs_alloc *a = new_alloc(0, 9, 1);
        mcs_err e = {0};
        bool seen[10][10] = {{false}};
        unsigned i, j;

        for (int n = 0; n < 45; n++) {
                ck_assert_ok(mcs_alloc_take(a, &i, &j, &e), &e);
                ck_assert_uint_lt(i, j);
                ck_assert_uint_le(j, 9);
                ck_assert_msg(!seen[i][j], "c%u,c%u handed out twice", i, j);
                seen[i][j] = true;
        }
        ck_assert_fails(mcs_alloc_take(a, &i, &j, &e), &e, MCS_E_EXHAUSTED,
                        "no free category pair left in c0.c9: 45 pairs, 45 held as pair labels, 0 blocked");
        mcs_alloc_stats st;
        mcs_alloc_stats_get(a, &st);
        ck_assert_uint_eq(st.free_pairs, 0);
        ck_assert_uint_eq(st.pool_pairs, 45);
        ck_assert_uint_eq(st.labels, 45);

        /* Releasing one pair makes exactly that pair the next draw. */
        mcs_catset p = mcs_catset_pair(3, 7);
        ck_assert_ok(mcs_alloc_remove(a, &p, &e), &e);
        ck_assert_ok(mcs_alloc_take(a, &i, &j, &e), &e);
        ck_assert_uint_eq(i, 3);
        ck_assert_uint_eq(j, 7);
        mcs_alloc_free(a);
}
END_TEST

START_TEST(fill_every_pair_of_c0_c1023) {
        mcs_alloc *a = new_alloc(0, 1023, 7);
        mcs_err e = {0};
        unsigned i, j;
        uint64_t *seen = calloc((MCS_NPAIRS + 63) / 64, sizeof *seen);
        uint64_t twice = 0;
        for (uint64_t n = 0; n < MCS_NPAIRS; n++) {
                if (mcs_alloc_take(a, &i, &j, &e) < 0)
                        ck_abort_msg("draw %llu failed: %s", (unsigned long long) n, e.msg);
                uint64_t p = (uint64_t) j * (j - 1) / 2 + i;
                twice += seen[p / 64] >> (p % 64) & 1;
                seen[p / 64] |= UINT64_C(1) << (p % 64);
        }
        ck_assert_msg(twice == 0, "%llu pairs handed out twice", (unsigned long long) twice);
        ck_assert_fails(mcs_alloc_take(a, &i, &j, &e), &e, MCS_E_EXHAUSTED, "523776 pairs");
        free(seen);
        mcs_alloc_free(a);
}
END_TEST

START_TEST(operator_sets_block_what_they_must) {
        mcs_alloc *a = new_alloc(0, 9, 3);
        mcs_err e = {0};
        unsigned i, j;
        mcs_catset range = range_set(0, 4), single = range_set(7, 7);

        ck_assert_ok(mcs_alloc_add(a, &range, &e), &e);  /* blocks the 10 pairs inside c0..c4 */
        ck_assert_ok(mcs_alloc_add(a, &single, &e), &e); /* blocks the 9 pairs holding c7 */
        mcs_alloc_stats st;
        mcs_alloc_stats_get(a, &st);
        ck_assert_uint_eq(st.free_pairs, 45 - 10 - 9);
        for (int n = 0; n < 26; n++) {
                ck_assert_ok(mcs_alloc_take(a, &i, &j, &e), &e);
                ck_assert_msg(!(j <= 4), "c%u,c%u lies inside c0.c4", i, j);
                ck_assert_msg(i != 7 && j != 7, "c%u,c%u contains c7", i, j);
        }
        ck_assert_fails(mcs_alloc_take(a, &i, &j, &e), &e, MCS_E_EXHAUSTED,
                        "26 held as pair labels, 19 blocked");
        /* Removing the range frees its pairs again. */
        ck_assert_ok(mcs_alloc_remove(a, &range, &e), &e);
        mcs_alloc_stats_get(a, &st);
        ck_assert_uint_eq(st.free_pairs, 10);
        mcs_alloc_free(a);
}
END_TEST

/* A registry may hold the same categories twice, or a pair that a range and
 * a single category also block: each hold counts, and a pair is free only
 * once the last one is gone. */
START_TEST(holds_count_until_the_last_is_released) {
        mcs_alloc *a = new_alloc(0, 9, 4);
        mcs_err e = {0};
        mcs_alloc_stats st;
        mcs_catset p = mcs_catset_pair(1, 2), q = mcs_catset_pair(3, 4), range = range_set(0, 2),
                   single = range_set(1, 1);

        for (int n = 0; n < 3; n++)
                ck_assert_ok(mcs_alloc_add(a, &p, &e), &e);
        ck_assert_ok(mcs_alloc_add(a, &q, &e), &e);
        ck_assert_ok(mcs_alloc_add(a, &q, &e), &e);
        ck_assert_ok(mcs_alloc_add(a, &range, &e), &e);  /* also covers c1,c2 */
        ck_assert_ok(mcs_alloc_add(a, &single, &e), &e); /* also blocks c1,c2 */
        mcs_alloc_stats_get(a, &st);
        ck_assert_uint_eq(st.held_pairs, 2);
        ck_assert_uint_eq(st.labels, 7);
        ck_assert_uint_eq(st.free_pairs, 45 - 3 - 9 + 2 - 1); /* range (3) and c1 (9) share c0,c1 and c1,c2; q */

        ck_assert_ok(mcs_alloc_remove(a, &range, &e), &e);
        ck_assert_ok(mcs_alloc_remove(a, &single, &e), &e);
        for (int n = 0; n < 2; n++) {
                ck_assert_ok(mcs_alloc_remove(a, &p, &e), &e);
                ck_assert_int_eq(mcs_alloc_check(a, &p, NULL), -(int) MCS_E_CONFLICT);
        }
        ck_assert_ok(mcs_alloc_remove(a, &q, &e), &e);
        ck_assert_int_eq(mcs_alloc_check(a, &q, NULL), -(int) MCS_E_CONFLICT);
        mcs_alloc_stats_get(a, &st);
        ck_assert_uint_eq(st.free_pairs, 45 - 2);

        ck_assert_ok(mcs_alloc_remove(a, &p, &e), &e);
        ck_assert_ok(mcs_alloc_remove(a, &q, &e), &e);
        ck_assert_fails(mcs_alloc_remove(a, &p, &e), &e, MCS_E_NOTFOUND, "c1,c2 are not held");
        ck_assert_int_eq(mcs_alloc_check(a, &p, NULL), 0);
        ck_assert_int_eq(mcs_alloc_check(a, &range, NULL), 0);
        mcs_alloc_stats_get(a, &st);
        ck_assert_uint_eq(st.free_pairs, 45);
        ck_assert_uint_eq(st.held_pairs, 0);
        ck_assert_uint_eq(st.labels, 0);
        mcs_alloc_free(a);
}
END_TEST

START_TEST(pool_limits_draws_but_not_blocking) {
        mcs_catset pool;
        mcs_err e = {0};
        mcs_alloc *a;
        unsigned i, j;
        ck_assert_ok(mcs_catset_parse("c10,c20,c30", &pool, &e), &e);
        ck_assert_ok(mcs_alloc_new(&pool, 5, &a, &e), &e);
        for (int n = 0; n < 3; n++) {
                ck_assert_ok(mcs_alloc_take(a, &i, &j, &e), &e);
                ck_assert(mcs_catset_has(&pool, i) && mcs_catset_has(&pool, j));
        }
        ck_assert_fails(mcs_alloc_take(a, &i, &j, &e), &e, MCS_E_EXHAUSTED, "c10,c20,c30: 3 pairs");
        /* A label outside the pool is still known to conflict. */
        mcs_catset outside = mcs_catset_pair(500, 501), conflict;
        ck_assert_ok(mcs_alloc_add(a, &outside, &e), &e);
        ck_assert_int_eq(mcs_alloc_check(a, &outside, &conflict), -(int) MCS_E_CONFLICT);
        ck_assert(mcs_catset_equal(&conflict, &outside));
        mcs_alloc_free(a);

        mcs_catset one = range_set(4, 4);
        ck_assert_fails(mcs_alloc_new(&one, 1, &a, &e), &e, MCS_E_RANGE, "at least two categories, it has 1");
}
END_TEST

START_TEST(remove_and_add_errors) {
        mcs_alloc *a = new_alloc(0, 1023, 9);
        mcs_err e = {0};
        mcs_catset empty, p = mcs_catset_pair(1, 2), big = range_set(1, 5), one = range_set(3, 3);
        mcs_catset_clear(&empty);
        ck_assert_fails(mcs_alloc_add(a, &empty, &e), &e, MCS_E_INVALID, "without categories");
        ck_assert_fails(mcs_alloc_remove(a, &p, &e), &e, MCS_E_NOTFOUND, "c1,c2 are not held");
        ck_assert_fails(mcs_alloc_remove(a, &big, &e), &e, MCS_E_NOTFOUND, "c1.c5 are not held");
        ck_assert_fails(mcs_alloc_remove(a, &one, &e), &e, MCS_E_NOTFOUND, "c3 are not held");
        ck_assert_fails(mcs_alloc_remove(a, &empty, &e), &e, MCS_E_NOTFOUND, "(none)");
        mcs_alloc_free(a);
}
END_TEST

/* Brute force: does s conflict with any of the held sets? */
static bool conflicts_any(const mcs_catset *s, const mcs_catset *held, size_t n) {
        for (size_t k = 0; k < n; k++)
                if (mcs_catset_conflict(s, &held[k]))
                        return true;
        return false;
}

static mcs_catset random_set(mcs_rng *rng) {
        mcs_catset s;
        mcs_catset_clear(&s);
        /* Small category space (c0..c39) so that sets overlap often. */
        switch (mcs_rng_below(rng, 4)) {
        case 0:
                mcs_catset_add(&s, (unsigned) mcs_rng_below(rng, 40));
                break;
        case 1: {
                unsigned lo = (unsigned) mcs_rng_below(rng, 36);
                mcs_catset_add_range(&s, lo, lo + 2 + (unsigned) mcs_rng_below(rng, 3));
                break;
        }
        default:
                for (unsigned n = 2 + (unsigned) mcs_rng_below(rng, 4); mcs_catset_count(&s) < n;)
                        mcs_catset_add(&s, (unsigned) mcs_rng_below(rng, 40));
        }
        return s;
}

START_TEST(property_never_a_conflicting_pair) {
        mcs_rng rng;
        mcs_err e = {0};
        mcs_rng_init(&rng, 1000 + (uint64_t) _i, &e);
        mcs_alloc *a = new_alloc(0, 39, 2000 + (uint64_t) _i);
        mcs_catset held[800];
        size_t nheld = 0;

        /* Operators hold random sets, refused when they conflict, as the registry does. */
        for (int n = 0; n < 30; n++) {
                mcs_catset s = random_set(&rng), c;
                bool expect = conflicts_any(&s, held, nheld);
                int r = mcs_alloc_check(a, &s, &c);
                ck_assert_msg((r < 0) == expect, "check disagrees with brute force");
                if (r < 0) {
                        bool named = false;
                        for (size_t k = 0; k < nheld; k++)
                                named |= mcs_catset_equal(&held[k], &c);
                        ck_assert_msg(named && mcs_catset_conflict(&s, &c), "reported conflict is not held");
                        continue;
                }
                ck_assert_ok(mcs_alloc_add(a, &s, &e), &e);
                held[nheld++] = s;
        }
        /* Every pair drawn conflicts with nothing held before it, until none is left. */
        for (;;) {
                unsigned i, j;
                int r = mcs_alloc_take(a, &i, &j, &e);
                mcs_catset p = mcs_catset_pair(i, j);
                if (r == -(int) MCS_E_EXHAUSTED)
                        break;
                ck_assert_ok(r, &e);
                ck_assert_msg(!conflicts_any(&p, held, nheld), "drew c%u,c%u which conflicts", i, j);
                ck_assert_uint_lt(nheld, sizeof held / sizeof held[0]);
                held[nheld++] = p;
        }
        /* Exhausted means truly nothing: every pair of the pool conflicts with a held set. */
        for (unsigned j = 1; j < 40; j++)
                for (unsigned i = 0; i < j; i++) {
                        mcs_catset p = mcs_catset_pair(i, j);
                        ck_assert(conflicts_any(&p, held, nheld));
                }
        /* Release a random half and check the checker against brute force again. */
        for (size_t k = 0; k < nheld;) {
                if (mcs_rng_below(&rng, 2)) {
                        ck_assert_ok(mcs_alloc_remove(a, &held[k], &e), &e);
                        held[k] = held[--nheld];
                } else
                        k++;
        }
        for (int n = 0; n < 300; n++) {
                mcs_catset s = random_set(&rng);
                ck_assert((mcs_alloc_check(a, &s, NULL) < 0) == conflicts_any(&s, held, nheld));
        }
        mcs_alloc_free(a);
}
END_TEST

START_TEST(draws_are_uniform) {
        /* 40 free pairs, 80,000 draws: chi-square with 39 degrees of freedom.
         * The seed is fixed, so the outcome is repeatable; 72.05 is the 0.1% tail. */
        mcs_alloc *a = new_alloc(0, 9, 4242);
        mcs_err e = {0};
        unsigned count[10][10] = {{0}}, i, j;
        for (unsigned k = 0; k < 5; k++) {
                mcs_catset p = mcs_catset_pair(k, k + 5);
                ck_assert_ok(mcs_alloc_add(a, &p, &e), &e);
        }
        const int draws = 80000;
        for (int n = 0; n < draws; n++) {
                ck_assert_ok(mcs_alloc_take(a, &i, &j, &e), &e);
                ck_assert_uint_ne(j, i + 5);
                count[i][j]++;
                mcs_catset p = mcs_catset_pair(i, j);
                ck_assert_ok(mcs_alloc_remove(a, &p, &e), &e);
        }
        double expect = draws / 40.0, chi2 = 0;
        for (j = 1; j < 10; j++)
                for (i = 0; i < j; i++)
                        if (j != i + 5)
                                chi2 += (count[i][j] - expect) * (count[i][j] - expect) / expect;
        ck_assert_msg(chi2 < 72.05, "chi-square %.1f: draws are not uniform", chi2);
        mcs_alloc_free(a);
}
END_TEST

/* The allocator's lists grow through mcs_grow (as every list of libmcs). */
START_TEST(grow_doubles_and_refuses_overflow) {
        int *v = NULL;
        size_t cap = 0;
        ck_assert_int_eq(mcs_grow((void **) &v, &cap, 0, sizeof *v, 4), 0);
        ck_assert_uint_eq(cap, 4);
        for (int i = 0; i < 4; i++)
                v[i] = i;
        int *before = v;
        ck_assert_int_eq(mcs_grow((void **) &v, &cap, 3, sizeof *v, 4), 0); /* room left: untouched */
        ck_assert_ptr_eq(v, before);
        ck_assert_uint_eq(cap, 4);
        ck_assert_int_eq(mcs_grow((void **) &v, &cap, 4, sizeof *v, 4), 0);
        ck_assert_uint_eq(cap, 8);
        for (int i = 0; i < 4; i++)
                ck_assert_int_eq(v[i], i);
        free(v);

        /* A size that would overflow fails and leaves the array as it was. */
        char *big = malloc(1);
        size_t huge = SIZE_MAX / 4 + 1;
        ck_assert_int_eq(mcs_grow((void **) &big, &huge, huge, 2, 1), -1);
        ck_assert_uint_eq(huge, SIZE_MAX / 4 + 1);
        size_t none = 0;
        ck_assert_int_eq(mcs_grow((void **) &big, &none, 0, SIZE_MAX / 2, 4), -1);
        ck_assert_uint_eq(none, 0);
        free(big);
}
END_TEST

int main(void) {
        Suite *s = suite_create("alloc");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, fill_small_pool_then_exhausted);
        tcase_add_test(tc, fill_every_pair_of_c0_c1023);
        tcase_add_test(tc, operator_sets_block_what_they_must);
        tcase_add_test(tc, holds_count_until_the_last_is_released);
        tcase_add_test(tc, pool_limits_draws_but_not_blocking);
        tcase_add_test(tc, remove_and_add_errors);
        tcase_add_loop_test(tc, property_never_a_conflicting_pair, 0, 20);
        tcase_add_test(tc, draws_are_uniform);
        tcase_add_test(tc, grow_doubles_and_refuses_overflow);
        suite_add_tcase(s, tc);
        return test_run(s);
}
