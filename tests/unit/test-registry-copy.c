/* Moving a registry: mcs_registry_copy and mcs_registry_verify_copy,
 * sqlite to sqlite, on real files. */
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#include "mcs-level.h"
#include "mcs-registry.h"
#include "test-util.h"

#define U1 "11111111-1111-1111-1111-111111111111"
#define U2 "22222222-2222-2222-2222-222222222222"
#define U3 "33333333-3333-3333-3333-333333333333"
#define U4 "44444444-4444-4444-4444-444444444444"
#define U5 "55555555-5555-5555-5555-555555555555"

static char *dest_path;

static void setup(void) {
        test_db_setup();
        ck_assert_int_ge(asprintf(&dest_path, "%s/copy.db", test_dir), 0);
}

static void teardown(void) {
        free(dest_path);
        test_db_teardown();
}

static mcs_registry_config config(const char *host) {
        mcs_registry_config cfg = {.create = true, .host_id = host};
        mcs_err e = {0};
        ck_assert_ok(mcs_catset_parse("c0.c1023", &cfg.pool, &e), &e);
        return cfg;
}

static mcs_registry *open_at(const char *path, const char *host) {
        mcs_registry_config cfg = config(host);
        mcs_registry *r;
        mcs_err e = {0};
        ck_assert_ok(mcs_registry_open(path, &cfg, &r, &e), &e);
        return r;
}

static void reserve(mcs_registry *r, const char *uuid, const char *name, mcs_kind kind, const char *label) {
        mcs_guest g = {.uuid = uuid, .name = name, .kind = kind};
        mcs_record rec;
        mcs_err e = {0};
        bool created;
        if (label)
                ck_assert_ok(mcs_registry_reserve_label(r, &g, label, &rec, &created, &e), &e);
        else
                ck_assert_ok(mcs_registry_reserve(r, &g, &rec, &created, &e), &e);
        ck_assert(created);
        mcs_record_clear(&rec);
}

/* A registry with every kind and state, a long history written by two
 * hosts (reserve, rename, state, release) and original labels. */
