/* mcsd's metrics as text (main loop only), and the textfile collector's
 * file (metrics-file.c). */
#pragma once

#include "mcsd.h"
#include "metrics.h"

/* The Prometheus text (malloc'ed), or NULL and e. */
char *metrics_render(mcsd *d, mcs_err *e);

/* Writes the text into cfg.metrics_textfile_dir every few seconds, when
 * it is set (read at each write, so a reload takes effect). */
void metrics_file_start(mcsd *d);
/* Writes it once now; 0, or -1 and e. */
int metrics_file_write(mcsd *d, mcs_err *e);
