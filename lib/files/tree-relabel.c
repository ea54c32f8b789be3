#include "mcs-tree-relabel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <limits.h>
#include <unistd.h>

#include "mcs-file-fd.h"
#include "mcs-grow.h"
#include "mcs-image-label.h"
#include "mcs-macro.h"

#define THREADS_MAX 64u

/* A stack of directories still to read, shared by the workers. */
typedef struct walk {
        pthread_mutex_t lock;
        pthread_cond_t more;
        char **dirs;
        size_t n, cap;
        unsigned busy;          /* workers reading a directory */
        bool stop;              /* an unrecoverable error */
        atomic_bool no_setxattrat; /* the kernel lacks it: every entry by descriptor */
        const char *context;
        int root_fd;            /* every directory is opened beneath it */
        mcs_tree_stats st;
        mcs_err err;            /* the first error */
} walk;

static void record_error(walk *w, int err, const char *path) {
        pthread_mutex_lock(&w->lock);
        w->st.failed++;
        if (!w->err.code) {
                if (mcs_errno_no_labels(err)) {
                        mcs_fail(&w->err, MCS_E_IO, "%s: %s: " MCS_NO_LABELS_TEXT, path, strerror(err));
                        w->stop = true;
                        pthread_cond_broadcast(&w->more);
                } else
                        mcs_fail(&w->err, MCS_E_IO, "%s: %s", path, strerror(err));
        }
        pthread_mutex_unlock(&w->lock);
}

static bool push(walk *w, char *dir) {
        pthread_mutex_lock(&w->lock);
        if (mcs_grow((void **) &w->dirs, &w->cap, w->n, sizeof *w->dirs, 256) < 0) {
                pthread_mutex_unlock(&w->lock);
                return false;
        }
        w->dirs[w->n++] = dir;
        pthread_cond_signal(&w->more);
        pthread_mutex_unlock(&w->lock);
        return true;
}

/* The next directory, or NULL when the walk is over: nothing queued and
 * nobody reading a directory that could queue more. */
static char *pop(walk *w) {
        pthread_mutex_lock(&w->lock);
        while (!w->stop && w->n == 0 && w->busy > 0)
                pthread_cond_wait(&w->more, &w->lock);
        char *dir = NULL;
        if (!w->stop && w->n > 0) {
                dir = w->dirs[--w->n];
                w->busy++;
        }
        pthread_mutex_unlock(&w->lock);
        return dir;
}

static void done_with(walk *w) {
        pthread_mutex_lock(&w->lock);
        if (--w->busy == 0 && w->n == 0)
                pthread_cond_broadcast(&w->more);
        pthread_mutex_unlock(&w->lock);
}

/* dir (relative to the root, "." for the root) opened beneath the root's
 * descriptor with no symlink anywhere on the way: a directory swapped for
 * a link since it was queued fails to open instead of leading outside. */
static int open_dir(walk *w, const char *dir) {
        return mcs_openat_beneath(w->root_fd, dir, O_RDONLY | O_DIRECTORY);
}

static char *join(const char *dir, const char *name) {
        if (!strcmp(dir, "."))
                return strdup(name);
        size_t dl = strlen(dir), nl = strlen(name);
        char *path = malloc(dl + nl + 2);
        if (path) {
                memcpy(path, dir, dl);
                path[dl] = '/';
                memcpy(path + dl + 1, name, nl + 1);
        }
        return path;
}

/* A regular file (as readdir saw it) labelled by its name beneath dfd,
 * without opening it: an open costs twice the label itself. Should the
 * name have been swapped since readdir, what is labelled is whatever the
 * tree's writer put at that name in this directory: never what a symlink
 * points to (it is not followed), nothing outside the directory (no path
 * is walked), and no device is opened nor FIFO waited on (nothing is
 * opened). 1 when done, 0 when the kernel lacks setxattrat (then the
 * descriptor route below serves this and every later entry). */
static int label_by_name(walk *w, int dfd, const char *dir, const char *name, uint64_t *labelled, uint64_t *skipped) {
        if (atomic_load_explicit(&w->no_setxattrat, memory_order_relaxed))
                return 0;
        if (mcs_fd_setcon_entry(dfd, name, w->context) == 0) {
                (*labelled)++;
                return 1;
        }
        int err = errno;
        if (err == ENOSYS) {
                atomic_store_explicit(&w->no_setxattrat, true, memory_order_relaxed);
                return 0;
        }
        if (err == ENOENT) /* gone meanwhile */
                (*skipped)++;
        else {
                _cleanup_free_ char *path = join(dir, name);
                record_error(w, err, path ? path : name);
        }
        return 1;
}

/* Labels one entry of the directory dfd through its own descriptor, after
 * checking its type on that descriptor (readdir's d_type may be stale).
 * Returns 1 for a directory to walk into, 0 when done with it. */
