/* A set of MCS categories c0..c1023 as a fixed bitset. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define MCS_NCATS 1024u
#define MCS_CATSET_WORDS (MCS_NCATS / 64u)

typedef struct mcs_catset {
        uint64_t w[MCS_CATSET_WORDS];
} mcs_catset;

static inline void mcs_catset_add(mcs_catset *s, unsigned c) {
        s->w[c / 64] |= UINT64_C(1) << (c % 64);
}
static inline void mcs_catset_del(mcs_catset *s, unsigned c) {
        s->w[c / 64] &= ~(UINT64_C(1) << (c % 64));
}
static inline bool mcs_catset_has(const mcs_catset *s, unsigned c) {
        return c < MCS_NCATS && (s->w[c / 64] >> (c % 64)) & 1;
}

void mcs_catset_clear(mcs_catset *s);
/* The set {i, j}. */
mcs_catset mcs_catset_pair(unsigned i, unsigned j);
/* Adds lo..hi inclusive; requires lo <= hi < MCS_NCATS. */
void mcs_catset_add_range(mcs_catset *s, unsigned lo, unsigned hi);
unsigned mcs_catset_count(const mcs_catset *s);
bool mcs_catset_is_empty(const mcs_catset *s);
bool mcs_catset_equal(const mcs_catset *a, const mcs_catset *b);
/* a contains b: every category of b is in a. */
bool mcs_catset_contains(const mcs_catset *a, const mcs_catset *b);
/* The first category >= from in s, or -1. */
int mcs_catset_next(const mcs_catset *s, unsigned from);
/* The sets conflict for MCS isolation when either contains the other.
 * The empty set conflicts with nothing: every label trivially contains it. */
bool mcs_catset_conflict(const mcs_catset *a, const mcs_catset *b);
