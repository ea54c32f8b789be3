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

/* The types of the hook's parameters and of each disk's, before any is read. */
static int check_params(json_object *params, reply_err *err) {
        static const struct field top[] = {
                {"op", json_type_string},       {"uuid", json_type_string},     {"name", json_type_string},
                {"mode", json_type_string},     {"label", json_type_string},    {"relabel", json_type_boolean},
                {"disks", json_type_array},     {"deadline", json_type_int},
        };
        static const struct field disk[] = {
                {"path", json_type_string},        {"block", json_type_boolean},    {"readonly", json_type_boolean},
                {"shareable", json_type_boolean},  {"norelabel", json_type_boolean},
        };
        json_object *disks;
        if (check_fields(params, "hook", top, sizeof top / sizeof top[0], err) < 0)
                return -1;
        if (!json_object_object_get_ex(params, "disks", &disks))
                return 0;
        for (size_t i = 0; i < json_object_array_length(disks); i++) {
                json_object *k = json_object_array_get_idx(disks, i);
                char where[64];
                snprintf(where, sizeof where, "hook: disks[%zu]", i);
                if (!json_object_is_type(k, json_type_object))
                        return fail(err, MCS_PERR_BAD_REQUEST, "%s must be an object", where);
                if (check_fields(k, where, disk, sizeof disk / sizeof disk[0], err) < 0)
                        return -1;
        }
        return 0;
}

int hook_parse_params(json_object *params, mcs_hook_request *rq, reply_err *err) {
        const char *op = hook_param_str(params, "op"), *mode = hook_param_str(params, "mode");

        *rq = (mcs_hook_request){0};
        if (check_params(params, err) < 0)
                return -1;
        rq->uuid = hook_param_str(params, "uuid");
        rq->name = hook_param_str(params, "name");
        rq->label = hook_param_str(params, "label");
        if (!op || mcs_hook_op_from_name(op, &rq->op) < 0)
                return fail(err, MCS_PERR_BAD_REQUEST, "hook: 'op' is missing or unknown");
        if (!rq->uuid || !rq->name || !mode)
                return fail(err, MCS_PERR_BAD_REQUEST, "hook: 'uuid', 'name' and 'mode' are required");
        int m = -1;
        for (int i = MCS_SECLABEL_ABSENT; i <= MCS_SECLABEL_STATIC; i++)
                if (!strcmp(mode, mcs_seclabel_mode_name((mcs_seclabel_mode) i)))
                        m = i;
        if (m < 0)
                return fail(err, MCS_PERR_BAD_REQUEST, "hook: mode is not absent, none, dynamic or static");
        rq->mode = (mcs_seclabel_mode) m;
        return 0;
}
