/* Files opened without a race against symlink swaps, and their labels read
 * and set through the descriptor. A path is resolved once (realpath, so a
 * symlink inside a root that stays inside it is followed as before), then
 * opened again from a descriptor of the root with openat2
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS: if any component was swapped for a
 * symlink meanwhile the open fails, so nothing outside the root is ever
 * reached. Labels go through /proc/self/fd/N of an O_PATH descriptor, which
 * the kernel resolves to exactly that inode. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcs-error.h"

/* Opens path (O_PATH, never a symlink) if it resolves inside one of roots
 * (n_roots 0: anywhere); *fd is closed by the caller; target gets the
 * resolved path. -MCS_E_NOTFOUND for a missing file, -MCS_E_INVALID
 * outside the roots or when the path changed under us. */
int mcs_open_in_roots(const char *path, const char *const *roots, size_t n_roots, int *fd, char target[PATH_MAX],
                      mcs_err *e);

/* What a file must be before mcsd labels or reads it: a disk image is a
 * regular file (a block device for a type='block' disk); never a FIFO,
 * socket, directory or character device a path may name. */
typedef enum mcs_file_kind {
        MCS_FILE_ANY,
        MCS_FILE_REGULAR,
        MCS_FILE_BLOCK,
        MCS_FILE_DISK, /* either: a backing file */
} mcs_file_kind;

/* -MCS_E_INVALID, naming path, unless the descriptor's file is of kind. */
int mcs_fd_require_kind(int fd, mcs_file_kind kind, const char *path, mcs_err *e);

/* A descriptor to read the file an O_PATH descriptor holds, the same
 * inode (reopened through /proc/self/fd), opened O_RDONLY|O_NONBLOCK|
 * O_NOCTTY: it never waits (FIFOs are refused by mcs_fd_require_kind
 * before this, and O_NONBLOCK covers a swap that cannot happen). -1 with
 * errno. */
int mcs_fd_reopen_read(int pathfd);

/* path is absolute, names no "." or ".." component and lies below (or
 * is) one of roots, as text. */
bool mcs_path_in_roots(const char *path, const char *const *roots, size_t n_roots);

/* rel opened beneath the directory dfd with flags (O_NOFOLLOW and
 * O_CLOEXEC added), no symlink and no ".." allowed on the way: openat2
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS, or where the
 * kernel lacks it, one openat per component. -1 with errno (ELOOP or
 * EXDEV for a symlink or ".."). */
int mcs_openat_beneath(int dfd, const char *rel, int flags);

/* O_PATH descriptor of name in directory dfd, not following a symlink. */
int mcs_fd_open_entry(int dfd, const char *name);

/* The file's context (freecon it), or -1 with errno. */
int mcs_fd_getcon(int fd, char **con);
int mcs_fd_setcon(int fd, const char *con);

/* Sets the context of the entry name of directory dfd itself (a symlink
 * is not followed), with setxattrat(2) (Linux 6.13): nothing is opened,
 * so no device's open is run and no FIFO blocks, and no path is walked.
 * -1 with errno; ENOSYS where the kernel lacks it. */
int mcs_fd_setcon_entry(int dfd, const char *name, const char *con);
/* Takes the security.selinux attribute off. */
int mcs_fd_removecon(int fd);
