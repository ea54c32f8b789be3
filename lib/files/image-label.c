#include "mcs-image-label.h"

#include <errno.h>
#include <limits.h>
#include <selinux/selinux.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcs-domain-label.h"
#include "mcs-file-fd.h"
#include "mcs-macro.h"

int mcs_image_types_load(const char *path, mcs_image_types *out, mcs_err *e) {
        mcs_context c[2];
        unsigned n;
        int r;
        if (!path)
                path = selinux_virtual_image_context_path();
        if (!path)
                return mcs_fail(e, MCS_E_POLICY, "libselinux names no virtual image context file");
        if ((r = mcs_context_file_load(path, c, 2, &n, e)) < 0)
                return r;
        if (n < 2)
                return mcs_fail(e, MCS_E_INVALID, "%s:2: missing, expected the read-only content context", path);
        out->image = c[0];
        out->content = c[1];
        return 0;
}

void mcs_image_plan_clear(mcs_image_plan *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->v[i].path);
        free(p->v);
        *p = (mcs_image_plan){0};
}

static int add(mcs_image_plan *p, const char *path, const mcs_context *type, const char *level, mcs_image_role role,
               mcs_file_kind kind, mcs_backing_source backing, mcs_err *e) {
        for (size_t i = 0; i < p->n; i++)
                if (!strcmp(p->v[i].path, path))
                        return 0; /* first role wins: a disk is not also its own backing file */
        mcs_image_target *v = realloc(p->v, (p->n + 1) * sizeof *v);
        if (!v)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        p->v = v;
        mcs_image_target *t = &v[p->n];
        *t = (mcs_image_target){.role = role, .kind = kind, .backing = backing, .path = strdup(path)};
        if (!t->path)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        int n = snprintf(t->context, sizeof t->context, "%s:%s:%s:%s", type->user, type->role, type->type, level);
        if (n < 0 || (size_t) n >= sizeof t->context) {
                free(t->path);
                return mcs_fail(e, MCS_E_RANGE, "context for %s too long", path);
        }
        p->n++;
        return 0;
}

static int too_deep(const char *disk, mcs_err *e) {
        return mcs_fail(e, MCS_E_INVALID, "%s: backing chain deeper than %u (a loop?)", disk, MCS_BACKING_DEPTH_MAX);
}

/* The backing file image names in its qcow2 header. The image is read only
 * if it resolves inside the roots and is a regular file, through a
 * descriptor that never waits; otherwise the chain ends here and labelling
 * the file reports why. A block device is never read: O_NONBLOCK does not
 * keep a read from one waiting (a suspended device-mapper volume, a
 * multipath device queueing with no path, a dead NBD), and this runs on
 * mcsd's main loop or its hook thread. */
static int read_backing(const char *image, const char *const *roots, size_t n_roots, mcs_qcow2_backing *out,
                        mcs_err *e) {
        char target[PATH_MAX];
        mcs_err ignored = {0};
        int pfd;
        *out = (mcs_qcow2_backing){0};
        if (mcs_open_in_roots(image, roots, n_roots, &pfd, target, &ignored) < 0)
                return 0;
        if (mcs_fd_require_kind(pfd, MCS_FILE_REGULAR, image, &ignored) < 0) {
                close(pfd);
                return 0;
        }
        int fd = mcs_fd_reopen_read(pfd), err = errno;
        close(pfd);
        if (fd < 0)
                return mcs_fail(e, MCS_E_IO, "%s: %s", image, strerror(err));
        int r = mcs_qcow2_read(fd, image, out, e);
        close(fd);
        return r;
}

/* The files below disk k, read-only to the guest: libvirt's <backingStore>
 * chain if the XML has one, else for a qcow2 disk in a regular file the
 * chain its headers name, as long as each names its backing as qcow2. */
static int plan_chain(mcs_image_plan *p, const mcs_disk *k, const mcs_image_types *t, const char *const *roots,
                      size_t n_roots, mcs_err *e) {
        int r = 0;
        if (k->has_chain) {
                if (k->n_chain > MCS_BACKING_DEPTH_MAX)
                        return too_deep(k->path, e);
                for (size_t i = 0; i < k->n_chain && r == 0; i++)
                        r = add(p, k->chain[i].path, &t->content, "s0", MCS_IMAGE_CONTENT,
                                k->chain[i].block ? MCS_FILE_BLOCK : MCS_FILE_REGULAR, MCS_BACKING_XML, e);
                return r;
        }
        if (!k->format || strcmp(k->format, "qcow2"))
                return 0; /* raw or undeclared: its content is never probed */
        if (k->block)
                return 0; /* a block device is never read (read_backing) */
        _cleanup_free_ char *cur = strdup(k->path);
        if (!cur)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        for (unsigned depth = 0;; depth++) {
                mcs_qcow2_backing b;
                if (depth == MCS_BACKING_DEPTH_MAX)
                        return too_deep(k->path, e);
                if ((r = read_backing(cur, roots, n_roots, &b, e)) < 0 || !b.file)
                        return r;
                r = add(p, b.file, &t->content, "s0", MCS_IMAGE_CONTENT, MCS_FILE_DISK, MCS_BACKING_HEADER, e);
                free(cur);
                cur = b.file;
                /* A raw backing file, or one whose format the image does not
                 * name (libvirt no longer probes it either), is labelled and
                 * never read: its content may be anyone's. */
                if (r < 0 || strcmp(b.format, "qcow2"))
                        return r;
        }
}

