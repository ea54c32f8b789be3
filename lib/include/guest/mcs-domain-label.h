/* The process label mcsd writes into a guest: the guest's <baselabel>, or
 * else the virtual domain context file's type, with the guest's MCS pair. */
#pragma once

#include <stddef.h>

#include "mcs-context.h"
#include "mcs-domain-xml.h"
#include "mcs-error.h"

typedef struct mcs_domain_types {
        mcs_context kvm; /* line 1: every guest, e.g. system_u:system_r:svirt_t:s0 */
        mcs_context tcg; /* line 2 if present: <domain type='qemu'> (TCG) guests */
        bool has_tcg;
} mcs_domain_types;

/* The first max lines of a file of contexts (libselinux's virtual domain
 * and image context files); *n is how many there were, at least one.
 * Errors name the file and line. */
int mcs_context_file_load(const char *path, mcs_context *out, unsigned max, unsigned *n, mcs_err *e);

/* Reads path (NULL: selinux_virtual_domain_context_path()). Errors name the
 * file and line. */
int mcs_domain_types_load(const char *path, mcs_domain_types *out, mcs_err *e);

/* The full process context for d with the MCS level or range `level`
 * ("s0:c1,c2"), written to out. */
int mcs_domain_label(const mcs_domain *d, const mcs_domain_types *t, const char *level, char *out, size_t len,
                     mcs_err *e);

/* The MCS part of a full context: "s0:c1,c2" from "u:r:t:s0:c1,c2". A
 * context without one is refused. */
int mcs_context_level(const char *context, char *out, size_t len, mcs_err *e);
