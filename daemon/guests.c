/* The guests mcsd follows: applies lib/'s rules to each guest on every
 * lifecycle event and on reconcile, writes the resulting static label into
 * libvirt, keeps the registry's state and host current, and releases the
 * reservations of guests that went away once their grace period is over. */
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fan-out.h"
#include "log.h"
#include "mcs-group-commit.h"
#include "mcs-message-ids.h"
#include "mcs-macro.h"
#include "mcs-ownership.h"
#include "metrics.h"
#include "mcsd.h"

#define RETRY_MS 1000
#define WAIT_MIN_MS 1000
#define WAIT_MAX_MS 60000

static void schedule_wait(mcsd *d);

/* ---- the table of guests this host has ---- */

guest_entry *guests_find(mcsd *d, const char *uuid) {
        for (size_t i = 0; i < d->n_guests; i++)
                if (!strcmp(d->guests[i].uuid, uuid))
                        return &d->guests[i];
        return NULL;
}

static void entry_free(guest_entry *g) {
        free(g->name);
        free(g->why);
        free(g->unverified_why);
        mcs_record_clear(&g->other);
}

static void unmark_partners(mcsd *d, const char *uuid, const char *how);

static void drop_guest(mcsd *d, const char *uuid) {
        guest_entry *g = guests_find(d, uuid);
        if (!g)
                return;
        bool collided = g->status == MCS_GUEST_COLLISION;
        if (collided)
                log_event(MCS_MSGID_COLLISION_CLEARED, MCS_LOG_INFO, g->name, uuid, NULL,
                          "collision cleared: guest '%s' (%s) is gone from host %s", g->name, uuid, d->host_id);
        entry_free(g);
        *g = d->guests[--d->n_guests];
        if (collided)
                unmark_partners(d, uuid, "is gone");
}

void guests_clear(mcsd *d) {
        for (size_t i = 0; i < d->n_guests; i++)
                entry_free(&d->guests[i]);
        free(d->guests);
        d->guests = NULL;
        d->n_guests = 0;
        free(d->pending);
        d->pending = NULL;
        d->n_pending = 0;
}

/* Records the guest's status; returns true when it changed (worth a log line). */
static bool set_guest(mcsd *d, const char *uuid, const char *name, mcs_guest_status st, const char *why) {
        guest_entry *g = guests_find(d, uuid);
        if (!g) {
                guest_entry *v = realloc(d->guests, (d->n_guests + 1) * sizeof *v);
                if (!v)
                        return true;
                d->guests = v;
                g = &v[d->n_guests++];
                *g = (guest_entry){.status = st};
                strcpy(g->uuid, uuid);
        } else if (g->status == st && g->why && !strcmp(g->why, why) && g->name && !strcmp(g->name, name))
                return false;
        char *n = strdup(name), *w = strdup(why); /* name or why may be g's own */
        free(g->name);
        free(g->why);
        g->name = n;
        g->why = w;
        if (st != MCS_GUEST_COLLISION) {
                mcs_record_clear(&g->other);
                g->partner[0] = '\0';
        }
        g->status = st;
        return true;
}

/* ---- collisions: two running guests whose labels overlap ----
 * The guest refused its label has the other's reservation in its entry
 * (other); a guest of this host holding that reservation, running, is in
 * collision too, marked with the first one's UUID (partner). */

/* The running guest of this host whose collision names uuid, if any. */
static const guest_entry *collider_of(const mcsd *d, const char *uuid) {
        for (size_t i = 0; i < d->n_guests; i++)
                if (d->guests[i].status == MCS_GUEST_COLLISION && !d->guests[i].partner[0] &&
                    !strcmp(d->guests[i].other.uuid, uuid) && !strcmp(d->guests[i].other.host, d->host_id))
                        return &d->guests[i];
        return NULL;
}

/* Guests marked in collision by uuid, whose collision ended: managed again
 * (their next apply says so as well). */
static void unmark_partners(mcsd *d, const char *uuid, const char *how) {
        for (size_t i = 0; i < d->n_guests; i++) {
                guest_entry *g = &d->guests[i];
                if (g->status != MCS_GUEST_COLLISION || strcmp(g->partner, uuid))
                        continue;
                log_event(MCS_MSGID_COLLISION_CLEARED, MCS_LOG_INFO, g->name, g->uuid, NULL,
                          "collision cleared: guest '%s' (%s) on host %s: the guest that ran with its label %s",
                          g->name, g->uuid, d->host_id, how);
                g->partner[0] = '\0';
                set_guest(d, g->uuid, g->name, MCS_GUEST_MANAGED, "");
        }
}

/* ---- delayed releases ---- */

static void on_pending_timer(int timer, void *opaque);

