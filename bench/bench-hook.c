/* The libvirt hook's round trip: mcsctl hook exec'ed as libvirtd does it,
 * domain XML on stdin, for start begin of a guest whose label is reserved
 * (the usual start) and of a new guest (one registry commit).
 * Usage: bench-hook MCSCTL (MCSD_CONFIG must name mcsd's config). */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"

enum { N = 300 };

static double run_hook(const char *mcsctl, const char *xml) {
        int in[2];
        if (pipe(in) < 0)
                BENCH_DIE("pipe failed");
        double t0 = bench_now();
        pid_t pid = fork();
        if (pid == 0) {
                dup2(in[0], 0);
                close(in[0]);
                close(in[1]);
                execl(mcsctl, mcsctl, "hook", "qemu", "guest", "start", "begin", "-", (char *) NULL);
                _exit(127);
        }
        close(in[0]);
        size_t len = strlen(xml);
        if (write(in[1], xml, len) != (ssize_t) len)
                BENCH_DIE("write failed");
        close(in[1]);
        int st;
        waitpid(pid, &st, 0);
        double ms = (bench_now() - t0) * 1e3;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                BENCH_DIE("the hook refused or failed (status %d)", st);
        return ms;
}

static void guest_xml(char *buf, size_t len, int i) {
        snprintf(buf, len,
                 "<domain type='kvm'><name>bench-%d</name><uuid>00000000-0000-4000-8000-%012d</uuid>"
                 "<memory unit='KiB'>65536</memory><devices><disk type='file'><source file='/img/%d.qcow2'/></disk>"
                 "</devices><seclabel type='dynamic' model='selinux' relabel='yes'>"
                 "<label>system_u:system_r:svirt_t:s0:c%d,c1023</label></seclabel></domain>",
                 i, i, i, i);
}

int main(int argc, char **argv) {
        static double known[N], fresh[N];
        char xml[1024];
        if (argc != 2)
                BENCH_DIE("usage: bench-hook MCSCTL");
        guest_xml(xml, sizeof xml, 1000);
        run_hook(argv[1], xml); /* reserves it */
        for (int i = 0; i < N; i++)
                known[i] = run_hook(argv[1], xml);
        for (int i = 0; i < N; i++) {
                guest_xml(xml, sizeof xml, i);
                fresh[i] = run_hook(argv[1], xml);
        }
        bench_report("hook_start_begin_ms_p50", bench_percentile(known, N, 0.5), "ms");
        bench_report("hook_start_begin_ms_p99", bench_percentile(known, N, 0.99), "ms");
        bench_report("hook_start_begin_new_guest_ms_p50", bench_percentile(fresh, N, 0.5), "ms");
        bench_report("hook_start_begin_new_guest_ms_p99", bench_percentile(fresh, N, 0.99), "ms");
        return 0;
}
