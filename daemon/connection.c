/* One libvirt connection with keepalive, a close callback and reconnection
 * with exponential backoff. Every successful connect is followed by a full
 * reconcile, which makes up for events missed while disconnected. */
#include <libvirt/virterror.h>
#include <stdlib.h>

#include "connection.h"
#include "log.h"

struct connection {
        mcsd *d;                  /* its config and events are read; the lifecycle events' opaque */
        void (*publish)(mcsd *d, virConnectPtr conn);
        virConnectPtr handle;     /* the connection; NULL: none */
        int lifecycle_cb;         /* -1: none */
        int reconnect_timer;      /* -1: none */
        unsigned backoff_ms;      /* next reconnect delay */
        bool connected_once;
};

static void on_reconnect_timer(int timer, void *opaque);

static void schedule_reconnect(connection *c) {
        const mcs_config *cfg = &c->d->cfg;
        unsigned delay = c->backoff_ms;
        c->backoff_ms = delay >= cfg->reconnect_max_ms / 2 ? cfg->reconnect_max_ms : delay * 2;
        if (c->reconnect_timer >= 0)
                virEventUpdateTimeout(c->reconnect_timer, (int) delay);
        else
                c->reconnect_timer = virEventAddTimeout((int) delay, on_reconnect_timer, c, NULL);
        log_msg(MCS_LOG_DEBUG, "reconnecting to %s in %u ms", cfg->uri, delay);
}

static void on_close(virConnectPtr conn, int reason, void *opaque) {
        connection *c = opaque;
        static const char *const reasons[] = {"error", "end of file", "keepalive timeout", "client request"};
        (void) conn;
        log_msg(MCS_LOG_WARNING, "lost the connection to %s (%s); reconnecting", c->d->cfg.uri,
                reason >= 0 && reason < 4 ? reasons[reason] : "unknown");
        /* Closing a connection from inside its own close callback is not
         * allowed; the reconnect timer does it. */
        c->backoff_ms = c->d->cfg.reconnect_min_ms;
        schedule_reconnect(c);
        mcsd_update_status(c->d);
}

void connection_apply_keepalive(connection *c) {
        const mcs_config *cfg = &c->d->cfg;
        int interval = (int) cfg->keepalive_interval_s ? (int) cfg->keepalive_interval_s : -1;
        if (c->handle && virConnectSetKeepAlive(c->handle, interval, cfg->keepalive_count) < 0)
                log_msg(MCS_LOG_WARNING, "%s: keepalive not available: %s", cfg->uri, virGetLastErrorMessage());
}

static void disconnect(connection *c) {
        if (!c->handle)
                return;
        if (c->lifecycle_cb >= 0)
                virConnectDomainEventDeregisterAny(c->handle, c->lifecycle_cb);
        c->lifecycle_cb = -1;
        virConnectUnregisterCloseCallback(c->handle, on_close);
        c->publish(c->d, NULL);
        virConnectClose(c->handle);
        c->handle = NULL;
}

/* Connects now, or schedules a retry. */
static void try_connect(connection *c) {
        mcsd *d = c->d;
        disconnect(c);
        c->handle = virConnectOpen(d->cfg.uri);
        if (!c->handle) {
                log_msg(c->connected_once ? MCS_LOG_DEBUG : MCS_LOG_WARNING, "cannot connect to %s: %s", d->cfg.uri,
                        virGetLastErrorMessage());
                schedule_reconnect(c);
                mcsd_update_status(d);
                return;
        }
        c->publish(d, c->handle);
        connection_apply_keepalive(c);
        if (virConnectRegisterCloseCallback(c->handle, on_close, c, NULL) < 0)
                log_msg(MCS_LOG_WARNING, "%s: no close callback: %s", d->cfg.uri, virGetLastErrorMessage());
        c->lifecycle_cb = virConnectDomainEventRegisterAny(c->handle, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(d->events.lifecycle), d, NULL);
        if (c->lifecycle_cb < 0) {
                log_msg(MCS_LOG_ERROR, "%s: cannot follow lifecycle events: %s", d->cfg.uri, virGetLastErrorMessage());
                disconnect(c);
                schedule_reconnect(c);
                return;
        }
        log_msg(MCS_LOG_INFO, "connected to %s", d->cfg.uri);
        c->connected_once = true;
        c->backoff_ms = d->cfg.reconnect_min_ms;
        if (c->reconnect_timer >= 0)
                virEventUpdateTimeout(c->reconnect_timer, -1);
        d->events.reconcile(d);
}

static void on_reconnect_timer(int timer, void *opaque) {
        virEventUpdateTimeout(timer, -1);
        try_connect(opaque);
}

void connection_reconnect(connection *c) {
        c->backoff_ms = c->d->cfg.reconnect_min_ms;
        try_connect(c);
}

int connection_start(mcsd *d, void (*publish)(mcsd *d, virConnectPtr conn), mcs_err *e) {
        connection *c = calloc(1, sizeof *c);
        if (!c)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        *c = (connection){.d = d, .publish = publish, .lifecycle_cb = -1, .reconnect_timer = -1};
        d->connection = c;
        connection_reconnect(c);
        return 0;
}

void connection_stop(mcsd *d) {
        connection *c = d->connection;
        if (!c)
                return;
        disconnect(c);
        if (c->reconnect_timer >= 0)
                virEventRemoveTimeout(c->reconnect_timer);
        free(c);
        d->connection = NULL;
}
