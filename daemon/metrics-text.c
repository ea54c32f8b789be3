#include "metrics-text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(metrics_text *t, const char *s, size_t n) {
        if (t->oom)
                return;
        if (t->len + n + 1 > t->cap) {
                size_t cap = t->cap ? t->cap : 4096;
                while (cap < t->len + n + 1)
                        cap *= 2;
                char *b = realloc(t->buf, cap);
                if (!b) {
                        t->oom = true;
                        return;
                }
                t->buf = b;
                t->cap = cap;
        }
        memcpy(t->buf + t->len, s, n);
        t->len += n;
        t->buf[t->len] = '\0';
}

static void puts_(metrics_text *t, const char *s) {
        put(t, s, strlen(s));
}

/* Label values and HELP text come from the registry and from operators
 * (host ids, versions): a quote or a newline in one must not end the
 * sample. HELP escapes \ and newline only; label values " as well. */
static void put_escaped(metrics_text *t, const char *s, bool quote) {
        for (; *s; s++) {
                if (*s == '\\')
                        puts_(t, "\\\\");
                else if (*s == '\n')
                        puts_(t, "\\n");
                else if (*s == '"' && quote)
                        puts_(t, "\\\"");
                else
                        put(t, s, 1);
        }
}

static void put_value(metrics_text *t, double v) {
        char num[64];
        if (isnan(v))
                snprintf(num, sizeof num, "NaN");
        else if (isinf(v))
                snprintf(num, sizeof num, v > 0 ? "+Inf" : "-Inf");
        else if (v == floor(v) && fabs(v) < 9007199254740992.0) /* integers print exactly */
                snprintf(num, sizeof num, "%.0f", v);
        else /* the shortest form that reads back as v: timestamps keep their fraction */
                for (int prec = 1; prec <= 17; prec++) {
                        snprintf(num, sizeof num, "%.*g", prec, v);
                        if (strtod(num, NULL) == v)
                                break;
                }
        puts_(t, num);
}

void metrics_text_family(metrics_text *t, const char *name, const char *type, const char *help) {
        puts_(t, "# HELP ");
        puts_(t, name);
        puts_(t, " ");
        put_escaped(t, help, false);
        puts_(t, "\n# TYPE ");
        puts_(t, name);
        puts_(t, " ");
        puts_(t, type);
        puts_(t, "\n");
}

/* name{labels,extra_key="extra_value"} value */
static void sample(metrics_text *t, const char *name, const char *suffix, const char *const *labels,
                   const char *extra_key, const char *extra_value, double value) {
        bool any = false;
        puts_(t, name);
        puts_(t, suffix);
        for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
                puts_(t, any ? "," : "{");
                any = true;
                puts_(t, labels[i]);
                puts_(t, "=\"");
                put_escaped(t, labels[i + 1], true);
                puts_(t, "\"");
        }
        if (extra_key) {
                puts_(t, any ? "," : "{");
                any = true;
                puts_(t, extra_key);
                puts_(t, "=\"");
                put_escaped(t, extra_value, true);
                puts_(t, "\"");
        }
        puts_(t, any ? "} " : " ");
        put_value(t, value);
        puts_(t, "\n");
}

void metrics_text_sample(metrics_text *t, const char *name, const char *const *labels, double value) {
        sample(t, name, "", labels, NULL, NULL, value);
}

void metrics_text_histogram(metrics_text *t, const char *name, const char *const *labels, const double *bounds,
                            size_t n, const uint64_t *counts, double sum) {
        uint64_t total = 0;
        char le[64];
        for (size_t i = 0; i <= n; i++) {
                total += counts[i];
                if (i < n)
                        snprintf(le, sizeof le, "%.9g", bounds[i]);
                else
                        snprintf(le, sizeof le, "+Inf");
                sample(t, name, "_bucket", labels, "le", le, (double) total);
        }
        sample(t, name, "_sum", labels, NULL, NULL, sum);
        sample(t, name, "_count", labels, NULL, NULL, (double) total);
}

void metrics_text_clear(metrics_text *t) {
        free(t->buf);
        *t = (metrics_text){0};
}

char *metrics_text_take(metrics_text *t, mcs_err *e) {
        if (t->oom || !t->buf) {
                bool oom = t->oom;
                metrics_text_clear(t);
                if (oom) {
                        mcs_fail(e, MCS_E_NOMEM, "out of memory writing the metrics");
                        return NULL;
                }
                char *empty = strdup("");
                if (!empty)
                        mcs_fail(e, MCS_E_NOMEM, "out of memory writing the metrics");
                return empty;
        }
        char *s = t->buf;
        *t = (metrics_text){0};
        return s;
}