static int label_entry(walk *w, int dfd, const char *dir, const char *name, unsigned char type, uint64_t *labelled,
                       uint64_t *skipped) {
        if (type != DT_DIR && type != DT_REG && type != DT_BLK && type != DT_UNKNOWN) {
                (*skipped)++;
                return 0;
        }
        if (type == DT_REG && label_by_name(w, dfd, dir, name, labelled, skipped))
                return 0;
        struct stat st;
        int fd = mcs_fd_open_entry(dfd, name);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int err = errno;
                if (fd >= 0)
                        close(fd);
                if (err == ENOENT) { /* gone meanwhile */
                        (*skipped)++;
                        return 0;
                }
                _cleanup_free_ char *path = join(dir, name);
                record_error(w, err, path ? path : name);
                return 0;
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
                close(fd);
                (*skipped)++;
                return 0;
        }
        int r = mcs_fd_setcon(fd, w->context), err = errno;
        close(fd);
        if (r < 0) {
                _cleanup_free_ char *path = join(dir, name);
                record_error(w, err, path ? path : name);
                return 0;
        }
        (*labelled)++;
        return S_ISDIR(st.st_mode);
}

static void read_dir(walk *w, const char *dir, uint64_t *labelled, uint64_t *skipped) {
        int dfd = open_dir(w, dir);
        if (dfd < 0) {
                /* Swapped for a link or a file since it was labelled: left alone. */
                if (errno == ELOOP || errno == ENOTDIR || errno == EXDEV || errno == ENOENT)
                        (*skipped)++;
                else
                        record_error(w, errno, dir);
                return;
        }
        DIR *d = fdopendir(dfd);
        if (!d) {
                record_error(w, errno, dir);
                close(dfd);
                return;
        }
        struct dirent *de;
        while (!w->stop && (de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (label_entry(w, dfd, dir, de->d_name, de->d_type, labelled, skipped) <= 0)
                        continue;
                char *sub = join(dir, de->d_name);
                if (!sub || !push(w, sub)) {
                        free(sub);
                        record_error(w, ENOMEM, dir);
                        break;
                }
        }
        closedir(d);
}

static void *worker(void *arg) {
        walk *w = arg;
        uint64_t labelled = 0, skipped = 0;
        char *dir;
        while ((dir = pop(w))) {
                read_dir(w, dir, &labelled, &skipped);
                free(dir);
                done_with(w);
        }
        pthread_mutex_lock(&w->lock);
        w->st.labelled += labelled;
        w->st.skipped += skipped;
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

/* The tree's root as a directory descriptor, or an error. */
static int open_root(const char *root, const char *const *roots, size_t n_roots, int *fd, mcs_err *e) {
        struct stat st;
        char target[PATH_MAX];
        if (lstat(root, &st) == 0 && !S_ISDIR(st.st_mode))
                return mcs_fail(e, MCS_E_INVALID, "%s is not a directory", root);
        if (n_roots) {
                int r = mcs_open_in_roots(root, roots, n_roots, fd, target, e);
                if (r == 0 && (fstat(*fd, &st) < 0 || !S_ISDIR(st.st_mode))) {
                        close(*fd);
                        return mcs_fail(e, MCS_E_INVALID, "%s is not a directory", root);
                }
                return r;
        }
        *fd = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*fd < 0) {
                int err = errno;
                if (err == ENOTDIR || err == ELOOP)
                        return mcs_fail(e, MCS_E_INVALID, "%s is not a directory", root);
                return mcs_fail(e, err == ENOENT ? MCS_E_NOTFOUND : MCS_E_IO, "%s: %s", root, strerror(err));
        }
        return 0;
}

int mcs_tree_relabel(const char *root, const char *const *roots, size_t n_roots, const char *context, unsigned threads,
                     mcs_tree_stats *st, mcs_err *e) {
        walk w = {.context = context, .root_fd = -1};
        pthread_t tid[THREADS_MAX];
        unsigned started = 0;

        *st = (mcs_tree_stats){0};
        /* The root itself must be a directory, not a link to one. */
        int r = open_root(root, roots, n_roots, &w.root_fd, e);
        if (r < 0)
                return r;
        if (mcs_fd_setcon(w.root_fd, context) < 0) {
                int err = errno;
                close(w.root_fd);
                return mcs_fail(e, MCS_E_IO, "%s: %s%s", root, strerror(err),
                                mcs_errno_no_labels(err) ? ": " MCS_NO_LABELS_TEXT : "");
        }
        if (threads == 0) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                threads = n > 0 ? (unsigned) n : 1;
        }
        if (threads > THREADS_MAX)
                threads = THREADS_MAX;
        pthread_mutex_init(&w.lock, NULL);
        pthread_cond_init(&w.more, NULL);
        char *first = strdup(".");
        if (!first || !push(&w, first)) {
                free(first);
                close(w.root_fd);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        for (; started < threads; started++)
                if (pthread_create(&tid[started], NULL, worker, &w) != 0)
                        break;
        if (started == 0)
                worker(&w);
        for (unsigned i = 0; i < started; i++)
                pthread_join(tid[i], NULL);
        for (size_t i = 0; i < w.n; i++)
                free(w.dirs[i]);
        free(w.dirs);
        pthread_mutex_destroy(&w.lock);
        pthread_cond_destroy(&w.more);
        close(w.root_fd);
        w.st.labelled++; /* the root */
        *st = w.st;
        if (w.err.code) {
                if (e)
                        *e = w.err;
                return -(int) w.err.code;
        }
        return 0;
}
