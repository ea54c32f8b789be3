/* Methods that need this host's libvirt: relabel, check, import, gc. */
#include <errno.h>
#include <libvirt/virterror.h>
#include <selinux/selinux.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest-table.h"
#include "mcs-guest-check.h"
#include "mcs-macro.h"
#include "methods.h"

static json_object *report_json(const guest_report *rep) {
        json_object *o = json_object_new_object();
        const char *what = rep->failed                         ? "failed"
                           : rep->status != MCS_GUEST_MANAGED ? mcs_guest_status_name(rep->status)
                           : rep->adopted                     ? "adopted"
                           : rep->created                     ? "reserved"
                                                              : "kept";
        json_object_object_add(o, "uuid", json_str(rep->uuid));
        json_object_object_add(o, "name", json_str(rep->name));
        json_object_object_add(o, "outcome", json_str(what));
        json_object_object_add(o, "label", json_str(rep->label[0] ? rep->label : NULL));
        json_object_object_add(o, "rewritten", json_object_new_boolean(rep->rewritten));
        json_object_object_add(o, "why", json_str(rep->why[0] ? rep->why : NULL));
        return o;
}

int method_relabel(request *rq, json_object **result, reply_err *err) {
        const char *guest;
        resolved g;
        guest_report rep;

        if (need_libvirt(rq, err) < 0 || param_required(rq, "guest", &guest, err) < 0 ||
            resolve_guest(rq, guest, &g, err) < 0)
                return -1;
        if (!g.dom) {
                char q[MCS_QUOTE_MAX];
                resolved_clear(&g);
                return fail(err, mcs_code_name(MCS_E_NOTFOUND), "guest %s is not defined on this host (%s)",
                            mcs_quote(guest, q, sizeof q), rq->d->host_id);
        }
        int r = guests_apply(rq->d, g.dom, &rep);
        mcsd_update_status(rq->d);
        log_change(rq, "relabel guest '%s': %s", rep.name, r < 0 ? rep.why : mcs_guest_status_name(rep.status));
        if (r < 0) {
                resolved_clear(&g);
                return fail(err, mcs_code_name(MCS_E_IO), "guest %s: %s", guest, rep.why);
        }
        json_object *images = NULL;
        mcs_err e = {0};
        if (rep.status == MCS_GUEST_MANAGED && images_relabel(rq->d, g.dom, rep.label, &images, &e) < 0) {
                resolved_clear(&g);
                return fail(err, mcs_code_name(e.code), "guest '%s': its images: %s", rep.name, e.msg);
        }
        resolved_clear(&g);
        *result = report_json(&rep);
        json_object_object_add(*result, "images", images ? images : json_object_new_array());
        return 0;
}

/* This host's guests, or an error. */
static int list_domains(request *rq, virDomainPtr **out, reply_err *err) {
        int n = virConnectListAllDomains(rq->d->conn, out, 0);
        if (n < 0)
                return fail(err, MCS_PERR_UNAVAILABLE, "cannot list the guests of %s: %s", rq->d->cfg.uri,
                            virGetLastErrorMessage());
        return n;
}

/* ---- check ---- */

static void add_problem(void *opaque, const char *uuid, const char *name, const char *what) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "uuid", json_str(uuid));
        json_object_object_add(o, "name", json_str(name));
        json_object_object_add(o, "problem", json_str(what));
        json_object_array_add(opaque, o);
}

