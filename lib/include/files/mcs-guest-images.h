/* A guest's images: labelled for its reservation, with the original label
 * of each private image remembered in the registry first, and restored
 * from there when the reservation goes, by whichever host releases it.
 * Shared and read-only content is labelled but never restored: other
 * guests may be using it. */
#pragma once

#include "mcs-config.h"
#include "mcs-image-label.h"
#include "mcs-policy.h"
#include "mcs-registry.h"

/* One file done: res is set when labelling got that far; err when it failed. */
typedef void (*mcs_image_report)(void *opaque, const char *path, const char *context, const mcs_label_result *res,
                                 const mcs_err *err);

/* Labels every target of the plan for guest uuid. Returns the number of
 * files that failed (each reported), or a negative error when a context is
 * invalid (nothing is touched then). */
int mcs_guest_images_label(mcs_registry *r, mcs_context_checker *chk, const char *uuid, const mcs_image_plan *p,
                           const char *const *roots, size_t n_roots, mcs_image_report report, void *opaque,
                           mcs_err *e);

/* Whether a backing file of plan p that carries previous (NULL: its label
 * cannot be read) may become read-only content, which every guest reads.
 * Only from a label that no other guest's data carries:
 *   - no label, unlabeled_t at s0, the content type at s0;
 *   - this guest's own image label (an old top image after a snapshot);
 *   - the policy's default image label (virt_image_t:s0) only for a file
 *     the XML's <backingStore> chain names (the operator's base image),
 *     never for one named only in a qcow2 header, which the guest above
 *     writes: a stopped guest's image restored to the default must not
 *     become readable by all because a header says so.
 * Anything else, an unreadable label included, is refused
 * (-MCS_E_CONFLICT, -MCS_E_IO) and the file keeps its label. */
int mcs_backing_check(const mcs_image_plan *p, mcs_backing_source src, const char *target, const char *previous,
                      mcs_err *e);

/* What labelling a guest's images needs, loaded on first use and kept: the
 * image types and a context checker (reading the policy file takes some
 * 30 ms, too much for every lifecycle event and every hook call). One per
 * thread; free it to pick up a new policy. */
typedef struct mcs_images mcs_images;

mcs_images *mcs_images_new(void);
void mcs_images_free(mcs_images *im);
int mcs_images_check_context(mcs_images *im, const char *context, mcs_err *e);
/* The image and content types (loaded on first use). */
int mcs_images_types(mcs_images *im, const mcs_image_types **out, mcs_err *e);

/* Plans the images of guest d for level (inside cfg's image roots) and
 * labels them with mcs_guest_images_label. */
int mcs_images_label(mcs_images *im, mcs_registry *r, const mcs_config *cfg, const mcs_domain *d, const char *level,
                     mcs_image_report report, void *opaque, mcs_err *e);

/* Where a restore may write. An original is put back only when
 *   - it was recorded by this host (host_id) and the file resolves inside
 *     roots (the image roots), or it was recorded by another host and the
 *     file resolves inside shared (roots on storage every host shares);
 *   - its context is one the policy accepts (or "": no label before);
 *   - the file still carries guest_label, the guest's private image
 *     context (else someone labelled it since, and that label stays).
 * A record refused by the last three is dropped, the reason reported; one
 * of another host outside the shared roots (its local storage) is kept. */
typedef struct mcs_restore_scope {
        const char *host_id;
        const char *const *roots;
        size_t n_roots;
        const char *const *shared;
        size_t n_shared;
        const char *guest_label;
} mcs_restore_scope;

/* Puts back the labels remembered for uuid, each through a descriptor
 * opened beneath its root, and forgets them; a file that is gone is
 * forgotten too. Every file not restored is reported with the reason.
 * Returns the number kept for a later try, or a negative registry error. */
int mcs_guest_images_restore(mcs_registry *r, mcs_context_checker *chk, const mcs_restore_scope *s, const char *uuid,
                             mcs_image_report report, void *opaque, mcs_err *e);

/* mcs_guest_images_restore for the guest that held level, with cfg's
 * image and shared roots. */
int mcs_images_restore(mcs_images *im, mcs_registry *r, const mcs_config *cfg, const char *host_id, const char *uuid,
                       const char *level, mcs_image_report report, void *opaque, mcs_err *e);
