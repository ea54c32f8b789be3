/* This host's heartbeat in the registry, and which hosts have gone silent. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "mcsd.h"

#define MCSD_HEARTBEAT_MS 10000
/* A host not heard from for this long is reported silent. Its records stay:
 * only `mcsctl gc --host H` releases them, on the operator's word. */
#define MCSD_HOST_SILENT_US (6LL * MCSD_HEARTBEAT_MS * 1000)

/* This host's heartbeat (heartbeat.c): its timer, whether it fails, the
 * registry's breaks last seen. Only heartbeat.c sees inside. */
typedef struct heartbeat heartbeat;

/* Sets up d->heartbeat: beats once now, then every MCSD_HEARTBEAT_MS on
 * the main loop; a replaced registry asks d->events for a reconcile. */
int heartbeat_start(mcsd *d, mcs_err *e);
/* Stops the timer and frees d->heartbeat (NULL after). */
void heartbeat_stop(mcsd *d);
/* d->reg was replaced by a registry opened anew (a reload): its breaks
 * count from 0. */
void heartbeat_registry_reopened(heartbeat *hb);
/* Whether the last beat failed (false before the first). */
bool heartbeat_failing(const heartbeat *hb);

/* Adds "health" (one line) and "hosts" ([{host, seen_us, silent}]) to the
 * registry object of status. */
void heartbeat_status(mcsd *d, json_object *reg_json);

/* Whether host has gone silent, by the list of mcs_registry_hosts (false
 * for this host and for hosts that never beat). */
bool heartbeat_host_silent(mcsd *d, const mcs_host_list *hosts, const char *host);
