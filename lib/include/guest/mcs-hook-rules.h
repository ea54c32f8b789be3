/* What the libvirt hook decides, against the registry only: the hook runs
 * while libvirtd holds the guest, so nothing here may call libvirt.
 *   prepare begin   a static label must be held by this guest (reserved
 *                   now if free); others only prove the registry answers
 *   start begin,    the final label must be reserved for this UUID, or be
 *   restore begin   free and then reserved now; a dynamic guest's older
 *                   dynamic reservation gives way to the label libvirt drew
 *                   (in one step: refused, it keeps the old one); refused
 *                   when the record runs on another host (mcs-ownership.h)
 *   migrate begin   the incoming label must belong to this UUID or be free
 *                   (on the destination host)
 *                   when allowed, these three record the guest as running
 *                   on this host
 *   reconnect begin registers the running guest's label; never refuses
 *   release end     releases a transient reservation this host holds
 *                   (v->released: the caller restores its images' original
 *                   labels); another host's record stays
 * Every release acts only if the record is still the one read (same host
 * and generation). Guests excluded by name, with type='none' or with no label at start (a
 * host without SELinux) pass. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "mcs-config.h"
#include "mcs-domain-xml.h"
#include "mcs-level.h"
#include "mcs-registry.h"

typedef enum mcs_hook_op {
        MCS_HOOK_PREPARE,
        MCS_HOOK_START,
        MCS_HOOK_RESTORE,
        MCS_HOOK_MIGRATE,
        MCS_HOOK_RECONNECT,
        MCS_HOOK_RELEASE,
        MCS_HOOK_OTHER, /* anything else: nothing to check */
} mcs_hook_op;

typedef struct mcs_hook_request {
        mcs_hook_op op;
        const char *uuid, *name;
        mcs_seclabel_mode mode;
        const char *label; /* the <label> context in the XML, or NULL */
} mcs_hook_request;

typedef struct mcs_hook_verdict {
        bool allow;
        char released[MCS_RANGE_STRMAX]; /* release end released this label: restore its images ("": none) */
        bool created;              /* this decision made the guest's reservation (it held none) ... */
        uint64_t generation;       /* ... which has this generation now: undo it if the start never happens */
        char msg[MCS_ERR_MSG_MAX]; /* why it was refused, or a note */
} mcs_hook_verdict;

/* The operation named by libvirt's OPERATION and SUB-OPERATION arguments. */
mcs_hook_op mcs_hook_op_parse(const char *op, const char *subop);
const char *mcs_hook_op_name(mcs_hook_op op);
int mcs_hook_op_from_name(const char *s, mcs_hook_op *out);

/* A refusal is a verdict; an error (registry unreachable, busy) is returned
 * and the caller decides (the hook fails closed). */
int mcs_hook_decide(mcs_registry *r, const mcs_config *cfg, const mcs_hook_request *rq, mcs_hook_verdict *v,
                    mcs_err *e);
