#include "mcs-error.h"

#include <stdio.h>
#include <string.h>

#include "mcs-macro.h"

int mcs_fail(mcs_err *e, mcs_code code, const char *fmt, ...) {
        if (e) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(e->msg, sizeof e->msg, fmt, ap);
                va_end(ap);
                e->code = code;
        }
        return -(int) code;
}

void mcs_err_prefix(mcs_err *e, const char *fmt, ...) {
        char prefix[MCS_ERR_MSG_MAX];
        va_list ap;

        if (!e)
                return;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        /* "prefix: old message", cut to fit. */
        size_t np = strlen(prefix), nm = strlen(e->msg), cap = sizeof e->msg - 1;
        if (np + 2 > cap)
                np = cap - 2;
        if (np + 2 + nm > cap)
                nm = cap - np - 2;
        memmove(e->msg + np + 2, e->msg, nm);
        memcpy(e->msg, prefix, np);
        memcpy(e->msg + np, ": ", 2);
        e->msg[np + 2 + nm] = '\0';
}

void mcs_err_clear(mcs_err *e) {
        if (e) {
                e->code = MCS_OK;
                e->msg[0] = '\0';
        }
}

const char *mcs_code_name(mcs_code code) {
        static const char *const names[] = {
                [MCS_OK] = "ok",
                [MCS_E_INVALID] = "invalid",
                [MCS_E_RANGE] = "out-of-range",
                [MCS_E_NOMEM] = "no-memory",
                [MCS_E_EXHAUSTED] = "exhausted",
                [MCS_E_CONFLICT] = "conflict",
                [MCS_E_EXISTS] = "exists",
                [MCS_E_NOTFOUND] = "not-found",
                [MCS_E_BUSY] = "busy",
                [MCS_E_IO] = "io",
                [MCS_E_SCHEMA] = "schema",
                [MCS_E_POLICY] = "policy",
                [MCS_E_CHANGED] = "changed",
                [MCS_E_STALE] = "stale",
        };
        if ((unsigned) code >= MCS_ARRAY_SIZE(names) || !names[code])
                return "unknown";
        return names[code];
}

char *mcs_quote(const char *s, char *out, size_t len) {
        static const char ellipsis[] = "...";
        size_t o = 0;

        if (!len)
                return out;
        for (; *s; s++) {
                unsigned char ch = (unsigned char) *s;
                size_t need = (ch >= 0x20 && ch < 0x7f && ch != '\\') ? 1 : 4;
                if (o + need + sizeof ellipsis > len) {
                        if (o + sizeof ellipsis <= len) {
                                memcpy(out + o, ellipsis, sizeof ellipsis);
                                return out;
                        }
                        break;
                }
                if (need == 1)
                        out[o++] = (char) ch;
                else
                        o += (size_t) snprintf(out + o, len - o, "\\x%02x", ch);
        }
        out[o < len ? o : len - 1] = '\0';
        return out;
}
