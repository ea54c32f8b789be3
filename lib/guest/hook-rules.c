#include "mcs-hook-rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mcs-domain-label.h"
#include "mcs-level.h"
#include "mcs-macro.h"
#include "mcs-hold-label.h"
#include "mcs-ownership.h"

static int verdict(mcs_hook_verdict *v, bool allow, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int verdict(mcs_hook_verdict *v, bool allow, const char *fmt, ...) {
        va_list ap;
        v->allow = allow;
        va_start(ap, fmt);
        vsnprintf(v->msg, sizeof v->msg, fmt, ap);
        va_end(ap);
        return 0;
}

/* How the hook judges the guest's existing record. replace: a dynamic
 * reservation of another label gives way (libvirt drew this one for a
 * dynamic guest). owned: refuse when the record runs on another host (a
 * start; not a migration's arrival, nor a reconnect). */
typedef struct start_judge {
        const mcs_registry *r;
        bool replace, owned;
} start_judge;

static int judge_start(void *ctx, const mcs_record *cur, bool same, mcs_err *e) {
        const start_judge *j = ctx;
        if (j->owned && mcs_guest_check_owner(j->r, cur, "started here", e) < 0)
                return -MCS_E_CONFLICT;
        return !same && j->replace && cur->kind != MCS_KIND_STATIC ? MCS_HOLD_REPLACE : MCS_HOLD_KEEP;
}

/* The label must be held by this UUID: it is, or it is reserved now
 * (mcs_guest_hold_label, judged as above). */
static int hold_label(mcs_registry *r, const mcs_hook_request *rq, const char *level, mcs_kind kind, bool replace,
                      bool owned, mcs_hook_verdict *v, mcs_err *e) {
        _cleanup_(mcs_record_clear) mcs_record got = {0};
        mcs_err le = {0};
        mcs_held held;
        mcs_guest g = {.uuid = rq->uuid, .name = rq->name, .kind = kind};
        start_judge j = {r, replace, owned};
        int rc = mcs_guest_hold_label(r, &g, level, judge_start, &j, &held, &got, &le);
        if (rc == -MCS_E_CONFLICT || rc == -MCS_E_INVALID || rc == -MCS_E_EXISTS || rc == -MCS_E_CHANGED)
                return verdict(v, false, "%s", le.msg);
        if (rc < 0) {
                *e = le;
                return rc;
        }
        switch (held) {
        case MCS_HELD_OTHER:
                return verdict(v, false, "guest '%s' has label %s, but %s is reserved for it (host %s)", rq->name, level,
                               got.label, got.host);
        case MCS_HELD_ALREADY:
                return verdict(v, true, "%s is reserved for guest '%s'", level, rq->name);
        case MCS_HELD_RESERVED:
        case MCS_HELD_REPLACED:
                break;
        }
        v->created = held == MCS_HELD_RESERVED;
        v->generation = got.generation;
        return verdict(v, true, "reserved %s for guest '%s'", level, rq->name);
}

/* migrate begin, on the destination: the incoming label must belong to
 * this UUID or be free; a record running on the source is marked migrating
 * there (it stays the source's until the guest runs here). Without a label
 * (no SELinux driver here) the record is marked all the same. */
static int migrate_in(mcs_registry *r, const mcs_hook_request *rq, const char *level, mcs_kind kind,
                      mcs_hook_verdict *v, mcs_err *e) {
        mcs_record rec = {0};
        int rc;
        if (rq->label && ((rc = hold_label(r, rq, level, kind, false, false, v, e)) < 0 || !v->allow))
                return rc;
        if ((rc = mcs_guest_migrate_in(r, rq->uuid, &rec, e)) < 0)
                return rc;
        if (rc == 1)
                verdict(v, true, "guest '%s' migrates in from host %s; its record stays that host's until it runs here",
                        rq->name, rec.host);
        else if (!rq->label)
                verdict(v, true, "guest '%s' has no SELinux label in its XML (a host without SELinux?); not checked",
                        rq->name);
        else if ((rc = mcs_registry_set_state(r, rq->uuid, MCS_STATE_RUNNING, &rec, e)) < 0)
                return rc; /* no other host runs it: it runs here from now on */
        v->generation = rec.generation;
        mcs_record_clear(&rec);
        return 0;
}

int mcs_hook_decide(mcs_registry *r, const mcs_config *cfg, const mcs_hook_request *rq, mcs_hook_verdict *v,
                    mcs_err *e) {
        char level[MCS_RANGE_STRMAX];
        mcs_record rec = {0};
        mcs_err le = {0};
        int rc;

        *v = (mcs_hook_verdict){.allow = true};
        if (rq->op == MCS_HOOK_OTHER)
                return 0;
        if (mcs_config_excludes(cfg, rq->name))
                return verdict(v, true, "guest '%s' is excluded by name; not checked", rq->name);
        if (rq->mode == MCS_SECLABEL_NONE)
                return verdict(v, true, "guest '%s' has <seclabel type='none'>; not checked", rq->name);
        if (rq->label && mcs_context_level(rq->label, level, sizeof level, &le) < 0)
                return verdict(v, rq->op == MCS_HOOK_RECONNECT || rq->op == MCS_HOOK_RELEASE,
                               "guest '%s': its label is unusable: %s", rq->name, le.msg);
        mcs_kind kind = rq->mode == MCS_SECLABEL_STATIC ? MCS_KIND_STATIC : MCS_KIND_DYNAMIC;

        switch (rq->op) {
        case MCS_HOOK_PREPARE:
                if (rq->mode == MCS_SECLABEL_STATIC && rq->label)
                        return hold_label(r, rq, level, kind, false, true, v, e);
                /* libvirt draws a dynamic label after prepare; start checks it.
                 * Here the registry only has to answer. */
                rc = mcs_registry_get(r, rq->uuid, &rec, e);
                mcs_record_clear(&rec);
                return rc < 0 && rc != -MCS_E_NOTFOUND ? rc : verdict(v, true, "the registry answers");
        case MCS_HOOK_MIGRATE:
                return migrate_in(r, rq, level, kind, v, e);
        case MCS_HOOK_START:
        case MCS_HOOK_RESTORE:
                if (!rq->label)
                        return verdict(v, true, "guest '%s' has no SELinux label in its XML (a host without SELinux?); not checked",
                                       rq->name);
                if ((rc = hold_label(r, rq, level, kind, kind == MCS_KIND_DYNAMIC, true, v, e)) < 0 || !v->allow)
                        return rc;
                /* The guest runs here from now on: the record moves to this
                 * host before QEMU does, so that a source host's delayed
                 * release finds it changed and keeps the label; unless it
                 * migrates in, and its source keeps it until it runs here. */
                if ((rc = mcs_guest_runs_here(r, rq->uuid, &rec, e)) < 0)
                        return rc;
                if (rc == 1)
                        verdict(v, true, "%s is reserved for guest '%s', migrating from host %s", level, rq->name,
                                rec.host);
                v->generation = rec.generation;
                mcs_record_clear(&rec);
                return 0;
        case MCS_HOOK_RECONNECT:
                if (!rq->label)
                        return 0;
                if ((rc = hold_label(r, rq, level, kind, false, false, v, e)) < 0)
                        return rc;
                /* A running guest is never stopped for this; it is reported. */
                if (!v->allow) {
                        char why[MCS_ERR_MSG_MAX];
                        memcpy(why, v->msg, sizeof why);
                        verdict(v, true, "guest '%s' keeps running, but: %s", rq->name, why);
                }
                return 0;
        case MCS_HOOK_RELEASE:
                rc = mcs_registry_get(r, rq->uuid, &rec, e);
                if (rc == -MCS_E_NOTFOUND)
                        return 0;
                if (rc < 0)
                        return rc;
                /* Only this host's record: a guest that migrated away left it
                 * to its new host (docs/hook.md). */
                if (rec.kind == MCS_KIND_TRANSIENT && (rc = mcs_guest_release(r, &rec, NULL, e)) == 0) {
                        verdict(v, true, "released %s of transient guest '%s'", rec.label, rq->name);
                        snprintf(v->released, sizeof v->released, "%s", rec.label);
                } else if (rc == -MCS_E_CHANGED)
                        verdict(v, true, "transient guest '%s' keeps %s: %s", rq->name, rec.label, e->msg);
                mcs_record_clear(&rec);
                return rc < 0 && rc != -MCS_E_NOTFOUND && rc != -MCS_E_CHANGED ? rc : 0;
        case MCS_HOOK_OTHER:
                break;
        }
        return 0;
}
