/* The registry's public API, the same checks for every backend: the rules
 * registry.c keeps above the backends, and what every backend must store
 * and show to every handle on the same registry. */
#include "registry-api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcs-level.h"
#include "test-util.h"

#include "../../lib/registry/handle.h" /* a backend's update, called as a write that read before a race */

/* Check's test functions take no arguments: the backend of this process. */
static const registry_api_backend *B;

static void api_setup(void) {
        B->setup();
}

static void api_teardown(void) {
        B->teardown();
}

static mcs_guest guest(const char *uuid, const char *name) {
        return (mcs_guest){.uuid = uuid, .name = name, .kind = MCS_KIND_DYNAMIC};
}

static mcs_guest static_guest(const char *uuid, const char *name) {
        return (mcs_guest){.uuid = uuid, .name = name, .kind = MCS_KIND_STATIC};
}

/* reserve_label refused as handle `who` sees it: code, and needle in the message. */
static void refused(mcs_registry *r, const char *who, const mcs_guest *g, const char *label, mcs_code code,
                    const char *needle) {
        mcs_record rec;
        mcs_err e = {0};
        int rc = mcs_registry_reserve_label(r, g, label, &rec, NULL, &e);
        ck_assert_msg(rc == -(int) code, "%s: %s for %s returned %d, wanted %d (%s)", who, label, g->name, rc,
                      -(int) code, e.msg);
        ck_assert_msg(strstr(e.msg, needle) != NULL, "%s: message '%s' lacks '%s'", who, e.msg, needle);
}

START_TEST(reserve_is_idempotent_per_uuid) {
        mcs_registry *r = B->open("host-a", "c0.c1023"), *other = B->open("host-b", "c0.c1023");
        mcs_record rec, again;
        mcs_err e = {0};
        bool created;
        mcs_guest g = guest("AAAAAAAA-bbbb-CCCC-dddd-EEEEEEEEEEEE", "web1");

        ck_assert_str_eq(mcs_registry_backend_name(r), B->name);
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
        ck_assert_uint_ge(rec.generation, 1); /* the backend's own numbering (backend.h) */
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

        /* Another handle sees the same record, and reserving it again there creates nothing. */
        ck_assert_ok(mcs_registry_get(other, rec.uuid, &again, &e), &e);
        ck_assert_str_eq(again.label, rec.label);
        mcs_record_clear(&again);
        ck_assert_ok(mcs_registry_reserve(other, &g, &again, &created, &e), &e);
        ck_assert(!created);
        ck_assert_str_eq(again.label, rec.label);
        mcs_record_clear(&again);
        ck_assert_ok(mcs_registry_find_label(other, rec.label, &again, &e), &e);
        ck_assert_str_eq(again.uuid, rec.uuid);
        mcs_record_clear(&again);
        mcs_record_clear(&rec);
        mcs_registry_close(other);
        mcs_registry_close(r);
}
END_TEST

