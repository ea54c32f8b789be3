/* mcsd: gives every libvirt guest a cluster-unique SELinux MCS label.
 * Reads the config, opens the registry, follows one libvirt connection and
 * runs libvirt's default event loop until SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "copy-registry.h"
#include "heartbeat.h"
#include "log.h"
#include "mcs-policy.h"
#include "mcsd.h"

#define MACHINE_ID "/etc/machine-id"

int64_t mcsd_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends READY=1 the first time, then STATUS= whenever its text changes
 * (not on every event: PID 1 handles each message). */
void mcsd_update_status(mcsd *d) {
        size_t count[MCS_GUEST_STATUSES];
        char status[sizeof d->last_status];
        guests_count(d, count);
        snprintf(status, sizeof status,
                 "%s %s; %s; %zu guests: %zu managed, %zu unmanaged, %zu refused, %zu failed, %zu waiting for a label, "
                 "%zu in collision",
                 d->conn ? "connected to" : "waiting for", d->cfg.uri, guests_policy_text(d), d->n_guests,
                 count[MCS_GUEST_MANAGED], count[MCS_GUEST_UNMANAGED], count[MCS_GUEST_REFUSED], count[MCS_GUEST_FAILED],
                 count[MCS_GUEST_WAITING], count[MCS_GUEST_COLLISION]);
        /* Every journal entry carries the count; a change is one line. */
        if (log_set_guests_waiting((long) count[MCS_GUEST_WAITING]))
                log_msg(count[MCS_GUEST_WAITING] ? MCS_LOG_WARNING : MCS_LOG_INFO, "%zu %s for a label",
                        count[MCS_GUEST_WAITING], count[MCS_GUEST_WAITING] == 1 ? "guest waits" : "guests wait");
        bool first = !d->last_status[0];
        if (!first && !strcmp(status, d->last_status))
                return;
        sd_notifyf(0, "%sSTATUS=%s", first ? "READY=1\n" : "", status);
        strcpy(d->last_status, status);
}

/* libvirt prints every error to stderr by default; mcsd reports them itself. */
static void quiet_libvirt(void *opaque, virErrorPtr err) {
        (void) opaque;
        (void) err;
}

int mcsd_open_registry(const mcs_config *cfg, const char *host_id, mcs_registry **out, mcs_catset *pool, mcs_err *e) {
        mcs_range allowed;
        mcs_registry_config rc = {.host_id = host_id, .busy_timeout_ms = cfg->busy_timeout_ms, .allowed = &allowed,
                                  .create = cfg->registry_create};
        char note[MCS_RANGE_STRMAX + 256];
        /* One read of the policy gives both: the labels a guest can run with
         * (every reservation is checked against them) and the default pool. */
        mcs_policy_default_range(NULL, &allowed, note, sizeof note);
        log_msg(MCS_LOG_DEBUG, "%s", note);
        /* Reading the policy took ~12 MiB of heap, freed now: give it back. */
        malloc_trim(0);
        if (cfg->has_range)
                rc.pool = cfg->range;
        else if (mcs_catset_count(&allowed.high.cats) >= 2) {
                rc.pool = allowed.high.cats; /* as mcs_policy_default_pool takes it */
                log_msg(MCS_LOG_INFO, "category range: %s", note);
        } else {
                mcs_catset_add_range(&rc.pool, 0, MCS_NCATS - 1);
                log_msg(MCS_LOG_INFO, "category range: c0.c%u: system_u's range has fewer than two categories (%s)",
                        MCS_NCATS - 1, note);
        }
        *pool = rc.pool;
        return mcs_registry_open(cfg->registry, &rc, out, e);
}

/* Everything derived from a config: host id, label types, registry. */
typedef struct derived {
        char host_id[MCS_HOST_MAX + 1];
        mcs_domain_types types;
        mcs_registry *reg;
        mcs_catset pool;
} derived;

