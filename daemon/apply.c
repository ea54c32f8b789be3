/* Applying lib/'s rules to one guest or a batch: read → decide → commit →
 * define → record. libvirt is reached only through the apply_port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "fan-out.h"
#include "guest-table.h"
#include "log.h"
#include "mcs-group-commit.h"
#include "mcs-message-ids.h"
#include "mcs-macro.h"
#include "metrics.h"
#include "redefines.h"
#include "releases.h"

/* How many times a guest whose XML keeps changing under mcsd is read
 * again at once; its next event brings it back anyway. */
#define STALE_TRIES 3

/* libvirt calls a batch keeps in flight at once: their round trips
 * overlap (libvirtd serves a connection's calls on several workers). */
#define LIBVIRT_CALLS_AT_ONCE 4

/* One guest on its way through the rules: decided first (the registry's
 * part, which a batch shares one commit for), finished once that is
 * durable (its XML, state, name and images). */
typedef struct applying {
        const apply_port *port;
        apply_dom *dom;
        char uuid[VIR_UUID_STRING_BUFLEN];
        mcs_domain parsed;
        mcs_guest_outcome o;
        mcs_err e;
        char *xml, *live;
        bool ok; /* decided without an error */
        bool decided; /* the rules ran for it (in a batch) */
        /* Whether it is persistent, and runs: known from a reconcile's
         * listings, or -1: asked when needed. */
        int persistent, active;
        bool define_done, defined; /* its new XML was written (a batch writes them at once) */
        bool stale;    /* its XML changed, or it went, since it was read: nothing written */
        char *written; /* its persistent XML as libvirt holds it after mcsd's define */
} applying;

static int is_persistent(applying *a) {
        if (a->persistent < 0)
                a->persistent = a->port->is_persistent(a->port->ctx, a->dom);
        return a->persistent;
}

static int is_active(applying *a) {
        if (a->active < 0)
                a->active = a->port->is_active(a->port->ctx, a->dom);
        return a->active;
}

static const char *port_error(const applying *a) {
        return a->port->error(a->port->ctx);
}

/* The context a running guest runs with, from its live XML; NULL when its
 * XML carries none (a host without SELinux) or cannot be read. */
static char *live_label(applying *a) {
        _cleanup_free_ char *xml = a->port->live_xml(a->port->ctx, a->dom);
        return domain_xml_label(xml);
}

static void check_live_label(mcsd *d, applying *a, const mcs_record *rec) {
        char live[VIR_SECURITY_LABEL_BUFLEN] = "";
        char level[MCS_RANGE_STRMAX];
        mcs_err e = {0};

        if (!d->secmodels.selinux) {
                log_guest(MCS_LOG_DEBUG, rec->name, rec->uuid, rec->label,
                          "guest '%s': the host's security model is not selinux; live label not compared", rec->name);
                return;
        }
        if (a->port->process_label(a->port->ctx, a->dom, live, sizeof live) < 0) {
                log_guest(MCS_LOG_WARNING, rec->name, rec->uuid, rec->label, "guest '%s': cannot read its live label: %s",
                          rec->name, port_error(a));
                return;
        }
        if (!live[0] || mcs_context_level(live, level, sizeof level, &e) < 0 || strcmp(level, rec->label))
                log_guest(MCS_LOG_WARNING, rec->name, rec->uuid, rec->label,
                          "guest '%s' runs with label '%s', not its reserved %s; the reserved label applies from its next start",
                          rec->name, live, rec->label);
}

/* Brings the record's state and host in line with what libvirt says.
 * active is what a reconcile's listing said, maybe a while ago: a record
 * is changed only on what libvirt says now (the hook may just have marked
 * a starting guest running). */
