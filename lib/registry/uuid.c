/* UUIDs as libvirt writes them; apart from the registry so that programs
 * that only read domain XML (mcsctl hook) do not pull in its backends. */
#include <stdbool.h>

#include "mcs-registry.h"

static bool hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int mcs_uuid_canonical(const char *in, char out[MCS_UUID_STRLEN + 1], mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        if (!in)
                return mcs_fail(e, MCS_E_INVALID, "missing guest UUID");
        for (size_t i = 0; i < MCS_UUID_STRLEN; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? in[i] != '-' : !hex(in[i]))
                        return mcs_fail(e, MCS_E_INVALID,
                                        "'%s': not a UUID (expected %s at column %zu; form "
                                        "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                                        mcs_quote(in, q, sizeof q), dash ? "'-'" : "a hex digit", i + 1);
                out[i] = (char) (in[i] >= 'A' && in[i] <= 'F' ? in[i] - 'A' + 'a' : in[i]);
        }
        if (in[MCS_UUID_STRLEN])
                return mcs_fail(e, MCS_E_INVALID, "'%s': not a UUID (extra text at column %u)",
                                mcs_quote(in, q, sizeof q), MCS_UUID_STRLEN + 1);
        out[MCS_UUID_STRLEN] = '\0';
        return 0;
}
