/* The control socket's protocol, shared by mcsd and mcsctl; docs/protocol.md
 * describes every method. One JSON object per line each way:
 *   request  {"version": 1, "method": "list", "params": {...}, "id": ...}
 *   reply    {"version": 1, "id": ..., "result": {...}}
 *         or {"version": 1, "id": ..., "error": {"code": "conflict", "message": "..."}} */
#pragma once

#define MCS_PROTOCOL_VERSION 1
#define MCS_REQUEST_MAX 65536u /* bytes of one request line, newline included */
/* The hook socket's limit: its request carries the domain XML (at most
 * 16 MiB, libvirt's limit) as a JSON string, where an escaped byte takes
 * up to 6; mcsd parses the XML and refuses one over 16 MiB itself. */
#define MCS_HOOK_REQUEST_MAX (100u << 20)

/* Error codes of the protocol itself; errors from libmcs use mcs_code_name(). */
#define MCS_PERR_BAD_REQUEST "bad-request"       /* not JSON, not an object, a bad field */
#define MCS_PERR_TOO_LARGE "too-large"           /* a request line over MCS_REQUEST_MAX */
#define MCS_PERR_TRUNCATED "truncated"           /* the client closed mid-request */
#define MCS_PERR_VERSION "unsupported-version"
#define MCS_PERR_METHOD "unknown-method"
#define MCS_PERR_DENIED "permission-denied"      /* a change asked by a peer that may only read */
#define MCS_PERR_TOO_MANY "too-many-clients"
#define MCS_PERR_TIMEOUT "timeout"               /* the client was idle too long */
#define MCS_PERR_UNAVAILABLE "unavailable"       /* mcsd is not connected to libvirt */
#define MCS_PERR_AMBIGUOUS "ambiguous"           /* a guest name that several guests have */
#define MCS_PERR_IN_USE "in-use"                 /* a label a guest runs with or would take back */
