/* Errors: every libmcs call that can fail returns 0 or -MCS_E_* and, when
 * given an mcs_err, leaves a message in it that can be shown to a person. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

typedef enum mcs_code {
        MCS_OK = 0,
        MCS_E_INVALID,   /* malformed input (label, UUID, name, option) */
        MCS_E_RANGE,     /* a value outside its allowed range */
        MCS_E_NOMEM,
        MCS_E_EXHAUSTED, /* no free category pair is left */
        MCS_E_CONFLICT,  /* label held by, containing or contained in another guest's */
        MCS_E_EXISTS,    /* the guest already holds a different label */
        MCS_E_NOTFOUND,
        MCS_E_BUSY,      /* the registry stayed locked beyond the busy timeout */
        MCS_E_IO,        /* storage or system call failure */
        MCS_E_SCHEMA,    /* registry written by a newer mcsd, or damaged */
        MCS_E_POLICY,    /* the SELinux policy could not be read */
        MCS_E_CHANGED,   /* the record changed since the caller read it */
        MCS_E_STALE,     /* the registry changed since the caller's view of it; look again */
        MCS_E__MAX
} mcs_code;

#define MCS_ERR_MSG_MAX 1024

typedef struct mcs_err {
        mcs_code code;
        char msg[MCS_ERR_MSG_MAX];
} mcs_err;

/* Records code and message in e (which may be NULL) and returns -code. */
int mcs_fail(mcs_err *e, mcs_code code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Puts "prefix: " in front of the message already in e. */
void mcs_err_prefix(mcs_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void mcs_err_clear(mcs_err *e);

/* Stable lower-case name of a code, e.g. "conflict"; used in logs and replies. */
const char *mcs_code_name(mcs_code code);

/* Copies s into out for quoting in a message: non-printable bytes become
 * \xNN and a long string is cut with "...". Returns out. */
char *mcs_quote(const char *s, char *out, size_t len);
#define MCS_QUOTE_MAX 160u
