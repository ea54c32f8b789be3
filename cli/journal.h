/* One journal entry from mcsctl hook, with a MESSAGE_ID, through journald's
 * native socket: libvirt discards a successful hook's output, and an
 * operator filters and alerts on the id (contrib/systemd/mcsd.catalog). */
#pragma once

/* Returns 0 when journald took the entry, -1 otherwise (no journald). */
int journal_event(const char *message_id, int priority, const char *guest, const char *message);
