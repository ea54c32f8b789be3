/* Methods about reservations: status, list, show, reserve, release. */
#include <errno.h>
#include <libvirt/virterror.h>
#include <selinux/selinux.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcs-level.h"
#include "guest-table.h"
#include "heartbeat.h"
#include "methods.h"
#include "metrics.h"

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
        json_object_object_add(x, "collision", json_object_new_int64((int64_t) count[MCS_GUEST_COLLISION]));
        json_object_object_add(x, "unverified", json_object_new_int64((int64_t) guests_unverified(d)));
        json_object_object_add(o, "guests", x);
        x = json_object_new_object();
        size_t connected = rq->origin ? rq->port->connected(rq->origin) : 0;
        json_object_object_add(x, "connected", json_object_new_int64((int64_t) connected));
        json_object_object_add(x, "max", json_object_new_int64((int64_t) d->cfg.max_clients));
        json_object_object_add(o, "clients", x);
        write_group_stats ws;
        write_group_stats_get(d, &ws);
        x = json_object_new_object();
        json_object_object_add(x, "writes", json_object_new_int64((int64_t) ws.writes));
        json_object_object_add(x, "commits", json_object_new_int64((int64_t) ws.commits));
        json_object_object_add(x, "largest", json_object_new_int64((int64_t) ws.largest));
        json_object_object_add(o, "client_writes", x);
        uint64_t hr, hc, hl;
        hook_server_stats(d, &hr, &hc, &hl);
        x = json_object_new_object();
        json_object_object_add(x, "requests", json_object_new_int64((int64_t) hr));
        json_object_object_add(x, "commits", json_object_new_int64((int64_t) hc));
        json_object_object_add(x, "largest", json_object_new_int64((int64_t) hl));
        json_object_object_add(o, "hook_requests", x);
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
        const guest_entry *g = guests_find(d->guests, uuid);
        mcs_guest_status st = g ? guest_status(g) : MCS_GUEST_STATUSES;
        json_object_object_add(o, "status", json_str(g ? mcs_guest_status_name(st) : NULL));
        json_object_object_add(o, "why", json_str(g && guest_why(g) && *guest_why(g) ? guest_why(g) : NULL));
        guest_unverified_json(g, o);
        /* A collision: the reservation its label overlaps, or the guest of
         * this host that runs with a label overlapping its own. */
        if (st == MCS_GUEST_COLLISION && guest_other(g)->label)
                json_object_object_add(o, "collides_with", record_json(guest_other(g)));
        else if (st == MCS_GUEST_COLLISION && guest_partner(g)[0]) {
                const guest_entry *p = guests_find(d->guests, guest_partner(g));
                json_object *x = json_object_new_object();
                json_object_object_add(x, "uuid", json_str(guest_partner(g)));
                json_object_object_add(x, "name", json_str(p ? guest_name(p) : NULL));
                json_object_object_add(x, "host", json_str(d->host_id));
                json_object_object_add(x, "state", json_str("running"));
                json_object_object_add(o, "collides_with", x);
        }
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
        /* The registry failing, a guest of this host is still shown as
         * libvirt has it, with the registry's error beside it. */
        if (r < 0 && r != -MCS_E_NOTFOUND && !g.dom) {
                resolved_clear(&g);
                return fail_mcs(err, &e);
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "uuid", json_str(g.uuid));
        json_object_object_add(o, "name", json_str(g.name));
        json_object_object_add(o, "reservation", r == 0 ? record_json(&rec) : NULL);
        if (r < 0 && r != -MCS_E_NOTFOUND)
                json_object_object_add(o, "registry_error", json_str(e.msg));
        json_object_object_add(o, "libvirt", g.dom ? libvirt_json(rq->d, g.dom) : NULL);
        mcs_record_clear(&rec);
        resolved_clear(&g);
        *result = o;
        return 0;
}

/* ---- reserve and release: their writes share commits (write-group.c) ---- */

typedef struct reserve_state {
        resolved g;
        char *name, *label;
        mcs_record rec;
        bool created;
} reserve_state;

static void reserve_free(void *state) {
        reserve_state *w = state;
        resolved_clear(&w->g);
        free(w->name);
        free(w->label);
        mcs_record_clear(&w->rec);
        free(w);
}

static int reserve_write(request *rq, void *state, reply_err *err) {
        reserve_state *w = state;
        mcs_guest mg = {.uuid = w->g.uuid, .name = w->name, .kind = MCS_KIND_STATIC};
        mcs_err e = {0};
        mcs_record_clear(&w->rec);
        int r = w->label ? mcs_registry_reserve_label(rq->d->reg, &mg, w->label, &w->rec, &w->created, &e)
                         : mcs_registry_reserve(rq->d->reg, &mg, &w->rec, &w->created, &e);
        if (r == 0)
                return 0; /* counted once it is committed (reserve_finish) */
        metrics_reservation(rq->d->metrics, r == -MCS_E_EXHAUSTED ? METRICS_RESERVE_EXHAUSTED
                                            : r == -MCS_E_CONFLICT || r == -MCS_E_INVALID || r == -MCS_E_EXISTS
                                                    ? METRICS_RESERVE_REFUSED
                                                    : METRICS_RESERVE_FAILED);
        return fail_mcs(err, &e);
}

