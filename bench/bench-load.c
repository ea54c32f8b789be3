/* Load: three hosts (private libvirtds, test driver), one mcsd each, on one
 * sqlite registry. Guests are defined and undefined in waves until
 * MCS_LOAD_SECONDS (600) pass: each wave defines guests until MCS_LOAD_GUESTS
 * (10,000) exist across the hosts, waits for every label, and undefines a
 * fifth of them (released by mcsd after its undefine_grace, during the next
 * wave). Each host's guests are defined by a thread of their own, at most
 * MCS_LOAD_WINDOW (8) of them waiting for their label at a time, the way a
 * busy orchestrator would: the latency then measures mcsd, not a backlog the
 * benchmark built. At the end, once quiet, it counts labels held twice (in
 * the registry, and by two guests across the libvirtds) and disagreements
 * between each host's XML and the registry.
 *
 * define_to_label: from virDomainDefineXML returning to the lifecycle event
 * of mcsd's redefinition with a static label (on a second connection,
 * served by an event loop thread). Baseline: the define round trip itself.
 *
 * Usage: bench-load MCSD REGISTRY URI1 CONF1 URI2 CONF2 URI3 CONF3 */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-mcsd.h"
#include "bench-util.h"
#include "mcs-registry.h"

#define HOSTS_MAX 3
#define UNDEFINE_EVERY 5 /* a fifth of the guests each wave */
#define LABEL_TIMEOUT_S 120.0
#define QUIET_TIMEOUT_S 120.0

typedef struct guest {
        int host;
        bool live;      /* defined and not undefined by us */
        bool labelled;  /* mcsd's redefinition with a static label was seen */
        double defined_at, labelled_at, define_ms;
} guest;

typedef struct host {
        int id; /* 0..hosts-1; host_id "h<id+1>" */
        const char *uri, *conf;
        virConnectPtr cmd, ev; /* defines and undefines; events */
        pid_t mcsd;
        int want;     /* guests this host should have after the wave */
        int live;     /* guests defined and not undefined */
        int waiting;  /* defined, label not seen yet */
        long rss_start_kib, rss_end_kib;
} host;

static struct {
        pthread_mutex_t lock;
        pthread_cond_t labelled; /* a guest got its label */
        guest *g;
        size_t n, cap;
        host h[HOSTS_MAX];
        int hosts; /* how many: 3, or 1 for the one-host baseline */
        int window;
        atomic_bool stop_loop;
} S = {.lock = PTHREAD_MUTEX_INITIALIZER, .labelled = PTHREAD_COND_INITIALIZER};

static pid_t children[HOSTS_MAX];
static char notify_file[108];

/* On any exit: no mcsd outlives the benchmark, nor its notify socket. */
static void at_exit(void) {
        for (int i = 0; i < S.hosts; i++)
                if (children[i] > 0)
                        kill(children[i], SIGTERM);
        if (notify_file[0])
                unlink(notify_file);
}

static int env_int(const char *name, int def, int min) {
        const char *s = getenv(name);
        if (!s || !*s)
                return def;
        char *end;
        long v = strtol(s, &end, 10);
        if (*end || v < min || v > 10000000)
                BENCH_DIE("%s: '%s' is not a whole number from %d", name, s, min);
        return (int) v;
}

static long rss_kib(pid_t pid) {
        char path[64], line[256];
        long kib = -1;
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "r");
        if (!f)
                BENCH_DIE("%s: %m", path);
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        if (kib < 0)
                BENCH_DIE("%s: no VmRSS", path);
        return kib;
}

/* Guest names are "L<index>": the index leads back to its slot. */
static long guest_index(const char *name) {
        if (name[0] != 'L')
                return -1;
        char *end;
        long i = strtol(name + 1, &end, 10);
        return *end || i < 0 ? -1 : i;
}