static void fill_source(void) {
        mcs_registry *a = open_at(test_db_path, "host-a"), *b = open_at(test_db_path, "host-b");
        mcs_record rec;
        mcs_err e = {0};

        reserve(a, U1, "web", MCS_KIND_DYNAMIC, NULL);
        reserve(a, U2, "db", MCS_KIND_STATIC, "s0:c10,c20");
        reserve(b, U3, "scratch", MCS_KIND_TRANSIENT, "s0:c30.c35");
        reserve(a, U4, "gone", MCS_KIND_DYNAMIC, NULL);
        reserve(b, U5, "wide", MCS_KIND_STATIC, "s0-s0:c100,c200");
        for (int i = 0; i < 20; i++) {
                ck_assert_ok(mcs_registry_set_state(i % 2 ? a : b, U1, MCS_STATE_RUNNING, &rec, &e), &e);
                mcs_record_clear(&rec);
                ck_assert_ok(mcs_registry_set_state(i % 2 ? a : b, U1, MCS_STATE_RESERVED, &rec, &e), &e);
                mcs_record_clear(&rec);
        }
        /* Asked through the control socket: who asked is copied too. */
        mcs_registry_set_actor(a, &(mcs_actor){.known = true, .uid = 1000, .pid = 4321});
        ck_assert_ok(mcs_registry_set_name(a, U2, "db-renamed", 0, &rec, &e), &e);
        mcs_registry_set_actor(a, NULL);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_set_state(b, U2, MCS_STATE_RUNNING, &rec, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_set_state(b, U3, MCS_STATE_RUNNING, &rec, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_release(a, U4, NULL, &e), &e);
        /* The same guest again: a second reservation in its history. */
        reserve(a, U4, "gone-again", MCS_KIND_DYNAMIC, NULL);
        ck_assert_ok(mcs_registry_remember_original(a, U1, "/images/web.qcow2", "system_u:object_r:virt_image_t:s0",
                                                    &e), &e);
        ck_assert_ok(mcs_registry_remember_original(b, U2, "/images/db.raw", "", &e), &e);
        ck_assert_ok(mcs_registry_remember_original(b, U2, "/images/db log.raw", "unconfined_u:object_r:user_tmp_t:s0",
                                                    &e), &e);
        mcs_registry_close(a);
        mcs_registry_close(b);
}

/* The test's own comparison through the public reads, independent of the
 * verification in copy.c. */
static void assert_same_registry(const char *x, const char *y) {
        mcs_registry *a = open_at(x, "reader"), *b = open_at(y, "reader");
        mcs_record_list la, lb;
        mcs_history_list ha, hb;
        mcs_original_list oa, ob;
        mcs_err e = {0};

        ck_assert_ok(mcs_registry_list(a, NULL, &la, &e), &e);
        ck_assert_ok(mcs_registry_list(b, NULL, &lb, &e), &e);
        ck_assert_uint_eq(la.n, lb.n);
        for (size_t i = 0; i < la.n; i++) {
                const mcs_record *p = &la.v[i], *q = &lb.v[i];
                ck_assert_str_eq(p->uuid, q->uuid);
                ck_assert_str_eq(p->name, q->name);
                ck_assert_str_eq(p->label, q->label);
                ck_assert_str_eq(p->host, q->host);
                ck_assert_int_eq(p->kind, q->kind);
                ck_assert_int_eq(p->state, q->state);
                ck_assert_int_eq(p->created_us, q->created_us);
                ck_assert_int_eq(p->updated_us, q->updated_us);
                ck_assert_uint_eq(p->generation, q->generation);
        }
        ck_assert_ok(mcs_registry_history(a, NULL, &ha, &e), &e);
        ck_assert_ok(mcs_registry_history(b, NULL, &hb, &e), &e);
        ck_assert_uint_eq(ha.n, hb.n);
        for (size_t i = 0; i < ha.n; i++) {
                const mcs_history_entry *p = &ha.v[i], *q = &hb.v[i];
                ck_assert_int_eq(p->op, q->op);
                ck_assert_int_eq(p->at_us, q->at_us);
                ck_assert_str_eq(p->rec.uuid, q->rec.uuid);
                ck_assert_str_eq(p->rec.name, q->rec.name);
                ck_assert_str_eq(p->rec.label, q->rec.label);
                ck_assert_str_eq(p->rec.host, q->rec.host);
                ck_assert_int_eq(p->rec.kind, q->rec.kind);
                ck_assert_int_eq(p->rec.state, q->rec.state);
                ck_assert_uint_eq(p->rec.generation, q->rec.generation);
        }
        ck_assert_ok(mcs_registry_originals(a, NULL, &oa, &e), &e);
        ck_assert_ok(mcs_registry_originals(b, NULL, &ob, &e), &e);
        ck_assert_uint_eq(oa.n, ob.n);
        for (size_t i = 0; i < oa.n; i++) {
                ck_assert_str_eq(oa.v[i].path, ob.v[i].path);
                ck_assert_str_eq(oa.v[i].uuid, ob.v[i].uuid);
                ck_assert_str_eq(oa.v[i].context, ob.v[i].context);
                ck_assert_str_eq(oa.v[i].host, ob.v[i].host);
                ck_assert_int_eq(oa.v[i].saved_us, ob.v[i].saved_us);
        }
        mcs_record_list_clear(&la);
        mcs_record_list_clear(&lb);
        mcs_history_list_clear(&ha);
        mcs_history_list_clear(&hb);
        mcs_original_list_clear(&oa);
        mcs_original_list_clear(&ob);
        mcs_registry_close(a);
        mcs_registry_close(b);
}

static void copy_ok(mcs_copy_report *rep) {
        mcs_registry_config cfg = config("copier");
        mcs_err e = {0};
        ck_assert_ok(mcs_registry_copy(test_db_path, dest_path, &cfg, rep, &e), &e);
}

START_TEST(copy_keeps_everything) {
        mcs_copy_report rep;
        mcs_record rec;
        mcs_err e = {0};

        fill_source();
        copy_ok(&rep);
        /* 6 reserves, 43 state rows (40, a rename, 2 more), 1 release. */
        ck_assert_uint_eq(rep.records, 5);
        ck_assert_uint_eq(rep.history, 50);
        ck_assert_uint_eq(rep.originals, 3);
        ck_assert_uint_eq(rep.records_verified, 5);
        ck_assert_uint_eq(rep.history_verified, 50);
        ck_assert_uint_eq(rep.originals_verified, 3);
        assert_same_registry(test_db_path, dest_path);

        /* The copy is a working registry: its view knows the copied labels. */
        mcs_registry *d = open_at(dest_path, "host-c");
        mcs_history_list l;
        ck_assert_ok(mcs_registry_history_query(d, &(mcs_history_query){.uuid = U2, .limit = 2}, &l, NULL, &e), &e);
        ck_assert_str_eq(l.v[1].rec.name, "db-renamed"); /* the rename, before the state change */
        ck_assert(l.v[1].who.known && l.v[1].who.uid == 1000 && l.v[1].who.pid == 4321);
        ck_assert(!l.v[0].who.known);
        mcs_history_list_clear(&l);
        mcs_guest g = {.uuid = "66666666-6666-6666-6666-666666666666", .name = "new", .kind = MCS_KIND_STATIC};
        bool created;
        ck_assert_fails(mcs_registry_reserve_label(d, &g, "s0:c31,c32", &rec, &created, &e), &e, MCS_E_CONFLICT,
                        "scratch");
        ck_assert_ok(mcs_registry_get(d, U2, &rec, &e), &e);
        ck_assert_str_eq(rec.name, "db-renamed");
        ck_assert_str_eq(rec.host, "host-b");
        ck_assert_int_eq(rec.state, MCS_STATE_RUNNING);
        mcs_registry *s = open_at(test_db_path, "reader");
        mcs_record src;
        ck_assert_ok(mcs_registry_get(s, U2, &src, &e), &e);
        mcs_registry_close(s);
        uint64_t copied = src.generation;
        ck_assert_uint_eq(rec.generation, copied);
        mcs_record_clear(&src);
        mcs_record_clear(&rec);
        /* A further change goes on from the copied generation. */
        ck_assert_ok(mcs_registry_set_state(d, U2, MCS_STATE_RESERVED, &rec, &e), &e);
        ck_assert_uint_eq(rec.generation, copied + 1);
        mcs_record_clear(&rec);
        mcs_registry_close(d);

        /* verify_copy alone now finds the difference (the first field of it). */
        mcs_registry_config cfg = config("copier");
        mcs_copy_report again = {0};
        ck_assert_fails(mcs_registry_verify_copy(test_db_path, dest_path, &cfg, &again, &e), &e, MCS_E_CHANGED,
                        "record of guest " U2 ": host is 'host-b' in the source, 'host-c' in the destination");
}
END_TEST

static void raw_exec(const char *path, const char *sql) {
        sqlite3 *db;
        char *err = NULL;
        ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
        ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql, err ? err : "");
        sqlite3_close(db);
}

