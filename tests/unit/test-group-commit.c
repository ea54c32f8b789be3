/* mcs_registry_group_write: one set of group-commit rules for every caller,
 * on a backend with shared commits (sqlite) and one without (dir). */
#include <stdio.h>
#include <sqlite3.h>

#include "mcs-group-commit.h"
#include "mcs-level.h"
#include "test-util.h"

#define U(n) "00000000-0000-4000-8000-00000000000" #n

/* What each write of a test does, and what it saw. */
typedef struct plan {
        mcs_registry *r;
        const char *labels[4]; /* reserved for guest U(i) */
        mcs_code fail_at_code[4]; /* 0: reserve; else fail with this code */
        bool ran[4], in_batch[4];
} plan;

static int write_one(void *ctx, size_t i, mcs_err *e) {
        plan *p = ctx;
        static const char *const uuids[] = {U(0), U(1), U(2), U(3)};
        p->ran[i] = true;
        p->in_batch[i] = mcs_registry_in_batch(p->r);
        if (p->fail_at_code[i])
                return mcs_fail(e, p->fail_at_code[i], "write %zu fails", i);
        mcs_guest g = {.uuid = uuids[i], .name = "g", .kind = MCS_KIND_STATIC};
        mcs_record rec = {0};
        int rc = mcs_registry_reserve_label(p->r, &g, p->labels[i], &rec, NULL, e);
        mcs_record_clear(&rec);
        return rc;
}

static bool holds(mcs_registry *r, const char *uuid) {
        mcs_record rec = {0};
        mcs_err e = {0};
        int rc = mcs_registry_get(r, uuid, &rec, &e);
        mcs_record_clear(&rec);
        ck_assert_msg(rc == 0 || rc == -MCS_E_NOTFOUND, "get: %s", e.msg);
        return rc == 0;
}

static char *dir_location;

static void setup(void) {
        test_db_setup();
        ck_assert_int_ge(asprintf(&dir_location, "dir://%s/reg", test_dir), 0);
}

static void teardown(void) {
        free(dir_location);
        test_db_teardown();
}

static mcs_registry *open_dir(void) {
        mcs_registry_config cfg = {.create = true, .host_id = "host-a"};
        mcs_registry *r;
        mcs_err e = {0};
        ck_assert_ok(mcs_catset_parse("c0.c1023", &cfg.pool, &e), &e);
        ck_assert_ok(mcs_registry_open(dir_location, &cfg, &r, &e), &e);
        return r;
}

/* Several writes share one commit; a refusal is that write's own answer. */
START_TEST(several_share_a_commit_and_refusals_stand_alone) {
        plan p = {.r = test_open_registry("host-a", "c0.c1023"), .labels = {"s0:c1,c2", "s0:c1,c2", "s0:c3,c4"}};
        size_t stands = 99;
        mcs_err why = {0};
        ck_assert_ok(mcs_registry_group_write(p.r, 3, write_one, &p, &stands, &why), &why);
        ck_assert_uint_eq(stands, 3);
        for (int i = 0; i < 3; i++)
                ck_assert_msg(p.ran[i] && p.in_batch[i], "write %d ran %d in a batch %d", i, p.ran[i], p.in_batch[i]);
        ck_assert(!mcs_registry_in_batch(p.r));
        ck_assert(holds(p.r, U(0)));
        ck_assert(!holds(p.r, U(1))); /* refused: U(0) holds the label */
        ck_assert(holds(p.r, U(2)));
        mcs_registry_close(p.r);
}
END_TEST

/* One write alone commits itself: no batch is opened for it. */
START_TEST(one_write_commits_itself) {
        plan p = {.r = test_open_registry("host-a", "c0.c1023"), .labels = {"s0:c1,c2"}};
        size_t stands = 99;
        mcs_err why = {0};
        ck_assert_ok(mcs_registry_group_write(p.r, 1, write_one, &p, &stands, &why), &why);
        ck_assert_uint_eq(stands, 1);
        ck_assert(p.ran[0] && !p.in_batch[0]);
        ck_assert(holds(p.r, U(0)));
        mcs_registry_close(p.r);
}
END_TEST

