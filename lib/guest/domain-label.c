#include "mcs-domain-label.h"

#include <errno.h>
#include <selinux/selinux.h>
#include <stdio.h>
#include <string.h>

#include "mcs-level.h"

#define TYPES_LINE_MAX 1024

int mcs_context_file_load(const char *path, mcs_context *out, unsigned max, unsigned *n_out, mcs_err *e) {
        char line[TYPES_LINE_MAX];
        unsigned n = 0;
        FILE *f = fopen(path, "re");
        if (!f)
                return mcs_fail(e, errno == ENOENT ? MCS_E_NOTFOUND : MCS_E_IO, "%s: %s", path, strerror(errno));
        while (n < max && fgets(line, sizeof line, f)) {
                size_t len = strlen(line);
                if (len && line[len - 1] == '\n')
                        line[--len] = '\0';
                else if (!feof(f)) {
                        fclose(f);
                        return mcs_fail(e, MCS_E_INVALID, "%s:%u: line longer than %d bytes", path, n + 1, TYPES_LINE_MAX);
                }
                int r = mcs_context_parse(line, &out[n], e);
                if (r < 0) {
                        fclose(f);
                        mcs_err_prefix(e, "%s:%u", path, n + 1);
                        return r;
                }
                n++;
        }
        fclose(f);
        if (n == 0)
                return mcs_fail(e, MCS_E_INVALID, "%s:1: empty, expected a context such as system_u:system_r:svirt_t:s0",
                                path);
        *n_out = n;
        return 0;
}

int mcs_domain_types_load(const char *path, mcs_domain_types *out, mcs_err *e) {
        mcs_context c[2];
        unsigned n;
        int r;

        if (!path)
                path = selinux_virtual_domain_context_path();
        if (!path)
                return mcs_fail(e, MCS_E_POLICY, "libselinux names no virtual domain context file");
        if ((r = mcs_context_file_load(path, c, 2, &n, e)) < 0)
                return r;
        memset(out, 0, sizeof *out);
        out->kvm = c[0];
        if (n == 2)
                out->tcg = c[1];
        out->has_tcg = n == 2;
        return 0;
}

int mcs_domain_label(const mcs_domain *d, const mcs_domain_types *t, const char *level, char *out, size_t len,
                     mcs_err *e) {
        mcs_context c;
        int r;

        if (d->baselabel) {
                if ((r = mcs_context_parse(d->baselabel, &c, e)) < 0) {
                        mcs_err_prefix(e, "guest '%s': <baselabel>", d->name);
                        return r;
                }
        } else if (t->has_tcg && d->virt_type && !strcmp(d->virt_type, "qemu"))
                c = t->tcg;
        else
                c = t->kvm;
        if ((r = mcs_range_parse(level, &c.range, e)) < 0)
                return r;
        c.has_range = true;
        if (mcs_context_format(&c, out, len) < 0)
                return mcs_fail(e, MCS_E_RANGE, "guest '%s': the label is longer than %zu bytes", d->name, len);
        return 0;
}

int mcs_context_level(const char *context, char *out, size_t len, mcs_err *e) {
        mcs_context c;
        int r = mcs_context_parse(context, &c, e);
        if (r < 0)
                return r;
        if (!c.has_range) {
                char q[MCS_QUOTE_MAX];
                return mcs_fail(e, MCS_E_INVALID, "'%s': no MCS level", mcs_quote(context, q, sizeof q));
        }
        if (mcs_range_format(&c.range, out, len) < 0)
                return mcs_fail(e, MCS_E_RANGE, "the MCS level is too long");
        return 0;
}
