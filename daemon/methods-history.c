/* The history method: a page of the registry's history, newest first,
 * for readers too (it changes nothing). The first question of an
 * isolation incident: who held a label overlapping this one, when, on
 * which host, and who asked. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "methods.h"

static int64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int param_int(request *rq, const char *key, int64_t lo, int64_t hi, int64_t *out, reply_err *err) {
        json_object *v;
        if (!json_object_object_get_ex(rq->params, key, &v))
                return 0;
        /* json-c keeps integers up to INT64_MAX; a double or a string is no count. */
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < lo ||
            json_object_get_int64(v) > hi)
                return fail(err, MCS_PERR_BAD_REQUEST, "%s: parameter '%s' must be an integer from %lld to %lld",
                            rq->method, key, (long long) lo, (long long) hi);
        *out = json_object_get_int64(v);
        return 0;
}

static int param_time(request *rq, const char *key, int64_t now_us, int64_t *out, reply_err *err) {
        const char *text = NULL;
        mcs_err e = {0};
        if (param_string(rq, key, &text, err) < 0)
                return -1;
        if (text && mcs_history_parse_time(text, now_us, out, &e) < 0)
                return fail(err, MCS_PERR_BAD_REQUEST, "%s: parameter '%s': %s", rq->method, key, e.msg);
        return 0;
}

static void iso_time(int64_t us, char *out, size_t len) {
        time_t t = (time_t) (us / 1000000);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
                snprintf(out, len, "?");
}

static json_object *entry_json(const mcs_history_entry *h) {
        char when[32];
        json_object *o = json_object_new_object();
        iso_time(h->at_us, when, sizeof when);
        json_object_object_add(o, "seq", json_object_new_int64((int64_t) h->seq));
        json_object_object_add(o, "time", json_str(when));
        json_object_object_add(o, "at_us", json_object_new_int64(h->at_us));
        json_object_object_add(o, "op", json_str(mcs_history_op_name(h->op)));
        json_object_object_add(o, "uuid", json_str(h->rec.uuid));
        json_object_object_add(o, "name", json_str(h->rec.name));
        json_object_object_add(o, "label", json_str(h->rec.label));
        json_object_object_add(o, "kind", json_str(mcs_kind_name(h->rec.kind)));
        json_object_object_add(o, "state", json_str(mcs_state_name(h->rec.state)));
        json_object_object_add(o, "host", json_str(h->rec.host));
        json_object_object_add(o, "generation", json_object_new_int64((int64_t) h->rec.generation));
        /* null: mcsd itself (an event, reconcile, the hook), no socket peer */
        json_object_object_add(o, "uid", h->who.known ? json_object_new_int64(h->who.uid) : NULL);
        json_object_object_add(o, "pid", h->who.known ? json_object_new_int64(h->who.pid) : NULL);
        return o;
}

/* GUEST: a UUID as given (a released guest is known to its history only);
 * a name: the guest this host or the registry knows by it, else the rows
 * that recorded that name. */
static int guest_filter(request *rq, const char *guest, mcs_history_query *q, char uuid[MCS_UUID_STRLEN + 1],
                        reply_err *err) {
        resolved g;
        reply_err why = {0};
        if (mcs_uuid_canonical(guest, uuid, NULL) == 0) {
                q->uuid = uuid;
                return 0;
        }
        if (resolve_guest(rq, guest, &g, &why) == 0) {
                memcpy(uuid, g.uuid, MCS_UUID_STRLEN + 1);
                q->uuid = uuid;
                resolved_clear(&g);
                return 0;
        }
        if (strcmp(why.code, mcs_code_name(MCS_E_NOTFOUND)) != 0) { /* ambiguous, or the registry failed */
                *err = why;
                return -1;
        }
        q->name = guest;
        return 0;
}

int method_history(request *rq, json_object **result, reply_err *err) {
        const char *guest = NULL;
        char uuid[MCS_UUID_STRLEN + 1];
        int64_t limit = MCS_HISTORY_PAGE_DEFAULT, before = 0, now = now_us();
        mcs_history_query q = {0};
        mcs_history_list l = {0};
        uint64_t next = 0;
        mcs_err e = {0};

        if (param_string(rq, "guest", &guest, err) < 0 || param_string(rq, "label", &q.label, err) < 0 ||
            param_string(rq, "host", &q.host, err) < 0 || param_time(rq, "since", now, &q.since_us, err) < 0 ||
            param_time(rq, "until", now, &q.until_us, err) < 0 ||
            param_int(rq, "limit", 1, MCS_HISTORY_PAGE_MAX, &limit, err) < 0 ||
            param_int(rq, "before", 1, INT64_MAX, &before, err) < 0)
                return -1;
        if (guest && guest_filter(rq, guest, &q, uuid, err) < 0)
                return -1;
        q.limit = (size_t) limit;
        q.before = (uint64_t) before;
        if (mcs_registry_history_query(rq->d->reg, &q, &l, &next, &e) < 0) {
                /* A bad label or host is the request's fault, not the registry's. */
                if (e.code == MCS_E_INVALID || e.code == MCS_E_RANGE)
                        return fail(err, MCS_PERR_BAD_REQUEST, "%s: %s", rq->method, e.msg);
                return fail_mcs(err, &e);
        }
        uint64_t first = 0;
        if (mcs_registry_history_start(rq->d->reg, &first, &e) < 0) {
                mcs_history_list_clear(&l);
                return fail_mcs(err, &e);
        }
        json_object *o = json_object_new_object(), *v = json_object_new_array();
        for (size_t i = 0; i < l.n; i++)
                json_object_array_add(v, entry_json(&l.v[i]));
        json_object_object_add(o, "entries", v);
        json_object_object_add(o, "next", next ? json_object_new_int64((int64_t) next) : NULL);
        json_object_object_add(o, "backend", json_str(mcs_registry_backend_name(rq->d->reg)));
        /* Entries an operator moved away (dir, nfs) took their history: say so. */
        json_object_object_add(o, "history_from", first ? json_object_new_int64((int64_t) first) : NULL);
        mcs_history_list_clear(&l);
        *result = o;
        return 0;
}
