/* The registry handle, shared by the files of the registry layer only. */
#pragma once

#include "backend.h"
#include "view.h"

struct mcs_registry {
        const mcs_backend_ops *ops;
        mcs_backend *b;
        mcs_view view;
        char *host; /* this host, recorded with every write */
        char *location;
        bool has_allowed;
        mcs_range allowed; /* mcs_registry_config.allowed */
        bool batch;                  /* inside mcs_registry_batch_begin .. _end, with the write section open */
        char fault[MCS_ERR_MSG_MAX]; /* the last write's storage failure; "" once a write succeeds */
        int64_t fault_since_us;
};

/* Keeps the outcome r (with message e) of a write for the health line:
 * storage failures are remembered until a write succeeds; refusals
 * (conflict, exists, changed, ...) say nothing about the storage. */
void mcs_registry_note_write(mcs_registry *reg, int r, const mcs_err *e);

/* Runs body(reg, arg, e) with the view current: inside the backend's write
 * section when it has one; else optimistically, again while the backend
 * answers -MCS_E_STALE (someone wrote meanwhile). */
typedef int (*mcs_write_body)(mcs_registry *reg, void *arg, mcs_err *e);
int mcs_registry_write(mcs_registry *reg, mcs_write_body body, void *arg, mcs_err *e);

/* Argument checks shared by the layer's files (registry.c). */
typedef struct mcs_label {
        char text[MCS_RANGE_STRMAX]; /* canonical */
        mcs_range range;             /* conflicts are judged on range.high.cats */
} mcs_label;

int mcs_registry_check_text(const char *what, const char *s, size_t max, bool allow_space, mcs_err *e);
int mcs_registry_check_guest(const mcs_guest *g, char uuid[MCS_UUID_STRLEN + 1], mcs_guest *canon, mcs_err *e);
int mcs_registry_parse_label(const char *text, mcs_label *l, mcs_err *e);
/* 0 when the label lies within the handle's allowed range (or none is set). */
int mcs_registry_check_allowed(const mcs_registry *reg, const mcs_label *l, mcs_err *e);
