#include <stdio.h>

#include "mcs-pair.h"
#include "test-util.h"

static void check_range_bijection(unsigned lo, unsigned hi) {
        mcs_err e = {0};
        uint64_t total = mcs_pair_count(hi - lo + 1), expect = 0, wrong = 0;
        /* Colex order: pairs sorted by (cj, ci) get ranks 0, 1, 2, ...
         * Mismatches are counted and asserted once: a check per pair is slow under valgrind. */
        for (unsigned cj = lo + 1; cj <= hi; cj++)
                for (unsigned ci = lo; ci < cj; ci++) {
                        uint64_t rank = UINT64_MAX;
                        unsigned i = 0, j = 0;
                        if (mcs_pair_rank(lo, hi, ci, cj, &rank, &e) < 0 ||
                            mcs_pair_unrank(lo, hi, rank, &i, &j, &e) < 0 || rank != expect || i != ci || j != cj) {
                                if (!wrong)
                                        fprintf(stderr, "c%u,c%u in c%u.c%u: rank %llu (want %llu), back to c%u,c%u %s\n",
                                                ci, cj, lo, hi, (unsigned long long) rank,
                                                (unsigned long long) expect, i, j, e.msg);
                                wrong++;
                        }
                        expect++;
                }
        ck_assert_msg(wrong == 0, "%llu of %llu pairs of c%u.c%u do not round-trip", (unsigned long long) wrong,
                      (unsigned long long) total, lo, hi);
        ck_assert_uint_eq(expect, total);
}

START_TEST(small_ranges_every_pair) {
        check_range_bijection(0, 1);
        check_range_bijection(0, 9);
        check_range_bijection(5, 20);
        check_range_bijection(1000, 1023);
}
END_TEST

START_TEST(full_range_every_pair) {
        ck_assert_uint_eq(mcs_pair_count(1024), 523776);
        check_range_bijection(0, 1023);
}
END_TEST

START_TEST(full_range_edges) {
        mcs_err e = {0};
        unsigned i, j;
        ck_assert_ok(mcs_pair_unrank(0, 1023, 0, &i, &j, &e), &e);
        ck_assert_uint_eq(i, 0);
        ck_assert_uint_eq(j, 1);
        ck_assert_ok(mcs_pair_unrank(0, 1023, 523775, &i, &j, &e), &e);
        ck_assert_uint_eq(i, 1022);
        ck_assert_uint_eq(j, 1023);
}
END_TEST

START_TEST(rejections) {
        mcs_err e = {0};
        uint64_t rank;
        unsigned i, j;
        ck_assert_fails(mcs_pair_rank(5, 5, 5, 5, &rank, &e), &e, MCS_E_RANGE, "holds no pair");
        ck_assert_fails(mcs_pair_rank(0, 1024, 0, 1, &rank, &e), &e, MCS_E_RANGE, "holds no pair");
        ck_assert_fails(mcs_pair_rank(0, 9, 3, 3, &rank, &e), &e, MCS_E_RANGE, "not a pair");
        ck_assert_fails(mcs_pair_rank(0, 9, 4, 3, &rank, &e), &e, MCS_E_RANGE, "not a pair");
        ck_assert_fails(mcs_pair_rank(2, 9, 1, 3, &rank, &e), &e, MCS_E_RANGE, "in c2.c9");
        ck_assert_fails(mcs_pair_rank(0, 9, 3, 10, &rank, &e), &e, MCS_E_RANGE, "c3,c10");
        ck_assert_fails(mcs_pair_unrank(0, 9, 45, &i, &j, &e), &e, MCS_E_RANGE, "pair rank 45 out of range 0..44");
        ck_assert_fails(mcs_pair_unrank(0, 1023, UINT64_MAX, &i, &j, &e), &e, MCS_E_RANGE, "out of range");
}
END_TEST

int main(void) {
        Suite *s = suite_create("pair");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, small_ranges_every_pair);
        tcase_add_test(tc, full_range_every_pair);
        tcase_add_test(tc, full_range_edges);
        tcase_add_test(tc, rejections);
        suite_add_tcase(s, tc);
        return test_run(s);
}
