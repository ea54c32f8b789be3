/* This host's heartbeat in the registry, and which hosts have gone silent. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "mcsd.h"

#define MCSD_HEARTBEAT_MS 10000
/* A host not heard from for this long is reported silent. Its records stay:
 * only `mcsctl gc --host H` releases them, on the operator's word. */
#define MCSD_HOST_SILENT_US (6LL * MCSD_HEARTBEAT_MS * 1000)

/* Beats once now, then every MCSD_HEARTBEAT_MS on the main loop. */
void heartbeat_start(mcsd *d);

/* Adds "health" (one line) and "hosts" ([{host, seen_us, silent}]) to the
 * registry object of status. */
void heartbeat_status(mcsd *d, json_object *reg_json);

/* Whether host has gone silent, by the list of mcs_registry_hosts (false
 * for this host and for hosts that never beat). */
bool heartbeat_host_silent(mcsd *d, const mcs_host_list *hosts, const char *host);
