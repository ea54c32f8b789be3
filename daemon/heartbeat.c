#include "heartbeat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mcs-message-ids.h"
#include "metrics.h"

struct heartbeat {
        mcsd *d;                  /* its registry, metrics, host id and events are read */
        int timer;                /* -1: none */
        bool failing;             /* the last beat failed (logged once) */
        uint64_t registry_breaks; /* mcs_registry_breaks of d->reg last seen */
};

static int64_t wall_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One line when the heartbeat starts failing and one when it works again. */
static void beat(heartbeat *hb) {
        mcsd *d = hb->d;
        mcs_err e = {0};
        int64_t t0 = metrics_mono_ns();
        int r = mcs_registry_heartbeat(d->reg, &e);
        metrics_registry_write(d->metrics, METRICS_WRITER_HEARTBEAT, metrics_mono_ns() - t0, r == 0);
        if (r < 0) {
                if (!hb->failing)
                        log_event(MCS_MSGID_REGISTRY_FAILING, MCS_LOG_WARNING, NULL, NULL, NULL,
                                  "registry heartbeat failed: %s", e.msg);
                hb->failing = true;
                return;
        }
        if (hb->failing)
                log_event(MCS_MSGID_REGISTRY_RECOVERED, MCS_LOG_INFO, NULL, NULL, NULL,
                          "registry heartbeat works again");
        hb->failing = false;
}

/* A registry replaced under mcsd (recreated after its directory was
 * removed, an older copy put back) lacks what this host holds: register
 * every guest again. */
static void notice_replaced_registry(heartbeat *hb) {
        mcsd *d = hb->d;
        mcs_err e = {0};
        uint64_t breaks = mcs_registry_breaks(d->reg, &e);
        if (breaks <= hb->registry_breaks)
                return;
        hb->registry_breaks = breaks;
        log_msg(MCS_LOG_WARNING, "the registry at %s is not the one mcsd was following (replaced, recreated or "
                "restored from an older copy): reconciling every guest to register its label again",
                mcs_registry_location(d->reg));
        if (d->conn)
                d->events.reconcile(d);
}

static void on_heartbeat(int timer, void *opaque) {
        (void) timer;
        beat(opaque);
        notice_replaced_registry(opaque);
}

int heartbeat_start(mcsd *d, mcs_err *e) {
        heartbeat *hb = calloc(1, sizeof *hb);
        if (!hb)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        *hb = (heartbeat){.d = d, .timer = -1};
        d->heartbeat = hb;
        beat(hb);
        hb->timer = virEventAddTimeout(MCSD_HEARTBEAT_MS, on_heartbeat, hb, NULL);
        if (hb->timer < 0)
                return mcs_fail(e, MCS_E_IO, "cannot set up the heartbeat's timer");
        return 0;
}

void heartbeat_stop(mcsd *d) {
        heartbeat *hb = d->heartbeat;
        if (!hb)
                return;
        if (hb->timer >= 0)
                virEventRemoveTimeout(hb->timer);
        free(hb);
        d->heartbeat = NULL;
}

void heartbeat_registry_reopened(heartbeat *hb) {
        if (hb)
                hb->registry_breaks = 0;
}

bool heartbeat_failing(const heartbeat *hb) {
        return hb && hb->failing;
}

void heartbeat_status(mcsd *d, json_object *reg_json) {
        char health[MCS_ERR_MSG_MAX + 64];
        mcs_err e = {0};
        mcs_host_list hosts = {0};

        if (mcs_registry_health(d->reg, health, sizeof health, &e) < 0)
                snprintf(health, sizeof health, "failing: %s", e.msg);
        else if (heartbeat_failing(d->heartbeat))
                snprintf(health + strlen(health), sizeof health - strlen(health), "; this host's heartbeat fails");
        json_object_object_add(reg_json, "health", json_object_new_string(health));

        json_object *a = json_object_new_array();
        if (mcs_registry_hosts(d->reg, &hosts, &e) == 0)
                for (size_t i = 0; i < hosts.n; i++) {
                        json_object *h = json_object_new_object();
                        bool silent = heartbeat_host_silent(d, &hosts, hosts.v[i].host);
                        json_object_object_add(h, "host", json_object_new_string(hosts.v[i].host));
                        json_object_object_add(h, "seen_us", json_object_new_int64(hosts.v[i].seen_us));
                        json_object_object_add(h, "silent", json_object_new_boolean(silent));
                        json_object_array_add(a, h);
                }
        mcs_host_list_clear(&hosts);
        json_object_object_add(reg_json, "hosts", a);
}

bool heartbeat_host_silent(mcsd *d, const mcs_host_list *hosts, const char *host) {
        if (strcmp(host, d->host_id) == 0)
                return false;
        for (size_t i = 0; i < hosts->n; i++)
                if (strcmp(hosts->v[i].host, host) == 0)
                        return wall_us() - hosts->v[i].seen_us > MCSD_HOST_SILENT_US;
        return false;
}
