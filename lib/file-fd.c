#include "mcs-file-fd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <selinux/selinux.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

static int openat2_(int dfd, const char *path, uint64_t flags, uint64_t resolve) {
        struct open_how how = {.flags = flags, .resolve = resolve};
        return (int) syscall(SYS_openat2, dfd, path, &how, sizeof how);
}

static bool under(const char *path, const char *root) {
        size_t n = strlen(root);
        while (n > 1 && root[n - 1] == '/')
                n--;
        return !strncmp(path, root, n) && (path[n] == '/' || path[n] == '\0' || (n == 1 && root[0] == '/'));
}

static void fd_path(int fd, char buf[32]) {
        snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

/* The descriptor of what was opened, refused if it is a symlink (the last
 * component swapped for one after realpath). */
static int checked(int fd, const char *path, int *out, mcs_err *e) {
        struct stat st;
        if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
                close(fd);
                return mcs_fail(e, MCS_E_INVALID, "%s changed while it was opened (a symlink swapped in?); not labelled",
                                path);
        }
        *out = fd;
        return 0;
}

static int open_failed(const char *path, mcs_err *e) {
        int err = errno;
        if (err == ENOENT)
                return mcs_fail(e, MCS_E_NOTFOUND, "%s: %s", path, strerror(err));
        if (err == ELOOP || err == EXDEV || err == ENOTDIR)
                return mcs_fail(e, MCS_E_INVALID,
                                "%s changed while it was opened (a symlink swapped in?); not labelled", path);
        return mcs_fail(e, MCS_E_IO, "%s: %s", path, strerror(err));
}

int mcs_open_in_roots(const char *path, const char *const *roots, size_t n_roots, int *fd, char target[PATH_MAX],
                      mcs_err *e) {
        *fd = -1;
        if (!realpath(path, target))
                return mcs_fail(e, errno == ENOENT ? MCS_E_NOTFOUND : MCS_E_IO, "%s: %s", path, strerror(errno));
        if (n_roots == 0) {
                int f = openat2_(AT_FDCWD, target, O_PATH | O_NOFOLLOW | O_CLOEXEC, RESOLVE_NO_SYMLINKS);
                return f < 0 ? open_failed(path, e) : checked(f, path, fd, e);
        }
        for (size_t i = 0; i < n_roots; i++) {
                char link[32], root[PATH_MAX];
                int rfd = open(roots[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (rfd < 0)
                        continue;
                /* The root as opened: what the target is compared with and
                 * what it is opened beneath are the same directory. */
                fd_path(rfd, link);
                ssize_t n = readlink(link, root, sizeof root - 1);
                if (n <= 0 || !under(target, (root[n] = '\0', root))) {
                        close(rfd);
                        continue;
                }
                const char *rel = target + n;
                while (*rel == '/')
                        rel++;
                int f = openat2_(rfd, *rel ? rel : ".", O_PATH | O_NOFOLLOW | O_CLOEXEC, BENEATH);
                close(rfd);
                return f < 0 ? open_failed(path, e) : checked(f, path, fd, e);
        }
        bool moved = strcmp(path, target) != 0;
        return mcs_fail(e, MCS_E_INVALID, "%s%s%s is outside the configured image roots; not labelled", path,
                        moved ? " -> " : "", moved ? target : "");
}

bool mcs_path_in_roots(const char *path, const char *const *roots, size_t n_roots) {
        if (path[0] != '/' || strstr(path, "/./") || strstr(path, "/../"))
                return false;
        size_t n = strlen(path);
        if ((n >= 2 && !strcmp(path + n - 2, "/.")) || (n >= 3 && !strcmp(path + n - 3, "/..")))
                return false;
        for (size_t i = 0; i < n_roots; i++)
                if (under(path, roots[i]))
                        return true;
        return false;
}

int mcs_fd_open_entry(int dfd, const char *name) {
        return openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

int mcs_fd_getcon(int fd, char **con) {
        char p[32];
        fd_path(fd, p);
        return getfilecon_raw(p, con);
}

int mcs_fd_setcon(int fd, const char *con) {
        char p[32];
        fd_path(fd, p);
        return setfilecon_raw(p, con);
}

int mcs_fd_removecon(int fd) {
        char p[32];
        fd_path(fd, p);
        return removexattr(p, "security.selinux");
}
