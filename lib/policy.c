#include "mcs-policy.h"

#include <errno.h>
#include <selinux/selinux.h>
#include <sepol/sepol.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mcs-macro.h"

int mcs_policy_find(char *path, size_t len, mcs_err *e) {
        const char *base = selinux_binary_policy_path();
        if (!base)
                return mcs_fail(e, MCS_E_POLICY, "libselinux names no binary policy path");
        for (int v = sepol_policy_kern_vers_max(); v >= sepol_policy_kern_vers_min(); v--) {
                snprintf(path, len, "%s.%d", base, v);
                if (access(path, R_OK) == 0)
                        return 0;
        }
        return mcs_fail(e, MCS_E_POLICY, "no binary policy %s.N is installed", base);
}

struct sepol_state {
        sepol_handle_t *h;
        sepol_policydb_t *db;
        sepol_policy_file_t *pf;
        sepol_user_key_t *key;
        sepol_user_t *user;
        FILE *f;
};

static void sepol_state_done(struct sepol_state *s) {
        if (s->user)
                sepol_user_free(s->user);
        if (s->key)
                sepol_user_key_free(s->key);
        if (s->pf)
                sepol_policy_file_free(s->pf);
        if (s->db)
                sepol_policydb_free(s->db);
        if (s->f)
                fclose(s->f);
        if (s->h)
                sepol_handle_destroy(s->h);
}

int mcs_policy_user_range(const char *policy_path, const char *user, mcs_range *out, mcs_err *e) {
        _cleanup_(sepol_state_done) struct sepol_state s = {0};
        char found[4096];
        int r;

        if (!policy_path) {
                if ((r = mcs_policy_find(found, sizeof found, e)) < 0)
                        return r;
                policy_path = found;
        }
        s.f = fopen(policy_path, "re");
        if (!s.f)
                return mcs_fail(e, MCS_E_POLICY, "%s: %s", policy_path, strerror(errno));
        s.h = sepol_handle_create();
        if (!s.h || sepol_policydb_create(&s.db) < 0 || sepol_policy_file_create(&s.pf) < 0)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory for libsepol");
        sepol_msg_set_callback(s.h, NULL, NULL);
        sepol_policy_file_set_fp(s.pf, s.f);
        sepol_policy_file_set_handle(s.pf, s.h);
        if (sepol_policydb_read(s.db, s.pf) < 0)
                return mcs_fail(e, MCS_E_POLICY, "%s: not a binary policy libsepol can read", policy_path);
        if (sepol_user_key_create(s.h, user, &s.key) < 0)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory for libsepol");
        if (sepol_user_query(s.h, s.db, s.key, &s.user) < 0 || !s.user)
                return mcs_fail(e, MCS_E_POLICY, "%s: no SELinux user %s", policy_path, user);
        const char *range = sepol_user_get_mlsrange(s.user);
        if (!range)
                return mcs_fail(e, MCS_E_POLICY, "%s: user %s has no MLS range (policy without MCS?)",
                                policy_path, user);
        if ((r = mcs_range_parse(range, out, e)) < 0) {
                mcs_err_prefix(e, "%s: range of %s", policy_path, user);
                return r;
        }
        return 0;
}

void mcs_policy_default_pool(const char *policy_path, mcs_catset *pool, char *note, size_t len) {
        mcs_range range;
        mcs_err e = {0};

        if (mcs_policy_user_range(policy_path, "system_u", &range, &e) == 0 &&
            mcs_catset_count(&range.high.cats) >= 2) {
                *pool = range.high.cats;
                if (note) {
                        char text[MCS_LEVEL_STRMAX];
                        mcs_catset_format(pool, text, sizeof text);
                        snprintf(note, len, "pool %s: the range of system_u in the installed policy", text);
                }
                return;
        }
        mcs_catset_clear(pool);
        mcs_catset_add_range(pool, 0, MCS_NCATS - 1);
        if (note)
                snprintf(note, len, "pool c0.c%u: %s", MCS_NCATS - 1,
                         e.code ? e.msg : "system_u's range has fewer than two categories");
}
