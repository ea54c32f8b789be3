/* Every write to the registry, decided once here above the backends: the
 * conflict rules and the draw against the handle's view, then one
 * conditional write that the backend refuses if the view was too old. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handle.h"
#include "mcs-macro.h"

/* How often a write is tried again because others wrote meanwhile before
 * giving up (-MCS_E_BUSY). Every refusal means another write succeeded. */
#define MAX_ATTEMPTS 200

static void pause_before_retry(int attempt) {
        /* Up to ~attempt ms, so two hosts racing for one category drift apart. */
        struct timespec ts = {0, (long) (rand() % (attempt + 1)) * 1000000L / 2};
        nanosleep(&ts, NULL);
}

void mcs_registry_note_write(mcs_registry *reg, int r, const mcs_err *e) {
        if (r >= 0) {
                reg->fault[0] = '\0';
                reg->fault_since_us = 0;
                return;
        }
        if (mcs_registry_fault_code((mcs_code) -r)) {
                snprintf(reg->fault, sizeof reg->fault, "%s", e && e->msg[0] ? e->msg : mcs_code_name((mcs_code) -r));
                if (!reg->fault_since_us)
                        reg->fault_since_us = mcs_registry_now_us();
        }
}

bool mcs_registry_fault_code(mcs_code c) {
        return c == MCS_E_IO || c == MCS_E_BUSY || c == MCS_E_SCHEMA || c == MCS_E_NOMEM;
}

static int write_once_or_retry(mcs_registry *reg, mcs_write_body body, void *arg, mcs_err *e);

int mcs_registry_write(mcs_registry *reg, mcs_write_body body, void *arg, mcs_err *e) {
        mcs_err local = {0};
        int r = write_once_or_retry(reg, body, arg, &local);
        mcs_registry_note_write(reg, r, &local);
        if (e)
                *e = local;
        return r;
}

static bool has_section(const mcs_backend_ops *ops) {
        return MCS_BACKEND_HAS(ops, write_begin) && MCS_BACKEND_HAS(ops, write_end);
}

int mcs_registry_batch_begin(mcs_registry *reg, mcs_err *e) {
        if (reg->batch)
                return mcs_fail(e, MCS_E_INVALID, "registry %s: a batch is open already", reg->location);
        if (!has_section(reg->ops))
                return 0; /* every write commits itself */
        mcs_err local = {0};
        int r = reg->ops->write_begin(reg->b, &local);
        if (r < 0) {
                mcs_registry_note_write(reg, r, &local);
                if (e)
                        *e = local;
                return r;
        }
        reg->batch = true;
        return 0;
}

bool mcs_registry_in_batch(const mcs_registry *reg) {
        return reg->batch;
}

int mcs_registry_batch_end(mcs_registry *reg, bool commit, mcs_err *e) {
        if (!reg->batch)
                return 0;
        reg->batch = false;
        mcs_err local = {0};
        int r = reg->ops->write_end(reg->b, commit, &local);
        /* The view read the batch's own rows as it went; rolled back, they
         * are gone, and the view must not keep them. */
        if (!commit || r < 0)
                mcs_view_drop(&reg->view);
        if (commit)
                mcs_registry_note_write(reg, r, &local);
        if (r < 0 && e)
                *e = local;
        return r;
}

/* Whether the backend lets a write be decided now (it may know its state
 * is not the newest). */
static int writable(mcs_registry *reg, mcs_err *e) {
        return MCS_BACKEND_HAS(reg->ops, writable) ? reg->ops->writable(reg->b, e) : 0;
}

/* Inside a batch: the section is open already; a stale answer means the
 * view is wrong, so it starts again and the body runs again. */
static int write_in_batch(mcs_registry *reg, mcs_write_body body, void *arg, mcs_err *e) {
        for (int attempt = 0; attempt < 2; attempt++) {
                int r = mcs_view_sync(&reg->view, reg->ops, reg->b, e);
                if (r >= 0)
                        r = writable(reg, e);
                if (r >= 0)
                        r = body(reg, arg, e);
                if (r != -(int) MCS_E_STALE)
                        return r;
                mcs_view_drop(&reg->view);
        }
        return mcs_fail(e, MCS_E_SCHEMA, "registry %s: the view of it and its content disagree twice in a row",
                        reg->location);
}

