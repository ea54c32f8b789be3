/* Waiting for another process's write lock on the shared file.
 *
 * sqlite's own busy handler sleeps in growing steps, up to 100 ms each:
 * a host that finds the file locked sleeps on long after the writer (a
 * few milliseconds' transaction) is done, and with several hosts most
 * writes wait a whole step. This handler retries within a couple of
 * milliseconds instead: short sleeps, growing slowly from 0.2 ms to a
 * 2 ms ceiling, with jitter so hosts that queued together do not retry in
 * lockstep; it gives up once busy_timeout has passed since the first
 * refusal, and the write then fails as busy. Sleeps go through the file's
 * VFS, as sqlite's own do. */
#include <stdint.h>
#include <time.h>

#include "sq.h"

#define BUSY_FIRST_US 200u
#define BUSY_STEP_US 100u /* added per retry */
#define BUSY_CEIL_US 2000u

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* xorshift32: enough to spread retries; seeded per handle. */
static uint32_t next_random(uint32_t *state) {
        uint32_t x = *state ? *state : 0x9e3779b9u;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *state = x;
        return x;
}

unsigned sq_busy_delay_us(int count, uint32_t *seed) {
        uint64_t base = BUSY_FIRST_US + (uint64_t) (count > 0 ? count : 0) * BUSY_STEP_US;
        if (base > BUSY_CEIL_US)
                base = BUSY_CEIL_US;
        /* 75% to 125% of the step, still within the floor and the ceiling. */
        uint64_t us = base * 3 / 4 + next_random(seed) % (base / 2 + 1);
        return (unsigned) (us < BUSY_FIRST_US ? BUSY_FIRST_US : us > BUSY_CEIL_US ? BUSY_CEIL_US : us);
}

static int busy_wait(void *arg, int count) {
        sq *s = arg;
        uint64_t now = now_us(), limit = (uint64_t) s->busy_ms * 1000u;
        if (count == 0)
                s->busy_since_us = now;
        uint64_t waited = now - s->busy_since_us;
        if (waited >= limit)
                return 0;
        uint64_t us = sq_busy_delay_us(count, &s->busy_seed);
        if (us > limit - waited)
                us = limit - waited;
        sqlite3_vfs *vfs = NULL;
        if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs) == SQLITE_OK && vfs && vfs->xSleep)
                vfs->xSleep(vfs, (int) us);
        else
                sqlite3_sleep(1);
        return 1;
}

void sq_set_busy_handler(sq *s) {
        if (!s->busy_seed)
                s->busy_seed = (uint32_t) (now_us() ^ ((uintptr_t) s >> 4));
        sqlite3_busy_handler(s->db, busy_wait, s);
}
