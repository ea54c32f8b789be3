/* The JSON envelope both sockets share: a request line parsed into an
 * object and its fields checked, and reply lines formatted. Needs no
 * running mcsd: the fuzz harnesses call it on its own. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"

#define JSON_DEPTH_MAX 16

char reply_deferred[1];

int fail(reply_err *err, const char *code, const char *fmt, ...) {
        va_list ap;
        err->code = code;
        err->fault = false;
        err->mcs = 0;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        return -1;
}

int fail_mcs(reply_err *err, const mcs_err *e) {
        fail(err, mcs_code_name(e->code), "%s", e->msg);
        err->fault = mcs_registry_fault_code(e->code);
        err->mcs = e->code;
        return -1;
}

json_object *json_str(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static char *format_reply(json_object *reply) {
        const char *s = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *line = NULL;
        if (s && asprintf(&line, "%s\n", s) < 0)
                line = NULL;
        json_object_put(reply);
        return line;
}

static json_object *envelope(json_object *id) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "version", json_object_new_int(MCS_PROTOCOL_VERSION));
        if (id)
                json_object_object_add(o, "id", json_object_get(id));
        return o;
}

static char *error_reply(json_object *id, const reply_err *err) {
        json_object *o = envelope(id), *eo = json_object_new_object();
        json_object_object_add(eo, "code", json_str(err->code));
        json_object_object_add(eo, "message", json_str(err->msg));
        json_object_object_add(o, "error", eo);
        return format_reply(o);
}

char *control_reply(json_object *id, json_object *result, const reply_err *err) {
        if (!result)
                return error_reply(id, err);
        json_object *o = envelope(id);
        json_object_object_add(o, "result", result);
        return format_reply(o);
}

char *control_error_reply(const char *code, const char *fmt, ...) {
        reply_err err = {.code = code};
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err.msg, sizeof err.msg, fmt, ap);
        va_end(ap);
        return error_reply(NULL, &err);
}

int control_parse_request(const char *line, size_t len, json_object **out, reply_err *err) {
        const char *nul = memchr(line, '\0', len);
        if (nul)
                return fail(err, MCS_PERR_BAD_REQUEST, "not JSON: a NUL byte at byte %zu", (size_t) (nul - line) + 1);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
                len--;
        if (!len)
                return fail(err, MCS_PERR_BAD_REQUEST, "empty request");
        json_tokener *tok = json_tokener_new_ex(JSON_DEPTH_MAX);
        if (!tok)
                return fail(err, "no-memory", "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        json_object *req = json_tokener_parse_ex(tok, line, (int) len);
        enum json_tokener_error je = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (je == json_tokener_continue) {
                json_object_put(req);
                return fail(err, MCS_PERR_BAD_REQUEST, "not JSON: the request ends after %zu bytes, inside a value", len);
        }
        if (!req || je != json_tokener_success) {
                json_object_put(req);
                return fail(err, MCS_PERR_BAD_REQUEST, "not JSON: %s at byte %zu", json_tokener_error_desc(je), end + 1);
        }
        if (end < len) {
                json_object_put(req);
                return fail(err, MCS_PERR_BAD_REQUEST, "extra text after the JSON object, at byte %zu", end + 1);
        }
        if (!json_object_is_type(req, json_type_object)) {
                json_object_put(req);
                return fail(err, MCS_PERR_BAD_REQUEST, "the request must be a JSON object");
        }
        *out = req;
        return 0;
}

/* json-c saturates an integer beyond int64/uint64 to these two values, so
 * they are the only ones that may not be what the client wrote. */
static bool saturated(json_object *v) {
        return json_object_get_int64(v) == INT64_MIN || json_object_get_uint64(v) == UINT64_MAX;
}

static int check_id(json_object *req, json_object **id, reply_err *err) {
        json_object *v;
        *id = NULL;
        if (!json_object_object_get_ex(req, "id", &v))
                return 0;
        if (json_object_is_type(v, json_type_string) || (json_object_is_type(v, json_type_int) && !saturated(v))) {
                *id = v;
                return 0;
        }
        if (json_object_is_type(v, json_type_int))
                return fail(err, MCS_PERR_BAD_REQUEST,
                            "'id' is an integer too large to echo exactly; use a string or an integer from "
                            "-9223372036854775807 to 18446744073709551614");
        return fail(err, MCS_PERR_BAD_REQUEST, "'id' must be a string or an integer, not %s",
                    json_type_to_name(json_object_get_type(v)));
}

static int check_version(json_object *req, reply_err *err) {
        json_object *v;
        char q[MCS_QUOTE_MAX];
        if (!json_object_object_get_ex(req, "version", &v))
                return fail(err, MCS_PERR_BAD_REQUEST, "'version' is missing (this mcsd speaks version %d)",
                            MCS_PROTOCOL_VERSION);
        if (json_object_is_type(v, json_type_double))
                return fail(err, MCS_PERR_BAD_REQUEST,
                            "'version' must be an integer; %s is a number with a fraction or an exponent (this mcsd "
                            "speaks version %d)",
                            mcs_quote(json_object_get_string(v), q, sizeof q), MCS_PROTOCOL_VERSION);
        if (!json_object_is_type(v, json_type_int))
                return fail(err, MCS_PERR_BAD_REQUEST, "'version' must be an integer, not %s (this mcsd speaks version %d)",
                            json_type_to_name(json_object_get_type(v)), MCS_PROTOCOL_VERSION);
        if (saturated(v) || json_object_get_int64(v) != MCS_PROTOCOL_VERSION)
                return fail(err, MCS_PERR_VERSION, "version %s is not supported; this mcsd speaks version %d",
                            mcs_quote(json_object_get_string(v), q, sizeof q), MCS_PROTOCOL_VERSION);
        return 0;
}

int control_check_envelope(json_object *req, json_object **id, const char **method, reply_err *err) {
        json_object *v;
        *method = NULL;
        if (check_id(req, id, err) < 0 || check_version(req, err) < 0)
                return -1;
        if (!json_object_object_get_ex(req, "method", &v) || !json_object_is_type(v, json_type_string))
                return fail(err, MCS_PERR_BAD_REQUEST, "'method' is missing or not a string");
        json_object_object_foreach(req, key, val) {
                (void) val;
                if (strcmp(key, "version") && strcmp(key, "method") && strcmp(key, "params") && strcmp(key, "id")) {
                        char q[MCS_QUOTE_MAX];
                        return fail(err, MCS_PERR_BAD_REQUEST, "unknown field '%s'", mcs_quote(key, q, sizeof q));
                }
        }
        *method = json_object_get_string(v);
        return 0;
}