static int write_once_or_retry(mcs_registry *reg, mcs_write_body body, void *arg, mcs_err *e) {
        const mcs_backend_ops *ops = reg->ops;
        bool section = has_section(ops);
        if (reg->batch)
                return write_in_batch(reg, body, arg, e);
        int stale_in_a_row = 0;

        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
                int r;
                if (section && (r = ops->write_begin(reg->b, e)) < 0)
                        return r;
                if ((r = mcs_view_sync(&reg->view, ops, reg->b, e)) >= 0 && (r = writable(reg, e)) >= 0)
                        r = body(reg, arg, e);
                if (section) {
                        mcs_err end_err = {0};
                        int r2 = ops->write_end(reg->b, r >= 0, &end_err);
                        if (r >= 0 && r2 < 0) {
                                if (e)
                                        *e = end_err;
                                r = r2;
                        }
                }
                if (r != -(int) MCS_E_STALE)
                        return r;
                /* Inside a write section a stale answer means the view itself
                 * is wrong; without one, twice in a row may be bad luck or a
                 * wrong view: start the view again either way. */
                if (section || ++stale_in_a_row >= 2) {
                        mcs_view_drop(&reg->view);
                        stale_in_a_row = 0;
                }
                if (!section)
                        pause_before_retry(attempt);
        }
        return mcs_fail(e, MCS_E_BUSY, "registry %s: other writers changed it %d times in a row while this one tried",
                        reg->location, MAX_ATTEMPTS);
}

/* ---- reserve ---- */

struct reserve_args {
        const mcs_guest *g;
        const mcs_label *want; /* NULL: draw a pair */
        mcs_record *out;
        bool *created;
};