static void check_one(request *rq, virDomainPtr dom, json_object *problems) {
        mcsd *d = rq->d;
        int persistent = virDomainIsPersistent(dom), active = virDomainIsActive(dom);
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        mcs_domain parsed = {0};
        mcs_record rec = {0};
        mcs_err e = {0};
        char msg[MCS_ERR_MSG_MAX + 64];

        virDomainGetUUIDString(dom, uuid);
        if (domain_parse(dom, persistent == 1, &parsed, &e) < 0) {
                add_problem(problems, uuid, virDomainGetName(dom), e.msg);
                return;
        }
        int r = mcs_registry_get(d->reg, parsed.uuid, &rec, &e);
        if (r < 0 && r != -MCS_E_NOTFOUND) {
                snprintf(msg, sizeof msg, "cannot read its reservation: %s", e.msg);
                add_problem(problems, uuid, parsed.name, msg);
                mcs_domain_clear(&parsed);
                return;
        }
        _cleanup_free_ char *live = active == 1 ? domain_live_label(dom) : NULL;
        char **labels = calloc(parsed.n_disks + 1, sizeof *labels);
        int *errs = calloc(parsed.n_disks + 1, sizeof *errs);
        for (size_t i = 0; labels && errs && i < parsed.n_disks; i++)
                if (getfilecon(parsed.disks[i].path, &labels[i]) < 0) {
                        labels[i] = NULL;
                        errs[i] = errno == ENODATA || errno == ENOTSUP ? 0 : errno;
                }
        const guest_entry *g = guests_find(d->guests, parsed.uuid);
        mcs_guest_status st = g ? guest_status(g) : MCS_GUEST_STATUSES;
        mcs_check_guest_input in = {
                .refused = st == MCS_GUEST_REFUSED ? guest_why(g) : NULL,
                .failed = st == MCS_GUEST_FAILED ? guest_why(g) : NULL,
                .waiting = st == MCS_GUEST_WAITING ? guest_why(g) : NULL,
                .collision = st == MCS_GUEST_COLLISION ? guest_why(g) : NULL,
                .policy = d->policy,
                .dom = &parsed,
                .persistent = persistent == 1,
                .active = active == 1,
                .excluded = mcs_config_excludes(&d->cfg, parsed.name),
                .live_label = live,
                .rec = r == 0 ? &rec : NULL,
                .host_id = d->host_id,
                .selinux_host = d->secmodels.selinux,
                .disk_labels = (const char *const *) labels,
                .disk_errno = errs,
        };
        if (labels && errs)
                mcs_check_guest(&in, add_problem, problems);
        else
                add_problem(problems, uuid, parsed.name, "out of memory");
        for (size_t i = 0; labels && i < parsed.n_disks; i++)
                freecon(labels[i]);
        free(labels);
        free(errs);
        mcs_record_clear(&rec);
        mcs_domain_clear(&parsed);
}

/* The registry fails: this host's guests as libvirt and mcsd's table have
 * them, each with the status mcsd last gave it (a collision or a failure
 * known before is a problem still); their reservations are not compared. */
static json_object *libvirt_only(request *rq, virDomainPtr *doms, int n, json_object *problems) {
        json_object *a = json_object_new_array();
        for (int i = 0; i < n; i++) {
                char uuid[VIR_UUID_STRING_BUFLEN] = "";
                virDomainGetUUIDString(doms[i], uuid);
                const guest_entry *g = guests_find(rq->d->guests, uuid);
                json_object *o = json_object_new_object();
                json_object_object_add(o, "uuid", json_str(uuid));
                json_object_object_add(o, "name", json_str(virDomainGetName(doms[i])));
                json_object_object_add(o, "active", json_object_new_boolean(virDomainIsActive(doms[i]) == 1));
                json_object_object_add(o, "status", json_str(g ? mcs_guest_status_name(guest_status(g)) : NULL));
                json_object_object_add(o, "why", json_str(g && guest_why(g) && *guest_why(g) ? guest_why(g) : NULL));
                guest_unverified_json(g, o);
                json_object_array_add(a, o);
                if (g && guest_status(g) == MCS_GUEST_COLLISION) {
                        char what[MCS_ERR_MSG_MAX + 16];
                        snprintf(what, sizeof what, "COLLISION: %s", guest_why(g));
                        add_problem(problems, uuid, guest_name(g), what);
                }
        }
        return a;
}

int method_check(request *rq, json_object **result, reply_err *err) {
        mcsd *d = rq->d;
        virDomainPtr *doms = NULL;
        mcs_record_list mine = {0};
        mcs_err e = {0};
        int n;

        if (need_libvirt(rq, err) < 0 || (n = list_domains(rq, &doms, err)) < 0)
                return -1;
        mcs_filter f = MCS_FILTER_ALL;
        f.host = d->host_id;
        _cleanup_free_ uuid_str *uuids = domain_sorted_uuids(doms, n);
        if (!uuids) {
                domain_list_free(doms, n);
                return fail(err, "no-memory", "out of memory");
        }
        json_object *problems = json_object_new_array();
        json_object *o = json_object_new_object();
        json_object_object_add(o, "guests", json_object_new_int(n));
        if (mcs_registry_list(d->reg, &f, &mine, &e) < 0) {
                /* One failed read says it: no guest is asked again (each
                 * would wait out the same timeout). */
                json_object_object_add(o, "records", NULL);
                json_object_object_add(o, "registry_error", json_str(e.msg));
                json_object_object_add(o, "libvirt", libvirt_only(rq, doms, n, problems));
        } else {
                for (int i = 0; i < n; i++)
                        check_one(rq, doms[i], problems);
                for (size_t i = 0; i < mine.n; i++)
                        if (!domain_listed(uuids, n, mine.v[i].uuid))
                                mcs_check_orphan(&mine.v[i], d->host_id, add_problem, problems);
                json_object_object_add(o, "records", json_object_new_int64((int64_t) mine.n));
        }
        json_object_object_add(o, "problems", problems);
        mcs_record_list_clear(&mine);
        domain_list_free(doms, n);
        *result = o;
        return 0;
}

