/* The hook request's parameters: every key known and of its type before
 * any is read, then the ones every decision needs. */
#include <stdio.h>
#include <string.h>

#include "hook-params.h"

const char *hook_param_str(json_object *params, const char *key) {
        json_object *v;
        return json_object_object_get_ex(params, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : NULL;
}

struct field {
        const char *key;
        json_type type;
};

/* Every key of o is one of fields and has its type. */
static int check_fields(json_object *o, const char *where, const struct field *fields, size_t n, reply_err *err) {
        json_object_object_foreach(o, key, val) {
                char q[MCS_QUOTE_MAX];
                size_t i = 0;
                while (i < n && strcmp(fields[i].key, key))
                        i++;
                if (i == n)
                        return fail(err, MCS_PERR_BAD_REQUEST, "%s: unknown parameter '%s'", where,
                                    mcs_quote(key, q, sizeof q));
                if (!json_object_is_type(val, fields[i].type))
                        return fail(err, MCS_PERR_BAD_REQUEST, "%s: '%s' must be a%s %s, not %s", where, key,
                                    fields[i].type == json_type_array || fields[i].type == json_type_object ? "n" : "",
                                    json_type_to_name(fields[i].type), json_type_to_name(json_object_get_type(val)));
        }
        return 0;
}

/* The types of the hook's parameters, before any is read. */
static int check_params(json_object *params, reply_err *err) {
        static const struct field top[] = {
                {"op", json_type_string},
                {"name", json_type_string},
                {"xml", json_type_string},
                {"deadline", json_type_int},
                {"fail_open", json_type_boolean},
        };
        return check_fields(params, "hook", top, sizeof top / sizeof top[0], err);
}

int hook_parse_params(json_object *params, mcs_domain *d, mcs_hook_request *rq, reply_err *err) {
        const char *op = hook_param_str(params, "op"), *name = hook_param_str(params, "name");
        json_object *xml;
        mcs_err e = {0};
        char q1[MCS_QUOTE_MAX], q2[MCS_QUOTE_MAX];

        *rq = (mcs_hook_request){0};
        *d = (mcs_domain){0};
        if (check_params(params, err) < 0)
                return -1;
        if (!op || mcs_hook_op_from_name(op, &rq->op) < 0)
                return fail(err, MCS_PERR_BAD_REQUEST, "hook: 'op' is missing or unknown");
        if (!name || !json_object_object_get_ex(params, "xml", &xml))
                return fail(err, MCS_PERR_BAD_REQUEST, "hook: 'name' and 'xml' are required");
        if (strlen(json_object_get_string(xml)) != (size_t) json_object_get_string_len(xml))
                return fail(err, MCS_PERR_BAD_REQUEST, "hook: cannot read its domain XML: it contains a NUL byte");
        if (mcs_domain_parse(json_object_get_string(xml), d, &e) < 0)
                return fail(err, MCS_PERR_BAD_REQUEST, "hook: cannot read its domain XML: %s", e.msg);
        /* The hook passes exclusions by libvirt's name; mcsd decides by the XML's. */
        if (strcmp(d->name, name))
                return fail(err, MCS_PERR_BAD_REQUEST, "hook: the domain XML is of guest '%s', but libvirt named '%s'",
                            mcs_quote(d->name, q1, sizeof q1), mcs_quote(name, q2, sizeof q2));
        rq->uuid = d->uuid;
        rq->name = d->name;
        rq->mode = d->mode;
        rq->label = d->label;
        return 0;
}
