#include "mcs-catset.h"

#include <string.h>

void mcs_catset_clear(mcs_catset *s) {
        memset(s, 0, sizeof *s);
}

mcs_catset mcs_catset_pair(unsigned i, unsigned j) {
        mcs_catset s;
        mcs_catset_clear(&s);
        mcs_catset_add(&s, i);
        mcs_catset_add(&s, j);
        return s;
}

void mcs_catset_add_range(mcs_catset *s, unsigned lo, unsigned hi) {
        for (unsigned c = lo; c <= hi; c++)
                mcs_catset_add(s, c);
}

unsigned mcs_catset_count(const mcs_catset *s) {
        unsigned n = 0;
        for (unsigned i = 0; i < MCS_CATSET_WORDS; i++)
                n += (unsigned) __builtin_popcountll(s->w[i]);
        return n;
}

bool mcs_catset_is_empty(const mcs_catset *s) {
        for (unsigned i = 0; i < MCS_CATSET_WORDS; i++)
                if (s->w[i])
                        return false;
        return true;
}

bool mcs_catset_equal(const mcs_catset *a, const mcs_catset *b) {
        return memcmp(a, b, sizeof *a) == 0;
}

bool mcs_catset_contains(const mcs_catset *a, const mcs_catset *b) {
        for (unsigned i = 0; i < MCS_CATSET_WORDS; i++)
                if (b->w[i] & ~a->w[i])
                        return false;
        return true;
}

int mcs_catset_next(const mcs_catset *s, unsigned from) {
        if (from >= MCS_NCATS)
                return -1;
        unsigned i = from / 64;
        uint64_t word = s->w[i] & (~UINT64_C(0) << (from % 64));
        for (;;) {
                if (word)
                        return (int) (i * 64 + (unsigned) __builtin_ctzll(word));
                if (++i == MCS_CATSET_WORDS)
                        return -1;
                word = s->w[i];
        }
}

bool mcs_catset_conflict(const mcs_catset *a, const mcs_catset *b) {
        if (mcs_catset_is_empty(a) || mcs_catset_is_empty(b))
                return false;
        return mcs_catset_contains(a, b) || mcs_catset_contains(b, a);
}