/* Each change made to the copy behind the registry's back is found, and
 * named. */
START_TEST(verify_finds_differences) {
        static const struct {
                const char *sql, *code_msg;
                mcs_code code;
        } tampers[] = {
                {"UPDATE reservations SET name = 'other' WHERE uuid = '" U1 "'",
                 "record of guest " U1 ": name is 'web' in the source, 'other' in the destination", MCS_E_CHANGED},
                {"UPDATE reservations SET generation = generation + 1 WHERE uuid = '" U3 "'",
                 "record of guest " U3 ": generation is ", MCS_E_CHANGED},
                {"UPDATE reservations SET created_us = created_us + 1 WHERE uuid = '" U5 "'",
                 "record of guest " U5 ": created_us", MCS_E_CHANGED},
                {"UPDATE reservations SET kind = 'dynamic' WHERE uuid = '" U2 "'",
                 "record of guest " U2 ": kind is 'static' in the source, 'dynamic'", MCS_E_CHANGED},
                {"DELETE FROM reservations WHERE uuid = '" U4 "'",
                 "5 records in the source, 4 in the destination", MCS_E_CHANGED},
                {"DROP TRIGGER history_no_update; UPDATE history SET host = 'host-x' WHERE seq = 7",
                 "history entry 7 of 50 (guest " U1 "): host is 'host-b' in the source, 'host-x'", MCS_E_CHANGED},
                {"DROP TRIGGER history_no_update; UPDATE history SET op = 'state' WHERE op = 'release'",
                 "operation is 'release' in the source, 'state' in the destination", MCS_E_CHANGED},
                {"DROP TRIGGER history_no_update; UPDATE history SET at_us = at_us + 1 WHERE seq = 50",
                 "history entry 50 of 50 (guest " U4 "): at_us", MCS_E_CHANGED},
                {"INSERT INTO history (at_us, op, uuid, name, label, kind, host, state, generation) "
                 "VALUES (1, 'reserve', '" U1 "', 'x', 's0:c1,c2', 'dynamic', 'h', 'reserved', 1)",
                 "50 history entries in the source, 51 in the destination", MCS_E_CHANGED},
                {"UPDATE originals SET context = 'system_u:object_r:etc_t:s0' WHERE path = '/images/db.raw'",
                 "original label of '/images/db.raw': context is '' in the source", MCS_E_CHANGED},
                {"UPDATE originals SET uuid = '" U5 "' WHERE path = '/images/web.qcow2'",
                 "original label of '/images/web.qcow2': guest is '" U1 "'", MCS_E_CHANGED},
                {"DELETE FROM originals WHERE path = '/images/db log.raw'",
                 "3 original labels in the source, 2 in the destination", MCS_E_CHANGED},
        };
        mcs_registry_config cfg = config("copier");
        mcs_copy_report rep;
        mcs_err e = {0};

        fill_source();
        for (size_t i = 0; i < sizeof tampers / sizeof *tampers; i++) {
                unlink(dest_path);
                copy_ok(&rep);
                ck_assert_ok(mcs_registry_verify_copy(test_db_path, dest_path, &cfg, &rep, &e), &e);
                raw_exec(dest_path, tampers[i].sql);
                ck_assert_fails(mcs_registry_verify_copy(test_db_path, dest_path, &cfg, &rep, &e), &e,
                                tampers[i].code, tampers[i].code_msg);
        }
}
END_TEST

