/* The libvirt hook's round trip, exec'ed as libvirtd does it: the installed
 * hook script (qemu.d/mcsd) with libvirt's arguments (guest name, operation,
 * sub-operation, "-") and the domain XML on stdin, for start begin of a
 * guest whose label is reserved (the usual start) and of a new guest (one
 * registry commit). Beside it, in the same run and the same way, a bare
 * exec of /bin/true: what any hook costs libvirtd at least.
 * Usage: bench-hook HOOK-SCRIPT [MCSCTL] (MCSD_CONFIG must name mcsd's
 * config); with MCSCTL, also `mcsctl hook` exec'ed without the script. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"

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
        static double bare[N], known[N], fresh[N], direct[N];
        char xml[1024], name[32];
        if (argc < 2 || argc > 3)
                BENCH_DIE("usage: bench-hook HOOK-SCRIPT [MCSCTL]");
        const char *script = argv[1], *mcsctl = argc == 3 ? argv[2] : NULL;
        signal(SIGPIPE, SIG_IGN);
        guest_xml(xml, sizeof xml, name, sizeof name, 1000);
        run_hook(script, true, name, xml); /* reserves it */
        /* Interleaved, so that both see the same machine. */
        for (int i = 0; i < N; i++) {
                bare[i] = run_true(xml);
                known[i] = run_hook(script, true, name, xml);
                if (mcsctl)
                        direct[i] = run_hook(mcsctl, false, name, xml);
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
        bench_report("hook_start_begin_vs_exec_true_ratio", hook_p50 / true_p50, "ratio");
        return 0;
}