static int derive(const mcs_config *cfg, derived *out, mcs_err *e) {
        int r;
        if ((r = mcs_config_host_id(cfg, MACHINE_ID, out->host_id, sizeof out->host_id, e)) < 0 ||
            (r = mcs_domain_types_load(cfg->domain_context_file, &out->types, e)) < 0 ||
            (r = mcsd_open_registry(cfg, out->host_id, &out->reg, &out->pool, e)) < 0)
                return r;
        return 0;
}

static bool same_str(const char *a, const char *b) {
        return (!a && !b) || (a && b && !strcmp(a, b));
}

static void reload(mcsd *d) {
        mcs_config n;
        derived x = {0};
        mcs_err e = {0};

        mcs_config_init(&n);
        if (mcs_config_load(&n, d->config_path, true, &e) < 0) {
                log_msg(MCS_LOG_ERROR, "reload refused, keeping the running config: %s", e.msg);
                mcs_config_clear(&n);
                return;
        }
        bool reopen = !same_str(n.registry, d->cfg.registry) || n.registry_create != d->cfg.registry_create ||
                      !same_str(n.host_id, d->cfg.host_id) ||
                      n.has_range != d->cfg.has_range || !mcs_catset_equal(&n.range, &d->cfg.range) ||
                      !same_str(n.domain_context_file, d->cfg.domain_context_file) ||
                      n.busy_timeout_ms != d->cfg.busy_timeout_ms;
        bool reconnect = strcmp(n.uri, d->cfg.uri) != 0;
        if (reopen && derive(&n, &x, &e) < 0) {
                log_msg(MCS_LOG_ERROR, "reload refused, keeping the running config: %s", e.msg);
                mcs_config_clear(&n);
                return;
        }
        hook_server_pause(d);
        /* A reload reads the policy again when images are next labelled. */
        mcs_images_free(d->images);
        d->images = NULL;
        if (reopen) {
                mcs_registry_close(d->reg);
                d->reg = x.reg;
                d->registry_breaks = 0;
                d->types = x.types;
                d->pool = x.pool;
                strcpy(d->host_id, x.host_id);
        }
        if (!same_str(n.socket, d->cfg.socket) || !same_str(n.socket_group, d->cfg.socket_group) ||
            n.socket_mode != d->cfg.socket_mode)
                log_msg(MCS_LOG_WARNING, "socket, socket_group and socket_mode take effect at the next start");
        mcs_config_clear(&d->cfg);
        d->cfg = n;
        log_set_level(d->cfg.log_level);
        control_resolve_admin(d);
        hook_server_resume(d);
        log_msg(MCS_LOG_INFO, "reloaded %s%s%s", d->config_path, reopen ? "; registry reopened" : "",
                reconnect ? "; reconnecting" : "");
        if (reconnect || !d->conn) {
                d->backoff_ms = d->cfg.reconnect_min_ms;
                conn_start(d);
        } else {
                conn_apply_keepalive(d);
                guests_reconcile(d);
        }
}

static void on_signal(int watch, int fd, int events, void *opaque) {
        mcsd *d = opaque;
        struct signalfd_siginfo si;
        (void) watch;
        (void) events;
        while (read(fd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGHUP) {
                        log_msg(MCS_LOG_INFO, "SIGHUP: reloading %s", d->config_path);
                        sd_notify(0, "RELOADING=1");
                        reload(d);
                        sd_notify(0, "READY=1");
                } else {
                        log_msg(MCS_LOG_INFO, "%s: stopping", strsignal((int) si.ssi_signo));
                        d->quit = true;
                }
        }
}

/* The timer runs in the main loop, so a ping shows that the loop goes
 * round (file work runs on jobs' threads; a registry wait lasts less than
 * hook_timeout). It is held back while the hook thread has been inside one
 * request for longer than half the watchdog interval: systemd then
 * restarts mcsd when the interval passes without a ping. */
