#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcs-level.h"
#include "mcs-registry.h"
#include "test-util.h"


static mcs_guest guest(const char *uuid, const char *name) {
        return (mcs_guest){.uuid = uuid, .name = name, .kind = MCS_KIND_DYNAMIC};
}

static mcs_guest static_guest(const char *uuid, const char *name) {
        return (mcs_guest){.uuid = uuid, .name = name, .kind = MCS_KIND_STATIC};
}

#define U1 "11111111-1111-1111-1111-111111111111"
#define U2 "22222222-2222-2222-2222-222222222222"
#define U3 "33333333-3333-3333-3333-333333333333"
#define U4 "44444444-4444-4444-4444-444444444444"

static sqlite3 *raw_open(void) {
        sqlite3 *db;
        ck_assert_int_eq(sqlite3_open(test_db_path, &db), SQLITE_OK);
        return db;
}

static int raw_int(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        int v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return v;
}

START_TEST(reserve_is_idempotent_per_uuid) {
        mcs_registry *r = test_open_registry("host-a", "c0.c1023");
        mcs_record rec, again;
        mcs_err e = {0};
        bool created;
        mcs_guest g = guest("AAAAAAAA-bbbb-CCCC-dddd-EEEEEEEEEEEE", "web1");

        ck_assert_str_eq(mcs_registry_backend_name(r), "sqlite");
        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, &created, &e), &e);
        ck_assert(created);
        /* Success leaves the caller's error alone (the lookup before the insert is internal). */
        ck_assert_int_eq(e.code, MCS_OK);
        ck_assert_str_eq(e.msg, "");
        ck_assert_str_eq(rec.uuid, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
        ck_assert_str_eq(rec.name, "web1");
        ck_assert_str_eq(rec.host, "host-a");
        ck_assert_int_eq(rec.kind, MCS_KIND_DYNAMIC);
        ck_assert_int_eq(rec.state, MCS_STATE_RESERVED);
        ck_assert_uint_eq(rec.generation, 1);
        ck_assert_int_gt(rec.created_us, 0);

        /* A pair: "s0:cX,cY" with X < Y. */
        mcs_level l;
        ck_assert_ok(mcs_level_parse(rec.label, &l, &e), &e);
        ck_assert_uint_eq(l.sens, 0);
        ck_assert_uint_eq(mcs_catset_count(&l.cats), 2);

        ck_assert_ok(mcs_registry_reserve(r, &g, &again, &created, &e), &e);
        ck_assert(!created);
        ck_assert_str_eq(again.label, rec.label);
        mcs_record_clear(&again);

        ck_assert_ok(mcs_registry_get(r, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", &again, &e), &e);
        ck_assert_str_eq(again.label, rec.label);
        mcs_record_clear(&again);
        ck_assert_ok(mcs_registry_find_label(r, rec.label, &again, &e), &e);
        ck_assert_str_eq(again.uuid, rec.uuid);
        mcs_record_clear(&again);
        mcs_record_clear(&rec);
        mcs_registry_close(r);
}
END_TEST

START_TEST(bad_arguments_are_refused) {
        mcs_registry *r = test_open_registry("host-a", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest g = guest("not-a-uuid", "x");
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, MCS_E_INVALID,
                        "'not-a-uuid': not a UUID (expected a hex digit at column 1");
        g = guest(U1 "0", "x");
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, MCS_E_INVALID, "extra text at column 37");
        g = guest("11111111_1111-1111-1111-111111111111", "x");
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, MCS_E_INVALID, "'-' at column 9");
        g = guest(U1, "");
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, MCS_E_INVALID, "empty guest name");
        g = guest(U1, "bad\nname");
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, MCS_E_INVALID,
                        "control character at column 4");
        char long_name[300];
        memset(long_name, 'n', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = '\0';
        g = guest(U1, long_name);
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, MCS_E_INVALID, "more than 255");
        g = guest(U1, "ok");
        g.kind = (mcs_kind) 9;
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, MCS_E_INVALID, "unknown reservation kind");
        g = static_guest(U1, "ok");
        ck_assert_fails(mcs_registry_reserve_label(r, &g, "s0:c1,c1024", &rec, NULL, &e), &e, MCS_E_RANGE,
                        "category c1024 out of range c0..c1023, at column 7");
        ck_assert_fails(mcs_registry_reserve_label(r, &g, "s0", &rec, NULL, &e), &e, MCS_E_INVALID,
                        "has no category");
        ck_assert_fails(mcs_registry_set_state(r, U1, (mcs_state) 5, &rec, &e), &e, MCS_E_INVALID, "unknown state");
        /* Nothing above reached the database. */
        mcs_record_list l;
        ck_assert_ok(mcs_registry_list(r, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, 0);
        mcs_registry_close(r);

        ck_assert_str_eq(mcs_registry_default_location(), MCS_CONFIGURED_REGISTRY);

        mcs_registry_config cfg = {.host_id = "has space"};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_fails(mcs_registry_open(test_db_path, &cfg, &r, &e), &e, MCS_E_INVALID, "host id 'has space' has a space");
        cfg.host_id = "h";
        ck_assert_fails(mcs_registry_open("zookeeper:/x", &cfg, &r, &e), &e, MCS_E_INVALID, "'zookeeper': unknown backend");
        mcs_catset_clear(&cfg.pool);
        mcs_catset_add(&cfg.pool, 3);
        ck_assert_fails(mcs_registry_open(test_db_path, &cfg, &r, &e), &e, MCS_E_RANGE, "at least two categories");
}
END_TEST

