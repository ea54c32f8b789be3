/* What the harnesses share: libFuzzer's entry point, a NUL-terminated
 * copy of its input, and a loud failure for a broken invariant (libFuzzer
 * counts an abort as a crash and saves the input). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (s) {
                memcpy(s, data, size);
                s[size] = '\0';
        }
        return s;
}

#define fuzz_assert(cond, ...)                                                        \
        do {                                                                          \
                if (!(cond)) {                                                        \
                        fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);    \
                        fprintf(stderr, __VA_ARGS__);                                 \
                        fputc('\n', stderr);                                          \
                        abort();                                                      \
                }                                                                     \
        } while (0)
