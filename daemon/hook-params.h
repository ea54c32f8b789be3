/* The hook socket's request parameters, checked and read without the
 * registry or a running mcsd (the hook thread and the fuzz harness). */
#pragma once

#include "mcs-hook-rules.h"
#include "methods.h"

/* params[key] when it is a string, else NULL. */
const char *hook_param_str(json_object *params, const char *key);

/* Checks every parameter's type (and each disk's), then fills rq from op,
 * uuid, name, mode and label; rq's strings point into params. */
int hook_parse_params(json_object *params, mcs_hook_request *rq, reply_err *err);