static void arm_pending_timer(mcsd *d) {
        int64_t next = INT64_MAX, now = mcsd_now_ms();
        for (size_t i = 0; i < d->n_pending; i++)
                if (d->pending[i].due_ms < next)
                        next = d->pending[i].due_ms;
        int delay = d->n_pending == 0 ? -1 : next <= now ? 0 : (int) (next - now);
        if (d->pending_timer >= 0)
                virEventUpdateTimeout(d->pending_timer, delay);
        else if (delay >= 0)
                d->pending_timer = virEventAddTimeout(delay, on_pending_timer, d, NULL);
}

static bool cancel_release(mcsd *d, const char *uuid) {
        for (size_t i = 0; i < d->n_pending; i++)
                if (!strcmp(d->pending[i].uuid, uuid)) {
                        d->pending[i] = d->pending[--d->n_pending];
                        arm_pending_timer(d);
                        return true;
                }
        return false;
}

static void schedule_release(mcsd *d, const char *uuid) {
        for (size_t i = 0; i < d->n_pending; i++)
                if (!strcmp(d->pending[i].uuid, uuid))
                        return;
        pending_release *v = realloc(d->pending, (d->n_pending + 1) * sizeof *v);
        if (!v) {
                log_msg(MCS_LOG_ERROR, "out of memory; guest %s keeps its reservation", uuid);
                return;
        }
        d->pending = v;
        strcpy(v[d->n_pending].uuid, uuid);
        v[d->n_pending++].due_ms = mcsd_now_ms() + d->cfg.undefine_grace_ms;
        arm_pending_timer(d);
}

static bool domain_exists(mcsd *d, const char *uuid, bool *exists) {
        virDomainPtr dom = virDomainLookupByUUIDString(d->conn, uuid);
        if (dom) {
                virDomainFree(dom);
                *exists = true;
                return true;
        }
        *exists = false;
        return virGetLastErrorCode() == VIR_ERR_NO_DOMAIN;
}

/* Releases the guest's label if this host still owns the record. Returns
 * false when the registry failed (logged; worth trying again). */
static bool release_gone(mcsd *d, const char *uuid, const char *why) {
        mcs_record rec = {0};
        mcs_err e = {0};
        bool done = true;
        int r = mcs_registry_get(d->reg, uuid, &rec, &e);
        if (r == -MCS_E_NOTFOUND)
                return true;
        if (r < 0) {
                log_guest(MCS_LOG_ERROR, NULL, uuid, NULL, "guest %s: %s", uuid, e.msg);
                guests_schedule_retry(d);
                return false;
        }
        if (strcmp(rec.host, d->host_id)) {
                log_guest(MCS_LOG_INFO, rec.name, uuid, rec.label, "guest '%s' keeps %s: host %s holds it now", rec.name,
                          rec.label, rec.host);
        } else if ((r = mcs_guest_release(d->reg, &rec, NULL, &e)) == -MCS_E_CHANGED) {
                metrics_release(d->metrics, METRICS_RELEASE_KEPT);
                log_guest(MCS_LOG_INFO, rec.name, uuid, rec.label, "guest '%s' keeps %s: %s", rec.name, rec.label, e.msg);
        } else if (r < 0 && r != -MCS_E_NOTFOUND) {
                metrics_release(d->metrics, METRICS_RELEASE_FAILED);
                log_guest(MCS_LOG_ERROR, rec.name, uuid, rec.label, "guest '%s': cannot release %s: %s", rec.name,
                          rec.label, e.msg);
                guests_schedule_retry(d);
                done = false;
        } else if (r == 0) {
                metrics_release(d->metrics, METRICS_RELEASE_RELEASED);
                log_event(MCS_MSGID_RELEASED, MCS_LOG_INFO, rec.name, uuid, rec.label, "released %s of guest '%s' (%s)",
                          rec.label, rec.name, why);
                images_restore(d, uuid, rec.label);
                guests_label_freed(d);
        }
        mcs_record_clear(&rec);
        return done;
}

static void on_pending_timer(int timer, void *opaque) {
        mcsd *d = opaque;
        int64_t now = mcsd_now_ms();
        (void) timer;
        if (!d->conn) {
                /* Cannot tell whether the guest came back: the releases stay
                 * pending, and the reconcile after the reconnect arms the
                 * timer again. */
                virEventUpdateTimeout(d->pending_timer, -1);
                return;
        }
        for (size_t i = 0; i < d->n_pending;) {
                if (d->pending[i].due_ms > now) {
                        i++;
                        continue;
                }
                char uuid[MCS_UUID_STRLEN + 1];
                bool exists;
                strcpy(uuid, d->pending[i].uuid);
                if (!domain_exists(d, uuid, &exists)) {
                        /* Not known to be gone: keep the label, ask again later. */
                        log_msg(MCS_LOG_WARNING, "guest %s: lookup failed (%s); keeping its label for now", uuid,
                                virGetLastErrorMessage());
                        d->pending[i++].due_ms = now + RETRY_MS;
                        continue;
                }
                if (!exists && !release_gone(d, uuid, "gone for the grace period")) {
                        d->pending[i++].due_ms = now + RETRY_MS;
                        continue;
                }
                d->pending[i] = d->pending[--d->n_pending];
        }
        arm_pending_timer(d);
        mcsd_update_status(d);
}

