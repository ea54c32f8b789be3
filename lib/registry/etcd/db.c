/* The etcd registry: etcd://HOST:PORT[,HOST:PORT...]/PREFIX[?OPTIONS], etcd
 * v3 through its JSON gateway. No write section: every write is one
 * conditional transaction that etcd refuses when the view it was decided on
 * is too old (records.c); the registry then syncs and tries again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"

#define LEASE_TTL_DEFAULT_S 60
#define ATTEMPT_MIN_MS 250

static void ec_close(mcs_backend *b) {
        if (!b)
                return;
        if (b->curl)
                curl_easy_cleanup(b->curl);
        for (size_t i = 0; i < b->n_endpoints; i++)
                free(b->endpoints[i]);
        free(b->endpoints);
        free(b->cacert);
        free(b->cert);
        free(b->key);
        free(b->prefix);
        free(b->location);
        free(b->host);
        free(b);
}

static int ec_open(const char *location, const mcs_registry_config *cfg, mcs_backend **out, mcs_err *e) {
        ec *b = calloc(1, sizeof *b);
        int r;
        if (!b)
                return ec_fail_nomem(e);
        b->lease_ttl_s = LEASE_TTL_DEFAULT_S;
        b->create = cfg->create;
        if (asprintf(&b->location, "etcd:%s", location) < 0) {
                b->location = NULL;
                ec_close(b);
                return ec_fail_nomem(e);
        }
        if (!(b->host = strdup(cfg->host_id)) || !(b->curl = curl_easy_init())) {
                ec_close(b);
                return ec_fail_nomem(e);
        }
        if ((r = ec_parse_location(b, location, e)) < 0) {
                ec_close(b);
                return r;
        }
        /* All endpoints in turn within about busy_timeout. */
        b->attempt_ms = (long) (cfg->busy_timeout_ms / b->n_endpoints);
        if (b->attempt_ms < ATTEMPT_MIN_MS)
                b->attempt_ms = ATTEMPT_MIN_MS;
        if ((r = ec_ensure_id(b, e)) < 0) {
                ec_close(b);
                return r;
        }
        *out = b;
        return 0;
}

const mcs_backend_ops mcs_backend_etcd = {
        .version = MCS_BACKEND_VERSION,
        .size = sizeof(mcs_backend_ops),
        .name = "etcd",
        .open = ec_open,
        .close = ec_close,
        .changes = ec_changes,
        .scan = ec_scan,
        .get = ec_get,
        .create = ec_create,
        .update = ec_update,
        .remove = ec_remove,
        .find_label = ec_find_label,
        .history = ec_history,
        .remember_original = ec_remember_original,
        .originals = ec_originals,
        .forget_original = ec_forget_original,
        .heartbeat = ec_heartbeat,
        .hosts = ec_hosts,
        .health = ec_health,
        .import_record = ec_import_record,
        .import_history = ec_import_history,
        .import_records = ec_import_records,
        .set_actor = ec_set_actor,
        .import_original = ec_import_original,
};
