/* A guest's images from mcsd's side: labelling them for `mcsctl relabel
 * GUEST`, restoring their original labels when a reservation goes. The
 * decisions are lib/'s (image-label.c, guest-images.c). This runs on the
 * main loop and cannot wait on a file a guest's XML names: images are
 * reached with O_PATH, and only a regular file (or a block device) is
 * reopened to read a qcow2 header, O_NONBLOCK; a FIFO or device node is
 * refused, never opened. */
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "mcs-guest-images.h"
#include "mcs-macro.h"
#include "methods.h"

static const char *const outcome_names[] = {"set", "unchanged", "no-labels"};

static void add_image(void *opaque, const char *path, const char *context, const mcs_label_result *res,
                      const mcs_err *err) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "path", json_str(path));
        json_object_object_add(o, "context", json_str(context));
        if (res) {
                json_object_object_add(o, "outcome", json_str(outcome_names[res->outcome]));
                json_object_object_add(o, "previous", json_str(res->previous[0] ? res->previous : NULL));
                if (res->outcome == MCS_LABEL_NO_LABELS)
                        json_object_object_add(o, "note", json_str(res->note));
        }
        if (err)
                json_object_object_add(o, "error", json_str(err->msg));
        json_object_array_add(opaque, o);
}

mcs_images *images_of(mcsd *d) {
        if (!d->images)
                d->images = mcs_images_new();
        return d->images;
}

int images_label(mcsd *d, const mcs_domain *parsed, const char *level, mcs_image_report report, void *opaque,
                 mcs_err *e) {
        mcs_images *im = images_of(d);
        if (!im)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        return mcs_images_label(im, d->reg, &d->cfg, parsed, level, report, opaque, e);
}

int images_relabel(mcsd *d, virDomainPtr dom, const char *level, json_object **out, mcs_err *e) {
        mcs_domain parsed = {0};
        int r = domain_parse(dom, virDomainIsPersistent(dom) == 1, &parsed, e);
        if (r < 0)
                return r;
        json_object *images = json_object_new_array();
        r = images_label(d, &parsed, level, add_image, images, e);
        mcs_domain_clear(&parsed);
        if (r < 0) {
                json_object_put(images);
                return r;
        }
        *out = images;
        return 0;
}

static void log_restore(void *opaque, const char *path, const char *context, const mcs_label_result *res,
                        const mcs_err *err) {
        const char *uuid = opaque;
        (void) res;
        if (err)
                log_guest(MCS_LOG_ERROR, NULL, uuid, NULL, "guest %s: %s", uuid, err->msg);
        else
                log_guest(MCS_LOG_INFO, NULL, uuid, NULL, "guest %s: restored %s to %s", uuid, path,
                          context[0] ? context : "no label");
}

void images_restore(mcsd *d, const char *uuid, const char *level) {
        mcs_images *im = images_of(d);
        mcs_err e = {0};
        int r = im ? mcs_images_restore(im, d->reg, &d->cfg, d->host_id, uuid, level, log_restore, (void *) uuid, &e)
                   : mcs_fail(&e, MCS_E_NOMEM, "out of memory");
        if (r < 0)
                log_guest(MCS_LOG_ERROR, NULL, uuid, NULL, "guest %s: cannot restore its images' labels: %s", uuid, e.msg);
        else if (r > 0)
                log_guest(MCS_LOG_WARNING, NULL, uuid, NULL,
                          "guest %s: %d image labels not restored; they stay in the registry for the next release", uuid,
                          r);
}
