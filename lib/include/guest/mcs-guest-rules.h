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
        MCS_GUEST_FAILED,    /* mcsd could not do what the rules ask (the reason says why) */
        MCS_GUEST_WAITING,   /* waiting for a label: no free pair is left in the range */
        MCS_GUEST_COLLISION, /* runs with a label another guest's reservation equals, contains or is
                              * contained in: the two can read each other's images now */
} mcs_guest_status;

#define MCS_GUEST_STATUSES 6

/* What a host's libvirt lets mcsd do (see mcs-host-caps.h). */
typedef enum mcs_label_policy {
        MCS_LABELS_WRITE,   /* libvirt takes SELinux labels: reserve, and write static labels */
        MCS_LABELS_RESERVE, /* no SELinux driver: reserve in the registry, never touch the XML */
        MCS_LABELS_OFF,     /* no SELinux driver: leave every guest alone */
} mcs_label_policy;

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
        mcs_record other;          /* for a collision: the reservation its label overlaps */
} mcs_guest_outcome;

/* d is the parsed xml (its kept document, if any, is used up to write the
 * new XML); persistent says whether libvirt keeps the guest's
 * definition (transient guests vanish when they stop); active whether it
 * runs (a running guest's label is never released). live_label is the
 * process context of a running guest (NULL otherwise): a dynamic guest that
 * holds no reservation yet keeps it when no other guest's label conflicts,
 * so that first deployment changes no running guest's label. policy OFF
 * leaves the guest unmanaged; RESERVE never asks for new XML. Errors
 * (registry, exhaustion, memory) are returned; refusals are an outcome. */
int mcs_guest_apply_rules(mcs_registry *r, const mcs_config *cfg, mcs_label_policy policy,
                          const mcs_domain_types *types, const char *xml, mcs_domain *d, bool persistent,
                          bool active, const char *live_label, mcs_guest_outcome *out, mcs_err *e);

/* The policy for a host: WRITE when its libvirt takes SELinux labels, else
 * RESERVE or OFF as the config's without_selinux says. */
mcs_label_policy mcs_label_policy_for(bool takes_labels, const mcs_config *cfg);

void mcs_guest_outcome_clear(mcs_guest_outcome *o);

/* The reason of a collision: a guest running on host with level, whose
 * label the reservation h overlaps; runs says whether h's guest runs (the
 * record's state, or for a guest of the same host what libvirt says). */
void mcs_guest_collision_why(char *buf, size_t len, const char *level, const char *host, const mcs_record *h,
                             bool runs);

const char *mcs_guest_status_name(mcs_guest_status s);
