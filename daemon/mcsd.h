/* The daemon's state, shared by its parts: the guests it follows
 * (guests.c, apply.c, guest-table.c, releases.c) and the main loop
 * (main.c). The control socket, the jobs, the heartbeat and the libvirt
 * connection keep their own state behind handles (control.h, jobs.h,
 * heartbeat.h, connection.h). */
#pragma once

#include <libvirt/libvirt.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stdint.h>

#include "mcs-config.h"
#include "mcs-domain-label.h"
#include "mcs-guest-images.h"
#include "mcs-guest-rules.h"
#include "mcs-host-caps.h"
#include "mcs-level.h"
#include "mcs-registry.h"

#include "clock.h"
#include "registry-open.h"

/* guest-table.c's, opaque (guest-table.h). */
typedef struct guest_table guest_table;
typedef struct guest_entry guest_entry;
typedef struct release_queue release_queue; /* releases.c's (releases.h) */
typedef struct redefine_watch redefine_watch; /* redefines.c's (redefines.h) */
typedef struct guest_scheduler guest_scheduler; /* guests.c's */

/* Who is on the other end of a control connection. */
typedef struct control_peer {
        struct ucred cred; /* SO_PEERCRED at connect() */
        bool admin;        /* uid 0 or a member of admin_group: may change reservations */
} control_peer;

typedef struct connection connection;
typedef struct control control;
typedef struct control_client control_client;
typedef struct heartbeat heartbeat;
typedef struct hook_server hook_server;
typedef struct jobs jobs;
typedef struct write_group write_group;
typedef struct mcsd_metrics mcsd_metrics;

/* How a part that answers a control request later (a job, the write group)
 * reaches the client: the control socket hands it over with each request,
 * so those parts hand replies back without calling up into the socket's
 * code. */
typedef struct client_port {
        /* Nothing more is answered to c until answer() hands it the reply
         * (malloc'ed, taken over); forget(waiter) if the client goes first. */
        void (*wait)(control_client *c, void (*forget)(void *waiter), void *waiter);
        void (*answer)(control_client *c, char *reply);
        /* How many clients the socket of c has connected (status). */
        size_t (*connected)(const control_client *c);
} client_port;

/* What the libvirt connection, the heartbeat and the delayed releases tell
 * the guests' scheduler above them; main.c wires it to guests.c. */
typedef struct mcsd mcsd;
typedef struct guest_events {
        void (*reconcile)(mcsd *d); /* look at every guest again */
        int (*lifecycle)(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *d);
        void (*retry)(mcsd *d);       /* something failed: reconcile again soon */
        void (*label_freed)(mcsd *d); /* a label was freed here: waiting guests try again */
} guest_events;

struct mcsd {
        const char *config_path;
        mcs_config cfg;
        char host_id[MCS_HOST_MAX + 1];
        mcs_domain_types types;
        mcs_registry *reg;

        connection *connection;   /* the libvirt connection, its reconnects (connection.h) */
        /* The connection it holds now (NULL: none), published by it through
         * main.c; only read everywhere else. */
        virConnectPtr conn;
        guest_events events;      /* set before the connection starts */
        mcs_secmodels secmodels;  /* the security drivers of the connected libvirt */
        bool secmodels_known;     /* read since mcsd started */
        mcs_label_policy policy;  /* what those drivers let mcsd do, with without_selinux */
        int hook_policy;          /* the same, as handed to the hook thread; -1 until libvirt answered */

        guest_table *guests;      /* guest-table.c's */
        release_queue *releases;  /* releases.c's */
        redefine_watch *redefines; /* redefines.c's */
        guest_scheduler *sched;   /* guests.c's: its retry and wait timers */

        mcs_catset pool;          /* the categories dynamic pairs come from */

        control *control;         /* the control socket and its clients (control.h) */
        int passed_hook_fd;       /* from systemd, -1: none */
        hook_server *hook;
        mcs_images *images;       /* image types and policy checker, loaded on first use */
        jobs *jobs;               /* file work running on threads (jobs.h) */
        write_group *writes;      /* the control socket's writes waiting for a shared commit */
        int64_t watchdog_ms;      /* systemd's WatchdogSec; 0: none */
        bool watchdog_held;       /* pings held back: the hook thread is stuck */
        heartbeat *heartbeat;     /* this host's heartbeat (heartbeat.h) */

        int signal_fd;            /* SIGTERM, SIGINT, SIGHUP; -1: none */
        mcsd_metrics *metrics;    /* counters and histograms (metrics.h); NULL: none counted */
        bool metrics_file_failing; /* the last textfile write failed (logged once) */

        char last_status[512];    /* empty until READY=1 went out */
        bool quit;
};

/* What applying the rules to one guest did, for replies (import, relabel). */
typedef struct guest_report {
        char name[MCS_NAME_MAX + 1];
        char uuid[MCS_UUID_STRLEN + 1];
        mcs_guest_status status;
        char label[MCS_RANGE_STRMAX]; /* managed guests */
        char why[MCS_ERR_MSG_MAX];    /* unmanaged, refused, or the error */
        bool created, adopted, rewritten, failed;
} guest_report;

