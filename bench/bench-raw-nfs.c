/* The nfs:// registry's own primitive, for the multihost benchmark's
 * baseline: exclusive creates (NFSv3 GUARDED) of a small file, written and
 * committed, as the registry's entries are, through libnfs, by THREADS
 * writers at once (one context each) for SECONDS.
 * Usage: bench-raw-nfs SERVER EXPORT DIR THREADS SECONDS
 * Prints "creates N" and "per_s X". */
#include <fcntl.h>
#include <nfsc/libnfs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-util.h"

typedef struct worker {
        const char *server, *export, *dir;
        int id;
        double seconds;
        long done;
} worker;

static void *run(void *arg) {
        worker *w = arg;
        struct nfs_context *nfs = nfs_init_context();
        if (!nfs)
                BENCH_DIE("nfs_init_context failed");
        nfs_set_version(nfs, 3);
        if (nfs_mount(nfs, w->server, w->export) < 0)
                BENCH_DIE("mount %s:%s: %s", w->server, w->export, nfs_get_error(nfs));
        static const char data[] = "{\"uuid\": \"00000000-0000-4000-8000-000000000000\", \"label\": \"s0:c1,c2\"}\n";
        double end = bench_now() + w->seconds;
        while (bench_now() < end) {
                char path[256];
                struct nfsfh *fh;
                snprintf(path, sizeof path, "%s/raw-%d-%d-%ld", w->dir, (int) getpid(), w->id, w->done);
                if (nfs_create(nfs, path, O_WRONLY | O_EXCL, 0640, &fh) < 0)
                        BENCH_DIE("create %s: %s", path, nfs_get_error(nfs));
                if (nfs_write(nfs, fh, sizeof data - 1, (void *) data) != (int) sizeof data - 1 || nfs_fsync(nfs, fh) < 0 ||
                    nfs_close(nfs, fh) < 0)
                        BENCH_DIE("write %s: %s", path, nfs_get_error(nfs));
                w->done++;
        }
        nfs_destroy_context(nfs);
        return NULL;
}

int main(int argc, char **argv) {
        if (argc != 6)
                BENCH_DIE("usage: bench-raw-nfs SERVER EXPORT DIR THREADS SECONDS");
        int n = atoi(argv[4]);
        double seconds = atof(argv[5]);
        if (n < 1 || n > 64 || seconds <= 0)
                BENCH_DIE("bad THREADS or SECONDS");
        worker w[64];
        pthread_t t[64];
        double t0 = bench_now();
        for (int i = 0; i < n; i++) {
                w[i] = (worker){.server = argv[1], .export = argv[2], .dir = argv[3], .id = i, .seconds = seconds};
                if (pthread_create(&t[i], NULL, run, &w[i]))
                        BENCH_DIE("pthread_create failed");
        }
        long total = 0;
        for (int i = 0; i < n; i++) {
                pthread_join(t[i], NULL);
                total += w[i].done;
        }
        printf("creates %ld\nper_s %.1f\n", total, (double) total / (bench_now() - t0));
        return 0;
}
