#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct table {
        size_t ncols, nrows;
        char **cells; /* nrows * ncols; row 0 holds the headers */
};

table *table_new(size_t ncols, const char *const *headers) {
        table *t = calloc(1, sizeof *t);
        if (!t)
                return NULL;
        t->ncols = ncols;
        table_add(t, headers);
        return t;
}

void table_add(table *t, const char *const *cells) {
        if (!t)
                return;
        char **v = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *v);
        if (!v)
                return;
        t->cells = v;
        for (size_t i = 0; i < t->ncols; i++)
                v[t->nrows * t->ncols + i] = strdup(cells[i] ? cells[i] : "-");
        t->nrows++;
}

void table_print(table *t) {
        if (!t)
                return;
        size_t *w = calloc(t->ncols, sizeof *w);
        if (!w)
                return;
        for (size_t r = 0; r < t->nrows; r++)
                for (size_t c = 0; c < t->ncols; c++) {
                        const char *s = t->cells[r * t->ncols + c];
                        size_t n = s ? strlen(s) : 0;
                        if (n > w[c])
                                w[c] = n;
                }
        for (size_t r = 0; r < t->nrows; r++) {
                for (size_t c = 0; c < t->ncols; c++) {
                        const char *s = t->cells[r * t->ncols + c];
                        if (c + 1 == t->ncols)
                                printf("%s\n", s ? s : "");
                        else
                                printf("%-*s  ", (int) w[c], s ? s : "");
                }
        }
        free(w);
}

void table_free(table *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->nrows * t->ncols; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
}
