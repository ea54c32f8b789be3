/* Against the installed selinux-policy-default, read offline with libsepol. */
#include <stdio.h>
#include <unistd.h>

#include "mcs-policy.h"
#include "test-util.h"

START_TEST(system_u_range_from_installed_policy) {
        char path[4096];
        mcs_range r;
        mcs_err e = {0};
        char text[MCS_RANGE_STRMAX];
        ck_assert_ok(mcs_policy_find(path, sizeof path, &e), &e);
        ck_assert_ok(mcs_policy_user_range(NULL, "system_u", &r, &e), &e);
        ck_assert_int_gt(mcs_range_format(&r, text, sizeof text), 0);
        ck_assert_str_eq(text, "s0-s0:c0.c1023");

        mcs_catset pool;
        char note[256];
        mcs_policy_default_pool(NULL, &pool, note, sizeof note);
        ck_assert_uint_eq(mcs_catset_count(&pool), 1024);
        ck_assert_msg(strstr(note, "range of system_u in the installed policy"), "%s", note);
}
END_TEST

START_TEST(missing_user_and_bad_files) {
        mcs_range r;
        mcs_err e = {0};
        ck_assert_fails(mcs_policy_user_range(NULL, "no_such_u", &r, &e), &e, MCS_E_POLICY, "no SELinux user no_such_u");
        ck_assert_fails(mcs_policy_user_range("/nonexistent/policy.33", "system_u", &r, &e), &e, MCS_E_POLICY,
                        "/nonexistent/policy.33: No such file or directory");
        char *dir = test_tmpdir(), *bad;
        ck_assert_int_ge(asprintf(&bad, "%s/policy.33", dir), 0);
        FILE *f = fopen(bad, "w");
        fputs("not a policy", f);
        fclose(f);
        ck_assert_fails(mcs_policy_user_range(bad, "system_u", &r, &e), &e, MCS_E_POLICY, "not a binary policy");

        /* With no readable policy the pool falls back to c0.c1023 and says why. */
        mcs_catset pool;
        char note[512];
        mcs_policy_default_pool(bad, &pool, note, sizeof note);
        ck_assert_uint_eq(mcs_catset_count(&pool), 1024);
        ck_assert_msg(strstr(note, "pool c0.c1023: ") && strstr(note, "not a binary policy"), "%s", note);
        unlink(bad);
        free(bad);
        test_rmtree(dir);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("policy");
        TCase *tc = tcase_create("sepol");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, system_u_range_from_installed_policy);
        tcase_add_test(tc, missing_user_and_bad_files);
        suite_add_tcase(s, tc);
        return test_run(s);
}
