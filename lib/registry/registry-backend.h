/* The operations a registry backend provides, one file per backend, in the
 * manner of sqlite's VFS or libvirt's security drivers. Arguments arrive
 * validated: UUIDs canonical, names and host ids checked, labels parsed,
 * canonical and with at least one category. */
#pragma once

#include "mcs-level.h"
#include "mcs-registry.h"

typedef struct mcs_label {
        char text[MCS_RANGE_STRMAX]; /* canonical */
        mcs_range range;             /* conflicts are judged on range.high.cats */
} mcs_label;

typedef struct mcs_registry_ops {
        const char *name;
        int (*open)(const char *location, const mcs_registry_config *cfg, void **state, mcs_err *e);
        void (*close)(void *state);
        int (*reserve_any)(void *state, const mcs_guest *g, mcs_record *out, bool *created, mcs_err *e);
        int (*reserve_label)(void *state, const mcs_guest *g, const mcs_label *label, mcs_record *out,
                             bool *created, mcs_err *e);
        /* Deletes the record if it still has host (NULL: any) and generation
         * (0: any), in one transaction; else -MCS_E_CHANGED. */
        int (*release)(void *state, const char *uuid, const char *host, uint64_t generation, mcs_record *out,
                       mcs_err *e);
        /* Renames the record if it still has generation (0: any). */
        int (*set_name)(void *state, const char *uuid, const char *name, uint64_t generation, mcs_record *out,
                        mcs_err *e);
        int (*set_state)(void *state, const char *uuid, mcs_state st, mcs_record *out, mcs_err *e);
        int (*get)(void *state, const char *uuid, mcs_record *out, mcs_err *e);
        int (*find_label)(void *state, const char *label, mcs_record *out, mcs_err *e);
        int (*list)(void *state, const mcs_filter *f, mcs_record_list *out, mcs_err *e);
        int (*history)(void *state, const char *uuid, mcs_history_list *out, mcs_err *e);
        int (*stats)(void *state, mcs_alloc_stats *out, mcs_err *e);
        int (*remember_original)(void *state, const char *uuid, const char *path, const char *context, mcs_err *e);
        int (*originals)(void *state, const char *uuid, mcs_original_list *out, mcs_err *e);
        int (*forget_original)(void *state, const char *path, mcs_err *e);
} mcs_registry_ops;

extern const mcs_registry_ops mcs_registry_sqlite_ops;

/* Shared by backends: the message for a label refused because of a holder. */
int mcs_registry_conflict_error(mcs_err *e, const mcs_guest *g, const mcs_label *want,
                                const mcs_record *holder);
