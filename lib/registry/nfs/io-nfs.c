/* The dir backend's storage over NFSv3 with libnfs, without a kernel
 * mount: nfs://SERVER/EXPORT/PATH. The longest prefix of the path the
 * server lets us mount is the export; the rest is the registry directory
 * inside it (created if missing).
 *
 * libnfs's own caches are turned off: every read goes to the server. NFSv3
 * because libnfs 4.0 makes every NFSv4 create exclusive; v3 creates with
 * O_EXCL are GUARDED, decided at the server, and v3 servers commit link,
 * rename, create and remove before they answer (so sync_dir has nothing to
 * do). After a failure the handle mounts again at the next refresh. */
#include <errno.h>
#include <fcntl.h>
#include <nfsc/libnfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../dir/dir.h"
#include "mcs-macro.h"

typedef struct nfs_io {
        dir_io io;
        char *url;
        char *server;
        char *export; /* what is mounted */
        char *dir;    /* the registry directory below it: "" or "/a/b" */
        struct nfs_context *nfs;
        unsigned timeout_ms;
        bool broken; /* mount again before the next call */
} nfs_io;

/* The server's own answers; anything else (a connection reset, a
 * timeout, a stale handle after a restart) is worth mounting again for. */
static bool answered(int r) {
        static const int codes[] = {ENOENT, EEXIST, ENOTEMPTY, ENOTDIR, EISDIR, EACCES, EPERM, ENOSPC, EROFS,
                                    EDQUOT, ENAMETOOLONG, EFBIG, ENOMEM, EINVAL};
        for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
                if (r == -codes[i])
                        return true;
        return false;
}

static void note(nfs_io *n, int r) {
        const char *m = n->nfs ? nfs_get_error(n->nfs) : NULL;
        snprintf(n->io.detail, sizeof n->io.detail, "%s", m ? m : "");
        if (!answered(r))
                n->broken = true;
}

static char *full(nfs_io *n, const char *name) {
        char *p;
        if (strcmp(name, ".") == 0)
                return asprintf(&p, "%s", *n->dir ? n->dir : "/") < 0 ? NULL : p;
        return asprintf(&p, "%s/%s", n->dir, name) < 0 ? NULL : p;
}

#define WITH_PATH(var, name)                                                                                    \
        _cleanup_free_ char *var = full(n, name);                                                               \
        if (!var)                                                                                               \
                return -ENOMEM

static int nf_put_new_once(dir_io *io, const char *name, const void *data, size_t len) {
        nfs_io *n = (nfs_io *) io;
        struct nfsfh *fh;
        WITH_PATH(p, name);
        int r = nfs_create(n->nfs, p, O_WRONLY | O_EXCL, 0640, &fh);
        if (r < 0) {
                note(n, r);
                return r;
        }
        const char *d = data;
        while (len > 0) {
                int k = nfs_write(n->nfs, fh, len > 65536 ? 65536 : len, (void *) d);
                if (k <= 0) {
                        r = k < 0 ? k : -EIO;
                        break;
                }
                d += k;
                len -= (size_t) k;
        }
        if (r == 0)
                r = nfs_fsync(n->nfs, fh); /* COMMIT: the data is on the server's disk */
        int c = nfs_close(n->nfs, fh);
        if (r == 0)
                r = c;
        if (r < 0)
                note(n, r);
        return r;
}

static int nf_link_once(dir_io *io, const char *from, const char *to) {
        nfs_io *n = (nfs_io *) io;
        WITH_PATH(a, from);
        WITH_PATH(b, to);
        int r = nfs_link(n->nfs, a, b);
        if (r < 0)
                note(n, r);
        return r;
}

static int nf_rename_once(dir_io *io, const char *from, const char *to) {
        nfs_io *n = (nfs_io *) io;
        WITH_PATH(a, from);
        WITH_PATH(b, to);
        int r = nfs_rename(n->nfs, a, b);
        if (r < 0)
                note(n, r);
        return r;
}

struct open_file {
        nfs_io *n;
        struct nfsfh *fh;
};

static int fh_read(void *h, char *buf, size_t len) {
        struct open_file *f = h;
        return nfs_read(f->n->nfs, f->fh, len, buf);
}

static int nf_read_once(dir_io *io, const char *name, char **data, size_t *len) {
        nfs_io *n = (nfs_io *) io;
        struct open_file f = {.n = n};
        WITH_PATH(p, name);
        int r = nfs_open(n->nfs, p, O_RDONLY, &f.fh);
        if (r < 0) {
                note(n, r);
                return r;
        }
        r = dir_io_read_all(fh_read, &f, io->read_max, data, len);
        nfs_close(n->nfs, f.fh);
        if (r < 0 && r != -ENOMEM)
                note(n, r);
        return r;
}

