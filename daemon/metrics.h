/* mcsd's counters and histograms, for `mcsctl metrics` and the textfile
 * collector (metrics-render.c turns them and the daemon's state into text).
 * The hook thread and the main loop both count: every field is atomic, so
 * either may count while the main loop renders. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "mcs-error.h"
#include "mcs-hook-rules.h"

typedef struct mcsd_metrics mcsd_metrics;

typedef enum metrics_decision {
        METRICS_HOOK_ALLOWED,
        METRICS_HOOK_REFUSED,
        METRICS_HOOK_ERROR, /* not decided: bad request, registry failure, late */
        METRICS_HOOK_DECISIONS
} metrics_decision;

typedef enum metrics_reserve_result {
        METRICS_RESERVE_CREATED,   /* a new reservation */
        METRICS_RESERVE_REFUSED,   /* the label is another guest's, or isolates nothing */
        METRICS_RESERVE_EXHAUSTED, /* no free pair left: the guest waits */
        METRICS_RESERVE_FAILED,    /* the registry or libvirt failed */
        METRICS_RESERVE_RESULTS
} metrics_reserve_result;

typedef enum metrics_release_result {
        METRICS_RELEASE_RELEASED,
        METRICS_RELEASE_KEPT,   /* the record changed or moved to another host: left alone */
        METRICS_RELEASE_FAILED,
        METRICS_RELEASE_RESULTS
} metrics_release_result;

typedef enum metrics_writer {
        METRICS_WRITER_HEARTBEAT,
        METRICS_WRITER_HOOK,   /* a hook group's decisions */
        METRICS_WRITER_CLIENT, /* a group of mcsctl's writes */
        METRICS_WRITERS
} metrics_writer;

/* Histogram bucket bounds, in seconds, shared by every histogram. */
#define METRICS_BUCKETS 14
extern const double metrics_bucket_bounds[METRICS_BUCKETS];

#define METRICS_HOOK_OPS (MCS_HOOK_OTHER + 1)

int metrics_new(mcsd_metrics **out, mcs_err *e);
void metrics_free(mcsd_metrics *m);

/* Each does nothing when m is NULL (before metrics_new, in tools). */
void metrics_hook(mcsd_metrics *m, mcs_hook_op op, metrics_decision dec, int64_t elapsed_ns);
/* A write to the registry: its latency, and when ok the time of the last success. */
void metrics_registry_write(mcsd_metrics *m, metrics_writer w, int64_t elapsed_ns, bool ok);
void metrics_reservation(mcsd_metrics *m, metrics_reserve_result result);
void metrics_release(mcsd_metrics *m, metrics_release_result result);
void metrics_reconcile(mcsd_metrics *m, int64_t elapsed_ns, bool ok);

/* A consistent-enough copy for rendering: each field is read atomically. */
typedef struct metrics_hist {
        uint64_t counts[METRICS_BUCKETS + 1]; /* not cumulative; the last: above the largest bound */
        double sum_s;
} metrics_hist;

typedef struct metrics_snapshot {
        uint64_t hook[METRICS_HOOK_OPS][METRICS_HOOK_DECISIONS];
        metrics_hist hook_latency;
        uint64_t reservations[METRICS_RESERVE_RESULTS];
        uint64_t releases[METRICS_RELEASE_RESULTS];
        metrics_hist write_latency[METRICS_WRITERS];
        uint64_t write_failures[METRICS_WRITERS];
        int64_t last_write_ok_us;      /* wall clock; 0: none since mcsd started */
        double reconcile_last_s;       /* how long the last reconcile took */
        int64_t reconcile_last_us;     /* when it ended (wall clock); 0: none yet */
        int64_t reconcile_last_ok_us;  /* when the last one without failures ended; 0: none yet */
        uint64_t reconciles, reconcile_failures;
        int64_t started_us;            /* when mcsd started (wall clock) */
} metrics_snapshot;

void metrics_read(const mcsd_metrics *m, metrics_snapshot *out);

const char *metrics_decision_name(metrics_decision d);
const char *metrics_reserve_name(metrics_reserve_result r);
const char *metrics_release_name(metrics_release_result r);
const char *metrics_writer_name(metrics_writer w);

/* Monotonic and wall clocks, for callers that time their work. */
int64_t metrics_mono_ns(void);
int64_t metrics_wall_us(void);
