/* The libvirt hook's round trip, exec'ed as libvirtd does it: the installed
 * hook script (qemu.d/mcsd) with libvirt's arguments (guest name, operation,
 * sub-operation, "-") and the domain XML on stdin, for start begin of a
 * guest whose label is reserved (the usual start) and of a new guest (one
 * registry commit). Beside it, in the same run and the same way, a bare
 * exec of /bin/true: what any hook costs libvirtd at least.
 * Usage: bench-hook HOOK-SCRIPT [MCSCTL] (MCSD_CONFIG must name mcsd's
 * config); with MCSCTL, also `mcsctl hook` exec'ed without the script.
 * With HOOK_SOCKET and RAW_DIR in the environment, also what the hook's time
 * is made of: mcsd's answer alone (the request sent over the hook socket,
 * no exec) and one fsync'd sqlite commit on the registry's disk (a start
 * moves the guest's record to this host: one durable commit). */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "bench-raw-sqlite.h"

enum { N = 300 };

/* argv[0] is exec'ed with argv, the XML on its stdin; its exit status. */
static double run(char *const argv[], const char *xml, int *status) {
        int in[2];
        if (pipe(in) < 0)
                BENCH_DIE("pipe failed");
        double t0 = bench_now();
        pid_t pid = fork();
        if (pid == 0) {
                signal(SIGPIPE, SIG_DFL); /* as libvirtd leaves it to its hooks */
                dup2(in[0], 0);
                close(in[0]);
                close(in[1]);
                execv(argv[0], argv);
                _exit(127);
        }
        close(in[0]);
        size_t len = strlen(xml);
        /* /bin/true may exit before it could read: EPIPE is its answer. */
        if (write(in[1], xml, len) != (ssize_t) len && errno != EPIPE)
                BENCH_DIE("write failed: %s", strerror(errno));
        close(in[1]);
        waitpid(pid, status, 0);
        return (bench_now() - t0) * 1e3;
}

static double run_true(const char *xml) {
        char *argv[] = {"/bin/true", NULL};
        int st;
        double ms = run(argv, xml, &st);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                BENCH_DIE("/bin/true failed (status %d)", st);
        return ms;
}

/* The hook as libvirtd runs it: SCRIPT NAME start begin - (the script
 * adds the driver); mcsctl directly: MCSCTL hook qemu NAME start begin -. */
static double run_hook(const char *exe, bool script, const char *name, const char *xml) {
        char *via_script[] = {(char *) exe, (char *) name, "start", "begin", "-", NULL};
        char *direct[] = {(char *) exe, "hook", "qemu", (char *) name, "start", "begin", "-", NULL};
        int st;
        double ms = run(script ? via_script : direct, xml, &st);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                BENCH_DIE("the hook refused or failed (status %d)", st);
        return ms;
}

/* The hook's request over the hook socket, as mcsctl sends it (the XML has
 * no character JSON would escape); fails unless mcsd allows the start. */
static double socket_round_trip(const char *path, const char *name, const char *xml) {
        static char req[4096], reply[4096];
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
        int len = snprintf(req, sizeof req,
                           "{\"version\":1,\"method\":\"hook\",\"params\":{\"op\":\"start\",\"name\":\"%s\","
                           "\"xml\":\"%s\",\"deadline\":%lld}}\n",
                           name, xml, (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000 + 30000);
        double t0 = bench_now();
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &a, sizeof a) < 0 || write(fd, req, (size_t) len) != len)
                BENCH_DIE("hook socket %s: %s", path, strerror(errno));
        size_t got = 0;
        ssize_t n;
        while (got < sizeof reply - 1 && (n = read(fd, reply + got, sizeof reply - 1 - got)) > 0) {
                got += (size_t) n;
                if (reply[got - 1] == '\n')
                        break;
        }
        close(fd);
        double ms = (bench_now() - t0) * 1e3;
        reply[got] = 0;
        if (!strstr(reply, "\"allow\":true"))
                BENCH_DIE("mcsd did not allow the start: %s", reply);
        return ms;
}

/* One fsync'd commit of one row, with mcsd's journal settings. */
static double raw_commit(sqlite3 *db) {
        double t0 = bench_now();
        if (sqlite3_exec(db, "INSERT INTO t (v) VALUES ('s0:c1,c2')", NULL, NULL, NULL) != SQLITE_OK)
                BENCH_DIE("raw sqlite: %s", sqlite3_errmsg(db));
        return (bench_now() - t0) * 1e3;
}

