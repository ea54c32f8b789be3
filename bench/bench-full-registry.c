/* A registry at full size: every pair of c0..c1023 (523,776) reserved.
 *
 *   bench-full-registry fill LOCATION N   reserves the first N pairs, in
 *       batches (one commit each where the backend shares commits)
 *   bench-full-registry measure LOCATION  opens it as mcsd does at start-up
 *       (open, then the allocator's view built from the registry) and prints
 *       the time, the view's held pairs and this process's VmRSS/VmHWM
 *
 * bench-full-registry.sh runs both per backend, in separate processes so
 * the start-up figures hold nothing of the fill, and adds the sizes and a
 * baseline (reading the raw store once). */
#include <stdio.h>
#include <string.h>

#include "bench-util.h"
#include "mcs-registry.h"

enum { BATCH = 5000 };

static mcs_registry *open_location(const char *location, bool create) {
        mcs_registry_config cfg = {.create = create, .host_id = "bench", .busy_timeout_ms = 30000};
        mcs_registry *r;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, MCS_NCATS - 1);
        if (mcs_registry_open(location, &cfg, &r, &e) < 0)
                BENCH_DIE("open %s: %s", location, e.msg);
        return r;
}

static long status_kib(const char *field) {
        char line[256];
        long kib = -1;
        size_t n = strlen(field);
        FILE *f = fopen("/proc/self/status", "r");
        if (!f)
                BENCH_DIE("/proc/self/status: %m");
        while (fgets(line, sizeof line, f))
                if (!strncmp(line, field, n) && line[n] == ':')
                        kib = strtol(line + n + 1, NULL, 10);
        fclose(f);
        return kib;
}

static void fill(const char *location, long want) {
        mcs_registry *r = open_location(location, true);
        mcs_err e = {0};
        long done = 0;
        double t0 = bench_now();
        for (unsigned a = 0; a < MCS_NCATS && done < want; a++)
                for (unsigned b = a + 1; b < MCS_NCATS && done < want; b++, done++) {
                        char uuid[64], name[32], label[32];
                        if (done % BATCH == 0 && mcs_registry_batch_begin(r, &e) < 0)
                                BENCH_DIE("batch: %s", e.msg);
                        snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012ld", done);
                        snprintf(name, sizeof name, "g%ld", done);
                        snprintf(label, sizeof label, "s0:c%u,c%u", a, b);
                        mcs_guest g = {.uuid = uuid, .name = name, .kind = MCS_KIND_STATIC};
                        mcs_record rec;
                        if (mcs_registry_reserve_label(r, &g, label, &rec, NULL, &e) < 0)
                                BENCH_DIE("reserve %s: %s", label, e.msg);
                        mcs_record_clear(&rec);
                        if ((done + 1) % BATCH == 0 && mcs_registry_batch_end(r, true, &e) < 0)
                                BENCH_DIE("commit: %s", e.msg);
                }
        if (done % BATCH != 0 && mcs_registry_batch_end(r, true, &e) < 0)
                BENCH_DIE("commit: %s", e.msg);
        mcs_registry_close(r);
        fprintf(stderr, "bench-full-registry: %ld pairs reserved in %s in %.1f s\n", done, location, bench_now() - t0);
}

static void measure(const char *location) {
        mcs_err e = {0};
        mcs_alloc_stats st;
        double t0 = bench_now();
        mcs_registry *r = open_location(location, false);
        if (mcs_registry_stats(r, &st, &e) < 0)
                BENCH_DIE("view of %s: %s", location, e.msg);
        double t = bench_now() - t0;
        printf("startup_s %.6f\nheld_pairs %llu\nrss_kib %ld\nhwm_kib %ld\n", t, (unsigned long long) st.held_pairs,
               status_kib("VmRSS"), status_kib("VmHWM"));
        mcs_registry_close(r);
}

int main(int argc, char **argv) {
        if (argc == 4 && !strcmp(argv[1], "fill"))
                fill(argv[2], strtol(argv[3], NULL, 10));
        else if (argc == 3 && !strcmp(argv[1], "measure"))
                measure(argv[2]);
        else
                BENCH_DIE("usage: bench-full-registry fill LOCATION N | measure LOCATION");
        return 0;
}
