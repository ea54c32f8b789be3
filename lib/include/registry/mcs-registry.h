/* The registry: which guest holds which label, shared by every host.
 *
 * Callers use the mcs_registry_* functions below. They validate and
 * canonicalise every argument once, decide conflicts and draws against the
 * handle's view of the registry, and store through a thin backend
 * (lib/registry/backend.h) with conditional writes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcs-alloc.h"
#include "mcs-catset.h"
#include "mcs-error.h"
#include "mcs-level.h"

#define MCS_UUID_STRLEN 36u
#define MCS_NAME_MAX 255u /* bytes of a guest name */
#define MCS_HOST_MAX 255u /* bytes of a host id */
#define MCS_DEFAULT_BUSY_TIMEOUT_MS 10000u

typedef enum mcs_kind {
        MCS_KIND_DYNAMIC,   /* a pair mcsd drew and wrote into a persistent guest */
        MCS_KIND_STATIC,    /* a label an operator chose */
        MCS_KIND_TRANSIENT, /* a transient guest's label, held while it runs */
} mcs_kind;

typedef enum mcs_state {
        MCS_STATE_RESERVED,
        MCS_STATE_RUNNING, /* running on the record's host */
        /* Running on the record's host, which migrates it away: the record
         * stays that host's until the guest runs on the destination (whose
         * mcsd then records it running there) or the migration fails (the
         * source records it running again). Nobody releases it meanwhile. */
        MCS_STATE_MIGRATING,
} mcs_state;

typedef struct mcs_record {
        char uuid[MCS_UUID_STRLEN + 1];
        char *name;
        char *label; /* canonical MCS level or range, e.g. "s0:c12,c873" */
        mcs_kind kind;
        mcs_state state;
        char *host; /* the host that reserved it, or where it runs */
        int64_t created_us, updated_us; /* wall clock, microseconds since the epoch */
        uint64_t generation;            /* bumped on every change of the record */
} mcs_record;

typedef struct mcs_record_list {
        mcs_record *v;
        size_t n;
} mcs_record_list;

typedef enum mcs_history_op {
        MCS_OP_RESERVE,
        MCS_OP_RELEASE,
        MCS_OP_STATE,
} mcs_history_op;

/* Who asked for a change: the peer of mcsd's control socket (SO_PEERCRED).
 * Changes mcsd makes on its own (libvirt events, reconcile, the hook) have
 * none (known false). */
typedef struct mcs_actor {
        bool known;
        uint32_t uid;
        int32_t pid;
} mcs_actor;

typedef struct mcs_history_entry {
        uint64_t seq;
        int64_t at_us;
        mcs_history_op op;
        mcs_record rec; /* the record as the operation left it (or removed it) */
        mcs_actor who;  /* who asked, when it came through the control socket */
} mcs_history_entry;

typedef struct mcs_history_list {
        mcs_history_entry *v;
        size_t n;
} mcs_history_list;

/* A file's label before mcsd gave it a guest's label: kept in the registry
 * so that any host can restore it when the reservation goes. */
typedef struct mcs_original {
        char *path;      /* the file, symlinks resolved */
        char uuid[MCS_UUID_STRLEN + 1];
        char *context;   /* its label before, "" if it had none */
        char *host;      /* the host that changed it */
        int64_t saved_us;
} mcs_original;

typedef struct mcs_original_list {
        mcs_original *v;
        size_t n;
} mcs_original_list;

/* Who asks for a label. */
typedef struct mcs_guest {
        const char *uuid;
        const char *name;
        mcs_kind kind;
} mcs_guest;

typedef struct mcs_registry_config {
        const char *host_id;         /* this host, recorded with every write */
        mcs_catset pool;             /* categories dynamic pairs are drawn from */
        unsigned busy_timeout_ms;    /* 0: MCS_DEFAULT_BUSY_TIMEOUT_MS */
        uint64_t seed;               /* 0: random; else repeatable draws (tests) */
        /* The labels this host's SELinux policy can run (system_u's range,
         * e.g. s0-s0:c0.c1023): a label to reserve must lie within it, or
         * it is refused (-MCS_E_INVALID), and the pool must lie within its
         * categories (else the open fails, -MCS_E_RANGE). NULL: whatever
         * parses. Copied. */
        const mcs_range *allowed;
        /* Make a new, empty registry when the location holds none (a missing
         * or empty sqlite file, a directory without a registry-id, an etcd
         * prefix without an id key), also when one disappears while open.
         * false: refused with -MCS_E_NOTFOUND: an unmounted shared path must
         * not become a registry of this host alone. */
        bool create;
} mcs_registry_config;

