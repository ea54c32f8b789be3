/* NFS export roots for sVirt (the RHEL virtualization guide's NFS step):
 * a local file-context rule PATH(/.*)? -> virt_var_lib_t added or removed
 * through libsemanage, committed (libsemanage checks the context against
 * the policy), and applied to the export root itself. Images under the
 * root keep their labels. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mcs-error.h"

#define MCS_NFS_DEFAULT_TYPE "virt_var_lib_t"

typedef enum mcs_nfs_outcome {
        MCS_NFS_ADDED,
        MCS_NFS_CHANGED,   /* the rule existed with another context */
        MCS_NFS_UNCHANGED, /* the rule was there already */
        MCS_NFS_REMOVED,
        MCS_NFS_ABSENT,    /* --remove of a rule that was not there */
} mcs_nfs_outcome;

typedef struct mcs_nfs_result {
        mcs_nfs_outcome outcome;
        char expr[4200];     /* the rule's regular expression */
        char context[512];
        char applied[4400];  /* what happened to the export root itself */
} mcs_nfs_result;

/* root: an alternate root for libsemanage (tests), NULL for the system's.
 * type NULL: MCS_NFS_DEFAULT_TYPE. The export root is labelled through a
 * descriptor (mcs_open_in_roots with roots; n_roots 0: anywhere). */
int mcs_nfs_export(const char *root, const char *path, const char *type, bool remove, const char *const *roots,
                   size_t n_roots, mcs_nfs_result *out, mcs_err *e);
const char *mcs_nfs_outcome_name(mcs_nfs_outcome o);
