/* Requests to and replies from etcd's JSON gateway, and base64. Every field
 * of a reply is checked for its type: a reply that does not have the shape
 * etcd gives is an error that names the field, never a crash. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "mcs-macro.h"

int ec_fail_nomem(mcs_err *e) {
        return mcs_fail(e, MCS_E_NOMEM, "out of memory");
}

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *ec_b64(const char *s) {
        size_t n = strlen(s), o = 0;
        char *out = malloc((n + 2) / 3 * 4 + 1);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) (unsigned char) s[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t) (unsigned char) s[i + 1] << 8;
                if (i + 2 < n)
                        v |= (unsigned char) s[i + 2];
                out[o++] = b64_chars[v >> 18 & 63];
                out[o++] = b64_chars[v >> 12 & 63];
                out[o++] = i + 1 < n ? b64_chars[v >> 6 & 63] : '=';
                out[o++] = i + 2 < n ? b64_chars[v & 63] : '=';
        }
        out[o] = 0;
        return out;
}

static int b64_value(char c) {
        const char *p = c ? strchr(b64_chars, c) : NULL;
        return p ? (int) (p - b64_chars) : -1;
}

char *ec_unb64(const char *s, size_t *len) {
        size_t n = strlen(s), o = 0;
        if (n % 4)
                return NULL;
        char *out = malloc(n / 4 * 3 + 1);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 4) {
                int v[4];
                for (int k = 0; k < 4; k++) {
                        v[k] = b64_value(s[i + k]);
                        /* '=' only as the last one or two characters */
                        if (v[k] < 0 && !(s[i + k] == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '='))) {
                                free(out);
                                return NULL;
                        }
                }
                uint32_t w = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12 | (uint32_t) (v[2] < 0 ? 0 : v[2]) << 6 |
                             (uint32_t) (v[3] < 0 ? 0 : v[3]);
                out[o++] = (char) (w >> 16);
                if (v[2] >= 0)
                        out[o++] = (char) (w >> 8 & 0xff);
                if (v[3] >= 0)
                        out[o++] = (char) (w & 0xff);
        }
        out[o] = 0;
        if (len)
                *len = o;
        return out;
}

int ec_json_i64(json_object *o, const char *field, int64_t *out, const char *what, mcs_err *e) {
        json_object *v;
        *out = 0;
        if (!o || !json_object_object_get_ex(o, field, &v) || !v)
                return 0;
        if (json_object_is_type(v, json_type_int)) {
                *out = json_object_get_int64(v);
                return 0;
        }
        if (json_object_is_type(v, json_type_string)) {
                const char *s = json_object_get_string(v);
                char *end;
                errno = 0;
                long long x = strtoll(s, &end, 10);
                if (*s && !*end && errno == 0) {
                        *out = x;
                        return 0;
                }
        }
        return mcs_fail(e, MCS_E_IO, "%s: field %s is not an integer", what, field);
}

int ec_json_str(json_object *o, const char *field, bool optional, const char **out, const char *what, mcs_err *e) {
        json_object *v;
        *out = NULL;
        if (!o || !json_object_object_get_ex(o, field, &v) || !v) {
                if (optional)
                        return 0;
                return mcs_fail(e, MCS_E_IO, "%s: no field %s", what, field);
        }
        if (!json_object_is_type(v, json_type_string))
                return mcs_fail(e, MCS_E_IO, "%s: field %s is not a string", what, field);
        *out = json_object_get_string(v);
        return 0;
}

void ec_kvs_clear(ec_kvs *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].key);
                free(l->v[i].value);
        }
        free(l->v);
        *l = (ec_kvs){0};
}

static int decode_field(json_object *kv, const char *field, char **out, const char *what, mcs_err *e) {
        const char *s;
        int r = ec_json_str(kv, field, true, &s, what, e);
        if (r < 0)
                return r;
        if (!(*out = ec_unb64(s ? s : "", NULL)))
                return mcs_fail(e, MCS_E_IO, "%s: field %s is not base64", what, field);
        return 0;
}

static int read_kv(json_object *o, ec_kv *kv, const char *what, mcs_err *e) {
        int r;
        *kv = (ec_kv){0};
        if (!json_object_is_type(o, json_type_object))
                return mcs_fail(e, MCS_E_IO, "%s: a kv that is not an object", what);
        if ((r = decode_field(o, "key", &kv->key, what, e)) < 0 ||
            (r = decode_field(o, "value", &kv->value, what, e)) < 0 ||
            (r = ec_json_i64(o, "create_revision", &kv->create_rev, what, e)) < 0 ||
            (r = ec_json_i64(o, "mod_revision", &kv->mod_rev, what, e)) < 0 ||
            (r = ec_json_i64(o, "version", &kv->version, what, e)) < 0 ||
            (r = ec_json_i64(o, "lease", &kv->lease, what, e)) < 0) {
                free(kv->key);
                free(kv->value);
                return r;
        }
        return 0;
}

