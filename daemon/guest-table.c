/* The table of guests this host has, with the collisions between them. */
#include <stdlib.h>
#include <string.h>

#include "guest-table.h"
#include "log.h"
#include "mcs-message-ids.h"

guest_entry *guests_find(mcsd *d, const char *uuid) {
        for (size_t i = 0; i < d->n_guests; i++)
                if (!strcmp(d->guests[i].uuid, uuid))
                        return &d->guests[i];
        return NULL;
}

static void entry_free(guest_entry *g) {
        free(g->name);
        free(g->why);
        free(g->unverified_why);
        mcs_record_clear(&g->other);
}

void guests_drop(mcsd *d, const char *uuid) {
        guest_entry *g = guests_find(d, uuid);
        if (!g)
                return;
        bool collided = g->status == MCS_GUEST_COLLISION;
        if (collided)
                log_event(MCS_MSGID_COLLISION_CLEARED, MCS_LOG_INFO, g->name, uuid, NULL,
                          "collision cleared: guest '%s' (%s) is gone from host %s", g->name, uuid, d->host_id);
        entry_free(g);
        *g = d->guests[--d->n_guests];
        if (collided)
                guests_unmark_partners(d, uuid, "is gone");
}

void guests_table_clear(mcsd *d) {
        for (size_t i = 0; i < d->n_guests; i++)
                entry_free(&d->guests[i]);
        free(d->guests);
        d->guests = NULL;
        d->n_guests = 0;
}

bool guests_set(mcsd *d, const char *uuid, const char *name, mcs_guest_status st, const char *why) {
        guest_entry *g = guests_find(d, uuid);
        if (!g) {
                guest_entry *v = realloc(d->guests, (d->n_guests + 1) * sizeof *v);
                if (!v)
                        return true;
                d->guests = v;
                g = &v[d->n_guests++];
                *g = (guest_entry){.status = st};
                strcpy(g->uuid, uuid);
        } else if (g->status == st && g->why && !strcmp(g->why, why) && g->name && !strcmp(g->name, name))
                return false;
        char *n = strdup(name), *w = strdup(why); /* name or why may be g's own */
        free(g->name);
        free(g->why);
        g->name = n;
        g->why = w;
        if (st != MCS_GUEST_COLLISION) {
                mcs_record_clear(&g->other);
                g->partner[0] = '\0';
        }
        g->status = st;
        return true;
}

/* ---- collisions: two running guests whose labels overlap ----
 * The guest refused its label has the other's reservation in its entry
 * (other); a guest of this host holding that reservation, running, is in
 * collision too, marked with the first one's UUID (partner). */

const guest_entry *guests_collider_of(const mcsd *d, const char *uuid) {
        for (size_t i = 0; i < d->n_guests; i++)
                if (d->guests[i].status == MCS_GUEST_COLLISION && !d->guests[i].partner[0] &&
                    !strcmp(d->guests[i].other.uuid, uuid) && !strcmp(d->guests[i].other.host, d->host_id))
                        return &d->guests[i];
        return NULL;
}

/* Managed again: their next apply says so as well. */
void guests_unmark_partners(mcsd *d, const char *uuid, const char *how) {
        for (size_t i = 0; i < d->n_guests; i++) {
                guest_entry *g = &d->guests[i];
                if (g->status != MCS_GUEST_COLLISION || strcmp(g->partner, uuid))
                        continue;
                log_event(MCS_MSGID_COLLISION_CLEARED, MCS_LOG_INFO, g->name, g->uuid, NULL,
                          "collision cleared: guest '%s' (%s) on host %s: the guest that ran with its label %s",
                          g->name, g->uuid, d->host_id, how);
                g->partner[0] = '\0';
                guests_set(d, g->uuid, g->name, MCS_GUEST_MANAGED, "");
        }
}
