#include "mcs-guest-rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcs-level.h"
#include "mcs-macro.h"
#include "mcs-hold-label.h"
#include "mcs-ownership.h"

#define CONTEXT_MAX (4u * 256u + MCS_RANGE_STRMAX)

static const char *const status_names[] = {"managed", "unmanaged", "refused", "failed", "waiting", "collision"};

const char *mcs_guest_status_name(mcs_guest_status s) {
        return (unsigned) s < MCS_ARRAY_SIZE(status_names) ? status_names[s] : "?";
}

void mcs_guest_outcome_clear(mcs_guest_outcome *o) {
        free(o->new_xml);
        mcs_record_clear(&o->rec);
        mcs_record_clear(&o->other);
        *o = (mcs_guest_outcome){0};
}

static int outcome(mcs_guest_outcome *o, mcs_guest_status s, const char *why) {
        o->status = s;
        snprintf(o->why, sizeof o->why, "%s", why);
        return 0;
}

/* Refusals the hook will act on are outcomes; other failures are errors. */
static bool refusal(int r) {
        return r == -MCS_E_CONFLICT || r == -MCS_E_INVALID;
}

/* How the main loop judges a guest's record that holds another label than
 * its XML: the operator changed the label. */
typedef struct edit_judge {
        mcs_registry *r;
        mcs_kind kind;
        bool active;
} edit_judge;

static int judge_edit(void *ctx, const mcs_record *cur, bool same, mcs_err *e) {
        const edit_judge *j = ctx;
        (void) e;
        if (same)
                return MCS_HOLD_KEEP;
        /* A running guest's QEMU and images still carry the old label,
         * which stays reserved until the guest stops; the new one is
         * reserved then. A record running on another host is that host's
         * to give up. Otherwise the new label replaces the old in one step
         * (a refused label leaves the old one reserved). */
        if ((j->active && j->kind == MCS_KIND_STATIC) || mcs_guest_runs_elsewhere(j->r, cur))
                return MCS_HOLD_KEEP;
        return MCS_HOLD_REPLACE;
}

/* The reservation of another guest than uuid whose label equals, contains
 * or is contained in level: 0 with *out, -MCS_E_NOTFOUND, or an error. The
 * registry said "conflict" without a record: read them all, which only a
 * guest that collides pays for. */
static int find_overlap(mcs_registry *r, const char *uuid, const char *level, mcs_record *out, mcs_err *e) {
        mcs_record_list l = {0};
        mcs_range want, held;
        int rc = -MCS_E_NOTFOUND;
        if (mcs_range_parse(level, &want, NULL) < 0)
                return rc;
        if (mcs_registry_list(r, &MCS_FILTER_ALL, &l, e) < 0)
                return -(int) e->code;
        for (size_t i = 0; i < l.n && rc == -MCS_E_NOTFOUND; i++)
                if (strcmp(l.v[i].uuid, uuid) && mcs_range_parse(l.v[i].label, &held, NULL) == 0 &&
                    mcs_catset_conflict(&want.high.cats, &held.high.cats))
                        rc = mcs_record_copy(out, &l.v[i], e);
        mcs_record_list_clear(&l);
        return rc;
}

void mcs_guest_collision_why(char *buf, size_t len, const char *level, const char *host, const mcs_record *h,
                             bool runs) {
        if (snprintf(buf, len,
                     "runs with %s on host %s while guest '%s' (%s) holds %s on host %s%s; %s. Stop one of them: mcsd "
                     "gives it a free pair when it is redefined without its label or with `mcsctl relabel`",
                     level, host, h->name, h->uuid, h->label, h->host, runs ? " and runs" : " (not running)",
                     runs ? "both run now and can read each other's images"
                          : "if that guest starts, the two can read each other's images") < 0)
                buf[0] = '\0';
}

/* A running guest refused its label: a collision when another guest's
 * reservation overlaps it. Returns 1 (o filled in), 0 (a plain refusal),
 * or an error. */
static int collision(mcs_registry *r, const mcs_domain *d, const char *level, mcs_guest_outcome *o, mcs_err *e) {
        int rc = find_overlap(r, d->uuid, level, &o->other, e);
        if (rc == -MCS_E_NOTFOUND)
                return 0;
        if (rc < 0)
                return rc;
        mcs_guest_collision_why(o->why, sizeof o->why, level, r ? mcs_registry_host(r) : "?", &o->other,
                                o->other.state != MCS_STATE_RESERVED);
        o->status = MCS_GUEST_COLLISION;
        return 1;
}

/* A guest whose XML carries a label (static, or a running transient guest's):
 * the registry must hold exactly that label for it. */
