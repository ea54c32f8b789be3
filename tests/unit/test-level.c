#include "mcs-context.h"
#include "mcs-level.h"
#include "test-util.h"

static void roundtrip(const char *in, const char *canonical) {
        mcs_range r;
        mcs_err e = {0};
        char out[MCS_RANGE_STRMAX];
        ck_assert_ok(mcs_range_parse(in, &r, &e), &e);
        ck_assert_int_ge(mcs_range_format(&r, out, sizeof out), 0);
        ck_assert_str_eq(out, canonical);
        /* The canonical form parses back to the same range. */
        mcs_range again;
        ck_assert_ok(mcs_range_parse(out, &again, &e), &e);
        ck_assert(mcs_range_equal(&r, &again));
}

START_TEST(parse_canonical_forms) {
        roundtrip("s0", "s0");
        roundtrip("s0:c5", "s0:c5");
        roundtrip("s0:c87,c520", "s0:c87,c520");
        roundtrip("s0:c0.c1023", "s0:c0.c1023");
        roundtrip("s0:c1,c3.c7,c9", "s0:c1,c3.c7,c9");
        roundtrip("s0-s0:c0.c1023", "s0-s0:c0.c1023");
        roundtrip("s15:c1023", "s15:c1023");
        /* Sorted, merged, de-duplicated; a run of two stays "cA,cB" as the kernel writes it. */
        roundtrip("s0:c520,c87", "s0:c87,c520");
        roundtrip("s0:c1,c2", "s0:c1,c2");
        roundtrip("s0:c1,c2,c3", "s0:c1.c3");
        roundtrip("s0:c1.c2", "s0:c1,c2");
        roundtrip("s0:c3,c1,c2,c2", "s0:c1.c3");
        roundtrip("s0:c1.c4,c3.c8", "s0:c1.c8");
        roundtrip("s0:c1.c3,c5.c7", "s0:c1.c3,c5.c7");
        roundtrip("s0:c1,c3,c5", "s0:c1,c3,c5");
        roundtrip("s0:c1022,c1023", "s0:c1022,c1023");
        /* A range whose ends are equal is written as one level. */
        roundtrip("s0:c1,c2-s0:c1,c2", "s0:c1,c2");
        roundtrip("s0-s1", "s0-s1");
}
END_TEST

START_TEST(parse_fields) {
        mcs_range r;
        mcs_err e = {0};
        ck_assert_ok(mcs_range_parse("s0-s1:c2,c9", &r, &e), &e);
        ck_assert_uint_eq(r.low.sens, 0);
        ck_assert_uint_eq(r.high.sens, 1);
        ck_assert(mcs_catset_is_empty(&r.low.cats));
        ck_assert_uint_eq(mcs_catset_count(&r.high.cats), 2);
        ck_assert(mcs_catset_has(&r.high.cats, 2) && mcs_catset_has(&r.high.cats, 9));

        mcs_level l;
        ck_assert_ok(mcs_level_parse("s0:c0.c1023", &l, &e), &e);
        ck_assert_uint_eq(mcs_catset_count(&l.cats), 1024);
        mcs_catset pool;
        ck_assert_ok(mcs_catset_parse("c0.c9,c100", &pool, &e), &e);
        ck_assert_uint_eq(mcs_catset_count(&pool), 11);
}
END_TEST

struct bad {
        const char *text, *needle;
        mcs_code code;
};

static const struct bad bad_ranges[] = {
        {"s0:c1024", "category c1024 out of range c0..c1023, at column 4", MCS_E_RANGE},
        {"s0:c99999999999999999999", "out of range c0..c1023, at column 4", MCS_E_RANGE},
        {"s16", "sensitivity s16 out of range s0..s15, at column 1", MCS_E_RANGE},
        {"", "empty label", MCS_E_INVALID},
        {"c1", "expected 's' followed by a number, at column 1", MCS_E_INVALID},
        {"s", "expected a number after 's', at column 2", MCS_E_INVALID},
        {"s0:", "expected 'c' followed by a number, at column 4", MCS_E_INVALID},
        {"s0:c", "expected a number after 'c', at column 5", MCS_E_INVALID},
        {"s0:c1,", "expected 'c' followed by a number, at column 7", MCS_E_INVALID},
        {"s0:c1.", "expected 'c' followed by a number, at column 7", MCS_E_INVALID},
        {"s0:c5.c3", "category range c5.c3 does not go upwards, at column 4", MCS_E_INVALID},
        {"s0:c5.c5", "category range c5.c5 does not go upwards, at column 4", MCS_E_INVALID},
        {"s0:c01", "'c' number with a leading zero, at column 4", MCS_E_INVALID},
        {"s00", "'s' number with a leading zero, at column 1", MCS_E_INVALID},
        {"s0:c1,c2x", "unexpected 'x' after the range, at column 9", MCS_E_INVALID},
        {"s0 - s0:c1", "unexpected white space, at column 3", MCS_E_INVALID},
        {"s0:c1-s0", "the high level does not dominate the low level, at column 7", MCS_E_INVALID},
        {"s1-s0", "the high level does not dominate the low level, at column 4", MCS_E_INVALID},
        {"s0-", "expected 's' followed by a number, at column 4", MCS_E_INVALID},
        {"s0:c1\x01", "unexpected '\\x01' after the range, at column 6", MCS_E_INVALID},
        {"SystemLow", "expected 's' followed by a number, at column 1", MCS_E_INVALID},
        {"s0:c1..c2", "expected 'c' followed by a number, at column 7", MCS_E_INVALID},
        {"s0:c1-s0:c1-s0:c1", "unexpected '-' after the range, at column 12", MCS_E_INVALID},
};

