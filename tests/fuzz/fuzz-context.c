/* Full contexts: whatever parses formats to text that parses back to
 * the same context. */
#include "fuzz-util.h"
#include "mcs-context.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_cstr(data, size);
        char buf[3 * MCS_IDENT_MAX + MCS_RANGE_STRMAX + 4];
        mcs_err e = {0};
        mcs_context c, c2;

        if (!s)
                return 0;
        if (mcs_context_parse(s, &c, &e) == 0) {
                fuzz_assert(mcs_context_format(&c, buf, sizeof buf) >= 0, "'%s' does not format", s);
                fuzz_assert(mcs_context_parse(buf, &c2, &e) == 0, "'%s' formats to '%s': %s", s, buf, e.msg);
                fuzz_assert(!strcmp(c.user, c2.user) && !strcmp(c.role, c2.role) && !strcmp(c.type, c2.type) &&
                                    c.has_range == c2.has_range && (!c.has_range || mcs_range_equal(&c.range, &c2.range)),
                            "'%s' formats to '%s', another context", s, buf);
        }
        free(s);
        return 0;
}
