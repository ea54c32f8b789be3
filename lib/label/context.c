#include "mcs-context.h"

#include <selinux/context.h>
#include <stdio.h>
#include <string.h>

#include "mcs-macro.h"

static void context_freep(context_t *c) {
        if (*c)
                context_free(*c);
}

/* Identifiers as checkpolicy's lexer takes them: letters, digits, '_', '-', '.'. */
static bool ident_char(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '-' || ch == '.';
}

/* Checks field [start, end) of whole; columns are 1-based. */
static int check_field(const char *whole, const char *field_name, const char *start, const char *end, mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        size_t column = (size_t) (start - whole) + 1;
        if (start == end)
                return mcs_fail(e, MCS_E_INVALID, "'%s': empty %s, at column %zu",
                                mcs_quote(whole, q, sizeof q), field_name, column);
        for (const char *p = start; p < end; p++)
                if (!ident_char(*p))
                        return mcs_fail(e, MCS_E_INVALID, "'%s': bad character in %s, at column %zu",
                                        mcs_quote(whole, q, sizeof q), field_name, (size_t) (p - whole) + 1);
        if ((size_t) (end - start) >= MCS_IDENT_MAX)
                return mcs_fail(e, MCS_E_RANGE, "'%s': %s longer than %u characters, at column %zu",
                                mcs_quote(whole, q, sizeof q), field_name, MCS_IDENT_MAX - 1, column);
        return 0;
}

static int copy_field(const char *whole, const char *field_name, const char *value, char *dst, mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        if (!value || strlen(value) >= MCS_IDENT_MAX)
                return mcs_fail(e, MCS_E_INVALID, "'%s': libselinux reads no %s here",
                                mcs_quote(whole, q, sizeof q), field_name);
        strcpy(dst, value);
        return 0;
}

int mcs_context_parse(const char *text, mcs_context *out, mcs_err *e) {
        static const char *const field_names[] = {"user", "role", "type"};
        char q[MCS_QUOTE_MAX];
        _cleanup_(context_freep) context_t ctx = NULL;
        const char *colon[3];
        const char *p = text;
        int r;

        /* Split and check the fields ourselves first, so errors can give columns. */
        for (int i = 0; i < 3; i++) {
                colon[i] = strchr(p, ':');
                if (!colon[i] && i < 2)
                        return mcs_fail(e, MCS_E_INVALID,
                                        "'%s': a context needs user:role:type[:range], found %d field%s",
                                        mcs_quote(text, q, sizeof q), i + 1, i ? "s" : "");
                if ((r = check_field(text, field_names[i], p, colon[i] ? colon[i] : p + strlen(p), e)) < 0)
                        return r;
                if (!colon[i])
                        break;
                p = colon[i] + 1;
        }

        ctx = context_new(text);
        if (!ctx)
                return mcs_fail(e, MCS_E_INVALID, "'%s': libselinux cannot split this context",
                                mcs_quote(text, q, sizeof q));
        if ((r = copy_field(text, "user", context_user_get(ctx), out->user, e)) < 0 ||
            (r = copy_field(text, "role", context_role_get(ctx), out->role, e)) < 0 ||
            (r = copy_field(text, "type", context_type_get(ctx), out->type, e)) < 0)
                return r;

        out->has_range = colon[2] != NULL;
        if (!out->has_range)
                return 0;
        /* Parse the range from the text itself so columns count from its start. */
        return mcs_range_parse_at(text, (size_t) (colon[2] - text) + 1, &out->range, e);
}

int mcs_context_format(const mcs_context *c, char *buf, size_t len) {
        int n = snprintf(buf, len, "%s:%s:%s%s", c->user, c->role, c->type, c->has_range ? ":" : "");
        if (n < 0 || (size_t) n >= len)
                return -(int) MCS_E_RANGE;
        if (!c->has_range)
                return n;
        int m = mcs_range_format(&c->range, buf + n, len - (size_t) n);
        return m < 0 ? m : n + m;
}