static int sync_state(mcsd *d, applying *a, int active, mcs_record *rec, mcs_err *e) {
        bool here = !strcmp(rec->host, d->host_id);
        mcs_state want = active == 1 ? MCS_STATE_RUNNING : MCS_STATE_RESERVED;
        mcs_record upd = {0};
        int r;

        if (active >= 0 && !(rec->state == want && here)) {
                active = a->port->is_active(a->port->ctx, a->dom);
                want = active == 1 ? MCS_STATE_RUNNING : MCS_STATE_RESERVED;
        }

        if (active < 0)
                return mcs_fail(e, MCS_E_IO, "cannot tell whether it runs: %s", port_error(a));
        if (active == 1)
                check_live_label(d, a, rec);
        if (rec->state == want && here)
                return 0;
        /* Defined here but running elsewhere: the running host owns it. */
        if (!active && rec->state == MCS_STATE_RUNNING && !here)
                return 0;
        /* Migrating: the record moves (or comes back) only once the guest
         * runs here with no migration under way; stopped here, it is the
         * other end's to record. */
        if (rec->state == MCS_STATE_MIGRATING && (!active || a->port->migrating(a->port->ctx, a->dom)))
                return 0;
        if ((r = mcs_registry_set_state(d->reg, rec->uuid, want, &upd, e)) < 0)
                return r;
        if (!here)
                log_guest(MCS_LOG_INFO, upd.name, upd.uuid, upd.label, "guest '%s' with %s moved here from host %s",
                          upd.name, upd.label, rec->host);
        mcs_record_clear(rec);
        *rec = upd;
        return 0;
}

/* A guest renamed in libvirt: the record takes the new name (the UUID is
 * the key; the name is for people). Only the host that holds the record
 * renames it: a copy defined elsewhere under another name does not. */
static int sync_name(mcsd *d, const mcs_domain *parsed, mcs_record *rec, mcs_err *e) {
        mcs_record upd = {0};
        int r;
        if (!parsed->name || !strcmp(rec->name, parsed->name) || strcmp(rec->host, d->host_id))
                return 0;
        if ((r = mcs_registry_set_name(d->reg, rec->uuid, parsed->name, rec->generation, &upd, e)) < 0)
                return r;
        log_guest(MCS_LOG_INFO, upd.name, upd.uuid, upd.label, "guest '%s' was renamed '%s'", rec->name, upd.name);
        mcs_record_clear(rec);
        *rec = upd;
        return 0;
}

static void log_outcome(mcsd *d, const mcs_domain *dom, const mcs_guest_outcome *o, bool changed) {
        const char *label = o->status == MCS_GUEST_MANAGED ? o->rec.label : NULL;
        if (o->replaced)
                log_guest(MCS_LOG_INFO, dom->name, dom->uuid, label, "guest '%s' changed its static label", dom->name);
        if (o->deferred && changed)
                log_guest(MCS_LOG_INFO, dom->name, dom->uuid, label, "guest '%s' %s", dom->name, o->why);
        if (!changed)
                return;
        switch (o->status) {
        case MCS_GUEST_MANAGED:
                log_guest(MCS_LOG_DEBUG, dom->name, dom->uuid, label, "guest '%s' holds %s", dom->name, o->rec.label);
                break;
        case MCS_GUEST_UNMANAGED:
                log_guest(MCS_LOG_INFO, dom->name, dom->uuid, NULL, "guest '%s' is unmanaged: %s", dom->name, o->why);
                break;
        case MCS_GUEST_COLLISION:
                log_event(MCS_MSGID_COLLISION, MCS_LOG_ERROR, dom->name, dom->uuid, dom->label,
                          "COLLISION: guest '%s' (%s) %s", dom->name, dom->uuid, o->why);
                break;
        case MCS_GUEST_REFUSED:
                log_event(MCS_MSGID_REFUSED, MCS_LOG_ERROR, dom->name, dom->uuid, dom->label,
                          "guest '%s' on host %s will not be allowed to start: %s", dom->name, d->host_id,
                          o->why);
                break;
        case MCS_GUEST_FAILED:
                log_guest(MCS_LOG_ERROR, dom->name, dom->uuid, label, "guest '%s' failed: %s", dom->name, o->why);
                break;
        case MCS_GUEST_WAITING:
                break; /* only set by apply_finish's error path */
        }
}

static void report(guest_report *rep, const mcs_domain *parsed, const mcs_guest_outcome *o, const char *error) {
        if (!rep)
                return;
        *rep = (guest_report){.status = o->status, .created = o->created, .adopted = o->adopted,
                              .rewritten = o->new_xml != NULL, .failed = error != NULL};
        snprintf(rep->name, sizeof rep->name, "%s", parsed->name ? parsed->name : "");
        snprintf(rep->uuid, sizeof rep->uuid, "%s", parsed->uuid);
        snprintf(rep->label, sizeof rep->label, "%s", o->status == MCS_GUEST_MANAGED && o->rec.label ? o->rec.label : "");
        snprintf(rep->why, sizeof rep->why, "%s", error ? error : o->why);
}

