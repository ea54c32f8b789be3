#include "mcs-policy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
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

void mcs_policy_default_range(const char *policy_path, mcs_range *range, char *note, size_t len) {
        mcs_err e = {0};
        char text[MCS_RANGE_STRMAX];
        bool from_policy = mcs_policy_user_range(policy_path, "system_u", range, &e) == 0;
        if (!from_policy) {
                *range = (mcs_range){0};
                mcs_catset_add_range(&range->high.cats, 0, MCS_NCATS - 1);
        }
        if (note) {
                mcs_range_format(range, text, sizeof text);
                snprintf(note, len, "labels within %s: %s", text,
                         from_policy ? "the range of system_u in the installed policy" : e.msg);
        }
}

struct mcs_context_checker {
        bool kernel;           /* SELinux is enabled: ask the kernel */
        char path[4096];       /* else this policy file... */
        struct sepol_state s;  /* ...loaded on first use */
        bool loaded;
};

int mcs_context_checker_new(const char *policy_path, mcs_context_checker **out, mcs_err *e) {
        mcs_context_checker *c = calloc(1, sizeof *c);
        int r;
        if (!c)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        c->kernel = is_selinux_enabled() > 0 && !policy_path;
        if (policy_path)
                snprintf(c->path, sizeof c->path, "%s", policy_path);
        else if (!c->kernel && (r = mcs_policy_find(c->path, sizeof c->path, e)) < 0) {
                free(c);
                return r;
        }
        *out = c;
        return 0;
}

void mcs_context_checker_free(mcs_context_checker *c) {
        if (!c)
                return;
        sepol_state_done(&c->s);
        free(c);
}

static int load(mcs_context_checker *c, mcs_err *e) {
        struct sepol_state *s = &c->s;
        if (c->loaded)
                return 0;
        if (!(s->f = fopen(c->path, "re")))
                return mcs_fail(e, MCS_E_POLICY, "%s: %s", c->path, strerror(errno));
        s->h = sepol_handle_create();
        if (!s->h || sepol_policydb_create(&s->db) < 0 || sepol_policy_file_create(&s->pf) < 0)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory for libsepol");
        sepol_msg_set_callback(s->h, NULL, NULL);
        sepol_policy_file_set_fp(s->pf, s->f);
        sepol_policy_file_set_handle(s->pf, s->h);
        if (sepol_policydb_read(s->db, s->pf) < 0)
                return mcs_fail(e, MCS_E_POLICY, "%s: not a binary policy libsepol can read", c->path);
        c->loaded = true;
        return 0;
}

int mcs_context_check(mcs_context_checker *c, const char *context, mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        int r;
        if (c->kernel) {
                if (security_check_context_raw(context) < 0)
                        return mcs_fail(e, MCS_E_INVALID, "'%s' is not a valid context for the running kernel's policy",
                                        mcs_quote(context, q, sizeof q));
                return 0;
        }
        if ((r = load(c, e)) < 0)
                return r;
        sepol_context_t *ctx = NULL;
        bool ok = sepol_context_from_string(c->s.h, context, &ctx) >= 0 && sepol_context_check(c->s.h, c->s.db, ctx) >= 0;
        sepol_context_free(ctx);
        if (!ok)
                return mcs_fail(e, MCS_E_INVALID, "'%s' is not a valid context in %s", mcs_quote(context, q, sizeof q),
                                c->path);
        return 0;
}
