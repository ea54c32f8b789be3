/* Host liveness through leases, and the health line.
 *
 * heartbeat grants this host a lease once (lease_ttl seconds), keeps it
 * alive on every beat, and puts hosts/<host> = {"seen_us": now} attached to
 * it. When a host stops beating for lease_ttl, etcd revokes the lease and
 * deletes the key: hosts lists only hosts whose lease is alive. Nothing
 * else depends on a lease: a host's reservations stay when it expires. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "mcs-macro.h"

static int grant(ec *b, mcs_err *e) {
        json_object *req = json_object_new_object(), *reply = NULL;
        if (!req)
                return ec_fail_nomem(e);
        json_object_object_add(req, "TTL", json_object_new_int64(b->lease_ttl_s));
        int r = ec_post(b, "/v3/lease/grant", req, "grant a lease", &reply, e);
        json_object_put(req);
        if (r == 0 && (r = ec_json_i64(reply, "ID", &b->lease, "grant a lease", e)) == 0 && b->lease == 0)
                r = mcs_fail(e, MCS_E_IO, "registry %s: etcd granted no lease", b->location);
        json_object_put(reply);
        return r;
}

/* 0 with b->lease still alive, or b->lease 0 when etcd no longer knows it. */
static int keep_alive(ec *b, mcs_err *e) {
        json_object *req = json_object_new_object(), *reply = NULL, *res;
        char id[24];
        int64_t ttl = 0;
        if (!req)
                return ec_fail_nomem(e);
        snprintf(id, sizeof id, "%lld", (long long) b->lease);
        json_object_object_add(req, "ID", json_object_new_string(id));
        int r = ec_post(b, "/v3/lease/keepalive", req, "keep the lease alive", &reply, e);
        json_object_put(req);
        /* a stream: each answer is {"result": {...}} */
        if (r == 0 &&
            (!json_object_object_get_ex(reply, "result", &res) || !json_object_is_type(res, json_type_object)))
                r = mcs_fail(e, MCS_E_IO, "registry %s: keep the lease alive: no result in the answer", b->location);
        if (r == 0 && (r = ec_json_i64(res, "TTL", &ttl, "keep the lease alive", e)) == 0 && ttl <= 0)
                b->lease = 0; /* expired: the TTL is absent */
        json_object_put(reply);
        return r;
}

static int put_beat(ec *b, mcs_err *e) {
        _cleanup_free_ char *k = ec_key(b, "hosts/", b->host);
        char v[64];
        snprintf(v, sizeof v, "{\"seen_us\":%lld}", (long long) mcs_registry_now_us());
        json_object *op = k ? ec_op_put(k, v, b->lease) : NULL, *put = NULL, *reply = NULL;
        if (!op || !json_object_object_get_ex(op, "request_put", &put)) {
                json_object_put(op);
                return ec_fail_nomem(e);
        }
        int r = ec_post(b, "/v3/kv/put", put, "heartbeat", &reply, e);
        json_object_put(op);
        json_object_put(reply);
        return r;
}

int ec_heartbeat(mcs_backend *b, mcs_err *e) {
        mcs_err put_err = {0};
        int r = 0;
        if (b->lease)
                r = keep_alive(b, e);
        if (r == 0 && !b->lease)
                r = grant(b, e);
        if (r < 0 || (r = put_beat(b, &put_err)) == 0)
                return r;
        if (!strstr(put_err.msg, "lease not found")) {
                if (e)
                        *e = put_err;
                return r;
        }
        /* revoked between the keepalive and the put */
        b->lease = 0;
        return (r = grant(b, e)) < 0 ? r : put_beat(b, e);
}

int ec_hosts(mcs_backend *b, mcs_host_fn fn, void *ctx, mcs_err *e) {
        _cleanup_free_ char *p = ec_key(b, "hosts/", NULL);
        ec_kvs kvs = {0};
        int64_t rev = 0;
        if (!p)
                return ec_fail_nomem(e);
        int r = ec_range_all(b, p, &rev, &kvs, "list hosts", e);
        for (size_t i = 0; r == 0 && i < kvs.n; i++) {
                json_object *j = json_tokener_parse(kvs.v[i].value), *seen;
                if (!j || !json_object_is_type(j, json_type_object) ||
                    !json_object_object_get_ex(j, "seen_us", &seen) ||
                    !json_object_is_type(seen, json_type_int))
                        r = mcs_fail(e, MCS_E_SCHEMA, "registry %s: the heartbeat of %s is damaged", b->location,
                                     kvs.v[i].key);
                else {
                        mcs_host_beat h = {kvs.v[i].key + strlen(p), json_object_get_int64(seen)};
                        if ((r = mcs_stored_host_check(h.host, b->location, e)) == 0)
                                r = fn(ctx, &h, e);
                }
                json_object_put(j);
        }
        ec_kvs_clear(&kvs);
        return r < 0 ? r : 0;
}

/* Which endpoints answer /health, then one linearizable read: it needs a
 * leader and a quorum. */
int ec_health(mcs_backend *b, char *out, size_t len, mcs_err *e) {
        char down[512] = "", body[256];
        size_t up = 0;
        for (size_t i = 0; i < b->n_endpoints; i++) {
                mcs_err why = {0};
                if (ec_get_one(b, i, "/health", body, sizeof body, &why) == 0 && strstr(body, "\"true\"")) {
                        up++;
                        continue;
                }
                snprintf(down + strlen(down), sizeof down - strlen(down), "%s%s (%.200s)", *down ? ", " : "",
                         b->endpoints[i], why.msg[0] ? why.msg : "unhealthy");
        }
        _cleanup_free_ char *ik = ec_key(b, "id", NULL);
        json_object *req = ik ? ec_range_req(ik, NULL, 0, 0) : NULL, *reply = NULL;
        if (!req)
                return ec_fail_nomem(e);
        mcs_err why = {0};
        int r = ec_post(b, "/v3/kv/range", req, "read", &reply, &why);
        json_object_put(req);
        json_object_put(reply);
        if (r < 0) {
                snprintf(out, len, "no quorum: %zu of %zu endpoints healthy%s%s; %s", up, b->n_endpoints,
                         *down ? "; not: " : "", down, why.msg);
                return mcs_fail(e, MCS_E_IO, "registry %s: %s", b->location, out);
        }
        snprintf(out, len, "ok: etcd, %zu of %zu endpoints healthy%s%s", up, b->n_endpoints, *down ? "; not: " : "",
                 down);
        return 0;
}