START_TEST(parse_rejections) {
        const struct bad *b = &bad_ranges[_i];
        mcs_range r;
        mcs_err e = {0};
        ck_assert_fails(mcs_range_parse(b->text, &r, &e), &e, b->code, b->needle);
        ck_assert_int_eq(e.code, b->code);
}
END_TEST

START_TEST(level_rejects_range) {
        mcs_level l;
        mcs_err e = {0};
        ck_assert_fails(mcs_level_parse("s0-s0:c1", &l, &e), &e, MCS_E_INVALID,
                        "unexpected '-' after the level, at column 3");
        mcs_catset s;
        ck_assert_fails(mcs_catset_parse("", &s, &e), &e, MCS_E_INVALID, "empty category list");
        ck_assert_fails(mcs_catset_parse("s0:c1", &s, &e), &e, MCS_E_INVALID, "at column 1");
}
END_TEST

START_TEST(long_input_is_quoted_and_cut) {
        char text[4000];
        mcs_range r;
        mcs_err e = {0};
        memset(text, 'x', sizeof text - 1);
        text[sizeof text - 1] = '\0';
        text[0] = 's';
        text[1] = '0';
        ck_assert_fails(mcs_range_parse(text, &r, &e), &e, MCS_E_INVALID, "...': unexpected 'x'");
        ck_assert_int_lt(strlen(e.msg), 400);
}
END_TEST

START_TEST(format_worst_case_fits) {
        mcs_level l = {.sens = MCS_MAX_SENS};
        char buf[MCS_LEVEL_STRMAX];
        for (unsigned c = 1; c < MCS_NCATS; c += 2)
                mcs_catset_add(&l.cats, c);
        int n = mcs_level_format(&l, buf, sizeof buf);
        ck_assert_int_gt(n, 0);
        ck_assert_uint_eq(strlen(buf), (size_t) n);
        mcs_level back;
        mcs_err e = {0};
        ck_assert_ok(mcs_level_parse(buf, &back, &e), &e);
        ck_assert(mcs_level_equal(&l, &back));
        /* A buffer one byte short is reported, not overrun. */
        char small[8];
        ck_assert_int_eq(mcs_level_format(&l, small, sizeof small), -(int) MCS_E_RANGE);
}
END_TEST

static mcs_level L(const char *text) {
        mcs_level l;
        mcs_err e = {0};
        ck_assert_ok(mcs_level_parse(text, &l, &e), &e);
        return l;
}

START_TEST(dominance_table) {
        static const struct {
                const char *a, *b;
                bool a_dom_b, b_dom_a;
        } t[] = {
                {"s0", "s0", true, true},
                {"s0:c1,c2", "s0:c1,c2", true, true},
                {"s0:c1,c2", "s0:c1", true, false},
                {"s0:c1,c2", "s0", true, false},
                {"s0:c1,c2", "s0:c1,c3", false, false},
                {"s0:c1,c2", "s0:c2,c3", false, false},
                {"s0:c0.c1023", "s0:c87,c520", true, false},
                {"s0:c1.c5", "s0:c2,c3", true, false},
                {"s0:c1.c5", "s0:c5,c6", false, false},
                {"s1", "s0", true, false},
                {"s1:c1", "s0:c1,c2", false, false},
                {"s1:c1,c2", "s0:c1", true, false},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
                mcs_level a = L(t[i].a), b = L(t[i].b);
                ck_assert_msg(mcs_level_dominates(&a, &b) == t[i].a_dom_b, "%s dom %s", t[i].a, t[i].b);
                ck_assert_msg(mcs_level_dominates(&b, &a) == t[i].b_dom_a, "%s dom %s", t[i].b, t[i].a);
                ck_assert(mcs_level_equal(&a, &b) == (t[i].a_dom_b && t[i].b_dom_a));
                /* Conflict for isolation: either contains the other, empty sets excepted. */
                bool conflict = !mcs_catset_is_empty(&a.cats) && !mcs_catset_is_empty(&b.cats) &&
                                (mcs_catset_contains(&a.cats, &b.cats) || mcs_catset_contains(&b.cats, &a.cats));
                ck_assert(mcs_catset_conflict(&a.cats, &b.cats) == conflict);
        }
}
END_TEST

