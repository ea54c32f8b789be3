/* mcsd's log: to the journal with structured fields when stderr is connected
 * to it (systemd sets JOURNAL_STREAM), to stderr otherwise. */
#pragma once

#include <stdbool.h>

#include "mcs-config.h"

/* Reads JOURNAL_STREAM and sets the threshold. */
void log_setup(mcs_log_level threshold);
void log_set_level(mcs_log_level threshold);

void log_msg(mcs_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A message about one guest: the journal gets MCS_GUEST_NAME, MCS_GUEST_UUID
 * and MCS_LABEL fields (each may be NULL). */
void log_guest(mcs_log_level lvl, const char *name, const char *uuid, const char *label, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* The same, for an event kind with a MESSAGE_ID (message-ids.h); id may be
 * NULL. Off the journal the id is not printed. */
void log_event(const char *id, mcs_log_level lvl, const char *name, const char *uuid, const char *label,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* How many guests wait for a label: every journal entry from now on carries
 * it as MCS_GUESTS_WAITING. Returns true when the count changed (from
 * unknown, the first time only when it is not 0). */
bool log_set_guests_waiting(long n);