static size_t new_guest(int h) {
        pthread_mutex_lock(&S.lock);
        if (S.n == S.cap) {
                S.cap = S.cap ? 2 * S.cap : 16384;
                S.g = realloc(S.g, S.cap * sizeof *S.g);
                if (!S.g)
                        BENCH_DIE("out of memory");
        }
        size_t i = S.n++;
        S.g[i] = (guest){.host = h};
        pthread_mutex_unlock(&S.lock);
        return i;
}

static bool has_static_label(virDomainPtr dom) {
        char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        bool yes = xml && strstr(xml, "<seclabel type='static'");
        free(xml);
        return yes;
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        host *h = opaque;
        double t = bench_now();
        (void) conn;
        /* Our defines are ADDED and carry no label; mcsd's redefinition is UPDATED. */
        if (event != VIR_DOMAIN_EVENT_DEFINED || detail == VIR_DOMAIN_EVENT_DEFINED_ADDED)
                return 0;
        long i = guest_index(virDomainGetName(dom));
        pthread_mutex_lock(&S.lock);
        bool wanted = i >= 0 && (size_t) i < S.n && S.g[i].host == h->id && !S.g[i].labelled;
        pthread_mutex_unlock(&S.lock);
        if (!wanted || !has_static_label(dom))
                return 0;
        pthread_mutex_lock(&S.lock);
        if (!S.g[i].labelled) {
                S.g[i].labelled = true;
                S.g[i].labelled_at = t;
                h->waiting--;
                pthread_cond_broadcast(&S.labelled);
        }
        pthread_mutex_unlock(&S.lock);
        return 0;
}

static void *event_loop(void *arg) {
        (void) arg;
        while (!atomic_load(&S.stop_loop))
                if (virEventRunDefaultImpl() < 0)
                        BENCH_DIE("event loop: %s", virGetLastErrorMessage());
        return NULL;
}

/* Waits (lock held) until the host has at most max guests waiting for a label. */
static void wait_labels(host *h, int max) {
        double since = bench_now();
        int before = h->waiting;
        while (h->waiting > max) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += 1;
                pthread_cond_timedwait(&S.labelled, &S.lock, &ts);
                if (h->waiting < before) {
                        before = h->waiting;
                        since = bench_now();
                } else if (bench_now() - since > LABEL_TIMEOUT_S) {
                        BENCH_DIE("host h%d: %d guests waited %.0f s for a label without progress", h->id + 1,
                                  h->waiting, LABEL_TIMEOUT_S);
                }
        }
}

static void define_guest(host *h) {
        size_t i = new_guest(h->id);
        char *x;
        if (asprintf(&x, "<domain type='test'><name>L%zu</name><memory>65536</memory><os><type>hvm</type></os></domain>",
                     i) < 0)
                BENCH_DIE("out of memory");
        pthread_mutex_lock(&S.lock);
        h->waiting++;
        pthread_mutex_unlock(&S.lock);
        double a = bench_now();
        virDomainPtr d = virDomainDefineXML(h->cmd, x);
        double b = bench_now();
        if (!d)
                BENCH_DIE("h%d: define L%zu: %s", h->id + 1, i, virGetLastErrorMessage());
        virDomainFree(d);
        free(x);
        pthread_mutex_lock(&S.lock);
        S.g[i].live = true;
        S.g[i].defined_at = b;
        S.g[i].define_ms = (b - a) * 1e3;
        h->live++;
        pthread_mutex_unlock(&S.lock);
}

/* One host's part of a define phase: up to want guests, at most window waiting. */
static void *define_phase(void *arg) {
        host *h = arg;
        pthread_mutex_lock(&S.lock);
        while (h->live < h->want) {
                wait_labels(h, S.window - 1);
                pthread_mutex_unlock(&S.lock);
                define_guest(h);
                pthread_mutex_lock(&S.lock);
        }
        wait_labels(h, 0);
        pthread_mutex_unlock(&S.lock);
        return NULL;
}

