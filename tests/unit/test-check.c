/* mcsctl check's comparisons: every discrepancy between the registry, a
 * guest's XML, its live label and its images, and none where they agree. */
#include <errno.h>
#include <stdio.h>

#include "mcs-guest-check.h"
#include "test-util.h"

#define UUID_A "11111111-2222-3333-4444-555555555555"

static char found[4096];

static void collect(void *opaque, const char *uuid, const char *name, const char *what) {
        (void) opaque;
        size_t n = strlen(found);
        snprintf(found + n, sizeof found - n, "%s %s: %s\n", uuid, name, what);
}

static mcs_domain guest(const char *xml) {
        mcs_domain d;
        mcs_err e = {0};
        ck_assert_ok(mcs_domain_parse(xml, &d, &e), &e);
        return d;
}

static unsigned run(mcs_check_guest_input *in) {
        found[0] = '\0';
        return mcs_check_guest(in, collect, NULL);
}

#define STATIC_XML(relabel, disks)                                                                         \
        "<domain type='kvm'><name>vm1</name><uuid>" UUID_A "</uuid><devices>" disks "</devices>"       \
        "<seclabel type='static' model='selinux' relabel='" relabel "'><label>u:r:svirt_t:s0:c1,c2</label>" \
        "</seclabel></domain>"

START_TEST(agreement_and_registry_discrepancies) {
        mcs_domain d = guest(STATIC_XML("yes", ""));
        mcs_record rec = {.uuid = UUID_A, .name = "vm1", .label = "s0:c1,c2", .host = "h1",
                          .kind = MCS_KIND_DYNAMIC, .state = MCS_STATE_RESERVED};
        mcs_check_guest_input in = {.dom = &d, .persistent = true, .rec = &rec, .host_id = "h1"};

        ck_assert_uint_eq(run(&in), 0);
        in.active = true;
        in.live_label = "u:r:svirt_t:s0:c1,c2";
        ck_assert_uint_eq(run(&in), 1);
        ck_assert_ptr_nonnull(strstr(found, UUID_A " vm1: runs here, but the registry says reserved on host h1"));
        rec.state = MCS_STATE_RUNNING;
        ck_assert_uint_eq(run(&in), 0);
        in.live_label = "u:r:svirt_t:s0:c3,c4";
        ck_assert_uint_eq(run(&in), 1);
        ck_assert_ptr_nonnull(strstr(found, "runs with u:r:svirt_t:s0:c3,c4, not its reservation s0:c1,c2"));
        in.active = false;
        in.live_label = NULL;
        ck_assert_uint_eq(run(&in), 1);
        ck_assert_ptr_nonnull(strstr(found, "the registry says it runs here, but it does not"));
        rec.state = MCS_STATE_RESERVED;

        rec.label = "s0:c5,c6";
        rec.name = "old-name";
        ck_assert_uint_eq(run(&in), 2);
        ck_assert_ptr_nonnull(strstr(found, "its XML label u:r:svirt_t:s0:c1,c2 differs from its reservation s0:c5,c6"));
        ck_assert_ptr_nonnull(strstr(found, "the registry knows it as 'old-name'"));
        rec.name = "vm1";

        in.rec = NULL;
        ck_assert_uint_eq(run(&in), 1);
        ck_assert_ptr_nonnull(strstr(found, "holds no reservation in the registry"));
        in.refused = "label s0:c1,c2 is held by guest vm9";
        ck_assert_uint_eq(run(&in), 1);
        ck_assert_ptr_nonnull(strstr(found, "its label is refused: label s0:c1,c2 is held by guest vm9"));
        in.refused = NULL;
        /* A running guest in collision holds nothing: that one line says it. */
        in.collision = "runs with s0:c1,c2 on host h1 while guest 'vm9' holds s0:c1,c2 on host h2 and runs";
        ck_assert_uint_eq(run(&in), 1);
        ck_assert_ptr_nonnull(strstr(found, "COLLISION: runs with s0:c1,c2 on host h1 while guest 'vm9'"));
        in.collision = NULL;
        in.excluded = true;
        ck_assert_uint_eq(run(&in), 0);
        mcs_domain_clear(&d);

        d = guest("<domain type='kvm'><name>vm1</name><uuid>" UUID_A "</uuid></domain>");
        in = (mcs_check_guest_input){.dom = &d, .persistent = true, .rec = &rec, .host_id = "h1"};
        ck_assert_uint_eq(run(&in), 1);
        ck_assert_ptr_nonnull(strstr(found, "its XML has no static label yet (reserved: s0:c5,c6)"));
        mcs_domain_clear(&d);
}
END_TEST

