/* The hook socket's request, as far as it goes without a registry: the
 * envelope, every parameter's type, then the domain XML it carries. */
#include <json-c/json.h>

#include "fuzz-util.h"
#include "hook-params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_object *req = NULL, *id = NULL, *params, *result = NULL;
        const char *method;
        reply_err err = {0};
        mcs_hook_request rq;
        mcs_domain d = {0};

        if (control_parse_request((const char *) data, size, &req, &err) < 0 ||
            control_check_envelope(req, &id, &method, &err) < 0)
                ;
        else if (strcmp(method, "hook"))
                fail(&err, MCS_PERR_METHOD, "the hook socket answers the method 'hook' only");
        else if (!json_object_object_get_ex(req, "params", &params) || !json_object_is_type(params, json_type_object))
                fail(&err, MCS_PERR_BAD_REQUEST, "hook: 'params' must be an object");
        else if (hook_parse_params(params, &d, &rq, &err) == 0) {
                fuzz_assert(rq.uuid && rq.name && rq.uuid[0], "accepted without uuid or name");
                result = json_object_new_object();
                json_object_object_add(result, "op", json_object_new_string(mcs_hook_op_name(rq.op)));
                json_object_object_add(result, "mode", json_object_new_string(mcs_seclabel_mode_name(rq.mode)));
        }
        mcs_domain_clear(&d);
        char *reply = control_reply(id, result, &err);
        fuzz_assert(reply, "no reply");
        json_object *back = json_tokener_parse(reply);
        fuzz_assert(json_object_is_type(back, json_type_object), "the reply is not a JSON object: %s", reply);
        json_object_put(back);
        free(reply);
        json_object_put(req);
        return 0;
}
