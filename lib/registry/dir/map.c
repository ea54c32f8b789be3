/* A string-keyed hash table with linear probing; the keys live in the values. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dir.h"

/* FNV-1a, then splitmix64's finalizer: the table keeps the low bits, and
 * FNV's low k bits depend only on the low k bits of each byte. UUIDs and
 * labels that differ in a few digits then crowded into long runs (a full
 * registry's start-up spent half its time in strcmp along them). */
static size_t hash(const char *s) {
        uint64_t h = 1469598103934665603ull;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211ull;
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebull;
        h ^= h >> 31;
        return (size_t) h;
}

static struct dir_slot *find(const dir_map *m, const char *key) {
        if (!m->cap)
                return NULL;
        for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
                if (!m->v[i].key)
                        return &m->v[i];
                if (strcmp(m->v[i].key, key) == 0)
                        return &m->v[i];
        }
}

void *dir_map_get(const dir_map *m, const char *key) {
        struct dir_slot *s = find(m, key);
        return s && s->key ? s->val : NULL;
}

static int grow(dir_map *m) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct dir_slot *old = m->v, *v = calloc(cap, sizeof *v);
        size_t oldcap = m->cap;
        if (!v)
                return -ENOMEM;
        m->v = v;
        m->cap = cap;
        for (size_t i = 0; i < oldcap; i++)
                if (old[i].key)
                        *find(m, old[i].key) = old[i];
        free(old);
        return 0;
}

int dir_map_put(dir_map *m, const char *key, void *val) {
        if ((m->n + 1) * 4 > m->cap * 3 && grow(m) < 0)
                return -ENOMEM;
        struct dir_slot *s = find(m, key);
        s->key = key;
        s->val = val;
        m->n++;
        return 0;
}

void *dir_map_del(dir_map *m, const char *key) {
        struct dir_slot *s = find(m, key);
        if (!s || !s->key)
                return NULL;
        void *val = s->val;
        size_t i = (size_t) (s - m->v);
        /* Shift later members of the run back so no lookup stops early. */
        for (size_t j = (i + 1) & (m->cap - 1); m->v[j].key; j = (j + 1) & (m->cap - 1)) {
                size_t home = hash(m->v[j].key) & (m->cap - 1);
                if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                        m->v[i] = m->v[j];
                        i = j;
                }
        }
        m->v[i] = (struct dir_slot){0};
        m->n--;
        return val;
}

void dir_map_free(dir_map *m, void (*free_val)(void *)) {
        for (size_t i = 0; i < m->cap; i++)
                if (m->v[i].key)
                        free_val(m->v[i].val);
        free(m->v);
        *m = (dir_map){0};
}
