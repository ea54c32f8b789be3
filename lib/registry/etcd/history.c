/* The history: one key per entry, hist/<uuid>/<random>, written in the
 * transaction of the write it records. Its create revision orders it
 * and is its seq. */
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "mcs-macro.h"

static int by_seq(const void *a, const void *b) {
        const mcs_history_entry *x = a, *y = b;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int ec_history(mcs_backend *b, const char *uuid, mcs_history_list *out, mcs_err *e) {
        _cleanup_free_ char *p = NULL;
        ec_kvs kvs = {0};
        int64_t rev = 0;
        int r = 0;
        *out = (mcs_history_list){0};
        if (uuid ? asprintf(&p, "%shist/%s/", b->prefix, uuid) < 0 : !(p = ec_key(b, "hist/", NULL))) {
                p = NULL;
                return ec_fail_nomem(e);
        }
        if ((r = ec_range_all(b, p, &rev, &kvs, "read the history", e)) < 0)
                return r;
        if (kvs.n && !(out->v = calloc(kvs.n, sizeof *out->v)))
                r = ec_fail_nomem(e);
        for (size_t i = 0; r == 0 && i < kvs.n; i++) {
                mcs_history_entry *h = &out->v[out->n];
                if ((r = ec_history_parse(b, kvs.v[i].value, h, e)) < 0)
                        break;
                h->seq = (uint64_t) kvs.v[i].create_rev;
                out->n++;
        }
        ec_kvs_clear(&kvs);
        if (r < 0) {
                mcs_history_list_clear(out);
                return r;
        }
        if (out->n > 1)
                qsort(out->v, out->n, sizeof *out->v, by_seq);
        return 0;
}

int ec_import_history(mcs_backend *b, const mcs_history_entry *h, mcs_err *e) {
        _cleanup_free_ char *k = ec_history_key(b, h->rec.uuid), *v = ec_history_json(h->op, h->at_us, &h->rec, &h->who);
        if (!k || !v)
                return ec_fail_nomem(e);
        json_object *op = ec_op_put(k, v, 0), *put = NULL, *reply = NULL;
        if (!op || !json_object_object_get_ex(op, "request_put", &put)) {
                json_object_put(op);
                return ec_fail_nomem(e);
        }
        int r = ec_post(b, "/v3/kv/put", put, "import a history entry", &reply, e);
        json_object_put(op);
        json_object_put(reply);
        return r;
}

/* No history_page: etcd orders keys by name, not by revision, so a page
 * is cut from the whole (or the guest's) history, read and sorted above. */
void ec_set_actor(mcs_backend *b, const mcs_actor *who) {
        b->who = who ? *who : (mcs_actor){0};
}
