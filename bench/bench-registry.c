/* Durable reservations through the sqlite registry against raw single-row
 * sqlite commits, same disk, same journal mode and synchronous setting. */
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "bench-util.h"
#include "bench-raw-sqlite.h"
#include "mcs-registry.h"

enum { COMMITS = 2000, RUNS = 3 };

static double raw_commits_per_s(const char *path) {
        sqlite3 *db = bench_raw_sqlite_open(path);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES (?1)", -1, &st, NULL) != SQLITE_OK)
                BENCH_DIE("raw sqlite: %s", sqlite3_errmsg(db));
        double t0 = bench_now();
        for (int n = 0; n < COMMITS; n++) {
                sqlite3_bind_text(st, 1, "s0:c1,c2", -1, SQLITE_STATIC);
                if (sqlite3_step(st) != SQLITE_DONE)
                        BENCH_DIE("raw insert: %s", sqlite3_errmsg(db));
                sqlite3_reset(st);
        }
        double s = bench_now() - t0;
        sqlite3_finalize(st);
        sqlite3_close(db);
        return COMMITS / s;
}

static double registry_reservations_per_s(const char *path) {
        mcs_registry_config cfg = {.create = true, .host_id = "bench"};
        mcs_registry *r;
        mcs_err e = {0};
        char uuid[40];
        unlink(path);
        mcs_catset_add_range(&cfg.pool, 0, MCS_NCATS - 1);
        if (mcs_registry_open(path, &cfg, &r, &e) < 0)
                BENCH_DIE("%s", e.msg);
        /* Warm the allocator cache so the figure is the steady-state cost of a reservation. */
        mcs_alloc_stats stats;
        mcs_registry_stats(r, &stats, &e);
        double t0 = bench_now();
        for (int n = 0; n < COMMITS; n++) {
                mcs_record rec;
                snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012d", n);
                mcs_guest g = {.uuid = uuid, .name = "bench", .kind = MCS_KIND_DYNAMIC};
                if (mcs_registry_reserve(r, &g, &rec, NULL, &e) < 0)
                        BENCH_DIE("%s", e.msg);
                mcs_record_clear(&rec);
        }
        double s = bench_now() - t0;
        mcs_registry_close(r);
        return COMMITS / s;
}

int main(void) {
        const char *base = getenv("MCS_BENCH_DIR");
        char dir[4096], raw[4200], reg[4200];
        double raw_v[RUNS], reg_v[RUNS];

        snprintf(dir, sizeof dir, "%s/mcs-bench.XXXXXX", base && *base ? base : "/var/tmp");
        if (!mkdtemp(dir))
                BENCH_DIE("mkdtemp %s failed", dir);
        snprintf(raw, sizeof raw, "%s/raw.db", dir);
        snprintf(reg, sizeof reg, "%s/registry.db", dir);
        /* Interleaved, so both see the same disk weather. */
        for (int k = 0; k < RUNS; k++) {
                raw_v[k] = raw_commits_per_s(raw);
                reg_v[k] = registry_reservations_per_s(reg);
        }
        double raw_m = bench_median(raw_v, RUNS), reg_m = bench_median(reg_v, RUNS);
        bench_report("raw_sqlite_commits_per_s", raw_m, "commits/s");
        bench_report("registry_reservations_per_s", reg_m, "reservations/s");
        bench_report("registry_vs_raw_commit_ratio", reg_m / raw_m, "ratio");

        unlink(raw);
        unlink(reg);
        char j[4300];
        snprintf(j, sizeof j, "%s-journal", raw);
        unlink(j);
        snprintf(j, sizeof j, "%s-journal", reg);
        unlink(j);
        rmdir(dir);
        return 0;
}
