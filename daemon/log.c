#include "log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <syslog.h>
#include <stdatomic.h>
#include <systemd/sd-journal.h>

/* Read by the hook thread too; changed on reload. */
static _Atomic int log_threshold = MCS_LOG_INFO;
static bool log_to_journal;
/* Guests waiting for a label (main loop only); -1 until first counted. */
static _Atomic long guests_waiting = -1;

/* systemd's documented test: JOURNAL_STREAM names the device and inode of
 * the stream stderr is connected to. */
static bool stderr_is_journal(void) {
        const char *js = getenv("JOURNAL_STREAM");
        struct stat st;
        uintmax_t dev, ino;
        if (!js || sscanf(js, "%ju:%ju", &dev, &ino) != 2 || fstat(2, &st) < 0)
                return false;
        return (uintmax_t) st.st_dev == dev && (uintmax_t) st.st_ino == ino;
}

void log_setup(mcs_log_level threshold) {
        log_threshold = threshold;
        log_to_journal = stderr_is_journal();
}

void log_set_level(mcs_log_level threshold) {
        log_threshold = threshold;
}

static int syslog_priority(mcs_log_level lvl) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        return prio[lvl];
}

static void emit(const char *id, mcs_log_level lvl, const char *name, const char *uuid, const char *label,
                 const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
/* Control bytes become \xNN: names, paths and messages may come from
 * shared storage or a client, and a line end in one would forge a log line
 * (or, in a journal field, a field of its own). */
static const char *escape(const char *in, char *out, size_t len) {
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *) (in ? in : ""); *p && o + 5 <= len; p++)
                if (*p < 0x20 || *p == 0x7f)
                        o += (size_t) snprintf(out + o, len - o, "\\x%02x", *p);
                else
                        out[o++] = (char) *p;
        out[o] = '\0';
        return out;
}

static void emit(const char *id, mcs_log_level lvl, const char *name, const char *uuid, const char *label,
                 const char *fmt, va_list ap) {
        char raw[2048], msg[2048], ename[1024], euuid[192], elabel[1024];
        if ((int) lvl > log_threshold)
                return;
        vsnprintf(raw, sizeof raw, fmt, ap);
        escape(raw, msg, sizeof msg);
        if (log_to_journal) {
                /* One field a line; MESSAGE_ID only for an event kind. */
                char f[8][2200];
                struct iovec iov[8];
                int n = 0;
                snprintf(f[n++], sizeof f[0], "MESSAGE=%s", msg);
                snprintf(f[n++], sizeof f[0], "PRIORITY=%d", syslog_priority(lvl));
                snprintf(f[n++], sizeof f[0], "SYSLOG_IDENTIFIER=mcsd");
                snprintf(f[n++], sizeof f[0], "MCS_GUEST_NAME=%s", escape(name, ename, sizeof ename));
                snprintf(f[n++], sizeof f[0], "MCS_GUEST_UUID=%s", escape(uuid, euuid, sizeof euuid));
                snprintf(f[n++], sizeof f[0], "MCS_LABEL=%s", escape(label, elabel, sizeof elabel));
                snprintf(f[n++], sizeof f[0], "MCS_GUESTS_WAITING=%ld", guests_waiting < 0 ? 0 : guests_waiting);
                if (id)
                        snprintf(f[n++], sizeof f[0], "MESSAGE_ID=%s", id);
                for (int i = 0; i < n; i++)
                        iov[i] = (struct iovec){.iov_base = f[i], .iov_len = strlen(f[i])};
                sd_journal_sendv(iov, n);
                return;
        }
        fprintf(stderr, "mcsd: %s: %s\n", mcs_log_level_name(lvl), msg);
}

void log_msg(mcs_log_level lvl, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        emit(NULL, lvl, NULL, NULL, NULL, fmt, ap);
        va_end(ap);
}

void log_guest(mcs_log_level lvl, const char *name, const char *uuid, const char *label, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        emit(NULL, lvl, name, uuid, label, fmt, ap);
        va_end(ap);
}

void log_event(const char *id, mcs_log_level lvl, const char *name, const char *uuid, const char *label,
               const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        emit(id, lvl, name, uuid, label, fmt, ap);
        va_end(ap);
}

bool log_set_guests_waiting(long n) {
        bool changed = guests_waiting < 0 ? n > 0 : n != guests_waiting;
        guests_waiting = n;
        return changed;
}
