/* The change feed and the scan.
 *
 * Every write of a record puts the feed key with the change it made, in
 * the same transaction, so the versions of that one key are the feed: the
 * value at revision r is the last change at or before r. changes() reads the
 * key now (revision H), then walks back version by version (a range at the
 * revision just before each one) until it reaches the cursor's revision,
 * and hands the changes over oldest first; the cursor then stands at H.
 * A revision etcd compacted away ends the walk with -MCS_E_STALE: the
 * registry rescans. The cursor's mark is the cluster id, the registry id
 * (a random id created with the registry) and the feed key's create
 * revision, so another cluster, another registry at the prefix, or a feed
 * key deleted and created again are noticed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "ec.h"
#include "mcs-macro.h"

/* A longer walk costs more than a rescan. */
#define WALK_MAX 1000

typedef struct state {
        int64_t rev;
        char mark[MCS_CURSOR_MARK_MAX];
        ec_kv feed; /* key NULL: no feed key yet */
} state;

static void state_clear(state *s) {
        free(s->feed.key);
        free(s->feed.value);
        memset(s, 0, sizeof *s);
}

/* The registry id and the feed key, now. */
static int read_state_once(ec *b, state *s, mcs_err *e) {
        _cleanup_free_ char *ik = ec_key(b, "id", NULL), *fk = ec_key(b, "feed", NULL);
        json_object *ops = json_object_new_array();
        ec_kvs id = {0}, feed = {0};
        ec_txn t;
        int r;
        memset(s, 0, sizeof *s);
        if (!ik || !fk || !ec_push(ops, ec_op_range(ik, NULL, 0, 0)) || !ec_push(ops, ec_op_range(fk, NULL, 0, 0)))
                return ec_txn_drop(ec_fail_nomem(e), NULL, ops, NULL);
        if ((r = ec_txn_run(b, NULL, ops, NULL, "read the registry id", &t, e)) < 0)
                return r;
        if ((r = ec_txn_kvs(&t, 0, &id, "read the registry id", e)) == 0)
                r = ec_txn_kvs(&t, 1, &feed, "read the feed", e);
        if (r == 0 && id.n == 0)
                r = 1;
        if (r == 0) {
                s->rev = t.rev;
                snprintf(s->mark, sizeof s->mark, "%.24s %.40s %" PRId64, t.cluster, id.v[0].value,
                         feed.n ? feed.v[0].create_rev : 0);
                if (feed.n) {
                        s->feed = feed.v[0];
                        feed.n = 0; /* moved */
                }
        }
        ec_kvs_clear(&id);
        ec_kvs_clear(&feed);
        ec_txn_clear(&t);
        return r;
}

/* The registry was deleted under the prefix (its id with it): what stands
 * there now is a new registry, with a new id, so every cursor's mark
 * differs and every view rescans. */
static int read_state(ec *b, state *s, mcs_err *e) {
        int r = read_state_once(b, s, e);
        if (r == 1 && (r = ec_ensure_id(b, e)) == 0 && (r = read_state_once(b, s, e)) == 1)
                r = mcs_fail(e, MCS_E_IO, "registry %s: its id vanished again", b->location);
        return r;
}

/* A prefix without the id key holds no registry: an id is put there only
 * when b->create allows it (the registry is new, or was deleted and may be
 * made again); else the registry is refused, whatever else the prefix holds. */
int ec_ensure_id(ec *b, mcs_err *e) {
        if (!b->create) {
                state s;
                int r = read_state_once(b, &s, e);
                state_clear(&s);
                if (r == 1)
                        r = mcs_fail(e, MCS_E_NOTFOUND,
                                     "registry %s: no registry id under the prefix: not (or no longer) a registry; a "
                                     "registry is created only when told (registry_create = yes in mcsd.conf, or "
                                     "mcsd --init-registry)", b->location);
                return r;
        }
        _cleanup_free_ char *ik = ec_key(b, "id", NULL);
        char fresh[33];
        json_object *cmp = json_object_new_array(), *ok = json_object_new_array(), *fail = json_object_new_array();
        ec_kvs id = {0};
        ec_txn t;
        int r = ec_random_hex(fresh, 16, e);
        if (r == 0 && (!ik || !ec_push(cmp, ec_cmp(ik, "CREATE", "EQUAL", 0)) || !ec_push(ok, ec_op_put(ik, fresh, 0)) ||
                       !ec_push(fail, ec_op_range(ik, NULL, 0, 0))))
                r = ec_fail_nomem(e);
        if (r < 0)
                return ec_txn_drop(r, cmp, ok, fail);
        if ((r = ec_txn_run(b, cmp, ok, fail, "create the registry id", &t, e)) < 0)
                return r;
        if (!t.succeeded && (r = ec_txn_kvs(&t, 0, &id, "read the registry id", e)) == 0 && id.n == 0)
                r = mcs_fail(e, MCS_E_IO, "registry %s: no registry id after creating it", b->location);
        ec_kvs_clear(&id);
        ec_txn_clear(&t);
        return r;
}

/* The feed key as it was at rev: 0 and *kv (key NULL when it did not exist). */
static int feed_at(ec *b, int64_t rev, ec_kv *kv, mcs_err *e) {
        _cleanup_free_ char *fk = ec_key(b, "feed", NULL);
        json_object *req = fk ? ec_range_req(fk, NULL, rev, 0) : NULL, *reply = NULL;
        ec_kvs l = {0};
        memset(kv, 0, sizeof *kv);
        if (!req)
                return ec_fail_nomem(e);
        int r = ec_post(b, "/v3/kv/range", req, "read the feed", &reply, e);
        json_object_put(req);
        if (r == 0)
                r = ec_json_kvs(reply, &l, "read the feed", e);
        json_object_put(reply);
        if (r == 0 && l.n) {
                *kv = l.v[0];
                l.n = 0;
        }
        ec_kvs_clear(&l);
        return r;
}

