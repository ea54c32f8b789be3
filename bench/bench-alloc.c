/* The allocator against a libvirt-style allocator (random draws, retried until
 * one is free), both at the same occupancies of c0..c1023 in the same run. */
#include <stdint.h>
#include <string.h>

#include "bench-util.h"
#include "mcs-alloc.h"
#include "mcs-rng.h"

static const struct {
        const char *name;
        double fraction;
        unsigned rounds; /* take + release cycles timed */
} levels[] = {
        {"0", 0.0, 400000},
        {"50", 0.5, 400000},
        {"99", 0.99, 200000},
        {"9999", 0.9999, 2000},
};

/* libvirt's virSecuritySELinuxMCSFind: draw c1 != c2, sort, retry while taken. */
struct retry_alloc {
        uint64_t *used; /* a bitmap stands in for libvirt's hash table: the faster of the two */
        mcs_rng rng;
};

static inline uint64_t idx(unsigned i, unsigned j) {
        return (uint64_t) j * (j - 1) / 2 + i;
}

static void retry_take(struct retry_alloc *r, unsigned *ci, unsigned *cj) {
        for (;;) {
                unsigned a = (unsigned) mcs_rng_below(&r->rng, MCS_NCATS);
                unsigned b = (unsigned) mcs_rng_below(&r->rng, MCS_NCATS);
                if (a == b)
                        continue;
                if (a > b) {
                        unsigned t = a;
                        a = b;
                        b = t;
                }
                uint64_t p = idx(a, b);
                if (r->used[p / 64] >> (p % 64) & 1)
                        continue;
                r->used[p / 64] |= UINT64_C(1) << (p % 64);
                *ci = a;
                *cj = b;
                return;
        }
}

static void retry_release(struct retry_alloc *r, unsigned i, unsigned j) {
        uint64_t p = idx(i, j);
        r->used[p / 64] &= ~(UINT64_C(1) << (p % 64));
}

int main(void) {
        mcs_catset pool;
        mcs_err e = {0};
        mcs_alloc *a;
        unsigned i, j;
        double t0, ns_mcs[4], ns_retry[4];

        mcs_catset_clear(&pool);
        mcs_catset_add_range(&pool, 0, MCS_NCATS - 1);

        /* Every pair of c0.c1023, then the exhausted answer. */
        if (mcs_alloc_new(&pool, 0, &a, &e) < 0)
                BENCH_DIE("%s", e.msg);
        t0 = bench_now();
        uint64_t filled = 0;
        while (mcs_alloc_take(a, &i, &j, &e) == 0)
                filled++;
        double fill_s = bench_now() - t0;
        if (e.code != MCS_E_EXHAUSTED)
                BENCH_DIE("fill stopped early: %s", e.msg);
        bench_report("fill_c0_c1023_pairs", (double) filled, "pairs");
        bench_report("fill_c0_c1023_ms", fill_s * 1e3, "ms");
        t0 = bench_now();
        int r = mcs_alloc_take(a, &i, &j, &e);
        bench_report("exhausted_answer_ns", (bench_now() - t0) * 1e9, "ns");
        if (r != -(int) MCS_E_EXHAUSTED)
                BENCH_DIE("no exhausted error after the fill");
        mcs_alloc_free(a);

        for (size_t L = 0; L < sizeof levels / sizeof levels[0]; L++) {
                struct retry_alloc ra = {calloc((MCS_NPAIRS + 63) / 64, sizeof(uint64_t)), {{0}}};
                mcs_rng_init(&ra.rng, 0, &e);
                if (mcs_alloc_new(&pool, 0, &a, &e) < 0)
                        BENCH_DIE("%s", e.msg);
                /* The same occupied set for both allocators. */
                uint64_t target = (uint64_t) (levels[L].fraction * (double) MCS_NPAIRS);
                for (uint64_t n = 0; n < target; n++) {
                        mcs_alloc_take(a, &i, &j, &e);
                        ra.used[idx(i, j) / 64] |= UINT64_C(1) << (idx(i, j) % 64);
                }
                t0 = bench_now();
                for (unsigned n = 0; n < levels[L].rounds; n++) {
                        mcs_alloc_take(a, &i, &j, &e);
                        mcs_catset s = mcs_catset_pair(i, j);
                        mcs_alloc_remove(a, &s, &e);
                }
                ns_mcs[L] = (bench_now() - t0) * 1e9 / levels[L].rounds;
                t0 = bench_now();
                for (unsigned n = 0; n < levels[L].rounds; n++) {
                        retry_take(&ra, &i, &j);
                        retry_release(&ra, i, j);
                }
                ns_retry[L] = (bench_now() - t0) * 1e9 / levels[L].rounds;

                char name[64];
                snprintf(name, sizeof name, "alloc_ns_at_%s_pct", levels[L].name);
                bench_report(name, ns_mcs[L], "ns");
                snprintf(name, sizeof name, "retry_ns_at_%s_pct", levels[L].name);
                bench_report(name, ns_retry[L], "ns");
                mcs_alloc_free(a);
                free(ra.used);
        }
        bench_report("alloc_cost_ratio_9999_vs_0", ns_mcs[3] / ns_mcs[0], "ratio");
        bench_report("retry_cost_ratio_9999_vs_0", ns_retry[3] / ns_retry[0], "ratio");
        return 0;
}
