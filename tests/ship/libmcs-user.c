/* A program of another project: built by tests/ship/test-install.sh against
 * the installed headers and libmcs.so through pkg-config only. Every public
 * header is included, so each must resolve from include/mcs/. */
#include <mcs/mcs-alloc.h>
#include <mcs/mcs-catset.h>
#include <mcs/mcs-config.h>
#include <mcs/mcs-context.h>
#include <mcs/mcs-domain-xml.h>
#include <mcs/mcs-error.h>
#include <mcs/mcs-level.h>
#include <mcs/mcs-pair.h>
#include <mcs/mcs-registry.h>

#include <stdio.h>

int main(int argc, char **argv) {
        mcs_level l;
        mcs_err e = {0};
        char text[MCS_LEVEL_STRMAX];

        if (argc != 2) {
                fprintf(stderr, "usage: libmcs-user REGISTRY\n");
                return 2;
        }
        if (mcs_level_parse("s0:c7,c3", &l, &e) < 0 || mcs_level_format(&l, text, sizeof text) < 0) {
                fprintf(stderr, "libmcs-user: %s\n", e.msg);
                return 1;
        }
        printf("level %s\n", text);
        if (mcs_level_parse("s0:c1024", &l, &e) == 0) {
                fprintf(stderr, "libmcs-user: s0:c1024 accepted\n");
                return 1;
        }
        printf("refused: %s\n", e.msg);

        /* The registry: sqlite inside libmcs.so. */
        mcs_registry_config cfg = {.create = true, .host_id = "ship", .seed = 1};
        mcs_registry *r;
        mcs_record rec = {0};
        const mcs_guest g = {.uuid = "0f0f0f0f-0000-4000-8000-000000000001", .name = "ship-1", .kind = MCS_KIND_DYNAMIC};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        if (mcs_registry_open(argv[1], &cfg, &r, &e) < 0 || mcs_registry_reserve(r, &g, &rec, NULL, &e) < 0) {
                fprintf(stderr, "libmcs-user: %s\n", e.msg);
                return 1;
        }
        printf("reserved %s for %s on %s\n", rec.label, rec.name, rec.host);
        mcs_record_clear(&rec);
        mcs_registry_close(r);
        return 0;
}
