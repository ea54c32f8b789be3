/* The table of guests this host has (d->guests): what mcsd last made of
 * each, and the collisions between them. The bottom of the guests' code:
 * it calls nothing of the daemon's but the log. */
#pragma once

#include <stdbool.h>

#include "mcsd.h"

guest_entry *guests_find(mcsd *d, const char *uuid);
/* Records the guest's status (name and why are copied; they may be the
 * entry's own); returns true when it changed (worth a log line). A status
 * other than collision forgets the collision's partner and reservation. */
bool guests_set(mcsd *d, const char *uuid, const char *name, mcs_guest_status st, const char *why);
/* Forgets the guest; a collision it was in is cleared (logged), and so are
 * those of the guests it had marked. */
void guests_drop(mcsd *d, const char *uuid);
void guests_table_clear(mcsd *d);

/* The running guest of this host whose collision names uuid, if any. */
const guest_entry *guests_collider_of(const mcsd *d, const char *uuid);
/* Guests marked in collision by uuid, whose collision ended (how: the log's
 * words for why): managed again. */
void guests_unmark_partners(mcsd *d, const char *uuid, const char *how);
