/* Which host may act on a guest's record: the one rule the daemon's main
 * loop and the hook share.
 *
 * A record running on a host belongs to that host while it runs there: no
 * other host releases it, lets it give way to another label, or starts the
 * guest (a second QEMU with the same UUID would be refused later by sanlock
 * or virtlockd, but by then its label would already be gone). Such a start
 * is refused naming the host where the guest runs. A record reserved (not
 * running) anywhere may be taken over by the host that starts the guest.
 *
 * A migration: the destination's migrate begin marks the record migrating,
 * its host still the source's (mcs_guest_migrate_in); the destination's
 * start hooks then leave it so (mcs_guest_runs_here). The record moves to
 * the destination when the destination's mcsd sees the guest run there; a
 * failed or cancelled migration leaves it with the source, whose mcsd
 * records it running again. Nobody releases a migrating record. */
#pragma once

#include <stdbool.h>

#include "mcs-registry.h"

/* True when rec says the guest runs, or migrates away from, a host other
 * than r's. */
bool mcs_guest_runs_elsewhere(const mcs_registry *r, const mcs_record *rec);
/* True when rec says the guest migrates from another host (maybe to this one). */
bool mcs_guest_migrates_in(const mcs_registry *r, const mcs_record *rec);

/* -MCS_E_CONFLICT, naming the host, when rec runs on another host and is
 * not migrating ("doing" says what is refused: "started here"); else 0. */
int mcs_guest_check_owner(const mcs_registry *r, const mcs_record *rec, const char *doing, mcs_err *e);

/* The guest's record cur (as read) replaced by one with label, in one step
 * that cannot lose cur's label (mcs_registry_replace_label, conditioned on
 * cur's host and generation). Refused (-MCS_E_CONFLICT) when cur runs on
 * another host or label conflicts with another guest's; -MCS_E_CHANGED when
 * the record changed since it was read. */
int mcs_guest_replace_label(mcs_registry *r, const mcs_guest *g, const mcs_record *cur, const char *label,
                            mcs_record *out, mcs_err *e);

/* Releases cur (as read) only if this host holds it, it is unchanged and
 * not migrating: a record another host holds, running or not, is that
 * host's to release. -MCS_E_CHANGED when it is not (or no longer) this
 * host's, or migrates. */
int mcs_guest_release(mcs_registry *r, const mcs_record *cur, mcs_record *out, mcs_err *e);

/* A migration to this host begins: a record running on another host is
 * marked migrating there (1); 0 when there is no such record (none, only
 * reserved, or this host's). */
int mcs_guest_migrate_in(mcs_registry *r, const char *uuid, mcs_record *out, mcs_err *e);

/* The guest starts here: its record is marked running on this host (0),
 * unless it migrates in from another host (1: out is the record, left
 * as it is until this host's mcsd sees the guest run). */
int mcs_guest_runs_here(mcs_registry *r, const char *uuid, mcs_record *out, mcs_err *e);
