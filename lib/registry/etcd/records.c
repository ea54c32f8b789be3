/* Records and their conditional writes, each one etcd transaction.
 *
 * create compares the record and label keys absent and every cat/<n> of the
 * claims unchanged since the view's revision, and puts them all: two
 * reservations that share a category (every conflicting pair of labels
 * does) cannot both commit unless the later one's view saw the earlier.
 * It also compares every history key of the uuid unchanged since the
 * view's revision V, and numbers the record V + 1: every write of an
 * earlier record of the uuid (a revision each, its generation one up at
 * most) came at or before V, so no generation one of them had comes back.
 * update and remove compare the record key's mod revision with the one they
 * read. Every write also creates a unique history key and puts the feed key,
 * in the same transaction. When a transaction's condition fails, its failure
 * branch reads that history key back: present, the write was applied by an
 * earlier attempt whose answer was lost (a timeout, then the next endpoint). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "mcs-macro.h"

#define WRITE_ATTEMPTS 50

/* The record at uuid and its key's mod revision: 0, -MCS_E_NOTFOUND or an error. */
static int read_record(ec *b, const char *uuid, mcs_record *rec, int64_t *mod_rev, mcs_err *e) {
        _cleanup_free_ char *key = ec_key(b, "rec/", uuid);
        json_object *req = key ? ec_range_req(key, NULL, 0, 0) : NULL, *reply = NULL;
        ec_kvs kvs = {0};
        int r;
        if (!req)
                return ec_fail_nomem(e);
        r = ec_post(b, "/v3/kv/range", req, "read a reservation", &reply, e);
        json_object_put(req);
        if (r == 0)
                r = ec_json_kvs(reply, &kvs, "read a reservation", e);
        json_object_put(reply);
        if (r == 0 && kvs.n == 0)
                r = mcs_fail(e, MCS_E_NOTFOUND, "no reservation for %s", uuid);
        if (r == 0) {
                r = ec_record_parse(b, kvs.v[0].value, rec, e);
                if (mod_rev)
                        *mod_rev = kvs.v[0].mod_rev;
        }
        ec_kvs_clear(&kvs);
        return r;
}

int ec_get(mcs_backend *b, const char *uuid, mcs_record *out, mcs_err *e) {
        return read_record(b, uuid, out, NULL, e);
}

int ec_find_label(mcs_backend *b, const char *label, mcs_record *out, mcs_err *e) {
        _cleanup_free_ char *key = ec_key(b, "label/", label);
        json_object *req = key ? ec_range_req(key, NULL, 0, 0) : NULL, *reply = NULL;
        ec_kvs kvs = {0};
        if (!req)
                return ec_fail_nomem(e);
        int r = ec_post(b, "/v3/kv/range", req, "find a label", &reply, e);
        json_object_put(req);
        if (r == 0)
                r = ec_json_kvs(reply, &kvs, "find a label", e);
        json_object_put(reply);
        if (r == 0 && kvs.n == 0)
                r = mcs_fail(e, MCS_E_NOTFOUND, "no reservation for %s", label);
        if (r == 0 && (r = read_record(b, kvs.v[0].value, out, NULL, e)) == 0 && strcmp(out->label, label) != 0) {
                mcs_record_clear(out);
                r = mcs_fail(e, MCS_E_NOTFOUND, "no reservation for %s", label);
        }
        ec_kvs_clear(&kvs);
        return r;
}

/* The puts of a reservation: record, label, one key per category, the feed.
 * hist_key/hist NULL: none (an import). */
static int reservation_ops(ec *b, const mcs_record *rec, const mcs_catset *claims, json_object *ops,
                           const char *hist_key, const char *hist, mcs_err *e) {
        _cleanup_free_ char *rk = ec_key(b, "rec/", rec->uuid), *lk = ec_key(b, "label/", rec->label);
        _cleanup_free_ char *fk = ec_key(b, "feed", NULL), *value = ec_record_json(rec);
        _cleanup_free_ char *change = ec_change_json(MCS_OP_RESERVE, rec->uuid, rec->label);
        bool ok = rk && lk && fk && value && change && ec_push(ops, ec_op_put(rk, value, 0)) &&
                  ec_push(ops, ec_op_put(lk, rec->uuid, 0)) && ec_push(ops, ec_op_put(fk, change, 0));
        if (ok && hist_key)
                ok = ec_push(ops, ec_op_put(hist_key, hist, 0));
        for (int c = mcs_catset_next(claims, 0); ok && c >= 0; c = mcs_catset_next(claims, (unsigned) c + 1)) {
                char n[16];
                snprintf(n, sizeof n, "%d", c);
                _cleanup_free_ char *ck = ec_key(b, "cat/", n);
                ok = ck && ec_push(ops, ec_op_put(ck, rec->uuid, 0));
        }
        return ok ? 0 : ec_fail_nomem(e);
}

