/* Opening the registry a config names. */
#pragma once

#include "mcs-config.h"
#include "mcs-level.h"
#include "mcs-registry.h"

/* Opens cfg's registry for host_id; *pool gets the categories dynamic pairs
 * come from (the config's range, else system_u's range in the policy). */
int mcsd_open_registry(const mcs_config *cfg, const char *host_id, mcs_registry **out, mcs_catset *pool, mcs_err *e);
