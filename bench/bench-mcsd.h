/* What the benchmarks that run mcsd share: they start it as systemd would
 * (NOTIFY_SOCKET, READY=1 awaited) and run libvirt's event loop beside it. */
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench-util.h"

/* libvirt's errors are reported where they matter, not printed. */
static inline void bench_quiet(void *opaque, virErrorPtr err) {
        (void) opaque;
        (void) err;
}

/* Keeps the event loop turning. */
static inline void bench_tick(int timer, void *opaque) {
        (void) timer;
        (void) opaque;
}

/* systemd reads every notification; so must a stand-in, or mcsd blocks in sd_notify. */
static inline void bench_drain(int watch, int fd, int events, void *opaque) {
        char buf[4096];
        (void) watch;
        (void) events;
        (void) opaque;
        while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
                ;
}

/* A notification socket at /tmp/NAME.PID (its path into path), whose
 * reads give up after timeout_s. */
static inline int bench_notify_socket(const char *name, int timeout_s, char *path, size_t size) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "/tmp/%s.%d", name, (int) getpid());
        unlink(sa.sun_path);
        snprintf(path, size, "%s", sa.sun_path);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct timeval tv = {.tv_sec = timeout_s};
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
                BENCH_DIE("notify socket: %m");
        return fd;
}

/* mcsd --config conf, notifying notify_path; it ends with this process. */
static inline pid_t bench_start_mcsd(const char *mcsd, const char *conf, const char *notify_path) {
        pid_t pid = fork();
        if (pid < 0)
                BENCH_DIE("fork: %m");
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                setenv("NOTIFY_SOCKET", notify_path, 1);
                execl(mcsd, mcsd, "--config", conf, (char *) NULL);
                _exit(127);
        }
        return pid;
}

/* Waits for n READY=1 on the notification socket fd. */
static inline void bench_wait_ready(int fd, int n) {
        char buf[4096];
        while (n > 0) {
                ssize_t len = recv(fd, buf, sizeof buf - 1, 0);
                if (len < 0)
                        BENCH_DIE("notify socket: no READY=1 from every mcsd");
                buf[len] = '\0';
                if (!strncmp(buf, "READY=1", 7))
                        n--;
        }
}
