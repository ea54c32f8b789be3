/* What libvirt's capabilities say about a host's security drivers
 * (<host><secmodel><model>...): whether a guest with an SELinux <seclabel>
 * can start there at all. */
#pragma once

#include <stdbool.h>

#include "mcs-error.h"

typedef struct mcs_secmodels {
        char list[256];     /* the models as libvirt lists them, "selinux, dac"; "none" when it lists none */
        bool selinux;       /* libvirt's SELinux driver confines guests here */
        bool takes_labels;  /* an SELinux <seclabel> does not stop a start: selinux, or the
                             * test driver's testSecurity, which accepts any label */
} mcs_secmodels;

/* caps is the XML of virConnectGetCapabilities(). */
int mcs_secmodels_parse(const char *caps, mcs_secmodels *out, mcs_err *e);
