/* The rules that decide what a guest's label should be, applied against the
 * registry. The daemon fetches the XML from libvirt, calls
 * mcs_guest_apply_rules() and, when the outcome carries new XML, defines it. */
#pragma once

#include <stdbool.h>

#include "mcs-config.h"
#include "mcs-domain-label.h"
#include "mcs-domain-xml.h"
#include "mcs-registry.h"

typedef enum mcs_guest_status {
        MCS_GUEST_MANAGED,   /* holds a reservation that matches its XML */
        MCS_GUEST_UNMANAGED, /* left alone: excluded, type='none', or no label to register */
        MCS_GUEST_REFUSED,   /* its label is held by another guest or isolates nothing */
} mcs_guest_status;

typedef struct mcs_guest_outcome {
        mcs_guest_status status;
        char why[MCS_ERR_MSG_MAX]; /* for unmanaged and refused guests; a note for deferred ones */
        char *new_xml;             /* non-NULL: define this XML (a dynamic guest got its static label) */
        mcs_record rec;            /* the reservation, for managed guests */
        bool created;              /* the reservation is new */
        bool replaced;             /* an older reservation of the guest was released first */
        bool adopted;              /* a running dynamic guest's live label became its reservation */
        bool deferred;             /* a running guest's new static label waits for it to stop (why says
                                    * which); rec is the old reservation, still held */
} mcs_guest_outcome;

/* d is the parsed xml; persistent says whether libvirt keeps the guest's
 * definition (transient guests vanish when they stop); active whether it
 * runs (a running guest's label is never released). live_label is the
 * process context of a running guest (NULL otherwise): a dynamic guest that
 * holds no reservation yet keeps it when no other guest's label conflicts,
 * so that first deployment changes no running guest's label. Errors
 * (registry, exhaustion, memory) are returned; refusals are an outcome. */
int mcs_guest_apply_rules(mcs_registry *r, const mcs_config *cfg, const mcs_domain_types *types, const char *xml,
                          const mcs_domain *d, bool persistent, bool active, const char *live_label,
                          mcs_guest_outcome *out, mcs_err *e);

void mcs_guest_outcome_clear(mcs_guest_outcome *o);

const char *mcs_guest_status_name(mcs_guest_status s);
