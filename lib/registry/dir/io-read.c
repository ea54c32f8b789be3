/* A whole file into memory, for every storage layer under the dir
 * backend: the buffer grows by doubling, up to the layer's limit. */
#include <errno.h>
#include <stdlib.h>

#include "io.h"

int dir_io_read_all(dir_io_read_fn rd, void *h, size_t max, char **data, size_t *len) {
        size_t cap = 4096, n = 0;
        char *buf = malloc(cap);
        int r = 0;
        while (buf) {
                if (n + 1 == cap) {
                        /* Never more than one byte past max: enough to see a longer file. */
                        size_t grown = cap < max / 2 ? cap * 2 : max + 2;
                        char *b = realloc(buf, grown);
                        if (!b) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = b;
                        cap = grown;
                }
                int k = rd(h, buf + n, cap - n - 1);
                if (k < 0) {
                        r = k;
                        break;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max) { /* refused whole: a part of a file is never taken for all of it */
                        r = -EFBIG;
                        break;
                }
        }
        if (!buf)
                return -ENOMEM;
        if (r < 0) {
                free(buf);
                return r;
        }
        buf[n] = '\0';
        *data = buf;
        *len = n;
        return 0;
}
