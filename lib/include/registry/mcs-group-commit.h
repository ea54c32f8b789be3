/* Group commit: several writes share one durable commit, with one set of
 * rules for every caller (mcsd's reconcile, its hook thread, its control
 * socket's write group). */
#pragma once

#include <stddef.h>

#include "mcs-registry.h"

/* Writes item i of the group: 0, or a negative error with e (a refusal
 * such as a conflict, or a storage failure). */
typedef int (*mcs_group_write_fn)(void *ctx, size_t i, mcs_err *e);

/* Runs write(ctx, i) for i = 0 .. n-1, in one shared commit when there are
 * two or more and the backend has shared commits; one write alone commits
 * itself. The rules:
 *   - A refusal is that write's own answer: the others go on and stand.
 *   - A storage failure (mcs_registry_fault_code) stops the group: the
 *     writes after it are not run, since each would wait for the same
 *     failing storage in turn.
 *   - In a shared commit, that failure, or a commit that fails, stores
 *     none of the writes; without one, each write that ran before it
 *     stands on its own.
 * *stands gets how many writes, from the first, have outcomes that stand:
 * n, or fewer with a negative error (the storage failure) in *why, which
 * every write from *stands on shares: it was not stored or not run. A
 * caller acts on a write's record (writes a label into a guest) only for
 * i < *stands, and only after this returns. */
int mcs_registry_group_write(mcs_registry *r, size_t n, mcs_group_write_fn write, void *ctx, size_t *stands,
                             mcs_err *why);