static void run_define_phase(void) {
        pthread_t t[HOSTS_MAX];
        for (int i = 0; i < S.hosts; i++)
                if (pthread_create(&t[i], NULL, define_phase, &S.h[i]))
                        BENCH_DIE("pthread_create failed");
        for (int i = 0; i < S.hosts; i++)
                pthread_join(t[i], NULL);
}

/* Undefines every fifth live guest, oldest first, from a different one each wave. */
static void undefine_phase(unsigned wave) {
        size_t k = wave;
        for (size_t i = 0; i < S.n; i++) {
                guest *g = &S.g[i];
                if (!g->live || k++ % UNDEFINE_EVERY)
                        continue;
                host *h = &S.h[g->host];
                char name[32];
                snprintf(name, sizeof name, "L%zu", i);
                virDomainPtr d = virDomainLookupByName(h->cmd, name);
                if (!d || virDomainUndefine(d) < 0)
                        BENCH_DIE("h%d: undefine %s: %s", h->id + 1, name, virGetLastErrorMessage());
                virDomainFree(d);
                pthread_mutex_lock(&S.lock);
                g->live = false;
                h->live--;
                pthread_mutex_unlock(&S.lock);
        }
}

/* One line on stderr per wave: where the time went, for a reader of the log. */
static void wave_note(unsigned wave, size_t from, double t0) {
        size_t n = S.n - from;
        double *lat = malloc((n ? n : 1) * sizeof *lat);
        if (!lat)
                BENCH_DIE("out of memory");
        for (size_t i = 0; i < n; i++)
                lat[i] = (S.g[from + i].labelled_at - S.g[from + i].defined_at) * 1e3;
        if (n) {
                double p50 = bench_median(lat, n), p99 = bench_percentile(lat, n, 0.99);
                fprintf(stderr,
                        "bench-load: wave %u: %zu guests defined and labelled in %.2f s; define to label p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                        wave, n, bench_now() - t0, p50, p99, lat[n - 1]);
        }
        free(lat);
}

/* The level of a guest's static label, from "<label>user:role:type:LEVEL</label>". */
static char *xml_level(const char *xml) {
        const char *p = strstr(xml, "<seclabel type='static'");
        p = p ? strstr(p, "<label>") : NULL;
        if (!p)
                return NULL;
        p += strlen("<label>");
        const char *end = strstr(p, "</label>");
        for (int colons = 0; end && p < end && colons < 3; p++)
                if (*p == ':')
                        colons++;
        return end && p < end ? strndup(p, (size_t) (end - p)) : NULL;
}

typedef struct seen {
        char uuid[VIR_UUID_STRING_BUFLEN];
        char *name;
        char *level; /* NULL: no static label */
        int host;
} seen;

static int by_level(const void *a, const void *b) {
        const seen *x = a, *y = b;
        return strcmp(x->level ? x->level : "", y->level ? y->level : "");
}

static int by_uuid(const void *a, const void *b) {
        return strcmp(((const seen *) a)->uuid, ((const seen *) b)->uuid);
}

static size_t list_libvirt(seen **out) {
        seen *v = NULL;
        size_t n = 0;
        for (int h = 0; h < S.hosts; h++) {
                virDomainPtr *doms;
                int k = virConnectListAllDomains(S.h[h].cmd, &doms, 0);
                if (k < 0)
                        BENCH_DIE("h%d: list: %s", h + 1, virGetLastErrorMessage());
                v = realloc(v, (n + (size_t) k) * sizeof *v);
                if (!v && k)
                        BENCH_DIE("out of memory");
                for (int i = 0; i < k; i++) {
                        seen *s = &v[n++];
                        char *xml = virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_INACTIVE);
                        if (!xml || virDomainGetUUIDString(doms[i], s->uuid) < 0)
                                BENCH_DIE("h%d: read %s: %s", h + 1, virDomainGetName(doms[i]),
                                          virGetLastErrorMessage());
                        s->level = xml_level(xml);
                        s->name = strdup(virDomainGetName(doms[i]));
                        s->host = h;
                        free(xml);
                        virDomainFree(doms[i]);
                }
                free(doms);
        }
        *out = v;
        return n;
}

