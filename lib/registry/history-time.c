/* The times a history query takes: ISO-8601 UTC, YYYY-MM-DD[ HH:MM[:SS]]
 * or an age. A file of its own: mcsctl parses them before it asks, and
 * must not pull the registry's backends (sqlite, etcd's HTTP, libnfs) in
 * with it (tests/hook/test-hook-links.sh). */
#define _DEFAULT_SOURCE /* timegm */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcs-macro.h"
#include "mcs-registry.h"

static int bad_time(const char *text, mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        return mcs_fail(e, MCS_E_INVALID,
                        "'%s' is not a time: use ISO-8601 UTC (2026-12-01T10:00:00Z), 'YYYY-MM-DD[ HH:MM[:SS]]' "
                        "(UTC) or an age such as 30m, 2h, 3d, 1w",
                        mcs_quote(text, q, sizeof q));
}

static int parse_age(const char *text, int64_t now_us, int64_t *out, mcs_err *e) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(text, &end, 10);
        int64_t unit;
        switch (*end) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return bad_time(text, e);
        }
        /* No more than a century back: anything longer is a typing error. */
        if (errno || end[1] || end == text || n > 100ull * 366 * 86400 / (unsigned long long) unit)
                return bad_time(text, e);
        int64_t t = now_us - (int64_t) n * unit * 1000000;
        *out = t > 0 ? t : 1;
        return 0;
}

int mcs_history_parse_time(const char *text, int64_t now_us, int64_t *out_us, mcs_err *e) {
        int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
        size_t len = text ? strlen(text) : 0;
        if (!len || len > 32)
                return text ? bad_time(text, e) : mcs_fail(e, MCS_E_INVALID, "missing time");
        if (isdigit((unsigned char) text[0]) && strchr("smhdw", text[len - 1]) && !strchr(text, '-'))
                return parse_age(text, now_us, out_us, e);
        /* Digits by count, so no sign, space or extra digit slips through sscanf. */
        static const char *const shapes[] = {"dddd-dd-dd", "dddd-dd-ddTdd:dd", "dddd-dd-ddTdd:dd:dd"};
        char shape[33];
        bool zulu = text[len - 1] == 'Z';
        size_t core = len - zulu;
        for (size_t i = 0; i < core; i++)
                shape[i] = isdigit((unsigned char) text[i]) ? 'd' : text[i] == ' ' ? 'T' : text[i];
        shape[core] = '\0';
        bool known = false;
        for (size_t i = 0; i < MCS_ARRAY_SIZE(shapes); i++)
                known |= strcmp(shape, shapes[i]) == 0;
        if (!known || (zulu && core == 10) ||
            sscanf(text, "%4d-%2d-%2d%*1[T ]%2d:%2d%n", &y, &mo, &d, &h, &mi, &n) < 3)
                return bad_time(text, e);
        if (core == 19)
                s = atoi(text + 17);
        struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
        time_t t = timegm(&tm);
        /* timegm normalises 02-30 into March: a date that moved is no date. */
        if (t == (time_t) -1 || y < 1970 || tm.tm_year != y - 1900 || tm.tm_mon != mo - 1 || tm.tm_mday != d ||
            tm.tm_hour != h || tm.tm_min != mi || tm.tm_sec != s)
                return bad_time(text, e);
        *out_us = (int64_t) t * 1000000;
        return 0;
}
