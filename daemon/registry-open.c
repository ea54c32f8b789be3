/* Opening the registry a config names, with the pool and the labels the
 * installed policy allows: the same for the main loop and the hook thread. */
#include "registry-open.h"

#include <malloc.h>

#include "log.h"
#include "mcs-policy.h"

int mcsd_open_registry(const mcs_config *cfg, const char *host_id, mcs_registry **out, mcs_catset *pool, mcs_err *e) {
        mcs_range allowed;
        mcs_registry_config rc = {.host_id = host_id, .busy_timeout_ms = cfg->busy_timeout_ms, .allowed = &allowed,
                                  .create = cfg->registry_create};
        char note[MCS_RANGE_STRMAX + 256];
        /* One read of the policy gives both: the labels a guest can run with
         * (every reservation is checked against them) and the default pool. */
        mcs_policy_default_range(NULL, &allowed, note, sizeof note);
        log_msg(MCS_LOG_DEBUG, "%s", note);
        /* Reading the policy took ~12 MiB of heap, freed now: give it back. */
        malloc_trim(0);
        if (cfg->has_range)
                rc.pool = cfg->range;
        else if (mcs_catset_count(&allowed.high.cats) >= 2) {
                rc.pool = allowed.high.cats; /* as mcs_policy_default_pool takes it */
                log_msg(MCS_LOG_INFO, "category range: %s", note);
        } else {
                mcs_catset_add_range(&rc.pool, 0, MCS_NCATS - 1);
                log_msg(MCS_LOG_INFO, "category range: c0.c%u: system_u's range has fewer than two categories (%s)",
                        MCS_NCATS - 1, note);
        }
        *pool = rc.pool;
        return mcs_registry_open(cfg->registry, &rc, out, e);
}
