/* Methods about reservations: status, list, show, reserve, release. */
#include <errno.h>
#include <libvirt/virterror.h>
#include <selinux/selinux.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mcs-level.h"
#include "heartbeat.h"
#include "methods.h"

int method_status(request *rq, json_object **result, reply_err *err) {
        mcsd *d = rq->d;
        mcs_alloc_stats st;
        mcs_err e = {0};
        char range[MCS_RANGE_STRMAX];
        size_t count[MCS_GUEST_STATUSES];

        /* A failing registry is what status must show, not a reason to fail. */
        bool stats_ok = mcs_registry_stats(d->reg, &st, &e) == 0;
        (void) err;
        guests_count(d, count);
        if (mcs_catset_format(&d->pool, range, sizeof range) < 0)
                snprintf(range, sizeof range, "?");

        json_object *o = json_object_new_object(), *x;
        json_object_object_add(o, "version", json_str(MCSD_VERSION));
        json_object_object_add(o, "pid", json_object_new_int((int) getpid()));
        json_object_object_add(o, "host", json_str(d->host_id));
        x = json_object_new_object();
        json_object_object_add(x, "backend", json_str(mcs_registry_backend_name(d->reg)));
        json_object_object_add(x, "location",
                               json_str(d->cfg.registry ? d->cfg.registry : mcs_registry_default_location()));
        heartbeat_status(d, x);
        json_object_object_add(o, "registry", x);
        x = json_object_new_object();
        json_object_object_add(x, "uri", json_str(d->cfg.uri));
        json_object_object_add(x, "connected", json_object_new_boolean(d->conn != NULL));
        json_object_object_add(x, "security_models", json_str(d->secmodels_known ? d->secmodels.list : NULL));
        json_object_object_add(o, "libvirt", x);
        static const char *const policies[] = {"write", "reserve", "off"};
        json_object_object_add(o, "labelling", json_str(d->secmodels_known ? policies[d->policy] : NULL));
        json_object_object_add(o, "labelling_why", json_str(guests_policy_text(d)));
        json_object_object_add(o, "range", json_str(range));
        x = json_object_new_object();
        json_object_object_add(x, "held", stats_ok ? json_object_new_int64((int64_t) st.labels) : NULL);
        json_object_object_add(x, "pool_pairs", stats_ok ? json_object_new_int64((int64_t) st.pool_pairs) : NULL);
        json_object_object_add(x, "free_pairs", stats_ok ? json_object_new_int64((int64_t) st.free_pairs) : NULL);
        if (!stats_ok)
                json_object_object_add(x, "error", json_str(e.msg));
        json_object_object_add(o, "labels", x);
        x = json_object_new_object();
        json_object_object_add(x, "managed", json_object_new_int64((int64_t) count[MCS_GUEST_MANAGED]));
        json_object_object_add(x, "unmanaged", json_object_new_int64((int64_t) count[MCS_GUEST_UNMANAGED]));
        json_object_object_add(x, "refused", json_object_new_int64((int64_t) count[MCS_GUEST_REFUSED]));
        json_object_object_add(x, "failed", json_object_new_int64((int64_t) count[MCS_GUEST_FAILED]));
        json_object_object_add(x, "waiting", json_object_new_int64((int64_t) count[MCS_GUEST_WAITING]));
        json_object_object_add(o, "guests", x);
        x = json_object_new_object();
        json_object_object_add(x, "connected", json_object_new_int64((int64_t) d->n_clients));
        json_object_object_add(x, "max", json_object_new_int64((int64_t) d->cfg.max_clients));
        json_object_object_add(o, "clients", x);
        *result = o;
        return 0;
}

