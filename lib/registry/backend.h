/* What a registry backend provides: thin storage, no safety logic.
 *
 * The conflict rules, the allocator view and the draw live once, above the
 * backends (registry.c, view.c). A backend stores records, applies the
 * conditional writes below atomically, and reports every change since a
 * cursor so that each handle keeps its allocator view current.
 *
 * The operations struct is versioned the way sqlite's VFS is: a backend
 * states the version it was written for and the size of the struct it
 * knows. Operations added by a later version sit after the older ones, and
 * the registry calls one only when the backend's struct is large enough to
 * hold it and it is not NULL (MCS_BACKEND_HAS). Operations marked optional
 * may be NULL in any version.
 *
 * Arguments arrive validated: UUIDs canonical, names and host ids checked,
 * labels canonical with at least one category. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mcs-level.h"
#include "mcs-registry.h"

#define MCS_BACKEND_VERSION 1

/* A position in a backend's change feed. The backend alone reads it; the
 * registry keeps it and hands it back. pos 0 with an empty mark is "before
 * everything". */
#define MCS_CURSOR_MARK_MAX 160
typedef struct mcs_cursor {
        uint64_t pos;
        char mark[MCS_CURSOR_MARK_MAX]; /* what the backend needs to notice a registry put back or replaced */
} mcs_cursor;

/* One change of the feed: what the allocator view needs. */
typedef struct mcs_change {
        mcs_history_op op; /* RESERVE: label now held; RELEASE: no longer held; STATE: labels unchanged */
        const char *uuid;
        const char *label;
} mcs_change;

/* Callbacks return 0 to go on, a positive number to stop early (the
 * operation then returns 0), or an error, which the operation returns. */
typedef int (*mcs_change_fn)(void *ctx, const mcs_change *c, mcs_err *e);
typedef int (*mcs_record_fn)(void *ctx, const mcs_record *rec, mcs_err *e);
/* May take h->rec and h's strings over (leaving them zeroed). */
typedef int (*mcs_history_fn)(void *ctx, mcs_history_entry *h, mcs_err *e);

/* A host that writes to the registry, and when it last said it was alive. */
typedef struct mcs_host_beat {
        const char *host;
        int64_t seen_us;
} mcs_host_beat;
typedef int (*mcs_host_fn)(void *ctx, const mcs_host_beat *h, mcs_err *e);

typedef struct mcs_backend mcs_backend; /* each backend's own state */