static mcs_registry *open_registry(const char *location) {
        mcs_registry_config cfg = {.create = true, .host_id = "bench-load"};
        mcs_registry *r;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        if (mcs_registry_open(location, &cfg, &r, &e) < 0)
                BENCH_DIE("registry %s: %s", location, e.msg);
        return r;
}

static void list_registry(mcs_registry *r, mcs_record_list *l) {
        mcs_err e = {0};
        mcs_record_list_clear(l);
        if (mcs_registry_list(r, NULL, l, &e) < 0)
                BENCH_DIE("registry list: %s", e.msg);
}

/* Waits until the registry holds exactly one record per live guest: every
 * release due after an undefine has happened. */
static void wait_quiet(mcs_registry *r, int live) {
        mcs_record_list l = {0};
        double t0 = bench_now();
        for (;;) {
                list_registry(r, &l);
                if (l.n == (size_t) live)
                        break;
                if (bench_now() - t0 > QUIET_TIMEOUT_S) {
                        fprintf(stderr, "bench-load: the registry holds %zu records for %d guests after %.0f s\n", l.n,
                                live, QUIET_TIMEOUT_S);
                        break;
                }
                usleep(200000);
        }
        mcs_record_list_clear(&l);
}

#define NOTE(count, ...)                                                                                   \
        do {                                                                                               \
                if ((count)++ < 20)                                                                        \
                        fprintf(stderr, "bench-load: " __VA_ARGS__);                                       \
        } while (0)

/* Labels held twice in the registry and in libvirt, and records that
 * disagree with the guests: each problem is printed (the first 20). */
static void check(mcs_registry *r, int *duplicates, int *mismatches) {
        mcs_record_list l = {0};
        seen *v;
        size_t n = list_libvirt(&v);
        int dup = 0, mis = 0;
        list_registry(r, &l);

        /* The registry, by label. */
        seen *rv = calloc(l.n ? l.n : 1, sizeof *rv);
        if (!rv)
                BENCH_DIE("out of memory");
        for (size_t i = 0; i < l.n; i++) {
                snprintf(rv[i].uuid, sizeof rv[i].uuid, "%s", l.v[i].uuid);
                rv[i].level = l.v[i].label;
                rv[i].name = l.v[i].name;
                rv[i].host = l.v[i].host[0] == 'h' ? atoi(l.v[i].host + 1) - 1 : -1;
        }
        qsort(rv, l.n, sizeof *rv, by_level);
        for (size_t i = 1; i < l.n; i++)
                if (!strcmp(rv[i].level, rv[i - 1].level))
                        NOTE(dup, "registry: %s held by %s (%s) and %s (%s)\n", rv[i].level, rv[i - 1].uuid,
                             rv[i - 1].name, rv[i].uuid, rv[i].name);

        /* libvirt across the hosts, by label. */
        qsort(v, n, sizeof *v, by_level);
        for (size_t i = 1; i < n; i++)
                if (v[i].level && v[i - 1].level && !strcmp(v[i].level, v[i - 1].level) &&
                    strcmp(v[i].uuid, v[i - 1].uuid))
                        NOTE(dup, "libvirt: %s held by %s (%s) on h%d and %s (%s) on h%d\n", v[i].level,
                             v[i - 1].uuid, v[i - 1].name, v[i - 1].host + 1, v[i].uuid, v[i].name, v[i].host + 1);

        /* Each guest against its record, by UUID (both sorted, then merged). */
        qsort(v, n, sizeof *v, by_uuid);
        qsort(rv, l.n, sizeof *rv, by_uuid);
        size_t a = 0, b = 0;
        while (a < n || b < l.n) {
                int c = a == n ? 1 : b == l.n ? -1 : strcmp(v[a].uuid, rv[b].uuid);
                if (c < 0) {
                        NOTE(mis, "guest %s (%s) on h%d (%s) has no record\n", v[a].uuid, v[a].name, v[a].host + 1,
                             v[a].level ? v[a].level : "no static label");
                        a++;
                } else if (c > 0) {
                        NOTE(mis, "record %s (%s, %s, host h%d) has no guest\n", rv[b].uuid, rv[b].name, rv[b].level,
                             rv[b].host + 1);
                        b++;
                } else {
                        if (!v[a].level || strcmp(v[a].level, rv[b].level) || v[a].host != rv[b].host)
                                NOTE(mis, "guest %s (%s) on h%d has %s; its record says %s on h%d\n", v[a].uuid,
                                     v[a].name, v[a].host + 1, v[a].level ? v[a].level : "no static label", rv[b].level,
                                     rv[b].host + 1);
                        a++;
                        b++;
                }
        }
        for (size_t i = 0; i < n; i++) {
                free(v[i].level);
                free(v[i].name);
        }
        free(v);
        free(rv);
        mcs_record_list_clear(&l);
        *duplicates = dup;
        *mismatches = mis;
}

