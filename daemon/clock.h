/* The daemon's one clock for delays and timers. */
#pragma once

#include <stdint.h>

/* Monotonic milliseconds: never goes back when the wall clock is set. */
int64_t mcsd_now_ms(void);
