/* Domain XML: parsed, then given a static label; a document that parses
 * keeps parsing after that, as a static guest with that label. */
#include "fuzz-util.h"
#include "mcs-domain-xml.h"

#define LABEL "system_u:system_r:svirt_t:s0:c1,c2"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_cstr(data, size), *out = NULL;
        mcs_err e = {0};
        mcs_domain d = {0}, d2 = {0};

        if (!s)
                return 0;
        int parsed = mcs_domain_parse(s, &d, &e);
        mcs_domain_clear(&d);
        if (mcs_domain_set_static_label(s, LABEL, &out, &e) == 0 && parsed == 0) {
                fuzz_assert(mcs_domain_parse(out, &d2, &e) == 0, "labelled, it no longer parses: %s\n%s", e.msg, out);
                fuzz_assert(d2.mode == MCS_SECLABEL_STATIC && d2.label && !strcmp(d2.label, LABEL),
                            "labelled, it is %s with label %s\n%s", mcs_seclabel_mode_name(d2.mode),
                            d2.label ? d2.label : "(none)", out);
                mcs_domain_clear(&d2);
        }
        free(out);
        free(s);
        return 0;
}