/* ---- import ---- */

int method_import(request *rq, json_object **result, reply_err *err) {
        virDomainPtr *doms = NULL;
        int n;

        if (need_libvirt(rq, err) < 0 || (n = list_domains(rq, &doms, err)) < 0)
                return -1;
        json_object *guests = json_object_new_array();
        unsigned created = 0, failed = 0;
        for (int i = 0; i < n; i++) {
                guest_report rep;
                failed += guests_apply(rq->d, doms[i], &rep) < 0;
                created += rep.created && !rep.failed;
                json_object_array_add(guests, report_json(&rep));
        }
        mcsd_update_status(rq->d);
        log_change(rq, "import: %d guests, %u new reservations, %u failed", n, created, failed);
        domain_list_free(doms, n);
        *result = json_object_new_object();
        json_object_object_add(*result, "guests", guests);
        return 0;
}

/* ---- gc ---- */

int method_gc(request *rq, json_object **result, reply_err *err) {
        mcsd *d = rq->d;
        const char *host = d->host_id;
        bool with_static = false, dry_run = false;
        virDomainPtr *doms = NULL;
        mcs_record_list l = {0};
        mcs_err e = {0};
        int n = 0;

        if (param_string(rq, "host", &host, err) < 0 || param_bool(rq, "static", &with_static, err) < 0 ||
            param_bool(rq, "dry_run", &dry_run, err) < 0)
                return -1;
        /* For this host libvirt says which guests are gone; another host is
         * the operator's word that it is gone for good. */
        bool here = !strcmp(host, d->host_id);
        if (here && (need_libvirt(rq, err) < 0 || (n = list_domains(rq, &doms, err)) < 0))
                return -1;
        _cleanup_free_ uuid_str *uuids = domain_sorted_uuids(doms, n);
        mcs_filter f = MCS_FILTER_ALL;
        f.host = host;
        if (!uuids || mcs_registry_list(d->reg, &f, &l, &e) < 0) {
                domain_list_free(doms, n);
                return uuids ? fail_mcs(err, &e) : fail(err, "no-memory", "out of memory");
        }
        domain_list_free(doms, n);
        json_object *released = json_object_new_array();
        size_t kept = 0;
        for (size_t i = 0; i < l.n; i++) {
                mcs_record *rec = &l.v[i];
                /* A migrating guest runs on one end or the other. */
                if ((here && domain_listed(uuids, n, rec->uuid)) || rec->state == MCS_STATE_MIGRATING ||
                    (rec->kind == MCS_KIND_STATIC && !with_static)) {
                        kept++;
                        continue;
                }
                if (!dry_run) {
                        int r = mcs_registry_release_if(d->reg, rec->uuid, rec->host, rec->generation, NULL, &e);
                        if (r == -MCS_E_NOTFOUND)
                                continue;
                        if (r == -MCS_E_CHANGED) { /* started or moved since the list: not garbage */
                                kept++;
                                continue;
                        }
                        if (r < 0) {
                                json_object_put(released);
                                mcs_record_list_clear(&l);
                                return fail_mcs(err, &e);
                        }
                        log_change_event(rq, MCS_MSGID_RELEASED, rec, "gc released %s of guest '%s' (%s, host %s)",
                                         rec->label, rec->name, rec->uuid, rec->host);
                        images_restore(d, rec->uuid, rec->label);
                        guests_label_freed(d);
                }
                json_object_array_add(released, record_json(rec));
        }
        mcs_record_list_clear(&l);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
        json_object_object_add(o, "released", released);
        json_object_object_add(o, "kept", json_object_new_int64((int64_t) kept));
        *result = o;
        return 0;
}
