/* File work off the main loop (jobs.c): the jobs running, the pipe their
 * threads wake the loop through, and the locks. Only jobs.c sees inside;
 * a method starts a job with job_start (methods.h). */
#pragma once

#include "mcsd.h"

typedef struct jobs jobs;

/* Sets up d->jobs. */
int jobs_start(mcsd *d, mcs_err *e);
/* Waits for the running jobs (their replies are dropped) and frees
 * d->jobs (NULL after). */
void jobs_stop(mcsd *d);
