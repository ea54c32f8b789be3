#include "mcs-ownership.h"

#include <string.h>

bool mcs_guest_runs_elsewhere(const mcs_registry *r, const mcs_record *rec) {
        return rec->state == MCS_STATE_RUNNING && strcmp(rec->host, mcs_registry_host(r)) != 0;
}

int mcs_guest_check_owner(const mcs_registry *r, const mcs_record *rec, const char *doing, mcs_err *e) {
        if (!mcs_guest_runs_elsewhere(r, rec))
                return 0;
        return mcs_fail(e, MCS_E_CONFLICT,
                        "guest %s (%s) runs on host %s with label %s: not %s (stop it there first, or migrate it)",
                        rec->name, rec->uuid, rec->host, rec->label, doing);
}

int mcs_guest_replace_label(mcs_registry *r, const mcs_guest *g, const mcs_record *cur, const char *label,
                            mcs_record *out, mcs_err *e) {
        int rc = mcs_guest_check_owner(r, cur, "given another label", e);
        if (rc < 0)
                return rc;
        return mcs_registry_replace_label(r, g, label, cur->host, cur->generation, out, e);
}

int mcs_guest_release(mcs_registry *r, const mcs_record *cur, mcs_record *out, mcs_err *e) {
        /* Conditioned on this host, not cur's: were the record another
         * host's, releasing it would free a label that host acts on. */
        return mcs_registry_release_if(r, cur->uuid, mcs_registry_host(r), cur->generation, out, e);
}
