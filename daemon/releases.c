/* Delayed releases of the reservations of guests that went away. */
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mcs-message-ids.h"
#include "mcs-ownership.h"
#include "metrics.h"
#include "releases.h"

#define RETRY_MS 1000

static void on_pending_timer(int timer, void *opaque);

void releases_arm(mcsd *d) {
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

bool releases_cancel(mcsd *d, const char *uuid) {
        for (size_t i = 0; i < d->n_pending; i++)
                if (!strcmp(d->pending[i].uuid, uuid)) {
                        d->pending[i] = d->pending[--d->n_pending];
                        releases_arm(d);
                        return true;
                }
        return false;
}

void releases_schedule(mcsd *d, const char *uuid) {
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
        releases_arm(d);
}

void releases_clear(mcsd *d) {
        free(d->pending);
        d->pending = NULL;
        d->n_pending = 0;
}

bool releases_release_gone(mcsd *d, const char *uuid, const char *why) {
        mcs_record rec = {0};
        mcs_err e = {0};
        bool done = true;
        int r = mcs_registry_get(d->reg, uuid, &rec, &e);
        if (r == -MCS_E_NOTFOUND)
                return true;
        if (r < 0) {
                log_guest(MCS_LOG_ERROR, NULL, uuid, NULL, "guest %s: %s", uuid, e.msg);
                d->events.retry(d);
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
                d->events.retry(d);
                done = false;
        } else if (r == 0) {
                metrics_release(d->metrics, METRICS_RELEASE_RELEASED);
                log_event(MCS_MSGID_RELEASED, MCS_LOG_INFO, rec.name, uuid, rec.label, "released %s of guest '%s' (%s)",
                          rec.label, rec.name, why);
                images_restore(d, uuid, rec.label);
                d->events.label_freed(d);
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
                if (!domain_exists(d->conn, uuid, &exists)) {
                        /* Not known to be gone: keep the label, ask again later. */
                        log_msg(MCS_LOG_WARNING, "guest %s: lookup failed (%s); keeping its label for now", uuid,
                                virGetLastErrorMessage());
                        d->pending[i++].due_ms = now + RETRY_MS;
                        continue;
                }
                if (!exists && !releases_release_gone(d, uuid, "gone for the grace period")) {
                        d->pending[i++].due_ms = now + RETRY_MS;
                        continue;
                }
                d->pending[i] = d->pending[--d->n_pending];
        }
        releases_arm(d);
        mcsd_update_status(d);
}
