/* Hook operation names; apart from the rules so that mcsctl, which only
 * names operations, does not pull in the registry. */
#include <string.h>

#include "mcs-hook-rules.h"

static const struct {
        const char *op, *subop, *name;
} ops[] = {
        [MCS_HOOK_PREPARE] = {"prepare", "begin", "prepare"},
        [MCS_HOOK_START] = {"start", "begin", "start"},
        [MCS_HOOK_RESTORE] = {"restore", "begin", "restore"},
        [MCS_HOOK_MIGRATE] = {"migrate", "begin", "migrate"},
        [MCS_HOOK_RECONNECT] = {"reconnect", "begin", "reconnect"},
        [MCS_HOOK_RELEASE] = {"release", "end", "release"},
        [MCS_HOOK_OTHER] = {NULL, NULL, "other"},
};

mcs_hook_op mcs_hook_op_parse(const char *op, const char *subop) {
        for (size_t i = 0; i < MCS_HOOK_OTHER; i++)
                if (op && subop && !strcmp(op, ops[i].op) && !strcmp(subop, ops[i].subop))
                        return (mcs_hook_op) i;
        return MCS_HOOK_OTHER;
}

const char *mcs_hook_op_name(mcs_hook_op op) {
        return (unsigned) op <= MCS_HOOK_OTHER ? ops[op].name : "?";
}

int mcs_hook_op_from_name(const char *s, mcs_hook_op *out) {
        for (size_t i = 0; i <= MCS_HOOK_OTHER; i++)
                if (s && !strcmp(s, ops[i].name)) {
                        *out = (mcs_hook_op) i;
                        return 0;
                }
        return -MCS_E_INVALID;
}
