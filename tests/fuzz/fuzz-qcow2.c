/* The qcow2 header reader, on a memfd holding the input as the image. */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "mcs-image-label.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int fd = -1; /* one file for every input */
        char path[64];
        mcs_qcow2_backing b;
        mcs_err e = {0};

        if (fd < 0 && (fd = memfd_create("fuzz-qcow2", MFD_CLOEXEC)) < 0)
                abort();
        if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t) size))
                abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (mcs_qcow2_read(fd, path, &b, &e) == 0 && b.file)
                fuzz_assert(b.file[0] == '/', "backing file '%s' is not absolute", b.file);
        free(b.file);
        return 0;
}