static int check_claims(ec *b, const mcs_record *rec, const mcs_catset *claims, mcs_err *e) {
        unsigned n = mcs_catset_count(claims);
        if (n > EC_CATS_MAX)
                return mcs_fail(e, MCS_E_INVALID,
                                "registry %s: label %s has %u categories; the etcd backend writes a key per category "
                                "in one transaction and etcd allows %d operations in one: at most %d categories",
                                b->location, rec->label, n, EC_TXN_OPS_MAX, EC_CATS_MAX);
        return 0;
}

/* The failure branch of every write: the record key, then the write's own history key. */
static json_object *failure_reads(const char *rec_key, const char *hist_key) {
        json_object *f = json_object_new_array();
        if (!ec_push(f, ec_op_range(rec_key, NULL, 0, 0)) || !ec_push(f, ec_op_range(hist_key, NULL, 0, 0))) {
                json_object_put(f);
                return NULL;
        }
        return f;
}

/* After a failed condition: 1 when the write's history key is there (an
 * earlier attempt applied it), else 0 and *rec_exists. */
static int failed_write(const ec_txn *t, bool *rec_exists, const char *what, mcs_err *e) {
        ec_kvs rk = {0}, hk = {0};
        int r = ec_txn_kvs(t, 0, &rk, what, e);
        if (r == 0)
                r = ec_txn_kvs(t, 1, &hk, what, e);
        if (r == 0) {
                *rec_exists = rk.n > 0;
                r = hk.n > 0;
        }
        ec_kvs_clear(&rk);
        ec_kvs_clear(&hk);
        return r;
}

int ec_create(mcs_backend *b, mcs_record *rec, const mcs_catset *claims, const mcs_cursor *view, mcs_err *e) {
        rec->generation = view->pos + 1;
        _cleanup_free_ char *rk = ec_key(b, "rec/", rec->uuid), *lk = ec_key(b, "label/", rec->label);
        _cleanup_free_ char *hk = ec_history_key(b, rec->uuid), *hp = ec_history_prefix(b, rec->uuid);
        _cleanup_free_ char *hist = ec_history_json(MCS_OP_RESERVE, rec->created_us, rec, &b->who);
        _cleanup_free_ char *he = hp ? ec_prefix_end(hp) : NULL;
        json_object *cmp = json_object_new_array(), *ops = json_object_new_array(), *fail = NULL;
        int r = check_claims(b, rec, claims, e);
        ec_txn t;

        if (r == 0 && (!rk || !lk || !hk || !hp || !he || !hist || !cmp || !ops ||
                       !ec_push(cmp, ec_cmp_range(hp, he, "MOD", "LESS", (int64_t) view->pos + 1))))
                r = ec_fail_nomem(e);
        /* The view's revision means something only in the registry it was
         * read from: the id key must still hold that registry's id. */
        char id[64] = "";
        if (r == 0 && sscanf(view->mark, "%*s %63s", id) != 1)
                r = -(int) MCS_E_STALE;
        _cleanup_free_ char *ik = ec_key(b, "id", NULL);
        if (r == 0 && (!ik || !ec_push(cmp, ec_cmp_value(ik, id)) || !ec_push(cmp, ec_cmp(rk, "CREATE", "EQUAL", 0)) ||
                       !ec_push(cmp, ec_cmp(lk, "CREATE", "EQUAL", 0))))
                r = ec_fail_nomem(e);
        for (int c = mcs_catset_next(claims, 0); r == 0 && c >= 0; c = mcs_catset_next(claims, (unsigned) c + 1)) {
                char n[16];
                snprintf(n, sizeof n, "%d", c);
                _cleanup_free_ char *ck = ec_key(b, "cat/", n);
                if (!ck || !ec_push(cmp, ec_cmp(ck, "MOD", "LESS", (int64_t) view->pos + 1)))
                        r = ec_fail_nomem(e);
        }
        if (r == 0)
                r = reservation_ops(b, rec, claims, ops, hk, hist, e);
        if (r == 0 && !(fail = failure_reads(rk, hk)))
                r = ec_fail_nomem(e);
        if (r < 0)
                return ec_txn_drop(r, cmp, ops, fail);
        if ((r = ec_txn_run(b, cmp, ops, fail, "reserve", &t, e)) < 0)
                return r;
        if (!t.succeeded) {
                bool exists = false;
                r = failed_write(&t, &exists, "reserve", e);
                if (r == 0)
                        r = exists ? mcs_fail(e, MCS_E_EXISTS, "registry %s: guest %s holds a label already",
                                              b->location, rec->uuid)
                                   : -(int) MCS_E_STALE;
                else if (r > 0)
                        r = 0;
        }
        ec_txn_clear(&t);
        return r;
}