struct image_failures {
        const mcs_domain *guest;
        char first[MCS_ERR_MSG_MAX / 2]; /* the first file's error */
};

static void log_image(void *opaque, const char *path, const char *context, const mcs_label_result *res,
                      const mcs_err *err) {
        struct image_failures *f = opaque;
        const mcs_domain *g = f->guest;
        if (err && !f->first[0])
                snprintf(f->first, sizeof f->first, "%.*s", (int) sizeof f->first - 1, err->msg);
        if (err)
                log_guest(MCS_LOG_ERROR, g->name, g->uuid, NULL, "guest '%s': %s", g->name, err->msg);
        else if (res && res->outcome == MCS_LABEL_SET)
                log_guest(MCS_LOG_INFO, g->name, g->uuid, NULL, "guest '%s': labelled %s %s", g->name, path, context);
        else if (res && res->outcome == MCS_LABEL_NO_LABELS)
                log_guest(MCS_LOG_WARNING, g->name, g->uuid, NULL, "guest '%s': %s", g->name, res->note);
}

/* Reads the guest from libvirt: its XML, parsed, and the label it runs
 * with. Returns false with a->e set when it cannot. Touches only a: a
 * reconcile reads several guests at once. */
static bool apply_read(applying *a) {
        int persistent = is_persistent(a);

        a->port->uuid(a->port->ctx, a->dom, a->uuid);
        if (persistent < 0) {
                log_msg(MCS_LOG_WARNING, "guest %s: %s", a->uuid, port_error(a));
                snprintf(a->e.msg, sizeof a->e.msg, "%s", port_error(a));
                return false;
        }
        if (!(a->xml = a->port->xml(a->port->ctx, a->dom, persistent))) {
                log_msg(MCS_LOG_WARNING, "guest %s: cannot read its XML: %s", a->uuid, port_error(a));
                snprintf(a->e.msg, sizeof a->e.msg, "cannot read its XML: %s", port_error(a));
                return false;
        }
        if (mcs_domain_parse_kept(a->xml, &a->parsed, &a->e) < 0) {
                log_guest(MCS_LOG_ERROR, a->port->name(a->port->ctx, a->dom), a->uuid, NULL, "guest %s: %s", a->uuid,
                          a->e.msg);
                return false;
        }
        /* A dynamic guest that runs may keep the label it runs with. */
        if (persistent && (a->parsed.mode == MCS_SECLABEL_DYNAMIC || a->parsed.mode == MCS_SECLABEL_ABSENT))
                a->live = is_active(a) == 1 ? live_label(a) : NULL;
        is_active(a);
        return true;
}

/* A static label in a persistent guest's XML that mcsd wrote itself (to
 * the pair the guest held then) while the guest's dynamic reservation moved
 * to another pair (libvirt drew it for a start that raced mcsd's define):
 * it is no operator's choice, and the guest stays dynamic. An operator's
 * static label (or mcsd's that the reservation still matches) is left to
 * the usual rules. */
static bool label_mcsd_wrote(mcsd *d, const applying *a) {
        const guest_entry *g = guests_find(d->guests, a->parsed.uuid);
        char level[MCS_RANGE_STRMAX];
        mcs_record cur = {0};
        if (a->persistent != 1 || a->parsed.mode != MCS_SECLABEL_STATIC || !a->parsed.label || !g || !guest_written(g)[0] ||
            mcs_context_level(a->parsed.label, level, sizeof level, NULL) < 0 || strcmp(level, guest_written(g)) ||
            mcs_registry_get(d->reg, a->parsed.uuid, &cur, NULL) < 0)
                return false;
        bool moved = cur.kind == MCS_KIND_DYNAMIC && strcmp(cur.label, level);
        mcs_record_clear(&cur);
        return moved;
}

/* Why a running guest of this host is in collision because another guest
 * of this host runs with a label that overlaps the reservation it holds. */