typedef struct mcs_filter {
        const char *host; /* NULL: any */
        const char *name; /* NULL: any */
        int state;        /* -1: any, else mcs_state */
        int kind;         /* -1: any, else mcs_kind */
} mcs_filter;

#define MCS_FILTER_ALL ((mcs_filter){NULL, NULL, -1, -1})

typedef struct mcs_registry mcs_registry;

/* Where the registry lives unless configured otherwise: the meson option
 * registry_path, /var/lib/mcsd/registry.db by default. */
const char *mcs_registry_default_location(void);

/* location: "sqlite:///PATH", "sqlite:PATH" or a plain PATH (sqlite, the
 * embedded default), or another backend's "NAME:..." (docs/registry.md);
 * NULL: mcs_registry_default_location(). */
int mcs_registry_open(const char *location, const mcs_registry_config *cfg, mcs_registry **out, mcs_err *e);
void mcs_registry_close(mcs_registry *r);
/* Whether location names a known backend (without opening it). */
int mcs_registry_check_location(const char *location, mcs_err *e);
const char *mcs_registry_backend_name(const mcs_registry *r);
const char *mcs_registry_location(const mcs_registry *r);

/* One line on the registry's health: "ok: ..." or what is wrong (the
 * backend's own check, or the last write's storage failure until a write
 * succeeds again). */
int mcs_registry_health(mcs_registry *r, char *out, size_t len, mcs_err *e);

/* Records that this host is alive now (a no-op for a backend without
 * heartbeats), and lists every host that ever beat, with when. */
typedef struct mcs_host_seen {
        char *host;
        int64_t seen_us;
} mcs_host_seen;
typedef struct mcs_host_list {
        mcs_host_seen *v;
        size_t n;
} mcs_host_list;
int mcs_registry_heartbeat(mcs_registry *r, mcs_err *e);
int mcs_registry_hosts(mcs_registry *r, mcs_host_list *out, mcs_err *e);
void mcs_host_list_clear(mcs_host_list *l);

/* How many times this handle found that the registry at its location is no
 * longer the one it was following (replaced, recreated, an older copy put
 * back) and started its view again. Brings the view up to date first. A
 * caller that registers what it holds (mcsd's reconcile) does so again when
 * the count grows. */
uint64_t mcs_registry_breaks(mcs_registry *r, mcs_err *e);

/* A free pair for the guest, drawn from the pool. If the guest already holds
 * a label, that record is returned and *created is false. */
int mcs_registry_reserve(mcs_registry *r, const mcs_guest *g, mcs_record *out, bool *created, mcs_err *e);

/* Group commit: the writes between batch_begin and batch_end share one
 * durable commit (a backend without a write section commits each write
 * itself, and batch_begin/end do nothing). Nothing written inside is
 * durable, or visible to other hosts, before batch_end(commit true)
 * returns 0: a caller acts on the records it got (writes a label into a
 * guest) only then. Keep batches short: other writers wait meanwhile. */
int mcs_registry_batch_begin(mcs_registry *r, mcs_err *e);
/* True for the codes of a storage failure (I/O, busy past the timeout, a
 * damaged or newer registry, no memory), as opposed to an answer about the
 * records (a conflict, not found, changed). After one inside a batch the
 * batch must end without committing. */
bool mcs_registry_fault_code(mcs_code c);
int mcs_registry_batch_end(mcs_registry *r, bool commit, mcs_err *e);
/* True between a batch_begin that opened a shared commit and its
 * batch_end. False with a backend that commits each write itself: then
 * every write inside stands on its own, whatever happens to the others. */
bool mcs_registry_in_batch(const mcs_registry *r);

