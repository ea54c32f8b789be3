/* The one thing mcsd needs from a qcow2 header: the backing file's name
 * (bytes 8-19: its offset and length, big-endian). qemu itself limits the
 * name to 1023 bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcs-image-label.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define BACKING_NAME_MAX 1023u

static uint64_t be(const unsigned char *p, unsigned n) {
        uint64_t v = 0;
        for (unsigned i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

int mcs_qcow2_backing(const char *path, char **out, mcs_err *e) {
        unsigned char h[20];
        char name[BACKING_NAME_MAX + 1];
        *out = NULL;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : mcs_fail(e, MCS_E_IO, "%s: %s", path, strerror(errno));
        ssize_t n = pread(fd, h, sizeof h, 0);
        if (n != (ssize_t) sizeof h || be(h, 4) != QCOW2_MAGIC) {
                close(fd);
                return 0; /* raw, a block device, or too short: no backing file */
        }
        uint64_t off = be(h + 8, 8), len = be(h + 16, 4);
        if (off == 0 || len == 0) {
                close(fd);
                return 0;
        }
        if (len > BACKING_NAME_MAX) {
                close(fd);
                return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 backing file name of %llu bytes (at most %u)", path,
                                (unsigned long long) len, BACKING_NAME_MAX);
        }
        n = pread(fd, name, (size_t) len, (off_t) off);
        close(fd);
        if (n != (ssize_t) len)
                return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 header names a backing file beyond the end of the file", path);
        name[len] = '\0';
        if (memchr(name, '\0', len))
                return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 backing file name holds a NUL byte", path);
        if (strstr(name, "://") || !strncmp(name, "json:", 5))
                return 0; /* a network or protocol backing store: no local file */
        if (name[0] == '/')
                *out = strdup(name);
        else {
                /* Relative names are relative to the image's directory. */
                const char *slash = strrchr(path, '/');
                int dl = slash ? (int) (slash - path) : 1;
                if (asprintf(out, "%.*s/%s", dl, slash ? path : ".", name) < 0)
                        *out = NULL;
        }
        return *out ? 0 : mcs_fail(e, MCS_E_NOMEM, "out of memory");
}
