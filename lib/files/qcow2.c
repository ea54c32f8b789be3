/* What mcsd needs from a qcow2 header: the backing file's name (bytes
 * 8-19: its offset and length, big-endian) and the backing format the
 * image names in its header extension 0xe2792aca. qemu itself limits the
 * name to 1023 bytes. The image is guest-written: everything here is
 * checked, nothing is trusted beyond what the caller then checks again. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcs-image-label.h"
#include "mcs-macro.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_V2_HEADER 72u
#define QCOW2_V3_HEADER 104u
#define BACKING_NAME_MAX 1023u
/* The header and its extensions lie in the first cluster; qemu writes them
 * in a few hundred bytes, so this much is read and no more. */
#define HEAD_MAX 65536u

static uint64_t be(const unsigned char *p, unsigned n) {
        uint64_t v = 0;
        for (unsigned i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

/* The backing format extension, if the header carries one. */
static int backing_format(const unsigned char *h, size_t n, uint64_t backing_off, const char *path,
                          char format[MCS_QCOW2_FORMAT_MAX], mcs_err *e) {
        uint32_t version = (uint32_t) be(h + 4, 4);
        uint64_t off = QCOW2_V2_HEADER, end;
        format[0] = '\0';
        if (version != 2 && version != 3)
                return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 version %u (mcsd reads 2 and 3)", path, version);
        uint32_t cluster_bits = (uint32_t) be(h + 20, 4);
        if (cluster_bits < 9 || cluster_bits > 21)
                return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 cluster_bits %u (9 to 21)", path, cluster_bits);
        if (version == 3) {
                if (n < QCOW2_V3_HEADER)
                        return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 v3 header cut short", path);
                off = be(h + 100, 4);
                if (off < QCOW2_V3_HEADER || off % 8)
                        return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 header length %llu", path, (unsigned long long) off);
        }
        /* Extensions end where the backing name starts, or with the cluster. */
        end = backing_off ? backing_off : (uint64_t) 1 << cluster_bits;
        if (end > n)
                end = n;
        while (off + 8 <= end) {
                uint32_t type = (uint32_t) be(h + off, 4), len = (uint32_t) be(h + off + 4, 4);
                off += 8;
                if (type == 0)
                        break;
                if (len > end - off)
                        return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 header extension %#x runs past the header", path,
                                        type);
                if (type == QCOW2_EXT_BACKING_FORMAT) {
                        if (len == 0 || len >= MCS_QCOW2_FORMAT_MAX)
                                return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 backing format of %u bytes", path, len);
                        for (uint32_t i = 0; i < len; i++) {
                                unsigned char c = h[off + i];
                                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                                        return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 backing format holds byte %#x",
                                                        path, c);
                        }
                        memcpy(format, h + off, len);
                        format[len] = '\0';
                }
                off += (len + 7u) & ~7u;
        }
        return 0;
}

int mcs_qcow2_read(int fd, const char *path, mcs_qcow2_backing *out, mcs_err *e) {
        _cleanup_free_ unsigned char *h = malloc(HEAD_MAX);
        char name[BACKING_NAME_MAX + 1];
        int r;
        *out = (mcs_qcow2_backing){0};
        if (!h)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        ssize_t n = pread(fd, h, HEAD_MAX, 0);
        if (n < 0)
                return mcs_fail(e, MCS_E_IO, "%s: %s", path, strerror(errno));
        if (n < (ssize_t) QCOW2_V2_HEADER || be(h, 4) != QCOW2_MAGIC)
                return 0; /* not qcow2 after all: qemu will refuse it, there is no chain to label */
        uint64_t off = be(h + 8, 8), len = be(h + 16, 4);
        if (off == 0 || len == 0)
                return 0;
        if (len > BACKING_NAME_MAX)
                return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 backing file name of %llu bytes (at most %u)", path,
                                (unsigned long long) len, BACKING_NAME_MAX);
        if ((r = backing_format(h, (size_t) n, off, path, out->format, e)) < 0)
                return r;
        n = off > INT64_MAX - len ? -1 : pread(fd, name, (size_t) len, (off_t) off);
        if (n != (ssize_t) len)
                return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 header names a backing file beyond the end of the file", path);
        name[len] = '\0';
        if (memchr(name, '\0', len))
                return mcs_fail(e, MCS_E_INVALID, "%s: qcow2 backing file name holds a NUL byte", path);
        if (strstr(name, "://") || !strncmp(name, "json:", 5))
                return 0; /* a network or protocol backing store: no local file */
        if (name[0] == '/')
                out->file = strdup(name);
        else {
                /* Relative names are relative to the image's directory. */
                const char *slash = strrchr(path, '/');
                int dl = slash ? (int) (slash - path) : 1;
                if (asprintf(&out->file, "%.*s/%s", dl, slash ? path : ".", name) < 0)
                        out->file = NULL;
        }
        return out->file ? 0 : mcs_fail(e, MCS_E_NOMEM, "out of memory");
}
