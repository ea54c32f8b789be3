/* The control socket's methods, and what they share: the request, the
 * error they may return, JSON helpers and guest lookup. */
#pragma once

#include <json-c/json.h>

#include "mcs-protocol.h"
#include "mcs-message-ids.h"
#include "mcsd.h"

typedef struct request {
        mcsd *d;
        const control_peer *peer;
        const char *method;
        json_object *params; /* an object, maybe empty */
        json_object *id;     /* the request's id, or NULL */
        control_client *origin; /* the control client asking; NULL: none that can wait */
        const client_port *port; /* how a part answering later reaches origin */
} request;

typedef struct reply_err {
        const char *code; /* MCS_PERR_* or mcs_code_name() */
        char msg[MCS_ERR_MSG_MAX];
        bool fault;       /* the registry's storage failed (fail_mcs of mcs_registry_fault_code) */
        mcs_code mcs;     /* fail_mcs: the error's code; 0 otherwise */
} reply_err;

/* The envelope checks shared by both sockets: a JSON object, or err. */
int control_parse_request(const char *line, size_t len, json_object **out, reply_err *err);
/* Checks id (a string or an integer json-c holds exactly; *id is NULL when
 * absent or refused), version, method (a string) and that no other fields
 * but params are present. */
int control_check_envelope(json_object *req, json_object **id, const char **method, reply_err *err);
/* What control_dispatch returns for a request answered later (a job, the
 * write group, through the client_port). */
extern char reply_deferred[];
/* A reply line carrying result (consumed) or, when result is NULL, err. */
char *control_reply(json_object *id, json_object *result, const reply_err *err);

/* Each returns 0 with *result set, or -1 with err filled in. */
typedef int (*method_fn)(request *rq, json_object **result, reply_err *err);

int fail(reply_err *err, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int fail_mcs(reply_err *err, const mcs_err *e);

/* Parameters: absent ones leave *out alone; a wrong type is an error. */
int param_string(request *rq, const char *key, const char **out, reply_err *err);
int param_bool(request *rq, const char *key, bool *out, reply_err *err);
int param_required(request *rq, const char *key, const char **out, reply_err *err);

json_object *json_str(const char *s); /* NULL s: JSON null */
json_object *record_json(const mcs_record *rec);

/* A managed guest a reconcile could not verify: "unverified_since" (an
 * ISO 8601 time) and "unverified_why" added to o; nothing otherwise. */
void guest_unverified_json(const guest_entry *g, json_object *o);

/* Logs a change with the peer who asked for it. */
void log_change(request *rq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for an event kind with a MESSAGE_ID (mcs-message-ids.h) about
 * the guest of rec (its name, UUID and label go to the journal fields). */
void log_change_event(request *rq, const char *id, const mcs_record *rec, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* A guest named by UUID or by name: on this host first, then in the registry. */
typedef struct resolved {
        char uuid[MCS_UUID_STRLEN + 1];
        char name[MCS_NAME_MAX + 1]; /* "" when only the UUID is known */
        virDomainPtr dom;            /* defined on this host, else NULL */
        bool known;                  /* this host or the registry knows it */
} resolved;

/* A UUID nobody knows resolves with known false; an unknown name fails. */
int resolve_guest(request *rq, const char *guest, resolved *out, reply_err *err);
/* The same for a method whose write reads the guest's record itself (in
 * its batch): a UUID is looked up on this host only, so known and name
 * say nothing of the registry. */
int resolve_guest_for_write(request *rq, const char *guest, resolved *out, reply_err *err);
void resolved_clear(resolved *r);
int need_libvirt(request *rq, reply_err *err);

/* images.c: labels the guest's images for level; *out gets one entry per file. */
int images_relabel(mcsd *d, virDomainPtr dom, const char *level, json_object **out, mcs_err *e);

/* methods-registry.c */
int method_status(request *rq, json_object **result, reply_err *err);
int method_list(request *rq, json_object **result, reply_err *err);
int method_show(request *rq, json_object **result, reply_err *err);
int method_reserve(request *rq, json_object **result, reply_err *err);
int method_release(request *rq, json_object **result, reply_err *err);

/* methods-history.c */
int method_history(request *rq, json_object **result, reply_err *err);

/* methods-host.c */
int method_relabel(request *rq, json_object **result, reply_err *err);
int method_check(request *rq, json_object **result, reply_err *err);
int method_import(request *rq, json_object **result, reply_err *err);
int method_gc(request *rq, json_object **result, reply_err *err);

/* jobs.c: runs fn(arg) on a thread of its own (free_arg(arg) after);
 * its result or error becomes the reply to rq's client. semanage: one
 * such job at a time. Returns 1 (the method's reply comes later) or -1. */
typedef int (*job_fn)(void *arg, json_object **result, reply_err *err);
int job_start(request *rq, job_fn fn, void *arg, void (*free_arg)(void *), bool semanage, reply_err *err);

/* write-group.c: a method that changes reservations checks and resolves
 * its request, then queues its write. The writes queued while the main
 * loop was busy run on its next turn in one registry batch, and each
 * method finishes (acts on its write, builds its result) only once that
 * batch is durable. */
typedef struct group_write_ops {
        /* The registry write alone: 0, or -1 with err. */
        int (*write)(request *rq, void *state, reply_err *err);
        /* After the commit, for a write that succeeded: what follows from it. */
        int (*finish)(request *rq, void *state, json_object **result, reply_err *err);
        void (*free)(void *state);
} group_write_ops;
/* Takes state over. Returns 1: the reply comes later; or, for a request
 * without a client that can wait, runs it at once: 0 with *result, or -1. */
int group_write(request *rq, const group_write_ops *ops, void *state, json_object **result, reply_err *err);
typedef struct write_group_stats {
        uint64_t writes, commits, largest; /* writes acknowledged, the commits they took, the most in one */
} write_group_stats;
void write_group_stats_get(const mcsd *d, write_group_stats *out);

/* methods-metrics.c */
int method_metrics(request *rq, json_object **result, reply_err *err);

/* methods-files.c */
int method_relabel_tree(request *rq, json_object **result, reply_err *err);
int method_nfs_export(request *rq, json_object **result, reply_err *err);
