/* "The registry must hold exactly this label for this guest": the one rule
 * the daemon's main loop (a guest's XML carries a label) and its hook (a
 * guest starts or migrates in with one) share. What each may do with a
 * record that holds another label differs, and each says so through a
 * judge; reading, reserving and replacing are written once, here. */
#pragma once

#include <stdbool.h>

#include "mcs-registry.h"

/* What a judge says of the guest's existing record cur (same: it holds
 * exactly the label asked for): keep it as it is, or let its other label
 * give way (in one step that cannot lose it: mcs_guest_replace_label). A
 * negative error refuses; nothing is touched and the hold returns it. */
enum { MCS_HOLD_KEEP = 0, MCS_HOLD_REPLACE = 1 };
typedef int (*mcs_hold_judge)(void *ctx, const mcs_record *cur, bool same, mcs_err *e);

typedef enum mcs_held {
        MCS_HELD_ALREADY,  /* the record holds exactly the label */
        MCS_HELD_RESERVED, /* there was no record: the label is reserved now */
        MCS_HELD_REPLACED, /* the record's other label gave way to it */
        MCS_HELD_OTHER,    /* the record holds another label, which the judge kept */
} mcs_held;

/* Holds level for g. *out gets the record as it stands afterwards (the one
 * read, for ALREADY and OTHER). Refusals are returned: -MCS_E_CONFLICT
 * (naming the guest whose label equals, contains or is contained in it),
 * -MCS_E_INVALID (a label that isolates nothing, or outside the policy),
 * -MCS_E_EXISTS, -MCS_E_CHANGED (the record changed since it was read), or
 * the judge's; and so are storage failures. */
int mcs_guest_hold_label(mcs_registry *r, const mcs_guest *g, const char *level, mcs_hold_judge judge, void *ctx,
                         mcs_held *held, mcs_record *out, mcs_err *e);