int method_list(request *rq, json_object **result, reply_err *err) {
        mcs_filter f = MCS_FILTER_ALL;
        const char *state = NULL, *kind = NULL;
        mcs_record_list l = {0};
        mcs_err e = {0};
        char q[MCS_QUOTE_MAX];

        if (param_string(rq, "host", &f.host, err) < 0 || param_string(rq, "name", &f.name, err) < 0 ||
            param_string(rq, "state", &state, err) < 0 || param_string(rq, "kind", &kind, err) < 0)
                return -1;
        mcs_state s;
        mcs_kind k;
        if (state) {
                if (mcs_state_from_name(state, &s) < 0)
                        return fail(err, MCS_PERR_BAD_REQUEST, "list: state '%s' is not reserved or running",
                                    mcs_quote(state, q, sizeof q));
                f.state = (int) s;
        }
        if (kind) {
                if (mcs_kind_from_name(kind, &k) < 0)
                        return fail(err, MCS_PERR_BAD_REQUEST, "list: kind '%s' is not dynamic, static or transient",
                                    mcs_quote(kind, q, sizeof q));
                f.kind = (int) k;
        }
        if (mcs_registry_list(rq->d->reg, &f, &l, &e) < 0)
                return fail_mcs(err, &e);
        mcs_host_list hosts = {0};
        mcs_registry_hosts(rq->d->reg, &hosts, NULL); /* without it no host is called silent */
        json_object *a = json_object_new_array_ext((int) l.n);
        for (size_t i = 0; i < l.n; i++) {
                json_object *x = record_json(&l.v[i]);
                json_object_object_add(x, "host_silent",
                                       json_object_new_boolean(heartbeat_host_silent(rq->d, &hosts, l.v[i].host)));
                json_object_array_add(a, x);
        }
        mcs_host_list_clear(&hosts);
        mcs_record_list_clear(&l);
        *result = json_object_new_object();
        json_object_object_add(*result, "records", a);
        return 0;
}

/* ---- show ---- */

static json_object *disk_json(const mcs_disk *k) {
        json_object *o = json_object_new_object();
        char *con = NULL;
        json_object_object_add(o, "path", json_str(k->path));
        json_object_object_add(o, "type", json_str(k->block ? "block" : "file"));
        json_object_object_add(o, "readonly", json_object_new_boolean(k->readonly));
        json_object_object_add(o, "shareable", json_object_new_boolean(k->shareable));
        json_object_object_add(o, "relabel", json_object_new_boolean(!k->norelabel));
        if (getfilecon(k->path, &con) >= 0) {
                json_object_object_add(o, "label", json_str(con));
                freecon(con);
        } else {
                json_object_object_add(o, "label", NULL);
                json_object_object_add(o, "error", json_str(errno == ENODATA ? "no label" : strerror(errno)));
        }
        return o;
}

static json_object *libvirt_json(mcsd *d, virDomainPtr dom) {
        int persistent = virDomainIsPersistent(dom), active = virDomainIsActive(dom);
        mcs_domain parsed = {0};
        mcs_err e = {0};
        json_object *o = json_object_new_object();
        char uuid[VIR_UUID_STRING_BUFLEN] = "";

        virDomainGetUUIDString(dom, uuid);
        json_object_object_add(o, "name", json_str(virDomainGetName(dom)));
        json_object_object_add(o, "persistent", json_object_new_boolean(persistent == 1));
        json_object_object_add(o, "active", json_object_new_boolean(active == 1));
        guest_entry *g = guests_find(d, uuid);
        json_object_object_add(o, "status", json_str(g ? mcs_guest_status_name(g->status) : NULL));
        json_object_object_add(o, "why", json_str(g && g->why && *g->why ? g->why : NULL));
        if (domain_parse(dom, persistent == 1, &parsed, &e) < 0) {
                json_object_object_add(o, "error", json_str(e.msg));
                return o;
        }
        json_object *sl = json_object_new_object();
        json_object_object_add(sl, "mode", json_str(mcs_seclabel_mode_name(parsed.mode)));
        json_object_object_add(sl, "relabel", json_object_new_boolean(parsed.relabel));
        json_object_object_add(sl, "label", json_str(parsed.label));
        json_object_object_add(o, "seclabel", sl);
        char *live = active == 1 ? domain_live_label(dom) : NULL;
        json_object_object_add(o, "live_label", json_str(live));
        free(live);
        json_object *disks = json_object_new_array();
        for (size_t i = 0; i < parsed.n_disks; i++)
                json_object_array_add(disks, disk_json(&parsed.disks[i]));
        json_object_object_add(o, "disks", disks);
        mcs_domain_clear(&parsed);
        return o;
}

