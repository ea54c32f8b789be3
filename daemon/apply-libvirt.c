/* The apply_port of a real libvirt connection: each call is the libvirt
 * call the rules need, nothing more. An apply_dom is the virDomainPtr. */
#include <libvirt/virterror.h>
#include <stdio.h>

#include "apply-libvirt.h"

static virDomainPtr vd(apply_dom *dom) {
        return (virDomainPtr) dom;
}

apply_dom *apply_libvirt_dom(virDomainPtr dom) {
        return (apply_dom *) dom;
}

static int lookup(void *ctx, const char *uuid, apply_dom **out) {
        virDomainPtr dom = virDomainLookupByUUIDString(ctx, uuid);
        if (dom) {
                *out = apply_libvirt_dom(dom);
                return 1;
        }
        return virGetLastErrorCode() == VIR_ERR_NO_DOMAIN ? 0 : -1;
}

static void put(void *ctx, apply_dom *dom) {
        (void) ctx;
        virDomainFree(vd(dom));
}

static void uuid(void *ctx, apply_dom *dom, char out[VIR_UUID_STRING_BUFLEN]) {
        (void) ctx;
        virDomainGetUUIDString(vd(dom), out);
}

static const char *name(void *ctx, apply_dom *dom) {
        (void) ctx;
        return virDomainGetName(vd(dom));
}

static int is_persistent(void *ctx, apply_dom *dom) {
        (void) ctx;
        return virDomainIsPersistent(vd(dom));
}

static int is_active(void *ctx, apply_dom *dom) {
        (void) ctx;
        return virDomainIsActive(vd(dom));
}

static char *xml(void *ctx, apply_dom *dom, bool persistent) {
        (void) ctx;
        return domain_xml(vd(dom), persistent);
}

static char *live_xml(void *ctx, apply_dom *dom) {
        (void) ctx;
        return virDomainGetXMLDesc(vd(dom), 0);
}

static int process_label(void *ctx, apply_dom *dom, char *out, size_t len) {
        virSecurityLabel live;
        (void) ctx;
        if (virDomainGetSecurityLabel(vd(dom), &live) < 0)
                return -1;
        snprintf(out, len, "%s", live.label);
        return 0;
}

/* True while libvirt runs a job on the guest (a migration, either end) or
 * holds it paused for an incoming migration. A driver that cannot tell
 * (the test driver has no jobs) runs no migration. */
static bool migrating(void *ctx, apply_dom *dom) {
        virDomainJobInfo info;
        int state, reason;
        (void) ctx;
        if (virDomainGetJobInfo(vd(dom), &info) == 0 && info.type != VIR_DOMAIN_JOB_NONE)
                return true;
        return virDomainGetState(vd(dom), &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
               reason == VIR_DOMAIN_PAUSED_MIGRATION;
}

static int define(void *ctx, const char *xml_in, char **after) {
        virDomainPtr redefined = virDomainDefineXML(ctx, xml_in);
        if (!redefined)
                return -1;
        *after = domain_xml(redefined, true);
        virDomainFree(redefined);
        return 0;
}

static const char *error(void *ctx) {
        (void) ctx;
        return virGetLastErrorMessage();
}

apply_port apply_libvirt_port(virConnectPtr conn) {
        return (apply_port){.ctx = conn, .lookup = lookup, .put = put, .uuid = uuid, .name = name,
                            .is_persistent = is_persistent, .is_active = is_active, .xml = xml,
                            .live_xml = live_xml, .process_label = process_label, .migrating = migrating,
                            .define = define, .error = error};
}
