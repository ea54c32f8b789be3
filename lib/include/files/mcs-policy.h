/* What the installed SELinux policy says, read offline with libsepol (the
 * kernel may have SELinux disabled). */
#pragma once

#include "mcs-catset.h"
#include "mcs-error.h"
#include "mcs-level.h"

/* The binary policy in force: selinux_binary_policy_path() with the highest
 * version suffix present, e.g. /etc/selinux/default/policy/policy.33. */
int mcs_policy_find(char *path, size_t len, mcs_err *e);

/* The MLS range of an SELinux user in a binary policy file
 * (NULL: the policy in force). */
int mcs_policy_user_range(const char *policy_path, const char *user, mcs_range *out, mcs_err *e);

/* The default allocation pool: the categories of system_u's high level in the
 * installed policy, or c0..c1023 when no policy can be read. note, when not
 * NULL, says which one was taken and why. */
void mcs_policy_default_pool(const char *policy_path, mcs_catset *pool, char *note, size_t len);

/* The labels a guest can run with: system_u's range in the installed policy,
 * or s0-s0:c0.c1023 (the MCS policies' range) when no policy can be read.
 * note as above. */
void mcs_policy_default_range(const char *policy_path, mcs_range *range, char *note, size_t len);

/* Checks SELinux contexts before they reach a file: with the kernel when
 * SELinux is enabled, else against a binary policy file read with libsepol
 * (loaded once per checker). */
typedef struct mcs_context_checker mcs_context_checker;

/* policy_path NULL: the policy in force (only read when the kernel cannot check). */
int mcs_context_checker_new(const char *policy_path, mcs_context_checker **out, mcs_err *e);
void mcs_context_checker_free(mcs_context_checker *c);
/* 0, or -MCS_E_INVALID naming the context and which check refused it. */
int mcs_context_check(mcs_context_checker *c, const char *context, mcs_err *e);
