/* The etcd backend's files share this: the handle, the transport (http.c),
 * the JSON and key helpers (json.c, layout.c) and the operations.
 *
 * Everything goes through etcd v3's JSON gateway (POST /v3/...): keys and
 * values base64, 64-bit integers as decimal strings, zero values omitted. */
#pragma once

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdbool.h>

#include "../backend.h"

/* etcd refuses a transaction of more than 128 operations in one list
 * (its --max-txn-ops default). A create puts the record, its label key,
 * its history entry, the feed key and one key per category. */
#define EC_TXN_OPS_MAX 128
#define EC_CATS_MAX (EC_TXN_OPS_MAX - 4)

struct mcs_backend {
        char **endpoints; /* "host:port" */
        size_t n_endpoints;
        size_t current;   /* the endpoint that answered last: tried first */
        bool tls;
        bool create; /* mcs_registry_config.create: put the id key when the prefix has none */
        char *cacert, *cert, *key;
        char *prefix;   /* every key starts with it; ends in '/' */
        char *location; /* "etcd://..." for messages */
        char *host;
        long attempt_ms; /* one request to one endpoint */
        long lease_ttl_s;
        int64_t lease;    /* this host's heartbeat lease, 0: none yet */
        CURL *curl;
        mcs_actor who; /* who asks for the writes that follow (set_actor) */
};
typedef struct mcs_backend ec;

/* ---- url.c ---- */
int ec_parse_location(ec *b, const char *location, mcs_err *e);

/* ---- http.c: one POST to the first endpoint that answers ---- */
/* 0 and *out (the parsed reply, the caller puts it), or an error worded
 * with what. etcd's own errors: -MCS_E_STALE for a compacted revision,
 * -MCS_E_INVALID for a refused request, -MCS_E_IO otherwise. */
int ec_post(ec *b, const char *path, json_object *req, const char *what, json_object **out, mcs_err *e);
/* GET path on one endpoint, body into out (health). */
int ec_get_one(ec *b, size_t endpoint, const char *path, char *out, size_t len, mcs_err *e);

/* ---- json.c: requests, replies, base64 ---- */
char *ec_b64(const char *s);
char *ec_unb64(const char *s, size_t *len); /* NULL: not base64 (or no memory) */

typedef struct ec_kv {
        char *key, *value; /* decoded, NUL-terminated */
        int64_t create_rev, mod_rev, version, lease;
} ec_kv;
typedef struct ec_kvs {
        ec_kv *v;
        size_t n;
        bool more;
} ec_kvs;
void ec_kvs_clear(ec_kvs *l);

/* An int64 field: absent is 0 (the gateway omits zeros); a string of
 * digits or a JSON integer; anything else an error naming it. */
int ec_json_i64(json_object *o, const char *field, int64_t *out, const char *what, mcs_err *e);
/* A string field; absent: NULL when optional, else an error. */
int ec_json_str(json_object *o, const char *field, bool optional, const char **out, const char *what, mcs_err *e);
/* The kvs of a range reply (or response_range) appended to l. */
int ec_json_kvs(json_object *range_reply, ec_kvs *l, const char *what, mcs_err *e);
/* header.revision and header.cluster_id of a reply. */
int ec_json_header(json_object *reply, int64_t *rev, const char **cluster, const char *what, mcs_err *e);

json_object *ec_op_put(const char *key, const char *value, int64_t lease);
json_object *ec_op_delete(const char *key);
/* A range over [key, end) (end NULL: the key alone) at rev (0: now). */
json_object *ec_range_req(const char *key, const char *end, int64_t rev, int64_t limit);
json_object *ec_op_range(const char *key, const char *end, int64_t rev, int64_t limit);
/* target "CREATE" or "MOD", result "EQUAL" or "LESS", against v. */
json_object *ec_cmp(const char *key, const char *target, const char *result, int64_t v);
/* The same over every key in [key, end): a range without keys compares as revision 0. */
json_object *ec_cmp_range(const char *key, const char *end, const char *target, const char *result, int64_t v);
json_object *ec_cmp_value(const char *key, const char *value); /* the key holds exactly value */

/* A transaction. The lists may be NULL (empty). */
typedef struct ec_txn {
        bool succeeded;
        int64_t rev;
        const char *cluster;
        json_object *reply;     /* owned */
        json_object *responses; /* borrowed from reply */
} ec_txn;
int ec_txn_run(ec *b, json_object *compare, json_object *success, json_object *failure, const char *what,
               ec_txn *out, mcs_err *e);
/* Drops the lists of a transaction that will not run (its building
 * failed); returns r. ec_txn_run takes them over otherwise. */
