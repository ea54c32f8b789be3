/* A guest's images: labelled for its reservation, with the original label
 * of each private image remembered in the registry first, and restored
 * from there when the reservation goes, by whichever host releases it.
 * Shared and read-only content is labelled but never restored: other
 * guests may be using it. */
#pragma once

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

/* Puts back the labels remembered for uuid and forgets them; a file that
 * is gone is forgotten too. Returns the number of failures (kept for a
 * later try), or a negative registry error. */
int mcs_guest_images_restore(mcs_registry *r, const char *uuid, mcs_image_report report, void *opaque, mcs_err *e);