int ec_json_kvs(json_object *reply, ec_kvs *l, const char *what, mcs_err *e) {
        json_object *arr, *more;
        if (json_object_object_get_ex(reply, "more", &more) && more) {
                if (!json_object_is_type(more, json_type_boolean))
                        return mcs_fail(e, MCS_E_IO, "%s: field more is not a boolean", what);
                l->more = json_object_get_boolean(more);
        } else {
                l->more = false;
        }
        if (!json_object_object_get_ex(reply, "kvs", &arr) || !arr)
                return 0;
        if (!json_object_is_type(arr, json_type_array))
                return mcs_fail(e, MCS_E_IO, "%s: field kvs is not an array", what);
        size_t n = json_object_array_length(arr);
        ec_kv *v = realloc(l->v, (l->n + n + 1) * sizeof *v);
        if (!v)
                return ec_fail_nomem(e);
        l->v = v;
        for (size_t i = 0; i < n; i++) {
                int r = read_kv(json_object_array_get_idx(arr, i), &l->v[l->n], what, e);
                if (r < 0)
                        return r;
                l->n++;
        }
        return 0;
}

int ec_json_header(json_object *reply, int64_t *rev, const char **cluster, const char *what, mcs_err *e) {
        json_object *h;
        if (!json_object_object_get_ex(reply, "header", &h) || !json_object_is_type(h, json_type_object))
                return mcs_fail(e, MCS_E_IO, "%s: the reply has no header", what);
        int r = ec_json_i64(h, "revision", rev, what, e);
        if (r == 0 && cluster)
                r = ec_json_str(h, "cluster_id", false, cluster, what, e);
        return r;
}

/* ---- requests ---- */

static json_object *add_b64(json_object *o, const char *field, const char *s) {
        char *b = ec_b64(s);
        if (!o || !b) {
                free(b);
                json_object_put(o);
                return NULL;
        }
        json_object_object_add(o, field, json_object_new_string(b));
        free(b);
        return o;
}

static json_object *add_i64(json_object *o, const char *field, int64_t v) {
        char s[24];
        if (!o)
                return NULL;
        snprintf(s, sizeof s, "%" PRId64, v);
        json_object_object_add(o, field, json_object_new_string(s));
        return o;
}

static json_object *wrap(const char *name, json_object *inner) {
        json_object *o = inner ? json_object_new_object() : NULL;
        if (!o) {
                json_object_put(inner);
                return NULL;
        }
        json_object_object_add(o, name, inner);
        return o;
}

json_object *ec_op_put(const char *key, const char *value, int64_t lease) {
        json_object *o = add_b64(add_b64(json_object_new_object(), "key", key), "value", value);
        if (lease)
                o = add_i64(o, "lease", lease);
        return wrap("request_put", o);
}

json_object *ec_op_delete(const char *key) {
        return wrap("request_delete_range", add_b64(json_object_new_object(), "key", key));
}

json_object *ec_range_req(const char *key, const char *end, int64_t rev, int64_t limit) {
        json_object *o = add_b64(json_object_new_object(), "key", key);
        if (end)
                o = add_b64(o, "range_end", end);
        if (rev)
                o = add_i64(o, "revision", rev);
        if (limit)
                o = add_i64(o, "limit", limit);
        return o;
}

json_object *ec_op_range(const char *key, const char *end, int64_t rev, int64_t limit) {
        return wrap("request_range", ec_range_req(key, end, rev, limit));
}

json_object *ec_cmp(const char *key, const char *target, const char *result, int64_t v) {
        json_object *o = add_b64(json_object_new_object(), "key", key);
        if (!o)
                return NULL;
        json_object_object_add(o, "target", json_object_new_string(target));
        json_object_object_add(o, "result", json_object_new_string(result));
        return add_i64(o, strcmp(target, "CREATE") == 0 ? "create_revision" : "mod_revision", v);
}

json_object *ec_cmp_range(const char *key, const char *end, const char *target, const char *result, int64_t v) {
        return add_b64(ec_cmp(key, target, result, v), "range_end", end);
}

json_object *ec_cmp_value(const char *key, const char *value) {
        json_object *o = add_b64(json_object_new_object(), "key", key);
        if (!o)
                return NULL;
        json_object_object_add(o, "target", json_object_new_string("VALUE"));
        json_object_object_add(o, "result", json_object_new_string("EQUAL"));
        return add_b64(o, "value", value);
}

/* ---- transactions ---- */

void ec_txn_clear(ec_txn *t) {
        json_object_put(t->reply);
        *t = (ec_txn){0};
}

bool ec_push(json_object *arr, json_object *op) {
        if (!arr || !op) {
                json_object_put(op);
                return false;
        }
        json_object_array_add(arr, op);
        return true;
}

int ec_txn_drop(int r, json_object *compare, json_object *success, json_object *failure) {
        json_object_put(compare);
        json_object_put(success);
        json_object_put(failure);
        return r;
}

