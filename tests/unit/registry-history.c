/* History queries, the same checks for every backend (registry-api.h):
 * newest first, filters (guest, overlapping label, host, time), pages,
 * and who asked for each change. */
#include "registry-api.h"

#include <stdio.h>
#include <string.h>

#include "test-util.h"

static const registry_api_backend *B;

static mcs_guest static_guest(const char *uuid, const char *name) {
        return (mcs_guest){.uuid = uuid, .name = name, .kind = MCS_KIND_STATIC};
}

static void query(mcs_registry *r, const mcs_history_query *q, mcs_history_list *out, uint64_t *next) {
        mcs_err e = {0};
        ck_assert_ok(mcs_registry_history_query(r, q, out, next, &e), &e);
}

/* The rows as "op uuid-digit" words, newest first: "reserve 3 release 2 ...". */
static void rows_are(const mcs_history_list *l, const char *want) {
        char got[512] = "";
        for (size_t i = 0; i < l->n; i++) {
                size_t n = strlen(got);
                snprintf(got + n, sizeof got - n, "%s%s %c", i ? " " : "", mcs_history_op_name(l->v[i].op),
                         l->v[i].rec.uuid[0]);
                if (i)
                        ck_assert_msg(l->v[i].seq < l->v[i - 1].seq, "not newest first: %s", got);
        }
        ck_assert_msg(strcmp(got, want) == 0, "history is '%s', wanted '%s'", got, want);
}

static size_t rows(mcs_registry *r, mcs_history_query q, const char *want) {
        mcs_history_list l;
        uint64_t next = 1;
        query(r, &q, &l, &next);
        rows_are(&l, want);
        ck_assert_uint_eq(next, 0); /* one page holds them all */
        size_t n = l.n;
        mcs_history_list_clear(&l);
        return n;
}

/* Six changes on two hosts: U1 holds s0:c2,c3 (asked by uid 1234, pid
 * 5678), runs, is released (uid 0, pid 42); U2 holds the range s0:c1.c5
 * on host-b; U3 holds s0:c7,c8. */
