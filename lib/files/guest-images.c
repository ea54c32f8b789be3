#include "mcs-guest-images.h"

#include <errno.h>
#include <limits.h>
#include <selinux/selinux.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcs-file-fd.h"

struct remember {
        mcs_registry *r;
        const char *uuid;
};

static int remember(void *opaque, const char *target, const char *previous, mcs_err *e) {
        struct remember *m = opaque;
        if (!previous)
                return mcs_fail(e, MCS_E_IO, "%s: its label cannot be read, so it could not be put back; not labelled",
                                target);
        return mcs_registry_remember_original(m->r, m->uuid, target, previous, e);
}

/* The n-th colon-separated field of a context (0: user), or NULL. */
static const char *field(const char *context, int n) {
        for (; context && n > 0; n--)
                if ((context = strchr(context, ':')))
                        context++;
        return context;
}

/* Whether context's type field (from field(c, 2)) is type. */
static bool is_type(const char *field2, const char *type) {
        size_t tl = strlen(type);
        return field2 && !strncmp(field2, type, tl) && field2[tl] == ':';
}

int mcs_backing_check(const mcs_image_plan *p, mcs_backing_source src, const char *target, const char *previous,
                      mcs_err *e) {
        if (!previous)
                return mcs_fail(e, MCS_E_IO,
                                "%s: its label cannot be read; as a backing file it would be readable by every guest; "
                                "not labelled",
                                target);
        if (!previous[0] || !strcmp(previous, p->own))
                return 0; /* no label at all; this guest's own image (an old top after a snapshot) */
        const char *type = field(previous, 2), *range = field(previous, 3);
        bool s0 = range && (!strcmp(range, "s0") || !strcmp(range, "s0-s0"));
        if (s0 && (is_type(type, p->content_type) || is_type(type, "unlabeled_t")))
                return 0;
        if (s0 && src == MCS_BACKING_XML && is_type(type, MCS_DEFAULT_IMAGE_TYPE))
                return 0; /* a base image the operator declared, as created */
        if (is_type(type, p->image_type) && !s0)
                return mcs_fail(e, MCS_E_CONFLICT,
                                "%s carries %s, another guest's private label: as a backing file it would be readable "
                                "by every guest; not labelled",
                                target, previous);
        if (src == MCS_BACKING_XML)
                return mcs_fail(e, MCS_E_CONFLICT,
                                "%s carries %s: a backing file is made readable by every guest only from no label, the "
                                "default image label (" MCS_DEFAULT_IMAGE_TYPE ":s0), the content type at s0 or this "
                                "guest's own label; not labelled",
                                target, previous);
        return mcs_fail(e, MCS_E_CONFLICT,
                        "%s carries %s: a backing file named only by a qcow2 header (which the guest writes) is made "
                        "readable by every guest only from no label, the content type at s0 or this guest's own "
                        "label; declare it in <backingStore> or label it yourself; not labelled",
                        target, previous);
}

struct backing {
        const mcs_image_plan *p;
        mcs_backing_source src;
};

