/* The table of guests this host has, with the collisions between them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest-table.h"
#include "log.h"
#include "mcs-message-ids.h"

struct guest_entry {
        char uuid[MCS_UUID_STRLEN + 1];
        char *name;
        mcs_guest_status status;
        char *why;
        /* The static label mcsd last wrote into the guest's XML ("": none
         * since mcsd started): a label mcsd wrote is not an operator's. */
        char written[MCS_RANGE_STRMAX];
        /* A collision: the reservation its label overlaps (a guest of this
         * host that runs with a label another guest of this host holds), or,
         * for the holder marked by it, that guest's UUID in partner. */
        mcs_record other;
        char partner[MCS_UUID_STRLEN + 1];
        /* A managed guest that a reconcile could not verify (the registry
         * failed): since when (wall clock, ms; 0: verified) and why. Its
         * label is held and unchanged as far as mcsd knows: it stays managed. */
        int64_t unverified_ms;
        char *unverified_why;
};

struct guest_table {
        const char *host_id;
        guest_entry *v;
        size_t n;
};

guest_table *guest_table_new(const char *host_id) {
        guest_table *t = calloc(1, sizeof *t);
        if (t)
                t->host_id = host_id;
        return t;
}

void guest_table_free(guest_table *t) {
        if (!t)
                return;
        guests_table_clear(t);
        free(t);
}

static guest_entry *find(const guest_table *t, const char *uuid) {
        for (size_t i = 0; i < t->n; i++)
                if (!strcmp(t->v[i].uuid, uuid))
                        return &t->v[i];
        return NULL;
}

const guest_entry *guests_find(const guest_table *t, const char *uuid) {
        return find(t, uuid);
}

size_t guests_size(const guest_table *t) {
        return t->n;
}

const guest_entry *guests_at(const guest_table *t, size_t i) {
        return &t->v[i];
}

const char *guest_uuid(const guest_entry *g) {
        return g->uuid;
}

const char *guest_name(const guest_entry *g) {
        return g->name;
}

mcs_guest_status guest_status(const guest_entry *g) {
        return g->status;
}

const char *guest_why(const guest_entry *g) {
        return g->why;
}

const char *guest_written(const guest_entry *g) {
        return g->written;
}

const mcs_record *guest_other(const guest_entry *g) {
        return &g->other;
}

const char *guest_partner(const guest_entry *g) {
        return g->partner;
}

int64_t guest_unverified(const guest_entry *g, const char **why) {
        if (why)
                *why = g->unverified_why;
        return g->unverified_ms;
}

static void entry_free(guest_entry *g) {
        free(g->name);
        free(g->why);
        free(g->unverified_why);
        mcs_record_clear(&g->other);
}

void guests_drop(guest_table *t, const char *uuid_in) {
        guest_entry *g = find(t, uuid_in);
        if (!g)
                return;
        /* uuid_in may be g's own, which the last entry overwrites below. */
        char uuid[MCS_UUID_STRLEN + 1];
        snprintf(uuid, sizeof uuid, "%s", uuid_in);
        bool collided = g->status == MCS_GUEST_COLLISION;
        if (collided)
                log_event(MCS_MSGID_COLLISION_CLEARED, MCS_LOG_INFO, g->name, uuid, NULL,
                          "collision cleared: guest '%s' (%s) is gone from host %s", g->name, uuid, t->host_id);
        entry_free(g);
        *g = t->v[--t->n];
        if (collided)
                guests_unmark_partners(t, uuid, "is gone");
}

void guests_table_clear(guest_table *t) {
        for (size_t i = 0; i < t->n; i++)
                entry_free(&t->v[i]);
        free(t->v);
        t->v = NULL;
        t->n = 0;
}

bool guests_set(guest_table *t, const char *uuid, const char *name, mcs_guest_status st, const char *why) {
        guest_entry *g = find(t, uuid);
        if (!g) {
                guest_entry *v = realloc(t->v, (t->n + 1) * sizeof *v);
                if (!v)
                        return true;
                t->v = v;
                g = &v[t->n++];
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

void guests_set_written(guest_table *t, const char *uuid, const char *label) {
        guest_entry *g = find(t, uuid);
        if (g)
                snprintf(g->written, sizeof g->written, "%s", label);
}

bool guests_mark_unverified(guest_table *t, const char *uuid, const char *why) {
        guest_entry *g = find(t, uuid);
        if (!g || g->status == MCS_GUEST_FAILED)
                return false;
        if (!g->unverified_ms) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                g->unverified_ms = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        }
        char *w = strdup(why);
        if (w) {
                free(g->unverified_why);
                g->unverified_why = w;
        }
        return true;
}

void guests_mark_verified(guest_table *t, const char *uuid) {
        guest_entry *g = find(t, uuid);
        if (!g)
                return;
        g->unverified_ms = 0;
        free(g->unverified_why);
        g->unverified_why = NULL;
}

/* ---- collisions: two running guests whose labels overlap ----
 * The guest refused its label has the other's reservation in its entry
 * (other); a guest of this host holding that reservation, running, is in
 * collision too, marked with the first one's UUID (partner). */

void guests_set_collision(guest_table *t, const char *uuid, const char *partner, const mcs_record *other) {
        guest_entry *g = find(t, uuid);
        if (!g)
                return;
        snprintf(g->partner, sizeof g->partner, "%s", partner);
        mcs_record_clear(&g->other);
        if (!partner[0] && mcs_record_copy(&g->other, other, NULL) < 0)
                g->other = (mcs_record){0};
}

void guests_set_partner(guest_table *t, const char *uuid, const char *partner) {
        guest_entry *g = find(t, uuid);
        if (g)
                snprintf(g->partner, sizeof g->partner, "%s", partner);
}

const guest_entry *guests_collider_of(const guest_table *t, const char *uuid) {
        for (size_t i = 0; i < t->n; i++)
                if (t->v[i].status == MCS_GUEST_COLLISION && !t->v[i].partner[0] && !strcmp(t->v[i].other.uuid, uuid) &&
                    !strcmp(t->v[i].other.host, t->host_id))
                        return &t->v[i];
        return NULL;
}

/* Managed again: their next apply says so as well. */
void guests_unmark_partners(guest_table *t, const char *uuid, const char *how) {
        for (size_t i = 0; i < t->n; i++) {
                guest_entry *g = &t->v[i];
                if (g->status != MCS_GUEST_COLLISION || strcmp(g->partner, uuid))
                        continue;
                log_event(MCS_MSGID_COLLISION_CLEARED, MCS_LOG_INFO, g->name, g->uuid, NULL,
                          "collision cleared: guest '%s' (%s) on host %s: the guest that ran with its label %s",
                          g->name, g->uuid, t->host_id, how);
                g->partner[0] = '\0';
                guests_set(t, g->uuid, g->name, MCS_GUEST_MANAGED, "");
        }
}
