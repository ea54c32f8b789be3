/* One request line to one reply line: parses and checks the JSON envelope,
 * checks the peer may call the method, runs it, and formats the reply
 * (the envelope itself is envelope.c's; the helpers the methods share are
 * requests.c's). */
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
        {"metrics", method_metrics, false, {NULL}},
};

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

char *control_dispatch(mcsd *d, const control_peer *peer, control_client *origin, const client_port *port,
                       const char *line, size_t len) {
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
                      .origin = origin, .port = port};
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