/* Two labels that conflict (one contains the other) in both registries:
 * equal, but not a registry mcsd could have written. */
START_TEST(verify_finds_conflicting_labels) {
        static const char add[] =
                "INSERT INTO reservations (uuid, name, label, kind, host, state, created_us, updated_us, generation) "
                "VALUES ('77777777-7777-7777-7777-777777777777', 'sneaky', 's0:c10.c12,c20', 'static', 'h', "
                "'reserved', 1, 1, 1)";
        mcs_registry_config cfg = config("copier");
        mcs_copy_report rep;
        mcs_err e = {0};

        fill_source();
        copy_ok(&rep);
        raw_exec(test_db_path, add);
        raw_exec(dest_path, add);
        ck_assert_fails(mcs_registry_verify_copy(test_db_path, dest_path, &cfg, &rep, &e), &e, MCS_E_CONFLICT,
                        "conflicts with label s0:c10,c20 of guest " U2);
}
END_TEST

START_TEST(copy_refuses_a_destination_in_use) {
        mcs_registry_config cfg = config("copier");
        mcs_copy_report rep;
        mcs_record rec;
        mcs_err e = {0};

        fill_source();
        /* One record. */
        mcs_registry *d = open_at(dest_path, "host-c");
        reserve(d, "88888888-8888-8888-8888-888888888888", "there", MCS_KIND_DYNAMIC, NULL);
        ck_assert_fails(mcs_registry_copy(test_db_path, dest_path, &cfg, &rep, &e), &e, MCS_E_EXISTS,
                        "is not empty (1 records, 1 history entries, 0 original labels)");
        ck_assert_uint_eq(rep.records, 0);
        /* No record, but its history. */
        ck_assert_ok(mcs_registry_release(d, "88888888-8888-8888-8888-888888888888", &rec, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_fails(mcs_registry_copy(test_db_path, dest_path, &cfg, &rep, &e), &e, MCS_E_EXISTS,
                        "(0 records, 2 history entries, 0 original labels)");
        mcs_registry_close(d);
        /* Only an original label. */
        unlink(dest_path);
        d = open_at(dest_path, "host-c");
        ck_assert_ok(mcs_registry_remember_original(d, U1, "/x", "", &e), &e);
        ck_assert_fails(mcs_registry_copy(test_db_path, dest_path, &cfg, &rep, &e), &e, MCS_E_EXISTS,
                        "(0 records, 0 history entries, 1 original labels)");
        mcs_original_list ol;
        ck_assert_ok(mcs_registry_originals(d, NULL, &ol, &e), &e);
        ck_assert_uint_eq(ol.n, 1); /* left as it was */
        mcs_original_list_clear(&ol);
        mcs_registry_close(d);

        /* A registry onto itself, by the same name or another spelling. */
        ck_assert_fails(mcs_registry_copy(test_db_path, test_db_path, &cfg, &rep, &e), &e, MCS_E_INVALID,
                        "is both the source and the destination");
        char *url;
        ck_assert_int_ge(asprintf(&url, "sqlite://%s", test_db_path), 0);
        ck_assert_fails(mcs_registry_copy(test_db_path, url, &cfg, &rep, &e), &e, MCS_E_EXISTS, "is not empty");
        free(url);
}
END_TEST

START_TEST(copy_refuses_bad_locations) {
        mcs_registry_config cfg = config("copier");
        mcs_copy_report rep;
        mcs_err e = {0};

        /* A missing source is not made (a wrong path, an unmounted file system). */
        ck_assert_fails(mcs_registry_copy(test_db_path, dest_path, &cfg, &rep, &e), &e, MCS_E_NOTFOUND,
                        "source registry: registry");
        ck_assert_msg(strstr(e.msg, "does not exist"), "%s", e.msg);
        ck_assert_int_ne(access(test_db_path, F_OK), 0);
        ck_assert_int_ne(access(dest_path, F_OK), 0);
        /* An empty source: most likely a wrong path. */
        mcs_registry *r;
        ck_assert_ok(mcs_registry_open(test_db_path, &cfg, &r, &e), &e);
        mcs_registry_close(r);
        ck_assert_fails(mcs_registry_copy(test_db_path, dest_path, &cfg, &rep, &e), &e, MCS_E_NOTFOUND,
                        "nothing to copy");
        ck_assert_int_ne(access(dest_path, F_OK), 0);
        fill_source();
        ck_assert_fails(mcs_registry_copy(test_db_path, "nosuch:somewhere", &cfg, &rep, &e), &e, MCS_E_INVALID,
                        "destination registry: registry 'nosuch': unknown backend");
        ck_assert_fails(mcs_registry_copy("nosuch:somewhere", dest_path, &cfg, &rep, &e), &e, MCS_E_INVALID,
                        "source registry: registry 'nosuch': unknown backend");
        ck_assert_fails(mcs_registry_copy(test_db_path, "", &cfg, &rep, &e), &e, MCS_E_INVALID,
                        "a source and a destination registry are needed");
        /* A destination that cannot be a sqlite file. */
        ck_assert_int_lt(mcs_registry_copy(test_db_path, "/proc/mcs-copy.db", &cfg, &rep, &e), 0);
        ck_assert_msg(strstr(e.msg, "destination registry") != NULL, "%s", e.msg);
}
END_TEST

int main(void) {
        Suite *s = suite_create("registry-copy");
        TCase *tc = tcase_create("sqlite");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, copy_keeps_everything);
        tcase_add_test(tc, verify_finds_differences);
        tcase_add_test(tc, verify_finds_conflicting_labels);
        tcase_add_test(tc, copy_refuses_a_destination_in_use);
        tcase_add_test(tc, copy_refuses_bad_locations);
        suite_add_tcase(s, tc);
        return test_run(s);
}