static void holder_why(char *buf, size_t len, const mcsd *d, const char *label, const char *name, const char *uuid) {
        if (snprintf(buf, len,
                     "holds %s and runs on host %s while guest '%s' (%s) on the same host runs with a label that "
                     "overlaps it; both run now and can read each other's images. Stop one of them: mcsd gives the "
                     "other guest a free pair when it is redefined without its label or with `mcsctl relabel`",
                     label, d->host_id, name, uuid) < 0)
                buf[0] = '\0';
}

/* The registry failed while the guest was applied: a guest mcsd had
 * judged before (managed, in collision, refused, unmanaged, waiting) keeps
 * that status, noted unverified since the first such failure; a managed
 * guest's label is held and unchanged as far as anyone knows, and a
 * reconcile that could not run says nothing new about any of them.
 * Returns false for a new or failed guest, or another error (it is failed). */
static bool keep_unverified(mcsd *d, const char *uuid, const mcs_err *e) {
        return mcs_registry_fault_code(e->code) && guests_mark_unverified(d->guests, uuid, e->msg);
}

/* Records the guest's outcome in the table, with the collisions it starts
 * or ends: each is logged once when it starts and once when it ends. */
static void record_outcome(mcsd *d, applying *a) {
        mcs_domain *parsed = &a->parsed;
        mcs_guest_outcome *o = &a->o;
        const guest_entry *was = guests_find(d->guests, parsed->uuid);
        bool collided = was && guest_status(was) == MCS_GUEST_COLLISION;
        char partner[MCS_UUID_STRLEN + 1] = "";

        /* It holds its label; another guest of this host runs with one
         * that overlaps it, and was refused for that. */
        const guest_entry *c =
                o->status == MCS_GUEST_MANAGED && is_active(a) == 1 ? guests_collider_of(d->guests, parsed->uuid) : NULL;
        if (c) {
                snprintf(partner, sizeof partner, "%s", guest_uuid(c));
                holder_why(o->why, sizeof o->why, d, o->rec.label, guest_name(c), guest_uuid(c));
                o->status = MCS_GUEST_COLLISION;
        }
        /* The holder is a guest of this host: libvirt says whether it runs
         * (a reconcile may not have recorded it running yet). */
        char level[MCS_RANGE_STRMAX];
        if (o->status == MCS_GUEST_COLLISION && !partner[0] && !strcmp(o->other.host, d->host_id) &&
            parsed->label && mcs_context_level(parsed->label, level, sizeof level, NULL) == 0) {
                apply_dom *hd = NULL;
                if (a->port->lookup(a->port->ctx, o->other.uuid, &hd) == 1) {
                        if (a->port->is_active(a->port->ctx, hd) == 1)
                                o->other.state = MCS_STATE_RUNNING;
                        a->port->put(a->port->ctx, hd);
                }
                mcs_guest_collision_why(o->why, sizeof o->why, level, d->host_id, &o->other,
                                        o->other.state != MCS_STATE_RESERVED);
        }
        bool changed = guests_set(d->guests, parsed->uuid, parsed->name, o->status, o->why);
        guests_mark_verified(d->guests, parsed->uuid);
        if (o->status == MCS_GUEST_COLLISION)
                guests_set_collision(d->guests, parsed->uuid, partner, &o->other);
        log_outcome(d, parsed, o, changed);
        if (collided && o->status != MCS_GUEST_COLLISION) {
                log_event(MCS_MSGID_COLLISION_CLEARED, MCS_LOG_INFO, parsed->name, parsed->uuid, NULL,
                          "collision cleared: guest '%s' (%s) on host %s is %s now", parsed->name, parsed->uuid,
                          d->host_id, mcs_guest_status_name(o->status));
                guests_unmark_partners(d->guests, parsed->uuid, "no longer does");
        }
        /* The holder runs here too: it is in collision as well. */
        if (o->status != MCS_GUEST_COLLISION || partner[0] || strcmp(o->other.host, d->host_id) ||
            o->other.state != MCS_STATE_RUNNING)
                return;
        const guest_entry *h = guests_find(d->guests, o->other.uuid);
        if (!h || (guest_status(h) != MCS_GUEST_MANAGED && guest_status(h) != MCS_GUEST_COLLISION))
                return;
        char why[MCS_ERR_MSG_MAX];
        _cleanup_free_ char *hname = strdup(guest_name(h) ? guest_name(h) : "");
        holder_why(why, sizeof why, d, o->other.label, parsed->name, parsed->uuid);
        if (hname && guests_set(d->guests, o->other.uuid, hname, MCS_GUEST_COLLISION, why))
                log_event(MCS_MSGID_COLLISION, MCS_LOG_ERROR, hname, o->other.uuid, o->other.label,
                          "COLLISION: guest '%s' (%s) %s", hname, o->other.uuid, why);
        guests_set_partner(d->guests, o->other.uuid, parsed->uuid);
}

