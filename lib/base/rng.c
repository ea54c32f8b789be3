#include "mcs-rng.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

int mcs_rng_init(mcs_rng *r, uint64_t seed, mcs_err *e) {
        if (seed == 0) {
                ssize_t n;
                do
                        n = getrandom(&seed, sizeof seed, 0);
                while (n < 0 && errno == EINTR);
                if (n != (ssize_t) sizeof seed)
                        return mcs_fail(e, MCS_E_IO, "getrandom: %s", n < 0 ? strerror(errno) : "short read");
        }
        for (int i = 0; i < 4; i++)
                r->s[i] = splitmix64(&seed);
        return 0;
}

static uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

uint64_t mcs_rng_next(mcs_rng *r) {
        uint64_t *s = r->s;
        uint64_t result = rotl(s[1] * 5, 7) * 9;
        uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

uint64_t mcs_rng_below(mcs_rng *r, uint64_t bound) {
        /* Reject the top sliver of the 64-bit space that would bias the modulo. */
        uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
        uint64_t x;
        do
                x = mcs_rng_next(r);
        while (x >= limit);
        return x % bound;
}
