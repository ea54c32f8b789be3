/* mcsd --copy-registry FROM TO: moves a registry to another backend, offline. */
#pragma once

#include <stdbool.h>

/* Copies and verifies, prints the report; returns the exit status (0 or 1).
 * config_path gives the host id, category range and busy timeout to open
 * both with; a missing default file means every default (as for mcsd). */
int mcsd_copy_registry(const char *config_path, bool config_given, const char *machine_id_path, const char *from,
                       const char *to);