START_TEST(static_labels_and_conflicts) {
        mcs_registry *r = test_open_registry("host-a", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        bool created;
        mcs_guest a = static_guest(U1, "db-primary"), b = static_guest(U2, "web"), c = static_guest(U3, "batch");

        ck_assert_ok(mcs_registry_reserve_label(r, &a, "s0:c5,c4,c3,c2,c1", &rec, &created, &e), &e);
        ck_assert(created);
        ck_assert_str_eq(rec.label, "s0:c1.c5");
        ck_assert_int_eq(rec.kind, MCS_KIND_STATIC);
        mcs_record_clear(&rec);

        ck_assert_fails(mcs_registry_reserve_label(r, &b, "s0:c2,c3", &rec, NULL, &e), &e, MCS_E_CONFLICT,
                        "label s0:c2,c3 for guest web (" U2 ") is contained in label s0:c1.c5 held by guest "
                        "db-primary (" U1 ") on host host-a");
        ck_assert_fails(mcs_registry_reserve_label(r, &b, "s0:c0.c9", &rec, NULL, &e), &e, MCS_E_CONFLICT,
                        "label s0:c0.c9 for guest web (" U2 ") contains label s0:c1.c5");
        ck_assert_fails(mcs_registry_reserve_label(r, &b, "s0-s0:c1.c5", &rec, NULL, &e), &e, MCS_E_CONFLICT,
                        "has the categories of label s0:c1.c5");
        ck_assert_fails(mcs_registry_reserve_label(r, &b, "s0:c3", &rec, NULL, &e), &e, MCS_E_CONFLICT,
                        "is contained in label s0:c1.c5");
        /* Overlap without containment is isolation: allowed. */
        ck_assert_ok(mcs_registry_reserve_label(r, &b, "s0:c5,c6", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        /* A single category blocks every pair holding it and is blocked by them. */
        ck_assert_fails(mcs_registry_reserve_label(r, &c, "s0:c6", &rec, NULL, &e), &e, MCS_E_CONFLICT,
                        "is contained in label s0:c5,c6 held by guest web");
        ck_assert_ok(mcs_registry_reserve_label(r, &c, "s0:c700", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        mcs_guest d = static_guest(U4, "d");
        ck_assert_fails(mcs_registry_reserve_label(r, &d, "s0:c700,c701", &rec, NULL, &e), &e, MCS_E_CONFLICT,
                        "contains label s0:c700 held by guest batch");

        /* The guest already holds a label: the same one is fine, another is refused. */
        ck_assert_ok(mcs_registry_reserve_label(r, &a, "s0:c1.c5", &rec, &created, &e), &e);
        ck_assert(!created);
        mcs_record_clear(&rec);
        ck_assert_fails(mcs_registry_reserve_label(r, &a, "s0:c800,c801", &rec, NULL, &e), &e, MCS_E_EXISTS,
                        "guest db-primary (" U1 ") already holds label s0:c1.c5 on host host-a");

        /* After release the label is free again. */
        ck_assert_ok(mcs_registry_release(r, U1, &rec, &e), &e);
        ck_assert_str_eq(rec.label, "s0:c1.c5");
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve_label(r, &d, "s0:c2,c3", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_fails(mcs_registry_release(r, U1, &rec, &e), &e, MCS_E_NOTFOUND, "no reservation for " U1);
        mcs_registry_close(r);
}
END_TEST

START_TEST(dynamic_draws_avoid_static_sets) {
        mcs_registry *r = test_open_registry("host-a", "c0.c5");
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest op = static_guest(U1, "operator");
        char uuid[40];

        ck_assert_ok(mcs_registry_reserve_label(r, &op, "s0:c1.c5", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        /* c0..c5 has 15 pairs; the 10 inside c1.c5 are blocked: c0 with each of c1..c5 remain. */
        for (int n = 0; n < 5; n++) {
                snprintf(uuid, sizeof uuid, "00000000-0000-0000-0000-%012d", n);
                mcs_guest g = guest(uuid, "g");
                ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
                ck_assert_msg(strncmp(rec.label, "s0:c0,", 6) == 0, "drew %s", rec.label);
                mcs_record_clear(&rec);
        }
        mcs_guest g = guest(U2, "one-too-many");
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, MCS_E_EXHAUSTED,
                        "c0.c5: 15 pairs, 5 held as pair labels, 10 blocked");
        mcs_alloc_stats st;
        ck_assert_ok(mcs_registry_stats(r, &st, &e), &e);
        ck_assert_uint_eq(st.free_pairs, 0);
        ck_assert_uint_eq(st.labels, 6);
        mcs_registry_close(r);
}
END_TEST

START_TEST(state_list_and_history) {
        mcs_registry *a = test_open_registry("host-a", "c0.c1023"), *b = test_open_registry("host-b", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest g1 = guest(U1, "alpha"), g2 = guest(U2, "beta");
        mcs_guest t = {.uuid = U3, .name = "scratch", .kind = MCS_KIND_TRANSIENT};

        ck_assert_ok(mcs_registry_reserve(a, &g1, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve(b, &g2, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve(b, &t, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);

        /* Started on host-b: the record moves there and its generation goes up. */
        ck_assert_ok(mcs_registry_set_state(b, U1, MCS_STATE_RUNNING, &rec, &e), &e);
        ck_assert_int_eq(rec.state, MCS_STATE_RUNNING);
        ck_assert_str_eq(rec.host, "host-b");
        ck_assert_uint_eq(rec.generation, 2);
        mcs_record_clear(&rec);
        ck_assert_fails(mcs_registry_set_state(a, U4, MCS_STATE_RUNNING, &rec, &e), &e, MCS_E_NOTFOUND, U4);

        mcs_record_list l;
        mcs_filter f = MCS_FILTER_ALL;
        ck_assert_ok(mcs_registry_list(a, &f, &l, &e), &e);
        ck_assert_uint_eq(l.n, 3);
        ck_assert_str_eq(l.v[0].name, "alpha"); /* ordered by name */
        ck_assert_str_eq(l.v[2].name, "scratch");
        mcs_record_list_clear(&l);
        f.host = "host-b";
        f.state = MCS_STATE_RESERVED;
        ck_assert_ok(mcs_registry_list(a, &f, &l, &e), &e);
        ck_assert_uint_eq(l.n, 2);
        mcs_record_list_clear(&l);
        f = MCS_FILTER_ALL;
        f.kind = MCS_KIND_TRANSIENT;
        ck_assert_ok(mcs_registry_list(a, &f, &l, &e), &e);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.v[0].uuid, U3);
        mcs_record_list_clear(&l);
        f = MCS_FILTER_ALL;
        f.name = "beta";
        ck_assert_ok(mcs_registry_list(a, &f, &l, &e), &e);
        ck_assert_uint_eq(l.n, 1);
        mcs_record_list_clear(&l);

        ck_assert_ok(mcs_registry_release(a, U1, NULL, &e), &e);
        mcs_history_list h;
        ck_assert_ok(mcs_registry_history(b, U1, &h, &e), &e);
        ck_assert_uint_eq(h.n, 3);
        ck_assert_int_eq(h.v[0].op, MCS_OP_RESERVE);
        ck_assert_str_eq(h.v[0].rec.host, "host-a");
        ck_assert_int_eq(h.v[1].op, MCS_OP_STATE);
        ck_assert_str_eq(h.v[1].rec.host, "host-b");
        ck_assert_int_eq(h.v[2].op, MCS_OP_RELEASE);
        ck_assert_str_eq(h.v[2].rec.host, "host-b"); /* the record as it was released */
        ck_assert_str_eq(h.v[2].rec.label, h.v[0].rec.label);
        ck_assert_uint_lt(h.v[0].seq, h.v[1].seq);
        ck_assert_int_le(h.v[0].at_us, h.v[2].at_us);
        mcs_history_list_clear(&h);
        ck_assert_ok(mcs_registry_history(b, NULL, &h, &e), &e);
        ck_assert_uint_eq(h.n, 5); /* three reserves, one state change, one release */
        mcs_history_list_clear(&h);

        /* The history refuses to be rewritten, even through plain SQL. */
        sqlite3 *db = raw_open();
        char *msg = NULL;
        ck_assert_int_ne(sqlite3_exec(db, "UPDATE history SET host = 'forged'", NULL, NULL, &msg), SQLITE_OK);
        ck_assert_str_eq(msg, "history is append-only");
        sqlite3_free(msg);
        ck_assert_int_ne(sqlite3_exec(db, "DELETE FROM history", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        mcs_registry_close(a);
        mcs_registry_close(b);
}
END_TEST

START_TEST(two_handles_share_one_file) {
        /* Two "hosts", one file, a pool of 6 pairs: they must never draw the same one. */
        mcs_registry *a = test_open_registry("host-a", "c0.c3"), *b = test_open_registry("host-b", "c0.c3");
        mcs_err e = {0};
        mcs_record rec;
        char uuid[40], labels[6][32];
        for (int n = 0; n < 6; n++) {
                snprintf(uuid, sizeof uuid, "00000000-0000-0000-0000-%012d", n);
                mcs_guest g = guest(uuid, "g");
                ck_assert_ok(mcs_registry_reserve(n % 2 ? b : a, &g, &rec, NULL, &e), &e);
                snprintf(labels[n], sizeof labels[n], "%s", rec.label);
                for (int k = 0; k < n; k++)
                        ck_assert_str_ne(labels[k], labels[n]);
                mcs_record_clear(&rec);
        }
        mcs_guest g = guest(U1, "late");
        ck_assert_fails(mcs_registry_reserve(a, &g, &rec, NULL, &e), &e, MCS_E_EXHAUSTED, "6 pairs");
        ck_assert_fails(mcs_registry_reserve(b, &g, &rec, NULL, &e), &e, MCS_E_EXHAUSTED, "6 pairs");
        /* b releases what a reserved; a sees it at once. */
        ck_assert_ok(mcs_registry_release(b, "00000000-0000-0000-0000-000000000000", NULL, &e), &e);
        ck_assert_ok(mcs_registry_reserve(a, &g, &rec, NULL, &e), &e);
        ck_assert_str_eq(rec.label, labels[0]);
        mcs_record_clear(&rec);
        mcs_registry_close(a);
        mcs_registry_close(b);
}
END_TEST

START_TEST(unique_label_backstops_a_stale_cache) {
        mcs_registry *r = test_open_registry("host-a", "c0.c2");
        mcs_err e = {0};
        mcs_record rec;
        mcs_guest g = guest(U1, "first");
        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);

        /* A writer that bypasses the history (a bug, or a hand edit) takes the other two pairs. */
        sqlite3 *db = raw_open();
        const char *pairs[] = {"s0:c0,c1", "s0:c0,c2", "s0:c1,c2"};
        int n = 0;
        for (int k = 0; k < 3; k++) {
                if (strcmp(pairs[k], rec.label) == 0)
                        continue;
                char *sql = sqlite3_mprintf("INSERT INTO reservations VALUES ('00000000-0000-0000-0000-00000000000%d', "
                                            "'sneaky', %Q, 'dynamic', 'elsewhere', 'reserved', 1, 1, 1)", n++, pairs[k]);
                ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
                sqlite3_free(sql);
        }
        sqlite3_close(db);
        mcs_record_clear(&rec);

        /* The cache still believes two pairs are free; the insert fails, the cache is rebuilt. */
        g = guest(U2, "second");
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, MCS_E_EXHAUSTED, "3 pairs, 3 held");
        mcs_registry_close(r);
}
END_TEST

/* A release acts only on the record its caller read: a record that moved to
 * another host or changed since is kept, and the caller is told what changed. */
START_TEST(conditional_release) {
        mcs_registry *h1 = test_open_registry("h1", "c0.c1023"), *h2 = test_open_registry("h2", "c0.c1023");
        mcs_record rec, now;
        mcs_err e = {0};
        mcs_guest g = guest(U1, "moving");

        ck_assert_ok(mcs_registry_reserve(h1, &g, &rec, NULL, &e), &e);
        ck_assert_uint_eq(rec.generation, 1);
        /* h2 starts the guest meanwhile: the record moves there, generation 2. */
        ck_assert_ok(mcs_registry_set_state(h2, U1, MCS_STATE_RUNNING, &now, &e), &e);
        mcs_record_clear(&now);

        ck_assert_fails(mcs_registry_release_if(h1, U1, "h1", rec.generation, NULL, &e), &e, MCS_E_CHANGED,
                        "guest moving (" U1 "): not released: its record is now on host h2, not h1");
        ck_assert_fails(mcs_registry_release_if(h1, U1, NULL, rec.generation, NULL, &e), &e, MCS_E_CHANGED,
                        "its record changed meanwhile (generation 2, read 1; now");
        ck_assert_fails(mcs_registry_release_if(h1, U1, "h2", 1, NULL, &e), &e, MCS_E_CHANGED, "generation 2, read 1");
        ck_assert_str_eq(e.msg + strlen(e.msg) - strlen("running on host h2)"), "running on host h2)");
        /* The record is intact. */
        ck_assert_ok(mcs_registry_get(h1, U1, &now, &e), &e);
        ck_assert_str_eq(now.label, rec.label);
        ck_assert_str_eq(now.host, "h2");
        ck_assert_uint_eq(now.generation, 2);
        mcs_record_clear(&now);
        mcs_history_list h;
        ck_assert_ok(mcs_registry_history(h1, U1, &h, &e), &e);
        ck_assert_uint_eq(h.n, 2); /* reserve and state: no release */
        mcs_history_list_clear(&h);

        ck_assert_fails(mcs_registry_release_if(h1, U1, "bad host", 2, NULL, &e), &e, MCS_E_INVALID, "has a space");
        ck_assert_fails(mcs_registry_release_if(h1, U2, "h1", 1, NULL, &e), &e, MCS_E_NOTFOUND, U2);

        /* What the caller read now: released, the label free again. */
        ck_assert_ok(mcs_registry_release_if(h1, U1, "h2", 2, &now, &e), &e);
        ck_assert_str_eq(now.label, rec.label);
        mcs_record_clear(&now);
        mcs_guest o = static_guest(U2, "other");
        ck_assert_ok(mcs_registry_reserve_label(h1, &o, rec.label, &now, NULL, &e), &e);
        mcs_record_clear(&now);
        mcs_record_clear(&rec);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

/* A rename reaches the record, once, and only over the generation read. */
START_TEST(rename_record) {
        mcs_registry *r = test_open_registry("h1", "c0.c1023");
        mcs_record rec, now;
        mcs_err e = {0};
        mcs_guest g = guest(U1, "old-name");

        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
        ck_assert_ok(mcs_registry_set_name(r, U1, "new name", rec.generation, &now, &e), &e);
        ck_assert_str_eq(now.name, "new name");
        ck_assert_str_eq(now.label, rec.label);
        ck_assert_uint_eq(now.generation, 2);
        mcs_record_clear(&now);
        ck_assert_fails(mcs_registry_set_name(r, U1, "newer", 1, NULL, &e), &e, MCS_E_CHANGED,
                        "not renamed: its record changed meanwhile");
        ck_assert_fails(mcs_registry_set_name(r, U1, "bad\tname", 0, NULL, &e), &e, MCS_E_INVALID, "control character");
        /* The same name again changes nothing. */
        ck_assert_ok(mcs_registry_set_name(r, U1, "new name", 0, &now, &e), &e);
        ck_assert_uint_eq(now.generation, 2);
        mcs_record_clear(&now);
        mcs_record_list l;
        mcs_filter f = MCS_FILTER_ALL;
        f.name = "new name";
        ck_assert_ok(mcs_registry_list(r, &f, &l, &e), &e);
        ck_assert_uint_eq(l.n, 1);
        mcs_record_list_clear(&l);
        mcs_history_list h;
        ck_assert_ok(mcs_registry_history(r, U1, &h, &e), &e);
        ck_assert_uint_eq(h.n, 2);
        ck_assert_int_eq(h.v[1].op, MCS_OP_STATE);
        ck_assert_str_eq(h.v[1].rec.name, "new name");
        mcs_history_list_clear(&h);
        mcs_record_clear(&rec);
        mcs_registry_close(r);
}
END_TEST

/* Copies src over dst in place, as cp does (same inode, truncated). */
static void copy_over(const char *src, const char *dst) {
        FILE *in = fopen(src, "rb"), *out = fopen(dst, "r+b");
        char buf[8192];
        size_t n;
        ck_assert_ptr_nonnull(in);
        ck_assert_ptr_nonnull(out);
        ck_assert_int_eq(ftruncate(fileno(out), 0), 0);
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
                ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
        fclose(in);
        ck_assert_int_eq(fclose(out), 0);
}

static void copy_to(const char *src, const char *dst) {
        FILE *f = fopen(dst, "wb");
        ck_assert_ptr_nonnull(f);
        fclose(f);
        copy_over(src, dst);
}

/* An older copy of the registry is put back while handles have it open: the
 * history's seq numbers start again below where a handle stood, and other
 * writers' new rows reuse them. The handle must notice and reload. */
START_TEST(older_copy_put_back) {
        mcs_registry *a = test_open_registry("host-a", "c0.c3"), *b = test_open_registry("host-b", "c0.c3");
        mcs_record rec;
        mcs_err e = {0};
        char *old;
        ck_assert_int_ge(asprintf(&old, "%s/old.db", test_dir), 0);

        mcs_guest s0 = static_guest("00000000-0000-0000-0000-000000000000", "s0"),
                  s1 = static_guest("00000000-0000-0000-0000-000000000001", "s1");
        ck_assert_ok(mcs_registry_reserve_label(a, &s0, "s0:c500", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve_label(b, &s1, "s0:c501", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        copy_to(test_db_path, old);

        /* a draws two pairs; then the copy from before them is put back. */
        for (int n = 0; n < 2; n++) {
                char uuid[40];
                snprintf(uuid, sizeof uuid, "10000000-0000-0000-0000-%012d", n);
                mcs_guest g = guest(uuid, "lost");
                ck_assert_ok(mcs_registry_reserve(a, &g, &rec, NULL, &e), &e);
                mcs_record_clear(&rec);
        }
        copy_over(old, test_db_path);

        /* b now blocks every pair holding c2 or c3, in rows with the seq
         * numbers a's lost draws had. */
        const char *labels[] = {"s0:c2", "s0:c3", "s0:c502"};
        for (int n = 0; n < 3; n++) {
                char uuid[40];
                snprintf(uuid, sizeof uuid, "20000000-0000-0000-0000-%012d", n);
                mcs_guest g = static_guest(uuid, "blocker");
                ck_assert_ok(mcs_registry_reserve_label(b, &g, labels[n], &rec, NULL, &e), &e);
                mcs_record_clear(&rec);
        }

        /* a must see all of it: one pair is left, c0,c1. */
        mcs_guest g = guest("30000000-0000-0000-0000-000000000000", "new");
        ck_assert_ok(mcs_registry_reserve(a, &g, &rec, NULL, &e), &e);
        ck_assert_str_eq(rec.label, "s0:c0,c1");
        mcs_record_clear(&rec);
        g = guest("30000000-0000-0000-0000-000000000001", "one-too-many");
        ck_assert_fails(mcs_registry_reserve(a, &g, &rec, NULL, &e), &e, MCS_E_EXHAUSTED, "c0.c3: 6 pairs");
        free(old);
        mcs_registry_close(a);
        mcs_registry_close(b);
}
END_TEST

/* Schema version 1 as released, frozen here: the migration must carry it forward. */
static const char v1_fixture[] =
        "CREATE TABLE reservations (uuid TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, label TEXT NOT NULL "
        "UNIQUE, kind TEXT NOT NULL CHECK (kind IN ('dynamic', 'static', 'transient')), host TEXT NOT NULL, "
        "state TEXT NOT NULL CHECK (state IN ('reserved', 'running')), created_us INTEGER NOT NULL, "
        "updated_us INTEGER NOT NULL, generation INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX reservations_by_name ON reservations (name);"
        "CREATE TABLE history (seq INTEGER PRIMARY KEY, at_us INTEGER NOT NULL, op TEXT NOT NULL "
        "CHECK (op IN ('reserve', 'release', 'state')), uuid TEXT NOT NULL, name TEXT NOT NULL, label TEXT NOT "
        "NULL, kind TEXT NOT NULL, host TEXT NOT NULL, state TEXT NOT NULL, generation INTEGER NOT NULL);"
        "CREATE TRIGGER history_no_update BEFORE UPDATE ON history BEGIN SELECT RAISE(ABORT, 'history is "
        "append-only'); END;"
        "CREATE TRIGGER history_no_delete BEFORE DELETE ON history BEGIN SELECT RAISE(ABORT, 'history is "
        "append-only'); END;"
        "INSERT INTO reservations VALUES ('" U1 "', 'old-guest', 's0:c0,c1', 'dynamic', 'host-old', 'running', "
        "100, 200, 3);"
        "INSERT INTO history (at_us, op, uuid, name, label, kind, host, state, generation) VALUES (100, "
        "'reserve', '" U1 "', 'old-guest', 's0:c0,c1', 'dynamic', 'host-old', 'reserved', 1);"
        "PRAGMA user_version = 1;";

START_TEST(migrates_version_1) {
        sqlite3 *db = raw_open();
        ck_assert_int_eq(sqlite3_exec(db, v1_fixture, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);

        mcs_registry *r = test_open_registry("host-a", "c0.c2");
        mcs_err e = {0};
        mcs_record rec;
        ck_assert_ok(mcs_registry_get(r, U1, &rec, &e), &e);
        ck_assert_str_eq(rec.label, "s0:c0,c1");
        ck_assert_str_eq(rec.host, "host-old");
        ck_assert_int_eq(rec.state, MCS_STATE_RUNNING);
        ck_assert_uint_eq(rec.generation, 3);
        mcs_record_clear(&rec);
        /* The old reservation is honoured: two pairs remain of c0.c2. */
        for (int n = 0; n < 2; n++) {
                char uuid[40];
                snprintf(uuid, sizeof uuid, "00000000-0000-0000-0000-%012d", n);
                mcs_guest g = guest(uuid, "new");
                ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
                ck_assert_str_ne(rec.label, "s0:c0,c1");
                mcs_record_clear(&rec);
        }
        mcs_registry_close(r);

        db = raw_open();
        ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 4);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM meta WHERE key = 'registry_id' AND length(value) = 32"), 1);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM originals"), 0);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM history"), 3);
        sqlite3_close(db);
}
END_TEST

/* Original labels: the first one stays, another guest cannot claim the
 * same file, and any host sees them. */
START_TEST(original_labels) {
        mcs_registry *h1 = test_open_registry("h1", "c0.c1023"), *h2 = test_open_registry("h2", "c0.c1023");
        mcs_original_list l;
        mcs_err e = {0};
        const char *a = "11111111-2222-3333-4444-555555555555", *b = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

        ck_assert_ok(mcs_registry_remember_original(h1, a, "/img/a.qcow2", "system_u:object_r:virt_image_t:s0", &e), &e);
        ck_assert_ok(mcs_registry_remember_original(h1, a, "/img/a.qcow2", "system_u:object_r:svirt_image_t:s0:c1,c2", &e), &e);
        ck_assert_ok(mcs_registry_remember_original(h1, a, "/img/b.raw", "", &e), &e);
        ck_assert_fails(mcs_registry_remember_original(h2, b, "/img/a.qcow2", "x", &e), &e, MCS_E_CONFLICT,
                        "/img/a.qcow2 is already labelled for guest " "11111111-2222-3333-4444-555555555555");
        ck_assert_fails(mcs_registry_remember_original(h1, a, "img/rel", "x", &e), &e, MCS_E_INVALID, "not an absolute path");

        ck_assert_ok(mcs_registry_originals(h2, a, &l, &e), &e);
        ck_assert_uint_eq(l.n, 2);
        ck_assert_str_eq(l.v[0].path, "/img/a.qcow2");
        ck_assert_str_eq(l.v[0].context, "system_u:object_r:virt_image_t:s0");
        ck_assert_str_eq(l.v[0].host, "h1");
        ck_assert_str_eq(l.v[1].context, "");
        mcs_original_list_clear(&l);

        ck_assert_ok(mcs_registry_forget_original(h2, "/img/a.qcow2", &e), &e);
        ck_assert_ok(mcs_registry_originals(h1, a, &l, &e), &e);
        ck_assert_uint_eq(l.n, 1);
        mcs_original_list_clear(&l);
        ck_assert_ok(mcs_registry_remember_original(h2, b, "/img/a.qcow2", "u:r:t:s0", &e), &e);
        ck_assert_ok(mcs_registry_originals(h1, b, &l, &e), &e);
        ck_assert_uint_eq(l.n, 1);
        mcs_original_list_clear(&l);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

START_TEST(refuses_newer_schema_and_foreign_files) {
        mcs_registry_config cfg = {.host_id = "h"};
        mcs_registry *r;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);

        r = test_open_registry("h", "c0.c1023");
        mcs_registry_close(r);
        sqlite3 *db = raw_open();
        ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        ck_assert_fails(mcs_registry_open(test_db_path, &cfg, &r, &e), &e, MCS_E_SCHEMA,
                        "has schema version 99; this mcsd knows versions up to 4: upgrade mcsd");

        FILE *f = fopen(test_db_path, "w");
        for (int i = 0; i < 100; i++)
                fputs("this is not a database\n", f);
        fclose(f);
        ck_assert_fails(mcs_registry_open(test_db_path, &cfg, &r, &e), &e, MCS_E_SCHEMA, "not a database");

        char *missing;
        ck_assert_int_ge(asprintf(&missing, "sqlite:%s/no/such/dir/registry.db", test_dir), 0);
        ck_assert_fails(mcs_registry_open(missing, &cfg, &r, &e), &e, MCS_E_IO, "/no/such/dir/registry.db: open");
        free(missing);
}
END_TEST

/* The default VFS, wrapped to see how sqlite deletes the journal at commit. */
static sqlite3_vfs *real_vfs, recording_vfs;
static int journal_deletes, journal_deletes_synced;

static int recording_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
        (void) vfs;
        size_t n = strlen(name);
        if (n > 8 && !strcmp(name + n - 8, "-journal")) {
                journal_deletes++;
                journal_deletes_synced += sync_dir != 0;
        }
        return real_vfs->xDelete(real_vfs, name, sync_dir);
}

/* A commit deletes its journal and then syncs the directory
 * (synchronous=EXTRA), on a new registry and on an existing one: else a
 * power cut right after an acknowledged commit can undo it. */
START_TEST(commit_syncs_the_directory) {
        mcs_err e = {0};
        mcs_record rec;
        real_vfs = sqlite3_vfs_find(NULL);
        recording_vfs = *real_vfs;
        recording_vfs.zName = "mcs-recording";
        recording_vfs.xDelete = recording_delete;
        ck_assert_int_eq(sqlite3_vfs_register(&recording_vfs, 1), SQLITE_OK);

        for (int round = 0; round < 2; round++) {
                mcs_registry *r = test_open_registry("h", "c0.c1023");
                journal_deletes = journal_deletes_synced = 0;
                char uuid[40];
                snprintf(uuid, sizeof uuid, "00000000-0000-0000-0000-%012d", round);
                mcs_guest g = guest(uuid, "durable");
                ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
                mcs_record_clear(&rec);
                ck_assert_int_ge(journal_deletes, 1);
                ck_assert_int_eq(journal_deletes_synced, journal_deletes);
                mcs_registry_close(r);
        }
        sqlite3_vfs_unregister(&recording_vfs);
}
END_TEST

START_TEST(registry_file_removed_then_back) {
        mcs_registry *r = test_open_registry("host-a", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        char health[2048], *moved;
        mcs_guest g1 = static_guest(U1, "g1"), g2 = static_guest(U2, "g2"), g3 = static_guest(U3, "g3");
        ck_assert_int_ge(asprintf(&moved, "%s.moved", test_dir), 0);

        ck_assert_ok(mcs_registry_reserve_label(r, &g1, "s0:c1,c2", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_uint_eq(mcs_registry_breaks(r, &e), 0);
        ck_assert_ok(mcs_registry_health(r, health, sizeof health, &e), &e);
        ck_assert_msg(strncmp(health, "ok", 2) == 0, "health: %s", health);

        /* The registry's directory is gone: writes fail, health says so. */
        ck_assert_int_eq(rename(test_dir, moved), 0);
        ck_assert_int_eq(mcs_registry_reserve_label(r, &g2, "s0:c3,c4", &rec, NULL, &e), -MCS_E_IO);
        ck_assert_msg(strstr(e.msg, "is gone and cannot be made again"), "message: %s", e.msg);
        ck_assert_int_lt(mcs_registry_health(r, health, sizeof health, &e), 0);
        ck_assert_int_lt(mcs_registry_heartbeat(r, &e), 0);

        /* An empty directory is back: a new registry is made there; the
         * handle notices it is not the one it followed. */
        ck_assert_int_eq(mkdir(test_dir, 0700), 0);
        ck_assert_ok(mcs_registry_reserve_label(r, &g3, "s0:c1,c2", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_uint_eq(mcs_registry_breaks(r, &e), 1);
        ck_assert_ok(mcs_registry_health(r, health, sizeof health, &e), &e);
        ck_assert_msg(strncmp(health, "ok", 2) == 0, "health after: %s", health);
        ck_assert_int_eq(mcs_registry_get(r, U1, &rec, NULL), -MCS_E_NOTFOUND);
        mcs_registry_close(r);

        /* Clean up the moved directory. */
        char *cmd;
        ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", moved), 0);
        ck_assert_int_eq(system(cmd), 0);
        free(cmd);
        free(moved);
}
END_TEST

START_TEST(write_failure_shows_in_health) {
        mcs_registry_config cfg = {.host_id = "host-a", .busy_timeout_ms = 100};
        mcs_registry *r;
        mcs_record rec;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_ok(mcs_registry_open(test_db_path, &cfg, &r, &e), &e);
        char health[2048];
        mcs_guest g1 = static_guest(U1, "g1"), g2 = static_guest(U2, "g2");

        /* Another writer holds the lock beyond the busy timeout. */
        sqlite3 *db = raw_open();
        ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        ck_assert_int_eq(mcs_registry_reserve_label(r, &g1, "s0:c1,c2", &rec, NULL, &e), -MCS_E_BUSY);
        ck_assert_ok(mcs_registry_health(r, health, sizeof health, &e), &e);
        ck_assert_msg(strstr(health, "failing since ") && strstr(health, "locked by another writer"), "health: %s",
                      health);
        /* A refusal is not a storage failure, and does not clear one either. */
        ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        ck_assert_ok(mcs_registry_reserve_label(r, &g1, "s0:c1,c2", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_health(r, health, sizeof health, &e), &e);
        ck_assert_msg(strncmp(health, "ok", 2) == 0, "health after a write: %s", health);
        ck_assert_int_eq(mcs_registry_reserve_label(r, &g2, "s0:c1,c2", &rec, NULL, &e), -MCS_E_CONFLICT);
        ck_assert_ok(mcs_registry_health(r, health, sizeof health, &e), &e);
        ck_assert_msg(strncmp(health, "ok", 2) == 0, "health after a refusal: %s", health);
        mcs_registry_close(r);
}
END_TEST

START_TEST(batch_commits_once_or_not_at_all) {
        mcs_registry *r = test_open_registry("host-a", "c0.c5"), *other = test_open_registry("host-b", "c0.c5");
        mcs_record rec;
        mcs_alloc_stats st;
        mcs_err e = {0};
        char uuid[40];

        /* Rolled back: nothing stays, and the view forgets what it saw. */
        ck_assert(!mcs_registry_in_batch(r));
        ck_assert_ok(mcs_registry_batch_begin(r, &e), &e);
        ck_assert(mcs_registry_in_batch(r)); /* sqlite shares one commit */
        for (int i = 0; i < 10; i++) {
                snprintf(uuid, sizeof uuid, "20000000-0000-0000-0000-%012d", i);
                mcs_guest g = guest(uuid, "b");
                ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
                mcs_record_clear(&rec);
        }
        ck_assert_int_eq(mcs_registry_batch_begin(r, &e), -MCS_E_INVALID);
        ck_assert_ok(mcs_registry_batch_end(r, false, &e), &e);
        ck_assert(!mcs_registry_in_batch(r));
        ck_assert_ok(mcs_registry_stats(r, &st, &e), &e);
        ck_assert_uint_eq(st.labels, 0);
        ck_assert_ok(mcs_registry_stats(other, &st, &e), &e);
        ck_assert_uint_eq(st.labels, 0);

        /* Committed: every pair of c0..c5 (15) in one batch, all distinct;
         * the 16th finds the pool exhausted inside the batch. */
        ck_assert_ok(mcs_registry_batch_begin(r, &e), &e);
        for (int i = 0; i < 15; i++) {
                snprintf(uuid, sizeof uuid, "30000000-0000-0000-0000-%012d", i);
                mcs_guest g = guest(uuid, "c");
                ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
                mcs_record_clear(&rec);
        }
        mcs_guest late = guest("30000000-0000-0000-0000-999999999999", "late");
        ck_assert_int_eq(mcs_registry_reserve(r, &late, &rec, NULL, &e), -MCS_E_EXHAUSTED);
        ck_assert_ok(mcs_registry_batch_end(r, true, &e), &e);
        mcs_record_list l;
        ck_assert_ok(mcs_registry_list(other, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, 15);
        for (size_t i = 0; i < l.n; i++)
                for (size_t j = i + 1; j < l.n; j++)
                        ck_assert_str_ne(l.v[i].label, l.v[j].label);
        mcs_record_list_clear(&l);
        ck_assert_ok(mcs_registry_stats(r, &st, &e), &e);
        ck_assert_uint_eq(st.free_pairs, 0);
        mcs_registry_close(other);
        mcs_registry_close(r);
}
END_TEST

START_TEST(wal_file_is_put_back_to_rollback_journal) {
        sqlite3 *db = raw_open();
        ck_assert_int_eq(sqlite3_exec(db, "PRAGMA journal_mode = WAL; CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        mcs_registry *r = test_open_registry("h", "c0.c1023");
        mcs_registry_close(r);
        db = raw_open();
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_str_eq((const char *) sqlite3_column_text(st, 0), "delete");
        sqlite3_finalize(st);
        sqlite3_close(db);
}
END_TEST

int main(void) {
        Suite *s = suite_create("registry");
        TCase *tc = tcase_create("sqlite");
        tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, reserve_is_idempotent_per_uuid);
        tcase_add_test(tc, bad_arguments_are_refused);
        tcase_add_test(tc, static_labels_and_conflicts);
        tcase_add_test(tc, dynamic_draws_avoid_static_sets);
        tcase_add_test(tc, state_list_and_history);
        tcase_add_test(tc, two_handles_share_one_file);
        tcase_add_test(tc, unique_label_backstops_a_stale_cache);
        tcase_add_test(tc, conditional_release);
        tcase_add_test(tc, rename_record);
        tcase_add_test(tc, older_copy_put_back);
        tcase_add_test(tc, migrates_version_1);
        tcase_add_test(tc, original_labels);
        tcase_add_test(tc, refuses_newer_schema_and_foreign_files);
        tcase_add_test(tc, wal_file_is_put_back_to_rollback_journal);
        tcase_add_test(tc, commit_syncs_the_directory);
        tcase_add_test(tc, registry_file_removed_then_back);
        tcase_add_test(tc, write_failure_shows_in_health);
        tcase_add_test(tc, batch_commits_once_or_not_at_all);
        suite_add_tcase(s, tc);
        return test_run(s);
}