/* ---- applying the rules to one guest ---- */

static void check_live_label(mcsd *d, virDomainPtr dom, const mcs_record *rec) {
        virSecurityLabel live;
        char level[MCS_RANGE_STRMAX];
        mcs_err e = {0};

        if (!d->secmodels.selinux) {
                log_guest(MCS_LOG_DEBUG, rec->name, rec->uuid, rec->label,
                          "guest '%s': the host's security model is not selinux; live label not compared", rec->name);
                return;
        }
        if (virDomainGetSecurityLabel(dom, &live) < 0) {
                log_guest(MCS_LOG_WARNING, rec->name, rec->uuid, rec->label, "guest '%s': cannot read its live label: %s",
                          rec->name, virGetLastErrorMessage());
                return;
        }
        if (!live.label[0] || mcs_context_level(live.label, level, sizeof level, &e) < 0 || strcmp(level, rec->label))
                log_guest(MCS_LOG_WARNING, rec->name, rec->uuid, rec->label,
                          "guest '%s' runs with label '%s', not its reserved %s; the reserved label applies from its next start",
                          rec->name, live.label, rec->label);
}

/* True while libvirt runs a job on the guest (a migration, either end) or
 * holds it paused for an incoming migration. A driver that cannot tell
 * (the test driver has no jobs) runs no migration. */
static bool migration_under_way(virDomainPtr dom) {
        virDomainJobInfo info;
        int state, reason;
        if (virDomainGetJobInfo(dom, &info) == 0 && info.type != VIR_DOMAIN_JOB_NONE)
                return true;
        return virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
               reason == VIR_DOMAIN_PAUSED_MIGRATION;
}

/* Brings the record's state and host in line with what libvirt says.
 * active is what a reconcile's listing said, maybe a while ago: a record
 * is changed only on what libvirt says now (the hook may just have marked
 * a starting guest running). */
