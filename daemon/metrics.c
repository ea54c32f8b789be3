#include "metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "mcs-macro.h"

/* From half a millisecond (a local sqlite commit) to 30 s (an etcd or NFS
 * registry stuck past every timeout). */
const double metrics_bucket_bounds[METRICS_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                       0.1,    0.25,  0.5,    1,     2.5,  5,     30};

typedef struct hist {
        _Atomic uint64_t counts[METRICS_BUCKETS + 1];
        _Atomic uint64_t sum_ns;
} hist;

struct mcsd_metrics {
        _Atomic uint64_t hook[METRICS_HOOK_OPS][METRICS_HOOK_DECISIONS];
        hist hook_latency;
        _Atomic uint64_t reservations[METRICS_RESERVE_RESULTS];
        _Atomic uint64_t releases[METRICS_RELEASE_RESULTS];
        hist write_latency[METRICS_WRITERS];
        _Atomic uint64_t write_failures[METRICS_WRITERS];
        _Atomic int64_t last_write_ok_us;
        _Atomic int64_t reconcile_last_ns, reconcile_last_us, reconcile_last_ok_us;
        _Atomic uint64_t reconciles, reconcile_failures;
        int64_t started_us;
};

int64_t metrics_mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t metrics_wall_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int metrics_new(mcsd_metrics **out, mcs_err *e) {
        mcsd_metrics *m = calloc(1, sizeof *m);
        if (!m)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        m->started_us = metrics_wall_us();
        *out = m;
        return 0;
}

void metrics_free(mcsd_metrics *m) {
        free(m);
}

static void observe(hist *h, int64_t ns) {
        if (ns < 0)
                ns = 0;
        size_t i = 0;
        while (i < METRICS_BUCKETS && (double) ns / 1e9 > metrics_bucket_bounds[i])
                i++;
        atomic_fetch_add(&h->counts[i], 1);
        atomic_fetch_add(&h->sum_ns, (uint64_t) ns);
}

static void read_hist(const hist *h, metrics_hist *out) {
        for (size_t i = 0; i <= METRICS_BUCKETS; i++)
                out->counts[i] = atomic_load(&h->counts[i]);
        out->sum_s = (double) atomic_load(&h->sum_ns) / 1e9;
}

void metrics_hook(mcsd_metrics *m, mcs_hook_op op, metrics_decision dec, int64_t elapsed_ns) {
        if (!m || (unsigned) op >= METRICS_HOOK_OPS || (unsigned) dec >= METRICS_HOOK_DECISIONS)
                return;
        atomic_fetch_add(&m->hook[op][dec], 1);
        observe(&m->hook_latency, elapsed_ns);
}

void metrics_registry_write(mcsd_metrics *m, metrics_writer w, int64_t elapsed_ns, bool ok) {
        if (!m || (unsigned) w >= METRICS_WRITERS)
                return;
        observe(&m->write_latency[w], elapsed_ns);
        if (ok)
                atomic_store(&m->last_write_ok_us, metrics_wall_us());
        else
                atomic_fetch_add(&m->write_failures[w], 1);
}

void metrics_reservation(mcsd_metrics *m, metrics_reserve_result result) {
        if (m && (unsigned) result < METRICS_RESERVE_RESULTS)
                atomic_fetch_add(&m->reservations[result], 1);
}

void metrics_release(mcsd_metrics *m, metrics_release_result result) {
        if (m && (unsigned) result < METRICS_RELEASE_RESULTS)
                atomic_fetch_add(&m->releases[result], 1);
}

void metrics_reconcile(mcsd_metrics *m, int64_t elapsed_ns, bool ok) {
        if (!m)
                return;
        int64_t now = metrics_wall_us();
        atomic_store(&m->reconcile_last_ns, elapsed_ns);
        atomic_store(&m->reconcile_last_us, now);
        atomic_fetch_add(&m->reconciles, 1);
        if (ok)
                atomic_store(&m->reconcile_last_ok_us, now);
        else
                atomic_fetch_add(&m->reconcile_failures, 1);
}

void metrics_read(const mcsd_metrics *m, metrics_snapshot *out) {
        *out = (metrics_snapshot){0};
        if (!m)
                return;
        for (size_t o = 0; o < METRICS_HOOK_OPS; o++)
                for (size_t d = 0; d < METRICS_HOOK_DECISIONS; d++)
                        out->hook[o][d] = atomic_load(&m->hook[o][d]);
        read_hist(&m->hook_latency, &out->hook_latency);
        for (size_t i = 0; i < METRICS_RESERVE_RESULTS; i++)
                out->reservations[i] = atomic_load(&m->reservations[i]);
        for (size_t i = 0; i < METRICS_RELEASE_RESULTS; i++)
                out->releases[i] = atomic_load(&m->releases[i]);
        for (size_t w = 0; w < METRICS_WRITERS; w++) {
                read_hist(&m->write_latency[w], &out->write_latency[w]);
                out->write_failures[w] = atomic_load(&m->write_failures[w]);
        }
        out->last_write_ok_us = atomic_load(&m->last_write_ok_us);
        out->reconcile_last_s = (double) atomic_load(&m->reconcile_last_ns) / 1e9;
        out->reconcile_last_us = atomic_load(&m->reconcile_last_us);
        out->reconcile_last_ok_us = atomic_load(&m->reconcile_last_ok_us);
        out->reconciles = atomic_load(&m->reconciles);
        out->reconcile_failures = atomic_load(&m->reconcile_failures);
        out->started_us = m->started_us;
}

static const char *name_of(const char *const *names, size_t n, unsigned i) {
        return i < n ? names[i] : "?";
}

const char *metrics_decision_name(metrics_decision d) {
        static const char *const names[] = {"allowed", "refused", "error"};
        return name_of(names, MCS_ARRAY_SIZE(names), (unsigned) d);
}

const char *metrics_reserve_name(metrics_reserve_result r) {
        static const char *const names[] = {"created", "refused", "exhausted", "failed"};
        return name_of(names, MCS_ARRAY_SIZE(names), (unsigned) r);
}

const char *metrics_release_name(metrics_release_result r) {
        static const char *const names[] = {"released", "kept", "failed"};
        return name_of(names, MCS_ARRAY_SIZE(names), (unsigned) r);
}

const char *metrics_writer_name(metrics_writer w) {
        static const char *const names[] = {"heartbeat", "hook", "client"};
        return name_of(names, MCS_ARRAY_SIZE(names), (unsigned) w);
}