int ec_txn_run(ec *b, json_object *compare, json_object *success, json_object *failure, const char *what,
               ec_txn *out, mcs_err *e) {
        json_object *req = json_object_new_object(), *v;
        int r;
        *out = (ec_txn){0};
        if (!req)
                return ec_txn_drop(ec_fail_nomem(e), compare, success, failure);
        if (compare)
                json_object_object_add(req, "compare", compare);
        if (success)
                json_object_object_add(req, "success", success);
        if (failure)
                json_object_object_add(req, "failure", failure);
        r = ec_post(b, "/v3/kv/txn", req, what, &out->reply, e);
        json_object_put(req);
        if (r < 0)
                return r;
        if ((r = ec_json_header(out->reply, &out->rev, &out->cluster, what, e)) < 0)
                goto fail;
        if (json_object_object_get_ex(out->reply, "succeeded", &v) && v) {
                if (!json_object_is_type(v, json_type_boolean)) {
                        r = mcs_fail(e, MCS_E_IO, "%s: field succeeded is not a boolean", what);
                        goto fail;
                }
                out->succeeded = json_object_get_boolean(v);
        }
        if (json_object_object_get_ex(out->reply, "responses", &v) && v) {
                if (!json_object_is_type(v, json_type_array)) {
                        r = mcs_fail(e, MCS_E_IO, "%s: field responses is not an array", what);
                        goto fail;
                }
                out->responses = v;
        }
        return 0;
fail:
        ec_txn_clear(out);
        return r;
}

int ec_txn_kvs(const ec_txn *t, size_t i, ec_kvs *l, const char *what, mcs_err *e) {
        json_object *resp = t->responses && i < json_object_array_length(t->responses)
                                    ? json_object_array_get_idx(t->responses, i)
                                    : NULL;
        json_object *range;
        if (!resp || !json_object_is_type(resp, json_type_object) ||
            !json_object_object_get_ex(resp, "response_range", &range) ||
            !json_object_is_type(range, json_type_object))
                return mcs_fail(e, MCS_E_IO, "%s: response %zu of the transaction is not a range", what, i);
        return ec_json_kvs(range, l, what, e);
}

/* Pages through [prefix, end) at one revision: the first page fixes it. */
/* Keys a page of a range asks for. etcd 3.4 counts every key left in the
 * range for each page it answers, so n keys in pages of P cost about
 * n^2 / 2P steps of etcd's. At 523,776 records, a scan in pages of 500
 * took 40 s, 5,000: 13 s, 10,000: 10.8 s, 20,000: 8.4 s; the page is held
 * parsed while its records are handed over, and mcsd's RSS after the scan
 * was 23, 36 and 60 MB for the last three. A page of records is about 4 MB
 * of JSON, well within the reply limit (http.c). */
#define RANGE_PAGE 10000

int ec_range_each(ec *b, const char *prefix, int64_t *rev, ec_kv_fn fn, void *ctx, const char *what, mcs_err *e) {
        _cleanup_free_ char *end = ec_prefix_end(prefix), *from = strdup(prefix);
        if (!end || !from)
                return ec_fail_nomem(e);
        for (;;) {
                ec_kvs page = {0};
                json_object *req = ec_range_req(from, end, *rev, RANGE_PAGE), *reply = NULL;
                if (!req)
                        return ec_fail_nomem(e);
                int r = ec_post(b, "/v3/kv/range", req, what, &reply, e);
                json_object_put(req);
                if (r == 0 && !*rev)
                        r = ec_json_header(reply, rev, NULL, what, e);
                if (r == 0)
                        r = ec_json_kvs(reply, &page, what, e);
                json_object_put(reply);
                bool last = r < 0 || !page.more || page.n == 0;
                if (!last) {
                        /* the next page starts just after the last key: key +
                         * "\x01" (keys here hold no control bytes); taken
                         * before fn, which may take the key over */
                        size_t n = strlen(page.v[page.n - 1].key);
                        char *next = malloc(n + 2);
                        if (!next)
                                r = ec_fail_nomem(e);
                        else {
                                memcpy(next, page.v[page.n - 1].key, n);
                                next[n] = 1;
                                next[n + 1] = 0;
                                free(from);
                                from = next;
                        }
                }
                for (size_t i = 0; r == 0 && i < page.n; i++)
                        r = fn(ctx, &page.v[i], e);
                ec_kvs_clear(&page);
                if (r < 0)
                        return r;
                if (last)
                        return 0;
        }
}

/* Takes kv over into the list. */
static int collect(void *ctx, ec_kv *kv, mcs_err *e) {
        ec_kvs *out = ctx;
        if (out->n % 64 == 0) {
                ec_kv *v = realloc(out->v, (out->n + 64) * sizeof *v);
                if (!v)
                        return ec_fail_nomem(e);
                out->v = v;
        }
        out->v[out->n++] = *kv;
        *kv = (ec_kv){0};
        return 0;
}

int ec_range_all(ec *b, const char *prefix, int64_t *rev, ec_kvs *out, const char *what, mcs_err *e) {
        *out = (ec_kvs){0};
        int r = ec_range_each(b, prefix, rev, collect, out, what, e);
        if (r < 0)
                ec_kvs_clear(out);
        return r;
}