static void guest_xml(char *xml, size_t len, char *name, size_t name_len, int i) {
        snprintf(name, name_len, "bench-%d", i);
        snprintf(xml, len,
                 "<domain type='kvm'><name>%s</name><uuid>00000000-0000-4000-8000-%012d</uuid>"
                 "<memory unit='KiB'>65536</memory><devices><disk type='file'><source file='/img/%d.qcow2'/></disk>"
                 "</devices><seclabel type='dynamic' model='selinux' relabel='yes'>"
                 "<label>system_u:system_r:svirt_t:s0:c%d,c1023</label></seclabel></domain>",
                 name, i, i, i);
}

int main(int argc, char **argv) {
        static double bare[N], known[N], fresh[N], direct[N], over_socket[N], commit[N], floor_[N];
        char xml[1024], name[32];
        if (argc < 2 || argc > 3)
                BENCH_DIE("usage: bench-hook HOOK-SCRIPT [MCSCTL]");
        const char *script = argv[1], *mcsctl = argc == 3 ? argv[2] : NULL;
        const char *hook_socket = getenv("HOOK_SOCKET"), *raw_dir = getenv("RAW_DIR");
        sqlite3 *raw = NULL;
        if (hook_socket && raw_dir) {
                char raw_path[4200];
                snprintf(raw_path, sizeof raw_path, "%s/raw.db", raw_dir);
                raw = bench_raw_sqlite_open(raw_path);
        }
        signal(SIGPIPE, SIG_IGN);
        guest_xml(xml, sizeof xml, name, sizeof name, 1000);
        run_hook(script, true, name, xml); /* reserves it */
        /* Interleaved, so that both see the same machine. */
        for (int i = 0; i < N; i++) {
                bare[i] = run_true(xml);
                known[i] = run_hook(script, true, name, xml);
                if (mcsctl)
                        direct[i] = run_hook(mcsctl, false, name, xml);
                if (raw) {
                        over_socket[i] = socket_round_trip(hook_socket, name, xml);
                        commit[i] = raw_commit(raw);
                        floor_[i] = bare[i] + commit[i];
                }
        }
        for (int i = 0; i < N; i++) {
                char x[1024], n[32];
                guest_xml(x, sizeof x, n, sizeof n, i);
                fresh[i] = run_hook(script, true, n, x);
        }
        double true_p50 = bench_percentile(bare, N, 0.5), hook_p50 = bench_percentile(known, N, 0.5);
        bench_report("exec_true_ms_p50", true_p50, "ms");
        bench_report("exec_true_ms_p99", bench_percentile(bare, N, 0.99), "ms");
        bench_report("hook_start_begin_ms_p50", hook_p50, "ms");
        bench_report("hook_start_begin_ms_p99", bench_percentile(known, N, 0.99), "ms");
        bench_report("hook_start_begin_new_guest_ms_p50", bench_percentile(fresh, N, 0.5), "ms");
        bench_report("hook_start_begin_new_guest_ms_p99", bench_percentile(fresh, N, 0.99), "ms");
        if (mcsctl) {
                bench_report("hook_mcsctl_direct_ms_p50", bench_percentile(direct, N, 0.5), "ms");
                bench_report("hook_mcsctl_direct_ms_p99", bench_percentile(direct, N, 0.99), "ms");
        }
        if (raw) {
                bench_report("hook_socket_ms_p50", bench_percentile(over_socket, N, 0.5), "ms");
                bench_report("hook_socket_ms_p99", bench_percentile(over_socket, N, 0.99), "ms");
                bench_report("raw_sqlite_commit_ms_p50", bench_percentile(commit, N, 0.5), "ms");
                bench_report("raw_sqlite_commit_ms_p99", bench_percentile(commit, N, 0.99), "ms");
                /* The least a hook that is exec'ed and commits once could take. */
                bench_report("exec_true_plus_commit_ms_p99", bench_percentile(floor_, N, 0.99), "ms");
                sqlite3_close(raw);
        }
        bench_report("hook_start_begin_vs_exec_true_ratio", hook_p50 / true_p50, "ratio");
        return 0;
}
