/* The daemon's metrics as Prometheus text: its state read on the main loop
 * (guests, the registry's health, pool and heartbeats) and the counters of
 * metrics.c. Names follow prometheus.io's conventions: mcsd_ prefix, base
 * units, _total for counters, _info for build metadata. */
#include <stdio.h>
#include <string.h>

#include "heartbeat.h"
#include "metrics-render.h"
#include "metrics-text.h"

static double seconds(int64_t us) {
        return (double) us / 1e6;
}

static void gauge(metrics_text *t, const char *name, const char *help, double v) {
        metrics_text_family(t, name, "gauge", help);
        metrics_text_sample(t, name, NULL, v);
}

static void registry_part(mcsd *d, metrics_text *t, const metrics_snapshot *s) {
        char health[MCS_ERR_MSG_MAX];
        mcs_alloc_stats st;
        mcs_err e = {0};
        const char *backend[] = {"backend", mcs_registry_backend_name(d->reg), NULL};

        /* A registry whose last write failed still answers its check: the
         * line then says "failing since ..." instead of "ok: ...". */
        bool up = mcs_registry_health(d->reg, health, sizeof health, &e) == 0 && !strncmp(health, "ok", 2) &&
                  !heartbeat_failing(d->heartbeat);
        metrics_text_family(t, "mcsd_registry_up", "gauge",
                            "Whether the registry answers and this host's heartbeat is stored (1) or not (0).");
        metrics_text_sample(t, "mcsd_registry_up", backend, up);
        if (s->last_write_ok_us)
                gauge(t, "mcsd_registry_last_write_success_timestamp_seconds",
                      "When a write to the registry last succeeded (heartbeat, hook or client), Unix time.",
                      seconds(s->last_write_ok_us));
        metrics_text_family(t, "mcsd_registry_write_duration_seconds", "histogram",
                            "How long registry writes took, by writer.");
        for (size_t w = 0; w < METRICS_WRITERS; w++) {
                const char *l[] = {"writer", metrics_writer_name((metrics_writer) w), NULL};
                metrics_text_histogram(t, "mcsd_registry_write_duration_seconds", l, metrics_bucket_bounds,
                                       METRICS_BUCKETS, s->write_latency[w].counts, s->write_latency[w].sum_s);
        }
        metrics_text_family(t, "mcsd_registry_write_failures_total", "counter", "Registry writes that failed, by writer.");
        for (size_t w = 0; w < METRICS_WRITERS; w++) {
                const char *l[] = {"writer", metrics_writer_name((metrics_writer) w), NULL};
                metrics_text_sample(t, "mcsd_registry_write_failures_total", l, (double) s->write_failures[w]);
        }

        /* A registry that cannot count its labels leaves these out rather
         * than exporting a false 0. */
        if (mcs_registry_stats(d->reg, &st, &e) == 0) {
                gauge(t, "mcsd_labels_held", "Labels held in the registry, by every host, of any shape.",
                      (double) st.labels);
                gauge(t, "mcsd_pool_pairs", "Category pairs in the pool dynamic labels are drawn from.",
                      (double) st.pool_pairs);
                gauge(t, "mcsd_pool_free_pairs", "Pairs of the pool that may still be handed out.",
                      (double) st.free_pairs);
                gauge(t, "mcsd_pool_held_pairs", "Pairs of the pool held as labels.", (double) st.held_pairs);
        }
}

static void hosts_part(mcsd *d, metrics_text *t) {
        mcs_host_list hosts = {0};
        mcs_err e = {0};
        int64_t now = metrics_wall_us();

        gauge(t, "mcsd_host_silent_threshold_seconds",
              "A host whose heartbeat is older than this is reported silent.", seconds(MCSD_HOST_SILENT_US));
        if (mcs_registry_hosts(d->reg, &hosts, &e) < 0)
                return;
        metrics_text_family(t, "mcsd_host_heartbeat_timestamp_seconds", "gauge",
                            "When each host last stored its heartbeat in the registry, Unix time.");
        for (size_t i = 0; i < hosts.n; i++) {
                const char *l[] = {"host", hosts.v[i].host, NULL};
                metrics_text_sample(t, "mcsd_host_heartbeat_timestamp_seconds", l, seconds(hosts.v[i].seen_us));
        }
        metrics_text_family(t, "mcsd_host_heartbeat_age_seconds", "gauge",
                            "How old each host's last heartbeat was when these metrics were made.");
        for (size_t i = 0; i < hosts.n; i++) {
                const char *l[] = {"host", hosts.v[i].host, NULL};
                int64_t age = now - hosts.v[i].seen_us;
                metrics_text_sample(t, "mcsd_host_heartbeat_age_seconds", l, seconds(age > 0 ? age : 0));
        }
        mcs_host_list_clear(&hosts);
}

