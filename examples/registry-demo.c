/* mcs-registry-demo: what libmcs does today, end to end, on a scratch registry.
 * Two "hosts" (two processes with their own host ids) reserve labels for their
 * guests in one sqlite file at the same time; an operator reserves a static
 * label; a request that would break isolation is refused; then the registry
 * is listed. Usage: mcs-registry-demo REGISTRY_PATH [GUESTS_PER_HOST] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcs-policy.h"
#include "mcs-registry.h"

static mcs_registry_config config(const char *host) {
        mcs_registry_config cfg = {.create = true, .host_id = host};
        mcs_policy_default_pool(NULL, &cfg.pool, NULL, 0);
        return cfg;
}

static void random_uuid(char out[MCS_UUID_STRLEN + 1]) {
        unsigned char b[16];
        if (getrandom(b, sizeof b, 0) != sizeof b)
                abort();
        b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
        b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
        snprintf(out, MCS_UUID_STRLEN + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                 b[15]);
}

static int host_main(const char *path, const char *host, int guests) {
        mcs_registry_config cfg = config(host);
        mcs_registry *r;
        mcs_err e = {0};
        if (mcs_registry_open(path, &cfg, &r, &e) < 0) {
                fprintf(stderr, "%s: %s\n", host, e.msg);
                return 1;
        }
        for (int n = 1; n <= guests; n++) {
                char uuid[MCS_UUID_STRLEN + 1], name[64];
                mcs_record rec;
                random_uuid(uuid);
                snprintf(name, sizeof name, "%s-vm%02d", host, n);
                mcs_guest g = {.uuid = uuid, .name = name, .kind = MCS_KIND_DYNAMIC};
                if (mcs_registry_reserve(r, &g, &rec, NULL, &e) < 0) {
                        fprintf(stderr, "%s: %s\n", host, e.msg);
                        mcs_registry_close(r);
                        return 1;
                }
                printf("  [%s] reserved %-14s for %s\n", host, rec.label, name);
                fflush(stdout);
                mcs_record_clear(&rec);
        }
        mcs_registry_close(r);
        return 0;
}

int main(int argc, char **argv) {
        const char *hosts[] = {"host-a", "host-b"};
        char note[256];
        mcs_catset pool;
        mcs_err e = {0};

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: %s REGISTRY_PATH [GUESTS_PER_HOST]\n", argv[0]);
                return 2;
        }
        const char *path = argv[1];
        int guests = argc == 3 ? atoi(argv[2]) : 5;
        if (guests < 1 || guests > 100000) {
                fprintf(stderr, "GUESTS_PER_HOST must be 1..100000\n");
                return 2;
        }

        mcs_policy_default_pool(NULL, &pool, note, sizeof note);
        printf("registry %s\n%s\n\n", path, note);

        printf("1. Two hosts reserve labels for %d guests each, at the same time, in one file:\n", guests);
        fflush(stdout); /* the children must not print our buffer again */
        pid_t pids[2];
        for (int h = 0; h < 2; h++) {
                pids[h] = fork();
                if (pids[h] < 0)
                        return 1;
                if (pids[h] == 0)
                        _exit(host_main(path, hosts[h], guests));
        }
        int failed = 0;
        for (int h = 0; h < 2; h++) {
                int status;
                waitpid(pids[h], &status, 0);
                failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
        if (failed)
                return 1;

        mcs_registry_config cfg = config("operator-console");
        mcs_registry *r;
        if (mcs_registry_open(path, &cfg, &r, &e) < 0) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
        }
        mcs_record rec;
        char uuid[MCS_UUID_STRLEN + 1];
        printf("\n2. An operator reserves the static label s0:c1000.c1003 for db-primary:\n");
        random_uuid(uuid);
        mcs_guest db = {.uuid = uuid, .name = "db-primary", .kind = MCS_KIND_STATIC};
        if (mcs_registry_reserve_label(r, &db, "s0:c1000.c1003", &rec, NULL, &e) < 0) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
        }
        printf("  reserved %s for %s\n", rec.label, rec.name);
        mcs_record_clear(&rec);

        printf("\n3. Another guest asks for s0:c1001,c1002, inside db-primary's label:\n");
        random_uuid(uuid);
        mcs_guest snoop = {.uuid = uuid, .name = "snoop", .kind = MCS_KIND_STATIC};
        if (mcs_registry_reserve_label(r, &snoop, "s0:c1001,c1002", &rec, NULL, &e) == 0) {
                fprintf(stderr, "a contained label was accepted\n");
                return 1;
        }
        printf("  refused (%s): %s\n", mcs_code_name(e.code), e.msg);

        printf("\n4. The registry now holds:\n");
        mcs_record_list l;
        if (mcs_registry_list(r, NULL, &l, &e) < 0) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
        }
        printf("  %-16s %-36s %-16s %-8s %-9s %s\n", "NAME", "UUID", "LABEL", "KIND", "STATE", "HOST");
        for (size_t i = 0; i < l.n; i++)
                printf("  %-16s %-36s %-16s %-8s %-9s %s\n", l.v[i].name, l.v[i].uuid, l.v[i].label,
                       mcs_kind_name(l.v[i].kind), mcs_state_name(l.v[i].state), l.v[i].host);
        mcs_record_list_clear(&l);

        mcs_alloc_stats st;
        if (mcs_registry_stats(r, &st, &e) < 0) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
        }
        printf("\n  %llu labels held; %llu of %llu pairs still free\n", (unsigned long long) st.labels,
               (unsigned long long) st.free_pairs, (unsigned long long) st.pool_pairs);
        mcs_registry_close(r);
        return 0;
}
