/* xoshiro256** seeded from getrandom(): fast uniform draws for the allocator.
 * Labels are not secrets; what matters is an unbiased draw. */
#pragma once

#include <stdint.h>

#include "mcs-error.h"

typedef struct mcs_rng {
        uint64_t s[4];
} mcs_rng;

/* seed 0 draws a seed from the kernel; any other value gives a repeatable stream. */
int mcs_rng_init(mcs_rng *r, uint64_t seed, mcs_err *e);
uint64_t mcs_rng_next(mcs_rng *r);
/* Uniform in [0, bound), bound > 0, without modulo bias. */
uint64_t mcs_rng_below(mcs_rng *r, uint64_t bound);