static void guests_part(mcsd *d, metrics_text *t) {
        size_t count[MCS_GUEST_STATUSES];

        guests_count(d, count);
        metrics_text_family(t, "mcsd_guests", "gauge", "This host's guests by status.");
        for (size_t i = 0; i < MCS_GUEST_STATUSES; i++) {
                const char *l[] = {"status", mcs_guest_status_name((mcs_guest_status) i), NULL};
                metrics_text_sample(t, "mcsd_guests", l, (double) count[i]);
        }
        gauge(t, "mcsd_guests_unverified",
              "This host's guests whose status stands from before the registry failed: not verified since.",
              (double) guests_unverified(d));
}

static void counters_part(metrics_text *t, const metrics_snapshot *s) {
        metrics_text_family(t, "mcsd_reservations_total", "counter",
                            "Attempts to reserve a label for a guest (rules, hook), by result.");
        for (size_t i = 0; i < METRICS_RESERVE_RESULTS; i++) {
                const char *l[] = {"result", metrics_reserve_name((metrics_reserve_result) i), NULL};
                metrics_text_sample(t, "mcsd_reservations_total", l, (double) s->reservations[i]);
        }
        metrics_text_family(t, "mcsd_releases_total", "counter", "Releases of a guest's label, by result.");
        for (size_t i = 0; i < METRICS_RELEASE_RESULTS; i++) {
                const char *l[] = {"result", metrics_release_name((metrics_release_result) i), NULL};
                metrics_text_sample(t, "mcsd_releases_total", l, (double) s->releases[i]);
        }
        metrics_text_family(t, "mcsd_hook_requests_total", "counter",
                            "Requests of libvirt's hook, by operation and decision.");
        for (size_t o = 0; o < METRICS_HOOK_OPS; o++)
                for (size_t dec = 0; dec < METRICS_HOOK_DECISIONS; dec++) {
                        const char *l[] = {"operation", mcs_hook_op_name((mcs_hook_op) o), "decision",
                                           metrics_decision_name((metrics_decision) dec), NULL};
                        metrics_text_sample(t, "mcsd_hook_requests_total", l, (double) s->hook[o][dec]);
                }
        metrics_text_family(t, "mcsd_hook_request_duration_seconds", "histogram",
                            "How long hook requests took, from their arrival to their answer.");
        metrics_text_histogram(t, "mcsd_hook_request_duration_seconds", NULL, metrics_bucket_bounds, METRICS_BUCKETS,
                               s->hook_latency.counts, s->hook_latency.sum_s);
        gauge(t, "mcsd_reconcile_duration_seconds", "How long the last reconcile of this host's guests took.",
              s->reconcile_last_s);
        gauge(t, "mcsd_reconcile_last_timestamp_seconds", "When the last reconcile ended, Unix time (0: none yet).",
              seconds(s->reconcile_last_us));
        gauge(t, "mcsd_reconcile_last_success_timestamp_seconds",
              "When the last reconcile without failures ended, Unix time (0: none yet).",
              seconds(s->reconcile_last_ok_us));
        metrics_text_family(t, "mcsd_reconciles_total", "counter", "Reconciles of this host's guests.");
        metrics_text_sample(t, "mcsd_reconciles_total", NULL, (double) s->reconciles);
        metrics_text_family(t, "mcsd_reconcile_failures_total", "counter", "Reconciles in which some guest failed.");
        metrics_text_sample(t, "mcsd_reconcile_failures_total", NULL, (double) s->reconcile_failures);
}

char *metrics_render(mcsd *d, mcs_err *e) {
        metrics_text t = {0};
        metrics_snapshot s;

        metrics_read(d->metrics, &s);
        metrics_text_family(&t, "mcsd_build_info", "gauge", "mcsd's version, and this host's id in the registry.");
        metrics_text_sample(&t, "mcsd_build_info", (const char *[]){"version", MCSD_VERSION, "host", d->host_id, NULL},
                            1);
        gauge(&t, "mcsd_start_time_seconds", "When mcsd started, Unix time.", seconds(s.started_us));
        metrics_text_family(&t, "mcsd_libvirt_connected", "gauge", "Whether mcsd is connected to libvirt.");
        metrics_text_sample(&t, "mcsd_libvirt_connected", NULL, d->conn != NULL);
        registry_part(d, &t, &s);
        hosts_part(d, &t);
        guests_part(d, &t);
        counters_part(&t, &s);
        return metrics_text_take(&t, e);
}
