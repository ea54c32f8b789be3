/* Prints every record of a registry, one per line, sorted by UUID:
 *   UUID NAME LABEL KIND STATE HOST GENERATION
 * scripts/demo shows it; the libvirt suites compare it with libvirtd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcs-registry.h"

static int by_uuid(const void *a, const void *b) {
        return strcmp(((const mcs_record *) a)->uuid, ((const mcs_record *) b)->uuid);
}

int main(int argc, char **argv) {
        mcs_registry_config cfg = {.host_id = "mcs-registry-list"};
        mcs_registry *r;
        mcs_record_list l = {0};
        mcs_err e = {0};

        if (argc != 2) {
                fprintf(stderr, "usage: mcs-registry-list LOCATION\n");
                return 2;
        }
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        if (mcs_registry_open(argv[1], &cfg, &r, &e) < 0 || mcs_registry_list(r, NULL, &l, &e) < 0) {
                fprintf(stderr, "mcs-registry-list: %s\n", e.msg);
                return 1;
        }
        qsort(l.v, l.n, sizeof *l.v, by_uuid);
        for (size_t i = 0; i < l.n; i++)
                printf("%s %s %s %s %s %s %llu\n", l.v[i].uuid, l.v[i].name, l.v[i].label, mcs_kind_name(l.v[i].kind),
                       mcs_state_name(l.v[i].state), l.v[i].host, (unsigned long long) l.v[i].generation);
        mcs_record_list_clear(&l);
        mcs_registry_close(r);
        return 0;
}
