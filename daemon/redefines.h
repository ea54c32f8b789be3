/* mcsd's own redefinitions, watched until libvirt's events for them have
 * arrived: an undefine that raced one is undone. The list and its timer
 * are redefines.c's (d->redefines, opaque). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mcsd.h"

redefine_watch *redefines_new(void);   /* NULL when out of memory */
void redefines_free(redefine_watch *w); /* NULL: nothing; its timer stays (the loop has stopped) */
/* How many of mcsd's defines are watched, and what libvirt held after
 * mcsd's define of uuid (NULL: not watched). */
size_t redefines_count(const mcsd *d);
const char *redefines_xml(const mcsd *d, const char *uuid);

/* mcsd just defined xml_after (as libvirt now holds it) for uuid. */
void redefines_add(mcsd *d, const char *uuid, char *xml_after);
/* Every lifecycle event, before it is acted on. */
void redefines_note_event(mcsd *d, const char *uuid, int event, int detail);
/* True for the DEFINED/UPDATED event of mcsd's own define (the first after
 * it) while the guest's XML is still exactly what mcsd wrote: the rules
 * already decided that state, and applying them again would only conclude
 * there is nothing to do. */
bool redefines_is_echo(mcsd *d, virDomainPtr dom, const char *uuid, int event, int detail);
/* Forgets every watched define (the events were lost with the connection). */
void redefines_clear(mcsd *d);