START_TEST(bad_arguments_are_refused) {
        mcs_registry *r = B->open("host-a", "c0.c1023");
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
        /* Nothing above reached the registry. */
        mcs_record_list l;
        ck_assert_ok(mcs_registry_list(r, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, 0);
        mcs_registry_close(r);

        mcs_registry_config cfg = {.host_id = "has space"};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_fails(mcs_registry_open(B->location(), &cfg, &r, &e), &e, MCS_E_INVALID,
                        "host id 'has space' has a space");
        cfg.host_id = "h";
        ck_assert_fails(mcs_registry_open("zookeeper:/x", &cfg, &r, &e), &e, MCS_E_INVALID,
                        "'zookeeper': unknown backend");
        mcs_catset_clear(&cfg.pool);
        mcs_catset_add(&cfg.pool, 3);
        ck_assert_fails(mcs_registry_open(B->location(), &cfg, &r, &e), &e, MCS_E_RANGE, "at least two categories");
}
END_TEST

/* Containment and dominance, refused with the holder named, whichever
 * handle wrote the holder: the writer's own view and another handle's,
 * which learns of the write from the registry, answer alike. */
START_TEST(static_labels_and_conflicts) {
        mcs_registry *r = B->open("host-a", "c0.c1023"), *other = B->open("host-b", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        bool created;
        mcs_guest a = static_guest(U1, "db-primary"), b = static_guest(U2, "web"), c = static_guest(U3, "batch"),
                  d = static_guest(U4, "d");
        mcs_registry *const both[2] = {r, other};
        const char *const who[2] = {"host-a", "host-b"};

        ck_assert_ok(mcs_registry_reserve_label(r, &a, "s0:c5,c4,c3,c2,c1", &rec, &created, &e), &e);
        ck_assert(created);
        ck_assert_str_eq(rec.label, "s0:c1.c5");
        ck_assert_int_eq(rec.kind, MCS_KIND_STATIC);
        mcs_record_clear(&rec);

        for (int h = 0; h < 2; h++) {
                refused(both[h], who[h], &b, "s0:c2,c3", MCS_E_CONFLICT,
                        "label s0:c2,c3 for guest web (" U2 ") is contained in label s0:c1.c5 held by guest "
                        "db-primary (" U1 ") on host host-a");
                refused(both[h], who[h], &b, "s0:c0.c9", MCS_E_CONFLICT,
                        "label s0:c0.c9 for guest web (" U2 ") contains label s0:c1.c5");
                refused(both[h], who[h], &b, "s0-s0:c1.c5", MCS_E_CONFLICT, "has the categories of label s0:c1.c5");
                refused(both[h], who[h], &b, "s0:c3", MCS_E_CONFLICT, "is contained in label s0:c1.c5");
        }
        /* Overlap without containment is isolation: allowed. */
        ck_assert_ok(mcs_registry_reserve_label(other, &b, "s0:c5,c6", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        /* A single category blocks every pair holding it and is blocked by them. */
        for (int h = 0; h < 2; h++)
                refused(both[h], who[h], &c, "s0:c6", MCS_E_CONFLICT,
                        "is contained in label s0:c5,c6 held by guest web (" U2 ") on host host-b");
        ck_assert_ok(mcs_registry_reserve_label(r, &c, "s0:c700", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        for (int h = 0; h < 2; h++)
                refused(both[h], who[h], &d, "s0:c700,c701", MCS_E_CONFLICT,
                        "contains label s0:c700 held by guest batch (" U3 ") on host host-a");

        /* The guest already holds a label: the same one is fine, another is refused. */
        for (int h = 0; h < 2; h++) {
                ck_assert_ok(mcs_registry_reserve_label(both[h], &a, "s0:c1.c5", &rec, &created, &e), &e);
                ck_assert(!created);
                mcs_record_clear(&rec);
                refused(both[h], who[h], &a, "s0:c800,c801", MCS_E_EXISTS,
                        "guest db-primary (" U1 ") already holds label s0:c1.c5 on host host-a");
        }

        /* After release the label is free again, for every handle. */
        ck_assert_ok(mcs_registry_release(other, U1, &rec, &e), &e);
        ck_assert_str_eq(rec.label, "s0:c1.c5");
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve_label(r, &d, "s0:c2,c3", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        for (int h = 0; h < 2; h++)
                ck_assert_fails(mcs_registry_release(both[h], U1, &rec, &e), &e, MCS_E_NOTFOUND,
                                "no reservation for " U1);
        mcs_registry_close(r);
        mcs_registry_close(other);
}
END_TEST

START_TEST(dynamic_draws_avoid_static_sets) {
        mcs_registry *r = B->open("host-a", "c0.c5");
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
        mcs_registry *a = B->open("host-a", "c0.c1023"), *b = B->open("host-b", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest g1 = guest(U1, "alpha"), g2 = guest(U2, "beta");
        mcs_guest t = {.uuid = U3, .name = "scratch", .kind = MCS_KIND_TRANSIENT};

        ck_assert_ok(mcs_registry_reserve(a, &g1, &rec, NULL, &e), &e);
        uint64_t first = rec.generation;
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve(b, &g2, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve(b, &t, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);

        /* Started on host-b: the record moves there and its generation goes up. */
        ck_assert_ok(mcs_registry_set_state(b, U1, MCS_STATE_RUNNING, &rec, &e), &e);
        ck_assert_int_eq(rec.state, MCS_STATE_RUNNING);
        ck_assert_str_eq(rec.host, "host-b");
        ck_assert_uint_eq(rec.generation, first + 1);
        mcs_record_clear(&rec);
        ck_assert_fails(mcs_registry_set_state(a, U4, MCS_STATE_RUNNING, &rec, &e), &e, MCS_E_NOTFOUND, U4);

        mcs_record_list l;
        mcs_filter f = MCS_FILTER_ALL;
        ck_assert_ok(mcs_registry_list(a, &f, &l, &e), &e);
        ck_assert_uint_eq(l.n, 3);
        ck_assert_str_eq(l.v[0].name, "alpha"); /* ordered by name */
        ck_assert_str_eq(l.v[1].name, "beta");
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
        mcs_registry_close(a);
        mcs_registry_close(b);
}
END_TEST

START_TEST(two_handles_never_draw_the_same_pair) {
        /* Two "hosts", one registry, a pool of 6 pairs: they must never draw the same one. */
        mcs_registry *a = B->open("host-a", "c0.c3"), *b = B->open("host-b", "c0.c3");
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
        mcs_alloc_stats st;
        ck_assert_ok(mcs_registry_stats(b, &st, &e), &e);
        ck_assert_uint_eq(st.free_pairs, 0);
        mcs_registry_close(a);
        mcs_registry_close(b);
}
END_TEST

/* A release acts only on the record its caller read: a record that moved to
 * another host or changed since is kept, and the caller is told what changed. */
START_TEST(conditional_release) {
        mcs_registry *h1 = B->open("h1", "c0.c1023"), *h2 = B->open("h2", "c0.c1023");
        mcs_record rec, now;
        mcs_err e = {0};
        mcs_guest g = guest(U1, "moving");

        char gens[64];
        ck_assert_ok(mcs_registry_reserve(h1, &g, &rec, NULL, &e), &e);
        const uint64_t G = rec.generation;
        snprintf(gens, sizeof gens, "generation %llu, read %llu", (unsigned long long) G + 1, (unsigned long long) G);
        /* h2 starts the guest meanwhile: the record moves there, generation G + 1. */
        ck_assert_ok(mcs_registry_set_state(h2, U1, MCS_STATE_RUNNING, &now, &e), &e);
        mcs_record_clear(&now);

        ck_assert_fails(mcs_registry_release_if(h1, U1, "h1", rec.generation, NULL, &e), &e, MCS_E_CHANGED,
                        "guest moving (" U1 "): not released: its record is now on host h2, not h1");
        ck_assert_fails(mcs_registry_release_if(h1, U1, NULL, rec.generation, NULL, &e), &e, MCS_E_CHANGED,
                        "its record changed meanwhile (generation ");
        ck_assert_msg(strstr(e.msg, gens) != NULL, "message: %s", e.msg);
        ck_assert_fails(mcs_registry_release_if(h1, U1, "h2", G, NULL, &e), &e, MCS_E_CHANGED, gens);
        ck_assert_str_eq(e.msg + strlen(e.msg) - strlen("running on host h2)"), "running on host h2)");
        /* The record is intact. */
        ck_assert_ok(mcs_registry_get(h1, U1, &now, &e), &e);
        ck_assert_str_eq(now.label, rec.label);
        ck_assert_str_eq(now.host, "h2");
        ck_assert_uint_eq(now.generation, G + 1);
        mcs_record_clear(&now);
        mcs_history_list h;
        ck_assert_ok(mcs_registry_history(h1, U1, &h, &e), &e);
        ck_assert_uint_eq(h.n, 2); /* reserve and state: no release */
        mcs_history_list_clear(&h);

        ck_assert_fails(mcs_registry_release_if(h1, U1, "bad host", G + 1, NULL, &e), &e, MCS_E_INVALID, "has a space");
        ck_assert_fails(mcs_registry_release_if(h1, U2, "h1", 1, NULL, &e), &e, MCS_E_NOTFOUND, U2);

        /* What the caller read now: released, the label free again. */
        ck_assert_ok(mcs_registry_release_if(h1, U1, "h2", G + 1, &now, &e), &e);
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

/* replace_label: the new label or the old, never neither; conditional on
 * host and generation; a refusal leaves the record exactly as it was. */
START_TEST(replace_label_in_one_step) {
        mcs_registry *h1 = B->open("h1", "c0.c1023"), *h2 = B->open("h2", "c0.c1023");
        mcs_record rec, now;
        mcs_err e = {0};
        mcs_guest g = guest(U1, "vm1"), o = static_guest(U2, "other"), s = static_guest(U1, "vm1");

        ck_assert_ok(mcs_registry_reserve_label(h1, &g, "s0:c1,c2", &rec, NULL, &e), &e);
        ck_assert_ok(mcs_registry_reserve_label(h1, &o, "s0:c7,c8", &now, NULL, &e), &e);
        mcs_record_clear(&now);

        /* Another guest's label, or one containing it: refused, nothing written. */
        ck_assert_fails(mcs_registry_replace_label(h2, &s, "s0:c7,c8", "h1", rec.generation, &now, &e), &e,
                        MCS_E_CONFLICT, "held by guest other");
        ck_assert_fails(mcs_registry_replace_label(h2, &s, "s0:c1.c9", NULL, 0, &now, &e), &e, MCS_E_CONFLICT,
                        "held by guest other");
        /* Not what the caller read. */
        ck_assert_fails(mcs_registry_replace_label(h2, &s, "s0:c3,c4", "h2", 0, &now, &e), &e, MCS_E_CHANGED,
                        "not replaced");
        ck_assert_fails(mcs_registry_replace_label(h2, &s, "s0:c3,c4", NULL, rec.generation + 1, &now, &e), &e,
                        MCS_E_CHANGED, "not replaced");
        ck_assert_ok(mcs_registry_get(h2, U1, &now, &e), &e);
        ck_assert_str_eq(now.label, "s0:c1,c2");
        ck_assert_uint_eq(now.generation, rec.generation);
        ck_assert_int_eq(now.created_us, rec.created_us);
        mcs_record_clear(&now);
        mcs_history_list h;
        ck_assert_ok(mcs_registry_history(h1, U1, &h, &e), &e);
        ck_assert_uint_eq(h.n, 1); /* the reserve alone */
        mcs_history_list_clear(&h);

        /* A label sharing a category with its own old one: replaced, on h2 now. */
        ck_assert_ok(mcs_registry_replace_label(h2, &s, "s0:c1,c3", "h1", rec.generation, &now, &e), &e);
        ck_assert_str_eq(now.label, "s0:c1,c3");
        ck_assert_str_eq(now.host, "h2");
        ck_assert_int_eq(now.kind, MCS_KIND_STATIC);
        /* Another record: a generation past the old one's (never reused). */
        ck_assert_uint_gt(now.generation, rec.generation);
        uint64_t replaced = now.generation;
        mcs_record_clear(&now);
        ck_assert_ok(mcs_registry_get(h1, U1, &now, &e), &e);
        ck_assert_str_eq(now.label, "s0:c1,c3");
        mcs_record_clear(&now);
        /* The old label is free, the new one held, seen from the other handle. */
        mcs_guest t = static_guest(U3, "third");
        ck_assert_ok(mcs_registry_reserve_label(h1, &t, "s0:c1,c2", &now, NULL, &e), &e);
        mcs_record_clear(&now);
        refused(h1, "h1", &o, "s0:c1,c3", MCS_E_EXISTS, "already holds");
        mcs_guest u = static_guest(U4, "fourth");
        refused(h1, "h1", &u, "s0:c1,c3", MCS_E_CONFLICT, "held by guest vm1");
        /* The same label: nothing to do. */
        ck_assert_ok(mcs_registry_replace_label(h1, &s, "s0:c1,c3", NULL, 0, &now, &e), &e);
        ck_assert_uint_eq(now.generation, replaced);
        mcs_record_clear(&now);
        ck_assert_fails(mcs_registry_replace_label(h1, &u, "s0:c5,c6", NULL, 0, &now, &e), &e, MCS_E_NOTFOUND, U4);

        mcs_record_clear(&rec);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

/* A guest migrating away: the record stays its host's, in state
 * migrating, stored and read back alike by every handle. */
START_TEST(migrating_state) {
        mcs_registry *h1 = B->open("h1", "c0.c1023"), *h2 = B->open("h2", "c0.c1023");
        mcs_record rec, now;
        mcs_err e = {0};
        mcs_guest g = guest(U1, "vm1");

        ck_assert_ok(mcs_registry_reserve_label(h1, &g, "s0:c1,c2", &rec, NULL, &e), &e);
        ck_assert_fails(mcs_registry_set_migrating(h2, U1, 0, &now, &e), &e, MCS_E_INVALID, "nothing migrates");
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_set_state(h1, U1, MCS_STATE_RUNNING, &rec, &e), &e);
        ck_assert_fails(mcs_registry_set_migrating(h2, U1, rec.generation + 1, &now, &e), &e, MCS_E_CHANGED,
                        "not marked migrating");
        ck_assert_ok(mcs_registry_set_migrating(h2, U1, rec.generation, &now, &e), &e);
        ck_assert_int_eq(now.state, MCS_STATE_MIGRATING);
        ck_assert_str_eq(now.host, "h1");
        ck_assert_uint_eq(now.generation, rec.generation + 1);
        mcs_record_clear(&now);
        ck_assert_ok(mcs_registry_get(h1, U1, &now, &e), &e);
        ck_assert_int_eq(now.state, MCS_STATE_MIGRATING);
        ck_assert_str_eq(now.host, "h1");
        ck_assert_str_eq(mcs_state_name(now.state), "migrating");
        mcs_record_clear(&now);
        /* Listed by state; its label stays held. */
        mcs_filter f = MCS_FILTER_ALL;
        f.state = MCS_STATE_MIGRATING;
        mcs_record_list l;
        ck_assert_ok(mcs_registry_list(h2, &f, &l, &e), &e);
        ck_assert_uint_eq(l.n, 1);
        mcs_record_list_clear(&l);
        mcs_guest o = static_guest(U2, "other");
        refused(h2, "h2", &o, "s0:c1,c2", MCS_E_CONFLICT, "held by guest vm1");
        /* The destination runs it: the record moves there. */
        ck_assert_ok(mcs_registry_set_state(h2, U1, MCS_STATE_RUNNING, &now, &e), &e);
        ck_assert_str_eq(now.host, "h2");
        ck_assert_int_eq(now.state, MCS_STATE_RUNNING);
        mcs_record_clear(&now);
        mcs_state st;
        ck_assert_int_eq(mcs_state_from_name("migrating", &st), 0);
        ck_assert_int_eq(st, MCS_STATE_MIGRATING);
        ck_assert_int_lt(mcs_state_from_name("moving", &st), 0);

        mcs_record_clear(&rec);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

/* The same guest moved, renamed and released across two handles, each
 * step conditional on what the other handle wrote; the history tells it. */
START_TEST(conditional_release_rename_and_history) {
        mcs_registry *h1 = B->open("h1", "c0.c1023"), *h2 = B->open("h2", "c0.c1023");
        mcs_record rec, now;
        mcs_err e = {0};
        mcs_guest g = guest(U1, "moving");

        char gens[64];
        ck_assert_ok(mcs_registry_reserve(h1, &g, &rec, NULL, &e), &e);
        const uint64_t G = rec.generation;
        snprintf(gens, sizeof gens, "generation %llu, read %llu", (unsigned long long) G + 1, (unsigned long long) G);
        ck_assert_ok(mcs_registry_set_state(h2, U1, MCS_STATE_RUNNING, &now, &e), &e);
        ck_assert_str_eq(now.host, "h2");
        ck_assert_uint_eq(now.generation, G + 1);
        mcs_record_clear(&now);
        ck_assert_fails(mcs_registry_release_if(h1, U1, "h1", rec.generation, NULL, &e), &e, MCS_E_CHANGED,
                        "guest moving (" U1 "): not released: its record is now on host h2, not h1");
        ck_assert_fails(mcs_registry_release_if(h1, U1, "h2", G, NULL, &e), &e, MCS_E_CHANGED, gens);
        ck_assert_fails(mcs_registry_set_name(h1, U1, "newer", G, NULL, &e), &e, MCS_E_CHANGED,
                        "not renamed: its record changed meanwhile");
        ck_assert_msg(strstr(e.msg, gens) != NULL, "message: %s", e.msg);
        ck_assert_ok(mcs_registry_set_name(h1, U1, "renamed", G + 1, &now, &e), &e);
        ck_assert_str_eq(now.name, "renamed");
        ck_assert_uint_eq(now.generation, G + 2);
        mcs_record_clear(&now);
        ck_assert_fails(mcs_registry_set_state(h1, U4, MCS_STATE_RUNNING, &now, &e), &e, MCS_E_NOTFOUND, U4);

        mcs_record_list l;
        mcs_filter f = MCS_FILTER_ALL;
        f.name = "renamed";
        ck_assert_ok(mcs_registry_list(h2, &f, &l, &e), &e);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.v[0].host, "h2");
        mcs_record_list_clear(&l);

        /* Any generation but the wrong host; the right host but an old generation. */
        ck_assert_fails(mcs_registry_release_if(h1, U1, "h1", 0, NULL, &e), &e, MCS_E_CHANGED, "now on host h2");
        snprintf(gens, sizeof gens, "generation %llu", (unsigned long long) G + 2);
        ck_assert_fails(mcs_registry_release_if(h1, U1, NULL, G + 1, NULL, &e), &e, MCS_E_CHANGED, gens);
        ck_assert_ok(mcs_registry_release_if(h2, U1, "h2", G + 2, &now, &e), &e);
        ck_assert_str_eq(now.label, rec.label);
        mcs_record_clear(&now);
        ck_assert_fails(mcs_registry_get(h1, U1, &now, &e), &e, MCS_E_NOTFOUND, U1);
        ck_assert_fails(mcs_registry_find_label(h1, rec.label, &now, &e), &e, MCS_E_NOTFOUND, rec.label);

        /* Oldest first: reserve, state, rename (a state row), release. */
        mcs_history_list h;
        ck_assert_ok(mcs_registry_history(h1, U1, &h, &e), &e);
        ck_assert_uint_eq(h.n, 4);
        ck_assert_int_eq(h.v[0].op, MCS_OP_RESERVE);
        ck_assert_str_eq(h.v[0].rec.host, "h1");
        ck_assert_int_eq(h.v[1].op, MCS_OP_STATE);
        ck_assert_str_eq(h.v[1].rec.host, "h2");
        ck_assert_int_eq(h.v[2].op, MCS_OP_STATE);
        ck_assert_str_eq(h.v[2].rec.name, "renamed");
        ck_assert_int_eq(h.v[3].op, MCS_OP_RELEASE);
        ck_assert_str_eq(h.v[3].rec.label, rec.label);
        for (size_t i = 1; i < h.n; i++)
                ck_assert_uint_gt(h.v[i].seq, h.v[i - 1].seq);
        ck_assert_int_le(h.v[0].at_us, h.v[3].at_us);
        mcs_history_list_clear(&h);
        ck_assert_ok(mcs_registry_history(h2, NULL, &h, &e), &e);
        ck_assert_uint_eq(h.n, 4);
        mcs_history_list_clear(&h);
        mcs_record_clear(&rec);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

/* Issue 24: a write that read a guest's record must not land on another
 * record of the same guest. mcsd's main loop (h1) reads U1 holding L1 to
 * record a state; meanwhile its hook thread (h2) releases L1 and reserves
 * L2 for U1. The main loop's update over what it read, a release or a
 * rename over the generation it read, are all refused: L2 stays held by
 * U1's record, and L1 is free. */
START_TEST(writes_over_a_record_reserved_again_are_refused) {
        mcs_registry *main_loop = B->open("h1", "c0.c1023"), *hook = B->open("h1", "c0.c1023");
        mcs_record read, rec, now;
        mcs_err e = {0};
        mcs_guest g = static_guest(U1, "again");
        char needle[128];

        ck_assert_ok(mcs_registry_reserve_label(main_loop, &g, "s0:c1,c2", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        /* The main loop's set_state reads the record ... */
        ck_assert_ok(mcs_registry_get(main_loop, U1, &read, &e), &e);
        ck_assert_str_eq(read.label, "s0:c1,c2");
        /* ... the hook thread releases L1 and reserves L2 for the same guest ... */
        ck_assert_ok(mcs_registry_release_if(hook, U1, "h1", read.generation, NULL, &e), &e);
        ck_assert_ok(mcs_registry_reserve_label(hook, &g, "s0:c3,c4", &rec, NULL, &e), &e);
        /* A record reserved again never has a generation its guest had before. */
        ck_assert_uint_gt(rec.generation, read.generation);

        /* ... and the main loop's update writes what it read back. */
        mcs_record stale;
        ck_assert_ok(mcs_record_copy(&stale, &read, &e), &e);
        stale.state = MCS_STATE_RUNNING;
        stale.updated_us = read.updated_us + 1;
        stale.generation = read.generation + 1;
        int rc = main_loop->ops->update(main_loop->b, &stale, read.generation, &e);
        ck_assert_msg(rc == -(int) MCS_E_CHANGED, "a stale update returned %d (%s)", rc, e.msg);
        ck_assert_msg(strstr(e.msg, "released and reserved again") != NULL, "message: %s", e.msg);
        /* Refused even at the generation the record has now (a record an
         * older mcsd created started again at 1): it is another record. */
        stale.generation = rec.generation + 1;
        rc = main_loop->ops->update(main_loop->b, &stale, rec.generation, &e);
        ck_assert_msg(rc == -(int) MCS_E_CHANGED, "a stale update at the current generation returned %d (%s)", rc,
                      e.msg);
        ck_assert_msg(strstr(e.msg, "released and reserved again") != NULL, "message: %s", e.msg);
        mcs_record_clear(&stale);
        /* A release or a rename over the generation read is refused alike. */
        snprintf(needle, sizeof needle, "generation %llu, read %llu", (unsigned long long) rec.generation,
                 (unsigned long long) read.generation);
        ck_assert_fails(mcs_registry_release_if(main_loop, U1, "h1", read.generation, NULL, &e), &e, MCS_E_CHANGED,
                        needle);
        ck_assert_fails(mcs_registry_set_name(main_loop, U1, "renamed", read.generation, NULL, &e), &e, MCS_E_CHANGED,
                        needle);

        /* L2 is still U1's, as every handle sees it; L1 is free. */
        mcs_registry *third = B->open("h3", "c0.c1023");
        mcs_registry *handles[] = {main_loop, hook, third};
        for (size_t i = 0; i < 3; i++) {
                ck_assert_ok(mcs_registry_get(handles[i], U1, &now, &e), &e);
                ck_assert_str_eq(now.label, "s0:c3,c4");
                ck_assert_str_eq(now.name, "again");
                ck_assert_int_eq(now.state, MCS_STATE_RESERVED);
                ck_assert_uint_eq(now.generation, rec.generation);
                mcs_record_clear(&now);
                ck_assert_ok(mcs_registry_find_label(handles[i], "s0:c3,c4", &now, &e), &e);
                ck_assert_str_eq(now.uuid, U1);
                mcs_record_clear(&now);
                ck_assert_fails(mcs_registry_find_label(handles[i], "s0:c1,c2", &now, &e), &e, MCS_E_NOTFOUND,
                                "s0:c1,c2");
        }
        mcs_guest o = static_guest(U2, "other");
        refused(third, "third", &o, "s0:c3,c4", MCS_E_CONFLICT, "held by guest again (" U1 ")");
        refused(main_loop, "main loop", &o, "s0:c3,c4", MCS_E_CONFLICT, "held by guest again (" U1 ")");

        /* The main loop's set_state, read again, records the state on L2. */
        ck_assert_ok(mcs_registry_set_state(main_loop, U1, MCS_STATE_RUNNING, &now, &e), &e);
        ck_assert_str_eq(now.label, "s0:c3,c4");
        ck_assert_uint_eq(now.generation, rec.generation + 1);
        mcs_record_clear(&now);

        /* Whatever the number of changes the first record had. */
        ck_assert_ok(mcs_registry_release(hook, U1, &now, &e), &e);
        mcs_record_clear(&now);
        ck_assert_ok(mcs_registry_reserve_label(hook, &g, "s0:c5,c6", &now, NULL, &e), &e);
        ck_assert_uint_gt(now.generation, rec.generation + 1);
        mcs_record_clear(&now);
        mcs_record_clear(&rec);
        mcs_record_clear(&read);
        mcs_registry_close(third);
        mcs_registry_close(main_loop);
        mcs_registry_close(hook);
}
END_TEST

/* A create whose view is older than the guest's last record (another host
 * reserved and released it meanwhile, with other categories) is refused,
 * or numbers its record above that one; and a create from a view that is
 * current, after other handles reserved and released the guest's records
 * (the case every backend must take), numbers it above each of them:
 * never the generation a reader of an earlier record holds. */
START_TEST(create_from_an_old_view_never_reuses_a_generation) {
        mcs_registry *h1 = B->open("h1", "c0.c1023"), *h2 = B->open("h2", "c0.c1023");
        mcs_record gone;
        mcs_alloc_stats st;
        mcs_err e = {0};
        mcs_guest g = static_guest(U1, "brief");

        ck_assert_ok(mcs_registry_stats(h1, &st, &e), &e); /* h1's view, now */
        ck_assert_ok(mcs_registry_reserve_label(h2, &g, "s0:c1,c2", &gone, NULL, &e), &e);
        ck_assert_ok(mcs_registry_release_if(h2, U1, "h2", gone.generation, NULL, &e), &e);

        mcs_level l;
        ck_assert_ok(mcs_level_parse("s0:c3,c4", &l, &e), &e);
        mcs_record rec = {.name = (char *) "brief", .label = (char *) "s0:c3,c4", .kind = MCS_KIND_STATIC,
                          .state = MCS_STATE_RESERVED, .host = (char *) "h1", .created_us = 1, .updated_us = 1};
        memcpy(rec.uuid, U1, sizeof rec.uuid);
        int rc = h1->ops->create(h1->b, &rec, &l.cats, &h1->view.at, &e);
        ck_assert_msg(rc == 0 || rc == -(int) MCS_E_STALE, "create returned %d (%s)", rc, e.msg);
        if (rc == 0)
                ck_assert_uint_gt(rec.generation, gone.generation);
        ck_assert_fails(mcs_registry_release_if(h1, U1, NULL, gone.generation, NULL, &e), &e,
                        rc == 0 ? MCS_E_CHANGED : MCS_E_NOTFOUND, U1);
        uint64_t highest = rc == 0 ? rec.generation : gone.generation;
        if (rc == 0)
                ck_assert_ok(mcs_registry_release_if(h1, U1, "h1", rec.generation, NULL, &e), &e);
        mcs_record_clear(&gone);

        /* h2 reserves, updates and releases U1 twice more; h1's view then
         * catches up, and its create must be taken. */
        for (int i = 0; i < 2; i++) {
                ck_assert_ok(mcs_registry_reserve_label(h2, &g, "s0:c1,c2", &gone, NULL, &e), &e);
                ck_assert_uint_gt(gone.generation, highest);
                mcs_record_clear(&gone);
                ck_assert_ok(mcs_registry_set_state(h2, U1, MCS_STATE_RUNNING, &gone, &e), &e);
                ck_assert_uint_gt(gone.generation, highest);
                highest = gone.generation;
                ck_assert_ok(mcs_registry_release_if(h2, U1, "h2", gone.generation, NULL, &e), &e);
                mcs_record_clear(&gone);
        }
        ck_assert_ok(mcs_registry_stats(h1, &st, &e), &e);
        rec.generation = 0;
        rc = h1->ops->create(h1->b, &rec, &l.cats, &h1->view.at, &e);
        ck_assert_msg(rc == 0, "create from a current view returned %d (%s)", rc, e.msg);
        ck_assert_msg(rec.generation > highest, "generation %llu, an earlier record had %llu",
                      (unsigned long long) rec.generation, (unsigned long long) highest);
        ck_assert_fails(mcs_registry_release_if(h1, U1, NULL, highest, NULL, &e), &e, MCS_E_CHANGED, U1);
        ck_assert_ok(mcs_registry_release_if(h1, U1, "h1", rec.generation, NULL, &e), &e);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

/* A backend whose create leaves generation 0 (a fault: to release_if, 0
 * means "any generation"): the reservation is refused, not answered. */
static const mcs_backend_ops *real_ops;

static int create_unnumbered(mcs_backend *b, mcs_record *rec, const mcs_catset *claims, const mcs_cursor *view,
                             mcs_err *e) {
        int r = real_ops->create(b, rec, claims, view, e);
        if (r == 0)
                rec->generation = 0;
        return r;
}

START_TEST(a_record_created_without_a_generation_is_refused) {
        mcs_registry *r = B->open("h1", "c0.c1023");
        mcs_backend_ops ops = *r->ops;
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest g = guest(U1, "unnumbered");
        real_ops = r->ops;
        ops.create = create_unnumbered;
        r->ops = &ops;
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, MCS_E_IO, "record without a generation");
        r->ops = real_ops;
        mcs_registry_close(r);
}
END_TEST

/* A rename reaches the record, once, and only over the generation read. */
START_TEST(rename_record) {
        mcs_registry *r = B->open("h1", "c0.c1023");
        mcs_record rec, now;
        mcs_err e = {0};
        mcs_guest g = guest(U1, "old-name");

        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
        ck_assert_ok(mcs_registry_set_name(r, U1, "new name", rec.generation, &now, &e), &e);
        ck_assert_str_eq(now.name, "new name");
        ck_assert_str_eq(now.label, rec.label);
        ck_assert_uint_eq(now.generation, rec.generation + 1);
        mcs_record_clear(&now);
        ck_assert_fails(mcs_registry_set_name(r, U1, "newer", rec.generation, NULL, &e), &e, MCS_E_CHANGED,
                        "not renamed: its record changed meanwhile");
        ck_assert_fails(mcs_registry_set_name(r, U1, "bad\tname", 0, NULL, &e), &e, MCS_E_INVALID, "control character");
        /* The same name again changes nothing. */
        ck_assert_ok(mcs_registry_set_name(r, U1, "new name", 0, &now, &e), &e);
        ck_assert_uint_eq(now.generation, rec.generation + 1);
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

/* An older copy of the registry is put back while handles have it open
 * (each backend's way: a file copied over, a directory renamed into place,
 * a dump of keys restored): what a handle saw after the copy is gone, and
 * other writers go on from the copy, reusing the history's seq numbers or
 * a log's entry names where they start again. The handle must notice and
 * start again. */
START_TEST(older_copy_put_back) {
        mcs_registry *a = B->open("host-a", "c0.c3"), *b = B->open("host-b", "c0.c3");
        mcs_record rec;
        mcs_err e = {0};

        mcs_guest s0 = static_guest("00000000-0000-0000-0000-000000000000", "s0"),
                  s1 = static_guest("00000000-0000-0000-0000-000000000001", "s1");
        ck_assert_ok(mcs_registry_reserve_label(a, &s0, "s0:c500", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve_label(b, &s1, "s0:c501", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        B->save_copy();

        /* a draws two pairs; then the copy from before them is put back. */
        for (int n = 0; n < 2; n++) {
                char uuid[40];
                snprintf(uuid, sizeof uuid, "10000000-0000-0000-0000-%012d", n);
                mcs_guest g = guest(uuid, "lost");
                ck_assert_ok(mcs_registry_reserve(a, &g, &rec, NULL, &e), &e);
                mcs_record_clear(&rec);
        }
        B->put_back_copy();

        /* b now blocks every pair holding c2 or c3, where a's lost draws stood. */
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
        mcs_registry_close(a);
        mcs_registry_close(b);
}
END_TEST

/* Original labels: the first one stays, another guest cannot claim the
 * same file, and every handle sees them, a new one too. */
START_TEST(original_labels) {
        mcs_registry *h1 = B->open("h1", "c0.c1023"), *h2 = B->open("h2", "c0.c1023");
        mcs_original_list l;
        mcs_err e = {0};
        const char *a = "11111111-2222-3333-4444-555555555555", *b = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

        ck_assert_ok(mcs_registry_remember_original(h1, a, "/img/b.raw", "", &e), &e);
        ck_assert_ok(mcs_registry_remember_original(h1, a, "/img/a.qcow2", "system_u:object_r:virt_image_t:s0", &e), &e);
        /* Labelled again, by this host or another: the first original stays. */
        ck_assert_ok(mcs_registry_remember_original(h1, a, "/img/a.qcow2", "system_u:object_r:svirt_image_t:s0:c1,c2",
                                                    &e), &e);
        ck_assert_ok(mcs_registry_remember_original(h2, a, "/img/a.qcow2", "system_u:object_r:other_t:s0", &e), &e);
        ck_assert_fails(mcs_registry_remember_original(h2, b, "/img/a.qcow2", "x", &e), &e, MCS_E_CONFLICT,
                        "/img/a.qcow2 is already labelled for guest 11111111-2222-3333-4444-555555555555");
        ck_assert_fails(mcs_registry_remember_original(h1, a, "img/rel", "x", &e), &e, MCS_E_INVALID, "not an absolute path");
        /* Bytes a text format must carry: a space, a tab, a percent sign. */
        ck_assert_ok(mcs_registry_remember_original(h2, b, "/img/odd 100%", "u:r:t:s0\tx", &e), &e);

        ck_assert_ok(mcs_registry_originals(h2, a, &l, &e), &e);
        ck_assert_uint_eq(l.n, 2);
        ck_assert_str_eq(l.v[0].path, "/img/a.qcow2");
        ck_assert_str_eq(l.v[0].context, "system_u:object_r:virt_image_t:s0");
        ck_assert_str_eq(l.v[0].host, "h1");
        ck_assert_str_eq(l.v[1].path, "/img/b.raw");
        ck_assert_str_eq(l.v[1].context, "");
        mcs_original_list_clear(&l);
        ck_assert_ok(mcs_registry_originals(h1, b, &l, &e), &e);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.v[0].path, "/img/odd 100%");
        ck_assert_str_eq(l.v[0].context, "u:r:t:s0\tx");
        mcs_original_list_clear(&l);
        ck_assert_ok(mcs_registry_originals(h1, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, 3);
        ck_assert_str_eq(l.v[1].path, "/img/b.raw");
        ck_assert_str_eq(l.v[2].uuid, b);
        mcs_original_list_clear(&l);

        ck_assert_ok(mcs_registry_forget_original(h2, "/img/a.qcow2", &e), &e);
        ck_assert_ok(mcs_registry_originals(h1, a, &l, &e), &e);
        ck_assert_uint_eq(l.n, 1);
        mcs_original_list_clear(&l);
        ck_assert_ok(mcs_registry_originals(h1, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, 2);
        mcs_original_list_clear(&l);
        /* Forgotten, the file is free for another guest. */
        ck_assert_ok(mcs_registry_remember_original(h2, b, "/img/a.qcow2", "u:r:t:s0", &e), &e);
        ck_assert_ok(mcs_registry_originals(h1, b, &l, &e), &e);
        ck_assert_uint_eq(l.n, 2);
        mcs_original_list_clear(&l);
        mcs_registry_close(h1);
        mcs_registry_close(h2);

        /* A new handle finds the same. */
        h1 = B->open("h3", "c0.c1023");
        ck_assert_ok(mcs_registry_originals(h1, b, &l, &e), &e);
        ck_assert_uint_eq(l.n, 2);
        ck_assert_str_eq(l.v[0].path, "/img/a.qcow2");
        ck_assert_str_eq(l.v[0].context, "u:r:t:s0");
        ck_assert_str_eq(l.v[0].host, "h2");
        mcs_original_list_clear(&l);
        mcs_registry_close(h1);
}
END_TEST

void registry_api_add(TCase *tc, const registry_api_backend *b) {
        if (B && B != b) {
                fprintf(stderr, "registry_api_add: one registry backend a process (%s, then %s)\n", B->name, b->name);
                abort();
        }
        B = b;
        tcase_add_checked_fixture(tc, api_setup, api_teardown);
        tcase_add_test(tc, reserve_is_idempotent_per_uuid);
        tcase_add_test(tc, bad_arguments_are_refused);
        tcase_add_test(tc, static_labels_and_conflicts);
        tcase_add_test(tc, dynamic_draws_avoid_static_sets);
        tcase_add_test(tc, state_list_and_history);
        tcase_add_test(tc, two_handles_never_draw_the_same_pair);
        tcase_add_test(tc, conditional_release);
        tcase_add_test(tc, replace_label_in_one_step);
        tcase_add_test(tc, migrating_state);
        tcase_add_test(tc, conditional_release_rename_and_history);
        tcase_add_test(tc, rename_record);
        tcase_add_test(tc, writes_over_a_record_reserved_again_are_refused);
        tcase_add_test(tc, create_from_an_old_view_never_reuses_a_generation);
        tcase_add_test(tc, a_record_created_without_a_generation_is_refused);
        if (b->save_copy && b->put_back_copy)
                tcase_add_test(tc, older_copy_put_back);
        tcase_add_test(tc, original_labels);
        registry_history_add(tc, b);
}

TCase *registry_api_tcase(const registry_api_backend *b) {
        TCase *tc = tcase_create("api");
        tcase_set_timeout(tc, 120);
        registry_api_add(tc, b);
        return tc;
}