static int register_label(mcs_registry *r, const mcs_domain *d, mcs_kind kind, bool active, mcs_guest_outcome *o,
                          mcs_err *e) {
        char level[MCS_RANGE_STRMAX];
        mcs_err le = {0};
        mcs_held held;

        if (mcs_context_level(d->label, level, sizeof level, &le) < 0) {
                mcs_err_prefix(&le, "its <label> is unusable");
                return outcome(o, MCS_GUEST_REFUSED, le.msg);
        }
        mcs_guest g = {.uuid = d->uuid, .name = d->name, .kind = kind};
        edit_judge j = {r, kind, active};
        int rc = mcs_guest_hold_label(r, &g, level, judge_edit, &j, &held, &o->rec, e);
        if (rc == -MCS_E_CONFLICT && active) {
                /* A running guest refused its label: a collision when
                 * another guest's reservation overlaps it. */
                mcs_err ce = {0};
                int c = collision(r, d, level, o, &ce);
                if (c != 0) {
                        *e = ce;
                        return c < 0 ? c : 0;
                }
        }
        if (rc < 0)
                return refusal(rc) ? outcome(o, MCS_GUEST_REFUSED, e->msg) : rc;
        o->created = held == MCS_HELD_RESERVED || held == MCS_HELD_REPLACED;
        o->replaced = held == MCS_HELD_REPLACED;
        if (held == MCS_HELD_OTHER) {
                bool elsewhere = mcs_guest_runs_elsewhere(r, &o->rec);
                if (snprintf(o->why, sizeof o->why, "runs%s%s with %s; its new label %s is reserved when it stops",
                             elsewhere ? " on host " : "", elsewhere ? o->rec.host : "", o->rec.label, level) < 0)
                        o->why[0] = '\0';
                o->deferred = true;
                o->status = MCS_GUEST_MANAGED;
                return 0;
        }
        return outcome(o, MCS_GUEST_MANAGED, "");
}

/* Reserves the running guest's live level for it if nothing conflicts.
 * Returns 1 when adopted, 0 when the caller should draw a pair. */
static int adopt_live(mcs_registry *r, const mcs_guest *g, const char *live_label, mcs_guest_outcome *o, mcs_err *e) {
        char level[MCS_RANGE_STRMAX];
        mcs_record cur = {0};
        mcs_err le = {0};
        int rc = mcs_registry_get(r, g->uuid, &cur, e);
        if (rc == 0) {
                mcs_record_clear(&cur);
                return 0; /* it holds a reservation: that one applies */
        }
        if (rc != -MCS_E_NOTFOUND)
                return rc;
        if (mcs_context_level(live_label, level, sizeof level, &le) < 0)
                return 0;
        rc = mcs_registry_reserve_label(r, g, level, &o->rec, &o->created, &le);
        if (rc == 0) {
                o->adopted = true;
                return 1;
        }
        if (refusal(rc) || rc == -MCS_E_EXISTS)
                return 0; /* taken elsewhere, or no categories: draw a fresh pair */
        *e = le;
        return rc;
}

static int assign_dynamic(mcs_registry *r, const mcs_domain_types *types, const char *xml, mcs_domain *d,
                          const char *live_label, bool write_xml, mcs_guest_outcome *o, mcs_err *e) {
        mcs_guest g = {.uuid = d->uuid, .name = d->name, .kind = MCS_KIND_DYNAMIC};
        char context[CONTEXT_MAX];
        int rc = live_label ? adopt_live(r, &g, live_label, o, e) : 0;

        if (rc < 0)
                return rc;
        if (rc == 0 && (rc = mcs_registry_reserve(r, &g, &o->rec, &o->created, e)) < 0)
                return rc;
        if (!write_xml)
                return outcome(o, MCS_GUEST_MANAGED, "reserved in the registry only: libvirt on this host has no SELinux "
                                                     "security driver, so its XML keeps no label");
        if ((rc = mcs_domain_label(d, types, o->rec.label, context, sizeof context, e)) < 0) {
                if (rc != -MCS_E_INVALID)
                        return rc;
                /* A bad <baselabel>: libvirt would refuse to start the guest anyway. */
                return outcome(o, MCS_GUEST_REFUSED, e->msg);
        }
        if ((rc = mcs_domain_edit_static_label(d, xml, context, &o->new_xml, e)) < 0)
                return rc;
        return outcome(o, MCS_GUEST_MANAGED, "");
}

mcs_label_policy mcs_label_policy_for(bool takes_labels, const mcs_config *cfg) {
        return takes_labels ? MCS_LABELS_WRITE : cfg->reserve_without_selinux ? MCS_LABELS_RESERVE : MCS_LABELS_OFF;
}

int mcs_guest_apply_rules(mcs_registry *r, const mcs_config *cfg, mcs_label_policy policy,
                          const mcs_domain_types *types, const char *xml, mcs_domain *d, bool persistent,
                          bool active, const char *live_label, mcs_guest_outcome *out, mcs_err *e) {
        mcs_guest_outcome o = {0};
        int rc;

        if (mcs_config_excludes(cfg, d->name))
                rc = outcome(&o, MCS_GUEST_UNMANAGED, "excluded by name in the config");
        else if (d->mode == MCS_SECLABEL_NONE)
                rc = outcome(&o, MCS_GUEST_UNMANAGED, "<seclabel type='none'>");
        else if (policy == MCS_LABELS_OFF)
                rc = outcome(&o, MCS_GUEST_UNMANAGED,
                             "libvirt on this host has no SELinux security driver: mcsd writes no label "
                             "(without_selinux = skip)");
        else if (!persistent)
                rc = d->label ? register_label(r, d, MCS_KIND_TRANSIENT, active, &o, e)
                              : outcome(&o, MCS_GUEST_UNMANAGED, "a transient guest with no label in its XML yet");
        else if (d->mode == MCS_SECLABEL_STATIC)
                rc = register_label(r, d, MCS_KIND_STATIC, active, &o, e);
        else
                rc = assign_dynamic(r, types, xml, d, live_label, policy == MCS_LABELS_WRITE, &o, e);
        if (rc < 0) {
                mcs_guest_outcome_clear(&o);
                return rc;
        }
        *out = o;
        return 0;
}