static int sync_state(mcsd *d, virDomainPtr dom, int active, mcs_record *rec, mcs_err *e) {
        bool here = !strcmp(rec->host, d->host_id);
        mcs_state want = active == 1 ? MCS_STATE_RUNNING : MCS_STATE_RESERVED;
        mcs_record upd = {0};
        int r;

        if (active >= 0 && !(rec->state == want && here)) {
                active = virDomainIsActive(dom);
                want = active == 1 ? MCS_STATE_RUNNING : MCS_STATE_RESERVED;
        }

        if (active < 0)
                return mcs_fail(e, MCS_E_IO, "cannot tell whether it runs: %s", virGetLastErrorMessage());
        if (active == 1)
                check_live_label(d, dom, rec);
        if (rec->state == want && here)
                return 0;
        /* Defined here but running elsewhere: the running host owns it. */
        if (!active && rec->state == MCS_STATE_RUNNING && !here)
                return 0;
        /* Migrating: the record moves (or comes back) only once the guest
         * runs here with no migration under way; stopped here, it is the
         * other end's to record. */
        if (rec->state == MCS_STATE_MIGRATING && (!active || migration_under_way(dom)))
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
                break; /* only set by guests_apply's error path */
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

/* One guest on its way through the rules: decided first (the registry's
 * part, which a reconcile batches into one commit), finished once that is
 * durable (its XML, state, name and images). */
typedef struct applying {
        virDomainPtr dom;
        char uuid[VIR_UUID_STRING_BUFLEN];
        mcs_domain parsed;
        mcs_guest_outcome o;
        mcs_err e;
        char *xml, *live;
        bool ok; /* decided without an error */
        bool decided; /* the rules ran for it (in a reconcile's batch) */
        /* Whether it is persistent, and runs: known from a reconcile's
         * listings, or -1: asked when needed. */
        int persistent, active;
        bool define_done, defined; /* its new XML was written (a reconcile writes them at once) */
        bool stale;    /* its XML changed, or it went, since it was read: nothing written */
        char *written; /* its persistent XML as libvirt holds it after mcsd's define */
} applying;

static int is_persistent(applying *a) {
        if (a->persistent < 0)
                a->persistent = virDomainIsPersistent(a->dom);
        return a->persistent;
}

static int is_active(applying *a) {
        if (a->active < 0)
                a->active = virDomainIsActive(a->dom);
        return a->active;
}

/* Reads the guest from libvirt: its XML, parsed, and the label it runs
 * with. Returns false with a->e set when it cannot. Touches only a: a
 * reconcile reads several guests at once. */
static bool apply_read(applying *a) {
        int persistent = is_persistent(a);

        virDomainGetUUIDString(a->dom, a->uuid);
        if (persistent < 0) {
                log_msg(MCS_LOG_WARNING, "guest %s: %s", a->uuid, virGetLastErrorMessage());
                snprintf(a->e.msg, sizeof a->e.msg, "%s", virGetLastErrorMessage());
                return false;
        }
        if (!(a->xml = domain_xml(a->dom, persistent))) {
                log_msg(MCS_LOG_WARNING, "guest %s: cannot read its XML: %s", a->uuid, virGetLastErrorMessage());
                snprintf(a->e.msg, sizeof a->e.msg, "cannot read its XML: %s", virGetLastErrorMessage());
                return false;
        }
        if (mcs_domain_parse_kept(a->xml, &a->parsed, &a->e) < 0) {
                log_guest(MCS_LOG_ERROR, virDomainGetName(a->dom), a->uuid, NULL, "guest %s: %s", a->uuid, a->e.msg);
                return false;
        }
        /* A dynamic guest that runs may keep the label it runs with. */
        if (persistent && (a->parsed.mode == MCS_SECLABEL_DYNAMIC || a->parsed.mode == MCS_SECLABEL_ABSENT))
                a->live = is_active(a) == 1 ? domain_live_label(a->dom) : NULL;
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
        const guest_entry *g = guests_find(d, a->parsed.uuid);
        char level[MCS_RANGE_STRMAX];
        mcs_record cur = {0};
        if (a->persistent != 1 || a->parsed.mode != MCS_SECLABEL_STATIC || !a->parsed.label || !g || !g->written[0] ||
            mcs_context_level(a->parsed.label, level, sizeof level, NULL) < 0 || strcmp(level, g->written) ||
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
        guest_entry *g = guests_find(d, uuid);
        if (!g || !mcs_registry_fault_code(e->code) || g->status == MCS_GUEST_FAILED)
                return false;
        if (!g->unverified_ms) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                g->unverified_ms = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        }
        char *why = strdup(e->msg);
        if (why) {
                free(g->unverified_why);
                g->unverified_why = why;
        }
        return true;
}

/* Records the guest's outcome in the table, with the collisions it starts
 * or ends: each is logged once when it starts and once when it ends. */
static void record_outcome(mcsd *d, applying *a) {
        mcs_domain *parsed = &a->parsed;
        mcs_guest_outcome *o = &a->o;
        const guest_entry *was = guests_find(d, parsed->uuid);
        bool collided = was && was->status == MCS_GUEST_COLLISION;
        char partner[MCS_UUID_STRLEN + 1] = "";

        /* It holds its label; another guest of this host runs with one
         * that overlaps it, and was refused for that. */
        const guest_entry *c =
                o->status == MCS_GUEST_MANAGED && is_active(a) == 1 ? collider_of(d, parsed->uuid) : NULL;
        if (c) {
                snprintf(partner, sizeof partner, "%s", c->uuid);
                holder_why(o->why, sizeof o->why, d, o->rec.label, c->name, c->uuid);
                o->status = MCS_GUEST_COLLISION;
        }
        /* The holder is a guest of this host: libvirt says whether it runs
         * (a reconcile may not have recorded it running yet). */
        char level[MCS_RANGE_STRMAX];
        if (o->status == MCS_GUEST_COLLISION && !partner[0] && !strcmp(o->other.host, d->host_id) &&
            parsed->label && mcs_context_level(parsed->label, level, sizeof level, NULL) == 0) {
                virDomainPtr hd = virDomainLookupByUUIDString(d->conn, o->other.uuid);
                if (hd && virDomainIsActive(hd) == 1)
                        o->other.state = MCS_STATE_RUNNING;
                if (hd)
                        virDomainFree(hd);
                mcs_guest_collision_why(o->why, sizeof o->why, level, d->host_id, &o->other,
                                        o->other.state != MCS_STATE_RESERVED);
        }
        bool changed = set_guest(d, parsed->uuid, parsed->name, o->status, o->why);
        guest_entry *g = guests_find(d, parsed->uuid);
        if (g) { /* verified now */
                g->unverified_ms = 0;
                free(g->unverified_why);
                g->unverified_why = NULL;
        }
        if (g && o->status == MCS_GUEST_COLLISION) {
                snprintf(g->partner, sizeof g->partner, "%s", partner);
                mcs_record_clear(&g->other);
                if (!partner[0] && mcs_record_copy(&g->other, &o->other, NULL) < 0)
                        g->other = (mcs_record){0};
        }
        log_outcome(d, parsed, o, changed);
        if (collided && o->status != MCS_GUEST_COLLISION) {
                log_event(MCS_MSGID_COLLISION_CLEARED, MCS_LOG_INFO, parsed->name, parsed->uuid, NULL,
                          "collision cleared: guest '%s' (%s) on host %s is %s now", parsed->name, parsed->uuid,
                          d->host_id, mcs_guest_status_name(o->status));
                unmark_partners(d, parsed->uuid, "no longer does");
        }
        /* The holder runs here too: it is in collision as well. */
        if (o->status != MCS_GUEST_COLLISION || partner[0] || strcmp(o->other.host, d->host_id) ||
            o->other.state != MCS_STATE_RUNNING)
                return;
        guest_entry *h = guests_find(d, o->other.uuid);
        if (!h || (h->status != MCS_GUEST_MANAGED && h->status != MCS_GUEST_COLLISION))
                return;
        char why[MCS_ERR_MSG_MAX];
        _cleanup_free_ char *hname = strdup(h->name ? h->name : "");
        holder_why(why, sizeof why, d, o->other.label, parsed->name, parsed->uuid);
        if (hname && set_guest(d, o->other.uuid, hname, MCS_GUEST_COLLISION, why))
                log_event(MCS_MSGID_COLLISION, MCS_LOG_ERROR, hname, o->other.uuid, o->other.label,
                          "COLLISION: guest '%s' (%s) %s", hname, o->other.uuid, why);
        if ((h = guests_find(d, o->other.uuid)))
                snprintf(h->partner, sizeof h->partner, "%s", parsed->uuid);
}

/* The registry's part: what the rules make of the guest read. */
static void apply_rules(mcsd *d, applying *a) {
        cancel_release(d, a->parsed.uuid);
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
static void apply_define(mcsd *d, applying *a) {
        a->define_done = true;
        _cleanup_free_ char *now = domain_xml(a->dom, true);
        if (!now || strcmp(now, a->xml)) {
                a->stale = true;
                return;
        }
        virDomainPtr redefined = virDomainDefineXML(d->conn, a->o.new_xml);
        if (!redefined) {
                snprintf(a->e.msg, sizeof a->e.msg, "cannot write its static label: %s", virGetLastErrorMessage());
                return;
        }
        a->written = domain_xml(redefined, true);
        virDomainFree(redefined);
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
                        apply_define(d, a);
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
            (sync_state(d, a->dom, is_active(a), &o->rec, e) < 0 || sync_name(d, parsed, &o->rec, e) < 0)) {
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
        if (o->new_xml) {
                guest_entry *g = guests_find(d, parsed->uuid);
                if (g)
                        snprintf(g->written, sizeof g->written, "%s", o->rec.label);
        }
        rc = 0;
out:
        if (!parsed->uuid[0])
                snprintf(parsed->uuid, sizeof parsed->uuid, "%s", a->uuid);
        /* An error counts as a failure too, with its reason, until mcsd succeeds. */
        const char *gname = parsed->name ? parsed->name : virDomainGetName(a->dom);
        if (rc < 0 && e->code == MCS_E_EXHAUSTED) {
                if (set_guest(d, parsed->uuid, gname, MCS_GUEST_WAITING, e->msg))
                        log_guest(MCS_LOG_WARNING, gname, parsed->uuid, NULL, "guest '%s' is waiting for a label: %s", gname,
                                  e->msg);
                o->status = MCS_GUEST_WAITING;
                snprintf(o->why, sizeof o->why, "%s", e->msg);
                rc = 1;
                schedule_wait(d);
        } else if (rc < 0 && !keep_unverified(d, parsed->uuid, e))
                set_guest(d, parsed->uuid, gname, MCS_GUEST_FAILED, e->msg);
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

/* How many times a guest whose XML keeps changing under mcsd is read
 * again at once; its next event brings it back anyway. */
#define STALE_TRIES 3

int guests_apply(mcsd *d, virDomainPtr dom, guest_report *rep) {
        int rc = 0;
        bool exists = true;
        for (int i = 0; i < STALE_TRIES && exists; i++) {
                applying a = {.dom = dom, .persistent = -1, .active = -1};
                apply_decide(d, &a);
                rc = apply_finish(d, &a, rep);
                if (!a.stale)
                        return rc;
                /* Gone meanwhile: its UNDEFINED event lets its label go. */
                if (!domain_exists(d, a.uuid, &exists))
                        return -1;
        }
        return rc;
}

/* Reservations of a reconcile share one durable commit per batch of this
 * many guests; no guest gets its label before its batch is committed. */
#define RECONCILE_BATCH 256

/* A registry that fails (unreachable, read-only, full) fails every guest
 * the same way, each after a full wait: once one guest met such a failure,
 * the rest of the reconcile is not tried, so the main loop stays free. */
static void not_tried(applying *a, const mcs_err *why) {
        virDomainGetUUIDString(a->dom, a->uuid);
        a->e.code = why->code;
        snprintf(a->e.msg, sizeof a->e.msg, "not tried, the registry fails: %.*s", (int) sizeof a->e.msg - 40,
                 why->msg);
}

/* The UUIDs of the guests one listing flag selects, sorted; NULL when the
 * listing failed (each guest is then asked). */
typedef struct uuid_set {
        uuid_str *v;
        int n;
} uuid_set;

static uuid_set list_uuids(mcsd *d, unsigned flags) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(d->conn, &doms, flags);
        uuid_set s = {n >= 0 ? domain_sorted_uuids(doms, n) : NULL, n};
        if (n >= 0)
                domain_list_free(doms, n);
        return s;
}

static int in_set(const uuid_set *s, const char *uuid) {
        return s->v && uuid[0] ? domain_listed(s->v, s->n, uuid) : -1;
}

/* A reconcile knows which guests are persistent and which run from two
 * listings, not two calls per guest. */
typedef struct reconcile_lists {
        uuid_set persistent, active;
} reconcile_lists;

/* libvirt calls a reconcile keeps in flight at once: their round trips
 * overlap (libvirtd serves a connection's calls on several workers). */
#define LIBVIRT_CALLS_AT_ONCE 4

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
                apply_define(io->d, &io->a[i]);
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

/* Decides and finishes up to RECONCILE_BATCH guests; *stop (with its reason)
 * when the registry failed. */
static int apply_batch(mcsd *d, virDomainPtr *doms, int n, const reconcile_lists *k, mcs_err *stop) {
        _cleanup_free_ applying *a = calloc((size_t) n, sizeof *a);
        int failed = 0;

        if (!a) {
                for (int i = 0; i < n; i++)
                        failed += guests_apply(d, doms[i], NULL) < 0;
                return failed;
        }
        /* libvirt first, several guests at once, so that the batch holds the
         * registry only for the registry's part. */
        bool *read = calloc((size_t) n, sizeof *read);
        for (int i = 0; i < n; i++) {
                a[i].dom = doms[i];
                virDomainGetUUIDString(doms[i], a[i].uuid);
                a[i].persistent = in_set(&k->persistent, a[i].uuid);
                a[i].active = in_set(&k->active, a[i].uuid);
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
                failed += apply_finish(d, &a[i], NULL) < 0;
                /* Changed while the batch decided: read again on its own. */
                if (a[i].stale)
                        failed += guests_apply(d, doms[i], NULL) < 0;
        }
        return failed;
}

/* ---- events and reconcile ---- */

/* A guest that stopped and is gone (transient) or was undefined. */
static void guest_gone(mcsd *d, const char *uuid, bool stopped) {
        mcs_record rec = {0};
        mcs_err e = {0};
        drop_guest(d, uuid);
        int r = mcs_registry_get(d->reg, uuid, &rec, &e);
        if (r == -MCS_E_NOTFOUND)
                return;
        if (r < 0) {
                /* Not known whether it holds a label: the delayed release
                 * looks again, and keeps trying while the registry fails. */
                log_guest(MCS_LOG_WARNING, NULL, uuid, NULL, "guest %s is gone; its reservation is looked at again "
                          "later: %s", uuid, e.msg);
                schedule_release(d, uuid);
                return;
        }
        bool transient = rec.kind == MCS_KIND_TRANSIENT;
        mcs_record_clear(&rec);
        if (stopped && transient)
                release_gone(d, uuid, "the transient guest stopped");
        else
                schedule_release(d, uuid);
}

/* The guest stopped here other than by migrating away: a record this host
 * had marked migrating (a migration that failed or was cancelled, the
 * guest then stopped before mcsd saw it run again) is merely reserved now,
 * so that the usual rules (a transient guest's release) apply to it. */
static void stopped_not_migrated(mcsd *d, const char *uuid) {
        mcs_record rec = {0};
        mcs_err e = {0};
        if (mcs_registry_get(d->reg, uuid, &rec, &e) == 0 && rec.state == MCS_STATE_MIGRATING &&
            !strcmp(rec.host, d->host_id) &&
            mcs_registry_set_state(d->reg, uuid, MCS_STATE_RESERVED, NULL, &e) < 0)
                log_guest(MCS_LOG_ERROR, rec.name, uuid, rec.label, "guest '%s': %s", rec.name, e.msg);
        mcs_record_clear(&rec);
}

int guests_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        mcsd *d = opaque;
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        bool exists;

        /* Events queued before the connection died: reconcile makes them up. */
        if (conn != d->conn || virConnectIsAlive(conn) != 1)
                return 0;
        virDomainGetUUIDString(dom, uuid);
        log_msg(MCS_LOG_DEBUG, "event %d/%d for guest '%s' (%s)", event, detail, virDomainGetName(dom), uuid);
        redefines_note_event(d, uuid, event, detail);
        if (redefines_is_echo(d, dom, uuid, event, detail)) {
                log_msg(MCS_LOG_DEBUG, "guest %s: the event of mcsd's own define; nothing changed since", uuid);
                return 0;
        }
        switch (event) {
        case VIR_DOMAIN_EVENT_DEFINED:
        case VIR_DOMAIN_EVENT_STARTED:
        case VIR_DOMAIN_EVENT_UNDEFINED:
        case VIR_DOMAIN_EVENT_STOPPED:
        case VIR_DOMAIN_EVENT_RESUMED: /* a migration's end: the record may move (docs/mcsd.md, Migration) */
                break;
        default:
                return 0;
        }
        if (!domain_exists(d, uuid, &exists)) {
                log_msg(MCS_LOG_WARNING, "guest %s: lookup failed: %s", uuid, virGetLastErrorMessage());
                guests_schedule_retry(d);
                return 0;
        }
        if (event == VIR_DOMAIN_EVENT_STOPPED && detail != VIR_DOMAIN_EVENT_STOPPED_MIGRATED)
                stopped_not_migrated(d, uuid);
        if (!exists) {
                /* A guest migrated away belongs to its new host. */
                if (!(event == VIR_DOMAIN_EVENT_STOPPED && detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED))
                        guest_gone(d, uuid, event == VIR_DOMAIN_EVENT_STOPPED);
                else
                        drop_guest(d, uuid);
        } else if (guests_apply(d, dom, NULL) < 0) {
                guests_schedule_retry(d);
        }
        mcsd_update_status(d);
        return 0;
}

/* Which security drivers libvirt has decides whether a label may be
 * written at all: a guest with an SELinux label does not start on a host
 * without the SELinux driver. Read on every (re)connect and reconcile;
 * a change is logged once. */
static int read_secmodels(mcsd *d) {
        _cleanup_free_ char *caps = virConnectGetCapabilities(d->conn);
        mcs_secmodels m;
        mcs_err e = {0};
        if (!caps) {
                log_msg(MCS_LOG_ERROR, "cannot read the capabilities of %s: %s", d->cfg.uri, virGetLastErrorMessage());
                return -1;
        }
        if (mcs_secmodels_parse(caps, &m, &e) < 0) {
                log_msg(MCS_LOG_ERROR, "%s: %s", d->cfg.uri, e.msg);
                return -1;
        }
        mcs_label_policy p = mcs_label_policy_for(m.takes_labels, &d->cfg);
        bool changed = !d->secmodels_known || p != d->policy || strcmp(m.list, d->secmodels.list);
        d->secmodels = m;
        d->secmodels_known = true;
        d->policy = p;
        d->hook_policy = (int) p;
        hook_server_set_policy(d, (int) p);
        if (!changed)
                return 0;
        if (p == MCS_LABELS_WRITE)
                log_msg(MCS_LOG_INFO, "%s: security models %s; %s", d->cfg.uri, m.list, guests_policy_text(d));
        else
                log_msg(MCS_LOG_WARNING,
                        "%s has no SELinux security driver (security models: %s): mcsd writes no SELinux label into any "
                        "guest and the hook lets guests start; %s",
                        d->cfg.uri, m.list,
                        p == MCS_LABELS_RESERVE ? "pairs are still reserved in the registry (without_selinux = reserve)"
                                                : "nothing is reserved (without_selinux = skip)");
        return 0;
}

void guests_reconcile(mcsd *d) {
        virDomainPtr *doms = NULL;
        mcs_record_list mine = {0};
        mcs_err e = {0};
        int64_t t0 = mcsd_now_ms();
        int failed = 0;

        if (!d->conn)
                return;
        /* Releases that came due while disconnected wait for this. */
        arm_pending_timer(d);
        /* A reconcile that cannot start counts as a failed one (metrics). */
        if (read_secmodels(d) < 0) {
                metrics_reconcile(d->metrics, (mcsd_now_ms() - t0) * 1000000, false);
                guests_schedule_retry(d);
                return;
        }
        int n = virConnectListAllDomains(d->conn, &doms, 0);
        if (n < 0) {
                log_msg(MCS_LOG_ERROR, "cannot list guests: %s", virGetLastErrorMessage());
                metrics_reconcile(d->metrics, (mcsd_now_ms() - t0) * 1000000, false);
                guests_schedule_retry(d);
                return;
        }
        _cleanup_free_ uuid_str *uuids = domain_sorted_uuids(doms, n);
        if (!uuids) {
                log_msg(MCS_LOG_ERROR, "out of memory listing %d guests", n);
                domain_list_free(doms, n);
                metrics_reconcile(d->metrics, (mcsd_now_ms() - t0) * 1000000, false);
                guests_schedule_retry(d);
                return;
        }
        for (size_t i = 0; i < d->n_guests;)
                if (!domain_listed(uuids, n, d->guests[i].uuid))
                        drop_guest(d, d->guests[i].uuid);
                else
                        i++;
        mcs_err stop = {0};
        reconcile_lists k = {list_uuids(d, VIR_CONNECT_LIST_DOMAINS_PERSISTENT),
                             list_uuids(d, VIR_CONNECT_LIST_DOMAINS_ACTIVE)};
        for (int i = 0; i < n && virConnectIsAlive(d->conn) == 1; i += RECONCILE_BATCH)
                failed += apply_batch(d, doms + i, n - i < RECONCILE_BATCH ? n - i : RECONCILE_BATCH, &k, &stop);
        free(k.persistent.v);
        free(k.active.v);
        if (stop.code)
                log_msg(MCS_LOG_ERROR, "reconcile stopped, the registry fails: %s", stop.msg);

        /* Guests this host held whose removal was missed while disconnected.
         * Operators' static reservations are only released on an undefine
         * mcsd sees. */
        mcs_filter f = MCS_FILTER_ALL;
        f.host = d->host_id;
        if (mcs_registry_list(d->reg, &f, &mine, &e) < 0) {
                log_msg(MCS_LOG_ERROR, "cannot list this host's reservations: %s", e.msg);
                failed++;
        }
        for (size_t i = 0; i < mine.n; i++)
                if (mine.v[i].kind != MCS_KIND_STATIC && !domain_listed(uuids, n, mine.v[i].uuid))
                        schedule_release(d, mine.v[i].uuid);
        mcs_record_list_clear(&mine);

        domain_list_free(doms, n);
        if (failed)
                guests_schedule_retry(d);
        else
                d->retry_delay_ms = 0;
        metrics_reconcile(d->metrics, (mcsd_now_ms() - t0) * 1000000, !failed);
        log_msg(MCS_LOG_INFO, "reconciled %d guests in %lld ms (%d failed)", n, (long long) (mcsd_now_ms() - t0), failed);
        mcsd_update_status(d);
}

/* A retry that fails again waits twice as long, up to RETRY_MAX_MS: a
 * registry that stays down is not asked every second. */
#define RETRY_MAX_MS 30000

static void on_retry_timer(int timer, void *opaque) {
        mcsd *d = opaque;
        virEventUpdateTimeout(timer, -1);
        int delay = d->retry_delay_ms ? d->retry_delay_ms : RETRY_MS;
        d->retry_delay_ms = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
        guests_reconcile(d);
}

void guests_schedule_retry(mcsd *d) {
        int delay = d->retry_delay_ms ? d->retry_delay_ms : RETRY_MS;
        if (d->retry_timer >= 0)
                virEventUpdateTimeout(d->retry_timer, delay);
        else
                d->retry_timer = virEventAddTimeout(delay, on_retry_timer, d, NULL);
}

/* ---- guests waiting for a label ----
 * No free pair is left: these guests are tried again with a backoff (a
 * label freed on another host shows at the next try) rather than with the
 * 1 s retry of errors, and at once when mcsd frees a label here. */

static void on_wait_timer(int timer, void *opaque) {
        mcsd *d = opaque;
        size_t n = 0;
        bool still = false;
        virEventUpdateTimeout(timer, -1);
        d->wait_armed = false;
        if (!d->conn)
                return; /* the reconcile on reconnect tries them */
        uuid_str *uuids = calloc(d->n_guests + 1, sizeof *uuids);
        if (!uuids)
                return;
        for (size_t i = 0; i < d->n_guests; i++)
                if (d->guests[i].status == MCS_GUEST_WAITING)
                        snprintf(uuids[n++], sizeof uuids[0], "%s", d->guests[i].uuid);
        for (size_t i = 0; i < n; i++) {
                virDomainPtr dom = virDomainLookupByUUIDString(d->conn, uuids[i]);
                if (!dom)
                        continue; /* gone: its event says so */
                int r = guests_apply(d, dom, NULL);
                virDomainFree(dom);
                if (r < 0)
                        guests_schedule_retry(d);
                still |= r == 1;
        }
        free(uuids);
        if (still) {
                d->wait_delay_ms = d->wait_delay_ms * 2 > WAIT_MAX_MS ? WAIT_MAX_MS : d->wait_delay_ms * 2;
                virEventUpdateTimeout(timer, d->wait_delay_ms);
                d->wait_armed = true;
        } else
                d->wait_delay_ms = WAIT_MIN_MS;
        mcsd_update_status(d);
}

/* Arms the timer unless it is armed: a guest that starts waiting does not
 * hurry the others. */
static void schedule_wait(mcsd *d) {
        if (d->wait_delay_ms < WAIT_MIN_MS)
                d->wait_delay_ms = WAIT_MIN_MS;
        if (d->wait_timer < 0)
                d->wait_timer = virEventAddTimeout(d->wait_delay_ms, on_wait_timer, d, NULL);
        else if (!d->wait_armed)
                virEventUpdateTimeout(d->wait_timer, d->wait_delay_ms);
        d->wait_armed = true;
}

void guests_label_freed(mcsd *d) {
        size_t count[MCS_GUEST_STATUSES];
        guests_count(d, count);
        if (!count[MCS_GUEST_WAITING] || d->wait_timer < 0)
                return;
        d->wait_delay_ms = WAIT_MIN_MS;
        virEventUpdateTimeout(d->wait_timer, 0);
        d->wait_armed = true;
}
