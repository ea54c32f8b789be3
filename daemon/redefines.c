/* mcsd's own redefinitions, watched until libvirt's events for them have
 * arrived. libvirt has no compare-and-set define: mcsd re-reads a guest's
 * XML right before writing it (apply.c), but an undefine can still land
 * between that read and the define, which then re-creates a guest its
 * owner just deleted. libvirt reports a define that created a guest as
 * DEFINED/ADDED, so the events show it: one UNDEFINED and one
 * DEFINED/ADDED (mcsd's own), no DEFINED/UPDATED (mcsd's define found no
 * guest to update), nothing else defined and no start after the ADDED.
 * The two may come in either order: the test driver queues an undefine's
 * event after it let go of its guest list, so a define in between reports
 * its ADDED first. Such a re-creation is undone once the guest's events
 * have settled, only if the guest is still exactly what mcsd wrote and
 * does not run; its UNDEFINED event then lets the reservation go as after
 * any undefine. */
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mcs-macro.h"
#include "redefines.h"

/* How long a guest's events must be quiet before mcsd decides: the events
 * of its own define come within one libvirt round trip. */
#define SETTLE_MS 1000

/* A redefinition mcsd made, watched until libvirt's events for it have
 * arrived: the guest's events since, counted. */
typedef struct own_redefine {
        char uuid[MCS_UUID_STRLEN + 1];
        char *xml;              /* the persistent XML as libvirt holds it after mcsd's define */
        unsigned undefined;     /* UNDEFINED events */
        unsigned added;         /* DEFINED/ADDED events */
        unsigned defined_other; /* other DEFINED events, but the echo below */
        bool started_after_add; /* a STARTED after a DEFINED/ADDED: the guest was used */
        bool echo_due;          /* libvirt's DEFINED/UPDATED for this define has not arrived yet */
        bool echo_now;          /* the event being handled is that DEFINED/UPDATED */
        int64_t due_ms;         /* looked at once its events have settled */
} own_redefine;

/* mcsd's define re-created a guest undefined meanwhile: see the top. */
static bool recreated(const own_redefine *r) {
        return r->undefined == 1 && r->added == 1 && r->defined_other == 0 && r->echo_due && !r->started_after_add;
}

struct redefine_watch {
        own_redefine *v;
        size_t n;
        int timer; /* -1: none */
};

redefine_watch *redefines_new(void) {
        redefine_watch *w = calloc(1, sizeof *w);
        if (w)
                w->timer = -1;
        return w;
}

void redefines_free(redefine_watch *w) {
        if (!w)
                return;
        for (size_t i = 0; i < w->n; i++)
                free(w->v[i].xml);
        free(w->v);
        free(w);
}

static own_redefine *find(const redefine_watch *w, const char *uuid) {
        for (size_t i = 0; i < w->n; i++)
                if (!strcmp(w->v[i].uuid, uuid))
                        return &w->v[i];
        return NULL;
}

size_t redefines_count(const mcsd *d) {
        return d->redefines->n;
}

const char *redefines_xml(const mcsd *d, const char *uuid) {
        const own_redefine *r = find(d->redefines, uuid);
        return r ? r->xml : NULL;
}

static void drop(redefine_watch *w, own_redefine *r) {
        free(r->xml);
        *r = w->v[--w->n];
}

static void on_timer(int timer, void *opaque);

static void arm(mcsd *d) {
        redefine_watch *w = d->redefines;
        int64_t next = INT64_MAX, now = mcsd_now_ms();
        for (size_t i = 0; i < w->n; i++)
                if (w->v[i].due_ms < next)
                        next = w->v[i].due_ms;
        int delay = w->n == 0 ? -1 : next <= now ? 0 : (int) (next - now);
        if (w->timer >= 0)
                virEventUpdateTimeout(w->timer, delay);
        else if (delay >= 0)
                w->timer = virEventAddTimeout(delay, on_timer, d, NULL);
}

void redefines_add(mcsd *d, const char *uuid, char *xml_after) {
        redefine_watch *w = d->redefines;
        own_redefine *r = find(w, uuid);
        if (!r) {
                own_redefine *v = realloc(w->v, (w->n + 1) * sizeof *v);
                if (!v) {
                        log_msg(MCS_LOG_ERROR, "out of memory; guest %s: a racing undefine of it goes unnoticed", uuid);
                        free(xml_after);
                        return;
                }
                w->v = v;
                r = &v[w->n++];
                *r = (own_redefine){0};
                strcpy(r->uuid, uuid);
        }
        free(r->xml);
        r->xml = xml_after;
        r->undefined = r->added = r->defined_other = 0;
        r->started_after_add = r->echo_now = false;
        r->echo_due = true;
        r->due_ms = mcsd_now_ms() + SETTLE_MS;
        arm(d);
}