/* Exactly this label for the guest. Refused (-MCS_E_CONFLICT, naming the
 * holder) when another guest holds a label equal to, containing or contained
 * in it; refused (-MCS_E_EXISTS) when the guest holds another label; refused
 * (-MCS_E_INVALID) for a label without categories, which isolates nothing,
 * and for one outside the configured allowed range, which no guest could
 * run with. */
int mcs_registry_reserve_label(mcs_registry *r, const mcs_guest *g, const char *label, mcs_record *out,
                               bool *created, mcs_err *e);

/* Drops the guest's reservation; out (may be NULL) gets the released record. */
int mcs_registry_release(mcs_registry *r, const char *uuid, mcs_record *out, mcs_err *e);

/* The same, in one write transaction, only if the record still has this
 * host (NULL: any) and generation (0: any): a caller that read the record
 * and decided to release it acts on what it read. Otherwise
 * -MCS_E_CHANGED, naming what changed, and the record stays. */
int mcs_registry_release_if(mcs_registry *r, const char *uuid, const char *host, uint64_t generation,
                            mcs_record *out, mcs_err *e);

/* Replaces the guest's label by label in one step that never leaves it
 * holding neither: label is checked first, the guest's own old label set
 * aside, and a conflict (-MCS_E_CONFLICT) changes nothing; should the
 * write fail after the check, the old record is put back as it was.
 * Inside a write section (sqlite; a batch) no other host can see the gap.
 * Acts only if the record still has host if_host (NULL: any) and
 * generation if_generation (0: any), else -MCS_E_CHANGED. The new record
 * is g's (name, kind), on this host, reserved, generation one past the
 * old one's. The same label: the record as it is. */
int mcs_registry_replace_label(mcs_registry *r, const mcs_guest *g, const char *label, const char *if_host,
                               uint64_t if_generation, mcs_record *out, mcs_err *e);

/* Records that the guest, running on the record's host, migrates away: the
 * state becomes migrating and the host stays (MCS_STATE_MIGRATING), only if
 * the record still has generation (0: any); -MCS_E_CHANGED otherwise. A
 * record only reserved is refused (-MCS_E_INVALID): nothing runs to move. */
int mcs_registry_set_migrating(mcs_registry *r, const char *uuid, uint64_t generation, mcs_record *out,
                               mcs_err *e);

/* The host id this handle writes with every record. */
const char *mcs_registry_host(const mcs_registry *r);

/* Records the guest's new name (a rename), only if the record still has
 * this generation (0: any); -MCS_E_CHANGED otherwise. */
int mcs_registry_set_name(mcs_registry *r, const char *uuid, const char *name, uint64_t generation, mcs_record *out,
                          mcs_err *e);

/* Records the guest as reserved or running on this host (the record moves here). */
int mcs_registry_set_state(mcs_registry *r, const char *uuid, mcs_state state, mcs_record *out, mcs_err *e);

int mcs_registry_get(mcs_registry *r, const char *uuid, mcs_record *out, mcs_err *e);
int mcs_registry_find_label(mcs_registry *r, const char *label, mcs_record *out, mcs_err *e);
int mcs_registry_list(mcs_registry *r, const mcs_filter *f, mcs_record_list *out, mcs_err *e);
/* uuid NULL: the whole history, oldest first. */
int mcs_registry_history(mcs_registry *r, const char *uuid, mcs_history_list *out, mcs_err *e);

/* A page of the history, newest first. Every filter set must match:
 * label: the entry's label equals, contains or is contained in it (the
 * guests that could have read a holder of label's images, or been read);
 * since_us/until_us: at_us within [since_us, until_us] (0: unbounded);
 * before: only entries with seq below it (0: from the newest), so a page
 * goes on from the *next of the one before. limit: 0 is
 * MCS_HISTORY_PAGE_DEFAULT, above MCS_HISTORY_PAGE_MAX is refused. */
#define MCS_HISTORY_PAGE_DEFAULT 50u
#define MCS_HISTORY_PAGE_MAX 1000u
typedef struct mcs_history_query {
        const char *uuid;  /* NULL: any guest */
        const char *name;  /* NULL: any; else the guest's name the entry recorded */
        const char *label; /* NULL: any label */
        const char *host;  /* NULL: any host */
        int64_t since_us, until_us;
        uint64_t before;
        size_t limit;
} mcs_history_query;
/* *next: the seq to pass as before for the next page, 0 when this page is
 * the last. */
