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

/* A guest that went away; its reservation is released at due_ms unless it
 * comes back first. */
typedef struct pending_release {
        char uuid[MCS_UUID_STRLEN + 1];
        int64_t due_ms;
} pending_release;

struct release_queue {
        pending_release *v;
        size_t n;
        int timer; /* -1: none */
};

release_queue *releases_new(void) {
        release_queue *q = calloc(1, sizeof *q);
        if (q)
                q->timer = -1;
        return q;
}

void releases_free(release_queue *q) {
        if (!q)
                return;
        free(q->v);
        free(q);
}

size_t releases_count(const mcsd *d) {
        return d->releases->n;
}

static void on_pending_timer(int timer, void *opaque);

void releases_arm(mcsd *d) {
        release_queue *q = d->releases;
        int64_t next = INT64_MAX, now = mcsd_now_ms();
        for (size_t i = 0; i < q->n; i++)
                if (q->v[i].due_ms < next)
                        next = q->v[i].due_ms;
        int delay = q->n == 0 ? -1 : next <= now ? 0 : (int) (next - now);
        if (q->timer >= 0)
                virEventUpdateTimeout(q->timer, delay);
        else if (delay >= 0)
                q->timer = virEventAddTimeout(delay, on_pending_timer, d, NULL);
}

bool releases_cancel(mcsd *d, const char *uuid) {
        release_queue *q = d->releases;
        for (size_t i = 0; i < q->n; i++)
                if (!strcmp(q->v[i].uuid, uuid)) {
                        q->v[i] = q->v[--q->n];
                        releases_arm(d);
                        return true;
                }
        return false;
}

void releases_schedule(mcsd *d, const char *uuid) {
        release_queue *q = d->releases;
        for (size_t i = 0; i < q->n; i++)
                if (!strcmp(q->v[i].uuid, uuid))
                        return;
        pending_release *v = realloc(q->v, (q->n + 1) * sizeof *v);
        if (!v) {
                log_msg(MCS_LOG_ERROR, "out of memory; guest %s keeps its reservation", uuid);
                return;
        }
        q->v = v;
        strcpy(v[q->n].uuid, uuid);
        v[q->n++].due_ms = mcsd_now_ms() + d->cfg.undefine_grace_ms;
        releases_arm(d);
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
        release_queue *q = d->releases;
        int64_t now = mcsd_now_ms();
        (void) timer;
        if (!d->conn) {
                /* Cannot tell whether the guest came back: the releases stay
                 * pending, and the reconcile after the reconnect arms the
                 * timer again. */
                virEventUpdateTimeout(q->timer, -1);
                return;
        }
        for (size_t i = 0; i < q->n;) {
                if (q->v[i].due_ms > now) {
                        i++;
                        continue;
                }
                char uuid[MCS_UUID_STRLEN + 1];
                bool exists;
                strcpy(uuid, q->v[i].uuid);
                if (!domain_exists(d->conn, uuid, &exists)) {
                        /* Not known to be gone: keep the label, ask again later. */
                        log_msg(MCS_LOG_WARNING, "guest %s: lookup failed (%s); keeping its label for now", uuid,
                                virGetLastErrorMessage());
                        q->v[i++].due_ms = now + RETRY_MS;
                        continue;
                }
                if (!exists && !releases_release_gone(d, uuid, "gone for the grace period")) {
                        q->v[i++].due_ms = now + RETRY_MS;
                        continue;
                }
                q->v[i] = q->v[--q->n];
        }
        releases_arm(d);
        mcsd_update_status(d);
}
