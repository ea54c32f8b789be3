/* One request line to one reply line: parses and checks the JSON envelope,
 * checks the peer may call the method, runs it, and formats the reply
 * (the envelope itself is envelope.c's).
 * Also the helpers the methods share. */
#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mcs-macro.h"
#include "methods.h"

static const struct method {
        const char *name;
        method_fn fn;
        bool changes;              /* reserved to root and admin_group */
        const char *const params[8];
} methods[] = {
        {"status", method_status, false, {NULL}},
        {"list", method_list, false, {"host", "state", "kind", "name"}},
        {"show", method_show, false, {"guest"}},
        {"check", method_check, false, {NULL}},
        {"history", method_history, false, {"guest", "label", "host", "since", "until", "limit", "before"}},
        {"reserve", method_reserve, true, {"guest", "label", "name"}},
        {"release", method_release, true, {"guest"}},
        {"relabel", method_relabel, true, {"guest"}},
        {"relabel_tree", method_relabel_tree, true, {"path", "label"}},
        {"nfs_export", method_nfs_export, true, {"path", "type", "remove"}},
        {"import", method_import, true, {NULL}},
        {"gc", method_gc, true, {"host", "static", "dry_run"}},
};

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

void log_change(request *rq, const char *fmt, ...) {
        char what[MCS_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        log_msg(MCS_LOG_INFO, "uid %u pid %d: %s", (unsigned) rq->peer->cred.uid, (int) rq->peer->cred.pid, what);
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

static int check_envelope(json_object *req, json_object **id, const struct method **m, json_object **params,
                          reply_err *err) {
        json_object *v;
        const char *name;
        if (control_check_envelope(req, id, &name, err) < 0)
                return -1;
        *m = NULL;
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
                if (!strcmp(methods[i].name, name))
                        *m = &methods[i];
        if (!*m) {
                char q[MCS_QUOTE_MAX];
                return fail(err, MCS_PERR_METHOD, "no method '%s'", mcs_quote(name, q, sizeof q));
        }
        *params = NULL;
        if (json_object_object_get_ex(req, "params", &v) && !json_object_is_type(v, json_type_null)) {
                if (!json_object_is_type(v, json_type_object))
                        return fail(err, MCS_PERR_BAD_REQUEST, "'params' must be an object");
                json_object_object_foreach(v, pkey, pval) {
                        (void) pval;
                        bool known = false;
                        for (size_t i = 0; i < MCS_ARRAY_SIZE((*m)->params) && (*m)->params[i]; i++)
                                known |= !strcmp((*m)->params[i], pkey);
                        if (!known) {
                                char q[MCS_QUOTE_MAX];
                                return fail(err, MCS_PERR_BAD_REQUEST, "%s: unknown parameter '%s'", name,
                                            mcs_quote(pkey, q, sizeof q));
                        }
                }
                *params = v;
        }
        return 0;
}

char *control_dispatch(mcsd *d, const control_peer *peer, control_client *origin, const char *line, size_t len) {
        json_object *req = NULL, *id = NULL, *params = NULL, *result = NULL;
        const struct method *m = NULL;
        reply_err err = {0};
        char *reply;

        if (control_parse_request(line, len, &req, &err) < 0)
                return control_reply(NULL, NULL, &err);
        if (check_envelope(req, &id, &m, &params, &err) < 0)
                goto error;
        if (m->changes && !peer->admin) {
                log_msg(MCS_LOG_WARNING, "uid %u pid %d: %s refused: not an administrator", (unsigned) peer->cred.uid,
                        (int) peer->cred.pid, m->name);
                fail(&err, MCS_PERR_DENIED, "%s changes reservations: only root%s%s%s may (you are uid %u)", m->name,
                     d->cfg.admin_group ? " and members of group '" : "", d->cfg.admin_group ? d->cfg.admin_group : "",
                     d->cfg.admin_group ? "'" : "", (unsigned) peer->cred.uid);
                goto error;
        }
        json_object *empty = params ? NULL : json_object_new_object();
        request rq = {.d = d, .peer = peer, .method = m->name, .params = params ? params : empty, .id = id,
                      .origin = origin};
        /* The history records who asked for each change it makes now (a
         * write queued for a group records it there: write-group.c). */
        mcs_actor who = {.known = true, .uid = peer->cred.uid, .pid = peer->cred.pid};
        if (m->changes)
                mcs_registry_set_actor(d->reg, &who);
        int r = m->fn(&rq, &result, &err);
        if (m->changes)
                mcs_registry_set_actor(d->reg, NULL);
        json_object_put(empty);
        if (r < 0)
                goto error;
        if (r > 0) { /* a job answers later */
                json_object_put(req);
                return reply_deferred;
        }
        reply = control_reply(id, result, &err);
        json_object_put(req);
        return reply;
error:
        reply = control_reply(id, NULL, &err);
        json_object_put(req);
        return reply;
}
