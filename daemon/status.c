/* What this host's guests add up to: counts by status, the line on what
 * mcsd does with labels here, and systemd's STATUS= built from both. It
 * reads the guest table and calls nothing above it. */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "guest-table.h"
#include "log.h"
#include "mcsd.h"

void guests_count(const mcsd *d, size_t count[MCS_GUEST_STATUSES]) {
        for (size_t i = 0; i < MCS_GUEST_STATUSES; i++)
                count[i] = 0;
        for (size_t i = 0; i < guests_size(d->guests); i++)
                count[guest_status(guests_at(d->guests, i))]++;
}

size_t guests_unverified(const mcsd *d) {
        size_t n = 0;
        for (size_t i = 0; i < guests_size(d->guests); i++)
                n += guest_unverified(guests_at(d->guests, i), NULL) != 0;
        return n;
}

const char *guests_policy_text(const mcsd *d) {
        if (!d->secmodels_known)
                return "libvirt's security drivers not known yet";
        switch (d->policy) {
        case MCS_LABELS_WRITE:
                return d->secmodels.selinux ? "labels written: libvirt confines guests with SELinux"
                                            : "labels written: the test driver takes any label";
        case MCS_LABELS_RESERVE:
                return "labels reserved, never written: libvirt has no SELinux security driver (without_selinux = reserve)";
        case MCS_LABELS_OFF:
                break;
        }
        return "labels off: libvirt has no SELinux security driver (without_selinux = skip)";
}

/* Sends READY=1 the first time, then STATUS= whenever its text changes
 * (not on every event: PID 1 handles each message). */
void mcsd_update_status(mcsd *d) {
        size_t count[MCS_GUEST_STATUSES];
        char status[sizeof d->last_status];
        guests_count(d, count);
        snprintf(status, sizeof status,
                 "%s %s; %s; %zu guests: %zu managed, %zu unmanaged, %zu refused, %zu failed, %zu waiting for a label, "
                 "%zu in collision",
                 d->conn ? "connected to" : "waiting for", d->cfg.uri, guests_policy_text(d), guests_size(d->guests),
                 count[MCS_GUEST_MANAGED], count[MCS_GUEST_UNMANAGED], count[MCS_GUEST_REFUSED], count[MCS_GUEST_FAILED],
                 count[MCS_GUEST_WAITING], count[MCS_GUEST_COLLISION]);
        /* Every journal entry carries the count; a change is one line. */
        if (log_set_guests_waiting((long) count[MCS_GUEST_WAITING]))
                log_msg(count[MCS_GUEST_WAITING] ? MCS_LOG_WARNING : MCS_LOG_INFO, "%zu %s for a label",
                        count[MCS_GUEST_WAITING], count[MCS_GUEST_WAITING] == 1 ? "guest waits" : "guests wait");
        bool first = !d->last_status[0];
        if (!first && !strcmp(status, d->last_status))
                return;
        sd_notifyf(0, "%sSTATUS=%s", first ? "READY=1\n" : "", status);
        strcpy(d->last_status, status);
}
