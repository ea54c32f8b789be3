/* Which context each of a guest's disk images must carry, and setting one
 * file's context safely. The types come from libselinux's virtual image
 * context file: line 1 the image type (svirt_image_t), line 2 the
 * read-only content type (virt_content_t).
 *   a private disk            image type with the guest's level
 *   a <shareable/> disk       image type at s0 (every guest may open it)
 *   a <readonly/> disk and    content type at s0 (read-only, shared)
 *   every backing file
 *   <seclabel relabel='no'/>  left alone (the disk's own choice)
 * A disk's content is written by its guest, so it decides nothing it was
 * not declared to: backing files are libvirt's <backingStore> chain when
 * the XML carries one; else they are read from the image only for a disk
 * whose <driver type='qcow2'/> says so, and followed further only while
 * each image names its backing format as qcow2 (a raw or unnamed one is
 * labelled, never opened). A raw or undeclared format is never probed.
 * Headers are read only from regular files: a block device (a suspended
 * device-mapper volume, a multipath device queueing without a path, a dead
 * NBD) can make a read wait forever, so a qcow2 on a block device has the
 * backing files of its <backingStore> chain only, and a block device named
 * as a backing file is labelled, never read. */
#pragma once

#include <stdbool.h>

#include "mcs-context.h"
#include "mcs-domain-xml.h"
#include "mcs-error.h"
#include "mcs-file-fd.h"

#define MCS_CONTEXT_MAX (3u * 256u + MCS_RANGE_STRMAX + 4u)
#define MCS_BACKING_DEPTH_MAX 16u

typedef struct mcs_image_types {
        mcs_context image, content;
} mcs_image_types;

/* path NULL: selinux_virtual_image_context_path(). Both lines required. */
int mcs_image_types_load(const char *path, mcs_image_types *out, mcs_err *e);

typedef enum mcs_image_role {
        MCS_IMAGE_PRIVATE,
        MCS_IMAGE_SHARED,
        MCS_IMAGE_CONTENT,
} mcs_image_role;

/* Who named a backing file: the domain XML's <backingStore> chain (the
 * operator's, through libvirt) or only a qcow2 header (written by whoever
 * writes the image above it: its guest, or a compromised QEMU). */
typedef enum mcs_backing_source {
        MCS_NOT_BACKING,
        MCS_BACKING_XML,
        MCS_BACKING_HEADER,
} mcs_backing_source;

/* The policy's default label for images (virt_image_t:s0): no guest may
 * read a file that carries it, a fresh base image usually does. */
#define MCS_DEFAULT_IMAGE_TYPE "virt_image_t"

typedef struct mcs_image_target {
        char *path;                     /* as the XML or the backing chain names it */
        char context[MCS_CONTEXT_MAX];
        mcs_image_role role;
        mcs_file_kind kind;             /* what the file must be to be labelled */
        mcs_backing_source backing;     /* below a disk, not named by a <disk> itself */
} mcs_image_target;

typedef struct mcs_image_plan {
        mcs_image_target *v;
        size_t n;
        char own[MCS_CONTEXT_MAX];      /* the guest's private image context */
        char image_type[MCS_IDENT_MAX]; /* the image type (svirt_image_t) */
        char content_type[MCS_IDENT_MAX]; /* the read-only content type (virt_content_t) */
} mcs_image_plan;

/* The plan for guest d holding level (e.g. "s0:c1,c2"). Image headers are
 * read (qcow2 disks without a <backingStore> in the XML) only from regular
 * files (never a block device) resolving inside roots (n_roots 0: anywhere), through descriptors
 * opened beneath them that never wait (mcs_fd_reopen_read): a FIFO or
 * device is not opened, a block device not read. A disk or backing file
 * that is missing, outside the roots or not a regular file ends its chain
 * there; labelling it then
 * reports why. */
int mcs_image_plan_build(const mcs_domain *d, const mcs_image_types *t, const char *level, const char *const *roots,
                         size_t n_roots, mcs_image_plan *out, mcs_err *e);
void mcs_image_plan_clear(mcs_image_plan *p);

#define MCS_QCOW2_FORMAT_MAX 32u

typedef struct mcs_qcow2_backing {
        char *file;                        /* absolute (relative names joined to the image's directory), or NULL */
        char format[MCS_QCOW2_FORMAT_MAX]; /* its backing format extension, "" if the image names none */
} mcs_qcow2_backing;

/* The backing file the qcow2 image open on fd (named path) names, if
 * any; nothing for a file that is not qcow2 or names a network store.
 * out->file is the caller's to free. */
int mcs_qcow2_read(int fd, const char *path, mcs_qcow2_backing *out, mcs_err *e);

/* A filesystem that keeps no per-file labels answers with these errnos. */
#define MCS_NO_LABELS_TEXT "this filesystem keeps no per-file labels (NFS without labeled NFSv4.2?)"
bool mcs_errno_no_labels(int err);

typedef enum mcs_label_outcome {
        MCS_LABEL_SET,       /* the file carries the context now (read back) */
        MCS_LABEL_UNCHANGED, /* it carried it already */
        MCS_LABEL_NO_LABELS, /* the filesystem keeps no per-file labels; not fatal */
} mcs_label_outcome;

typedef struct mcs_label_result {
        mcs_label_outcome outcome;
        char target[4096];            /* the file labelled: symlinks resolved */
        char previous[MCS_CONTEXT_MAX]; /* its context before, "" if it had none */
        char note[4096 + 256];        /* for MCS_LABEL_NO_LABELS: the file and why */
} mcs_label_result;

/* Sets path's context: the target of a symlink, never the link; refused
 * (-MCS_E_INVALID) outside the roots (n_roots 0: anywhere) or when a
 * component was swapped for a symlink meanwhile (mcs-file-fd.h). ENOENT and
 * EPERM are errors; a filesystem without labels (ENOTSUP, EOPNOTSUPP,
 * EROFS) is an outcome; a label that does not read back is an error. The
 * caller validates context first (mcs_policy_check_context). */
/* before (may be NULL) runs after the file's current label is read and
 * before it is changed; an error from it leaves the file alone. previous
 * is "" for a file with no label, NULL when its label cannot be read. */
typedef int (*mcs_before_label)(void *opaque, const char *target, const char *previous, mcs_err *e);
/* A file that is not of kind (mcs-file-fd.h) is refused, untouched. */
int mcs_label_file(const char *path, const char *context, mcs_file_kind kind, const char *const *roots, size_t n_roots,
                   mcs_before_label before, void *opaque, mcs_label_result *out, mcs_err *e);
