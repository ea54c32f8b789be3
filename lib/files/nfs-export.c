#include "mcs-nfs-export.h"

#include <ctype.h>
#include <errno.h>
#include <semanage/semanage.h>
#include <selinux/selinux.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcs-file-fd.h"
#include "mcs-macro.h"

static const char *const outcome_names[] = {"added", "changed", "unchanged", "removed", "absent"};

const char *mcs_nfs_outcome_name(mcs_nfs_outcome o) {
        return (unsigned) o < MCS_ARRAY_SIZE(outcome_names) ? outcome_names[o] : "?";
}

/* libsemanage's own error messages, kept for ours; its warnings are dropped. */
static void on_message(void *arg, semanage_handle_t *h, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void on_message(void *arg, semanage_handle_t *h, const char *fmt, ...) {
        char *buf = arg;
        if (semanage_msg_get_level(h) != SEMANAGE_MSG_ERR)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, 512, fmt, ap);
        va_end(ap);
}

/* PATH as a regular expression: every character that means something to
 * regcomp is escaped, then (/.*)? covers everything below it. */
static int rule_expr(const char *path, char *out, size_t len, mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        size_t n = strlen(path), o = 0;
        while (n > 1 && path[n - 1] == '/')
                n--;
        if (path[0] != '/' || n < 2)
                return mcs_fail(e, MCS_E_INVALID, "'%s' is not an absolute directory other than /", mcs_quote(path, q, sizeof q));
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) path[i];
                if (c <= ' ' || c == 0x7f)
                        return mcs_fail(e, MCS_E_INVALID, "'%s' has a space or control character at column %zu",
                                        mcs_quote(path, q, sizeof q), i + 1);
                if (o + 3 >= len)
                        return mcs_fail(e, MCS_E_RANGE, "path too long");
                if (strchr(".[]()*+?{}|^$\\", c))
                        out[o++] = '\\';
                out[o++] = (char) c;
        }
        if (o + sizeof "(/.*)?" > len)
                return mcs_fail(e, MCS_E_RANGE, "path too long");
        strcpy(out + o, "(/.*)?");
        return 0;
}

static int check_type(const char *type, mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        for (const char *p = type; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '_')
                        return mcs_fail(e, MCS_E_INVALID, "'%s' is not an SELinux type name", mcs_quote(type, q, sizeof q));
        return *type ? 0 : mcs_fail(e, MCS_E_INVALID, "empty type");
}

static void label_root(const char *path, const char *context, const char *const *roots, size_t n_roots,
                       mcs_nfs_result *out) {
        char target[PATH_MAX];
        mcs_err e = {0};
        int fd, r = mcs_open_in_roots(path, roots, n_roots, &fd, target, &e);
        if (r == -MCS_E_NOTFOUND)
                snprintf(out->applied, sizeof out->applied, "%s: %s; the rule applies once it exists", path,
                         strerror(ENOENT));
        else if (r < 0)
                snprintf(out->applied, sizeof out->applied, "not labelled: %s", e.msg);
        else if (mcs_fd_setcon(fd, context) < 0)
                snprintf(out->applied, sizeof out->applied, "%s: cannot label it: %s", path, strerror(errno));
        else
                snprintf(out->applied, sizeof out->applied, "%s labelled %s", path, context);
        if (r == 0)
                close(fd);
}

int mcs_nfs_export(const char *root, const char *path, const char *type, bool remove, const char *const *roots,
                   size_t n_roots, mcs_nfs_result *out, mcs_err *e) {
        char msg[512] = "";
        semanage_handle_t *h = NULL;
        semanage_fcontext_key_t *key = NULL;
        semanage_fcontext_t *fc = NULL, *old = NULL;
        semanage_context_t *con = NULL;
        int r, exists = 0;

        *out = (mcs_nfs_result){0};
        if (!type)
                type = MCS_NFS_DEFAULT_TYPE;
        if ((r = rule_expr(path, out->expr, sizeof out->expr, e)) < 0 || (r = check_type(type, e)) < 0)
                return r;
        snprintf(out->context, sizeof out->context, "system_u:object_r:%s:s0", type);

        if (root && semanage_set_root(root) < 0)
                return mcs_fail(e, MCS_E_POLICY, "libsemanage: cannot use the root %s", root);
        if (!(h = semanage_handle_create()))
                return mcs_fail(e, MCS_E_NOMEM, "libsemanage: out of memory");
        semanage_msg_set_callback(h, on_message, msg);
        semanage_set_create_store(h, 0);
        if (semanage_connect(h) < 0) {
                r = mcs_fail(e, MCS_E_POLICY, "libsemanage: cannot open the policy store%s%s: %s", root ? " under " : "",
                             root ? root : "", msg[0] ? msg : "is the SELinux policy installed?");
                goto out;
        }
        if (semanage_begin_transaction(h) < 0 ||
            semanage_fcontext_key_create(h, out->expr, SEMANAGE_FCONTEXT_ALL, &key) < 0 ||
            semanage_fcontext_exists_local(h, key, &exists) < 0) {
                r = mcs_fail(e, MCS_E_POLICY, "libsemanage: %s", msg[0] ? msg : "cannot read the local file contexts");
                goto out;
        }
        if (remove) {
                out->outcome = exists ? MCS_NFS_REMOVED : MCS_NFS_ABSENT;
                if (!exists) {
                        r = 0;
                        goto out;
                }
                if (semanage_fcontext_del_local(h, key) < 0 || semanage_commit(h) < 0) {
                        r = mcs_fail(e, MCS_E_POLICY, "libsemanage: cannot remove %s: %s", out->expr, msg);
                        goto out;
                }
                r = 0;
                goto out;
        }
        if (exists && semanage_fcontext_query_local(h, key, &old) >= 0) {
                semanage_context_t *oc = semanage_fcontext_get_con(old);
                char *text = NULL;
                if (oc && semanage_context_to_string(h, oc, &text) >= 0 && !strcmp(text, out->context)) {
                        free(text);
                        out->outcome = MCS_NFS_UNCHANGED;
                        label_root(path, out->context, roots, n_roots, out);
                        r = 0;
                        goto out;
                }
                free(text);
        }
        out->outcome = exists ? MCS_NFS_CHANGED : MCS_NFS_ADDED;
        if (semanage_fcontext_create(h, &fc) < 0 || semanage_fcontext_set_expr(h, fc, out->expr) < 0 ||
            semanage_context_from_string(h, out->context, &con) < 0 || semanage_fcontext_set_con(h, fc, con) < 0) {
                r = mcs_fail(e, MCS_E_INVALID, "libsemanage: %s", msg[0] ? msg : "cannot build the rule");
                goto out;
        }
        semanage_fcontext_set_type(fc, SEMANAGE_FCONTEXT_ALL);
        /* The commit checks the context against the policy: an unknown type fails here. */
        if (semanage_fcontext_modify_local(h, key, fc) < 0 || semanage_commit(h) < 0) {
                r = mcs_fail(e, MCS_E_INVALID, "libsemanage refused %s -> %s: %s", out->expr, out->context,
                             msg[0] ? msg : "commit failed");
                goto out;
        }
        label_root(path, out->context, roots, n_roots, out);
        r = 0;
out:
        /* libsemanage's free functions do not take NULL. */
        if (con)
                semanage_context_free(con);
        if (fc)
                semanage_fcontext_free(fc);
        if (old)
                semanage_fcontext_free(old);
        if (key)
                semanage_fcontext_key_free(key);
        if (h) {
                if (semanage_is_connected(h))
                        semanage_disconnect(h);
                semanage_handle_destroy(h);
        }
        return r;
}
