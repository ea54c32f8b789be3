/* The libvirt connection (connection.c): keepalive, the close callback,
 * reconnection with backoff. Only connection.c sees inside. The
 * connection it holds is published through the callback it was started
 * with (main.c stores it as d->conn, which the rest only reads); libvirt's
 * lifecycle events and the reconcile after each connect go to d->events. */
#pragma once

#include "mcsd.h"

typedef struct connection connection;

/* Sets up d->connection and connects now, or schedules a retry.
 * publish(d, conn) is called with each new connection, and with NULL
 * when it goes. */
int connection_start(mcsd *d, void (*publish)(mcsd *d, virConnectPtr conn), mcs_err *e);
/* Deregisters, closes and frees d->connection (NULL after). */
void connection_stop(mcsd *d);
/* Connects again now, from the shortest backoff (a new uri, a reload
 * while disconnected). */
void connection_reconnect(connection *c);
/* The keepalive settings of the config, again (a reload). */
void connection_apply_keepalive(connection *c);
