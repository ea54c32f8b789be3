/* Growing arrays: one place for the doubling every list of libmcs does. */
#pragma once

#include <stddef.h>

/* Makes room for element n of the array *v that holds *cap elements of
 * size bytes: when it is full, it doubles (from first when empty).
 * 0, or -1 when out of memory or when the new size would overflow; *v and
 * *cap are then left as they were. */
int mcs_grow(void **v, size_t *cap, size_t n, size_t size, size_t first);
