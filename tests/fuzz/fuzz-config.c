/* mcsd.conf: any text parses or is refused with a message; either way
 * nothing leaks. */
#include "fuzz-util.h"
#include "mcs-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_cstr(data, size);
        mcs_err e = {0};
        mcs_config c;

        if (!s)
                return 0;
        mcs_config_init(&c);
        if (mcs_config_parse(&c, "fuzz.conf", s, &e) < 0)
                fuzz_assert(e.msg[0], "refused without a message");
        mcs_config_clear(&c);
        free(s);
        return 0;
}
