/* The daemon's state, shared by its parts: the connection (connection.c),
 * the guests it follows (guests.c) and the main loop (main.c). */
#pragma once

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>

#include "mcs-config.h"
#include "mcs-domain-label.h"
#include "mcs-guest-rules.h"
#include "mcs-registry.h"

typedef struct guest_entry {
        char uuid[MCS_UUID_STRLEN + 1];
        char *name;
        mcs_guest_status status;
        char *why;
} guest_entry;

/* A guest that went away; its reservation is released at `due` unless it
 * comes back first. */
typedef struct pending_release {
        char uuid[MCS_UUID_STRLEN + 1];
        int64_t due_ms;
} pending_release;

typedef struct mcsd {
        const char *config_path;
        mcs_config cfg;
        char host_id[MCS_HOST_MAX + 1];
        mcs_domain_types types;
        mcs_registry *reg;

        virConnectPtr conn;
        int lifecycle_cb;         /* -1: none */
        int reconnect_timer;      /* -1: none */
        unsigned backoff_ms;      /* next reconnect delay */
        bool connected_once;
        bool selinux_host;        /* the libvirt host confines guests with SELinux */

        guest_entry *guests;
        size_t n_guests;
        pending_release *pending;
        size_t n_pending;
        int pending_timer;        /* -1: none */
        int retry_timer;          /* reconcile again after an error; -1: none */

        char last_status[512];    /* empty until READY=1 went out */
        bool quit;
} mcsd;

/* connection.c */
void conn_start(mcsd *d);                /* connect now, or schedule a retry */
void conn_stop(mcsd *d);                 /* deregister and close */
void conn_apply_keepalive(mcsd *d);

/* guests.c */
void guests_reconcile(mcsd *d);
int guests_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque);
void guests_clear(mcsd *d);
void guests_schedule_retry(mcsd *d);

/* main.c */
void mcsd_update_status(mcsd *d);
int64_t mcsd_now_ms(void);
