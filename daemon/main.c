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

#include "connection.h"
#include "control.h"
#include "copy-registry.h"
#include "heartbeat.h"
#include "jobs.h"
#include "log.h"
#include "mcs-macro.h"
#include "mcs-policy.h"
#include "mcsd.h"
#include "metrics-render.h"

#define MACHINE_ID "/etc/machine-id"

/* libvirt prints every error to stderr by default; mcsd reports them itself. */
static void quiet_libvirt(void *opaque, virErrorPtr err) {
        (void) opaque;
        (void) err;
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
        /* A reload reads the policy again when images are next labelled. */
        mcs_images_free(d->images);
        d->images = NULL;
        if (reopen) {
                mcs_registry_close(d->reg);
                d->reg = x.reg;
                heartbeat_registry_reopened(d->heartbeat);
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
        control_resolve_admin(d->control);
        hook_server_reload(d);
        log_msg(MCS_LOG_INFO, "reloaded %s%s%s", d->config_path, reopen ? "; registry reopened" : "",
                reconnect ? "; reconnecting" : "");
        if (reconnect || !d->conn) {
                connection_reconnect(d->connection);
        } else {
                connection_apply_keepalive(d->connection);
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

typedef enum run_mode { RUN_DAEMON, RUN_CHECK_CONFIG, RUN_COPY_REGISTRY, RUN_INIT_REGISTRY } run_mode;

typedef struct options {
        const char *config_path;
        bool config_given;
        run_mode mode;
        const char *copy_from, *copy_to;
} options;

/* Returns -1 to go on, else the exit status (help, version, a usage error). */
static int parse_options(int argc, char **argv, options *o) {
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},
                {"check-config", no_argument, NULL, 'C'},
                {"copy-registry", no_argument, NULL, 'R'},
                {"init-registry", no_argument, NULL, 'I'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {0},
        };
        bool check_only = false, copy = false, init = false;
        int c;
        *o = (options){.config_path = MCS_DEFAULT_CONFIG};
        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        o->config_path = optarg;
                        o->config_given = true;
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
        const char *wrong = NULL;
        if (init && (copy || check_only))
                wrong = "--init-registry goes alone (no --copy-registry or --check-config)";
        else if (copy && (check_only || argc - optind != 2))
                wrong = check_only ? "--copy-registry takes a source and a destination registry, and no --check-config"
                                   : "--copy-registry takes a source and a destination registry";
        if (wrong) {
                fprintf(stderr, "mcsd: %s\n", wrong);
                usage(stderr);
                return 2;
        }
        if (copy) {
                o->mode = RUN_COPY_REGISTRY;
                o->copy_from = argv[optind];
                o->copy_to = argv[optind + 1];
                return -1;
        }
        if (optind < argc) {
                fprintf(stderr, "mcsd: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return 2;
        }
        o->mode = init ? RUN_INIT_REGISTRY : check_only ? RUN_CHECK_CONFIG : RUN_DAEMON;
        return -1;
}

/* The config, checked; the default file may be missing (all defaults), a
 * named one may not. */
static int load_config(mcsd *d, const options *o) {
        mcs_err e = {0};
        mcs_config_init(&d->cfg);
        if (mcs_config_load(&d->cfg, o->config_path, !o->config_given, &e) < 0) {
                fprintf(stderr, "mcsd: %s\n", e.msg);
                return -1;
        }
        if (mcs_registry_check_location(d->cfg.registry, &e) < 0) {
                fprintf(stderr, "mcsd: %s: %s\n", o->config_path, e.msg);
                return -1;
        }
        log_setup(d->cfg.log_level);
        return 0;
}

/* The daemon's parts, started in this order and stopped in the reverse:
 * the control socket's clients go first, so their queued writes and jobs
 * are forgotten, not answered. */
static int start_listening(mcsd *d, mcs_err *e) {
        int control_fd;
        int r = listen_take_systemd(mcs_config_hook_socket(&d->cfg), &control_fd, &d->passed_hook_fd, e);
        return r < 0 ? r : control_new(&d->control, d, control_fd, e);
}
static void stop_nothing(mcsd *d) {
        (void) d;
}
static const struct part {
        int (*start)(mcsd *d, mcs_err *e);
        void (*stop)(mcsd *d);
} parts[] = {
        {start_listening, stop_nothing},     {jobs_start, jobs_stop},       {write_group_start, write_group_stop},
        {hook_server_start, hook_server_stop}, {control_start, control_stop},
};

/* d->conn is the connection's to set: the rest of the daemon reads it. */
static void publish_conn(mcsd *d, virConnectPtr conn) {
        d->conn = conn;
}

/* The registry, signals, the event loop, the parts, the watchdog and the
 * first connection. Whatever it set up, stop() takes down. */
static int start(mcsd *d) {
        derived x = {0};
        mcs_err e = {0};
        if (guests_init(d, &e) < 0 || metrics_new(&d->metrics, &e) < 0 || derive(&d->cfg, &x, &e) < 0) {
                log_msg(MCS_LOG_ERROR, "%s", e.msg);
                return -1;
        }
        d->reg = x.reg;
        d->types = x.types;
        d->pool = x.pool;
        strcpy(d->host_id, x.host_id);
        log_msg(MCS_LOG_INFO, "host %s, registry %s (%s)", d->host_id,
                d->cfg.registry ? d->cfg.registry : mcs_registry_default_location(), mcs_registry_backend_name(d->reg));

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        d->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        mcs_domain_xml_init(); /* before the hook thread and a reconcile's readers parse XML */
        virSetErrorFunc(NULL, quiet_libvirt);
        if (d->signal_fd < 0 || virEventRegisterDefaultImpl() < 0 ||
            virEventAddHandle(d->signal_fd, VIR_EVENT_HANDLE_READABLE, on_signal, d, NULL) < 0) {
                log_msg(MCS_LOG_ERROR, "cannot set up the event loop: %s",
                        d->signal_fd < 0 ? strerror(errno) : virGetLastErrorMessage());
                return -1;
        }
        for (size_t i = 0; i < MCS_ARRAY_SIZE(parts); i++)
                if (parts[i].start(d, &e) < 0) {
                        log_msg(MCS_LOG_ERROR, "%s", e.msg);
                        return -1;
                }
        uint64_t wd_usec;
        if (sd_watchdog_enabled(0, &wd_usec) > 0) {
                d->watchdog_ms = (int64_t) (wd_usec / 1000);
                virEventAddTimeout((int) (wd_usec / 2000), on_watchdog, d, NULL);
        }
        d->events = (guest_events){.reconcile = guests_reconcile, .lifecycle = guests_on_lifecycle,
                                   .retry = guests_schedule_retry, .label_freed = guests_label_freed};
        if (heartbeat_start(d, &e) < 0) {
                log_msg(MCS_LOG_ERROR, "%s", e.msg);
                return -1;
        }
        metrics_file_start(d);
        if (connection_start(d, publish_conn, &e) < 0) {
                log_msg(MCS_LOG_ERROR, "%s", e.msg);
                return -1;
        }
        return 0;
}

static int run(mcsd *d) {
        while (!d->quit)
                if (virEventRunDefaultImpl() < 0) {
                        log_msg(MCS_LOG_ERROR, "event loop: %s", virGetLastErrorMessage());
                        break;
                }
        sd_notify(0, "STOPPING=1");
        return 0;
}

/* Once, whatever start() got to: every part tolerates not having started. */
static void stop(mcsd *d) {
        for (size_t i = MCS_ARRAY_SIZE(parts); i-- > 0;)
                parts[i].stop(d);
        heartbeat_stop(d);
        connection_stop(d);
        mcs_images_free(d->images);
        guests_clear(d);
        mcs_registry_close(d->reg);
        mcs_config_clear(&d->cfg);
        metrics_free(d->metrics);
        if (d->signal_fd >= 0)
                close(d->signal_fd);
}

int main(int argc, char **argv) {
        options o;
        int rc = parse_options(argc, argv, &o);
        if (rc >= 0)
                return rc;
        if (o.mode == RUN_COPY_REGISTRY)
                return mcsd_copy_registry(o.config_path, o.config_given, MACHINE_ID, o.copy_from, o.copy_to);

        mcsd d = {.config_path = o.config_path, .passed_hook_fd = -1, .hook_policy = -1, .signal_fd = -1};
        if (load_config(&d, &o) < 0)
                rc = 1;
        else if (o.mode == RUN_INIT_REGISTRY)
                rc = init_registry(&d.cfg);
        else if (o.mode == RUN_CHECK_CONFIG) {
                printf("%s: ok\n", d.config_path);
                rc = 0;
        } else {
                rc = start(&d) < 0 ? 1 : run(&d);
                stop(&d);
                if (rc == 0)
                        log_msg(MCS_LOG_INFO, "stopped");
                return rc;
        }
        mcs_config_clear(&d.cfg);
        return rc;
}
