/* Reading guests from libvirt, shared by the event handling and the
 * methods: a guest's definition parsed, its live label, and sorted UUID
 * lists of the guests a listing returned. */
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "mcs-macro.h"
#include "mcsd.h"

char *domain_xml(virDomainPtr dom, bool persistent) {
        /* SECURE: a redefinition must keep passwords (graphics, secrets). */
        return virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE | (persistent ? VIR_DOMAIN_XML_INACTIVE : 0));
}

int domain_parse(virDomainPtr dom, bool persistent, mcs_domain *out, mcs_err *e) {
        /* Only read, never redefined: no need for the passwords. */
        _cleanup_free_ char *xml = virDomainGetXMLDesc(dom, persistent ? VIR_DOMAIN_XML_INACTIVE : 0);
        if (!xml)
                return mcs_fail(e, MCS_E_IO, "cannot read its XML: %s", virGetLastErrorMessage());
        return mcs_domain_parse(xml, out, e);
}

bool domain_exists(virConnectPtr conn, const char *uuid, bool *exists) {
        virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid);
        if (dom) {
                virDomainFree(dom);
                *exists = true;
                return true;
        }
        *exists = false;
        return virGetLastErrorCode() == VIR_ERR_NO_DOMAIN;
}

char *domain_xml_label(const char *xml) {
        mcs_domain live = {0};
        if (!xml || mcs_domain_parse(xml, &live, NULL) < 0)
                return NULL;
        char *label = MCS_TAKE_PTR(live.label);
        mcs_domain_clear(&live);
        return label;
}

char *domain_live_label(virDomainPtr dom) {
        _cleanup_free_ char *xml = virDomainGetXMLDesc(dom, 0);
        return domain_xml_label(xml);
}

void domain_list_free(virDomainPtr *doms, int n) {
        for (int i = 0; i < n; i++)
                virDomainFree(doms[i]);
        free(doms);
}

static int cmp_uuid(const void *a, const void *b) {
        return strcmp(a, b);
}

uuid_str *domain_sorted_uuids(virDomainPtr *doms, int n) {
        uuid_str *v = calloc(n ? (size_t) n : 1, sizeof *v);
        if (!v)
                return NULL;
        for (int i = 0; i < n; i++)
                virDomainGetUUIDString(doms[i], v[i]);
        qsort(v, (size_t) n, sizeof *v, cmp_uuid);
        return v;
}

bool domain_listed(uuid_str *uuids, int n, const char *uuid) {
        return bsearch(uuid, uuids, (size_t) n, sizeof *uuids, cmp_uuid) != NULL;
}