START_TEST(images) {
        mcs_domain d = guest(STATIC_XML("no", "<disk type='file'><source file='/i/own.qcow2'/></disk>"
                                              "<disk type='file'><source file='/i/shared.raw'/><shareable/></disk>"
                                              "<disk type='file'><source file='/i/iso'/><readonly/></disk>"
                                              "<disk type='file'><source file='/i/mine'><seclabel relabel='no'/></source></disk>"
                                              "<disk type='block'><source dev='/dev/vg/x'/></disk>"));
        mcs_record rec = {.uuid = UUID_A, .name = "vm1", .label = "s0:c1,c2", .host = "h1",
                          .kind = MCS_KIND_STATIC, .state = MCS_STATE_RESERVED};
        const char *labels[] = {"u:object_r:svirt_image_t:s0:c1,c2", "u:object_r:svirt_image_t:s0", "whatever", "x",
                                "u:object_r:svirt_image_t:s0:c1,c2"};
        int errs[5] = {0};
        mcs_check_guest_input in = {.dom = &d, .persistent = true, .rec = &rec, .host_id = "h1",
                                    .disk_labels = labels, .disk_errno = errs};
        ck_assert_uint_eq(d.n_disks, 5);
        ck_assert_uint_eq(run(&in), 0);

        labels[0] = "u:object_r:svirt_image_t:s0:c2,c3";
        labels[1] = "u:object_r:svirt_image_t:s0:c1,c2";
        labels[4] = NULL;
        ck_assert_uint_eq(run(&in), 3);
        ck_assert_ptr_nonnull(strstr(found, "disk /i/own.qcow2 is labelled u:object_r:svirt_image_t:s0:c2,c3, not s0:c1,c2"));
        ck_assert_ptr_nonnull(strstr(found, "disk /i/shared.raw is labelled u:object_r:svirt_image_t:s0:c1,c2, not s0"));
        ck_assert_ptr_nonnull(strstr(found, "disk /dev/vg/x carries no SELinux label; it should carry s0:c1,c2"));
        errs[4] = EACCES;
        ck_assert_uint_eq(run(&in), 3);
        ck_assert_ptr_nonnull(strstr(found, "disk /dev/vg/x: cannot read its label: Permission denied"));
        mcs_domain_clear(&d);

        /* relabel='yes': libvirt labels images at start; only a running
         * guest on an SELinux host is compared. */
        d = guest(STATIC_XML("yes", "<disk type='file'><source file='/i/own.qcow2'/></disk>"));
        errs[0] = 0;
        in.dom = &d;
        ck_assert_uint_eq(run(&in), 0);
        in.active = true;
        rec.state = MCS_STATE_RUNNING;
        ck_assert_uint_eq(run(&in), 0);
        in.selinux_host = true;
        ck_assert_uint_eq(run(&in), 1);
        mcs_domain_clear(&d);
}
END_TEST

/* A host without an SELinux driver, and guests mcsd failed on. */
START_TEST(policies_and_failures) {
        mcs_domain d = guest("<domain type='kvm'><name>vm1</name><uuid>" UUID_A "</uuid></domain>");
        mcs_record rec = {.uuid = UUID_A, .name = "vm1", .label = "s0:c1,c2", .host = "h1",
                          .kind = MCS_KIND_DYNAMIC, .state = MCS_STATE_RESERVED};
        mcs_check_guest_input in = {.dom = &d, .persistent = true, .host_id = "h1"};

        ck_assert_uint_eq(run(&in), 1); /* labels written: no reservation is a problem */
        ck_assert_ptr_nonnull(strstr(found, "holds no reservation"));
        in.policy = MCS_LABELS_OFF;
        ck_assert_uint_eq(run(&in), 0);
        in.policy = MCS_LABELS_RESERVE;
        ck_assert_uint_eq(run(&in), 1);
        in.rec = &rec; /* reserved, and the XML rightly keeps no label */
        ck_assert_uint_eq(run(&in), 0);
        in.policy = MCS_LABELS_WRITE;
        ck_assert_uint_eq(run(&in), 1);
        ck_assert_ptr_nonnull(strstr(found, "its XML has no static label yet (reserved: s0:c1,c2)"));

        in.policy = MCS_LABELS_RESERVE;
        in.failed = "its images: /i/gone.raw: No such file or directory";
        ck_assert_uint_eq(run(&in), 1);
        ck_assert_ptr_nonnull(strstr(found, "mcsd failed on it: its images: /i/gone.raw: No such file or directory"));
        mcs_domain_clear(&d);
}
END_TEST

START_TEST(orphans) {
        mcs_record rec = {.uuid = UUID_A, .name = "gone", .label = "s0:c1,c2", .host = "h1",
                          .kind = MCS_KIND_DYNAMIC, .state = MCS_STATE_RESERVED};
        found[0] = '\0';
        ck_assert_uint_eq(mcs_check_orphan(&rec, "h1", collect, NULL), 1);
        ck_assert_ptr_nonnull(strstr(found, "s0:c1,c2 is reserved for a guest this host no longer has"));
        ck_assert_uint_eq(mcs_check_orphan(&rec, "h2", collect, NULL), 0);
        rec.kind = MCS_KIND_STATIC; /* an operator's reservation for a guest to come */
        ck_assert_uint_eq(mcs_check_orphan(&rec, "h1", collect, NULL), 0);
        rec.state = MCS_STATE_RUNNING;
        found[0] = '\0';
        ck_assert_uint_eq(mcs_check_orphan(&rec, "h1", collect, NULL), 1);
        ck_assert_ptr_nonnull(strstr(found, "the registry says it runs here with s0:c1,c2, but this host has no such guest"));
        rec.state = MCS_STATE_MIGRATING;
        rec.kind = MCS_KIND_DYNAMIC;
        found[0] = '\0';
        ck_assert_uint_eq(mcs_check_orphan(&rec, "h1", collect, NULL), 1);
        ck_assert_ptr_nonnull(strstr(found, "migrates from here with s0:c1,c2"));
        ck_assert_ptr_null(strstr(found, "mcsctl gc"));
}
END_TEST

int main(void) {
        Suite *s = suite_create("check");
        TCase *tc = tcase_create("check");
        tcase_add_test(tc, agreement_and_registry_discrepancies);
        tcase_add_test(tc, images);
        tcase_add_test(tc, orphans);
        tcase_add_test(tc, policies_and_failures);
        suite_add_tcase(s, tc);
        return test_run(s);
}
