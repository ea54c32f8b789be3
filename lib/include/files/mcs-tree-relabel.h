/* Labels every file and directory under a root with one context, with
 * several threads (shared content roots, first deployment). Symbolic links
 * are neither labelled nor followed: what they point to inside the tree is
 * labelled on its own, and what lies outside it is not touched, even when a
 * directory is swapped for a link during the walk: directories are opened
 * beneath the root's descriptor with no symlink allowed on the way, and
 * entries are labelled through their own descriptors. */
#pragma once

#include <stdint.h>

#include "mcs-error.h"

typedef struct mcs_tree_stats {
        uint64_t labelled;  /* files and directories set */
        uint64_t skipped;   /* symbolic links and special files left alone */
        uint64_t failed;    /* entries that could not be labelled (the first error is returned) */
} mcs_tree_stats;

/* threads 0: one per online CPU. Stops at the first filesystem that keeps
 * no labels. The caller validates context first. n_roots 0: root may be
 * any directory (not a link); else it must resolve inside one of roots
 * (mcs_open_in_roots) and is opened beneath it. */
int mcs_tree_relabel(const char *root, const char *const *roots, size_t n_roots, const char *context, unsigned threads,
                     mcs_tree_stats *st, mcs_err *e);
