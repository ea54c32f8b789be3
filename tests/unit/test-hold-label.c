/* mcs_guest_hold_label: the one "hold exactly this label" rule, with the
 * judge deciding what happens to a record that holds another label. */
#include <stdio.h>

#include "mcs-hold-label.h"
#include "test-util.h"

#define UA "00000000-0000-4000-8000-00000000000a"
#define UB "00000000-0000-4000-8000-00000000000b"

typedef struct judge_log {
        int verdict; /* what the judge answers */
        int calls;
        bool saw_same;
} judge_log;

static int judge(void *ctx, const mcs_record *cur, bool same, mcs_err *e) {
        judge_log *j = ctx;
        (void) cur;
        j->calls++;
        j->saw_same = same;
        if (j->verdict < 0)
                return mcs_fail(e, MCS_E_CONFLICT, "the judge refuses");
        return j->verdict;
}

static const char *label_of(mcs_registry *r, const char *uuid) {
        static char buf[64];
        mcs_record rec = {0};
        mcs_err e = {0};
        ck_assert_ok(mcs_registry_get(r, uuid, &rec, &e), &e);
        snprintf(buf, sizeof buf, "%s", rec.label);
        mcs_record_clear(&rec);
        return buf;
}

START_TEST(every_path_of_the_rule) {
        mcs_registry *r = test_open_registry("host-a", "c0.c1023");
        mcs_guest a = {.uuid = UA, .name = "a", .kind = MCS_KIND_DYNAMIC};
        mcs_record rec = {0};
        mcs_held held;
        mcs_err e = {0};
        judge_log j = {.verdict = MCS_HOLD_KEEP};

        /* No record: reserved, the judge not asked. */
        ck_assert_ok(mcs_guest_hold_label(r, &a, "s0:c1,c2", judge, &j, &held, &rec, &e), &e);
        ck_assert_int_eq(held, MCS_HELD_RESERVED);
        ck_assert_int_eq(j.calls, 0);
        ck_assert_str_eq(rec.label, "s0:c1,c2");
        mcs_record_clear(&rec);

        /* The same label: already held. */
        ck_assert_ok(mcs_guest_hold_label(r, &a, "s0:c1,c2", judge, &j, &held, &rec, &e), &e);
        ck_assert_int_eq(held, MCS_HELD_ALREADY);
        ck_assert(j.calls == 1 && j.saw_same);
        mcs_record_clear(&rec);

        /* Another label, kept: the record is returned untouched. */
        ck_assert_ok(mcs_guest_hold_label(r, &a, "s0:c3,c4", judge, &j, &held, &rec, &e), &e);
        ck_assert_int_eq(held, MCS_HELD_OTHER);
        ck_assert(!j.saw_same);
        ck_assert_str_eq(rec.label, "s0:c1,c2");
        ck_assert_str_eq(label_of(r, UA), "s0:c1,c2");
        mcs_record_clear(&rec);

        /* The judge refuses: its error, nothing touched. */
        j.verdict = -1;
        ck_assert_fails(mcs_guest_hold_label(r, &a, "s0:c3,c4", judge, &j, &held, &rec, &e), &e, MCS_E_CONFLICT,
                        "the judge refuses");
        ck_assert_str_eq(label_of(r, UA), "s0:c1,c2");

        /* Replaced: the old label gives way in one step. */
        j.verdict = MCS_HOLD_REPLACE;
        ck_assert_ok(mcs_guest_hold_label(r, &a, "s0:c3,c4", judge, &j, &held, &rec, &e), &e);
        ck_assert_int_eq(held, MCS_HELD_REPLACED);
        ck_assert_str_eq(rec.label, "s0:c3,c4");
        ck_assert_str_eq(label_of(r, UA), "s0:c3,c4");
        mcs_record_clear(&rec);

        /* A label another guest's contains is refused, by the registry. */
        mcs_guest b = {.uuid = UB, .name = "b", .kind = MCS_KIND_STATIC};
        ck_assert_fails(mcs_guest_hold_label(r, &b, "s0:c3", judge, &j, &held, &rec, &e), &e, MCS_E_CONFLICT,
                        "guest a");
        /* ... and a replacement that would conflict leaves the old label held. */
        ck_assert_ok(mcs_guest_hold_label(r, &b, "s0:c7,c8", judge, &j, &held, &rec, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_fails(mcs_guest_hold_label(r, &b, "s0:c1.c4", judge, &j, &held, &rec, &e), &e, MCS_E_CONFLICT,
                        "guest a");
        ck_assert_str_eq(label_of(r, UB), "s0:c7,c8");
        mcs_registry_close(r);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("hold-label");
        TCase *tc = tcase_create("rule");
        tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
        tcase_add_test(tc, every_path_of_the_rule);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_run(suite());
}
