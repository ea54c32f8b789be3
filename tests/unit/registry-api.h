/* The registry's public API checks, one suite for every backend: each
 * backend's test file gives how to make a fresh registry and open handles
 * on it, and adds these cases next to its own. */
#pragma once

#include <check.h>

#include "mcs-registry.h"

#define U1 "11111111-1111-1111-1111-111111111111"
#define U2 "22222222-2222-2222-2222-222222222222"
#define U3 "33333333-3333-3333-3333-333333333333"
#define U4 "44444444-4444-4444-4444-444444444444"

typedef struct registry_api_backend {
        const char *name; /* what mcs_registry_backend_name says */
        /* A fresh, empty registry location for the case about to run, made
         * in the case's own process (a checked fixture), and its removal. */
        void (*setup)(void);
        void (*teardown)(void);
        /* That location, for mcs_registry_open. */
        const char *(*location)(void);
        /* A handle on it as host, drawing from pool (a catset, "c0.c1023").
         * Every handle opened in one case shares the one registry. */
        mcs_registry *(*open)(const char *host, const char *pool);
        /* Optional (NULL: the older-copy case is not added): keeps a copy of
         * the registry as it is now; then puts that copy back in place of the
         * registry, with handles still open on it. */
        void (*save_copy)(void);
        void (*put_back_copy)(void);
} registry_api_backend;

/* Adds the shared cases, and a checked fixture running b's setup and
 * teardown around every case of tc. One backend a process. */
void registry_api_add(TCase *tc, const registry_api_backend *b);
/* The history query cases (registry-history.c); registry_api_add adds them. */
void registry_history_add(TCase *tc, const registry_api_backend *b);
/* A new TCase "api" holding them. */
TCase *registry_api_tcase(const registry_api_backend *b);