/* domain.c: reading guests from libvirt */
typedef char uuid_str[VIR_UUID_STRING_BUFLEN];
/* The persistent definition (a transient guest's live one), with its
 * secrets, for a redefinition; and the same without them, parsed. */
char *domain_xml(virDomainPtr dom, bool persistent);
int domain_parse(virDomainPtr dom, bool persistent, mcs_domain *out, mcs_err *e);
/* A running guest's process context from its live XML; NULL when its XML
 * carries none (a host without SELinux) or cannot be read. */
/* The security label a domain XML carries (NULL: none, or it does not parse). */
char *domain_xml_label(const char *xml);
char *domain_live_label(virDomainPtr dom);
/* Whether libvirt has the guest; false when the lookup failed otherwise
 * (not known to be gone). */
bool domain_exists(virConnectPtr conn, const char *uuid, bool *exists);
void domain_list_free(virDomainPtr *doms, int n);
/* The guests' UUIDs sorted, so that each lookup is a bsearch. */
uuid_str *domain_sorted_uuids(virDomainPtr *doms, int n);
bool domain_listed(uuid_str *uuids, int n, const char *uuid);

/* guests.c: the scheduler (events, reconcile, retry and wait timers);
 * apply.h, guest-table.h, releases.h and redefines.h declare the parts
 * below it. */
/* The guests' state (the scheduler's timers, the guest table, the delayed
 * releases, mcsd's own redefinitions), made before anything else starts;
 * guests_clear frees it. */
int guests_init(mcsd *d, mcs_err *e);
void guests_reconcile(mcsd *d);
int guests_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque);
void guests_clear(mcsd *d);
void guests_schedule_retry(mcsd *d);
/* A label was freed here: guests waiting for one try again at once. */
void guests_label_freed(mcsd *d);
/* Applies the rules to one guest (apply_one) and, when it waits for a
 * label, arms the wait timer; rep (may be NULL) gets what happened.
 * Returns 0, 1 when the guest waits for a label (no free pair is left:
 * logged once, and in rep), or -1 (logged, and in rep->why). */
int guests_apply(mcsd *d, virDomainPtr dom, guest_report *rep);


/* write-group.c: group commit of the control socket's writes */
int write_group_start(mcsd *d, mcs_err *e);
void write_group_stop(mcsd *d); /* drops the writes still queued: none was acknowledged */

/* images.c: a guest's images */
/* Puts back the original labels of the images of uuid, which held level. */
void images_restore(mcsd *d, const char *uuid, const char *level);
mcs_images *images_of(mcsd *d); /* NULL only when out of memory */
/* Labels the images of parsed for level; each file goes to report. Returns
 * how many failed, or a negative error (nothing touched). */
int images_label(mcsd *d, const mcs_domain *parsed, const char *level, mcs_image_report report, void *opaque,
                 mcs_err *e);

/* listen.c */
/* The sockets systemd passed: the hook's (matched by hook_path) and one
 * other, the control socket's; -1 for each not passed. */
int listen_take_systemd(const char *hook_path, int *control_fd, int *hook_fd, mcs_err *e);
int listen_unix(const char *path, unsigned mode, const gid_t *group, int *out, mcs_err *e);

/* hook-server.c: the hook socket's thread */
int hook_server_start(mcsd *d, mcs_err *e);
/* True when the thread has been inside one request for over limit_ms. */
bool hook_server_stuck(mcsd *d, int64_t limit_ms);
/* Requests decided, the registry commits they took (those decided at the
 * same moment share one), the most in one. */
void hook_server_stats(mcsd *d, uint64_t *requests, uint64_t *commits, uint64_t *largest);
void hook_server_stop(mcsd *d);
/* After a reload: the thread starts again on a copy of the new config. */
void hook_server_reload(mcsd *d);
/* What the hook thread may do with labels (mcs_label_policy), from now on. */
void hook_server_set_policy(mcsd *d, int policy);

/* methods.c: one request line in, one reply line (malloc'ed, ending in
 * "\n") out; NULL only when out of memory; reply_deferred when a job or
 * the write group answers origin later (through port). */
char *control_dispatch(mcsd *d, const control_peer *peer, control_client *origin, const client_port *port,
                       const char *line, size_t len);
char *control_error_reply(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* status.c: what this host's guests add up to */
/* This host's guests by status, indexed by mcs_guest_status. */
void guests_count(const mcsd *d, size_t count[MCS_GUEST_STATUSES]);
/* This host's guests whose status stands from before the registry failed. */
size_t guests_unverified(const mcsd *d);
/* One line on what mcsd does with labels on this host, for status and logs. */
const char *guests_policy_text(const mcsd *d);
/* Sends systemd READY=1 the first time, then STATUS= when its text changes. */
void mcsd_update_status(mcsd *d);