/* A figure, named after the run: load_one_host_* for the one-host baseline. */
static void report(const char *prefix, const char *name, double value, const char *unit) {
        char full[96];
        snprintf(full, sizeof full, "%s%s", prefix, name);
        bench_report(full, value, unit);
}

static void connect_host(host *h) {
        if (!(h->cmd = virConnectOpen(h->uri)) || !(h->ev = virConnectOpen(h->uri)))
                BENCH_DIE("connect %s: %s", h->uri, virGetLastErrorMessage());
        if (virConnectDomainEventRegisterAny(h->ev, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                             VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), h, NULL) < 0)
                BENCH_DIE("h%d: events: %s", h->id + 1, virGetLastErrorMessage());
}

int main(int argc, char **argv) {
        if (argc != 3 + 2 * HOSTS_MAX && argc != 3 + 2)
                BENCH_DIE("usage: bench-load MCSD REGISTRY URI1 CONF1 [URI2 CONF2 URI3 CONF3]");
        S.hosts = (argc - 3) / 2;
        int seconds = env_int("MCS_LOAD_SECONDS", 600, 0);
        int peak = env_int("MCS_LOAD_GUESTS", 10000, S.hosts);
        S.window = env_int("MCS_LOAD_WINDOW", 8, 1);
        const char *mcsd = argv[1], *registry = argv[2];
        virSetErrorFunc(NULL, bench_quiet);
        if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
                BENCH_DIE("libvirt: %s", virGetLastErrorMessage());

        atexit(at_exit);
        int nfd = bench_notify_socket("bench-load-notify", 120, notify_file, sizeof notify_file);
        for (int i = 0; i < S.hosts; i++) {
                host *h = &S.h[i];
                h->id = i;
                h->uri = argv[3 + 2 * i];
                h->conf = argv[4 + 2 * i];
                h->want = peak / S.hosts + (i < peak % S.hosts);
                h->mcsd = children[i] = bench_start_mcsd(mcsd, h->conf, notify_file);
        }
        bench_wait_ready(nfd, S.hosts);
        for (int i = 0; i < S.hosts; i++)
                connect_host(&S.h[i]);
        pthread_t loop;
        if (virEventAddTimeout(50, bench_tick, NULL, NULL) < 0 ||
            virEventAddHandle(nfd, VIR_EVENT_HANDLE_READABLE, bench_drain, NULL, NULL) < 0 ||
            pthread_create(&loop, NULL, event_loop, NULL))
                BENCH_DIE("events: %s", virGetLastErrorMessage());

        double t0 = bench_now(), first_wave_s = 0;
        unsigned waves = 0;
        for (;;) {
                size_t from = S.n;
                double w0 = bench_now();
                run_define_phase();
                waves++;
                wave_note(waves, from, w0);
                if (waves == 1) {
                        first_wave_s = bench_now() - t0;
                        for (int i = 0; i < S.hosts; i++)
                                S.h[i].rss_start_kib = rss_kib(S.h[i].mcsd);
                }
                if (bench_now() - t0 >= seconds)
                        break;
                undefine_phase(waves);
        }
        double run_s = bench_now() - t0;

        mcs_registry *r = open_registry(registry);
        int live = 0;
        for (int i = 0; i < S.hosts; i++)
                live += S.h[i].live;
        wait_quiet(r, live);
        int duplicates, mismatches;
        check(r, &duplicates, &mismatches);
        mcs_registry_close(r);
        long rss_start = 0, rss_end = 0;
        for (int i = 0; i < S.hosts; i++) {
                host *h = &S.h[i];
                h->rss_end_kib = rss_kib(h->mcsd);
                fprintf(stderr, "bench-load: h%d mcsd VmRSS %ld kB after the first wave, %ld kB at the end\n",
                        i + 1, h->rss_start_kib, h->rss_end_kib);
                rss_start = h->rss_start_kib > rss_start ? h->rss_start_kib : rss_start;
                rss_end = h->rss_end_kib > rss_end ? h->rss_end_kib : rss_end;
        }

        /* Every guest defined was labelled (the phases waited for it). */
        double *lat = malloc(S.n * sizeof *lat), *def = malloc(S.n * sizeof *def);
        if (!lat || !def)
                BENCH_DIE("out of memory");
        for (size_t i = 0; i < S.n; i++) {
                lat[i] = (S.g[i].labelled_at - S.g[i].defined_at) * 1e3;
                def[i] = S.g[i].define_ms;
        }
        double p50 = bench_median(lat, S.n), p99 = bench_percentile(lat, S.n, 0.99);
        double d50 = bench_median(def, S.n);
        fprintf(stderr, "bench-load: %zu guests defined in %u waves over %.1f s (first wave %.1f s); window %d\n",
                S.n, waves, run_s, first_wave_s, S.window);
        /* The one-host baseline's figures are load_one_host_*; with three
         * hosts, MCS_LOAD_ONE_HOST_RATE (that run's labels/s) gives the ratio. */
        const char *prefix = S.hosts == 1 ? "load_one_host_" : "load_";
        report(prefix, "guests_peak", peak, "guests");
        report(prefix, "guests_defined", (double) S.n, "guests");
        report(prefix, "waves", waves, "waves");
        report(prefix, "labels_per_s", (double) S.n / run_s, "guests/s");
        report(prefix, "duplicates", duplicates, "labels");
        report(prefix, "mismatches", mismatches, "guests");
        report(prefix, "rss_start_kib", (double) rss_start, "KiB");
        report(prefix, "rss_end_kib", (double) rss_end, "KiB");
        report(prefix, "rss_growth_ratio", (double) rss_end / (double) rss_start, "x");
        report(prefix, "define_to_label_ms_p50", p50, "ms");
        report(prefix, "define_to_label_ms_p99", p99, "ms");
        report(prefix, "define_ms_p50", d50, "ms");
        report(prefix, "define_to_label_vs_define_ratio", p50 / d50, "x");
        const char *one = getenv("MCS_LOAD_ONE_HOST_RATE");
        if (S.hosts > 1 && one && atof(one) > 0)
                bench_report("load_vs_one_host_ratio", (double) S.n / run_s / atof(one), "x");
        free(lat);
        free(def);

        int failed = 0;
        for (int i = 0; i < S.hosts; i++) {
                int st;
                kill(S.h[i].mcsd, SIGTERM);
                waitpid(S.h[i].mcsd, &st, 0);
                children[i] = 0;
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                        fprintf(stderr, "bench-load: mcsd h%d did not exit cleanly after SIGTERM\n", i + 1);
                        failed = 1;
                }
        }
        atomic_store(&S.stop_loop, true);
        pthread_join(loop, NULL);
        for (int i = 0; i < S.hosts; i++) {
                virConnectClose(S.h[i].ev);
                virConnectClose(S.h[i].cmd);
        }
        free(S.g);
        return failed || duplicates || mismatches ? 1 : 0;
}
