/* A whole file into memory, for every storage layer under the dir
 * backend: the buffer grows by doubling, up to a limit no registry file
 * comes near. */
#include <errno.h>
#include <stdlib.h>

#include "io.h"

#define READ_MAX (64u << 20)

int dir_io_read_all(dir_io_read_fn rd, void *h, char **data, size_t *len) {
        size_t cap = 4096, n = 0;
        char *buf = malloc(cap);
        int r = 0;
        while (buf) {
                if (n + 1 == cap) {
                        char *b = cap > READ_MAX ? NULL : realloc(buf, cap * 2);
                        if (!b) {
                                r = -EFBIG;
                                break;
                        }
                        buf = b;
                        cap *= 2;
                }
                int k = rd(h, buf + n, cap - n - 1);
                if (k < 0) {
                        r = k;
                        break;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
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