static int backing_check(void *opaque, const char *target, const char *previous, mcs_err *e) {
        const struct backing *b = opaque;
        return mcs_backing_check(b->p, b->src, target, previous, e);
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
                struct backing b = {p, t->backing};
                mcs_before_label before = t->role == MCS_IMAGE_PRIVATE ? remember : t->backing ? backing_check : NULL;
                void *arg = t->role == MCS_IMAGE_PRIVATE ? (void *) &m : (void *) &b;
                rc = mcs_label_file(t->path, t->context, t->kind, roots, n_roots, before, arg, &res, &fe);
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

static int types(mcs_images *im, mcs_err *e) {
        int rc;
        if (!im->have_types) {
                if ((rc = mcs_image_types_load(NULL, &im->types, e)) < 0)
                        return rc;
                im->have_types = true;
        }
        return 0;
}

int mcs_images_types(mcs_images *im, const mcs_image_types **out, mcs_err *e) {
        int r = types(im, e);
        *out = r < 0 ? NULL : &im->types;
        return r;
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

        const char *const *roots = mcs_config_image_roots(cfg, &n_roots);
        if ((rc = types(im, e)) < 0 || (rc = checker(im, e)) < 0 ||
            (rc = mcs_image_plan_build(d, &im->types, level, roots, n_roots, &plan, e)) < 0)
                return rc;
        rc = mcs_guest_images_label(r, im->chk, d->uuid, &plan, roots, n_roots, report, opaque, e);
        mcs_image_plan_clear(&plan);
        return rc;
}

/* Why an original is not put back: *keep says whether the record stays for
 * a later try. Returns 0 when the file may be restored (fd open on it). */
static int restore_check(mcs_context_checker *chk, const mcs_restore_scope *s, const mcs_original *o, int *fd,
                         bool *keep, mcs_err *e) {
        bool ours = !strcmp(o->host, s->host_id);
        char target[PATH_MAX], *cur = NULL;
        mcs_err oe = {0};
        int r;

        *keep = false;
        if (!ours && s->n_shared == 0) {
                *keep = true;
                return mcs_fail(e, MCS_E_INVALID, "%s: recorded by host %s and no shared_root is configured here; "
                                "left for that host", o->path, o->host);
        }
        if (o->context[0] && mcs_context_check(chk, o->context, &oe) < 0)
                return mcs_fail(e, MCS_E_INVALID, "%s: not restored, record dropped: %s", o->path, oe.msg);
        r = ours ? mcs_open_in_roots(o->path, s->roots, s->n_roots, fd, target, &oe)
                 : mcs_open_in_roots(o->path, s->shared, s->n_shared, fd, target, &oe);
        if (r == -MCS_E_NOTFOUND)
                return r; /* gone: forgotten */
        if (r < 0) {
                *keep = r != -MCS_E_INVALID || !ours;
                if (!ours && r == -MCS_E_INVALID)
                        return mcs_fail(e, MCS_E_INVALID, "%s: recorded by host %s and not under a shared_root here; "
                                        "left for that host", o->path, o->host);
                return mcs_fail(e, (mcs_code) -r, "%s: not restored%s: %s", o->path,
                                *keep ? "" : ", record dropped", oe.msg);
        }
        if (mcs_fd_getcon(*fd, &cur) < 0 && !mcs_errno_no_labels(errno) && errno != ENODATA) {
                *keep = true;
                r = mcs_fail(e, MCS_E_IO, "%s: cannot read its label: %s", o->path, strerror(errno));
        } else if (!cur || strcmp(cur, s->guest_label))
                r = mcs_fail(e, MCS_E_CONFLICT, "%s: not restored, record dropped: it carries %s, not the guest's %s",
                             o->path, cur ? cur : "no label", s->guest_label);
        freecon(cur);
        if (r < 0) {
                close(*fd);
                *fd = -1;
        }
        return r;
}

int mcs_guest_images_restore(mcs_registry *r, mcs_context_checker *chk, const mcs_restore_scope *s, const char *uuid,
                             mcs_image_report report, void *opaque, mcs_err *e) {
        mcs_original_list l;
        int rc = mcs_registry_originals(r, uuid, &l, e), failed = 0;
        if (rc < 0)
                return rc;
        for (size_t i = 0; i < l.n; i++) {
                const mcs_original *o = &l.v[i];
                mcs_label_result res = {.outcome = MCS_LABEL_SET};
                mcs_err fe = {0};
                bool keep = false;
                int fd = -1;
                snprintf(res.target, sizeof res.target, "%s", o->path);
                rc = restore_check(chk, s, o, &fd, &keep, &fe);
                if (rc == 0) {
                        /* No label before (a host without SELinux): take ours off again. */
                        int set = o->context[0] ? mcs_fd_setcon(fd, o->context) : mcs_fd_removecon(fd);
                        int err = set < 0 ? errno : 0;
                        close(fd);
                        if (set < 0 && err != ENODATA) {
                                mcs_fail(&fe, MCS_E_IO, "cannot restore %s to %s: %s", o->path,
                                         o->context[0] ? o->context : "no label", strerror(err));
                                keep = true;
                        }
                }
                mcs_err ge = {0};
                if (keep)
                        failed++;
                else if (mcs_registry_forget_original(r, o->path, &ge) < 0) {
                        failed++;
                        if (!fe.code)
                                fe = ge;
                }
                bool gone = rc == -MCS_E_NOTFOUND;
                if (gone)
                        fe = (mcs_err){0};
                report(opaque, o->path, o->context, fe.code ? NULL : &res, fe.code ? &fe : NULL);
        }
        mcs_original_list_clear(&l);
        return failed;
}

int mcs_images_restore(mcs_images *im, mcs_registry *r, const mcs_config *cfg, const char *host_id, const char *uuid,
                       const char *level, mcs_image_report report, void *opaque, mcs_err *e) {
        mcs_restore_scope s = {.host_id = host_id};
        char label[MCS_CONTEXT_MAX];
        int rc;
        if ((rc = types(im, e)) < 0 || (rc = checker(im, e)) < 0)
                return rc;
        const mcs_context *t = &im->types.image;
        int n = snprintf(label, sizeof label, "%s:%s:%s:%s", t->user, t->role, t->type, level);
        if (n < 0 || (size_t) n >= sizeof label)
                return mcs_fail(e, MCS_E_RANGE, "the guest's image context is too long");
        s.guest_label = label;
        s.roots = mcs_config_image_roots(cfg, &s.n_roots);
        s.shared = mcs_config_shared_roots(cfg, &s.n_shared);
        return mcs_guest_images_restore(r, im->chk, &s, uuid, report, opaque, e);
}