static int fill_record(mcs_registry *reg, const mcs_guest *g, const char *label, mcs_record *rec, mcs_err *e) {
        *rec = (mcs_record){0};
        snprintf(rec->uuid, sizeof rec->uuid, "%s", g->uuid);
        rec->name = strdup(g->name);
        rec->label = strdup(label);
        rec->host = strdup(reg->host);
        rec->kind = g->kind;
        rec->state = MCS_STATE_RESERVED;
        rec->created_us = rec->updated_us = mcs_registry_now_us();
        rec->generation = 0; /* the backend's create numbers it (backend.h) */
        if (!rec->name || !rec->label || !rec->host) {
                mcs_record_clear(rec);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        return 0;
}

static int conflict_error(mcs_err *e, const mcs_guest *g, const mcs_label *want, const mcs_record *holder) {
        mcs_range held;
        const char *how = "conflicts with";
        if (mcs_range_parse(holder->label, &held, NULL) == 0) {
                const mcs_catset *a = &want->range.high.cats, *b = &held.high.cats;
                how = mcs_catset_equal(a, b)      ? "has the categories of"
                      : mcs_catset_contains(b, a) ? "is contained in"
                                                  : "contains";
        }
        return mcs_fail(e, MCS_E_CONFLICT,
                        "label %s for guest %s (%s) %s label %s held by guest %s (%s) on host %s; "
                        "either guest could read the other's images",
                        want->text, g->name, g->uuid, how, holder->label, holder->name, holder->uuid,
                        holder->host);
}

/* The guest's existing record: 1 and the answer in a->out, or 0 when it
 * holds nothing, or an error. */
static int existing(mcs_registry *reg, struct reserve_args *a, mcs_err *e) {
        mcs_record rec;
        mcs_err probe = {0}; /* "not found" is the usual answer here, not the caller's error */
        int r = reg->ops->get(reg->b, a->g->uuid, &rec, &probe);
        if (r == -(int) MCS_E_NOTFOUND)
                return 0;
        if (r < 0) {
                if (e)
                        *e = probe;
                return r;
        }
        if (!a->want || strcmp(rec.label, a->want->text) == 0) {
                *a->out = rec;
                *a->created = false;
                return 1;
        }
        r = mcs_fail(e, MCS_E_EXISTS, "guest %s (%s) already holds label %s on host %s; release it before "
                     "reserving %s", rec.name, rec.uuid, rec.label, rec.host, a->want->text);
        mcs_record_clear(&rec);
        return r;
}

static int do_reserve(mcs_registry *reg, void *arg, mcs_err *e) {
        struct reserve_args *a = arg;
        mcs_alloc *alloc = reg->view.alloc;
        char text[MCS_LEVEL_STRMAX];
        mcs_catset claims;
        const char *label;
        int r = existing(reg, a, e);
        if (r != 0)
                return r < 0 ? r : 0;

        if (a->want) {
                mcs_catset conflict;
                if (mcs_alloc_check(alloc, &a->want->range.high.cats, &conflict) < 0) {
                        mcs_record holder;
                        if ((r = mcs_view_holder(reg->ops, reg->b, &conflict, &holder, e)) < 0)
                                return r;
                        r = conflict_error(e, a->g, a->want, &holder);
                        mcs_record_clear(&holder);
                        return r;
                }
                claims = a->want->range.high.cats;
                label = a->want->text;
        } else {
                unsigned ci, cj;
                if ((r = mcs_alloc_take(alloc, &ci, &cj, e)) < 0)
                        return r;
                claims = mcs_catset_pair(ci, cj);
                /* The view learns of the reservation from the feed, like any other. */
                mcs_alloc_remove(alloc, &claims, NULL);
                mcs_level l = {.sens = 0, .cats = claims};
                mcs_level_format(&l, text, sizeof text);
                label = text;
        }

        mcs_record rec;
        if ((r = fill_record(reg, a->g, label, &rec, e)) < 0)
                return r;
        if ((r = reg->ops->create(reg->b, &rec, &claims, &reg->view.at, e)) < 0) {
                mcs_record_clear(&rec);
                /* Created meanwhile by another writer: the next try reads it. */
                return r == -(int) MCS_E_EXISTS ? -(int) MCS_E_STALE : r;
        }
        if (rec.generation == 0) {
                /* To release_if, generation 0 means "any": a caller holding
                 * this answer could free whatever record the guest has then. */
                mcs_record_clear(&rec);
                return mcs_fail(e, MCS_E_IO, "registry %s: the %s backend created guest %s's record without a "
                                "generation; refused (a backend fault)", reg->location, reg->ops->name, a->g->uuid);
        }
        *a->out = rec;
        *a->created = true;
        return 0;
}

int mcs_registry_reserve(mcs_registry *reg, const mcs_guest *g, mcs_record *out, bool *created, mcs_err *e) {
        char uuid[MCS_UUID_STRLEN + 1];
        mcs_guest c;
        bool dummy;
        int r = mcs_registry_check_guest(g, uuid, &c, e);
        if (r < 0)
                return r;
        struct reserve_args a = {&c, NULL, out, created ? created : &dummy};
        return mcs_registry_write(reg, do_reserve, &a, e);
}

int mcs_registry_reserve_label(mcs_registry *reg, const mcs_guest *g, const char *label, mcs_record *out,
                               bool *created, mcs_err *e) {
        char uuid[MCS_UUID_STRLEN + 1];
        mcs_guest c;
        bool dummy;
        int r;
        _cleanup_free_ mcs_label *l = malloc(sizeof *l);

        if (!l)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        if ((r = mcs_registry_check_guest(g, uuid, &c, e)) < 0 || (r = mcs_registry_parse_label(label, l, e)) < 0 ||
            (r = mcs_registry_check_allowed(reg, l, e)) < 0)
                return r;
        struct reserve_args a = {&c, l, out, created ? created : &dummy};
        return mcs_registry_write(reg, do_reserve, &a, e);
}

/* ---- updates: state and name ---- */

struct update_args {
        const char *uuid;
        const char *name; /* set_name: the new name; NULL for set_state */
        mcs_state state;
        uint64_t generation; /* 0: whatever it is now */
        mcs_record *out;
};

static int do_update(mcs_registry *reg, void *arg, mcs_err *e) {
        struct update_args *a = arg;
        mcs_record rec;
        int r = reg->ops->get(reg->b, a->uuid, &rec, e);
        if (r < 0)
                return r;
        if (a->generation && rec.generation != a->generation) {
                r = mcs_registry_check_unchanged(&rec, NULL, a->generation, "renamed", e);
                mcs_record_clear(&rec);
                return r;
        }
        uint64_t read = rec.generation;
        char *old;
        if (a->name && strcmp(rec.name, a->name) == 0) { /* nothing to rename */
                if (a->out)
                        *a->out = rec;
                else
                        mcs_record_clear(&rec);
                return 0;
        }
        if (a->name) {
                old = rec.name;
                rec.name = strdup(a->name);
        } else {
                old = rec.host;
                rec.host = strdup(reg->host);
                rec.state = a->state;
        }
        free(old);
        if (!rec.name || !rec.host) {
                mcs_record_clear(&rec);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        rec.updated_us = mcs_registry_now_us();
        rec.generation = read + 1;
        if ((r = reg->ops->update(reg->b, &rec, read, e)) < 0) {
                mcs_record_clear(&rec);
                /* Changed since the get: read again, unless the caller asked for that generation. */
                return r == -(int) MCS_E_CHANGED && !a->generation ? -(int) MCS_E_STALE : r;
        }
        if (a->out)
                *a->out = rec;
        else
                mcs_record_clear(&rec);
        return 0;
}

int mcs_registry_set_name(mcs_registry *reg, const char *uuid, const char *name, uint64_t generation,
                          mcs_record *out, mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int r = mcs_uuid_canonical(uuid, u, e);
        if (r < 0 || (r = mcs_registry_check_text("guest name", name, MCS_NAME_MAX, true, e)) < 0)
                return r;
        if (generation > INT64_MAX)
                return mcs_fail(e, MCS_E_INVALID, "generation %llu out of range", (unsigned long long) generation);
        struct update_args a = {.uuid = u, .name = name, .generation = generation, .out = out};
        return mcs_registry_write(reg, do_update, &a, e);
}

int mcs_registry_set_state(mcs_registry *reg, const char *uuid, mcs_state state, mcs_record *out, mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int r = mcs_uuid_canonical(uuid, u, e);
        if (r < 0)
                return r;
        if ((unsigned) state > MCS_STATE_RUNNING)
                return mcs_fail(e, MCS_E_INVALID, "unknown state %d", (int) state);
        struct update_args a = {.uuid = u, .state = state, .out = out};
        return mcs_registry_write(reg, do_update, &a, e);
}

/* ---- release ---- */

int mcs_registry_release(mcs_registry *reg, const char *uuid, mcs_record *out, mcs_err *e) {
        return mcs_registry_release_if(reg, uuid, NULL, 0, out, e);
}

int mcs_registry_release_if(mcs_registry *reg, const char *uuid, const char *host, uint64_t generation,
                            mcs_record *out, mcs_err *e) {
        char u[MCS_UUID_STRLEN + 1];
        int r = mcs_uuid_canonical(uuid, u, e);
        if (r < 0 || (host && (r = mcs_registry_check_text("host id", host, MCS_HOST_MAX, false, e)) < 0))
                return r;
        if (generation > INT64_MAX)
                return mcs_fail(e, MCS_E_INVALID, "generation %llu out of range", (unsigned long long) generation);
        /* One conditional delete: the backend checks host and generation as it deletes. */
        mcs_err local = {0};
        r = reg->ops->remove(reg->b, u, host, generation, out, &local);
        mcs_registry_note_write(reg, r, &local);
        if (e)
                *e = local;
        return r;
}
