/* mcsd against a real libvirtd (test driver over its socket):
 *   reconcile_2000_guests_s  from exec of mcsd to READY=1 with 2,000 unlabelled guests,
 *                            beside a bare read of the same guests (list + XML);
 *   define_to_label_ms_p50/p99  from virDomainDefineXML returning to the static
 *                            label being in the guest's XML, over 200 guests,
 *                            beside the define round trip itself.
 * Usage: bench-libvirt URI MCSD CONFIG */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-mcsd.h"
#include "bench-util.h"

#define RECONCILE_GUESTS (getenv("BENCH_GUESTS") ? atoi(getenv("BENCH_GUESTS")) : 2000)
#define DEFINE_GUESTS 200

static const char *watched;   /* the guest whose label we wait for */
static double labelled_at;

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        (void) conn;
        (void) detail;
        (void) opaque;
        if (getenv("BENCH_DEBUG"))
                fprintf(stderr, "event %d/%d %s\n", event, detail, virDomainGetName(dom));
        if (event != VIR_DOMAIN_EVENT_DEFINED || !watched || strcmp(virDomainGetName(dom), watched))
                return 0;
        char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        if (xml && strstr(xml, "<seclabel type='static'"))
                labelled_at = bench_now();
        free(xml);
        return 0;
}

static char *guest_xml(const char *prefix, int i) {
        char *x;
        if (asprintf(&x, "<domain type='test'><name>%s%d</name><memory>65536</memory><os><type>hvm</type></os></domain>",
                     prefix, i) < 0)
                BENCH_DIE("out of memory");
        return x;
}

static void define(virConnectPtr c, const char *prefix, int i) {
        char *x = guest_xml(prefix, i);
        virDomainPtr d = virDomainDefineXML(c, x);
        if (!d)
                BENCH_DIE("define %s%d: %s", prefix, i, virGetLastErrorMessage());
        virDomainFree(d);
        free(x);
}

/* What any reconcile must do at least: list every guest and read its XML. */
static double read_all(virConnectPtr c) {
        virDomainPtr *doms;
        double t0 = bench_now();
        int n = virConnectListAllDomains(c, &doms, 0);
        if (n < 0)
                BENCH_DIE("list: %s", virGetLastErrorMessage());
        for (int i = 0; i < n; i++) {
                free(virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE));
                virDomainFree(doms[i]);
        }
        free(doms);
        return bench_now() - t0;
}

int main(int argc, char **argv) {
        if (argc != 4)
                BENCH_DIE("usage: bench-libvirt URI MCSD CONFIG");
        virSetErrorFunc(NULL, bench_quiet);
        virConnectPtr c = virConnectOpen(argv[1]);
        if (!c)
                BENCH_DIE("connect %s: %s", argv[1], virGetLastErrorMessage());

        char notify[108];
        int nfd = bench_notify_socket("bench-libvirt-notify", 600, notify, sizeof notify);

        /* Reconcile: guests defined while mcsd is not running. */
        for (int i = 0; i < RECONCILE_GUESTS; i++)
                define(c, "r", i);
        double read_s = read_all(c);
        /* Not kept open while this process blocks on the notify socket: an
         * unanswered client would hold libvirtd's keepalive and events up. */
        virConnectClose(c);
        double t0 = bench_now();
        pid_t pid = bench_start_mcsd(argv[2], argv[3], notify);
        bench_wait_ready(nfd, 1);
        double reconcile_s = bench_now() - t0;
        bench_report("reconcile_2000_guests_s", reconcile_s, "s");
        bench_report("read_2000_guests_s", read_s, "s");
        bench_report("reconcile_vs_read_ratio", reconcile_s / read_s, "x");

        /* Define to label, one guest at a time, with mcsd running. */
        if (virEventRegisterDefaultImpl() < 0 || !(c = virConnectOpen(argv[1])))
                BENCH_DIE("connect %s: %s", argv[1], virGetLastErrorMessage());
        if (virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                             VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), NULL, NULL) < 0 ||
            virEventAddTimeout(5, bench_tick, NULL, NULL) < 0 ||
            virEventAddHandle(nfd, VIR_EVENT_HANDLE_READABLE, bench_drain, NULL, NULL) < 0)
                BENCH_DIE("events: %s", virGetLastErrorMessage());
        double lat[DEFINE_GUESTS], def[DEFINE_GUESTS];
        for (int i = 0; i < DEFINE_GUESTS; i++) {
                char name[32];
                snprintf(name, sizeof name, "d%d", i);
                watched = name;
                labelled_at = 0;
                double a = bench_now();
                define(c, "d", i);
                double b = bench_now();
                while (!labelled_at) {
                        virEventRunDefaultImpl();
                        if (bench_now() - b > 30)
                                BENCH_DIE("guest %s was not labelled within 30 s", name);
                }
                def[i] = (b - a) * 1e3;
                lat[i] = (labelled_at - b) * 1e3;
        }
        watched = NULL;
        double p50 = bench_median(lat, DEFINE_GUESTS), p99 = bench_percentile(lat, DEFINE_GUESTS, 0.99);
        double d50 = bench_median(def, DEFINE_GUESTS);
        bench_report("define_to_label_ms_p50", p50, "ms");
        bench_report("define_to_label_ms_p99", p99, "ms");
        bench_report("define_ms_p50", d50, "ms");
        bench_report("define_to_label_vs_define_ratio", p50 / d50, "x");

        kill(pid, SIGTERM);
        int st;
        waitpid(pid, &st, 0);
        unlink(notify);
        virConnectClose(c);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                BENCH_DIE("mcsd did not exit cleanly after SIGTERM");
        return 0;
}
