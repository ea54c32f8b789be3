#include "mcs-hold-label.h"

#include <string.h>

#include "mcs-macro.h"
#include "mcs-ownership.h"

int mcs_guest_hold_label(mcs_registry *r, const mcs_guest *g, const char *level, mcs_hold_judge judge, void *ctx,
                         mcs_held *held, mcs_record *out, mcs_err *e) {
        _cleanup_(mcs_record_clear) mcs_record cur = {0};
        *out = (mcs_record){0};
        int rc = mcs_registry_get(r, g->uuid, &cur, e);
        if (rc == -MCS_E_NOTFOUND) {
                bool created = false;
                if ((rc = mcs_registry_reserve_label(r, g, level, out, &created, e)) < 0)
                        return rc;
                /* Another caller reserved the same label for this guest
                 * between the read and the reservation. */
                *held = created ? MCS_HELD_RESERVED : MCS_HELD_ALREADY;
                return 0;
        }
        if (rc < 0)
                return rc;
        bool same = !strcmp(cur.label, level);
        int verdict = judge(ctx, &cur, same, e);
        if (verdict < 0)
                return verdict;
        if (same || verdict == MCS_HOLD_KEEP) {
                *held = same ? MCS_HELD_ALREADY : MCS_HELD_OTHER;
                *out = cur;
                cur = (mcs_record){0};
                return 0;
        }
        if ((rc = mcs_guest_replace_label(r, g, &cur, level, out, e)) < 0)
                return rc;
        *held = MCS_HELD_REPLACED;
        return 0;
}
