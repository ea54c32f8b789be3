/* mcsd.conf's keys: one table says what each key is, how its value is read
 * and where it goes. Internal to the config layer. */
#pragma once

#include <stdbool.h>

#include "mcs-config.h"
#include "mcs-error.h"

/* Where a value came from, for messages. */
typedef struct mcs_config_where {
        const char *path;
        unsigned line;
} mcs_config_where;

int mcs_config_bad(mcs_err *e, const mcs_config_where *w, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

bool mcs_config_printable_word(const char *v);

/* Whether the key may appear more than once (lists); false for an unknown key.
 */
bool mcs_config_key_repeats(const char *key);

/* Check the value of one "key = value" line and store it into c. */
int mcs_config_apply_key(mcs_config *c, const mcs_config_where *w, const char *key, const char *v, mcs_err *e);

/* Frees every string the config holds (the keys' words and lists). */
void mcs_config_free_strings(mcs_config *c);
