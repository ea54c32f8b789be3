/* Helpers shared by the Check suites. */
#pragma once

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Asserts that a call failed with the code and that its message holds needle. */
#define ck_assert_fails(call, err, code, needle)                                                   \
        do {                                                                                       \
                int rc_ = (call);                                                                  \
                ck_assert_msg(rc_ == -(int) (code), "%s returned %d, wanted %d (%s)", #call, rc_, \
                              -(int) (code), (err)->msg);                                          \
                ck_assert_msg(strstr((err)->msg, (needle)) != NULL, "message '%s' lacks '%s'",     \
                              (err)->msg, (needle));                                               \
        } while (0)

#define ck_assert_ok(call, err)                                                                    \
        do {                                                                                       \
                int rc_ = (call);                                                                  \
                ck_assert_msg(rc_ == 0, "%s failed: %d %s", #call, rc_, (err)->msg);              \
        } while (0)

/* A fresh directory under $TMPDIR (or /var/tmp: a real disk, for fsync). */
char *test_tmpdir(void);
void test_rmtree(const char *dir);

/* A fixture for registry suites: a fresh directory and a database path in it. */
extern char *test_dir, *test_db_path;
void test_db_setup(void);
void test_db_teardown(void);

#include "mcs-registry.h"
/* The fixture's registry, opened as host, drawing from pool ("c0.c1023"). */
mcs_registry *test_open_registry(const char *host, const char *pool);

/* Runs the suite; returns the process exit status. */
int test_run(Suite *s);
