/* What the control socket's methods share: their parameters, a record as
 * JSON, the log line of a change, and finding the guest a request names. */
#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest-table.h"
#include "log.h"
#include "mcs-message-ids.h"
#include "methods.h"

static int param(request *rq, const char *key, json_type want, json_object **out, reply_err *err) {
        json_object *v;
        *out = NULL;
        if (!json_object_object_get_ex(rq->params, key, &v))
                return 0;
        if (!json_object_is_type(v, want))
                return fail(err, MCS_PERR_BAD_REQUEST, "%s: parameter '%s' must be a %s", rq->method, key,
                            json_type_to_name(want));
        *out = v;
        return 0;
}

int param_string(request *rq, const char *key, const char **out, reply_err *err) {
        json_object *v;
        if (param(rq, key, json_type_string, &v, err) < 0)
                return -1;
        if (v)
                *out = json_object_get_string(v);
        return 0;
}

int param_required(request *rq, const char *key, const char **out, reply_err *err) {
        *out = NULL;
        if (param_string(rq, key, out, err) < 0)
                return -1;
        if (!*out || !**out)
                return fail(err, MCS_PERR_BAD_REQUEST, "%s: parameter '%s' is required", rq->method, key);
        return 0;
}

int param_bool(request *rq, const char *key, bool *out, reply_err *err) {
        json_object *v;
        if (param(rq, key, json_type_boolean, &v, err) < 0)
                return -1;
        if (v)
                *out = json_object_get_boolean(v);
        return 0;
}

json_object *record_json(const mcs_record *rec) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "uuid", json_str(rec->uuid));
        json_object_object_add(o, "name", json_str(rec->name));
        json_object_object_add(o, "label", json_str(rec->label));
        json_object_object_add(o, "kind", json_str(mcs_kind_name(rec->kind)));
        json_object_object_add(o, "state", json_str(mcs_state_name(rec->state)));
        json_object_object_add(o, "host", json_str(rec->host));
        json_object_object_add(o, "created_us", json_object_new_int64(rec->created_us));
        json_object_object_add(o, "updated_us", json_object_new_int64(rec->updated_us));
        json_object_object_add(o, "generation", json_object_new_int64((int64_t) rec->generation));
        return o;
}

void guest_unverified_json(const guest_entry *g, json_object *o) {
        char when[32];
        struct tm tm;
        time_t t;
        const char *why = NULL;
        int64_t since = g ? guest_unverified(g, &why) : 0;
        if (!since)
                return;
        t = (time_t) (since / 1000);
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_object_add(o, "unverified_since", json_str(when));
        json_object_object_add(o, "unverified_why", json_str(why));
}

static void change(request *rq, const char *id, const mcs_record *rec, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));
static void change(request *rq, const char *id, const mcs_record *rec, const char *fmt, va_list ap) {
        char what[MCS_ERR_MSG_MAX];
        vsnprintf(what, sizeof what, fmt, ap);
        log_event(id, MCS_LOG_INFO, rec ? rec->name : NULL, rec ? rec->uuid : NULL, rec ? rec->label : NULL,
                  "uid %u pid %d: %s", (unsigned) rq->peer->cred.uid, (int) rq->peer->cred.pid, what);
}

void log_change(request *rq, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        change(rq, NULL, NULL, fmt, ap);
        va_end(ap);
}

void log_change_event(request *rq, const char *id, const mcs_record *rec, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        change(rq, id, rec, fmt, ap);
        va_end(ap);
}

int need_libvirt(request *rq, reply_err *err) {
        if (!rq->d->conn)
                return fail(err, MCS_PERR_UNAVAILABLE, "mcsd is not connected to %s", rq->d->cfg.uri);
        return 0;
}

void resolved_clear(resolved *r) {
        if (r->dom)
                virDomainFree(r->dom);
        *r = (resolved){0};
}

static void take_domain(resolved *out, virDomainPtr dom) {
        out->dom = dom;
        out->known = true;
        virDomainGetUUIDString(dom, out->uuid);
        snprintf(out->name, sizeof out->name, "%s", virDomainGetName(dom));
}

static int resolve_name(request *rq, const char *guest, resolved *out, reply_err *err) {
        mcsd *d = rq->d;
        mcs_record_list l = {0};
        mcs_err e = {0};
        char q[MCS_QUOTE_MAX];
        virDomainPtr dom = d->conn ? virDomainLookupByName(d->conn, guest) : NULL;

        if (dom) {
                take_domain(out, dom);
                return 0;
        }
        mcs_filter f = MCS_FILTER_ALL;
        f.name = guest;
        if (mcs_registry_list(d->reg, &f, &l, &e) < 0)
                return fail_mcs(err, &e);
        int r = 0;
        if (l.n == 0)
                r = fail(err, mcs_code_name(MCS_E_NOTFOUND), "no guest named '%s' on this host (%s) or in the registry",
                         mcs_quote(guest, q, sizeof q), d->host_id);
        else if (l.n > 1)
                r = fail(err, MCS_PERR_AMBIGUOUS, "%zu guests are named '%s' (on hosts %s, %s%s); name one by UUID", l.n,
                         mcs_quote(guest, q, sizeof q), l.v[0].host, l.v[1].host, l.n > 2 ? ", ..." : "");
        else {
                strcpy(out->uuid, l.v[0].uuid);
                snprintf(out->name, sizeof out->name, "%s", l.v[0].name);
                out->known = true;
        }
        mcs_record_list_clear(&l);
        return r;
}

static int resolve(request *rq, const char *guest, bool registry_too, resolved *out, reply_err *err) {
        mcs_err e = {0};
        mcs_record rec = {0};
        *out = (resolved){0};
        if (mcs_uuid_canonical(guest, out->uuid, NULL) < 0)
                return resolve_name(rq, guest, out, err);
        virDomainPtr dom = rq->d->conn ? virDomainLookupByUUIDString(rq->d->conn, out->uuid) : NULL;
        if (dom) {
                take_domain(out, dom);
                return 0;
        }
        if (!registry_too)
                return 0;
        int r = mcs_registry_get(rq->d->reg, out->uuid, &rec, &e);
        if (r < 0 && r != -MCS_E_NOTFOUND)
                return fail_mcs(err, &e);
        if (r == 0) {
                snprintf(out->name, sizeof out->name, "%s", rec.name);
                out->known = true;
                mcs_record_clear(&rec);
        }
        return 0;
}

int resolve_guest(request *rq, const char *guest, resolved *out, reply_err *err) {
        return resolve(rq, guest, true, out, err);
}

int resolve_guest_for_write(request *rq, const char *guest, resolved *out, reply_err *err) {
        return resolve(rq, guest, false, out, err);
}