static int nf_list_once(dir_io *io, const char *dir, dir_io_name_fn fn, void *ctx) {
        nfs_io *n = (nfs_io *) io;
        struct nfsdir *d;
        WITH_PATH(p, dir);
        int r = nfs_opendir(n->nfs, p, &d);
        if (r < 0) {
                note(n, r);
                return r;
        }
        struct nfsdirent *de;
        while ((de = nfs_readdir(n->nfs, d)) != NULL) {
                if (strcmp(de->name, ".") == 0 || strcmp(de->name, "..") == 0)
                        continue;
                if ((r = fn(ctx, de->name)) != 0)
                        break;
        }
        nfs_closedir(n->nfs, d);
        return r;
}

static int nf_unlink_once(dir_io *io, const char *name) {
        nfs_io *n = (nfs_io *) io;
        WITH_PATH(p, name);
        int r = nfs_unlink(n->nfs, p);
        if (r < 0)
                note(n, r);
        return r;
}

static int nf_mkdir_once(dir_io *io, const char *name) {
        nfs_io *n = (nfs_io *) io;
        WITH_PATH(p, name);
        int r = nfs_mkdir(n->nfs, p);
        if (r == -EEXIST)
                return 0;
        if (r < 0)
                note(n, r);
        return r;
}

static int nf_sync_dir(dir_io *io, const char *dir) {
        (void) io;
        (void) dir;
        return 0;
}

/* libnfs 4.0's synchronous calls leave a request whose answer never came
 * (a timeout, a connection lost) queued, with a callback into the stack
 * frame of the call that gave up; destroying the context runs that
 * callback. A context that failed so is therefore abandoned: its socket
 * closed, its memory (a few KiB) left, never called again. */
static void drop_context(struct nfs_context *nfs, bool failed) {
        if (!nfs)
                return;
        if (!failed) {
                nfs_destroy_context(nfs);
                return;
        }
        int fd = nfs_get_fd(nfs);
        if (fd >= 0)
                close(fd);
}

static struct nfs_context *connect_to(nfs_io *n, const char *export, int *err) {
        struct nfs_context *nfs = nfs_init_context();
        if (!nfs) {
                *err = -ENOMEM;
                return NULL;
        }
        nfs_set_version(nfs, 3); /* NFS_V3 */
        nfs_set_dircache(nfs, 0);
        nfs_set_pagecache(nfs, 0);
        nfs_set_timeout(nfs, (int) n->timeout_ms);
        nfs_set_autoreconnect(nfs, 0);
        int r = nfs_mount(nfs, n->server, export);
        if (r < 0) {
                snprintf(n->io.detail, sizeof n->io.detail, "%s", nfs_get_error(nfs) ? nfs_get_error(nfs) : "");
                /* Refused (no such export, no access): answered. Else the server went away mid-way. */
                drop_context(nfs, r == -EIO || r == -ETIMEDOUT || r == -ECONNRESET || r == -EPIPE ||
                                          r == -ENOTCONN || r == -EAGAIN);
                *err = r;
                return NULL;
        }
        return nfs;
}

static int remount(nfs_io *n) {
        int r;
        struct nfs_context *nfs = connect_to(n, n->export, &r);
        if (!nfs)
                return r;
        drop_context(n->nfs, n->broken);
        n->nfs = nfs;
        n->broken = false;
        return 0;
}

