/* The textfile collector's file: node_exporter reads every *.prom file of
 * its directory at each scrape, so mcsd writes its metrics under a name
 * the collector skips and renames it into place: a scrape sees the old
 * file or the new one, never half of one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mcs-macro.h"
#include "metrics-render.h"

#define METRICS_FILE "mcsd.prom"
#define METRICS_TEMP ".mcsd.prom.tmp" /* no .prom suffix: the collector ignores it */
#define METRICS_FILE_INTERVAL_MS 5000

static void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static int write_all(int fd, const char *s, size_t n) {
        while (n) {
                ssize_t w = write(fd, s, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                s += w;
                n -= (size_t) w;
        }
        return 0;
}

/* The temp file is created, never opened: O_EXCL|O_NOFOLLOW, so a symlink
 * or a file someone else made there is never written through. One left by
 * a crash is removed (unlinkat removes a link, not what it names). */
static int create_temp(int dfd) {
        int fd = openat(dfd, METRICS_TEMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST && unlinkat(dfd, METRICS_TEMP, 0) == 0)
                fd = openat(dfd, METRICS_TEMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        return fd;
}

int metrics_file_write(mcsd *d, mcs_err *e) {
        const char *dir = d->cfg.metrics_textfile_dir;
        if (!dir)
                return 0;
        _cleanup_free_ char *text = metrics_render(d, e);
        if (!text)
                return -1;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return mcs_fail(e, MCS_E_IO, "metrics_textfile_dir %s: %s", dir, strerror(errno));
        _cleanup_close_ int fd = create_temp(dfd);
        if (fd < 0)
                return mcs_fail(e, MCS_E_IO, "%s/%s: %s", dir, METRICS_TEMP, strerror(errno));
        /* 0644 whatever the umask: node_exporter does not run as root. No
         * fsync: the file is rewritten every few seconds, and a scrape
         * of an empty one after a crash only misses mcsd's metrics. */
        if (fchmod(fd, 0644) < 0 || write_all(fd, text, strlen(text)) < 0 ||
            renameat(dfd, METRICS_TEMP, dfd, METRICS_FILE) < 0) {
                int err = errno;
                unlinkat(dfd, METRICS_TEMP, 0);
                return mcs_fail(e, MCS_E_IO, "%s/%s: %s", dir, METRICS_FILE, strerror(err));
        }
        return 0;
}

/* One line when writing starts failing and one when it works again. */
static void on_timer(int timer, void *opaque) {
        mcsd *d = opaque;
        mcs_err e = {0};
        (void) timer;
        if (metrics_file_write(d, &e) < 0) {
                if (!d->metrics_file_failing)
                        log_msg(MCS_LOG_WARNING, "cannot write the metrics file: %s", e.msg);
                d->metrics_file_failing = true;
        } else if (d->metrics_file_failing) {
                log_msg(MCS_LOG_INFO, "the metrics file is written again");
                d->metrics_file_failing = false;
        }
}

void metrics_file_start(mcsd *d) {
        virEventAddTimeout(METRICS_FILE_INTERVAL_MS, on_timer, d, NULL);
}
