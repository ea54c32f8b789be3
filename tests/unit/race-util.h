/* Shared by the suites that race processes on one registry (sqlite, dir,
 * nfs, etcd): writers that write down what was acknowledged, and the check
 * that nothing acknowledged is lost and no label is held twice. */
#pragma once

#include <stdio.h>

#include "mcs-registry.h"

typedef struct race_ack {
        char uuid[40], label[32];
} race_ack;

/* Opens location as host with the pool (NULL: c0.c1023) and a 60 s busy
 * timeout; in a child, so a failure _exits 3. */
mcs_registry *race_open(const char *location, const char *host, const char *pool);

/* Reserves count labels as host-WORKER and writes "uuid label" to fd after
 * each is acknowledged, and a byte to started (if >= 0) after the first;
 * then _exits 0 (2 on a refused reservation). */
void race_reserver(const char *location, const char *pool, int worker, int count, int fd, int started)
        __attribute__((noreturn));

size_t race_read_acks(FILE *f, race_ack *acks, size_t max);

/* Every acknowledged reservation is in the registry with its label, no
 * label was acknowledged twice, none is held twice; returns how many
 * records the registry holds. */
size_t race_verify(const char *location, const char *pool, race_ack *acks, size_t n);
