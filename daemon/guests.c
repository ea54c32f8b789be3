/* The scheduler of the guests mcsd follows: lifecycle events, reconcile,
 * and the timers (retry after an error, guests waiting for a label).
 * Applying the rules to a guest is apply.c's, through the libvirt port;
 * the guest table is guest-table.c's, delayed releases releases.c's. */
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply-libvirt.h"
#include "guest-table.h"
#include "log.h"
#include "mcs-macro.h"
#include "metrics.h"
#include "mcsd.h"
#include "redefines.h"
#include "releases.h"

#define RETRY_MS 1000
#define WAIT_MIN_MS 1000
#define WAIT_MAX_MS 60000

/* The scheduler's own state: its two timers. */
struct guest_scheduler {
        int retry_timer;    /* reconcile again after an error; -1: none */
        int retry_delay_ms; /* its delay: 1 s, doubling while reconciles fail, to 30 s; 0: 1 s */
        int wait_timer;     /* try guests waiting for a label again; -1: none */
        bool wait_armed;
        int wait_delay_ms;  /* its backoff: 1 s doubling to 60 s, back to 1 s when a label is freed */
};

static void schedule_wait(mcsd *d);

int guests_init(mcsd *d, mcs_err *e) {
        if ((d->sched = calloc(1, sizeof *d->sched)))
                d->sched->retry_timer = d->sched->wait_timer = -1;
        if (!d->sched || !(d->guests = guest_table_new(d->host_id)) || !(d->releases = releases_new()) ||
            !(d->redefines = redefines_new()))
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        return 0;
}

void guests_clear(mcsd *d) {
        guest_table_free(d->guests);
        d->guests = NULL;
        releases_free(d->releases);
        d->releases = NULL;
        redefines_free(d->redefines);
        d->redefines = NULL;
        free(d->sched); /* its timers stay: the loop has stopped */
        d->sched = NULL;
}

int guests_apply(mcsd *d, virDomainPtr dom, guest_report *rep) {
        apply_port port = apply_libvirt_port(d->conn);
        int rc = apply_one(d, &port, apply_libvirt_dom(dom), rep);
        if (rc == 1)
                schedule_wait(d);
        return rc;
}

/* Reservations of a reconcile share one durable commit per batch of this
 * many guests; no guest gets its label before its batch is committed. */
#define RECONCILE_BATCH 256

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

/* Applies the rules to up to RECONCILE_BATCH guests (apply_batch); *stop
 * (with its reason) when the registry failed. */
static int reconcile_batch(mcsd *d, virDomainPtr *doms, int n, const reconcile_lists *k, mcs_err *stop) {
        apply_item items[RECONCILE_BATCH];
        apply_port port = apply_libvirt_port(d->conn);
        bool waiting = false;
        for (int i = 0; i < n; i++) {
                char uuid[VIR_UUID_STRING_BUFLEN] = ""; /* unknown: each guest is asked */
                virDomainGetUUIDString(doms[i], uuid);
                items[i] = (apply_item){apply_libvirt_dom(doms[i]), in_set(&k->persistent, uuid),
                                        in_set(&k->active, uuid)};
        }
        int failed = apply_batch(d, &port, items, n, &waiting, stop);
        if (waiting)
                schedule_wait(d);
        return failed;
}

/* ---- events and reconcile ---- */

