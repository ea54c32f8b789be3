/* Relabelling a tree of 100,000 files: mcs_tree_relabel (one thread per
 * core) against `chcon -R` on an identical tree, in the same run, on the
 * same disk. Each side runs twice, alternating, and keeps its best time;
 * one more single-threaded run shows what the threads add. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench-util.h"
#include "mcs-tree-relabel.h"

enum { DIRS = 100, FILES_PER_DIR = 1000, RUNS = 2 };
#define FILES ((double) DIRS * FILES_PER_DIR + DIRS + 1)

static void make_tree(const char *root) {
        char path[4300];
        if (mkdir(root, 0755) < 0)
                BENCH_DIE("mkdir %s: %s", root, strerror(errno));
        for (int d = 0; d < DIRS; d++) {
                snprintf(path, sizeof path, "%s/d%03d", root, d);
                if (mkdir(path, 0755) < 0)
                        BENCH_DIE("mkdir %s: %s", path, strerror(errno));
                for (int f = 0; f < FILES_PER_DIR; f++) {
                        snprintf(path, sizeof path, "%s/d%03d/f%04d", root, d, f);
                        FILE *fp = fopen(path, "w");
                        if (!fp)
                                BENCH_DIE("create %s: %s", path, strerror(errno));
                        fclose(fp);
                }
        }
}

static const char *context(int run, int side) {
        /* A different label each time, so every run writes every file. */
        static const char *const c[] = {"system_u:object_r:virt_content_t:s0", "system_u:object_r:svirt_image_t:s0",
                                        "system_u:object_r:virt_image_t:s0", "system_u:object_r:svirt_image_t:s0:c1,c2"};
        return c[(run * 2 + side) % 4];
}

int main(void) {
        const char *base = getenv("MCS_BENCH_DIR");
        char dir[4096], ours[4200], theirs[4200], cmd[8600];
        double best_ours = 1e9, best_chcon = 1e9;

        snprintf(dir, sizeof dir, "%s/mcs-bench-relabel.XXXXXX", base && *base ? base : "/var/tmp");
        if (!mkdtemp(dir))
                BENCH_DIE("mkdtemp %s failed", dir);
        snprintf(ours, sizeof ours, "%s/ours", dir);
        snprintf(theirs, sizeof theirs, "%s/chcon", dir);
        make_tree(ours);
        make_tree(theirs);
        for (int run = 0; run < RUNS; run++) {
                snprintf(cmd, sizeof cmd, "chcon -R '%s' '%s'", context(run, 1), theirs);
                double t0 = bench_now();
                if (system(cmd) != 0)
                        BENCH_DIE("%s failed", cmd);
                double t = bench_now() - t0;
                if (t < best_chcon)
                        best_chcon = t;

                mcs_tree_stats st;
                mcs_err e = {0};
                t0 = bench_now();
                if (mcs_tree_relabel(ours, NULL, 0, context(run, 0), 0, &st, &e) < 0)
                        BENCH_DIE("%s", e.msg);
                t = bench_now() - t0;
                if (st.labelled != (uint64_t) FILES)
                        BENCH_DIE("labelled %llu entries, expected %.0f", (unsigned long long) st.labelled, FILES);
                if (t < best_ours)
                        best_ours = t;
        }
        /* How much of the gain is the threads: one thread, same walk. */
        mcs_tree_stats st1;
        mcs_err e1 = {0};
        double t1 = bench_now();
        if (mcs_tree_relabel(ours, NULL, 0, context(RUNS, 0), 1, &st1, &e1) < 0)
                BENCH_DIE("%s", e1.msg);
        t1 = bench_now() - t1;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                BENCH_DIE("%s failed", cmd);
        bench_report("relabel_files_per_s", FILES / best_ours, "files/s");
        bench_report("relabel_1_thread_files_per_s", FILES / t1, "files/s");
        bench_report("chcon_files_per_s", FILES / best_chcon, "files/s");
        bench_report("relabel_vs_chcon_ratio", best_chcon / best_ours, "ratio");
        return 0;
}