int mcs_image_plan_build(const mcs_domain *d, const mcs_image_types *t, const char *level, const char *const *roots,
                         size_t n_roots, mcs_image_plan *out, mcs_err *e) {
        mcs_image_plan p = {0};
        int r = 0;
        int n = snprintf(p.own, sizeof p.own, "%s:%s:%s:%s", t->image.user, t->image.role, t->image.type, level);
        if (n < 0 || (size_t) n >= sizeof p.own)
                return mcs_fail(e, MCS_E_RANGE, "the guest's image context is too long");
        snprintf(p.image_type, sizeof p.image_type, "%s", t->image.type);
        snprintf(p.content_type, sizeof p.content_type, "%s", t->content.type);
        for (size_t i = 0; i < d->n_disks && r == 0; i++) {
                const mcs_disk *k = &d->disks[i];
                mcs_file_kind kind = k->block ? MCS_FILE_BLOCK : MCS_FILE_REGULAR;
                if (k->norelabel)
                        continue;
                if (k->readonly)
                        r = add(&p, k->path, &t->content, "s0", MCS_IMAGE_CONTENT, kind, MCS_NOT_BACKING, e);
                else
                        r = add(&p, k->path, &t->image, k->shareable ? "s0" : level,
                                k->shareable ? MCS_IMAGE_SHARED : MCS_IMAGE_PRIVATE, kind, MCS_NOT_BACKING, e);
                if (r == 0)
                        r = plan_chain(&p, k, t, roots, n_roots, e);
        }
        if (r < 0) {
                mcs_image_plan_clear(&p);
                return r;
        }
        *out = p;
        return 0;
}

/* ---- labelling one file ---- */

bool mcs_errno_no_labels(int err) {
        return err == ENOTSUP || err == EOPNOTSUPP || err == EROFS;
}

static int no_labels(mcs_label_result *out, const char *target, int err) {
        out->outcome = MCS_LABEL_NO_LABELS;
        snprintf(out->note, sizeof out->note,
                 "%s: %s: " MCS_NO_LABELS_TEXT "; isolation rests on the process label",
                 target, strerror(err));
        return 0;
}

int mcs_label_file(const char *path, const char *context, mcs_file_kind kind, const char *const *roots, size_t n_roots,
                   mcs_before_label before, void *opaque, mcs_label_result *out, mcs_err *e) {
        char *prev = NULL;
        int fd, r;
        *out = (mcs_label_result){0};

        /* Checked and labelled through one descriptor: a path swapped
         * meanwhile cannot redirect the label. */
        if ((r = mcs_open_in_roots(path, roots, n_roots, &fd, out->target, e)) < 0)
                return r;
        /* A FIFO or device node in a root is no disk: labelling it for a
         * guest would hand the guest whatever it leads to. */
        if ((r = mcs_fd_require_kind(fd, kind, path, e)) < 0) {
                close(fd);
                return r;
        }
        bool readable = true;
        if (mcs_fd_getcon(fd, &prev) >= 0) {
                snprintf(out->previous, sizeof out->previous, "%s", prev);
                freecon(prev);
        } else if (mcs_errno_no_labels(errno)) {
                close(fd);
                return no_labels(out, out->target, errno);
        } else
                readable = errno == ENODATA; /* ENODATA: no label at all */
        if (!strcmp(out->previous, context)) {
                close(fd);
                out->outcome = MCS_LABEL_UNCHANGED;
                return 0;
        }
        if (before && (r = before(opaque, out->target, readable ? out->previous : NULL, e)) < 0) {
                close(fd);
                return r;
        }
        if (mcs_fd_setcon(fd, context) < 0) {
                int err = errno;
                close(fd);
                if (mcs_errno_no_labels(err))
                        return no_labels(out, out->target, err);
                return mcs_fail(e, err == ENOENT ? MCS_E_NOTFOUND : MCS_E_IO, "cannot label %s %s: %s", out->target, context,
                                strerror(err));
        }
        /* Some filesystems accept the write and keep something else. */
        char *back = NULL;
        bool same = mcs_fd_getcon(fd, &back) >= 0 && !strcmp(back, context);
        close(fd);
        r = same ? 0
                 : mcs_fail(e, MCS_E_IO, "%s: the filesystem dropped the label: set %s, reads back %s", out->target,
                                context, back ? back : "nothing");
        freecon(back);
        out->outcome = MCS_LABEL_SET;
        return r;
}
