/* Applying lib/'s rules to one guest or a batch of them: read the guest,
 * decide (the registry's part; a batch shares one group commit), write
 * its new XML, record the outcome in the guest table. It talks to libvirt
 * only through an apply_port, so that a unit test can stand a fake in for
 * libvirt (tests/unit/test-apply.c). Below the scheduler (guests.c): it
 * returns what happened and never arms the scheduler's timers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mcsd.h"

/* A guest as the port knows it (the real port's is a virDomainPtr). */
typedef struct apply_dom apply_dom;

/* What apply needs of libvirt, and no more. Every call gets ctx. The calls
 * on one guest may run on several threads at once (a batch's fan-out). */
typedef struct apply_port {
        void *ctx;
        /* 1 with *out (given back with put), 0 when there is no such guest,
         * -1 when libvirt failed otherwise. */
        int (*lookup)(void *ctx, const char *uuid, apply_dom **out);
        void (*put)(void *ctx, apply_dom *dom);
        void (*uuid)(void *ctx, apply_dom *dom, char out[VIR_UUID_STRING_BUFLEN]);
        const char *(*name)(void *ctx, apply_dom *dom);
        int (*is_persistent)(void *ctx, apply_dom *dom); /* 1, 0, -1: failed */
        int (*is_active)(void *ctx, apply_dom *dom);     /* 1, 0, -1: failed */
        /* The persistent definition (persistent) or the live one, with its
         * secrets (for a redefinition); malloc'ed, NULL when unreadable. */
        char *(*xml)(void *ctx, apply_dom *dom, bool persistent);
        /* The live definition without secrets (for the label it runs with). */
        char *(*live_xml)(void *ctx, apply_dom *dom);
        /* The security label of the running guest's process; -1: failed. */
        int (*process_label)(void *ctx, apply_dom *dom, char *out, size_t len);
        /* A migration runs on it (either end), or it is paused for one. */
        bool (*migrating)(void *ctx, apply_dom *dom);
        /* Defines xml; *after is the persistent XML libvirt then holds
         * (NULL when it cannot be read). -1: not defined. */
        int (*define)(void *ctx, const char *xml, char **after);
        /* Why the last failed call of this thread failed. */
        const char *(*error)(void *ctx);
} apply_port;

/* One guest of a batch, with what a reconcile's listings say of it (-1:
 * not listed, asked when needed). */
typedef struct apply_item {
        apply_dom *dom;
        int persistent, active;
} apply_item;

/* Applies the rules to one guest; rep (may be NULL) gets what happened.
 * Returns 0, 1 when the guest waits for a label (no free pair is left:
 * logged once, and in rep), or -1 (logged, and in rep->why). A guest whose
 * XML changed while it was applied is read again (a few times at most). */
int apply_one(mcsd *d, const apply_port *port, apply_dom *dom, guest_report *rep);

/* Applies the rules to n guests: libvirt is read several at once, the
 * registry's part of all of them is one group commit, and their new XML is
 * written only after it. Returns how many failed; *waiting is set when one
 * waits for a label. *stop (its reason) is set when the registry failed:
 * set on entry, no guest is tried. */
int apply_batch(mcsd *d, const apply_port *port, const apply_item *items, int n, bool *waiting, mcs_err *stop);
