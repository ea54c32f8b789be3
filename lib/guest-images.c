#include "mcs-guest-images.h"

#include <errno.h>
#include <selinux/selinux.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

struct remember {
        mcs_registry *r;
        const char *uuid;
};

static int remember(void *opaque, const char *target, const char *previous, mcs_err *e) {
        struct remember *m = opaque;
        return mcs_registry_remember_original(m->r, m->uuid, target, previous, e);
}

int mcs_guest_images_label(mcs_registry *r, mcs_context_checker *chk, const char *uuid, const mcs_image_plan *p,
                           const char *const *roots, size_t n_roots, mcs_image_report report, void *opaque,
                           mcs_err *e) {
        int rc, failed = 0;
        /* Every context is checked before the first file changes. */
        for (size_t i = 0; i < p->n; i++)
                if ((rc = mcs_context_check(chk, p->v[i].context, e)) < 0)
                        return rc;
        struct remember m = {r, uuid};
        for (size_t i = 0; i < p->n; i++) {
                const mcs_image_target *t = &p->v[i];
                mcs_label_result res;
                mcs_err fe = {0};
                rc = mcs_label_file(t->path, t->context, roots, n_roots, t->role == MCS_IMAGE_PRIVATE ? remember : NULL,
                                    &m, &res, &fe);
                failed += rc < 0;
                report(opaque, t->path, t->context, rc < 0 && !res.target[0] ? NULL : &res, rc < 0 ? &fe : NULL);
        }
        return failed;
}

struct mcs_images {
        bool have_types;
        mcs_image_types types;
        mcs_context_checker *chk;
};

mcs_images *mcs_images_new(void) {
        return calloc(1, sizeof(mcs_images));
}

void mcs_images_free(mcs_images *im) {
        if (!im)
                return;
        mcs_context_checker_free(im->chk);
        free(im);
}

static int checker(mcs_images *im, mcs_err *e) {
        return im->chk ? 0 : mcs_context_checker_new(NULL, &im->chk, e);
}

int mcs_images_check_context(mcs_images *im, const char *context, mcs_err *e) {
        int r = checker(im, e);
        return r < 0 ? r : mcs_context_check(im->chk, context, e);
}

int mcs_images_label(mcs_images *im, mcs_registry *r, const mcs_config *cfg, const mcs_domain *d, const char *level,
                     mcs_image_report report, void *opaque, mcs_err *e) {
        mcs_image_plan plan = {0};
        size_t n_roots;
        int rc;

        if (!im->have_types) {
                if ((rc = mcs_image_types_load(NULL, &im->types, e)) < 0)
                        return rc;
                im->have_types = true;
        }
        if ((rc = checker(im, e)) < 0 || (rc = mcs_image_plan_build(d, &im->types, level, &plan, e)) < 0)
                return rc;
        const char *const *roots = mcs_config_image_roots(cfg, &n_roots);
        rc = mcs_guest_images_label(r, im->chk, d->uuid, &plan, roots, n_roots, report, opaque, e);
        mcs_image_plan_clear(&plan);
        return rc;
}

int mcs_guest_images_restore(mcs_registry *r, const char *uuid, mcs_image_report report, void *opaque, mcs_err *e) {
        mcs_original_list l;
        int rc = mcs_registry_originals(r, uuid, &l, e), failed = 0;
        if (rc < 0)
                return rc;
        for (size_t i = 0; i < l.n; i++) {
                const mcs_original *o = &l.v[i];
                mcs_label_result res = {.outcome = MCS_LABEL_SET};
                mcs_err fe = {0};
                snprintf(res.target, sizeof res.target, "%s", o->path);
                /* No label before (a host without SELinux): take ours off again. */
                int set = o->context[0] ? lsetfilecon_raw(o->path, o->context) : lremovexattr(o->path, "security.selinux");
                int err = set < 0 ? errno : 0;
                if (set < 0 && err != ENOENT && err != ENODATA) {
                        mcs_fail(&fe, MCS_E_IO, "cannot restore %s to %s: %s", o->path,
                                 o->context[0] ? o->context : "no label", strerror(err));
                        failed++;
                } else if (mcs_registry_forget_original(r, o->path, &fe) < 0)
                        failed++;
                report(opaque, o->path, o->context, fe.code ? NULL : &res, fe.code ? &fe : NULL);
        }
        mcs_original_list_clear(&l);
        return failed;
}
