#include "mcs-tree-relabel.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <selinux/selinux.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcs-image-label.h"

#define THREADS_MAX 64u

/* A stack of directories still to read, shared by the workers. */
typedef struct walk {
        pthread_mutex_t lock;
        pthread_cond_t more;
        char **dirs;
        size_t n, cap;
        unsigned busy;          /* workers reading a directory */
        bool stop;              /* an unrecoverable error */
        const char *context;
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
        if (w->n == w->cap) {
                size_t cap = w->cap ? w->cap * 2 : 256;
                char **v = realloc(w->dirs, cap * sizeof *v);
                if (!v) {
                        pthread_mutex_unlock(&w->lock);
                        return false;
                }
                w->dirs = v;
                w->cap = cap;
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

static void read_dir(walk *w, const char *dir, uint64_t *labelled, uint64_t *skipped) {
        DIR *d = opendir(dir);
        if (!d) {
                record_error(w, errno, dir);
                return;
        }
        size_t dl = strlen(dir);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                size_t nl = strlen(de->d_name);
                char *path = malloc(dl + nl + 2);
                if (!path) {
                        record_error(w, ENOMEM, dir);
                        break;
                }
                memcpy(path, dir, dl);
                path[dl] = '/';
                memcpy(path + dl + 1, de->d_name, nl + 1);
                unsigned char type = de->d_type;
                if (type == DT_UNKNOWN) {
                        struct stat st;
                        type = lstat(path, &st) < 0        ? DT_UNKNOWN
                               : S_ISDIR(st.st_mode) ? DT_DIR
                               : S_ISREG(st.st_mode) ? DT_REG
                               : S_ISLNK(st.st_mode) ? DT_LNK
                                                     : DT_UNKNOWN;
                }
                if (type != DT_DIR && type != DT_REG && type != DT_BLK) {
                        (*skipped)++;
                        free(path);
                        continue;
                }
                if (lsetfilecon_raw(path, w->context) < 0) {
                        record_error(w, errno, path);
                        free(path);
                        if (w->stop)
                                break;
                        continue;
                }
                (*labelled)++;
                if (type != DT_DIR || !push(w, path))
                        free(path);
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

int mcs_tree_relabel(const char *root, const char *context, unsigned threads, mcs_tree_stats *st, mcs_err *e) {
        struct stat rs;
        walk w = {.context = context};
        pthread_t tid[THREADS_MAX];
        unsigned started = 0;

        *st = (mcs_tree_stats){0};
        if (lstat(root, &rs) < 0)
                return mcs_fail(e, errno == ENOENT ? MCS_E_NOTFOUND : MCS_E_IO, "%s: %s", root, strerror(errno));
        if (!S_ISDIR(rs.st_mode))
                return mcs_fail(e, MCS_E_INVALID, "%s is not a directory", root);
        if (lsetfilecon_raw(root, context) < 0) {
                int err = errno;
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
        char *first = strdup(root);
        if (!first || !push(&w, first)) {
                free(first);
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
        w.st.labelled++; /* the root */
        *st = w.st;
        if (w.err.code) {
                if (e)
                        *e = w.err;
                return -(int) w.err.code;
        }
        return 0;
}
