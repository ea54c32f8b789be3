/* mcsd --copy-registry: the operator's side of mcs_registry_copy. */
#include "copy-registry.h"

#include <stdio.h>

#include "mcs-config.h"
#include "mcs-policy.h"
#include "mcs-registry.h"

static int open_config(const char *config_path, bool config_given, const char *machine_id_path, mcs_config *cfg,
                       mcs_registry_config *rc, char *host_id, size_t len, mcs_err *e) {
        char note[256];
        int r;
        if ((r = mcs_config_load(cfg, config_path, !config_given, e)) < 0 ||
            (r = mcs_config_host_id(cfg, machine_id_path, host_id, len, e)) < 0)
                return r;
        *rc = (mcs_registry_config){.host_id = host_id, .busy_timeout_ms = cfg->busy_timeout_ms};
        if (cfg->has_range)
                rc->pool = cfg->range;
        else
                mcs_policy_default_pool(NULL, &rc->pool, note, sizeof note);
        return 0;
}

int mcsd_copy_registry(const char *config_path, bool config_given, const char *machine_id_path, const char *from,
                       const char *to) {
        char host_id[MCS_HOST_MAX + 1];
        mcs_config cfg;
        mcs_registry_config rc;
        mcs_copy_report rep;
        mcs_err e = {0};

        mcs_config_init(&cfg);
        int r = open_config(config_path, config_given, machine_id_path, &cfg, &rc, host_id, sizeof host_id, &e);
        if (r == 0)
                r = mcs_registry_copy(from, to, &rc, &rep, &e);
        mcs_config_clear(&cfg);
        if (r < 0) {
                fprintf(stderr, "mcsd: %s\n", e.msg);
                return 1;
        }
        printf("copied %s to %s: %zu records, %zu history entries, %zu original labels\n", from, to, rep.records,
               rep.history, rep.originals);
        printf("verified: %zu records, %zu history entries, %zu original labels equal in both; no two labels "
               "conflict\n",
               rep.records_verified, rep.history_verified, rep.originals_verified);
        return 0;
}