static void reserve(mcs_registry *r, const mcs_guest *g, const char *label) {
        mcs_record rec;
        mcs_err e = {0};
        ck_assert_ok(mcs_registry_reserve_label(r, g, label, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
}

static void six_changes(mcs_registry *a, mcs_registry *b) {
        mcs_guest g1 = static_guest(U1, "one"), g2 = static_guest(U2, "two"), g3 = static_guest(U3, "three");
        mcs_actor asked = {.known = true, .uid = 1234, .pid = 5678}, root = {.known = true, .uid = 0, .pid = 42};
        mcs_err e = {0};
        mcs_registry_set_actor(a, &asked);
        reserve(a, &g1, "s0:c2,c3");
        mcs_registry_set_actor(a, NULL);
        ck_assert_ok(mcs_registry_set_state(a, U1, MCS_STATE_RUNNING, NULL, &e), &e);
        mcs_registry_set_actor(a, &root);
        ck_assert_ok(mcs_registry_release(a, U1, NULL, &e), &e);
        mcs_registry_set_actor(a, NULL);
        reserve(b, &g2, "s0:c1.c5");
        ck_assert_ok(mcs_registry_release(b, U2, NULL, &e), &e);
        reserve(a, &g3, "s0:c7,c8");
}

START_TEST(history_newest_first_with_filters) {
        mcs_registry *a = B->open("host-a", "c0.c1023"), *b = B->open("host-b", "c0.c1023");
        mcs_history_list l;
        mcs_err e = {0};
        uint64_t first = 1;
        six_changes(a, b);
        ck_assert_ok(mcs_registry_history_start(b, &first, &e), &e);
        ck_assert_uint_eq(first, 0); /* whole */

        query(b, &(mcs_history_query){0}, &l, NULL);
        rows_are(&l, "reserve 3 release 2 reserve 2 release 1 state 1 reserve 1");
        /* Who asked: the control socket's peer, or nobody (mcsd's own change). */
        ck_assert(!l.v[0].who.known);
        ck_assert(l.v[3].who.known);
        ck_assert_uint_eq(l.v[3].who.uid, 0);
        ck_assert_int_eq(l.v[3].who.pid, 42);
        ck_assert(!l.v[4].who.known);
        ck_assert(l.v[5].who.known);
        ck_assert_uint_eq(l.v[5].who.uid, 1234);
        ck_assert_int_eq(l.v[5].who.pid, 5678);
        ck_assert_str_eq(l.v[5].rec.name, "one");
        ck_assert_str_eq(l.v[5].rec.label, "s0:c2,c3");
        ck_assert_str_eq(l.v[5].rec.host, "host-a");
        ck_assert_str_eq(l.v[1].rec.host, "host-b");
        ck_assert_int_eq(l.v[4].rec.state, MCS_STATE_RUNNING);
        int64_t at_reserve2 = l.v[2].at_us, at_release1 = l.v[3].at_us;
        ck_assert_int_lt(at_release1, at_reserve2);
        mcs_history_list_clear(&l);

        /* A label finds every guest whose label contains it or lies in it. */
        rows(a, (mcs_history_query){.label = "s0:c1.c5"}, "release 2 reserve 2 release 1 state 1 reserve 1");
        rows(a, (mcs_history_query){.label = "s0:c2,c3"}, "release 2 reserve 2 release 1 state 1 reserve 1");
        rows(a, (mcs_history_query){.label = "s0:c3,c4"}, "release 2 reserve 2"); /* only the range holds it */
        rows(a, (mcs_history_query){.label = "s0:c5"}, "release 2 reserve 2");
        rows(a, (mcs_history_query){.label = "s0:c8"}, "reserve 3");
        rows(a, (mcs_history_query){.label = "s0:c9,c10"}, "");
        rows(a, (mcs_history_query){.uuid = "11111111-1111-1111-1111-111111111111"}, "release 1 state 1 reserve 1");
        rows(a, (mcs_history_query){.host = "host-b"}, "release 2 reserve 2");
        rows(a, (mcs_history_query){.since_us = at_reserve2}, "reserve 3 release 2 reserve 2");
        rows(a, (mcs_history_query){.until_us = at_release1}, "release 1 state 1 reserve 1");
        rows(a, (mcs_history_query){.since_us = at_release1, .until_us = at_reserve2, .label = "s0:c1.c5"},
             "reserve 2 release 1");
        rows(a, (mcs_history_query){.label = "s0:c2,c3", .host = "host-a", .uuid = U2}, "");
        mcs_registry_close(b);
        mcs_registry_close(a);
}
END_TEST

START_TEST(history_pages_go_back_without_gaps) {
        mcs_registry *a = B->open("host-a", "c0.c1023"), *b = B->open("host-b", "c0.c1023");
        mcs_history_list l;
        uint64_t next = 0;
        char all[512] = "";
        six_changes(a, b);

        /* Pages of 4, then of 2: the same rows as one page, in order. */
        query(a, &(mcs_history_query){.limit = 4}, &l, &next);
        rows_are(&l, "reserve 3 release 2 reserve 2 release 1");
        ck_assert_uint_eq(next, l.v[3].seq);
        mcs_history_list_clear(&l);
        query(a, &(mcs_history_query){.limit = 4, .before = next}, &l, &next);
        rows_are(&l, "state 1 reserve 1");
        ck_assert_uint_eq(next, 0);
        mcs_history_list_clear(&l);

        for (int page = 0; page < 3; page++) {
                query(a, &(mcs_history_query){.limit = 2, .before = next}, &l, &next);
                ck_assert_uint_eq(l.n, 2);
                for (size_t i = 0; i < l.n; i++) {
                        size_t n = strlen(all);
                        snprintf(all + n, sizeof all - n, "%s%s %c", *all ? " " : "",
                                 mcs_history_op_name(l.v[i].op), l.v[i].rec.uuid[0]);
                }
                mcs_history_list_clear(&l);
                ck_assert_msg((page == 2) == (next == 0), "page %d: next %llu", page, (unsigned long long) next);
        }
        ck_assert_str_eq(all, "reserve 3 release 2 reserve 2 release 1 state 1 reserve 1");

        /* Filtered pages: the guests that held a label overlapping s0:c2,c3. */
        query(a, &(mcs_history_query){.label = "s0:c2,c3", .limit = 3}, &l, &next);
        rows_are(&l, "release 2 reserve 2 release 1");
        mcs_history_list_clear(&l);
        query(a, &(mcs_history_query){.label = "s0:c2,c3", .limit = 3, .before = next}, &l, &next);
        rows_are(&l, "state 1 reserve 1");
        ck_assert_uint_eq(next, 0);
        mcs_history_list_clear(&l);

        /* The default page, and the largest. */
        query(a, &(mcs_history_query){.limit = MCS_HISTORY_PAGE_MAX}, &l, &next);
        ck_assert_uint_eq(l.n, 6);
        mcs_history_list_clear(&l);
        mcs_registry_close(b);
        mcs_registry_close(a);
}
END_TEST

START_TEST(history_query_refuses_bad_arguments) {
        mcs_registry *a = B->open("host-a", "c0.c1023");
        mcs_history_list l;
        mcs_err e = {0};
        ck_assert_fails(mcs_registry_history_query(a, &(mcs_history_query){.limit = MCS_HISTORY_PAGE_MAX + 1}, &l,
                                                   NULL, &e),
                        &e, MCS_E_INVALID, "at most 1000 entries");
        ck_assert_fails(mcs_registry_history_query(a, &(mcs_history_query){.label = "s0"}, &l, NULL, &e), &e,
                        MCS_E_INVALID, "has no category");
        ck_assert_fails(mcs_registry_history_query(a, &(mcs_history_query){.label = "s0:c9,c2x"}, &l, NULL, &e), &e,
                        MCS_E_INVALID, "");
        ck_assert_fails(mcs_registry_history_query(a, &(mcs_history_query){.uuid = "not-a-uuid"}, &l, NULL, &e), &e,
                        MCS_E_INVALID, "");
        ck_assert_fails(mcs_registry_history_query(a, &(mcs_history_query){.host = "a\nb"}, &l, NULL, &e), &e,
                        MCS_E_INVALID, "host id");
        ck_assert_fails(mcs_registry_history_query(a, &(mcs_history_query){.since_us = 20, .until_us = 10}, &l,
                                                   NULL, &e),
                        &e, MCS_E_INVALID, "ends before it begins");
        mcs_registry_close(a);
}
END_TEST

START_TEST(history_times_parse_strictly) {
        const int64_t now = 1765000000LL * 1000000; /* 2025-12-06T05:46:40Z */
        int64_t t;
        mcs_err e = {0};
        ck_assert_ok(mcs_history_parse_time("2026-12-01T10:00:00Z", now, &t, &e), &e);
        ck_assert_int_eq(t, 1796119200LL * 1000000);
        ck_assert_ok(mcs_history_parse_time("2026-12-01 10:00", now, &t, &e), &e);
        ck_assert_int_eq(t, 1796119200LL * 1000000);
        ck_assert_ok(mcs_history_parse_time("2026-12-01T10:00Z", now, &t, &e), &e);
        ck_assert_int_eq(t, 1796119200LL * 1000000);
        ck_assert_ok(mcs_history_parse_time("2026-12-01", now, &t, &e), &e);
        ck_assert_int_eq(t, 1796083200LL * 1000000);
        ck_assert_ok(mcs_history_parse_time("2h", now, &t, &e), &e);
        ck_assert_int_eq(t, now - 7200LL * 1000000);
        ck_assert_ok(mcs_history_parse_time("3d", now, &t, &e), &e);
        ck_assert_int_eq(t, now - 3 * 86400LL * 1000000);
        ck_assert_ok(mcs_history_parse_time("90m", now, &t, &e), &e);
        ck_assert_int_eq(t, now - 5400LL * 1000000);
        static const char *const bad[] = {"", "yesterday", "2026-02-30", "2026-13-01", "2026-12-01T25:00",
                                          "2026-12-01T10:00:61", "2026-12-1", "+2026-12-01", "2026-12-01Z",
                                          "2026-12-01 10:00:00 ", "-2h", "2x", "h", "2 h", "99999999999d",
                                          "1969-12-31"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                e = (mcs_err){0};
                ck_assert_msg(mcs_history_parse_time(bad[i], now, &t, &e) == -(int) MCS_E_INVALID,
                              "'%s' parsed as a time", bad[i]);
                ck_assert_msg(strstr(e.msg, "is not a time"), "'%s': %s", bad[i], e.msg);
        }
}
END_TEST

void registry_history_add(TCase *tc, const registry_api_backend *b) {
        B = b;
        tcase_add_test(tc, history_newest_first_with_filters);
        tcase_add_test(tc, history_pages_go_back_without_gaps);
        tcase_add_test(tc, history_query_refuses_bad_arguments);
        tcase_add_test(tc, history_times_parse_strictly);
}
