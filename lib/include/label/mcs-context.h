/* Full SELinux contexts user:role:type[:range], split with libselinux's
 * context API and checked field by field. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mcs-error.h"
#include "mcs-level.h"

#define MCS_IDENT_MAX 256u

typedef struct mcs_context {
        char user[MCS_IDENT_MAX];
        char role[MCS_IDENT_MAX];
        char type[MCS_IDENT_MAX];
        bool has_range;
        mcs_range range;
} mcs_context;

int mcs_context_parse(const char *text, mcs_context *out, mcs_err *e);
/* Canonical text; returns the length or -MCS_E_RANGE if len is short. */
int mcs_context_format(const mcs_context *c, char *buf, size_t len);