void redefines_note_event(mcsd *d, const char *uuid, int event, int detail) {
        own_redefine *r = find(d->redefines, uuid);
        if (!r)
                return;
        r->echo_now = false;
        if (event == VIR_DOMAIN_EVENT_DEFINED && detail == VIR_DOMAIN_EVENT_DEFINED_UPDATED && r->echo_due) {
                r->echo_due = false;
                r->echo_now = true;
        } else if (event == VIR_DOMAIN_EVENT_UNDEFINED)
                r->undefined++;
        else if (event == VIR_DOMAIN_EVENT_DEFINED && detail == VIR_DOMAIN_EVENT_DEFINED_ADDED)
                r->added++;
        else if (event == VIR_DOMAIN_EVENT_DEFINED)
                r->defined_other++;
        else if (event == VIR_DOMAIN_EVENT_STARTED && r->added)
                r->started_after_add = true;
        r->due_ms = mcsd_now_ms() + SETTLE_MS;
        arm(d);
}

bool redefines_is_echo(mcsd *d, virDomainPtr dom, const char *uuid, int event, int detail) {
        own_redefine *r = find(d->redefines, uuid);
        if (event != VIR_DOMAIN_EVENT_DEFINED || detail != VIR_DOMAIN_EVENT_DEFINED_UPDATED || !r || !r->echo_now)
                return false;
        r->echo_now = false;
        if (r->undefined || r->added || r->defined_other)
                return false;
        /* One read instead of the whole path: if anyone defined the guest
         * since, its XML differs and the rules see it. */
        _cleanup_free_ char *now = domain_xml(dom, true);
        return now && !strcmp(now, r->xml);
}

/* The guest mcsd re-created is undefined again if it is still exactly
 * what mcsd wrote; anything else (defined anew, started) is left alone. */
static void undo(mcsd *d, const own_redefine *r) {
        virDomainPtr dom = virDomainLookupByUUIDString(d->conn, r->uuid);
        if (!dom)
                return; /* undefined again already */
        const char *name = virDomainGetName(dom);
        _cleanup_free_ char *now = domain_xml(dom, true);
        if (virDomainIsActive(dom) == 0 && virDomainIsPersistent(dom) == 1 && now && !strcmp(now, r->xml)) {
                /* No flags: libvirt refuses rather than delete anything
                 * (NVRAM, a managed save) the definition still points to. */
                if (virDomainUndefineFlags(dom, 0) == 0)
                        log_guest(MCS_LOG_INFO, name, r->uuid, NULL,
                                  "guest '%s' was undefined while mcsd wrote its label: mcsd's definition is undone",
                                  name);
                else
                        log_guest(MCS_LOG_ERROR, name, r->uuid, NULL,
                                  "guest '%s' was undefined while mcsd wrote its label, and mcsd cannot undo its "
                                  "definition: %s",
                                  name, virGetLastErrorMessage());
        } else
                log_guest(MCS_LOG_INFO, name, r->uuid, NULL,
                          "guest '%s' was undefined while mcsd wrote its label, then changed again: left as it is", name);
        virDomainFree(dom);
}

static void on_timer(int timer, void *opaque) {
        mcsd *d = opaque;
        int64_t now = mcsd_now_ms();
        (void) timer;
        if (!d->conn) {
                /* Events were lost with the connection: nothing is known
                 * about the races, and nothing is undone. */
                redefines_clear(d);
                return;
        }
        redefine_watch *w = d->redefines;
        for (size_t i = 0; i < w->n;) {
                own_redefine *r = &w->v[i];
                if (r->due_ms > now) {
                        i++;
                        continue;
                }
                if (recreated(r))
                        undo(d, r);
                drop(w, r);
        }
        arm(d);
}

void redefines_clear(mcsd *d) {
        redefine_watch *w = d->redefines;
        while (w->n)
                drop(w, &w->v[0]);
        free(w->v);
        w->v = NULL;
        if (w->timer >= 0)
                virEventUpdateTimeout(w->timer, -1);
}
