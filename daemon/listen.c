/* Listening UNIX sockets: the ones systemd passes (matched by path), or
 * ones mcsd creates with a given mode and group. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "mcs-macro.h"
#include "mcsd.h"

int listen_take_systemd(const char *hook_path, int *control_fd, int *hook_fd, mcs_err *e) {
        int n = sd_listen_fds(1);
        *control_fd = *hook_fd = -1;
        if (n < 0)
                return mcs_fail(e, MCS_E_IO, "socket activation: %s", strerror(-n));
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
                        return mcs_fail(e, MCS_E_INVALID, "socket activation: fd %d is not a listening UNIX stream socket", fd);
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
                fcntl(fd, F_SETFD, FD_CLOEXEC);
                if (sd_is_socket_unix(fd, SOCK_STREAM, 1, hook_path, 0) > 0)
                        *hook_fd = fd;
                else if (*control_fd < 0)
                        *control_fd = fd;
                else
                        return mcs_fail(e, MCS_E_INVALID, "socket activation: more than one socket besides the hook's %s",
                                        hook_path);
        }
        return 0;
}

/* A socket file left by an mcsd that died is removed; one that answers
 * belongs to a running mcsd and is not taken over. */
static int clear_stale(const char *path, mcs_err *e) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : mcs_fail(e, MCS_E_IO, "%s: %s", path, strerror(errno));
        if (!S_ISSOCK(st.st_mode))
                return mcs_fail(e, MCS_E_EXISTS, "%s exists and is not a socket", path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        bool live = fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0;
        if (fd >= 0)
                close(fd);
        if (live)
                return mcs_fail(e, MCS_E_EXISTS, "another mcsd already listens on %s", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return mcs_fail(e, MCS_E_IO, "cannot remove the stale socket %s: %s", path, strerror(errno));
        return 0;
}

int listen_unix(const char *path, unsigned mode, const gid_t *group, int *out, mcs_err *e) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int r;

        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        *strrchr(dir, '/') = '\0';
        if (*dir && mkdir(dir, 0755) == 0)
                chmod(dir, 0755); /* whatever the umask (systemd's UMask=0077): clients must reach the socket */
        else if (*dir && errno != EEXIST)
                return mcs_fail(e, MCS_E_IO, "cannot create %s: %s", dir, strerror(errno));
        if ((r = clear_stale(path, e)) < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return mcs_fail(e, MCS_E_IO, "socket: %s", strerror(errno));
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        /* Born without permissions; opened up only to the configured mode.
         * Linux gives the socket file the mode of the socket's own inode
         * (less the umask), so that inode is cleared rather than the
         * umask: the umask is the whole process's, and the hook thread may
         * already be creating files that would then get mode 0000. */
        if (fchmod(fd, 0) < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                r = mcs_fail(e, MCS_E_IO, "cannot bind %s: %s", path, strerror(errno));
                close(fd);
                return r;
        }
        if ((group && chown(path, 0, *group) < 0) || chmod(path, mode) < 0 || listen(fd, SOMAXCONN) < 0) {
                r = mcs_fail(e, MCS_E_IO, "cannot set up %s: %s", path, strerror(errno));
                close(fd);
                unlink(path);
                return r;
        }
        *out = fd;
        return 0;
}