int method_show(request *rq, json_object **result, reply_err *err) {
        const char *guest;
        resolved g;
        mcs_record rec = {0};
        mcs_err e = {0};

        if (param_required(rq, "guest", &guest, err) < 0 || resolve_guest(rq, guest, &g, err) < 0)
                return -1;
        if (!g.known) {
                resolved_clear(&g);
                return fail(err, mcs_code_name(MCS_E_NOTFOUND), "no guest %s on this host (%s) or in the registry", guest,
                            rq->d->host_id);
        }
        int r = mcs_registry_get(rq->d->reg, g.uuid, &rec, &e);
        if (r < 0 && r != -MCS_E_NOTFOUND) {
                resolved_clear(&g);
                return fail_mcs(err, &e);
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "uuid", json_str(g.uuid));
        json_object_object_add(o, "name", json_str(g.name));
        json_object_object_add(o, "reservation", r == 0 ? record_json(&rec) : NULL);
        json_object_object_add(o, "libvirt", g.dom ? libvirt_json(rq->d, g.dom) : NULL);
        mcs_record_clear(&rec);
        resolved_clear(&g);
        *result = o;
        return 0;
}

/* ---- reserve and release ---- */

int method_reserve(request *rq, json_object **result, reply_err *err) {
        mcsd *d = rq->d;
        const char *guest, *label = NULL, *name = NULL;
        resolved g;
        mcs_record rec = {0};
        mcs_err e = {0};
        bool created = false;
        int r;

        if (param_required(rq, "guest", &guest, err) < 0 || param_string(rq, "label", &label, err) < 0 ||
            param_string(rq, "name", &name, err) < 0 || resolve_guest(rq, guest, &g, err) < 0)
                return -1;
        if (!name)
                name = g.name[0] ? g.name : g.uuid;
        mcs_guest mg = {.uuid = g.uuid, .name = name, .kind = MCS_KIND_STATIC};
        r = label ? mcs_registry_reserve_label(d->reg, &mg, label, &rec, &created, &e)
                  : mcs_registry_reserve(d->reg, &mg, &rec, &created, &e);
        if (r < 0) {
                resolved_clear(&g);
                return fail_mcs(err, &e);
        }
        if (created)
                log_change(rq, "reserved %s for guest '%s' (%s)", rec.label, rec.name, rec.uuid);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "created", json_object_new_boolean(created));
        /* A guest defined here gets the label into its XML at once. */
        if (g.dom && d->conn) {
                guest_report rep;
                guests_apply(d, g.dom, &rep);
                mcsd_update_status(d);
                mcs_record_clear(&rec);
                if (mcs_registry_get(d->reg, g.uuid, &rec, &e) < 0) {
                        json_object_put(o);
                        resolved_clear(&g);
                        return fail_mcs(err, &e);
                }
        }
        json_object_object_add(o, "record", record_json(&rec));
        mcs_record_clear(&rec);
        resolved_clear(&g);
        *result = o;
        return 0;
}

int method_release(request *rq, json_object **result, reply_err *err) {
        mcsd *d = rq->d;
        const char *guest;
        resolved g;
        mcs_record rec = {0};
        mcs_err e = {0};
        int r;

        if (param_required(rq, "guest", &guest, err) < 0 || resolve_guest(rq, guest, &g, err) < 0)
                return -1;
        if ((r = mcs_registry_get(d->reg, g.uuid, &rec, &e)) < 0) {
                resolved_clear(&g);
                char q[MCS_QUOTE_MAX];
                if (r == -MCS_E_NOTFOUND)
                        return fail(err, mcs_code_name(MCS_E_NOTFOUND), "guest %s holds no reservation",
                                    mcs_quote(guest, q, sizeof q));
                return fail_mcs(err, &e);
        }
        if (g.dom) {
                r = fail(err, MCS_PERR_IN_USE,
                         "guest '%s' is defined on this host and would take %s back at once; undefine it first "
                         "(its label is released %u ms later)",
                         g.name, rec.label, d->cfg.undefine_grace_ms);
        } else if (rec.state == MCS_STATE_RUNNING) {
                r = fail(err, MCS_PERR_IN_USE, "guest '%s' runs with %s on host %s; stop it there first", rec.name,
                         rec.label, rec.host);
        } else if (mcs_registry_release_if(d->reg, g.uuid, rec.host, rec.generation, NULL, &e) < 0) {
                r = fail_mcs(err, &e);
        } else {
                log_change(rq, "released %s of guest '%s' (%s, host %s)", rec.label, rec.name, rec.uuid, rec.host);
                images_restore(d, rec.uuid, rec.label);
                guests_label_freed(d);
                *result = json_object_new_object();
                json_object_object_add(*result, "record", record_json(&rec));
        }
        mcs_record_clear(&rec);
        resolved_clear(&g);
        return r < 0 ? -1 : 0;
}
