/* Delayed releases: a guest that went away keeps its reservation for
 * undefine_grace_ms, and loses it then unless it came back. The queue and
 * its timer are releases.c's (d->releases, opaque).
 * Below the scheduler: what it must hear (a retry is due, a label was
 * freed) goes through d->events. */
#pragma once

#include <stdbool.h>

#include "mcsd.h"

typedef struct release_queue release_queue;

release_queue *releases_new(void); /* NULL when out of memory */
void releases_free(release_queue *q); /* NULL: nothing; its timer stays (the loop has stopped) */
/* How many releases are pending. */
size_t releases_count(const mcsd *d);

/* The guest went away: its reservation is released once the grace period
 * is over (once per guest; a second call keeps the first due time). */
void releases_schedule(mcsd *d, const char *uuid);
/* The guest is back: returns true when a release was pending. */
bool releases_cancel(mcsd *d, const char *uuid);
/* Arms the timer for the next due release (after a reconnect). */
void releases_arm(mcsd *d);
/* Releases the guest's label now if this host still owns the record.
 * Returns false when the registry failed (logged, a retry asked for). */
bool releases_release_gone(mcsd *d, const char *uuid, const char *why);