static int reserve_finish(request *rq, void *state, json_object **result, reply_err *err) {
        reserve_state *w = state;
        mcsd *d = rq->d;
        mcs_err e = {0};

        if (w->created) {
                log_change_event(rq, MCS_MSGID_RESERVED, &w->rec, "reserved %s for guest '%s' (%s)", w->rec.label,
                                 w->rec.name, w->rec.uuid);
                metrics_reservation(d->metrics, METRICS_RESERVE_CREATED);
        }
        /* A guest defined here gets the label into its XML at once. */
        if (w->g.dom && d->conn) {
                guest_report rep;
                guests_apply(d, w->g.dom, &rep);
                mcsd_update_status(d);
                mcs_record_clear(&w->rec);
                if (mcs_registry_get(d->reg, w->g.uuid, &w->rec, &e) < 0)
                        return fail_mcs(err, &e);
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "created", json_object_new_boolean(w->created));
        json_object_object_add(o, "record", record_json(&w->rec));
        *result = o;
        return 0;
}

static const group_write_ops reserve_ops = {reserve_write, reserve_finish, reserve_free};

int method_reserve(request *rq, json_object **result, reply_err *err) {
        const char *guest, *label = NULL, *name = NULL;
        reserve_state *w = calloc(1, sizeof *w);

        if (!w)
                return fail(err, mcs_code_name(MCS_E_NOMEM), "out of memory");
        if (param_required(rq, "guest", &guest, err) < 0 || param_string(rq, "label", &label, err) < 0 ||
            param_string(rq, "name", &name, err) < 0 || resolve_guest_for_write(rq, guest, &w->g, err) < 0) {
                reserve_free(w);
                return -1;
        }
        if (!name)
                name = w->g.name[0] ? w->g.name : w->g.uuid;
        if (!(w->name = strdup(name)) || (label && !(w->label = strdup(label)))) {
                reserve_free(w);
                return fail(err, mcs_code_name(MCS_E_NOMEM), "out of memory");
        }
        return group_write(rq, &reserve_ops, w, result, err);
}

typedef struct release_state {
        resolved g;
        char *asked; /* the guest as the client named it */
        mcs_record rec;
} release_state;

static void release_free(void *state) {
        release_state *w = state;
        resolved_clear(&w->g);
        free(w->asked);
        mcs_record_clear(&w->rec);
        free(w);
}

/* Reads the record and releases it if it is still the one read, in one
 * batch with the other writes. */
static int release_write(request *rq, void *state, reply_err *err) {
        release_state *w = state;
        mcsd *d = rq->d;
        mcs_err e = {0};
        int r;

        mcs_record_clear(&w->rec);
        if ((r = mcs_registry_get(d->reg, w->g.uuid, &w->rec, &e)) < 0) {
                char q[MCS_QUOTE_MAX];
                if (r == -MCS_E_NOTFOUND)
                        return fail(err, mcs_code_name(MCS_E_NOTFOUND), "guest %s holds no reservation",
                                    mcs_quote(w->asked, q, sizeof q));
                return fail_mcs(err, &e);
        }
        if (w->g.dom)
                return fail(err, MCS_PERR_IN_USE,
                            "guest '%s' is defined on this host and would take %s back at once; undefine it first "
                            "(its label is released %u ms later)",
                            w->g.name, w->rec.label, d->cfg.undefine_grace_ms);
        if (w->rec.state != MCS_STATE_RESERVED)
                return fail(err, MCS_PERR_IN_USE, "guest '%s' %s with %s on host %s; stop it there first", w->rec.name,
                            w->rec.state == MCS_STATE_MIGRATING ? "migrates" : "runs", w->rec.label, w->rec.host);
        if ((r = mcs_registry_release_if(d->reg, w->g.uuid, w->rec.host, w->rec.generation, NULL, &e)) < 0) {
                metrics_release(d->metrics, r == -MCS_E_CHANGED ? METRICS_RELEASE_KEPT : METRICS_RELEASE_FAILED);
                return fail_mcs(err, &e);
        }
        return 0;
}

static int release_finish(request *rq, void *state, json_object **result, reply_err *err) {
        release_state *w = state;
        (void) err;
        log_change_event(rq, MCS_MSGID_RELEASED, &w->rec, "released %s of guest '%s' (%s, host %s)", w->rec.label,
                         w->rec.name, w->rec.uuid, w->rec.host);
        metrics_release(rq->d->metrics, METRICS_RELEASE_RELEASED);
        images_restore(rq->d, w->rec.uuid, w->rec.label);
        guests_label_freed(rq->d);
        *result = json_object_new_object();
        json_object_object_add(*result, "record", record_json(&w->rec));
        return 0;
}

static const group_write_ops release_ops = {release_write, release_finish, release_free};

int method_release(request *rq, json_object **result, reply_err *err) {
        const char *guest;
        release_state *w = calloc(1, sizeof *w);

        if (!w)
                return fail(err, mcs_code_name(MCS_E_NOMEM), "out of memory");
        if (param_required(rq, "guest", &guest, err) < 0 || resolve_guest_for_write(rq, guest, &w->g, err) < 0) {
                release_free(w);
                return -1;
        }
        if (!(w->asked = strdup(guest))) {
                release_free(w);
                return fail(err, mcs_code_name(MCS_E_NOMEM), "out of memory");
        }
        return group_write(rq, &release_ops, w, result, err);
}