int mcs_registry_history_query(mcs_registry *r, const mcs_history_query *q, mcs_history_list *out, uint64_t *next,
                               mcs_err *e);

/* Where the history begins: 0 when it is whole (sqlite and etcd never
 * trim it); else the seq of the oldest entry left (dir/nfs: the entries
 * before it were moved away by an operator, their history with them). */
int mcs_registry_history_start(mcs_registry *r, uint64_t *first, mcs_err *e);

/* The actor the handle's next writes record in their history entries,
 * until set again; NULL: none (mcsd's own changes). */
void mcs_registry_set_actor(mcs_registry *r, const mcs_actor *who);

/* A time for a history query: ISO-8601 UTC ("2026-12-01T10:00:00Z", the
 * Z and seconds optional), "YYYY-MM-DD[ HH:MM[:SS]]" (UTC), or an age
 * before now_us: a number and s, m, h, d or w ("2h", "3d"). */
int mcs_history_parse_time(const char *text, int64_t now_us, int64_t *out_us, mcs_err *e);
int mcs_registry_stats(mcs_registry *r, mcs_alloc_stats *out, mcs_err *e);

/* Remembers path's label before guest uuid's replaced it. The first label
 * remembered for a path stays (labelling again keeps the true original);
 * a path remembered for another guest is refused (-MCS_E_CONFLICT): two
 * guests' private images would be one file. */
int mcs_registry_remember_original(mcs_registry *r, const char *uuid, const char *path, const char *context,
                                   mcs_err *e);
/* What is remembered for the guest (NULL: every guest), by path. */
int mcs_registry_originals(mcs_registry *r, const char *uuid, mcs_original_list *out, mcs_err *e);
/* Forgets a path's original (once restored, or when the file is gone). */
int mcs_registry_forget_original(mcs_registry *r, const char *path, mcs_err *e);
void mcs_original_list_clear(mcs_original_list *l);

/* Moving a registry (docs/registry.md): copies every record, the whole
 * history and every original label from one registry to another, new one,
 * generations and times kept, then verifies. No mcsd may use either.
 * Refused when the destination holds anything (-MCS_E_EXISTS), when its
 * backend cannot import (-MCS_E_INVALID) or the source is empty
 * (-MCS_E_NOTFOUND). The verification reads both back and compares them
 * field by field (-MCS_E_CHANGED naming the first difference), and checks
 * that no two labels of the destination conflict (-MCS_E_CONFLICT). cfg
 * opens both (its host_id is not written into the copy). */
typedef struct mcs_copy_report {
        size_t records, history, originals;                            /* copied */
        size_t records_verified, history_verified, originals_verified; /* found equal */
} mcs_copy_report;
int mcs_registry_copy(const char *from, const char *to, const mcs_registry_config *cfg, mcs_copy_report *out,
                      mcs_err *e);
/* The verification alone, of a copy made before; fills the *_verified counts. */
int mcs_registry_verify_copy(const char *from, const char *to, const mcs_registry_config *cfg, mcs_copy_report *out,
                             mcs_err *e);

int mcs_record_copy(mcs_record *dst, const mcs_record *src, mcs_err *e);
void mcs_record_clear(mcs_record *rec);
void mcs_record_list_clear(mcs_record_list *l);
void mcs_history_list_clear(mcs_history_list *l);

const char *mcs_kind_name(mcs_kind k);
const char *mcs_state_name(mcs_state s);
const char *mcs_history_op_name(mcs_history_op op);
int mcs_kind_from_name(const char *s, mcs_kind *out);
int mcs_state_from_name(const char *s, mcs_state *out);
int mcs_history_op_from_name(const char *s, mcs_history_op *out);

/* Accepts 8-4-4-4-12 hex digits in either case; writes the lower-case form. */
int mcs_uuid_canonical(const char *in, char out[MCS_UUID_STRLEN + 1], mcs_err *e);