/* The registry's part: what the rules make of the guest read. */
static void apply_rules(mcsd *d, applying *a) {
        releases_cancel(d, a->parsed.uuid);
        /* mcsd rewrites the label to the pair the guest holds now. */
        if (label_mcsd_wrote(d, a))
                a->parsed.mode = MCS_SECLABEL_DYNAMIC;
        if (mcs_guest_apply_rules(d->reg, &d->cfg, d->policy, &d->types, a->xml, &a->parsed, a->persistent == 1,
                                  a->active == 1, a->live, &a->o, &a->e) < 0) {
                /* An exhausted pool is logged once, below, when the guest starts waiting. */
                if (a->e.code != MCS_E_EXHAUSTED)
                        log_guest(MCS_LOG_ERROR, a->parsed.name, a->parsed.uuid, NULL, "guest '%s': %s", a->parsed.name,
                                  a->e.msg);
                return;
        }
        a->ok = true;
}

static void apply_decide(mcsd *d, applying *a) {
        if (apply_read(a))
                apply_rules(d, a);
}

/* Writes the guest's new XML (its static label) into libvirt; a->e says
 * why not. Touches only a: a reconcile writes several guests at once.
 * libvirt has no compare-and-set define: the XML is read again right
 * before, and nothing is written when the guest changed or went since the
 * rules saw it (a->stale; the guest is then applied again). An undefine
 * that lands between this read and the define is caught from the events
 * (redefines.c), with what libvirt holds after the define. */
static void apply_define(applying *a) {
        a->define_done = true;
        _cleanup_free_ char *now = a->port->xml(a->port->ctx, a->dom, true);
        if (!now || strcmp(now, a->xml)) {
                a->stale = true;
                return;
        }
        if (a->port->define(a->port->ctx, a->o.new_xml, &a->written) < 0) {
                snprintf(a->e.msg, sizeof a->e.msg, "cannot write its static label: %s", port_error(a));
                return;
        }
        a->defined = true;
}

/* The reservation a batch made for the guest was not committed. */
static void apply_undo(applying *a, const mcs_err *why) {
        if (!a->ok || !a->o.created)
                return;
        log_guest(MCS_LOG_ERROR, a->parsed.name, a->parsed.uuid, NULL, "guest '%s': %s", a->parsed.name, why->msg);
        a->e = *why;
        a->ok = false;
        mcs_guest_outcome_clear(&a->o);
        a->o = (mcs_guest_outcome){0};
}

/* What the rules did to the guest's reservation, for the metrics (a
 * guest that keeps the one it holds, or that holds none, is not counted). */
static void count_reservation(mcsd *d, const mcs_guest_outcome *o, int rc) {
        if (rc == 1)
                metrics_reservation(d->metrics, METRICS_RESERVE_EXHAUSTED);
        else if (rc < 0)
                metrics_reservation(d->metrics, METRICS_RESERVE_FAILED);
        else if (o->status == MCS_GUEST_REFUSED)
                metrics_reservation(d->metrics, METRICS_RESERVE_REFUSED);
        else if (o->created)
                metrics_reservation(d->metrics, METRICS_RESERVE_CREATED);
}

