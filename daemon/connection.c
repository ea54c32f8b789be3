/* One libvirt connection with keepalive, a close callback and reconnection
 * with exponential backoff. Every successful connect is followed by a full
 * reconcile, which makes up for events missed while disconnected. */
#include <libvirt/virterror.h>

#include "log.h"
#include "mcsd.h"

static void on_reconnect_timer(int timer, void *opaque);

static void schedule_reconnect(mcsd *d) {
        unsigned delay = d->backoff_ms;
        d->backoff_ms = delay >= d->cfg.reconnect_max_ms / 2 ? d->cfg.reconnect_max_ms : delay * 2;
        if (d->reconnect_timer >= 0)
                virEventUpdateTimeout(d->reconnect_timer, (int) delay);
        else
                d->reconnect_timer = virEventAddTimeout((int) delay, on_reconnect_timer, d, NULL);
        log_msg(MCS_LOG_DEBUG, "reconnecting to %s in %u ms", d->cfg.uri, delay);
}

static void on_close(virConnectPtr conn, int reason, void *opaque) {
        mcsd *d = opaque;
        static const char *const reasons[] = {"error", "end of file", "keepalive timeout", "client request"};
        (void) conn;
        log_msg(MCS_LOG_WARNING, "lost the connection to %s (%s); reconnecting", d->cfg.uri,
                reason >= 0 && reason < 4 ? reasons[reason] : "unknown");
        /* Closing a connection from inside its own close callback is not
         * allowed; the reconnect timer does it. */
        d->backoff_ms = d->cfg.reconnect_min_ms;
        schedule_reconnect(d);
        mcsd_update_status(d);
}

void conn_apply_keepalive(mcsd *d) {
        if (d->conn && virConnectSetKeepAlive(d->conn, (int) d->cfg.keepalive_interval_s ? (int) d->cfg.keepalive_interval_s : -1,
                                              d->cfg.keepalive_count) < 0)
                log_msg(MCS_LOG_WARNING, "%s: keepalive not available: %s", d->cfg.uri, virGetLastErrorMessage());
}

void conn_stop(mcsd *d) {
        if (!d->conn)
                return;
        if (d->lifecycle_cb >= 0)
                virConnectDomainEventDeregisterAny(d->conn, d->lifecycle_cb);
        d->lifecycle_cb = -1;
        virConnectUnregisterCloseCallback(d->conn, on_close);
        virConnectClose(d->conn);
        d->conn = NULL;
}

void conn_start(mcsd *d) {
        conn_stop(d);
        d->conn = virConnectOpen(d->cfg.uri);
        if (!d->conn) {
                log_msg(d->connected_once ? MCS_LOG_DEBUG : MCS_LOG_WARNING, "cannot connect to %s: %s", d->cfg.uri,
                        virGetLastErrorMessage());
                schedule_reconnect(d);
                mcsd_update_status(d);
                return;
        }
        conn_apply_keepalive(d);
        if (virConnectRegisterCloseCallback(d->conn, on_close, d, NULL) < 0)
                log_msg(MCS_LOG_WARNING, "%s: no close callback: %s", d->cfg.uri, virGetLastErrorMessage());
        d->lifecycle_cb = virConnectDomainEventRegisterAny(d->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(d->events.lifecycle), d, NULL);
        if (d->lifecycle_cb < 0) {
                log_msg(MCS_LOG_ERROR, "%s: cannot follow lifecycle events: %s", d->cfg.uri, virGetLastErrorMessage());
                conn_stop(d);
                schedule_reconnect(d);
                return;
        }
        log_msg(MCS_LOG_INFO, "connected to %s", d->cfg.uri);
        d->connected_once = true;
        d->backoff_ms = d->cfg.reconnect_min_ms;
        if (d->reconnect_timer >= 0)
                virEventUpdateTimeout(d->reconnect_timer, -1);
        d->events.reconcile(d);
}

static void on_reconnect_timer(int timer, void *opaque) {
        mcsd *d = opaque;
        virEventUpdateTimeout(timer, -1);
        conn_start(d);
}
