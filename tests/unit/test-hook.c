/* The hook's decisions for every operation and outcome, against a real
 * sqlite registry. */
#include <stdio.h>

#include "mcs-hook-rules.h"
#include "mcs-ownership.h"
#include "test-util.h"

#define UUID_A "11111111-2222-3333-4444-555555555555"
#define UUID_B "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

static mcs_hook_verdict decide(mcs_registry *r, const mcs_config *cfg, mcs_hook_op op, const char *uuid,
                               const char *name, mcs_seclabel_mode mode, const char *label) {
        mcs_hook_request rq = {.op = op, .uuid = uuid, .name = name, .mode = mode, .label = label};
        mcs_hook_verdict v;
        mcs_err e = {0};
        ck_assert_ok(mcs_hook_decide(r, cfg, &rq, &v, &e), &e);
        return v;
}

static const char *label_of(mcs_registry *r, const char *uuid, char *buf, size_t len) {
        mcs_record rec;
        mcs_err e = {0};
        if (mcs_registry_get(r, uuid, &rec, &e) < 0)
                return NULL;
        snprintf(buf, len, "%s/%s", rec.label, mcs_kind_name(rec.kind));
        mcs_record_clear(&rec);
        return buf;
}

#define CTX(l) "system_u:system_r:svirt_t:" l

