#include "mcs-ownership.h"

#include <stdio.h>
#include <string.h>

static bool elsewhere(const mcs_registry *r, const mcs_record *rec) {
        return strcmp(rec->host, mcs_registry_host(r)) != 0;
}

bool mcs_guest_runs_elsewhere(const mcs_registry *r, const mcs_record *rec) {
        return rec->state != MCS_STATE_RESERVED && elsewhere(r, rec);
}

bool mcs_guest_migrates_in(const mcs_registry *r, const mcs_record *rec) {
        return rec->state == MCS_STATE_MIGRATING && elsewhere(r, rec);
}

int mcs_guest_check_owner(const mcs_registry *r, const mcs_record *rec, const char *doing, mcs_err *e) {
        if (rec->state != MCS_STATE_RUNNING || !elsewhere(r, rec))
                return 0;
        return mcs_fail(e, MCS_E_CONFLICT,
                        "guest %s (%s) runs on host %s with label %s: not %s (stop it there first, or migrate it)",
                        rec->name, rec->uuid, rec->host, rec->label, doing);
}

int mcs_guest_replace_label(mcs_registry *r, const mcs_guest *g, const mcs_record *cur, const char *label,
                            mcs_record *out, mcs_err *e) {
        if (mcs_guest_runs_elsewhere(r, cur))
                return mcs_fail(e, MCS_E_CONFLICT, "guest %s (%s) %s host %s with label %s: not given another label",
                                cur->name, cur->uuid, cur->state == MCS_STATE_MIGRATING ? "migrates from" : "runs on",
                                cur->host, cur->label);
        return mcs_registry_replace_label(r, g, label, cur->host, cur->generation, out, e);
}

int mcs_guest_release(mcs_registry *r, const mcs_record *cur, mcs_record *out, mcs_err *e) {
        /* A guest migrating away runs on one host or the other until the
         * migration ends: whichever it ends on records it running. */
        if (cur->state == MCS_STATE_MIGRATING)
                return mcs_fail(e, MCS_E_CHANGED, "guest %s (%s): not released: it migrates from host %s",
                                cur->name, cur->uuid, cur->host);
        /* Conditioned on this host, not cur's: were the record another
         * host's, releasing it would free a label that host acts on. */
        return mcs_registry_release_if(r, cur->uuid, mcs_registry_host(r), cur->generation, out, e);
}

int mcs_guest_migrate_in(mcs_registry *r, const char *uuid, mcs_record *out, mcs_err *e) {
        mcs_record cur;
        int rc = mcs_registry_get(r, uuid, &cur, e);
        if (rc == -MCS_E_NOTFOUND)
                return 0;
        if (rc < 0)
                return rc;
        bool from_elsewhere = mcs_guest_runs_elsewhere(r, &cur);
        uint64_t gen = cur.generation;
        mcs_record_clear(&cur);
        if (!from_elsewhere)
                return 0;
        /* Conditioned on what was read: a record that changed meanwhile is
         * read again by the caller's next attempt. */
        rc = mcs_registry_set_migrating(r, uuid, gen, out, e);
        return rc < 0 ? rc : 1;
}

int mcs_guest_runs_here(mcs_registry *r, const char *uuid, mcs_record *out, mcs_err *e) {
        mcs_record cur;
        int rc = mcs_registry_get(r, uuid, &cur, e);
        if (rc < 0)
                return rc;
        if (mcs_guest_migrates_in(r, &cur)) {
                *out = cur;
                return 1;
        }
        mcs_record_clear(&cur);
        rc = mcs_registry_set_state(r, uuid, MCS_STATE_RUNNING, out, e);
        return rc < 0 ? rc : 0;
}