static void on_watchdog(int timer, void *opaque) {
        mcsd *d = opaque;
        (void) timer;
        if (hook_server_stuck(d, d->watchdog_ms / 2)) {
                if (!d->watchdog_held)
                        log_msg(MCS_LOG_WARNING,
                                "the hook thread has been in one request for over %lld ms; watchdog pings held back",
                                (long long) d->watchdog_ms / 2);
                d->watchdog_held = true;
                return;
        }
        if (d->watchdog_held)
                log_msg(MCS_LOG_INFO, "the hook thread is answering again; watchdog pings resume");
        d->watchdog_held = false;
        sd_notify(0, "WATCHDOG=1");
}

/* mcsd --init-registry: makes the configured registry if its location
 * holds none, says which it was, and exits. The daemon itself creates one
 * only with registry_create = yes: an unmounted shared path must not
 * silently become a registry of this host alone. */
static int init_registry(mcs_config *cfg) {
        char host_id[MCS_HOST_MAX + 1];
        const char *where = cfg->registry ? cfg->registry : mcs_registry_default_location();
        mcs_registry *reg = NULL;
        mcs_catset pool;
        mcs_err e = {0};
        bool created = false;
        int r = mcs_config_host_id(cfg, MACHINE_ID, host_id, sizeof host_id, &e);
        if (r == 0) {
                cfg->registry_create = false;
                r = mcsd_open_registry(cfg, host_id, &reg, &pool, &e);
        }
        if (r == -(int) MCS_E_NOTFOUND) {
                cfg->registry_create = created = true;
                r = mcsd_open_registry(cfg, host_id, &reg, &pool, &e);
        }
        mcs_registry_close(reg);
        if (r < 0) {
                fprintf(stderr, "mcsd: %s\n", e.msg);
                return 1;
        }
        printf("%s: %s\n", where, created ? "created a new, empty registry" : "already a registry; left as it is");
        return 0;
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: mcsd [--config PATH] [--check-config]\n"
                "       mcsd [--config PATH] --copy-registry FROM TO\n"
                "       mcsd [--config PATH] --init-registry\n"
                "Gives every libvirt guest a cluster-unique SELinux MCS label.\n\n"
                "  -c, --config PATH   configuration file (default " MCS_DEFAULT_CONFIG ")\n"
                "      --check-config  read the configuration, report problems and exit\n"
                "      --copy-registry FROM TO\n"
                "                      copy the registry FROM into the new registry TO, verify\n"
                "                      and exit (no mcsd may use either)\n"
                "      --init-registry create the configured registry if it does not exist\n"
                "                      yet, and exit\n"
                "  -h, --help          show this help\n"
                "      --version       show the version\n");
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},
                {"check-config", no_argument, NULL, 'C'},
                {"copy-registry", no_argument, NULL, 'R'},
                {"init-registry", no_argument, NULL, 'I'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {0},
        };
        mcsd d = {.config_path = MCS_DEFAULT_CONFIG, .lifecycle_cb = -1, .reconnect_timer = -1,
                  .pending_timer = -1, .redefine_timer = -1, .retry_timer = -1, .wait_timer = -1, .listen_fd = -1, .listen_watch = -1,
                  .sweep_timer = -1, .passed_control_fd = -1, .passed_hook_fd = -1, .hook_policy = -1,
                  .jobs_pipe = {-1, -1}, .jobs_watch = -1};
        bool config_given = false, check_only = false, copy = false, init = false;
        derived x = {0};
        mcs_err e = {0};
        int c;

        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        d.config_path = optarg;
                        config_given = true;
                        break;
                case 'C':
                        check_only = true;
                        break;
                case 'R':
                        copy = true;
                        break;
                case 'I':
                        init = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("mcsd %s\n", MCSD_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (init && (copy || check_only)) {
                fprintf(stderr, "mcsd: --init-registry goes alone (no --copy-registry or --check-config)\n");
                usage(stderr);
                return 2;
        }
        if (copy) {
                if (check_only || argc - optind != 2) {
                        fprintf(stderr, "mcsd: --copy-registry takes a source and a destination registry%s\n",
                                check_only ? ", and no --check-config" : "");
                        usage(stderr);
                        return 2;
                }
                return mcsd_copy_registry(d.config_path, config_given, MACHINE_ID, argv[optind], argv[optind + 1]);
        }
        if (optind < argc) {
                fprintf(stderr, "mcsd: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return 2;
        }

        mcs_config_init(&d.cfg);
        /* The default file may be missing (all defaults); a named one may not. */
        if (mcs_config_load(&d.cfg, d.config_path, !config_given, &e) < 0) {
                fprintf(stderr, "mcsd: %s\n", e.msg);
                return 1;
        }
        if (mcs_registry_check_location(d.cfg.registry, &e) < 0) {
                fprintf(stderr, "mcsd: %s: %s\n", d.config_path, e.msg);
                mcs_config_clear(&d.cfg);
                return 1;
        }
        log_setup(d.cfg.log_level);
        if (init) {
                int rc = init_registry(&d.cfg);
                mcs_config_clear(&d.cfg);
                return rc;
        }
        if (check_only) {
                mcs_config_clear(&d.cfg);
                printf("%s: ok\n", d.config_path);
                return 0;
        }
        if (derive(&d.cfg, &x, &e) < 0) {
                log_msg(MCS_LOG_ERROR, "%s", e.msg);
                mcs_config_clear(&d.cfg);
                return 1;
        }
        d.reg = x.reg;
        d.types = x.types;
        d.pool = x.pool;
        strcpy(d.host_id, x.host_id);
        log_msg(MCS_LOG_INFO, "host %s, registry %s (%s)", d.host_id,
                d.cfg.registry ? d.cfg.registry : mcs_registry_default_location(), mcs_registry_backend_name(d.reg));

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

        mcs_domain_xml_init(); /* before the hook thread and a reconcile's readers parse XML */
        virSetErrorFunc(NULL, quiet_libvirt);
        if (sfd < 0 || virEventRegisterDefaultImpl() < 0 ||
            virEventAddHandle(sfd, VIR_EVENT_HANDLE_READABLE, on_signal, &d, NULL) < 0) {
                log_msg(MCS_LOG_ERROR, "cannot set up the event loop: %s", sfd < 0 ? strerror(errno) : virGetLastErrorMessage());
                return 1;
        }
        if (listen_take_systemd(&d, mcs_config_hook_socket(&d.cfg), &e) < 0 || jobs_start(&d, &e) < 0 ||
            write_group_start(&d, &e) < 0 || hook_server_start(&d, &e) < 0 || control_start(&d, &e) < 0) {
                log_msg(MCS_LOG_ERROR, "%s", e.msg);
                control_stop(&d);
                write_group_stop(&d);
                jobs_stop(&d);
                hook_server_stop(&d);
                mcs_registry_close(d.reg);
                mcs_config_clear(&d.cfg);
                return 1;
        }
        uint64_t wd_usec;
        if (sd_watchdog_enabled(0, &wd_usec) > 0) {
                d.watchdog_ms = (int64_t) (wd_usec / 1000);
                virEventAddTimeout((int) (wd_usec / 2000), on_watchdog, &d, NULL);
        }

        heartbeat_start(&d);
        d.backoff_ms = d.cfg.reconnect_min_ms;
        conn_start(&d);
        while (!d.quit) {
                if (virEventRunDefaultImpl() < 0) {
                        log_msg(MCS_LOG_ERROR, "event loop: %s", virGetLastErrorMessage());
                        break;
                }
        }

        sd_notify(0, "STOPPING=1");
        control_stop(&d);
        write_group_stop(&d); /* after the clients: their writes are forgotten */
        jobs_stop(&d);        /* after the clients: their jobs are forgotten */
        hook_server_stop(&d);
        conn_stop(&d);
        mcs_images_free(d.images);
        guests_clear(&d);
        redefines_clear(&d);
        mcs_registry_close(d.reg);
        mcs_config_clear(&d.cfg);
        close(sfd);
        log_msg(MCS_LOG_INFO, "stopped");
        return 0;
}
