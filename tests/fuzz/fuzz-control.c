/* The control socket's envelope: any request line gets one reply line of
 * JSON, an error or (here) a result naming the method. */
#include <json-c/json.h>

#include "fuzz-util.h"
#include "methods.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_object *req = NULL, *id = NULL, *result = NULL;
        const char *method;
        reply_err err = {0};

        if (control_parse_request((const char *) data, size, &req, &err) == 0 &&
            control_check_envelope(req, &id, &method, &err) == 0) {
                result = json_object_new_object();
                json_object_object_add(result, "method", json_object_new_string(method));
        }
        char *reply = control_reply(id, result, &err);
        fuzz_assert(reply, "no reply");
        size_t n = strlen(reply);
        fuzz_assert(n && reply[n - 1] == '\n' && !memchr(reply, '\n', n - 1), "not one line: %s", reply);
        json_object *back = json_tokener_parse(reply);
        fuzz_assert(json_object_is_type(back, json_type_object), "the reply is not a JSON object: %s", reply);
        json_object_put(back);
        free(reply);
        json_object_put(req);
        return 0;
}
