#include "mcs-level.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct cursor {
        const char *whole; /* quoted in errors; columns count from here */
        const char *p;
        mcs_err *e;
};

static unsigned column(const struct cursor *c, const char *at) {
        return (unsigned) (at - c->whole) + 1;
}

static int fail_at(const struct cursor *c, const char *at, mcs_code code, const char *what) {
        char q[MCS_QUOTE_MAX];
        return mcs_fail(c->e, code, "'%s': %s, at column %u", mcs_quote(c->whole, q, sizeof q), what,
                        column(c, at));
}

/* A decimal number without leading zeros, at most max. */
static int parse_number(struct cursor *c, char kind, unsigned max, unsigned *out) {
        const char *start = c->p;
        char what[128];
        unsigned long v = 0;

        if (*c->p != kind) {
                snprintf(what, sizeof what, "expected '%c' followed by a number", kind);
                return fail_at(c, c->p, MCS_E_INVALID, what);
        }
        c->p++;
        if (*c->p < '0' || *c->p > '9') {
                snprintf(what, sizeof what, "expected a number after '%c'", kind);
                return fail_at(c, c->p, MCS_E_INVALID, what);
        }
        if (c->p[0] == '0' && c->p[1] >= '0' && c->p[1] <= '9') {
                snprintf(what, sizeof what, "'%c' number with a leading zero", kind);
                return fail_at(c, start, MCS_E_INVALID, what);
        }
        while (*c->p >= '0' && *c->p <= '9') {
                if (v <= max)
                        v = v * 10 + (unsigned long) (*c->p - '0');
                c->p++;
        }
        if (v > max) {
                int n = (int) (c->p - start);
                if (kind == 'c')
                        snprintf(what, sizeof what,
                                 "category %.*s out of range c0..c%u", n > 40 ? 40 : n, start, max);
                else
                        snprintf(what, sizeof what,
                                 "sensitivity %.*s out of range s0..s%u", n > 40 ? 40 : n, start, max);
                return fail_at(c, start, MCS_E_RANGE, what);
        }
        *out = (unsigned) v;
        return 0;
}

/* catlist := item (',' item)* ; item := cat ('.' cat)? */
static int parse_catlist(struct cursor *c, mcs_catset *out) {
        mcs_catset_clear(out);
        for (;;) {
                const char *item = c->p;
                unsigned lo, hi;
                int r = parse_number(c, 'c', MCS_NCATS - 1, &lo);
                if (r < 0)
                        return r;
                hi = lo;
                if (*c->p == '.') {
                        c->p++;
                        if ((r = parse_number(c, 'c', MCS_NCATS - 1, &hi)) < 0)
                                return r;
                        if (hi <= lo) {
                                char what[96];
                                snprintf(what, sizeof what,
                                         "category range c%u.c%u does not go upwards", lo, hi);
                                return fail_at(c, item, MCS_E_INVALID, what);
                        }
                }
                mcs_catset_add_range(out, lo, hi);
                if (*c->p != ',')
                        return 0;
                c->p++;
        }
}

static int parse_level(struct cursor *c, mcs_level *out) {
        int r = parse_number(c, 's', MCS_MAX_SENS, &out->sens);
        if (r < 0)
                return r;
        mcs_catset_clear(&out->cats);
        if (*c->p != ':')
                return 0;
        c->p++;
        return parse_catlist(c, &out->cats);
}

static int expect_end(struct cursor *c, const char *what_follows) {
        char what[128];
        if (*c->p == '\0')
                return 0;
        if (*c->p == ' ' || *c->p == '\t' || *c->p == '\n')
                return fail_at(c, c->p, MCS_E_INVALID, "unexpected white space");
        char ch[2] = {*c->p, '\0'}, q[8];
        snprintf(what, sizeof what, "unexpected '%s' %s", mcs_quote(ch, q, sizeof q), what_follows);
        return fail_at(c, c->p, MCS_E_INVALID, what);
}

static int empty_input(const struct cursor *c) {
        return mcs_fail(c->e, MCS_E_INVALID, "empty label: expected a level such as 's0:c1,c2'");
}

int mcs_level_parse(const char *text, mcs_level *out, mcs_err *e) {
        struct cursor c = {text, text, e};
        if (!*text)
                return empty_input(&c);
        int r = parse_level(&c, out);
        return r < 0 ? r : expect_end(&c, "after the level");
}

