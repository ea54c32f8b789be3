/* Small helpers shared by libmcs: scope-bound cleanup and array sizes. */
#pragma once

#include <stdlib.h>

#define MCS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void mcs_freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(mcs_freep)

/* Hands ownership out of a _cleanup_ variable. */
static inline void *mcs_steal_ptr(void *pp) {
        void **p = pp;
        void *v = *p;
        *p = NULL;
        return v;
}
#define MCS_TAKE_PTR(p) mcs_steal_ptr(&(p))