static int deliver(ec *b, const ec_kv *kv, mcs_cursor *at, mcs_change_fn fn, void *ctx, mcs_err *e) {
        mcs_change c;
        char *uuid, *label;
        int r = ec_change_parse(b, kv->value, &c.op, &uuid, &label, e);
        if (r < 0)
                return r;
        c.uuid = uuid;
        c.label = label;
        r = fn(ctx, &c, e);
        free(uuid);
        free(label);
        if (r >= 0)
                at->pos = (uint64_t) kv->mod_rev;
        return r;
}

/* The same cluster and registry, whose feed key did not exist yet when the
 * cursor was taken (a new registry's first write makes it): not another
 * registry, the feed just began. */
static bool feed_born_since(const char *was, const char *now) {
        char c1[32], i1[48], c2[32], i2[48];
        long long f1, f2;
        return sscanf(was, "%31s %47s %lld", c1, i1, &f1) == 3 && sscanf(now, "%31s %47s %lld", c2, i2, &f2) == 3 &&
               !strcmp(c1, c2) && !strcmp(i1, i2) && f1 == 0 && f2 > 0;
}

int ec_changes(mcs_backend *b, mcs_cursor *at, mcs_change_fn fn, void *ctx, mcs_err *e) {
        state s;
        ec_kv *walk = NULL;
        size_t n = 0;
        int r = read_state(b, &s, e);
        if (r < 0)
                return r;
        if (strcmp(s.mark, at->mark) != 0) {
                if (!feed_born_since(at->mark, s.mark)) {
                        state_clear(&s);
                        return -(int) MCS_E_STALE;
                }
                snprintf(at->mark, sizeof at->mark, "%s", s.mark);
        }
        if (s.feed.key && s.feed.mod_rev > (int64_t) at->pos) {
                if (!(walk = calloc(WALK_MAX, sizeof *walk)))
                        r = ec_fail_nomem(e);
                else
                        walk[n++] = s.feed;
                s.feed = (ec_kv){0};
                while (r == 0) {
                        ec_kv prev;
                        if ((r = feed_at(b, walk[n - 1].mod_rev - 1, &prev, e)) < 0)
                                break;
                        if (!prev.key || prev.mod_rev <= (int64_t) at->pos) {
                                free(prev.key);
                                free(prev.value);
                                break;
                        }
                        if (n == WALK_MAX) {
                                free(prev.key);
                                free(prev.value);
                                r = -(int) MCS_E_STALE;
                                break;
                        }
                        walk[n++] = prev;
                }
        }
        bool stopped = false;
        for (size_t i = n; r == 0 && i-- > 0;) {
                r = deliver(b, &walk[i], at, fn, ctx, e);
                if (r > 0) {
                        stopped = true;
                        r = 0;
                        break;
                }
        }
        if (r == 0 && !stopped && (int64_t) at->pos < s.rev)
                at->pos = (uint64_t) s.rev;
        for (size_t i = 0; i < n; i++) {
                free(walk[i].key);
                free(walk[i].value);
        }
        free(walk);
        state_clear(&s);
        return r;
}

/* Each record of a page parsed and handed to the caller's fn, so that a
 * scan holds one page, not every record's JSON (160 MB at full size). */
typedef struct scan_ctx {
        ec *b;
        mcs_record_fn fn;
        void *ctx;
        bool stopped;  /* fn asked to stop (> 0) */
        size_t handed; /* records handed to fn */
} scan_ctx;

static int scan_one(void *opaque, ec_kv *kv, mcs_err *e) {
        scan_ctx *s = opaque;
        mcs_record rec;
        if (s->stopped)
                return 0;
        int r = ec_record_parse(s->b, kv->value, &rec, e);
        if (r < 0)
                return r;
        r = s->fn(s->ctx, &rec, e);
        s->handed++;
        mcs_record_clear(&rec);
        if (r > 0)
                s->stopped = true;
        return r < 0 ? r : 0;
}

int ec_scan(mcs_backend *b, mcs_record_fn fn, void *ctx, mcs_cursor *at, mcs_err *e) {
        _cleanup_free_ char *rp = ec_key(b, "rec/", NULL);
        state s = {0};
        int r = rp ? 0 : ec_fail_nomem(e);
        /* Compaction may take the revision away while the pages are read:
         * again, as long as nothing was handed over yet (fn cannot take a
         * record back); after that the scan fails and the caller scans anew. */
        for (int attempt = 0; r == 0 && attempt < 5; attempt++) {
                if ((r = read_state(b, &s, e)) < 0)
                        break;
                int64_t rev = s.rev;
                scan_ctx sc = {b, fn, ctx, false, 0};
                r = ec_range_each(b, rp, &rev, scan_one, &sc, "read the reservations", e);
                if (r != -(int) MCS_E_STALE || attempt == 4 || sc.handed > 0)
                        break;
                state_clear(&s);
                r = 0;
        }
        if (r < 0) {
                state_clear(&s);
                return r == -(int) MCS_E_STALE ? mcs_fail(e, MCS_E_IO, "registry %s: compacted while it was read",
                                                          b->location)
                                               : r;
        }
        at->pos = (uint64_t) s.rev;
        snprintf(at->mark, sizeof at->mark, "%s", s.mark);
        state_clear(&s);
        return 0;
}
