/* The Prometheus text exposition format (version 0.0.4), built into one
 * string: metric families with HELP and TYPE, samples with escaped label
 * values, and histograms with cumulative buckets, _sum and _count. It
 * knows nothing of mcsd (unit-tested alone, tests/daemon/test-metrics-text.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcs-error.h"

typedef struct metrics_text {
        char *buf;
        size_t len, cap;
        bool oom; /* a write failed: metrics_text_take reports it */
} metrics_text;

/* Starts a family: "# HELP name help" and "# TYPE name type" (counter,
 * gauge, histogram). */
void metrics_text_family(metrics_text *t, const char *name, const char *type, const char *help);

/* One sample: name{k1="v1",...} value. labels is NULL or a NULL-ended list
 * of name, value pairs; values are escaped (\\, \", \n). */
void metrics_text_sample(metrics_text *t, const char *name, const char *const *labels, double value);

/* A histogram's samples: counts[i] observations fell at or below
 * bounds[i] and above bounds[i-1] (not cumulative); counts[n] above
 * bounds[n-1]. Written cumulative, with le="+Inf", name_sum and name_count. */
void metrics_text_histogram(metrics_text *t, const char *name, const char *const *labels, const double *bounds,
                            size_t n, const uint64_t *counts, double sum);

/* The text (malloc'ed, the caller frees it), or NULL and e when memory ran
 * out on the way. t is empty again either way. */
char *metrics_text_take(metrics_text *t, mcs_err *e);
void metrics_text_clear(metrics_text *t);
