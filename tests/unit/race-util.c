#include "race-util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcs-level.h"

#include "test-util.h"

mcs_registry *race_open(const char *location, const char *host, const char *pool) {
        mcs_registry_config cfg = {.create = true, .host_id = host, .busy_timeout_ms = 60000};
        mcs_registry *r;
        mcs_err e = {0};
        if (mcs_catset_parse(pool ? pool : "c0.c1023", &cfg.pool, &e) < 0 ||
            mcs_registry_open(location, &cfg, &r, &e) < 0) {
                fprintf(stderr, "%s: open %s: %s\n", host, location, e.msg);
                _exit(3);
        }
        return r;
}

void race_reserver(const char *location, const char *pool, int worker, int count, int fd, int started) {
        char host[32], uuid[40], line[128];
        snprintf(host, sizeof host, "host-%d", worker);
        mcs_registry *r = race_open(location, host, pool);
        for (int n = 0; n < count; n++) {
                mcs_record rec;
                mcs_err e = {0};
                snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-%012x", (unsigned) worker, (unsigned) n);
                mcs_guest g = {.uuid = uuid, .name = "g", .kind = MCS_KIND_DYNAMIC};
                if (mcs_registry_reserve(r, &g, &rec, NULL, &e) < 0) {
                        fprintf(stderr, "worker %d reserve %d: %s\n", worker, n, e.msg);
                        _exit(2);
                }
                int len = snprintf(line, sizeof line, "%s %s\n", rec.uuid, rec.label);
                if (write(fd, line, (size_t) len) != len)
                        _exit(4);
                if (n == 0 && started >= 0 && write(started, "!", 1) != 1)
                        _exit(4);
                mcs_record_clear(&rec);
        }
        mcs_registry_close(r);
        _exit(0);
}

size_t race_read_acks(FILE *f, race_ack *acks, size_t max) {
        size_t n = 0;
        while (n < max && fscanf(f, "%39s %31s", acks[n].uuid, acks[n].label) == 2)
                n++;
        return n;
}

static int by_label(const void *a, const void *b) {
        return strcmp(((const race_ack *) a)->label, ((const race_ack *) b)->label);
}

size_t race_verify(const char *location, const char *pool, race_ack *acks, size_t n) {
        mcs_registry *r = race_open(location, "checker", pool);
        mcs_err e = {0};
        for (size_t i = 0; i < n; i++) {
                mcs_record rec;
                ck_assert_ok(mcs_registry_get(r, acks[i].uuid, &rec, &e), &e);
                ck_assert_str_eq(rec.label, acks[i].label);
                mcs_record_clear(&rec);
        }
        qsort(acks, n, sizeof *acks, by_label);
        for (size_t i = 1; i < n; i++)
                ck_assert_msg(strcmp(acks[i - 1].label, acks[i].label) != 0, "label %s acknowledged twice",
                              acks[i].label);
        mcs_record_list l;
        ck_assert_ok(mcs_registry_list(r, NULL, &l, &e), &e);
        ck_assert_uint_ge(l.n, n);
        race_ack *all = calloc(l.n + 1, sizeof *all);
        ck_assert_ptr_nonnull(all);
        for (size_t i = 0; i < l.n; i++)
                snprintf(all[i].label, sizeof all[i].label, "%s", l.v[i].label);
        qsort(all, l.n, sizeof *all, by_label);
        for (size_t i = 1; i < l.n; i++)
                ck_assert_msg(strcmp(all[i - 1].label, all[i].label) != 0, "label %s held twice", all[i].label);
        size_t held = l.n;
        free(all);
        mcs_record_list_clear(&l);
        mcs_registry_close(r);
        return held;
}