static int apply_finish(mcsd *d, applying *a, guest_report *rep) {
        mcs_domain *parsed = &a->parsed;
        mcs_guest_outcome *o = &a->o;
        mcs_err *e = &a->e;
        int rc = -1;

        if (!a->ok)
                goto out;
        if (o->created)
                log_event(MCS_MSGID_RESERVED, MCS_LOG_INFO, parsed->name, parsed->uuid, o->rec.label,
                          "%s %s for guest '%s' (%s)",
                          o->adopted ? "adopted its running label" : "reserved", o->rec.label, parsed->name,
                          mcs_kind_name(o->rec.kind));
        if (o->new_xml) {
                if (!a->define_done)
                        apply_define(a);
                if (a->stale) {
                        log_guest(MCS_LOG_DEBUG, parsed->name, parsed->uuid, o->rec.label,
                                  "guest '%s' changed since mcsd read it; nothing written", parsed->name);
                        rc = 0;
                        goto done;
                }
                if (!a->defined) {
                        log_guest(MCS_LOG_ERROR, parsed->name, parsed->uuid, o->rec.label, "guest '%s': %s", parsed->name,
                                  e->msg);
                        goto out;
                }
                log_guest(MCS_LOG_INFO, parsed->name, parsed->uuid, o->rec.label, "guest '%s' now has static label %s",
                          parsed->name, o->rec.label);
                if (a->written)
                        redefines_add(d, parsed->uuid, MCS_TAKE_PTR(a->written));
        }
        if (o->status == MCS_GUEST_MANAGED &&
            (sync_state(d, a, is_active(a), &o->rec, e) < 0 || sync_name(d, parsed, &o->rec, e) < 0)) {
                log_guest(MCS_LOG_ERROR, parsed->name, parsed->uuid, o->rec.label, "guest '%s': %s", parsed->name, e->msg);
                goto out;
        }
        /* relabel='no': libvirt leaves the images alone, so mcsd labels them;
         * a guest whose images it could not label is failed, not managed. */
        if (o->status == MCS_GUEST_MANAGED && d->policy == MCS_LABELS_WRITE && parsed->mode == MCS_SECLABEL_STATIC &&
            !parsed->relabel && parsed->n_disks) {
                struct image_failures f = {.guest = parsed};
                int failed = images_label(d, parsed, o->rec.label, log_image, &f, e);
                if (failed < 0)
                        log_guest(MCS_LOG_ERROR, parsed->name, parsed->uuid, o->rec.label, "guest '%s': its images: %s",
                                  parsed->name, e->msg);
                if (failed != 0) {
                        o->status = MCS_GUEST_FAILED;
                        if (failed < 0)
                                snprintf(o->why, sizeof o->why, "its images: %.*s", (int) sizeof o->why - 16, e->msg);
                        else
                                snprintf(o->why, sizeof o->why, "%d of its images could not be labelled (%s)", failed,
                                         f.first);
                }
        }
        record_outcome(d, a);
        if (o->new_xml)
                guests_set_written(d->guests, parsed->uuid, o->rec.label);
        rc = 0;
out:
        if (!parsed->uuid[0])
                snprintf(parsed->uuid, sizeof parsed->uuid, "%s", a->uuid);
        /* An error counts as a failure too, with its reason, until mcsd succeeds. */
        const char *gname = parsed->name ? parsed->name : a->port->name(a->port->ctx, a->dom);
        if (rc < 0 && e->code == MCS_E_EXHAUSTED) {
                if (guests_set(d->guests, parsed->uuid, gname, MCS_GUEST_WAITING, e->msg))
                        log_guest(MCS_LOG_WARNING, gname, parsed->uuid, NULL, "guest '%s' is waiting for a label: %s", gname,
                                  e->msg);
                o->status = MCS_GUEST_WAITING;
                snprintf(o->why, sizeof o->why, "%s", e->msg);
                rc = 1;
        } else if (rc < 0 && !keep_unverified(d, parsed->uuid, e))
                guests_set(d->guests, parsed->uuid, gname, MCS_GUEST_FAILED, e->msg);
        count_reservation(d, o, rc);
done:
        report(rep, parsed, o, rc < 0 ? e->msg : NULL);
        mcs_guest_outcome_clear(o);
        mcs_domain_clear(parsed);
        free(a->xml);
        free(a->live);
        free(a->written);
        return rc;
}
int apply_one(mcsd *d, const apply_port *port, apply_dom *dom, guest_report *rep) {
        int rc = 0;
        for (int i = 0; i < STALE_TRIES; i++) {
                applying a = {.port = port, .dom = dom, .persistent = -1, .active = -1};
                apply_decide(d, &a);
                rc = apply_finish(d, &a, rep);
                if (!a.stale)
                        return rc;
                /* Gone meanwhile: its UNDEFINED event lets its label go. */
                apply_dom *again = NULL;
                int r = port->lookup(port->ctx, a.uuid, &again);
                if (r < 0)
                        return -1;
                if (r == 0)
                        break;
                port->put(port->ctx, again);
        }
        return rc;
}

