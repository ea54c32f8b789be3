/* The table of guests this host has (d->guests, an opaque guest_table):
 * what mcsd last made of each, and the collisions between them. The bottom
 * of the guests' code: it calls nothing of the daemon's but the log. Only
 * guest-table.c sees an entry's fields; everyone else reads them through
 * the accessors below and changes them through the setters. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcs-guest-rules.h"
#include "mcs-registry.h"

typedef struct guest_table guest_table;
typedef struct guest_entry guest_entry;

/* host_id (the daemon's, read at each use: it outlives the table) names
 * this host in the log and tells this host's collisions from others'.
 * NULL when out of memory. */
guest_table *guest_table_new(const char *host_id);
void guest_table_free(guest_table *t); /* NULL: nothing */
void guests_table_clear(guest_table *t);

/* ---- reading: an entry stays valid until the table next changes ---- */
const guest_entry *guests_find(const guest_table *t, const char *uuid);
size_t guests_size(const guest_table *t);
const guest_entry *guests_at(const guest_table *t, size_t i); /* i < guests_size(t) */
const char *guest_uuid(const guest_entry *g);
const char *guest_name(const guest_entry *g);
mcs_guest_status guest_status(const guest_entry *g);
const char *guest_why(const guest_entry *g); /* NULL or "": none */
/* The static label mcsd last wrote into the guest's XML ("": none since
 * mcsd started): a label mcsd wrote is not an operator's. */
const char *guest_written(const guest_entry *g);
/* A collision: the reservation its label overlaps (label NULL: none), or,
 * for the holder marked by it, that guest's UUID (partner, "": none). */
const mcs_record *guest_other(const guest_entry *g);
const char *guest_partner(const guest_entry *g);
/* A managed guest that a reconcile could not verify (the registry failed):
 * since when (wall clock, ms; 0: verified) and why (*why, may be NULL). */
int64_t guest_unverified(const guest_entry *g, const char **why);

/* ---- changing ---- */
/* Records the guest's status (name and why are copied; they may be the
 * entry's own); returns true when it changed (worth a log line). A status
 * other than collision forgets the collision's partner and reservation. */
bool guests_set(guest_table *t, const char *uuid, const char *name, mcs_guest_status st, const char *why);
void guests_set_written(guest_table *t, const char *uuid, const char *label);
/* The registry failed while the guest was applied: a guest judged before
 * (any status but failed) keeps it, unverified since the first such
 * failure, for why. Returns false for a new or failed guest. */
bool guests_mark_unverified(guest_table *t, const char *uuid, const char *why);
void guests_mark_verified(guest_table *t, const char *uuid);
/* The guest is in collision: with the running guest of this host partner
 * ("" when none), else with the reservation other (copied). */
void guests_set_collision(guest_table *t, const char *uuid, const char *partner, const mcs_record *other);
/* The guest holds the reservation that partner's label overlaps. */
void guests_set_partner(guest_table *t, const char *uuid, const char *partner);
/* Forgets the guest; a collision it was in is cleared (logged), and so are
 * those of the guests it had marked. uuid may be the entry's own. */
void guests_drop(guest_table *t, const char *uuid);

/* The running guest of this host whose collision names uuid, if any. */
const guest_entry *guests_collider_of(const guest_table *t, const char *uuid);
/* Guests marked in collision by uuid, whose collision ended (how: the log's
 * words for why): managed again. */
void guests_unmark_partners(guest_table *t, const char *uuid, const char *how);