typedef struct mcs_backend_ops {
        int version;      /* MCS_BACKEND_VERSION the backend was written for */
        size_t size;      /* sizeof (mcs_backend_ops) as the backend was compiled */
        const char *name; /* the scheme: "sqlite" in "sqlite:///var/lib/mcsd/registry.db" */

        /* ---- version 1 ---- */
        /* location: what follows "NAME:" ("//" and all), or a plain path for sqlite. */
        int (*open)(const char *location, const mcs_registry_config *cfg, mcs_backend **out, mcs_err *e);
        void (*close)(mcs_backend *b);

        /* Optional: a write section. When present, the registry calls
         * write_begin, brings its view up to date, decides and writes, then
         * write_end (commit true to keep the writes). Nobody else writes in
         * between, so the writes inside never fail with -MCS_E_STALE. */
        int (*write_begin)(mcs_backend *b, mcs_err *e);
        int (*write_end)(mcs_backend *b, bool commit, mcs_err *e);

        /* Every change after *at, oldest first; *at moves past each one
         * handed to fn. -MCS_E_STALE when the feed cannot continue from *at
         * (another registry now stands at the location, an older copy was put
         * back, the backend compacted it away): the registry then rebuilds
         * its view with scan. */
        int (*changes)(mcs_backend *b, mcs_cursor *at, mcs_change_fn fn, void *ctx, mcs_err *e);
        /* Every record, from one consistent state, and the cursor of that state. */
        int (*scan)(mcs_backend *b, mcs_record_fn fn, void *ctx, mcs_cursor *at, mcs_err *e);
        int (*get)(mcs_backend *b, const char *uuid, mcs_record *out, mcs_err *e);

        /* Conditional writes. Each appends what it did to the history and the
         * feed (RESERVE, STATE, RELEASE) atomically with the write.
         *
         * create: stores rec only if no record has its uuid (-MCS_E_EXISTS)
         * and no change since view touched a label sharing a category with
         * claims (-MCS_E_STALE; a backend may be coarser and refuse on any
         * change since view). claims are the categories of rec->label: a
         * label that equals, contains or is contained in another shares a
         * category with it, so the registry's checks against its view plus
         * this guard mean no two conflicting labels are ever both stored.
         * The backend sets rec->generation, before storing it, from a
         * counter of its own that only goes up, registry-wide (sqlite: the
         * history row's seq; dir: the log entry's number; etcd: the
         * revision after the view's, with nothing written for the uuid
         * since): above every generation the uuid's earlier records ever
         * had, so a generation read from one of them never matches this one
         * (a release_if or an update over it is refused). */
        int (*create)(mcs_backend *b, mcs_record *rec, const mcs_catset *claims, const mcs_cursor *view,
                      mcs_err *e);
        /* update: replaces the record with rec (same uuid, label, kind and
         * created_us; name, host, state, updated_us and generation may
         * change) only if the stored one is still the record rec was read
         * from: generation if_generation, and rec's label, kind and
         * created_us (mcs_registry_check_same_record); else -MCS_E_CHANGED,
         * or -MCS_E_NOTFOUND. */
        int (*update)(mcs_backend *b, const mcs_record *rec, uint64_t if_generation, mcs_err *e);
        /* remove: deletes the record only if it still has host if_host (NULL:
         * any) and generation if_generation (0: any); else -MCS_E_CHANGED
         * (mcs_registry_check_unchanged words the message). out (may be
         * NULL) gets the removed record. */
        int (*remove)(mcs_backend *b, const char *uuid, const char *if_host, uint64_t if_generation,
                      mcs_record *out, mcs_err *e);

        /* Optional: faster than a scan. */
        int (*find_label)(mcs_backend *b, const char *label, mcs_record *out, mcs_err *e);
        /* Optional: the history, oldest first (uuid NULL: all of it). */
        int (*history)(mcs_backend *b, const char *uuid, mcs_history_list *out, mcs_err *e);

        /* Original labels of files (mcs_registry_remember_original). */
        int (*remember_original)(mcs_backend *b, const char *uuid, const char *path, const char *context,
                                 mcs_err *e);
        /* uuid NULL: every original. */
        int (*originals)(mcs_backend *b, const char *uuid, mcs_original_list *out, mcs_err *e);
        int (*forget_original)(mcs_backend *b, const char *path, mcs_err *e);

        /* Optional: host liveness. heartbeat records that this host is alive
         * now; hosts lists every host that ever beat. */
        int (*heartbeat)(mcs_backend *b, mcs_err *e);
        int (*hosts)(mcs_backend *b, mcs_host_fn fn, void *ctx, mcs_err *e);
        /* Optional: one line on the backend's health ("ok", or what is wrong). */
        int (*health)(mcs_backend *b, char *out, size_t len, mcs_err *e);

        /* Optional: writes a record exactly as given (generation and times
         * kept) into a registry being filled by a copy; -MCS_E_EXISTS when
         * the uuid or label is there already. The copy (copy.c) calls the
         * three on a registry it found empty, inside the write section when
         * the backend has one, so that the copy lands whole or not at all. */
        int (*import_record)(mcs_backend *b, const mcs_record *rec, mcs_err *e);
        int (*import_history)(mcs_backend *b, const mcs_history_entry *h, mcs_err *e);
        int (*import_original)(mcs_backend *b, const mcs_original *o, mcs_err *e);

        /* Optional: asked after the view is brought up to date and before a
         * write is decided; an error refuses the write (the backend knows its
         * state is not the newest, and a decision against it could be wrong). */
        int (*writable)(mcs_backend *b, mcs_err *e);

        /* Optional: the history newest first, from the entry below
         * q->before (0: the newest), to fn until it returns non-zero. A
         * backend applies what filters of q it can cheaply (uuid, host,
         * times), and may hand over entries that do not match: the registry
         * checks every filter again (label always). q->uuid is canonical.
         * Without it the registry reads the whole history. */
        int (*history_page)(mcs_backend *b, const mcs_history_query *q, mcs_history_fn fn, void *ctx, mcs_err *e);
        /* Optional: who asks for the writes that follow (NULL: nobody
         * outside mcsd); each history entry they append records it. */
        void (*set_actor)(mcs_backend *b, const mcs_actor *who);
        /* Optional (absent: the history is whole): the seq of the oldest
         * history entry left when older ones are gone, else 0. */
        int (*history_start)(mcs_backend *b, uint64_t *first, mcs_err *e);
        /* Optional: import_record for many at once, where the backend can
         * share round trips and commits between them (a copy of a full
         * pool one record at a time takes an hour on etcd). History is
         * imported one entry at a time: etcd orders it by revision, and
         * entries sharing a transaction would share one. */
        int (*import_records)(mcs_backend *b, const mcs_record *v, size_t n, mcs_err *e);
} mcs_backend_ops;

/* True when ops, as its backend compiled it, has the operation and it is set. */
#define MCS_BACKEND_HAS(ops, op)                                                                                \
        ((ops)->size >= offsetof(mcs_backend_ops, op) + sizeof((ops)->op) && (ops)->op != NULL)

extern const mcs_backend_ops mcs_backend_sqlite;
extern const mcs_backend_ops mcs_backend_etcd;

/* Shared by backends: -MCS_E_CHANGED, worded, when rec no longer has host
 * (NULL: any) or generation (0: any); else 0. doing: "released", ... */
int mcs_registry_check_unchanged(const mcs_record *rec, const char *host, uint64_t generation, const char *doing,
                                 mcs_err *e);

/* Shared by backends' update: -MCS_E_CHANGED, worded, unless now (the
 * stored record) is the one rec was read from: generation if_generation
 * and the same label, kind and creation time. A record released and
 * reserved again is another record, even where its generation matches
 * (a record an older mcsd created starts again at 1). */
int mcs_registry_check_same_record(const mcs_record *now, const mcs_record *rec, uint64_t if_generation,
                                   mcs_err *e);

/* Shared by backends: microseconds since the epoch, wall clock. */
int64_t mcs_registry_now_us(void);

/* What a backend reads back from shared storage is input: another host, or
 * anyone who can write there, put it. These accept only what the registry's
 * own argument checks accept from a client (a canonical UUID, a name and
 * host id of printable bytes, a canonical label with a category, an
 * absolute printable path, a context without a line end), else
 * -MCS_E_SCHEMA naming the field ("where" names the storage). */
int mcs_stored_record_check(const mcs_record *rec, const char *where, mcs_err *e);
int mcs_stored_original_check(const mcs_original *o, const char *where, mcs_err *e);
int mcs_stored_host_check(const char *host, const char *where, mcs_err *e);
int mcs_stored_label_check(const char *label, const char *where, mcs_err *e);
int mcs_stored_path_check(const char *path, const char *where, mcs_err *e);
int mcs_stored_actor_check(const mcs_actor *who, const char *where, mcs_err *e);