START_TEST(context_parse) {
        mcs_context c;
        mcs_err e = {0};
        char out[MCS_RANGE_STRMAX + 3 * MCS_IDENT_MAX];

        ck_assert_ok(mcs_context_parse("system_u:system_r:svirt_t:s0:c87,c520", &c, &e), &e);
        ck_assert_str_eq(c.user, "system_u");
        ck_assert_str_eq(c.role, "system_r");
        ck_assert_str_eq(c.type, "svirt_t");
        ck_assert(c.has_range);
        ck_assert_int_gt(mcs_context_format(&c, out, sizeof out), 0);
        ck_assert_str_eq(out, "system_u:system_r:svirt_t:s0:c87,c520");

        ck_assert_ok(mcs_context_parse("system_u:object_r:svirt_image_t:s0-s0:c3,c2,c1", &c, &e), &e);
        ck_assert_int_gt(mcs_context_format(&c, out, sizeof out), 0);
        ck_assert_str_eq(out, "system_u:object_r:svirt_image_t:s0-s0:c1.c3");

        ck_assert_ok(mcs_context_parse("unconfined_u:unconfined_r:unconfined_t", &c, &e), &e);
        ck_assert(!c.has_range);
        ck_assert_int_gt(mcs_context_format(&c, out, sizeof out), 0);
        ck_assert_str_eq(out, "unconfined_u:unconfined_r:unconfined_t");
}
END_TEST

static const struct bad bad_contexts[] = {
        {"system_u:system_r", "needs user:role:type[:range], found 2 fields", MCS_E_INVALID},
        {"svirt_t", "found 1 field", MCS_E_INVALID},
        {"system_u::svirt_t:s0", "empty role, at column 10", MCS_E_INVALID},
        {":r:t:s0", "empty user, at column 1", MCS_E_INVALID},
        {"u:r::s0", "empty type, at column 5", MCS_E_INVALID},
        {"u:r:t:", "empty label", MCS_E_INVALID},
        {"u:r:t y:s0", "bad character in type, at column 6", MCS_E_INVALID},
        {"system_u:system_r:svirt_t:s0:c1024", "category c1024 out of range c0..c1023, at column 30",
         MCS_E_RANGE},
        {"system_u:system_r:svirt_t:s0:c2.c1", "does not go upwards, at column 30", MCS_E_INVALID},
};

START_TEST(context_rejections) {
        const struct bad *b = &bad_contexts[_i];
        mcs_context c;
        mcs_err e = {0};
        ck_assert_fails(mcs_context_parse(b->text, &c, &e), &e, b->code, b->needle);
}
END_TEST

START_TEST(catset_basics) {
        mcs_catset a, b;
        mcs_catset_clear(&a);
        ck_assert(mcs_catset_is_empty(&a));
        ck_assert_int_eq(mcs_catset_next(&a, 0), -1);
        mcs_catset_add(&a, 0);
        mcs_catset_add(&a, 63);
        mcs_catset_add(&a, 64);
        mcs_catset_add(&a, 1023);
        ck_assert_uint_eq(mcs_catset_count(&a), 4);
        ck_assert_int_eq(mcs_catset_next(&a, 1), 63);
        ck_assert_int_eq(mcs_catset_next(&a, 65), 1023);
        ck_assert_int_eq(mcs_catset_next(&a, 1024), -1);
        ck_assert(!mcs_catset_has(&a, 1024));
        b = a;
        mcs_catset_del(&b, 63);
        ck_assert(mcs_catset_contains(&a, &b));
        ck_assert(!mcs_catset_contains(&b, &a));
        ck_assert(mcs_catset_conflict(&a, &b));
        mcs_catset empty;
        mcs_catset_clear(&empty);
        ck_assert(!mcs_catset_conflict(&a, &empty));
}
END_TEST

int main(void) {
        Suite *s = suite_create("level");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, parse_canonical_forms);
        tcase_add_test(tc, parse_fields);
        tcase_add_loop_test(tc, parse_rejections, 0, (int) (sizeof bad_ranges / sizeof bad_ranges[0]));
        tcase_add_test(tc, level_rejects_range);
        tcase_add_test(tc, long_input_is_quoted_and_cut);
        tcase_add_test(tc, format_worst_case_fits);
        tcase_add_test(tc, dominance_table);
        tcase_add_test(tc, context_parse);
        tcase_add_loop_test(tc, context_rejections, 0, (int) (sizeof bad_contexts / sizeof bad_contexts[0]));
        tcase_add_test(tc, catset_basics);
        suite_add_tcase(s, tc);
        return test_run(s);
}