int mcs_catset_parse(const char *text, mcs_catset *out, mcs_err *e) {
        struct cursor c = {text, text, e};
        if (!*text)
                return mcs_fail(e, MCS_E_INVALID, "empty category list: expected e.g. 'c0.c1023'");
        int r = parse_catlist(&c, out);
        return r < 0 ? r : expect_end(&c, "after the category list");
}

int mcs_range_parse_at(const char *whole, size_t offset, mcs_range *out, mcs_err *e) {
        struct cursor c = {whole, whole + offset, e};
        int r;

        if (!*c.p)
                return empty_input(&c);
        if ((r = parse_level(&c, &out->low)) < 0)
                return r;
        if (*c.p == '-') {
                const char *high = ++c.p;
                if ((r = parse_level(&c, &out->high)) < 0)
                        return r;
                if (!mcs_level_dominates(&out->high, &out->low))
                        return fail_at(&c, high, MCS_E_INVALID,
                                       "the high level does not dominate the low level");
        } else
                out->high = out->low;
        return expect_end(&c, "after the range");
}

int mcs_range_parse(const char *text, mcs_range *out, mcs_err *e) {
        return mcs_range_parse_at(text, 0, out, e);
}

/* Appends to buf at *pos; an overflow leaves *pos == len. */
__attribute__((format(printf, 4, 5)))
static void put(char *buf, size_t len, size_t *pos, const char *fmt, ...) {
        va_list ap;
        if (*pos >= len)
                return;
        va_start(ap, fmt);
        int n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
        va_end(ap);
        *pos = (n < 0 || (size_t) n >= len - *pos) ? len : *pos + (size_t) n;
}

static void put_catset(const mcs_catset *s, char *buf, size_t len, size_t *pos) {
        bool first = true;
        int c = mcs_catset_next(s, 0);
        while (c >= 0) {
                unsigned head = (unsigned) c, tail = head;
                while (tail + 1 < MCS_NCATS && mcs_catset_has(s, tail + 1))
                        tail++;
                put(buf, len, pos, "%sc%u", first ? "" : ",", head);
                if (tail == head + 1)
                        put(buf, len, pos, ",c%u", tail);
                else if (tail > head + 1)
                        put(buf, len, pos, ".c%u", tail);
                first = false;
                c = mcs_catset_next(s, tail + 1);
        }
}

static void put_level(const mcs_level *l, char *buf, size_t len, size_t *pos) {
        put(buf, len, pos, "s%u", l->sens);
        if (!mcs_catset_is_empty(&l->cats)) {
                put(buf, len, pos, ":");
                put_catset(&l->cats, buf, len, pos);
        }
}

static int finish(size_t pos, size_t len) {
        return pos >= len ? -(int) MCS_E_RANGE : (int) pos;
}

int mcs_catset_format(const mcs_catset *s, char *buf, size_t len) {
        size_t pos = 0;
        if (len)
                buf[0] = '\0';
        put_catset(s, buf, len, &pos);
        return finish(pos, len);
}

int mcs_level_format(const mcs_level *l, char *buf, size_t len) {
        size_t pos = 0;
        put_level(l, buf, len, &pos);
        return finish(pos, len);
}

int mcs_range_format(const mcs_range *r, char *buf, size_t len) {
        size_t pos = 0;
        put_level(&r->low, buf, len, &pos);
        if (!mcs_level_equal(&r->low, &r->high)) {
                put(buf, len, &pos, "-");
                put_level(&r->high, buf, len, &pos);
        }
        return finish(pos, len);
}

bool mcs_level_dominates(const mcs_level *a, const mcs_level *b) {
        return a->sens >= b->sens && mcs_catset_contains(&a->cats, &b->cats);
}

bool mcs_level_equal(const mcs_level *a, const mcs_level *b) {
        return a->sens == b->sens && mcs_catset_equal(&a->cats, &b->cats);
}

bool mcs_range_equal(const mcs_range *a, const mcs_range *b) {
        return mcs_level_equal(&a->low, &b->low) && mcs_level_equal(&a->high, &b->high);
}

void mcs_range_from_level(mcs_range *r, const mcs_level *l) {
        r->low = *l;
        r->high = *l;
}
