/* The Prometheus text renderer: label values and HELP escaped as the
 * exposition format asks (a host id or version from shared storage cannot
 * end a sample or forge one), histogram buckets cumulative up to +Inf with
 * _sum and _count, numbers written exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics-text.h"

static int failures;

static void expect(const char *what, const char *got, const char *want) {
        if (got && !strcmp(got, want))
                return;
        fprintf(stderr, "test-metrics-text: %s reads\n%s\nwanted\n%s\n", what, got ? got : "(null)", want);
        failures++;
}

static char *take(metrics_text *t) {
        mcs_err e = {0};
        char *s = metrics_text_take(t, &e);
        if (!s) {
                fprintf(stderr, "test-metrics-text: %s\n", e.msg);
                exit(1);
        }
        return s;
}

static void escaping(void) {
        metrics_text t = {0};
        metrics_text_family(&t, "m_info", "gauge", "a \\ help\nline \"quoted\"");
        metrics_text_sample(&t, "m_info", (const char *[]){"host", "a\"b\\c\nm_info{host=\"forged\"} 1", "v", "x", NULL},
                            1);
        char *s = take(&t);
        expect("escaping", s,
               "# HELP m_info a \\\\ help\\nline \"quoted\"\n"
               "# TYPE m_info gauge\n"
               "m_info{host=\"a\\\"b\\\\c\\nm_info{host=\\\"forged\\\"} 1\",v=\"x\"} 1\n");
        free(s);
}

static void histogram(void) {
        metrics_text t = {0};
        const double bounds[] = {0.001, 0.5, 2.5};
        const uint64_t counts[] = {3, 0, 2, 1}; /* one above 2.5 */
        metrics_text_family(&t, "m_seconds", "histogram", "h");
        metrics_text_histogram(&t, "m_seconds", (const char *[]){"op", "start", NULL}, bounds, 3, counts, 7.25);
        metrics_text_histogram(&t, "m_seconds", NULL, bounds, 3, (const uint64_t[]){0, 0, 0, 0}, 0);
        char *s = take(&t);
        expect("histogram", s,
               "# HELP m_seconds h\n# TYPE m_seconds histogram\n"
               "m_seconds_bucket{op=\"start\",le=\"0.001\"} 3\n"
               "m_seconds_bucket{op=\"start\",le=\"0.5\"} 3\n"
               "m_seconds_bucket{op=\"start\",le=\"2.5\"} 5\n"
               "m_seconds_bucket{op=\"start\",le=\"+Inf\"} 6\n"
               "m_seconds_sum{op=\"start\"} 7.25\n"
               "m_seconds_count{op=\"start\"} 6\n"
               "m_seconds_bucket{le=\"0.001\"} 0\n"
               "m_seconds_bucket{le=\"0.5\"} 0\n"
               "m_seconds_bucket{le=\"2.5\"} 0\n"
               "m_seconds_bucket{le=\"+Inf\"} 0\n"
               "m_seconds_sum 0\n"
               "m_seconds_count 0\n");
        free(s);
}

static void numbers(void) {
        metrics_text t = {0};
        metrics_text_sample(&t, "a", NULL, 523776);
        metrics_text_sample(&t, "b", NULL, 1765000000.25);
        metrics_text_sample(&t, "c", NULL, 9007199254740991.0);
        metrics_text_sample(&t, "d", NULL, NAN);
        metrics_text_sample(&t, "e", NULL, -INFINITY);
        metrics_text_sample(&t, "f", NULL, 0.0005);
        char *s = take(&t);
        expect("numbers", s, "a 523776\nb 1765000000.25\nc 9007199254740991\nd NaN\ne -Inf\nf 0.0005\n");
        free(s);
}

static void empty(void) {
        metrics_text t = {0};
        char *s = take(&t);
        expect("nothing", s, "");
        free(s);
}

int main(void) {
        escaping();
        histogram();
        numbers();
        empty();
        if (failures)
                return 1;
        printf("ok\n");
        return 0;
}
