/* A registry at full size: every pair of c0..c1023 (523,776) reserved.
 *
 *   bench-full-registry fill LOCATION N   reserves the first N pairs, in
 *       batches (one commit each where the backend shares commits)
 *   bench-full-registry copy FROM TO     mcs_registry_copy, as mcsd
 *       --copy-registry does (etcd is filled this way: see the script)
 *   bench-full-registry measure LOCATION  opens it as mcsd does at start-up
 *       (open, then the allocator's view built from the registry) and prints
 *       the time, the view's held pairs and this process's VmRSS/VmHWM
 *
 * bench-full-registry.sh runs both per backend, in separate processes so
 * the start-up figures hold nothing of the fill, and adds the sizes and a
 * baseline (reading the raw store once). */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* A dir:// fill writes a snapshot of every record each 1,000 entries
 * (27 GB over a full fill) and keeps them all; an operator may move the
 * older ones away (docs/registry.md), and so does the fill, so that a
 * full registry fits on a RAM disk. Start-up reads the newest only. */
static void prune_old_snapshots(const char *location) {
        char snap[4096], path[4400], newest[256] = "";
        if (strncmp(location, "dir://", 6))
                return;
        snprintf(snap, sizeof snap, "%s/snap", location + 6);
        for (int pass = 0; pass < 2; pass++) {
                DIR *d = opendir(snap);
                if (!d)
                        return;
                struct dirent *de;
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.') {
                                if (pass == 0 && strcmp(de->d_name, newest) > 0)
                                        snprintf(newest, sizeof newest, "%s", de->d_name);
                                else if (pass == 1 && strcmp(de->d_name, newest)) {
                                        snprintf(path, sizeof path, "%s/%s", snap, de->d_name);
                                        unlink(path);
                                }
                        }
                closedir(d);
        }
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
                        if ((done + 1) % BATCH == 0) {
                                if (mcs_registry_batch_end(r, true, &e) < 0)
                                        BENCH_DIE("commit: %s", e.msg);
                                prune_old_snapshots(location);
                        }
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

static void copy(const char *from, const char *to) {
        mcs_registry_config cfg = {.create = true, .host_id = "bench", .busy_timeout_ms = 30000};
        mcs_copy_report rep;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, MCS_NCATS - 1);
        double t0 = bench_now();
        if (mcs_registry_copy(from, to, &cfg, &rep, &e) < 0)
                BENCH_DIE("copy %s to %s: %s", from, to, e.msg);
        fprintf(stderr, "bench-full-registry: %zu records and %zu history entries copied and verified in %.1f s\n",
                rep.records_verified, rep.history_verified, bench_now() - t0);
}

int main(int argc, char **argv) {
        if (argc == 4 && !strcmp(argv[1], "fill"))
                fill(argv[2], strtol(argv[3], NULL, 10));
        else if (argc == 4 && !strcmp(argv[1], "copy"))
                copy(argv[2], argv[3]);
        else if (argc == 3 && !strcmp(argv[1], "measure"))
                measure(argv[2]);
        else
                BENCH_DIE("usage: bench-full-registry fill LOCATION N | copy FROM TO | measure LOCATION");
        return 0;
}
