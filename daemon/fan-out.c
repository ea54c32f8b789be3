#include "fan-out.h"

#include <pthread.h>
#include <stdatomic.h>

#define FAN_OUT_MAX 8

typedef struct fan {
        void (*fn)(void *ctx, size_t i);
        void *ctx;
        size_t n;
        atomic_size_t next;
} fan;

static void *worker(void *arg) {
        fan *f = arg;
        for (size_t i; (i = atomic_fetch_add(&f->next, 1)) < f->n;)
                f->fn(f->ctx, i);
        return NULL;
}

void fan_out(size_t n, unsigned threads, void (*fn)(void *ctx, size_t i), void *ctx) {
        fan f = {.fn = fn, .ctx = ctx, .n = n};
        pthread_t t[FAN_OUT_MAX];
        unsigned started = 0;

        if (threads > FAN_OUT_MAX)
                threads = FAN_OUT_MAX;
        atomic_init(&f.next, 0);
        /* The calling thread works too; a thread that cannot start leaves its share to the others. */
        while (started + 1 < threads && started + 1 < n && pthread_create(&t[started], NULL, worker, &f) == 0)
                started++;
        worker(&f);
        for (unsigned i = 0; i < started; i++)
                pthread_join(t[i], NULL);
}
