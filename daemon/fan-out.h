/* Runs fn(ctx, i) for every i below n on a few threads at once, and
 * returns when all are done: libvirt calls of a reconcile overlap their
 * round trips this way (one connection serves calls from several threads).
 * fn must not touch the daemon's state; only its own item. */
#pragma once

#include <stddef.h>

void fan_out(size_t n, unsigned threads, void (*fn)(void *ctx, size_t i), void *ctx);
