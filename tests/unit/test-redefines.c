/* daemon/redefines.c against libvirt's own test driver, in this process
 * (test:///default, no daemon): a define of mcsd's that re-created a guest
 * its owner had just undefined is undone, whichever order the two events
 * come in; a guest someone else defined or started since is left alone. */
#include <libvirt/libvirt.h>
#include <stdio.h>

#include "redefines.h"
#include "test-util.h"

#define UUID "33333333-0000-4000-8000-000000000001"
#define XML                                                                                                     \
        "<domain type='test'><name>re</name><uuid>" UUID "</uuid><memory>65536</memory><os><type>hvm</type></os>" \
        "</domain>"

static mcsd d;

static void setup(void) {
        ck_assert_int_eq(virEventRegisterDefaultImpl(), 0);
        d = (mcsd){0};
        d.conn = virConnectOpen("test:///default");
        ck_assert_ptr_nonnull(d.conn);
        ck_assert_ptr_nonnull(d.redefines = redefines_new());
}

static void teardown(void) {
        redefines_free(d.redefines);
        virConnectClose(d.conn);
}

/* mcsd's define: the guest as libvirt holds it after it, watched. */
static void define_and_watch(void) {
        virDomainPtr dom = virDomainDefineXML(d.conn, XML);
        ck_assert_ptr_nonnull(dom);
        char *after = domain_xml(dom, true);
        ck_assert_ptr_nonnull(after);
        virDomainFree(dom);
        redefines_add(&d, UUID, after);
}

static bool defined(void) {
        virDomainPtr dom = virDomainLookupByUUIDString(d.conn, UUID);
        if (dom)
                virDomainFree(dom);
        return dom != NULL;
}

/* Runs the loop until the watch has decided (its settle time is 1 s). */
static void settle(void) {
        for (int i = 0; i < 400 && redefines_count(&d) > 0; i++)
                ck_assert_int_eq(virEventRunDefaultImpl(), 0);
        ck_assert_uint_eq(redefines_count(&d), 0);
}

static void note(int event, int detail) {
        redefines_note_event(&d, UUID, event, detail);
}

START_TEST(recreation_undone_undefined_first) {
        define_and_watch();
        note(VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED);
        note(VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED);
        settle();
        ck_assert(!defined());
}
END_TEST

/* The test driver queues an undefine's event after it let go of its guest
 * list: a define in between reports its ADDED first (seen in the nova test). */
START_TEST(recreation_undone_added_first) {
        define_and_watch();
        note(VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED);
        note(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
        note(VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED);
        note(VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED);
        settle();
        ck_assert(!defined());
}
END_TEST

/* mcsd's define updated the guest (its echo came): the undefine and the
 * fresh define after it are the owner's, and stay. */
START_TEST(owners_fresh_define_stays) {
        define_and_watch();
        note(VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_UPDATED);
        note(VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED);
        note(VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED);
        settle();
        ck_assert(defined());
}
END_TEST

/* Started after it was re-created: someone uses it; left alone. */
START_TEST(started_recreation_stays) {
        define_and_watch();
        note(VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED);
        note(VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED);
        note(VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED);
        settle();
        ck_assert(defined());
}
END_TEST

/* Redefined since by someone else (its XML differs): left alone. */
START_TEST(changed_recreation_stays) {
        define_and_watch();
        note(VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED);
        note(VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED);
        virDomainPtr dom = virDomainDefineXML(d.conn, "<domain type='test'><name>re</name><uuid>" UUID "</uuid>"
                                                      "<description>edited</description><memory>65536</memory><os>"
                                                      "<type>hvm</type></os></domain>");
        ck_assert_ptr_nonnull(dom);
        virDomainFree(dom);
        settle();
        ck_assert(defined());
}
END_TEST

int main(void) {
        Suite *s = suite_create("redefines");
        TCase *tc = tcase_create("watch");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, recreation_undone_undefined_first);
        tcase_add_test(tc, recreation_undone_added_first);
        tcase_add_test(tc, owners_fresh_define_stays);
        tcase_add_test(tc, started_recreation_stays);
        tcase_add_test(tc, changed_recreation_stays);
        suite_add_tcase(s, tc);
        return test_run(s);
}