/* One conditional write of the record read at mod_rev: put it (rec) or
 * delete it (rec NULL, old the record read). 1: the condition failed. */
static int guarded_write(ec *b, const char *uuid, int64_t mod_rev, const mcs_record *rec, const mcs_record *old,
                         const char *what, mcs_err *e) {
        mcs_history_op op = rec ? MCS_OP_STATE : MCS_OP_RELEASE;
        const mcs_record *h = rec ? rec : old;
        _cleanup_free_ char *rk = ec_key(b, "rec/", uuid), *lk = ec_key(b, "label/", old->label);
        _cleanup_free_ char *fk = ec_key(b, "feed", NULL), *hk = ec_history_key(b, uuid);
        _cleanup_free_ char *hist = ec_history_json(op, rec ? rec->updated_us : mcs_registry_now_us(), h, &b->who);
        _cleanup_free_ char *change = ec_change_json(op, uuid, h->label), *value = rec ? ec_record_json(rec) : NULL;
        json_object *cmp = json_object_new_array(), *ops = json_object_new_array(), *fail = NULL;
        ec_txn t;
        bool ok = rk && lk && fk && hk && hist && change && (!rec || value) &&
                  ec_push(cmp, ec_cmp(rk, "MOD", "EQUAL", mod_rev)) && ec_push(ops, ec_op_put(hk, hist, 0)) &&
                  ec_push(ops, ec_op_put(fk, change, 0));
        if (ok && rec)
                ok = ec_push(ops, ec_op_put(rk, value, 0));
        else if (ok)
                ok = ec_push(ops, ec_op_delete(rk)) && ec_push(ops, ec_op_delete(lk));
        if (ok)
                ok = (fail = failure_reads(rk, hk)) != NULL;
        if (!ok)
                return ec_txn_drop(ec_fail_nomem(e), cmp, ops, fail);
        int r = ec_txn_run(b, cmp, ops, fail, what, &t, e);
        if (r < 0)
                return r;
        if (!t.succeeded) {
                bool exists;
                r = failed_write(&t, &exists, what, e);
                r = r < 0 ? r : r > 0 ? 0 : 1;
        }
        ec_txn_clear(&t);
        return r;
}

int ec_update(mcs_backend *b, const mcs_record *rec, uint64_t if_generation, mcs_err *e) {
        for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
                mcs_record now;
                int64_t mod;
                int r = read_record(b, rec->uuid, &now, &mod, e);
                if (r < 0)
                        return r;
                if ((r = mcs_registry_check_same_record(&now, rec, if_generation, e)) == 0)
                        r = guarded_write(b, rec->uuid, mod, rec, &now, "update a reservation", e);
                mcs_record_clear(&now);
                if (r <= 0)
                        return r;
        }
        return mcs_fail(e, MCS_E_BUSY, "registry %s: guest %s: its record kept changing", b->location, rec->uuid);
}

int ec_remove(mcs_backend *b, const char *uuid, const char *if_host, uint64_t if_generation, mcs_record *out,
              mcs_err *e) {
        for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
                mcs_record now;
                int64_t mod;
                int r = read_record(b, uuid, &now, &mod, e);
                if (r < 0)
                        return r;
                if ((r = mcs_registry_check_unchanged(&now, if_host, if_generation, "released", e)) == 0)
                        r = guarded_write(b, uuid, mod, NULL, &now, "release a reservation", e);
                if (r == 0 && out)
                        *out = now;
                else
                        mcs_record_clear(&now);
                if (r <= 0)
                        return r;
        }
        return mcs_fail(e, MCS_E_BUSY, "registry %s: guest %s: its record kept changing", b->location, uuid);
}

int ec_import_record(mcs_backend *b, const mcs_record *rec, mcs_err *e) {
        mcs_range range;
        int r = mcs_range_parse(rec->label, &range, e);
        if (r < 0 || (r = check_claims(b, rec, &range.high.cats, e)) < 0)
                return r;
        _cleanup_free_ char *rk = ec_key(b, "rec/", rec->uuid), *lk = ec_key(b, "label/", rec->label);
        json_object *cmp = json_object_new_array(), *ops = json_object_new_array();
        if (!rk || !lk || !ec_push(cmp, ec_cmp(rk, "CREATE", "EQUAL", 0)) || !ec_push(cmp, ec_cmp(lk, "CREATE", "EQUAL", 0)))
                r = ec_fail_nomem(e);
        if (r == 0)
                r = reservation_ops(b, rec, &range.high.cats, ops, NULL, NULL, e);
        if (r < 0)
                return ec_txn_drop(r, cmp, ops, NULL);
        ec_txn t;
        if ((r = ec_txn_run(b, cmp, ops, NULL, "import a reservation", &t, e)) < 0)
                return r;
        if (!t.succeeded)
                r = mcs_fail(e, MCS_E_EXISTS, "registry %s: guest %s or label %s is there already", b->location,
                             rec->uuid, rec->label);
        ec_txn_clear(&t);
        return r;
}

