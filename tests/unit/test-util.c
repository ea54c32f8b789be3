#include "test-util.h"

#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#include "mcs-level.h"

char *test_tmpdir(void) {
        const char *base = getenv("TMPDIR");
        char *path;
        ck_assert_int_ge(asprintf(&path, "%s/mcs-test.XXXXXX", base && *base ? base : "/var/tmp"), 0);
        ck_assert_ptr_nonnull(mkdtemp(path));
        return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

void test_rmtree(const char *dir) {
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *test_dir, *test_db_path;

void test_db_setup(void) {
        test_dir = test_tmpdir();
        ck_assert_int_ge(asprintf(&test_db_path, "%s/registry.db", test_dir), 0);
}

void test_db_teardown(void) {
        test_rmtree(test_dir);
        free(test_dir);
        free(test_db_path);
}

int test_run(Suite *s) {
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

mcs_registry *test_open_registry(const char *host, const char *pool) {
        mcs_registry_config cfg = {.create = true, .host_id = host};
        mcs_registry *r;
        mcs_err e = {0};
        ck_assert_ok(mcs_catset_parse(pool, &cfg.pool, &e), &e);
        ck_assert_ok(mcs_registry_open(test_db_path, &cfg, &r, &e), &e);
        return r;
}