/* A guest that stopped and is gone (transient) or was undefined. */
static void guest_gone(mcsd *d, const char *uuid, bool stopped) {
        mcs_record rec = {0};
        mcs_err e = {0};
        guests_drop(d->guests, uuid);
        int r = mcs_registry_get(d->reg, uuid, &rec, &e);
        if (r == -MCS_E_NOTFOUND)
                return;
        if (r < 0) {
                /* Not known whether it holds a label: the delayed release
                 * looks again, and keeps trying while the registry fails. */
                log_guest(MCS_LOG_WARNING, NULL, uuid, NULL, "guest %s is gone; its reservation is looked at again "
                          "later: %s", uuid, e.msg);
                releases_schedule(d, uuid);
                return;
        }
        bool transient = rec.kind == MCS_KIND_TRANSIENT;
        mcs_record_clear(&rec);
        if (stopped && transient)
                releases_release_gone(d, uuid, "the transient guest stopped");
        else
                releases_schedule(d, uuid);
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
        if (!domain_exists(d->conn, uuid, &exists)) {
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
                        guests_drop(d->guests, uuid);
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
        releases_arm(d);
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
        for (size_t i = 0; i < guests_size(d->guests);)
                if (!domain_listed(uuids, n, guest_uuid(guests_at(d->guests, i))))
                        guests_drop(d->guests, guest_uuid(guests_at(d->guests, i)));
                else
                        i++;
        mcs_err stop = {0};
        reconcile_lists k = {list_uuids(d, VIR_CONNECT_LIST_DOMAINS_PERSISTENT),
                             list_uuids(d, VIR_CONNECT_LIST_DOMAINS_ACTIVE)};
        for (int i = 0; i < n && virConnectIsAlive(d->conn) == 1; i += RECONCILE_BATCH)
                failed += reconcile_batch(d, doms + i, n - i < RECONCILE_BATCH ? n - i : RECONCILE_BATCH, &k, &stop);
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
                        releases_schedule(d, mine.v[i].uuid);
        mcs_record_list_clear(&mine);

        domain_list_free(doms, n);
        if (failed)
                guests_schedule_retry(d);
        else
                d->sched->retry_delay_ms = 0;
        metrics_reconcile(d->metrics, (mcsd_now_ms() - t0) * 1000000, !failed);
        log_msg(MCS_LOG_INFO, "reconciled %d guests in %lld ms (%d failed)", n, (long long) (mcsd_now_ms() - t0), failed);
        mcsd_update_status(d);
}

/* A retry that fails again waits twice as long, up to RETRY_MAX_MS: a
 * registry that stays down is not asked every second. */
#define RETRY_MAX_MS 30000

static void on_retry_timer(int timer, void *opaque) {
        mcsd *d = opaque;
        guest_scheduler *sc = d->sched;
        virEventUpdateTimeout(timer, -1);
        int delay = sc->retry_delay_ms ? sc->retry_delay_ms : RETRY_MS;
        sc->retry_delay_ms = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
        guests_reconcile(d);
}

void guests_schedule_retry(mcsd *d) {
        guest_scheduler *sc = d->sched;
        int delay = sc->retry_delay_ms ? sc->retry_delay_ms : RETRY_MS;
        if (sc->retry_timer >= 0)
                virEventUpdateTimeout(sc->retry_timer, delay);
        else
                sc->retry_timer = virEventAddTimeout(delay, on_retry_timer, d, NULL);
}

/* ---- guests waiting for a label ----
 * No free pair is left: these guests are tried again with a backoff (a
 * label freed on another host shows at the next try) rather than with the
 * 1 s retry of errors, and at once when mcsd frees a label here. */

static void on_wait_timer(int timer, void *opaque) {
        mcsd *d = opaque;
        guest_scheduler *sc = d->sched;
        size_t n = 0;
        bool still = false;
        virEventUpdateTimeout(timer, -1);
        sc->wait_armed = false;
        if (!d->conn)
                return; /* the reconcile on reconnect tries them */
        uuid_str *uuids = calloc(guests_size(d->guests) + 1, sizeof *uuids);
        if (!uuids)
                return;
        for (size_t i = 0; i < guests_size(d->guests); i++)
                if (guest_status(guests_at(d->guests, i)) == MCS_GUEST_WAITING)
                        snprintf(uuids[n++], sizeof uuids[0], "%s", guest_uuid(guests_at(d->guests, i)));
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
                sc->wait_delay_ms = sc->wait_delay_ms * 2 > WAIT_MAX_MS ? WAIT_MAX_MS : sc->wait_delay_ms * 2;
                virEventUpdateTimeout(timer, sc->wait_delay_ms);
                sc->wait_armed = true;
        } else
                sc->wait_delay_ms = WAIT_MIN_MS;
        mcsd_update_status(d);
}

/* Arms the timer unless it is armed: a guest that starts waiting does not
 * hurry the others. */
static void schedule_wait(mcsd *d) {
        guest_scheduler *sc = d->sched;
        if (sc->wait_delay_ms < WAIT_MIN_MS)
                sc->wait_delay_ms = WAIT_MIN_MS;
        if (sc->wait_timer < 0)
                sc->wait_timer = virEventAddTimeout(sc->wait_delay_ms, on_wait_timer, d, NULL);
        else if (!sc->wait_armed)
                virEventUpdateTimeout(sc->wait_timer, sc->wait_delay_ms);
        sc->wait_armed = true;
}

void guests_label_freed(mcsd *d) {
        guest_scheduler *sc = d->sched;
        size_t count[MCS_GUEST_STATUSES];
        guests_count(d, count);
        if (!count[MCS_GUEST_WAITING] || sc->wait_timer < 0)
                return;
        sc->wait_delay_ms = WAIT_MIN_MS;
        virEventUpdateTimeout(sc->wait_timer, 0);
        sc->wait_armed = true;
}
