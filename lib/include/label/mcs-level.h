/* MCS levels ("s0:c1,c2") and ranges ("s0-s0:c0.c1023"): parsing,
 * canonical formatting and dominance. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mcs-catset.h"
#include "mcs-error.h"

/* refpolicy's MLS build defines s0..s15 (MLS_SENS=16); MCS uses only s0. */
#define MCS_MAX_SENS 15u

/* Longest canonical level: "s15:" then every odd category (c1,c3,...,c1023). */
#define MCS_LEVEL_STRMAX 2600u
#define MCS_RANGE_STRMAX (2u * MCS_LEVEL_STRMAX + 2u)

typedef struct mcs_level {
        unsigned sens;
        mcs_catset cats;
} mcs_level;

typedef struct mcs_range {
        mcs_level low, high;
} mcs_range;

/* Parsers take the whole string; errors quote it and give a 1-based column. */
int mcs_level_parse(const char *text, mcs_level *out, mcs_err *e);
int mcs_range_parse(const char *text, mcs_range *out, mcs_err *e);
/* A bare category list such as "c0.c1023" or "c1,c3.c7" (used for pools). */
int mcs_catset_parse(const char *text, mcs_catset *out, mcs_err *e);
/* Parses whole+offset to its end, reporting columns relative to whole. */
int mcs_range_parse_at(const char *whole, size_t offset, mcs_range *out, mcs_err *e);

/* Canonical text, as the kernel writes it: categories sorted, runs of three
 * or more as "cA.cB", a run of two as "cA,cB"; a range whose ends are equal
 * is written as one level. Return the length, or -MCS_E_RANGE if len is short. */
int mcs_catset_format(const mcs_catset *s, char *buf, size_t len);
int mcs_level_format(const mcs_level *l, char *buf, size_t len);
int mcs_range_format(const mcs_range *r, char *buf, size_t len);

/* a dominates b: sens(a) >= sens(b) and cats(a) contains cats(b). */
bool mcs_level_dominates(const mcs_level *a, const mcs_level *b);
bool mcs_level_equal(const mcs_level *a, const mcs_level *b);
bool mcs_range_equal(const mcs_range *a, const mcs_range *b);
/* The range as a single level: low == high. */
void mcs_range_from_level(mcs_range *r, const mcs_level *l);
