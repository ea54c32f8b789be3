/* Consistency checks behind `mcsctl check`: what the registry says, what
 * this host's libvirt has, and what its images carry, compared. Every
 * discrepancy is reported as one sentence. */
#pragma once

#include <stdbool.h>

#include "mcs-domain-xml.h"
#include "mcs-guest-rules.h"
#include "mcs-registry.h"

typedef void (*mcs_check_report)(void *opaque, const char *uuid, const char *name, const char *what);

typedef struct mcs_check_guest_input {
        const mcs_domain *dom;         /* the persistent (or transient) XML */
        bool persistent, active, excluded;
        const char *live_label;        /* the running guest's process context, NULL if unknown */
        const char *refused;           /* why mcsd refused the guest's label, NULL if it did not */
        const char *failed;            /* why mcsd failed to apply the rules to it, NULL if it did not */
        const char *waiting;           /* why it waits for a label (the pool is exhausted), NULL if it does not */
        const char *collision;         /* why it runs in collision with another guest, NULL if it does not */
        mcs_label_policy policy;       /* OFF: nothing is checked; RESERVE: the XML keeps no label */
        const mcs_record *rec;         /* its reservation, NULL if none */
        const char *host_id;           /* this host */
        bool selinux_host;             /* libvirt confines guests here: running guests' images must carry their label */
        const char *const *disk_labels; /* per dom->disks[i]: the file's context, NULL if it has none */
        const int *disk_errno;          /* per disk: 0, or why the context could not be read */
} mcs_check_guest_input;

/* Returns the number of discrepancies reported for one guest of this host. */
unsigned mcs_check_guest(const mcs_check_guest_input *in, mcs_check_report report, void *opaque);

/* A reservation held by this host for a guest its libvirt does not have. */
unsigned mcs_check_orphan(const mcs_record *rec, const char *host_id, mcs_check_report report, void *opaque);
