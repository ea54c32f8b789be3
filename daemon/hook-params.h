/* The hook socket's request parameters, checked and read without the
 * registry or a running mcsd (the hook thread and the fuzz harness). */
#pragma once

#include "mcs-hook-rules.h"
#include "methods.h"

/* params[key] when it is a string, else NULL. */
const char *hook_param_str(json_object *params, const char *key);

/* Checks every parameter's type, then parses the domain XML into *d (the
 * caller clears it, also on failure) and fills rq from op and d; rq's
 * strings point into d. The XML must name the guest libvirt named. */
int hook_parse_params(json_object *params, mcs_domain *d, mcs_hook_request *rq, reply_err *err);
