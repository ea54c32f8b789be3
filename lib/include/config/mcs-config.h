/* mcsd's configuration file, /etc/mcsd/mcsd.conf: "key = value" lines,
 * '#' comments. Every key, its meaning and default is in docs/mcsd.conf.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mcs-catset.h"
#include "mcs-error.h"

#define MCS_DEFAULT_CONFIG "/etc/mcsd/mcsd.conf"
#define MCS_DEFAULT_URI "qemu:///system"
#define MCS_CONFIG_MAX_EXCLUDES 64u
#define MCS_CONFIG_MAX_IMAGE_ROOTS 16u
#define MCS_DEFAULT_IMAGE_ROOT "/var/lib/libvirt/images"
#define MCS_DEFAULT_SOCKET "/run/mcsd/mcsd.sock"
#define MCS_DEFAULT_HOOK_SOCKET "/run/mcsd/hook.sock"
#define MCS_MAX_CLIENTS_LIMIT 4096u

typedef enum mcs_log_level {
        MCS_LOG_ERROR,
        MCS_LOG_WARNING,
        MCS_LOG_INFO,
        MCS_LOG_DEBUG,
} mcs_log_level;

typedef struct mcs_config {
        char *uri;                 /* libvirt connection */
        char *registry;            /* registry location; NULL: the built-in default */
        bool registry_create;      /* make a registry where the location holds none (else refuse) */
        char *host_id;             /* NULL: read /etc/machine-id */
        char *excludes[MCS_CONFIG_MAX_EXCLUDES]; /* fnmatch(3) patterns of guest names */
        size_t n_excludes;
        bool has_range;            /* false: system_u's range from the policy */
        mcs_catset range;
        char *domain_context_file; /* NULL: selinux_virtual_domain_context_path() */
        unsigned undefine_grace_ms;
        unsigned reconnect_min_ms, reconnect_max_ms;
        unsigned keepalive_interval_s, keepalive_count;
        unsigned busy_timeout_ms;
        mcs_log_level log_level;
        /* The control socket (read at start only). */
        char *socket;              /* NULL: MCS_DEFAULT_SOCKET */
        unsigned socket_mode;      /* permission bits of a socket mcsd creates */
        char *socket_group;        /* group owning that socket; NULL: root's */
        char *admin_group;         /* members may change reservations; NULL: only uid 0 */
        unsigned max_clients;
        unsigned client_timeout_ms; /* idle limit per client */
        /* The libvirt hook (mcsctl hook reads these too). */
        char *hook_socket;         /* NULL: MCS_DEFAULT_HOOK_SOCKET; root only */
        unsigned hook_timeout_ms;  /* how long the hook waits for mcsd */
        bool hook_fail_open;       /* allow starts when mcsd does not answer */
        /* Directories whose files mcsd may label (none: MCS_DEFAULT_IMAGE_ROOT). */
        char *image_roots[MCS_CONFIG_MAX_IMAGE_ROOTS];
        size_t n_image_roots;
        /* Image roots (or directories inside one) on storage every host
         * shares: another host may restore original labels there. */
        char *shared_roots[MCS_CONFIG_MAX_IMAGE_ROOTS];
        size_t n_shared_roots;
        char *semanage_root;       /* an alternate root for libsemanage (tests); NULL: the system's */
        char *metrics_textfile_dir; /* node_exporter's textfile directory mcsd writes mcsd.prom into; NULL: none */
        /* A host whose libvirt has no SELinux security driver: mcsd never
         * writes a label there; with this set it still reserves pairs in the
         * registry (without_selinux = reserve; default skip). */
        bool reserve_without_selinux;
} mcs_config;

/* Defaults for every key. */
void mcs_config_init(mcs_config *c);
void mcs_config_clear(mcs_config *c);
/* dst (uninitialised) becomes a copy of src owning its own strings, for a
 * thread that must not share the daemon's config. */
int mcs_config_copy(mcs_config *dst, const mcs_config *src, mcs_err *e);

/* Reads path over the defaults already in c. A missing file is not an error
 * when missing_ok. Errors say "PATH:LINE: reason". On failure c is unchanged. */
int mcs_config_load(mcs_config *c, const char *path, bool missing_ok, mcs_err *e);

/* Parses text as if it were the file named path (for tests and reloads). */
int mcs_config_parse(mcs_config *c, const char *path, const char *text, mcs_err *e);

/* True when name matches one of the exclude patterns. */
bool mcs_config_excludes(const mcs_config *c, const char *name);

/* The host id: c->host_id, else the first line of machine_id_path
 * (normally /etc/machine-id). */
int mcs_config_host_id(const mcs_config *c, const char *machine_id_path, char *out, size_t len, mcs_err *e);

/* The hook socket in force: the configured one, else MCS_DEFAULT_HOOK_SOCKET. */
const char *mcs_config_hook_socket(const mcs_config *c);

/* The image roots in force: the configured ones, else MCS_DEFAULT_IMAGE_ROOT. */
const char *const *mcs_config_image_roots(const mcs_config *c, size_t *n);

/* The shared roots (none unless configured). */
const char *const *mcs_config_shared_roots(const mcs_config *c, size_t *n);

const char *mcs_log_level_name(mcs_log_level l);
