/* Timing and reporting for the benchmarks: one "name: value unit" line per figure. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static inline void bench_report(const char *name, double value, const char *unit) {
        printf("%s: %.6g %s\n", name, value, unit);
        fflush(stdout);
}

static inline int bench_cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static inline double bench_median(double *v, size_t n) {
        qsort(v, n, sizeof *v, bench_cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The p-quantile (0..1) of v by the nearest lower rank; sorts v. */
static inline double bench_percentile(double *v, size_t n, double p) {
        qsort(v, n, sizeof *v, bench_cmp_double);
        return v[(size_t) (p * (double) (n - 1))];
}

#define BENCH_DIE(...)                                                                             \
        do {                                                                                       \
                fprintf(stderr, __VA_ARGS__);                                                      \
                fputc('\n', stderr);                                                               \
                exit(1);                                                                           \
        } while (0)
