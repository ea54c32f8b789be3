/* listen_unix must not change the process umask: other threads (the hook
 * server's) create files meanwhile. umask() is interposed here, so any call
 * from daemon/listen.c is counted, whatever the timing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mcsd.h"

static int umask_calls;

mode_t umask(mode_t mask) {
        umask_calls++;
        return (mode_t) syscall(SYS_umask, mask);
}

static int fail(const char *what) {
        fprintf(stderr, "test-listen: %s\n", what);
        return 1;
}

int main(void) {
        char dir[] = "/tmp/test-listen-XXXXXX", path[128];
        struct stat st;
        mcs_err e = {0};
        int fd = -1, rc = 0;

        if (!mkdtemp(dir))
                return fail(strerror(errno));
        snprintf(path, sizeof path, "%s/sub/mcsd.sock", dir);
        syscall(SYS_umask, 022);
        umask_calls = 0;
        if (listen_unix(path, 0660, NULL, &fd, &e) < 0)
                rc = fail(e.msg);
        else if (umask_calls)
                rc = fail("listen_unix changed the process umask (another thread's files would get its mode)");
        else if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0660)
                rc = fail("the socket does not have exactly the mode asked for");
        else if ((mode_t) syscall(SYS_umask, 022) != 022)
                rc = fail("the umask changed");
        if (fd >= 0)
                close(fd);
        unlink(path);
        snprintf(path, sizeof path, "%s/sub", dir);
        rmdir(path);
        rmdir(dir);
        if (!rc)
                printf("ok\n");
        return rc;
}