/* The puts of records i.. that fit one transaction: two compares each
 * (nothing at its uuid or label) and two puts, then each of their
 * categories' cat/<n> and the feed once for them all (etcd refuses a key
 * twice in one transaction), within EC_TXN_OPS_MAX of each. *next: the
 * first record left out. */
static int import_chunk(ec *b, const mcs_record *v, size_t n, size_t i, size_t *next, json_object *cmp,
                        json_object *ops, mcs_err *e) {
        mcs_catset cats = {0};
        size_t n_cmp = 0, n_puts = 0;
        int r = 0;
        for (*next = i; *next < n; (*next)++) {
                const mcs_record *rec = &v[*next];
                mcs_range range;
                if ((r = mcs_range_parse(rec->label, &range, e)) < 0 || (r = check_claims(b, rec, &range.high.cats, e)) < 0)
                        return r;
                mcs_catset with = cats;
                for (int c = mcs_catset_next(&range.high.cats, 0); c >= 0;
                     c = mcs_catset_next(&range.high.cats, (unsigned) c + 1))
                        mcs_catset_add(&with, (unsigned) c);
                if (*next > i && (n_cmp + 2 > EC_TXN_OPS_MAX || n_puts + 2 + mcs_catset_count(&with) + 1 > EC_TXN_OPS_MAX))
                        break;
                _cleanup_free_ char *rk = ec_key(b, "rec/", rec->uuid), *lk = ec_key(b, "label/", rec->label);
                _cleanup_free_ char *value = ec_record_json(rec);
                if (!rk || !lk || !value || !ec_push(cmp, ec_cmp(rk, "CREATE", "EQUAL", 0)) ||
                    !ec_push(cmp, ec_cmp(lk, "CREATE", "EQUAL", 0)) || !ec_push(ops, ec_op_put(rk, value, 0)) ||
                    !ec_push(ops, ec_op_put(lk, rec->uuid, 0)))
                        return ec_fail_nomem(e);
                cats = with;
                n_cmp += 2;
                n_puts += 2;
        }
        const mcs_record *last = &v[*next - 1];
        for (int c = mcs_catset_next(&cats, 0); c >= 0; c = mcs_catset_next(&cats, (unsigned) c + 1)) {
                char num[16];
                snprintf(num, sizeof num, "%d", c);
                _cleanup_free_ char *ck = ec_key(b, "cat/", num);
                if (!ck || !ec_push(ops, ec_op_put(ck, last->uuid, 0)))
                        return ec_fail_nomem(e);
        }
        _cleanup_free_ char *fk = ec_key(b, "feed", NULL);
        _cleanup_free_ char *change = ec_change_json(MCS_OP_RESERVE, last->uuid, last->label);
        if (!fk || !change || !ec_push(ops, ec_op_put(fk, change, 0)))
                return ec_fail_nomem(e);
        return 0;
}

/* A copy's records, as many to a transaction as fit: a full pool of
 * 523,776 in about 8,300 transactions instead of one each (an hour at
 * etcd's commit rate here). The feed gets one version a transaction, not
 * one a record: a view open meanwhile could miss records, which the copy
 * rules out (no mcsd may use the destination during a copy). */
int ec_import_records(mcs_backend *b, const mcs_record *v, size_t n, mcs_err *e) {
        for (size_t i = 0, next = 0; i < n; i = next) {
                json_object *cmp = json_object_new_array(), *ops = json_object_new_array();
                int r = cmp && ops ? import_chunk(b, v, n, i, &next, cmp, ops, e) : ec_fail_nomem(e);
                if (r < 0)
                        return ec_txn_drop(r, cmp, ops, NULL);
                ec_txn t;
                if ((r = ec_txn_run(b, cmp, ops, NULL, "import reservations", &t, e)) < 0)
                        return r;
                if (!t.succeeded)
                        r = mcs_fail(e, MCS_E_EXISTS, "registry %s: one of the guests %s to %s or their labels is there already",
                                     b->location, v[i].uuid, v[next - 1].uuid);
                ec_txn_clear(&t);
                if (r < 0)
                        return r;
        }
        return 0;
}
