/* The control socket (control.c): its listening socket, its clients, the
 * admin group. Only control.c sees inside; the parts that answer a client
 * later (a job, the write group) reach it through the client_port its
 * request carries. */
#pragma once

#include "mcsd.h"

typedef struct control control;

/* A control socket not listening yet; takes over passed_fd (the one
 * systemd passed, -1: none, and control_start binds cfg.socket). d is
 * what requests are dispatched to, and whose config is read. */
int control_new(control **out, mcsd *d, int passed_fd, mcs_err *e);
/* Starts listening on d->control. */
int control_start(mcsd *d, mcs_err *e);
/* Drops the clients, stops listening and frees d->control (NULL after). */
void control_stop(mcsd *d);
/* Looks up admin_group of the config again (a reload). */
void control_resolve_admin(control *ctl);
