/* Original labels of files: orig/<path> holds {uuid, context, host,
 * saved_us}. Remembering is a create-if-absent transaction: the first label
 * remembered for a path stays, and another guest's claim on it is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "mcs-macro.h"

static char *original_json(const char *uuid, const char *context, const char *host, int64_t saved_us) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "uuid", json_object_new_string(uuid));
        json_object_object_add(o, "context", json_object_new_string(context));
        json_object_object_add(o, "host", json_object_new_string(host));
        json_object_object_add(o, "saved_us", json_object_new_int64(saved_us));
        char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return s;
}

/* Fills o (path given) from a stored value. */
static int original_parse(ec *b, const char *text, mcs_original *o, mcs_err *e) {
        json_object *j = json_tokener_parse(text), *v;
        const char *uuid = NULL, *context = NULL, *host = NULL;
        int r = 0;
        if (!j || !json_object_is_type(j, json_type_object) || ec_json_str(j, "uuid", false, &uuid, "", NULL) < 0 ||
            ec_json_str(j, "context", false, &context, "", NULL) < 0 ||
            ec_json_str(j, "host", false, &host, "", NULL) < 0 ||
            !json_object_object_get_ex(j, "saved_us", &v) || !json_object_is_type(v, json_type_int) ||
            mcs_uuid_canonical(uuid, o->uuid, NULL) < 0)
                r = mcs_fail(e, MCS_E_SCHEMA, "registry %s: the original label of %s is damaged", b->location,
                             o->path ? o->path : "?");
        if (r == 0) {
                o->saved_us = json_object_get_int64(v);
                o->context = strdup(context);
                o->host = strdup(host);
                if (!o->context || !o->host)
                        r = ec_fail_nomem(e);
                else
                        r = mcs_stored_original_check(o, b->location, e);
        }
        json_object_put(j);
        return r;
}

/* Create-if-absent; 1 when a value was there already, its uuid in owner. */
static int put_if_absent(ec *b, const char *path, const char *value, char owner[MCS_UUID_STRLEN + 1], mcs_err *e) {
        _cleanup_free_ char *k = ec_key(b, "orig/", path);
        json_object *cmp = json_object_new_array(), *ok = json_object_new_array(), *fail = json_object_new_array();
        ec_txn t;
        ec_kvs kvs = {0};
        if (!k || !ec_push(cmp, ec_cmp(k, "CREATE", "EQUAL", 0)) || !ec_push(ok, ec_op_put(k, value, 0)) ||
            !ec_push(fail, ec_op_range(k, NULL, 0, 0)))
                return ec_txn_drop(ec_fail_nomem(e), cmp, ok, fail);
        int r = ec_txn_run(b, cmp, ok, fail, "remember an original label", &t, e);
        if (r < 0 || t.succeeded) {
                if (r == 0)
                        ec_txn_clear(&t);
                return r;
        }
        if ((r = ec_txn_kvs(&t, 0, &kvs, "remember an original label", e)) == 0 && kvs.n) {
                mcs_original o = {.path = (char *) path};
                if ((r = original_parse(b, kvs.v[0].value, &o, e)) == 0) {
                        memcpy(owner, o.uuid, sizeof o.uuid);
                        r = 1;
                }
                free(o.context);
                free(o.host);
        }
        ec_kvs_clear(&kvs);
        ec_txn_clear(&t);
        return r;
}

int ec_remember_original(mcs_backend *b, const char *uuid, const char *path, const char *context, mcs_err *e) {
        _cleanup_free_ char *v = original_json(uuid, context, b->host, mcs_registry_now_us());
        char owner[MCS_UUID_STRLEN + 1];
        if (!v)
                return ec_fail_nomem(e);
        int r = put_if_absent(b, path, v, owner, e);
        if (r == 1 && strcmp(owner, uuid) != 0)
                return mcs_fail(e, MCS_E_CONFLICT,
                                "%s is already labelled for guest %s; guest %s cannot have it as a private image",
                                path, owner, uuid);
        return r < 0 ? r : 0;
}

int ec_import_original(mcs_backend *b, const mcs_original *o, mcs_err *e) {
        _cleanup_free_ char *v = original_json(o->uuid, o->context, o->host, o->saved_us);
        char owner[MCS_UUID_STRLEN + 1];
        if (!v)
                return ec_fail_nomem(e);
        int r = put_if_absent(b, o->path, v, owner, e);
        if (r == 1)
                return mcs_fail(e, MCS_E_EXISTS, "registry %s: an original label of %s is there already", b->location,
                                o->path);
        return r;
}

int ec_originals(mcs_backend *b, const char *uuid, mcs_original_list *out, mcs_err *e) {
        _cleanup_free_ char *p = ec_key(b, "orig/", NULL);
        ec_kvs kvs = {0};
        int64_t rev = 0;
        *out = (mcs_original_list){0};
        if (!p)
                return ec_fail_nomem(e);
        int r = ec_range_all(b, p, &rev, &kvs, "list original labels", e);
        if (r == 0 && kvs.n && !(out->v = calloc(kvs.n, sizeof *out->v)))
                r = ec_fail_nomem(e);
        size_t plen = strlen(p);
        for (size_t i = 0; r == 0 && i < kvs.n; i++) {
                mcs_original *o = &out->v[out->n];
                if (!(o->path = strdup(kvs.v[i].key + plen))) {
                        r = ec_fail_nomem(e);
                        break;
                }
                out->n++;
                if ((r = original_parse(b, kvs.v[i].value, o, e)) < 0)
                        break;
                if (uuid && strcmp(o->uuid, uuid) != 0) {
                        free(o->path);
                        free(o->context);
                        free(o->host);
                        *o = (mcs_original){0};
                        out->n--;
                }
        }
        ec_kvs_clear(&kvs);
        if (r < 0)
                mcs_original_list_clear(out);
        return r;
}

int ec_forget_original(mcs_backend *b, const char *path, mcs_err *e) {
        _cleanup_free_ char *k = ec_key(b, "orig/", path);
        json_object *op = k ? ec_op_delete(k) : NULL, *del = NULL, *reply = NULL;
        if (!op || !json_object_object_get_ex(op, "request_delete_range", &del)) {
                json_object_put(op);
                return ec_fail_nomem(e);
        }
        int r = ec_post(b, "/v3/kv/deleterange", del, "forget an original label", &reply, e);
        json_object_put(op);
        json_object_put(reply);
        return r;
}