START_TEST(operations_and_outcomes) {
        mcs_registry *h1 = test_open_registry("h1", "c0.c1023"), *h2 = test_open_registry("h2", "c0.c1023");
        mcs_config cfg;
        mcs_err e = {0};
        mcs_hook_verdict v;
        char buf[64];
        mcs_config_init(&cfg);
        ck_assert_ok(mcs_config_parse(&cfg, "t.conf", "exclude = scratch-*\n", &e), &e);

        ck_assert_int_eq(mcs_hook_op_parse("start", "begin"), MCS_HOOK_START);
        ck_assert_int_eq(mcs_hook_op_parse("start", "end"), MCS_HOOK_OTHER);
        ck_assert_int_eq(mcs_hook_op_parse("release", "end"), MCS_HOOK_RELEASE);

        /* prepare: a static label free in the cluster is reserved now... */
        v = decide(h1, &cfg, MCS_HOOK_PREPARE, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert_msg(v.allow, "%s", v.msg);
        ck_assert_str_eq(label_of(h1, UUID_A, buf, sizeof buf), "s0:c1,c2/static");
        /* ...and refused to another guest on another host, naming the holder. */
        v = decide(h2, &cfg, MCS_HOOK_PREPARE, UUID_B, "vm2", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert(!v.allow);
        ck_assert_msg(strstr(v.msg, "held by guest vm1 (" UUID_A ") on host h1"), "%s", v.msg);
        /* A dynamic guest has no label yet at prepare: only the registry must answer. */
        v = decide(h2, &cfg, MCS_HOOK_PREPARE, UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, NULL);
        ck_assert(v.allow);
        ck_assert_ptr_null(label_of(h2, UUID_B, buf, sizeof buf));

        /* start: the reserved label passes; a label contained in it does not. */
        v = decide(h1, &cfg, MCS_HOOK_START, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert(v.allow);
        v = decide(h2, &cfg, MCS_HOOK_START, UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c1"));
        ck_assert(!v.allow);
        ck_assert_msg(strstr(v.msg, "contained in label s0:c1,c2 held by guest vm1"), "%s", v.msg);
        /* A free dynamic label is reserved exactly; a later draw replaces it. */
        v = decide(h2, &cfg, MCS_HOOK_START, UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c5,c6"));
        ck_assert(v.allow);
        ck_assert_str_eq(label_of(h2, UUID_B, buf, sizeof buf), "s0:c5,c6/dynamic");
        v = decide(h2, &cfg, MCS_HOOK_START, UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c7,c8"));
        ck_assert(v.allow);
        ck_assert_str_eq(label_of(h2, UUID_B, buf, sizeof buf), "s0:c7,c8/dynamic");
        /* A static guest starting with a label other than its reservation is refused. */
        v = decide(h1, &cfg, MCS_HOOK_START, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c3,c4"));
        ck_assert(!v.allow);
        ck_assert_msg(strstr(v.msg, "guest 'vm1' has label s0:c3,c4, but s0:c1,c2 is reserved for it (host h1)"), "%s",
                      v.msg);
        /* A dynamic draw that collides is refused and the old reservation kept. */
        v = decide(h2, &cfg, MCS_HOOK_START, UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c1,c2"));
        ck_assert(!v.allow);
        ck_assert_str_eq(label_of(h2, UUID_B, buf, sizeof buf), "s0:c7,c8/dynamic");

        /* No label at start (a host without SELinux), excluded, type='none': pass. */
        v = decide(h1, &cfg, MCS_HOOK_START, UUID_B, "vm2", MCS_SECLABEL_ABSENT, NULL);
        ck_assert(v.allow);
        ck_assert_ptr_nonnull(strstr(v.msg, "no SELinux label"));
        v = decide(h1, &cfg, MCS_HOOK_START, UUID_B, "scratch-1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert(v.allow);
        v = decide(h1, &cfg, MCS_HOOK_START, UUID_B, "vm2", MCS_SECLABEL_NONE, NULL);
        ck_assert(v.allow);
        /* An unusable label is refused at start. */
        v = decide(h1, &cfg, MCS_HOOK_START, UUID_B, "vm2", MCS_SECLABEL_STATIC, "garbage");
        ck_assert(!v.allow);

        /* migrate: the incoming label must be this UUID's; a dynamic one is not replaced. */
        v = decide(h2, &cfg, MCS_HOOK_MIGRATE, UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c7,c8"));
        ck_assert(v.allow);
        v = decide(h2, &cfg, MCS_HOOK_MIGRATE, UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c9,c10"));
        ck_assert(!v.allow);
        v = decide(h2, &cfg, MCS_HOOK_MIGRATE, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c7,c8"));
        ck_assert(!v.allow);

        /* reconnect: never refuses, but says what is wrong. */
        v = decide(h1, &cfg, MCS_HOOK_RECONNECT, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c7,c8"));
        ck_assert(v.allow);
        ck_assert_msg(strstr(v.msg, "keeps running, but"), "%s", v.msg);

        /* release: a transient reservation goes, others stay. */
        mcs_guest t = {.uuid = "cccccccc-bbbb-cccc-dddd-eeeeeeeeeeee", .name = "t1", .kind = MCS_KIND_TRANSIENT};
        mcs_record rec;
        ck_assert_ok(mcs_registry_reserve_label(h1, &t, "s0:c20,c21", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        v = decide(h1, &cfg, MCS_HOOK_RELEASE, t.uuid, "t1", MCS_SECLABEL_DYNAMIC, CTX("s0:c20,c21"));
        ck_assert(v.allow);
        ck_assert_ptr_null(label_of(h1, t.uuid, buf, sizeof buf));
        v = decide(h1, &cfg, MCS_HOOK_RELEASE, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert(v.allow);
        ck_assert_str_eq(label_of(h1, UUID_A, buf, sizeof buf), "s0:c1,c2/static");

        mcs_config_clear(&cfg);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

/* start, restore and migrate begin record the guest as running here, so
 * that another host's delayed release of the record finds it changed. */
START_TEST(start_records_running_here) {
        mcs_registry *h1 = test_open_registry("h1", "c0.c1023"), *h2 = test_open_registry("h2", "c0.c1023");
        mcs_config cfg;
        mcs_hook_verdict v;
        mcs_record rec, now;
        mcs_err e = {0};
        mcs_config_init(&cfg);

        mcs_guest g = {.uuid = UUID_A, .name = "vm1", .kind = MCS_KIND_STATIC};
        ck_assert_ok(mcs_registry_reserve_label(h1, &g, "s0:c1,c2", &rec, NULL, &e), &e);
        ck_assert_str_eq(rec.host, "h1");
        ck_assert_int_eq(rec.state, MCS_STATE_RESERVED);

        v = decide(h2, &cfg, MCS_HOOK_MIGRATE, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert_msg(v.allow, "%s", v.msg);
        ck_assert_ok(mcs_registry_get(h1, UUID_A, &now, &e), &e);
        ck_assert_str_eq(now.host, "h2");
        ck_assert_int_eq(now.state, MCS_STATE_RUNNING);
        ck_assert_uint_gt(now.generation, rec.generation);
        mcs_record_clear(&now);
        /* h1's release of what it read is refused; the label stays. */
        ck_assert_fails(mcs_registry_release_if(h1, UUID_A, "h1", rec.generation, NULL, &e), &e, MCS_E_CHANGED, "host h2");

        /* It runs on h2: h1 does not start it, and says where it runs. */
        v = decide(h1, &cfg, MCS_HOOK_START, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert(!v.allow);
        ck_assert_msg(strstr(v.msg, "runs on host h2"), "%s", v.msg);
        /* Stopped on h2: h1 may start it, and the record moves to h1. */
        ck_assert_ok(mcs_registry_set_state(h2, UUID_A, MCS_STATE_RESERVED, NULL, &e), &e);
        v = decide(h1, &cfg, MCS_HOOK_START, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert_msg(v.allow, "%s", v.msg);
        ck_assert_ok(mcs_registry_get(h2, UUID_A, &now, &e), &e);
        ck_assert_str_eq(now.host, "h1");
        ck_assert_int_eq(now.state, MCS_STATE_RUNNING);
        mcs_record_clear(&now);
        ck_assert_ok(mcs_registry_set_state(h1, UUID_A, MCS_STATE_RESERVED, NULL, &e), &e);
        v = decide(h2, &cfg, MCS_HOOK_RESTORE, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert(v.allow);
        ck_assert_ok(mcs_registry_get(h2, UUID_A, &now, &e), &e);
        ck_assert_str_eq(now.host, "h2");
        mcs_record_clear(&now);

        /* A refused start moves nothing. */
        v = decide(h1, &cfg, MCS_HOOK_START, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c3,c4"));
        ck_assert(!v.allow);
        ck_assert_ok(mcs_registry_get(h2, UUID_A, &now, &e), &e);
        ck_assert_str_eq(now.host, "h2");
        mcs_record_clear(&now);

        mcs_record_clear(&rec);
        mcs_config_clear(&cfg);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

/* Issue 24 item 2: a host acts only on what it holds. */
#define UUID_T "cccccccc-bbbb-cccc-dddd-eeeeeeeeeeee"

static mcs_record record_of(mcs_registry *r, const char *uuid) {
        mcs_record rec;
        mcs_err e = {0};
        ck_assert_ok(mcs_registry_get(r, uuid, &rec, &e), &e);
        return rec;
}

/* A transient guest migrated h1 -> h2: h1's release end leaves h2's record. */
START_TEST(release_after_migration_keeps_the_new_hosts_record) {
        mcs_registry *h1 = test_open_registry("h1", "c0.c1023"), *h2 = test_open_registry("h2", "c0.c1023");
        mcs_config cfg;
        mcs_hook_verdict v;
        mcs_config_init(&cfg);

        /* A transient guest has no record until the daemon registers it; here it is made one. */
        mcs_guest t = {.uuid = UUID_T, .name = "t1", .kind = MCS_KIND_TRANSIENT};
        mcs_record rec;
        mcs_err e = {0};
        ck_assert_ok(mcs_registry_reserve_label(h1, &t, "s0:c20,c21", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        v = decide(h1, &cfg, MCS_HOOK_START, UUID_T, "t1", MCS_SECLABEL_DYNAMIC, CTX("s0:c20,c21"));
        ck_assert_msg(v.allow, "%s", v.msg);
        v = decide(h2, &cfg, MCS_HOOK_MIGRATE, UUID_T, "t1", MCS_SECLABEL_DYNAMIC, CTX("s0:c20,c21"));
        ck_assert_msg(v.allow, "%s", v.msg);
        /* Issue 24 item 3: the record stays h1's, migrating, until h2 runs it. */
        rec = record_of(h1, UUID_T);
        ck_assert_str_eq(rec.host, "h1");
        ck_assert_int_eq(rec.state, MCS_STATE_MIGRATING);
        mcs_record_clear(&rec);
        v = decide(h1, &cfg, MCS_HOOK_RELEASE, UUID_T, "t1", MCS_SECLABEL_DYNAMIC, CTX("s0:c20,c21"));
        ck_assert(v.allow);
        ck_assert_str_eq(v.released, "");
        ck_assert_msg(strstr(v.msg, "keeps s0:c20,c21"), "%s", v.msg);
        /* h2's mcsd sees it run there: the record moves; h1's release end still leaves it. */
        ck_assert_ok(mcs_registry_set_state(h2, UUID_T, MCS_STATE_RUNNING, NULL, &e), &e);
        v = decide(h1, &cfg, MCS_HOOK_RELEASE, UUID_T, "t1", MCS_SECLABEL_DYNAMIC, CTX("s0:c20,c21"));
        ck_assert_str_eq(v.released, "");
        rec = record_of(h1, UUID_T);
        ck_assert_str_eq(rec.host, "h2");
        ck_assert_str_eq(rec.label, "s0:c20,c21");
        ck_assert_int_eq(rec.state, MCS_STATE_RUNNING);
        mcs_record_clear(&rec);
        /* h2's own release end releases it. */
        v = decide(h2, &cfg, MCS_HOOK_RELEASE, UUID_T, "t1", MCS_SECLABEL_DYNAMIC, CTX("s0:c20,c21"));
        ck_assert_str_eq(v.released, "s0:c20,c21");
        ck_assert_int_eq(mcs_registry_get(h1, UUID_T, &rec, &e), -MCS_E_NOTFOUND);

        mcs_config_clear(&cfg);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

/* A guest running on h1 with its label: a start of the same UUID on h2
 * with a label libvirt drew there is refused, naming h1, and h1's record
 * is untouched. */
START_TEST(start_elsewhere_never_takes_a_running_label) {
        mcs_registry *h1 = test_open_registry("h1", "c0.c1023"), *h2 = test_open_registry("h2", "c0.c1023");
        mcs_config cfg;
        mcs_hook_verdict v;
        mcs_config_init(&cfg);

        v = decide(h1, &cfg, MCS_HOOK_START, UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c5,c6"));
        ck_assert_msg(v.allow, "%s", v.msg);
        mcs_record before = record_of(h1, UUID_B);
        ck_assert_str_eq(before.host, "h1");
        ck_assert_int_eq(before.state, MCS_STATE_RUNNING);

        static const mcs_hook_op ops[] = {MCS_HOOK_START, MCS_HOOK_RESTORE};
        for (size_t i = 0; i < 2; i++) {
                v = decide(h2, &cfg, ops[i], UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c7,c8"));
                ck_assert(!v.allow);
                ck_assert_msg(strstr(v.msg, "runs on host h1 with label s0:c5,c6"), "%s", v.msg);
                /* With the same label too: one QEMU per UUID. */
                v = decide(h2, &cfg, ops[i], UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c5,c6"));
                ck_assert(!v.allow);
                mcs_record now = record_of(h2, UUID_B);
                ck_assert_str_eq(now.label, "s0:c5,c6");
                ck_assert_str_eq(now.host, "h1");
                ck_assert_int_eq(now.state, MCS_STATE_RUNNING);
                ck_assert_uint_eq(now.generation, before.generation);
                ck_assert_int_eq(now.created_us, before.created_us);
                mcs_record_clear(&now);
        }
        /* Another guest still cannot have h1's running label. */
        v = decide(h2, &cfg, MCS_HOOK_START, UUID_A, "vm1", MCS_SECLABEL_DYNAMIC, CTX("s0:c5,c6"));
        ck_assert(!v.allow);

        mcs_record_clear(&before);
        mcs_config_clear(&cfg);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

/* A start refused for its new label never lets go of the old one: the
 * record is the same one (generation, created_us), not one made again. */
START_TEST(refused_start_keeps_the_record) {
        mcs_registry *h1 = test_open_registry("h1", "c0.c1023"), *h2 = test_open_registry("h2", "c0.c1023");
        mcs_config cfg;
        mcs_hook_verdict v;
        mcs_config_init(&cfg);

        v = decide(h1, &cfg, MCS_HOOK_START, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert_msg(v.allow, "%s", v.msg);
        v = decide(h2, &cfg, MCS_HOOK_START, UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c5,c6"));
        ck_assert_msg(v.allow, "%s", v.msg);
        mcs_err e = {0};
        ck_assert_ok(mcs_registry_set_state(h2, UUID_B, MCS_STATE_RESERVED, NULL, &e), &e);
        mcs_record before = record_of(h2, UUID_B);

        /* libvirt drew vm1's pair for vm2: refused, vm2 keeps its record as it was. */
        v = decide(h2, &cfg, MCS_HOOK_START, UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c1,c2"));
        ck_assert(!v.allow);
        ck_assert_msg(strstr(v.msg, "held by guest vm1"), "%s", v.msg);
        mcs_record now = record_of(h1, UUID_B);
        ck_assert_str_eq(now.label, "s0:c5,c6");
        ck_assert_uint_eq(now.generation, before.generation);
        ck_assert_int_eq(now.created_us, before.created_us);
        mcs_record_clear(&now);

        /* A draw sharing a category with its own old pair replaces it in one step. */
        v = decide(h2, &cfg, MCS_HOOK_START, UUID_B, "vm2", MCS_SECLABEL_DYNAMIC, CTX("s0:c5,c9"));
        ck_assert_msg(v.allow, "%s", v.msg);
        now = record_of(h1, UUID_B);
        ck_assert_str_eq(now.label, "s0:c5,c9");
        ck_assert_uint_gt(now.generation, before.generation);
        mcs_record_clear(&now);

        mcs_record_clear(&before);
        mcs_config_clear(&cfg);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

/* Issue 24 item 3: a migration that never completes leaves the record with
 * its source, whatever the destination's hooks saw. */
START_TEST(cancelled_migration_stays_with_the_source) {
        mcs_registry *h1 = test_open_registry("h1", "c0.c1023"), *h2 = test_open_registry("h2", "c0.c1023");
        mcs_config cfg;
        mcs_hook_verdict v;
        mcs_err e = {0};
        mcs_config_init(&cfg);

        v = decide(h1, &cfg, MCS_HOOK_START, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert_msg(v.allow, "%s", v.msg);
        /* The incoming side: migrate begin, prepare, start; none takes the record. */
        v = decide(h2, &cfg, MCS_HOOK_MIGRATE, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert_msg(v.allow && strstr(v.msg, "migrates in from host h1"), "%s", v.msg);
        v = decide(h2, &cfg, MCS_HOOK_PREPARE, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert_msg(v.allow, "%s", v.msg);
        v = decide(h2, &cfg, MCS_HOOK_START, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert_msg(v.allow && strstr(v.msg, "migrating from host h1"), "%s", v.msg);
        mcs_record rec = record_of(h2, UUID_A);
        ck_assert_str_eq(rec.host, "h1");
        ck_assert_int_eq(rec.state, MCS_STATE_MIGRATING);
        mcs_record_clear(&rec);
        /* Another label for it is refused while it migrates. */
        v = decide(h2, &cfg, MCS_HOOK_START, UUID_A, "vm1", MCS_SECLABEL_DYNAMIC, CTX("s0:c3,c4"));
        ck_assert(!v.allow);
        /* Cancelled: the incoming guest's release end on h2, h1's on its own: nobody releases it. */
        v = decide(h2, &cfg, MCS_HOOK_RELEASE, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert_str_eq(v.released, "");
        rec = record_of(h2, UUID_A);
        ck_assert(mcs_guest_release(h1, &rec, NULL, &e) == -MCS_E_CHANGED);
        ck_assert_msg(strstr(e.msg, "migrates from host h1"), "%s", e.msg);
        ck_assert(mcs_guest_release(h2, &rec, NULL, &e) == -MCS_E_CHANGED);
        mcs_record_clear(&rec);
        rec = record_of(h2, UUID_A);
        ck_assert_str_eq(rec.label, "s0:c1,c2");
        mcs_record_clear(&rec);
        /* h1 records it running again (its mcsd: the guest runs there, no migration job). */
        ck_assert_ok(mcs_registry_set_state(h1, UUID_A, MCS_STATE_RUNNING, NULL, &e), &e);
        v = decide(h2, &cfg, MCS_HOOK_START, UUID_A, "vm1", MCS_SECLABEL_STATIC, CTX("s0:c1,c2"));
        ck_assert(!v.allow);

        /* A host without SELinux (no label in the XML, without_selinux = reserve) records the same. */
        v = decide(h2, &cfg, MCS_HOOK_MIGRATE, UUID_A, "vm1", MCS_SECLABEL_ABSENT, NULL);
        ck_assert_msg(v.allow, "%s", v.msg);
        rec = record_of(h2, UUID_A);
        ck_assert_str_eq(rec.host, "h1");
        ck_assert_int_eq(rec.state, MCS_STATE_MIGRATING);
        mcs_record_clear(&rec);

        mcs_config_clear(&cfg);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

int main(void) {
        Suite *s = suite_create("hook");
        TCase *tc = tcase_create("rules");
        tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
        tcase_add_test(tc, operations_and_outcomes);
        tcase_add_test(tc, start_records_running_here);
        tcase_add_test(tc, release_after_migration_keeps_the_new_hosts_record);
        tcase_add_test(tc, start_elsewhere_never_takes_a_running_label);
        tcase_add_test(tc, refused_start_keeps_the_record);
        tcase_add_test(tc, cancelled_migration_stays_with_the_source);
        suite_add_tcase(s, tc);
        return test_run(s);
}