/* In a shared commit a storage failure stores none of the writes, and the
 * writes after it are not run. */
START_TEST(storage_failure_in_a_batch_stores_nothing) {
        plan p = {.r = test_open_registry("host-a", "c0.c1023"),
                  .labels = {"s0:c1,c2", NULL, "s0:c3,c4"},
                  .fail_at_code = {0, MCS_E_IO, 0}};
        size_t stands = 99;
        mcs_err why = {0};
        ck_assert_int_eq(mcs_registry_group_write(p.r, 3, write_one, &p, &stands, &why), -MCS_E_IO);
        ck_assert_uint_eq(stands, 0);
        ck_assert_str_eq(why.msg, "write 1 fails");
        ck_assert(p.ran[0] && p.ran[1] && !p.ran[2]);
        ck_assert(!holds(p.r, U(0))); /* rolled back */
        ck_assert(!mcs_registry_in_batch(p.r));
        mcs_registry_close(p.r);
}
END_TEST

/* A batch that cannot begin for a storage failure (another writer holds
 * the lock past the busy timeout) runs no write. */
START_TEST(batch_that_cannot_begin_runs_nothing) {
        mcs_registry *setup_r = test_open_registry("host-a", "c0.c1023");
        mcs_registry_close(setup_r);
        mcs_registry_config cfg = {.host_id = "host-a", .busy_timeout_ms = 50};
        mcs_err e = {0};
        ck_assert_ok(mcs_catset_parse("c0.c1023", &cfg.pool, &e), &e);
        plan p = {.labels = {"s0:c1,c2", "s0:c3,c4"}};
        ck_assert_ok(mcs_registry_open(test_db_path, &cfg, &p.r, &e), &e);
        sqlite3 *db;
        ck_assert_int_eq(sqlite3_open(test_db_path, &db), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        size_t stands = 99;
        mcs_err why = {0};
        int rc = mcs_registry_group_write(p.r, 2, write_one, &p, &stands, &why);
        ck_assert_msg(rc < 0 && mcs_registry_fault_code((mcs_code) -rc), "rc %d: %s", rc, why.msg);
        ck_assert_uint_eq(stands, 0);
        ck_assert(!p.ran[0] && !p.ran[1]);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        ck_assert(!holds(p.r, U(0)));
        mcs_registry_close(p.r);
}
END_TEST

/* Without shared commits (dir) each write that ran before a storage
 * failure stands; the failing one and those after it do not. */
START_TEST(without_shared_commits_earlier_writes_stand) {
        plan p = {.r = open_dir(), .labels = {"s0:c1,c2", "s0:c3,c4", NULL, "s0:c5,c6"},
                  .fail_at_code = {0, 0, MCS_E_IO, 0}};
        size_t stands = 99;
        mcs_err why = {0};
        ck_assert_int_eq(mcs_registry_group_write(p.r, 4, write_one, &p, &stands, &why), -MCS_E_IO);
        ck_assert_uint_eq(stands, 2);
        ck_assert(p.ran[0] && p.ran[1] && p.ran[2] && !p.ran[3]);
        ck_assert(!p.in_batch[0]);
        ck_assert(holds(p.r, U(0)) && holds(p.r, U(1)) && !holds(p.r, U(3)));
        mcs_registry_close(p.r);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("group-commit");
        TCase *tc = tcase_create("rules");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, several_share_a_commit_and_refusals_stand_alone);
        tcase_add_test(tc, one_write_commits_itself);
        tcase_add_test(tc, storage_failure_in_a_batch_stores_nothing);
        tcase_add_test(tc, batch_that_cannot_begin_runs_nothing);
        tcase_add_test(tc, without_shared_commits_earlier_writes_stand);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_run(suite());
}
