#include "mcs-guest-check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mcs-domain-label.h"
#include "mcs-level.h"

typedef struct ctx {
        const char *uuid, *name;
        mcs_check_report report;
        void *opaque;
        unsigned n;
} ctx;

static void say(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(ctx *c, const char *fmt, ...) {
        char what[MCS_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        c->report(c->opaque, c->uuid, c->name, what);
        c->n++;
}

/* The level of a context, or "" when it has none. */
static const char *level_of(const char *context, char *buf, size_t len) {
        if (!context || mcs_context_level(context, buf, len, NULL) < 0)
                buf[0] = '\0';
        return buf;
}

static void check_images(ctx *c, const mcs_check_guest_input *in) {
        const mcs_domain *d = in->dom;
        /* relabel='no': the administrator labels images, so they must carry
         * the label at all times; relabel='yes': libvirt labels them while
         * the guest runs, which only shows on an SELinux host. */
        bool always = d->mode == MCS_SECLABEL_STATIC && !d->relabel;
        if (!always && !(in->active && in->selinux_host))
                return;
        for (size_t i = 0; i < d->n_disks; i++) {
                const mcs_disk *k = &d->disks[i];
                char have[MCS_RANGE_STRMAX];
                if (k->norelabel || k->readonly)
                        continue; /* its own choice; read-only content may be shared */
                const char *want = k->shareable ? "s0" : in->rec->label;
                if (in->disk_errno[i]) {
                        say(c, "disk %s: cannot read its label: %s", k->path, strerror(in->disk_errno[i]));
                        continue;
                }
                if (!in->disk_labels[i]) {
                        say(c, "disk %s carries no SELinux label; it should carry %s", k->path, want);
                        continue;
                }
                if (strcmp(level_of(in->disk_labels[i], have, sizeof have), want))
                        say(c, "disk %s is labelled %s, not %s", k->path, in->disk_labels[i], want);
        }
}

unsigned mcs_check_guest(const mcs_check_guest_input *in, mcs_check_report report, void *opaque) {
        const mcs_domain *d = in->dom;
        const mcs_record *rec = in->rec;
        ctx c = {d->uuid, d->name, report, opaque, 0};
        char lv[MCS_RANGE_STRMAX];

        if (in->excluded || d->mode == MCS_SECLABEL_NONE || in->policy == MCS_LABELS_OFF)
                return 0;
        if (!in->persistent && !d->label)
                return 0; /* a transient guest without a label yet: nothing to hold */
        if (in->collision)
                say(&c, "COLLISION: %s", in->collision);
        if (in->collision && !rec)
                return c.n;
        if (in->refused) {
                say(&c, "its label is refused: %s", in->refused);
                return c.n;
        }
        if (in->failed)
                say(&c, "mcsd failed on it: %s", in->failed);
        if (in->waiting && !rec) {
                say(&c, "waiting for a label: %s", in->waiting);
                return c.n;
        }
        if (!rec) {
                say(&c, "holds no reservation in the registry");
                return c.n;
        }
        if (strcmp(rec->name, d->name))
                say(&c, "the registry knows it as '%s'", rec->name);
        if (in->persistent && in->policy == MCS_LABELS_WRITE) {
                if (d->mode != MCS_SECLABEL_STATIC)
                        say(&c, "its XML has no static label yet (reserved: %s)", rec->label);
                else if (strcmp(level_of(d->label, lv, sizeof lv), rec->label))
                        say(&c, "its XML label %s differs from its reservation %s", d->label, rec->label);
        }
        if (in->active && (rec->state != MCS_STATE_RUNNING || strcmp(rec->host, in->host_id)))
                say(&c, "runs here, but the registry says %s on host %s", mcs_state_name(rec->state), rec->host);
        if (!in->active && rec->state == MCS_STATE_RUNNING && !strcmp(rec->host, in->host_id))
                say(&c, "the registry says it runs here, but it does not");
        if (in->active && in->live_label && strcmp(level_of(in->live_label, lv, sizeof lv), rec->label))
                say(&c, "runs with %s, not its reservation %s (it applies from its next start)", in->live_label,
                    rec->label);
        check_images(&c, in);
        return c.n;
}

unsigned mcs_check_orphan(const mcs_record *rec, const char *host_id, mcs_check_report report, void *opaque) {
        ctx c = {rec->uuid, rec->name, report, opaque, 0};
        if (strcmp(rec->host, host_id))
                return 0;
        if (rec->state == MCS_STATE_RUNNING)
                say(&c, "the registry says it runs here with %s, but this host has no such guest", rec->label);
        else if (rec->state == MCS_STATE_MIGRATING)
                say(&c, "the registry says it migrates from here with %s; the host it runs on now records it "
                    "once its mcsd sees it (nothing releases it meanwhile)", rec->label);
        else if (rec->kind != MCS_KIND_STATIC)
                say(&c, "%s is reserved for a guest this host no longer has (mcsctl gc releases it)", rec->label);
        /* A static reservation without a guest is an operator's reservation. */
        return c.n;
}