static void nf_close(dir_io *io) {
        nfs_io *n = (nfs_io *) io;
        if (!n)
                return;
        drop_context(n->nfs, n->broken);
        free(n->url);
        free(n->server);
        free(n->export);
        free(n->dir);
        free(n);
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remount(nfs_io *n);

/* Like a hard mount, up to the busy timeout: after a failure that is not
 * the server's answer, mount again and say whether to try the call again.
 * Calls tried twice are safe: a create or link the server did before its
 * answer was lost comes back as EEXIST, which the algorithm checks (the
 * entry's token), and removing a name already gone is harmless. */
static bool again(nfs_io *n, int r, int64_t *deadline) {
        if (r >= 0 || answered(r))
                return false;
        if (!*deadline)
                *deadline = now_ms() + n->timeout_ms;
        while (now_ms() < *deadline) {
                struct timespec pause = {0, 100 * 1000000L};
                nanosleep(&pause, NULL);
                if (remount(n) == 0)
                        return true;
        }
        return false;
}

#define RETRYING(call)                                                                                          \
        do {                                                                                                    \
                nfs_io *n_ = (nfs_io *) io;                                                                     \
                int64_t deadline_ = 0;                                                                          \
                int r_;                                                                                         \
                while (again(n_, r_ = (n_->broken ? remount(n_) : 0) < 0 ? -EIO : (call), &deadline_))         \
                        ;                                                                                       \
                return r_;                                                                                      \
        } while (0)

static int nf_put_new(dir_io *io, const char *name, const void *data, size_t len) {
        RETRYING(nf_put_new_once(io, name, data, len));
}
static int nf_link(dir_io *io, const char *from, const char *to) {
        RETRYING(nf_link_once(io, from, to));
}
static int nf_rename(dir_io *io, const char *from, const char *to) {
        RETRYING(nf_rename_once(io, from, to));
}
static int nf_read(dir_io *io, const char *name, char **data, size_t *len) {
        RETRYING(nf_read_once(io, name, data, len));
}
static int nf_list(dir_io *io, const char *dir, dir_io_name_fn fn, void *ctx) {
        RETRYING(nf_list_once(io, dir, fn, ctx));
}
static int nf_unlink(dir_io *io, const char *name) {
        RETRYING(nf_unlink_once(io, name));
}
static int nf_mkdir(dir_io *io, const char *name) {
        RETRYING(nf_mkdir_once(io, name));
}

static int nf_refresh(dir_io *io) {
        nfs_io *n = (nfs_io *) io;
        if (!n->broken && n->nfs)
                return 0;
        int64_t deadline = 0;
        int r;
        while (again(n, r = remount(n), &deadline))
                ;
        return r;
}

static const dir_io_ops nfs_ops = {
        .put_new = nf_put_new,
        .link = nf_link,
        .rename = nf_rename,
        .read = nf_read,
        .list = nf_list,
        .unlink = nf_unlink,
        .mkdir = nf_mkdir,
        .sync_dir = nf_sync_dir,
        .refresh = nf_refresh,
        .close = nf_close,
};

/* Mounts the longest prefix of path that the server exports. */
static int mount_longest(nfs_io *n, const char *path) {
        _cleanup_free_ char *p = strdup(path);
        int r = -ENOENT;
        if (!p)
                return -ENOMEM;
        for (;;) {
                struct nfs_context *nfs = connect_to(n, *p ? p : "/", &r);
                if (nfs) {
                        n->nfs = nfs;
                        n->export = strdup(*p ? p : "/");
                        n->dir = strdup(path + strlen(p));
                        return n->export && n->dir ? 0 : -ENOMEM;
                }
                char *slash = strrchr(p, '/');
                if (!slash || slash == p)
                        return r;
                *slash = '\0';
        }
}

int dir_nfs_open(const char *location, const mcs_registry_config *cfg, mcs_backend **out, mcs_err *e) {
        /* location: "//SERVER/EXPORT/PATH" */
        if (strncmp(location, "//", 2) || !strchr(location + 2, '/') || location[2] == '/')
                return mcs_fail(e, MCS_E_INVALID, "registry 'nfs:%s': expected nfs://SERVER/EXPORT/PATH", location);
        const char *host = location + 2, *path = strchr(host, '/');
        if (strstr(path, "//") || strstr(path, "/./") || strstr(path, "/../") || path[strlen(path) - 1] == '/')
                return mcs_fail(e, MCS_E_INVALID, "registry 'nfs:%s': the path must be plain (no empty, '.' or '..' "
                                "parts, no trailing '/')", location);
        nfs_io *n = calloc(1, sizeof *n);
        if (!n || asprintf(&n->url, "//%s", host) < 0 || !(n->server = strndup(host, (size_t) (path - host)))) {
                if (n)
                        nf_close(&n->io);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        n->io.ops = &nfs_ops;
        n->io.where = n->url;
        n->io.read_max = DIR_IO_READ_MAX;
        n->timeout_ms = cfg->busy_timeout_ms ? cfg->busy_timeout_ms : MCS_DEFAULT_BUSY_TIMEOUT_MS;
        int r = mount_longest(n, path);
        if (r < 0) {
                int m = mcs_fail(e, r == -ENOMEM ? MCS_E_NOMEM : MCS_E_IO, "registry nfs:%s: cannot mount any "
                                 "part of %s from %s: %s", n->url, path, n->server, n->io.detail);
                nf_close(&n->io);
                return m;
        }
        if (cfg->create && *n->dir && (r = nf_mkdir(&n->io, ".")) < 0) {
                int m = mcs_fail(e, MCS_E_IO, "registry nfs:%s: cannot create %s in export %s: %s", n->url, n->dir,
                                 n->export, n->io.detail);
                nf_close(&n->io);
                return m;
        }
        return dir_backend_ops_open(&n->io, "nfs", cfg, out, e);
}