/* A registry that fails (unreachable, read-only, full) fails every guest
 * the same way, each after a full wait: once one guest met such a failure,
 * the rest of the reconcile is not tried, so the main loop stays free. */
static void not_tried(applying *a, const mcs_err *why) {
        a->port->uuid(a->port->ctx, a->dom, a->uuid);
        a->e.code = why->code;
        snprintf(a->e.msg, sizeof a->e.msg, "not tried, the registry fails: %.*s", (int) sizeof a->e.msg - 40,
                 why->msg);
}

typedef struct batch_io {
        mcsd *d;
        applying *a;
        bool *read;
} batch_io;

static void read_one(void *ctx, size_t i) {
        batch_io *io = ctx;
        io->read[i] = apply_read(&io->a[i]);
}

static void define_one(void *ctx, size_t i) {
        batch_io *io = ctx;
        if (io->a[i].ok && io->a[i].o.new_xml)
                apply_define(&io->a[i]);
}

/* The registry's part for guest i of a batch: a storage failure is returned
 * (it stops the batch); any other outcome is the guest's own. */
static int decide_one(void *ctx, size_t i, mcs_err *e) {
        batch_io *io = ctx;
        applying *a = &io->a[i];
        a->decided = true;
        if (!io->read)
                apply_decide(io->d, a);
        else if (io->read[i])
                apply_rules(io->d, a);
        if (!a->ok && mcs_registry_fault_code(a->e.code)) {
                *e = a->e;
                return -(int) a->e.code;
        }
        return 0;
}

/* Counts one guest's result for apply_batch. */
static void tally(int rc, int *failed, bool *waiting) {
        *failed += rc < 0;
        *waiting |= rc == 1;
}

int apply_batch(mcsd *d, const apply_port *port, const apply_item *items, int n, bool *waiting, mcs_err *stop) {
        _cleanup_free_ applying *a = calloc(n > 0 ? (size_t) n : 1, sizeof *a);
        int failed = 0;

        if (!a) {
                for (int i = 0; i < n; i++)
                        tally(apply_one(d, port, items[i].dom, NULL), &failed, waiting);
                return failed;
        }
        /* libvirt first, several guests at once, so that the batch holds the
         * registry only for the registry's part. */
        bool *read = calloc((size_t) n, sizeof *read);
        for (int i = 0; i < n; i++) {
                a[i].port = port;
                a[i].dom = items[i].dom;
                port->uuid(port->ctx, items[i].dom, a[i].uuid);
                a[i].persistent = items[i].persistent;
                a[i].active = items[i].active;
        }
        batch_io io = {d, a, read};
        if (!stop->code && read)
                fan_out((size_t) n, LIBVIRT_CALLS_AT_ONCE, read_one, &io);
        if (stop->code) {
                for (int i = 0; i < n; i++)
                        not_tried(&a[i], stop);
        } else {
                /* One group commit (lib/registry's rules): from `stands` on,
                 * a guest's reservation was rolled back (apply_undo) or its
                 * rules never ran (not_tried), for the storage failure. */
                size_t stands = 0;
                mcs_err why = {0};
                if (mcs_registry_group_write(d->reg, (size_t) n, decide_one, &io, &stands, &why) < 0) {
                        *stop = why;
                        for (size_t i = stands; i < (size_t) n; i++) {
                                if (a[i].decided)
                                        apply_undo(&a[i], &why);
                                else
                                        not_tried(&a[i], stop);
                        }
                }
        }
        free(read);
        fan_out((size_t) n, LIBVIRT_CALLS_AT_ONCE, define_one, &io);
        for (int i = 0; i < n; i++) {
                tally(apply_finish(d, &a[i], NULL), &failed, waiting);
                /* Changed while the batch decided: read again on its own. */
                if (a[i].stale)
                        tally(apply_one(d, port, items[i].dom, NULL), &failed, waiting);
        }
        return failed;
}
