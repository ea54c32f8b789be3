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

/* Without openat2 (Linux before 5.6, valgrind): one component at a time,
 * none of them a symlink or "..". */
static int walk_beneath(int dfd, const char *rel, int flags) {
        char buf[PATH_MAX];
        if (strlen(rel) >= sizeof buf) {
                errno = ENAMETOOLONG;
                return -1;
        }
        strcpy(buf, rel);
        int cur = -1;
        char *save = NULL, *next;
        char *c = strtok_r(buf, "/", &save);
        while (c && !strcmp(c, "."))
                c = strtok_r(NULL, "/", &save);
        if (!c)
                return openat(dfd, ".", flags | O_CLOEXEC);
        for (; c; c = next) {
                next = strtok_r(NULL, "/", &save);
                while (next && !strcmp(next, "."))
                        next = strtok_r(NULL, "/", &save);
                if (!strcmp(c, "..")) {
                        if (cur >= 0)
                                close(cur);
                        errno = EXDEV;
                        return -1;
                }
                int base = cur >= 0 ? cur : dfd;
                int fd = next ? openat(base, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                              : openat(base, c, flags | O_NOFOLLOW | O_CLOEXEC);
                int err = errno;
                if (cur >= 0)
                        close(cur);
                if (fd < 0) {
                        errno = err == ENOTDIR && next ? ELOOP : err;
                        return -1;
                }
                cur = fd;
        }
        return cur;
}

int mcs_openat_beneath(int dfd, const char *rel, int flags) {
        struct open_how how = {.flags = (uint64_t) (flags | O_NOFOLLOW | O_CLOEXEC), .resolve = BENEATH};
        int fd = (int) syscall(SYS_openat2, dfd, rel, &how, sizeof how);
        if (fd < 0 && errno == ENOSYS)
                return walk_beneath(dfd, rel, flags);
        return fd;
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
                int top = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                int f = top < 0 ? -1 : mcs_openat_beneath(top, target[1] ? target + 1 : ".", O_PATH);
                int err = errno;
                if (top >= 0)
                        close(top);
                errno = err;
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
                int f = mcs_openat_beneath(rfd, *rel ? rel : ".", O_PATH);
                int err = errno;
                close(rfd);
                errno = err;
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

static const char *kind_name(mode_t m) {
        return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : S_ISCHR(m) ? "a character device"
             : S_ISBLK(m) ? "a block device" : S_ISREG(m) ? "a regular file" : "a special file";
}

int mcs_fd_require_kind(int fd, mcs_file_kind kind, const char *path, mcs_err *e) {
        struct stat st;
        if (kind == MCS_FILE_ANY)
                return 0;
        if (fstat(fd, &st) < 0)
                return mcs_fail(e, MCS_E_IO, "%s: %s", path, strerror(errno));
        bool blk = S_ISBLK(st.st_mode), reg = S_ISREG(st.st_mode);
        bool ok = kind == MCS_FILE_BLOCK ? blk : kind == MCS_FILE_REGULAR ? reg : blk || reg;
        if (!ok)
                return mcs_fail(e, MCS_E_INVALID, "%s is %s, not %s; not touched", path, kind_name(st.st_mode),
                                kind == MCS_FILE_BLOCK     ? "a block device (type='block')"
                                : kind == MCS_FILE_REGULAR ? "a regular file"
                                                           : "a regular file or a block device");
        return 0;
}

int mcs_fd_reopen_read(int pathfd) {
        char p[32];
        fd_path(pathfd, p);
        return open(p, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
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

/* setxattrat(2) came in Linux 6.13 with one number on every architecture
 * (the generic table); older headers lack the name. */
#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#endif

struct mcs_xattr_args {
        uint64_t value;
        uint32_t size;
        uint32_t flags;
};

int mcs_fd_setcon_entry(int dfd, const char *name, const char *con) {
        struct mcs_xattr_args a = {.value = (uint64_t) (uintptr_t) con, .size = (uint32_t) strlen(con) + 1};
        return (int) syscall(SYS_setxattrat, dfd, name, AT_SYMLINK_NOFOLLOW, "security.selinux", &a, sizeof a);
}

int mcs_fd_removecon(int fd) {
        char p[32];
        fd_path(fd, p);
        return removexattr(p, "security.selinux");
}