int ec_txn_drop(int r, json_object *compare, json_object *success, json_object *failure);
/* Appends op (a compare or an operation) to arr; when either is NULL (out
 * of memory) drops op and returns false. */
bool ec_push(json_object *arr, json_object *op);
void ec_txn_clear(ec_txn *t);
/* The kvs of response i (a response_range) of t. */
int ec_txn_kvs(const ec_txn *t, size_t i, ec_kvs *l, const char *what, mcs_err *e);

/* Every key under a prefix at one revision (0: now; *rev gets it), page by
 * page, to fn (which may take the kv's strings over, leaving NULLs) until
 * it returns an error; one page is held at a time. */
typedef int (*ec_kv_fn)(void *ctx, ec_kv *kv, mcs_err *e);
int ec_range_each(ec *b, const char *prefix, int64_t *rev, ec_kv_fn fn, void *ctx, const char *what, mcs_err *e);
/* The same, into one list. */
int ec_range_all(ec *b, const char *prefix, int64_t *rev, ec_kvs *out, const char *what, mcs_err *e);

/* ---- layout.c: key names, stored values ---- */
char *ec_key(const ec *b, const char *kind, const char *name); /* prefix + kind + name */
char *ec_prefix_end(const char *prefix);                      /* the first key after every key under prefix */
char *ec_record_json(const mcs_record *rec);
int ec_record_parse(const ec *b, const char *text, mcs_record *rec, mcs_err *e);
/* The feed key's value: the change a write made. */
char *ec_change_json(mcs_history_op op, const char *uuid, const char *label);
int ec_change_parse(const ec *b, const char *text, mcs_history_op *op, char **uuid, char **label, mcs_err *e);
char *ec_history_json(mcs_history_op op, int64_t at_us, const mcs_record *rec, const mcs_actor *who);
int ec_history_parse(const ec *b, const char *text, mcs_history_entry *h, mcs_err *e);
/* A fresh history key for uuid: hist/<uuid>/<random>. */
char *ec_history_key(const ec *b, const char *uuid);
/* What every history key of uuid starts with: hist/<uuid>/. */
char *ec_history_prefix(const ec *b, const char *uuid);
int ec_random_hex(char *out, size_t bytes, mcs_err *e); /* out holds 2 * bytes + 1 */
int ec_fail_nomem(mcs_err *e);

/* ---- feed.c ---- */
int ec_changes(mcs_backend *b, mcs_cursor *at, mcs_change_fn fn, void *ctx, mcs_err *e);
int ec_scan(mcs_backend *b, mcs_record_fn fn, void *ctx, mcs_cursor *at, mcs_err *e);
int ec_ensure_id(ec *b, mcs_err *e);

/* ---- records.c ---- */
int ec_get(mcs_backend *b, const char *uuid, mcs_record *out, mcs_err *e);
int ec_find_label(mcs_backend *b, const char *label, mcs_record *out, mcs_err *e);
int ec_create(mcs_backend *b, mcs_record *rec, const mcs_catset *claims, const mcs_cursor *view, mcs_err *e);
int ec_update(mcs_backend *b, const mcs_record *rec, uint64_t if_generation, mcs_err *e);
int ec_remove(mcs_backend *b, const char *uuid, const char *if_host, uint64_t if_generation, mcs_record *out,
              mcs_err *e);
int ec_import_record(mcs_backend *b, const mcs_record *rec, mcs_err *e);
int ec_import_records(mcs_backend *b, const mcs_record *v, size_t n, mcs_err *e);

/* ---- history.c ---- */
int ec_history(mcs_backend *b, const char *uuid, mcs_history_list *out, mcs_err *e);
int ec_import_history(mcs_backend *b, const mcs_history_entry *h, mcs_err *e);
void ec_set_actor(mcs_backend *b, const mcs_actor *who);

/* ---- originals.c ---- */
int ec_remember_original(mcs_backend *b, const char *uuid, const char *path, const char *context, mcs_err *e);
int ec_originals(mcs_backend *b, const char *uuid, mcs_original_list *out, mcs_err *e);
int ec_forget_original(mcs_backend *b, const char *path, mcs_err *e);
int ec_import_original(mcs_backend *b, const mcs_original *o, mcs_err *e);

/* ---- hosts.c: leases and health ---- */
int ec_heartbeat(mcs_backend *b, mcs_err *e);
int ec_hosts(mcs_backend *b, mcs_host_fn fn, void *ctx, mcs_err *e);
int ec_health(mcs_backend *b, char *out, size_t len, mcs_err *e);
