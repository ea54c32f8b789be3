#include <stdint.h>
#include <stdlib.h>

#include "mcs-grow.h"

int mcs_grow(void **v, size_t *cap, size_t n, size_t size, size_t first) {
        if (n < *cap)
                return 0;
        size_t c = first;
        if (*cap) {
                if (*cap > SIZE_MAX / 2)
                        return -1;
                c = *cap * 2;
        }
        if (c <= n || size == 0 || c > SIZE_MAX / size)
                return -1;
        void *p = realloc(*v, c * size);
        if (!p)
                return -1;
        *v = p;
        *cap = c;
        return 0;
}
