/* Levels, ranges and category lists: whatever parses formats to text
 * that parses back to the same value. */
#include "fuzz-util.h"
#include "mcs-level.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_cstr(data, size);
        char buf[MCS_RANGE_STRMAX];
        mcs_err e = {0};
        mcs_level l, l2;
        mcs_range r, r2;
        mcs_catset c, c2;

        if (!s)
                return 0;
        if (mcs_level_parse(s, &l, &e) == 0) {
                fuzz_assert(mcs_level_format(&l, buf, sizeof buf) >= 0, "'%s' does not format", s);
                fuzz_assert(mcs_level_parse(buf, &l2, &e) == 0, "'%s' formats to '%s': %s", s, buf, e.msg);
                fuzz_assert(mcs_level_equal(&l, &l2), "'%s' formats to '%s', another level", s, buf);
        }
        if (mcs_range_parse(s, &r, &e) == 0) {
                fuzz_assert(mcs_range_format(&r, buf, sizeof buf) >= 0, "'%s' does not format", s);
                fuzz_assert(mcs_range_parse(buf, &r2, &e) == 0, "'%s' formats to '%s': %s", s, buf, e.msg);
                fuzz_assert(mcs_range_equal(&r, &r2), "'%s' formats to '%s', another range", s, buf);
                fuzz_assert(mcs_level_dominates(&r.high, &r.low), "range '%s': its high does not dominate its low", s);
        }
        if (mcs_catset_parse(s, &c, &e) == 0) {
                fuzz_assert(mcs_catset_format(&c, buf, sizeof buf) >= 0, "'%s' does not format", s);
                fuzz_assert(mcs_catset_parse(buf, &c2, &e) == 0, "'%s' formats to '%s': %s", s, buf, e.msg);
        }
        free(s);
        return 0;
}
