/* Column-aligned tables for mcsctl's human-readable output. */
#pragma once

#include <stddef.h>

typedef struct table table;

table *table_new(size_t ncols, const char *const *headers);
/* Adds a row of ncols cells; NULL cells print as "-". */
void table_add(table *t, const char *const *cells);
void table_print(table *t);
void table_free(table *t);
