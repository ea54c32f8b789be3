/* The dir backend's storage on a mounted filesystem: every name is opened
 * relative to a descriptor of the registry's directory, never following a
 * symlink in its last component. The descriptor is taken again at each
 * refresh, so a directory replaced under the same path is seen. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

typedef struct posix_io {
        dir_io io;
        char *path;
        int dfd;
} posix_io;

static int write_all(int fd, const char *p, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static int px_put_new(dir_io *io, const char *name, const void *data, size_t len) {
        posix_io *p = (posix_io *) io;
        int fd = openat(p->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, data, len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        return r;
}

static int px_link(dir_io *io, const char *from, const char *to) {
        posix_io *p = (posix_io *) io;
        return linkat(p->dfd, from, p->dfd, to, 0) < 0 ? -errno : 0;
}

static int px_rename(dir_io *io, const char *from, const char *to) {
        posix_io *p = (posix_io *) io;
        return renameat(p->dfd, from, p->dfd, to) < 0 ? -errno : 0;
}

static int fd_read(void *h, char *buf, size_t len) {
        ssize_t k;
        do
                k = read(*(int *) h, buf, len);
        while (k < 0 && errno == EINTR);
        return k < 0 ? -errno : (int) k;
}

static int px_read(dir_io *io, const char *name, char **data, size_t *len) {
        posix_io *p = (posix_io *) io;
        int fd = openat(p->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC); /* a FIFO does not block */
        if (fd < 0)
                return -errno;
        struct stat st;
        /* A file known to be too long is refused before it is read. */
        int r = fstat(fd, &st) < 0 ? -errno : (uint64_t) st.st_size > io->read_max ? -EFBIG : 0;
        if (r == 0)
                r = dir_io_read_all(fd_read, &fd, io->read_max, data, len);
        close(fd);
        return r;
}

static int px_list(dir_io *io, const char *dir, dir_io_name_fn fn, void *ctx) {
        posix_io *p = (posix_io *) io;
        int fd = openat(p->dfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        struct dirent *de;
        int r = 0;
        errno = 0;
        while ((de = readdir(d)) != NULL) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if ((r = fn(ctx, de->d_name)) != 0)
                        break;
                errno = 0;
        }
        if (!de && errno)
                r = -errno;
        closedir(d);
        return r;
}

static int px_unlink(dir_io *io, const char *name) {
        posix_io *p = (posix_io *) io;
        return unlinkat(p->dfd, name, 0) < 0 ? -errno : 0;
}

static int px_mkdir(dir_io *io, const char *name) {
        posix_io *p = (posix_io *) io;
        return mkdirat(p->dfd, name, 0750) < 0 && errno != EEXIST ? -errno : 0;
}

static int px_sync_dir(dir_io *io, const char *dir) {
        posix_io *p = (posix_io *) io;
        int fd = openat(p->dfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static int px_refresh(dir_io *io) {
        posix_io *p = (posix_io *) io;
        int fd = open(p->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (p->dfd >= 0)
                close(p->dfd);
        p->dfd = fd;
        /* An NFS client revalidates a directory it opens (close-to-open):
         * names another host published since are then seen, not hidden by
         * a cached "no such file". */
        int log = openat(fd, "log", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (log >= 0)
                close(log);
        return 0;
}

static void px_close(dir_io *io) {
        posix_io *p = (posix_io *) io;
        if (!p)
                return;
        if (p->dfd >= 0)
                close(p->dfd);
        free(p->path);
        free(p);
}

static const dir_io_ops posix_ops = {
        .put_new = px_put_new,
        .link = px_link,
        .rename = px_rename,
        .read = px_read,
        .list = px_list,
        .unlink = px_unlink,
        .mkdir = px_mkdir,
        .sync_dir = px_sync_dir,
        .refresh = px_refresh,
        .close = px_close,
};

/* create: make the directory when it is missing (a new registry). */
int dir_io_posix_open(const char *path, bool create, dir_io **out, char *why, size_t why_len) {
        if (path[0] != '/') {
                snprintf(why, why_len, "'%s' is not an absolute path", path);
                return -EINVAL;
        }
        posix_io *p = calloc(1, sizeof *p);
        if (!p || !(p->path = strdup(path))) {
                free(p);
                snprintf(why, why_len, "out of memory");
                return -ENOMEM;
        }
        p->io.ops = &posix_ops;
        p->io.where = p->path;
        p->io.read_max = DIR_IO_READ_MAX;
        p->dfd = -1;
        if (create && mkdir(path, 0750) < 0 && errno != EEXIST) {
                int r = -errno;
                snprintf(why, why_len, "cannot create directory %s: %s", path, strerror(errno));
                px_close(&p->io);
                return r;
        }
        int r = px_refresh(&p->io);
        if (r < 0) {
                snprintf(why, why_len, "cannot open directory %s: %s", path, strerror(-r));
                px_close(&p->io);
                return r;
        }
        *out = &p->io;
        return 0;
}
