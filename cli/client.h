/* mcsctl's side of the control socket: one request, one reply. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

/* mcsctl's exit codes (docs/mcsctl.md). */
enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,      /* mcsd answered with an error */
        EXIT_USAGE = 2,
        EXIT_UNREACHABLE = 3, /* no mcsd answers on the socket: not one byte of a reply came */
        EXIT_DENIED = 4,      /* the change is reserved to root and admin_group */
        EXIT_PROBLEMS = 5,    /* check found discrepancies */
        EXIT_NO_REGISTRY = 6, /* check could not read the registry: libvirt's view only */
};

typedef struct client_opts {
        const char *socket;
        int timeout_ms;
        char *why;      /* non-NULL: errors are written here, not to stderr */
        size_t why_len;
        size_t request_max; /* the longest request line, newline included; 0: MCS_REQUEST_MAX */
} client_opts;

/* Sends {"version":1,"method":method,"params":params} (params is consumed)
 * and waits for the reply. Returns EXIT_OK with *result (owned by the
 * caller), or an exit code after printing why to stderr. EXIT_UNREACHABLE
 * means only that no reply began (no connection, or nothing read before it
 * closed or timed out); a reply that began, whatever its shape, is
 * EXIT_FAILED or EXIT_DENIED (mcsctl hook fails open on the first only). */
int client_call(const client_opts *o, const char *method, json_object *params, json_object **result);
