/* The embedded registry: one sqlite file, possibly on shared storage.
 *
 * Every write is one BEGIN IMMEDIATE transaction in rollback-journal mode
 * with synchronous=EXTRA, so several processes on several hosts may share the
 * file (sqlite relies on the filesystem's POSIX locks; WAL would need shared
 * memory, which a network filesystem does not give). A write is acknowledged
 * only once COMMIT has returned, so a kill -9 loses nothing acknowledged;
 * EXTRA also syncs the directory after the journal is deleted, so a power
 * cut does not either.
 *
 * Each handle keeps an allocator (which pairs are free) as a cache. Inside
 * every write transaction, with the write lock held, it replays the history
 * rows that other writers appended since it last looked, then draws. The
 * UNIQUE constraint on the label is the backstop: should the cache ever be
 * wrong, the insert fails, the cache is rebuilt and the write retried. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcs-alloc.h"
#include "mcs-macro.h"
#include "../registry-backend.h"
#include "schema.h"

enum stmt_id {
        Q_REGISTRY_ID,
        Q_HISTORY_SINCE,
        Q_HISTORY_AT,
        Q_MAX_SEQ,
        Q_ALL,
        Q_GET,
        Q_BY_LABEL,
        Q_INSERT,
        Q_DELETE,
        Q_SET_STATE,
        Q_SET_NAME,
        Q_HISTORY_ADD,
        Q_LIST,
        Q_HISTORY_ALL,
        Q_HISTORY_UUID,
        Q_ORIG_INSERT,
        Q_ORIG_OWNER,
        Q_ORIG_LIST,
        Q_ORIG_DELETE,
        Q__MAX
};

#define RECORD_COLUMNS "uuid, name, label, kind, host, state, created_us, updated_us, generation"
/* A history row read as a record: the time of the operation stands for both timestamps. */
#define HISTORY_COLUMNS "seq, at_us, op, uuid, name, label, kind, host, state, at_us, at_us, generation"

static const char *const sql_text[Q__MAX] = {
        [Q_REGISTRY_ID] = "SELECT value FROM meta WHERE key = 'registry_id'",
        [Q_HISTORY_SINCE] = "SELECT seq, op, label, at_us, uuid, generation FROM history WHERE seq > ?1 ORDER BY seq",
        [Q_HISTORY_AT] = "SELECT at_us, op, uuid, generation FROM history WHERE seq = ?1",
        [Q_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM history",
        [Q_ALL] = "SELECT " RECORD_COLUMNS " FROM reservations",
        [Q_GET] = "SELECT " RECORD_COLUMNS " FROM reservations WHERE uuid = ?1",
        [Q_BY_LABEL] = "SELECT " RECORD_COLUMNS " FROM reservations WHERE label = ?1",
        [Q_INSERT] = "INSERT INTO reservations (" RECORD_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 1)",
        [Q_DELETE] = "DELETE FROM reservations WHERE uuid = ?1",
        [Q_SET_STATE] = "UPDATE reservations SET state = ?2, host = ?3, updated_us = ?4, "
                        "generation = generation + 1 WHERE uuid = ?1",
        [Q_SET_NAME] = "UPDATE reservations SET name = ?2, updated_us = ?3, generation = generation + 1 WHERE uuid = ?1",
        [Q_HISTORY_ADD] = "INSERT INTO history (at_us, op, uuid, name, label, kind, host, state, generation) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        [Q_LIST] = "SELECT " RECORD_COLUMNS " FROM reservations "
                   "WHERE (?1 IS NULL OR host = ?1) AND (?2 IS NULL OR name = ?2) "
                   "AND (?3 IS NULL OR state = ?3) AND (?4 IS NULL OR kind = ?4) ORDER BY name, uuid",
        [Q_HISTORY_ALL] = "SELECT " HISTORY_COLUMNS " FROM history ORDER BY seq",
        [Q_HISTORY_UUID] = "SELECT " HISTORY_COLUMNS " FROM history WHERE uuid = ?1 ORDER BY seq",
        [Q_ORIG_INSERT] = "INSERT INTO originals (path, uuid, context, host, saved_us) VALUES (?1, ?2, ?3, ?4, ?5) "
                          "ON CONFLICT (path) DO NOTHING",
        [Q_ORIG_OWNER] = "SELECT uuid FROM originals WHERE path = ?1",
        [Q_ORIG_LIST] = "SELECT path, uuid, context, host, saved_us FROM originals WHERE uuid = ?1 ORDER BY path",
        [Q_ORIG_DELETE] = "DELETE FROM originals WHERE path = ?1",
};

/* A history row told apart from another with the same seq. */
#define ROW_MARK_MAX 128

struct sq {
        sqlite3 *db;
        char *path;
        char *host;
        mcs_catset pool;
        uint64_t seed;
        unsigned busy_ms;
        mcs_alloc *alloc; /* NULL: rebuild before the next use */
        int64_t seen_seq; /* last history row replayed into alloc */
        char seen_mark[ROW_MARK_MAX]; /* and what that row was (row_mark) */
        char registry_id[64];
        bool dirty;       /* alloc changed inside the open transaction */
        int64_t pending_seq;
        char pending_mark[ROW_MARK_MAX];
        sqlite3_stmt *st[Q__MAX];
};

/* Internal: the cache disagreed with the database; rebuild and try again. */
#define RETRY_WITH_FRESH_CACHE (-1000)

static int64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int sq_fail(struct sq *s, int rc, const char *what, mcs_err *e) {
        int primary = rc & 0xff;
        if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
                return mcs_fail(e, MCS_E_BUSY, "registry %s: %s: locked by another writer for more than %u ms",
                                s->path, what, s->busy_ms);
        if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
                return mcs_fail(e, MCS_E_SCHEMA, "registry %s: %s: %s", s->path, what, sqlite3_errstr(rc));
        if (primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR || primary == SQLITE_FULL ||
            primary == SQLITE_READONLY || primary == SQLITE_PERM) {
                int sys = sqlite3_system_errno(s->db);
                return mcs_fail(e, MCS_E_IO, "registry %s: %s: %s (sqlite code %d)%s%s", s->path, what,
                                sqlite3_errmsg(s->db), sqlite3_extended_errcode(s->db), sys ? ": " : "",
                                sys ? strerror(sys) : "");
        }
        return mcs_fail(e, MCS_E_IO, "registry %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* A cached statement, reset and ready for binding. */
static int prep(struct sq *s, enum stmt_id id, sqlite3_stmt **out, mcs_err *e) {
        if (!s->st[id]) {
                int rc = sqlite3_prepare_v3(s->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL);
                if (rc != SQLITE_OK)
                        return sq_fail(s, rc, "prepare", e);
        } else {
                sqlite3_reset(s->st[id]);
                sqlite3_clear_bindings(s->st[id]);
        }
        *out = s->st[id];
        return 0;
}

static int exec(struct sq *s, const char *sql, mcs_err *e) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : sq_fail(s, rc, sql, e);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static char *column_dup(sqlite3_stmt *st, int i) {
        const unsigned char *t = sqlite3_column_text(st, i);
        return strdup(t ? (const char *) t : "");
}

/* Reads RECORD_COLUMNS starting at column c0. */
static int read_record(struct sq *s, sqlite3_stmt *st, int c0, mcs_record *rec, mcs_err *e) {
        const unsigned char *uuid = sqlite3_column_text(st, c0);
        memset(rec, 0, sizeof *rec);
        snprintf(rec->uuid, sizeof rec->uuid, "%s", uuid ? (const char *) uuid : "");
        rec->name = column_dup(st, c0 + 1);
        rec->label = column_dup(st, c0 + 2);
        rec->host = column_dup(st, c0 + 4);
        if (!rec->name || !rec->label || !rec->host) {
                mcs_record_clear(rec);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        if (mcs_kind_from_name((const char *) sqlite3_column_text(st, c0 + 3), &rec->kind) < 0 ||
            mcs_state_from_name((const char *) sqlite3_column_text(st, c0 + 5), &rec->state) < 0) {
                int r = mcs_fail(e, MCS_E_SCHEMA, "registry %s: guest %s has an unknown kind or state", s->path,
                                 rec->uuid);
                mcs_record_clear(rec);
                return r;
        }
        rec->created_us = sqlite3_column_int64(st, c0 + 6);
        rec->updated_us = sqlite3_column_int64(st, c0 + 7);
        rec->generation = (uint64_t) sqlite3_column_int64(st, c0 + 8);
        return 0;
}

/* 0 and *rec filled, or -MCS_E_NOTFOUND, or another error. */
static int query_one(struct sq *s, enum stmt_id id, const char *key, mcs_record *rec, mcs_err *e) {
        sqlite3_stmt *st;
        int r = prep(s, id, &st, e);
        if (r < 0)
                return r;
        bind_text(st, 1, key);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                r = read_record(s, st, 0, rec, e);
        else if (rc == SQLITE_DONE)
                r = mcs_fail(e, MCS_E_NOTFOUND, "no reservation for %s", key);
        else
                r = sq_fail(s, rc, "read reservation", e);
        sqlite3_reset(st);
        return r;
}

static int parse_stored(struct sq *s, const char *label, const char *whose, mcs_range *out, mcs_err *e) {
        int r = mcs_range_parse(label ? label : "", out, e);
        if (r < 0) {
                mcs_err_prefix(e, "registry %s: stored label of %s", s->path, whose);
                return -(int) MCS_E_SCHEMA;
        }
        return 0;
}

static void row_mark(char out[ROW_MARK_MAX], int64_t at_us, const char *op, const char *uuid, int64_t generation) {
        snprintf(out, ROW_MARK_MAX, "%lld %.16s %.36s %lld", (long long) at_us, op ? op : "", uuid ? uuid : "",
                 (long long) generation);
}

/* The mark of history row seq; "" when there is no such row. */
static int read_mark(struct sq *s, int64_t seq, char out[ROW_MARK_MAX], mcs_err *e) {
        sqlite3_stmt *st;
        int r = prep(s, Q_HISTORY_AT, &st, e);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, seq);
        int rc = sqlite3_step(st);
        out[0] = '\0';
        if (rc == SQLITE_ROW)
                row_mark(out, sqlite3_column_int64(st, 0), (const char *) sqlite3_column_text(st, 1),
                         (const char *) sqlite3_column_text(st, 2), sqlite3_column_int64(st, 3));
        else if (rc != SQLITE_DONE)
                r = sq_fail(s, rc, "read history", e);
        sqlite3_reset(st);
        return r;
}

static void drop_cache(struct sq *s) {
        mcs_alloc_free(s->alloc);
        s->alloc = NULL;
}

static int read_registry_id(struct sq *s, char *out, size_t len, mcs_err *e) {
        sqlite3_stmt *st;
        int r = prep(s, Q_REGISTRY_ID, &st, e);
        if (r < 0)
                return r;
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                snprintf(out, len, "%s", (const char *) sqlite3_column_text(st, 0));
        else
                r = rc == SQLITE_DONE ? mcs_fail(e, MCS_E_SCHEMA, "registry %s: no registry id", s->path)
                                      : sq_fail(s, rc, "read registry id", e);
        sqlite3_reset(st);
        return r;
}

/* Rebuilds the allocator from every reservation; call inside a transaction. */
static int cache_load(struct sq *s, mcs_err *e) {
        sqlite3_stmt *st;
        mcs_alloc *a;
        int r, rc;

        drop_cache(s);
        if ((r = mcs_alloc_new(&s->pool, s->seed, &a, e)) < 0)
                return r;
        if ((r = prep(s, Q_ALL, &st, e)) < 0)
                goto fail;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                mcs_range range;
                const char *uuid = (const char *) sqlite3_column_text(st, 0);
                if ((r = parse_stored(s, (const char *) sqlite3_column_text(st, 2), uuid, &range, e)) < 0 ||
                    (r = mcs_alloc_add(a, &range.high.cats, e)) < 0) {
                        sqlite3_reset(st);
                        goto fail;
                }
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                r = sq_fail(s, rc, "load reservations", e);
                goto fail;
        }
        if ((r = prep(s, Q_MAX_SEQ, &st, e)) < 0)
                goto fail;
        if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
                r = sq_fail(s, rc, "read history position", e);
                sqlite3_reset(st);
                goto fail;
        }
        s->seen_seq = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if ((r = read_mark(s, s->seen_seq, s->seen_mark, e)) < 0 ||
            (r = read_registry_id(s, s->registry_id, sizeof s->registry_id, e)) < 0)
                goto fail;
        s->alloc = a;
        return 0;
fail:
        mcs_alloc_free(a);
        return r;
}

/* Brings the allocator up to date with what other writers committed. */
static int cache_sync(struct sq *s, mcs_err *e) {
        sqlite3_stmt *st;
        char id[sizeof s->registry_id];
        int r, rc;

        if (!s->alloc)
                return cache_load(s, e);
        /* A different file now stands at the path: its history is not ours. */
        if ((r = read_registry_id(s, id, sizeof id, e)) < 0)
                return r;
        if (strcmp(id, s->registry_id) != 0)
                return cache_load(s, e);
        /* The same registry, but not the history this handle read: an older
         * copy was put back (the row it saw last is gone, or another row has
         * its seq since). Rows with a higher seq are not all new to it, nor
         * all the new ones above its position: start again. */
        char mark[ROW_MARK_MAX];
        if (s->seen_seq > 0) {
                if ((r = read_mark(s, s->seen_seq, mark, e)) < 0)
                        return r;
                if (strcmp(mark, s->seen_mark) != 0)
                        return cache_load(s, e);
        }

        if ((r = prep(s, Q_HISTORY_SINCE, &st, e)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, s->seen_seq);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                mcs_history_op op;
                mcs_range range;
                const char *label = (const char *) sqlite3_column_text(st, 2);
                if (mcs_history_op_from_name((const char *) sqlite3_column_text(st, 1), &op) < 0 ||
                    parse_stored(s, label, "a history row", &range, NULL) < 0 ||
                    (op == MCS_OP_RESERVE && mcs_alloc_add(s->alloc, &range.high.cats, NULL) < 0) ||
                    (op == MCS_OP_RELEASE && mcs_alloc_remove(s->alloc, &range.high.cats, NULL) < 0)) {
                        /* Replay does not add up: start again from the reservations themselves. */
                        sqlite3_reset(st);
                        return cache_load(s, e);
                }
                s->seen_seq = sqlite3_column_int64(st, 0);
                row_mark(s->seen_mark, sqlite3_column_int64(st, 3), (const char *) sqlite3_column_text(st, 1),
                         (const char *) sqlite3_column_text(st, 4), sqlite3_column_int64(st, 5));
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                drop_cache(s);
                return sq_fail(s, rc, "read history", e);
        }
        return 0;
}

static int history_add(struct sq *s, mcs_history_op op, const mcs_record *rec, int64_t at, mcs_err *e) {
        sqlite3_stmt *st;
        int r = prep(s, Q_HISTORY_ADD, &st, e);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, at);
        bind_text(st, 2, mcs_history_op_name(op));
        bind_text(st, 3, rec->uuid);
        bind_text(st, 4, rec->name);
        bind_text(st, 5, rec->label);
        bind_text(st, 6, mcs_kind_name(rec->kind));
        bind_text(st, 7, rec->host);
        bind_text(st, 8, mcs_state_name(rec->state));
        sqlite3_bind_int64(st, 9, (int64_t) rec->generation);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
                return sq_fail(s, rc, "append history", e);
        s->pending_seq = sqlite3_last_insert_rowid(s->db);
        row_mark(s->pending_mark, at, mcs_history_op_name(op), rec->uuid, (int64_t) rec->generation);
        return 0;
}

typedef int (*txn_body)(struct sq *s, void *arg, mcs_err *e);

static void rollback(struct sq *s) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        if (s->dirty)
                drop_cache(s);
        s->dirty = false;
}

/* Runs body in one write transaction with the cache in sync, and commits. */
static int write_txn(struct sq *s, txn_body body, void *arg, mcs_err *e) {
        for (int attempt = 0;; attempt++) {
                int r = exec(s, "BEGIN IMMEDIATE", e);
                if (r < 0)
                        return r;
                s->dirty = false;
                s->pending_seq = 0;
                if ((r = cache_sync(s, e)) < 0 || (r = body(s, arg, e)) < 0) {
                        rollback(s);
                        if (r == RETRY_WITH_FRESH_CACHE) {
                                drop_cache(s);
                                if (attempt == 0)
                                        continue;
                                return mcs_fail(e, MCS_E_SCHEMA,
                                                "registry %s: reservations and history disagree twice in a row",
                                                s->path);
                        }
                        return r;
                }
                int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
                if (rc != SQLITE_OK) {
                        r = sq_fail(s, rc, "commit", e);
                        s->dirty = true; /* whatever body did to the cache is void */
                        rollback(s);
                        return r;
                }
                if (s->pending_seq) {
                        s->seen_seq = s->pending_seq;
                        memcpy(s->seen_mark, s->pending_mark, sizeof s->seen_mark);
                }
                s->dirty = false;
                return 0;
        }
}

static int insert_record(struct sq *s, const mcs_record *rec, mcs_err *e) {
        sqlite3_stmt *st;
        int r = prep(s, Q_INSERT, &st, e);
        if (r < 0)
                return r;
        bind_text(st, 1, rec->uuid);
        bind_text(st, 2, rec->name);
        bind_text(st, 3, rec->label);
        bind_text(st, 4, mcs_kind_name(rec->kind));
        bind_text(st, 5, rec->host);
        bind_text(st, 6, mcs_state_name(rec->state));
        sqlite3_bind_int64(st, 7, rec->created_us);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
                return RETRY_WITH_FRESH_CACHE;
        return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "insert reservation", e);
}

/* The reservation whose label's categories equal set (the allocator's answer). */
static int find_holder(struct sq *s, const mcs_catset *set, mcs_record *out, mcs_err *e) {
        sqlite3_stmt *st;
        int r = prep(s, Q_ALL, &st, e), rc;
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                mcs_range range;
                if (mcs_range_parse((const char *) sqlite3_column_text(st, 2), &range, NULL) == 0 &&
                    mcs_catset_equal(&range.high.cats, set)) {
                        r = read_record(s, st, 0, out, e);
                        sqlite3_reset(st);
                        return r;
                }
        }
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? RETRY_WITH_FRESH_CACHE : sq_fail(s, rc, "find holder", e);
}

struct reserve_args {
        const mcs_guest *g;
        const mcs_label *want; /* NULL: draw a pair */
        mcs_record *out;
        bool *created;
};

static int fill_record(struct sq *s, const mcs_guest *g, const char *label, mcs_record *rec, mcs_err *e) {
        memset(rec, 0, sizeof *rec);
        snprintf(rec->uuid, sizeof rec->uuid, "%s", g->uuid);
        rec->name = strdup(g->name);
        rec->label = strdup(label);
        rec->host = strdup(s->host);
        rec->kind = g->kind;
        rec->state = MCS_STATE_RESERVED;
        rec->created_us = rec->updated_us = now_us();
        rec->generation = 1;
        if (!rec->name || !rec->label || !rec->host) {
                mcs_record_clear(rec);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        return 0;
}

static int do_reserve(struct sq *s, void *arg, mcs_err *e) {
        struct reserve_args *a = arg;
        mcs_record rec;
        char text[MCS_LEVEL_STRMAX];
        const char *label;
        mcs_err probe = {0}; /* "not found" is the usual answer here, not the caller's error */
        int r = query_one(s, Q_GET, a->g->uuid, &rec, &probe);

        if (r == 0) {
                if (!a->want || strcmp(rec.label, a->want->text) == 0) {
                        *a->out = rec;
                        *a->created = false;
                        return 0;
                }
                r = mcs_fail(e, MCS_E_EXISTS, "guest %s (%s) already holds label %s on host %s; release it before "
                             "reserving %s", rec.name, rec.uuid, rec.label, rec.host, a->want->text);
                mcs_record_clear(&rec);
                return r;
        }
        if (r != -(int) MCS_E_NOTFOUND) {
                if (e)
                        *e = probe;
                return r;
        }

        if (a->want) {
                mcs_catset conflict;
                if (mcs_alloc_check(s->alloc, &a->want->range.high.cats, &conflict) < 0) {
                        mcs_record holder;
                        if ((r = find_holder(s, &conflict, &holder, e)) < 0)
                                return r;
                        r = mcs_registry_conflict_error(e, a->g, a->want, &holder);
                        mcs_record_clear(&holder);
                        return r;
                }
                if ((r = mcs_alloc_add(s->alloc, &a->want->range.high.cats, e)) < 0)
                        return r;
                label = a->want->text;
        } else {
                unsigned ci, cj;
                if ((r = mcs_alloc_take(s->alloc, &ci, &cj, e)) < 0)
                        return r;
                mcs_level l = {.sens = 0, .cats = mcs_catset_pair(ci, cj)};
                mcs_level_format(&l, text, sizeof text);
                label = text;
        }
        s->dirty = true;

        if ((r = fill_record(s, a->g, label, &rec, e)) < 0)
                return r;
        if ((r = insert_record(s, &rec, e)) < 0 || (r = history_add(s, MCS_OP_RESERVE, &rec, rec.created_us, e)) < 0) {
                mcs_record_clear(&rec);
                return r;
        }
        *a->out = rec;
        *a->created = true;
        return 0;
}

static int sq_reserve_any(void *state, const mcs_guest *g, mcs_record *out, bool *created, mcs_err *e) {
        struct reserve_args a = {g, NULL, out, created};
        return write_txn(state, do_reserve, &a, e);
}

static int sq_reserve_label(void *state, const mcs_guest *g, const mcs_label *label, mcs_record *out,
                            bool *created, mcs_err *e) {
        struct reserve_args a = {g, label, out, created};
        return write_txn(state, do_reserve, &a, e);
}

struct change_args {
        const char *uuid;
        mcs_state state;
        mcs_record *out;
        const char *host, *name; /* release: NULL, any host; set_name: the new name */
        uint64_t generation;     /* 0: any */
};

/* -MCS_E_CHANGED when rec is no longer what the caller read. */
static int check_unchanged(const mcs_record *rec, const char *host, uint64_t generation, const char *doing,
                           mcs_err *e) {
        if (host && strcmp(rec->host, host))
                return mcs_fail(e, MCS_E_CHANGED, "guest %s (%s): not %s: its record is now on host %s, not %s",
                                rec->name, rec->uuid, doing, rec->host, host);
        if (generation && rec->generation != generation)
                return mcs_fail(e, MCS_E_CHANGED,
                                "guest %s (%s): not %s: its record changed meanwhile (generation %llu, read %llu; "
                                "now %s %s on host %s)",
                                rec->name, rec->uuid, doing, (unsigned long long) rec->generation,
                                (unsigned long long) generation, rec->label, mcs_state_name(rec->state), rec->host);
        return 0;
}

/* Reads, checks and deletes in the one write transaction: nothing can
 * change the record between the check and the delete. */
static int do_release(struct sq *s, void *arg, mcs_err *e) {
        struct change_args *a = arg;
        sqlite3_stmt *st;
        mcs_record rec;
        mcs_range range;
        int r = query_one(s, Q_GET, a->uuid, &rec, e);
        if (r < 0)
                return r;
        if ((r = check_unchanged(&rec, a->host, a->generation, "released", e)) < 0)
                goto out;
        if ((r = prep(s, Q_DELETE, &st, e)) < 0)
                goto out;
        bind_text(st, 1, a->uuid);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                r = sq_fail(s, rc, "delete reservation", e);
                goto out;
        }
        if ((r = history_add(s, MCS_OP_RELEASE, &rec, now_us(), e)) < 0)
                goto out;
        s->dirty = true;
        if (parse_stored(s, rec.label, rec.uuid, &range, NULL) < 0 ||
            mcs_alloc_remove(s->alloc, &range.high.cats, NULL) < 0)
                drop_cache(s);
        if (a->out) {
                *a->out = rec;
                return 0;
        }
out:
        mcs_record_clear(&rec);
        return r;
}

static int sq_release(void *state, const char *uuid, const char *host, uint64_t generation, mcs_record *out,
                      mcs_err *e) {
        struct change_args a = {.uuid = uuid, .out = out, .host = host, .generation = generation};
        return write_txn(state, do_release, &a, e);
}

/* A rename is recorded in the history as a 'state' row: the record as the
 * change left it. */
static int do_set_name(struct sq *s, void *arg, mcs_err *e) {
        struct change_args *a = arg;
        sqlite3_stmt *st;
        mcs_record rec;
        int64_t at = now_us();
        int r = query_one(s, Q_GET, a->uuid, &rec, e);
        if (r < 0)
                return r;
        if ((r = check_unchanged(&rec, NULL, a->generation, "renamed", e)) < 0 || !strcmp(rec.name, a->name))
                goto out;
        mcs_record_clear(&rec);
        if ((r = prep(s, Q_SET_NAME, &st, e)) < 0)
                return r;
        bind_text(st, 1, a->uuid);
        bind_text(st, 2, a->name);
        sqlite3_bind_int64(st, 3, at);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
                return sq_fail(s, rc, "rename", e);
        if ((r = query_one(s, Q_GET, a->uuid, &rec, e)) < 0)
                return r;
        r = history_add(s, MCS_OP_STATE, &rec, at, e);
out:
        if (r < 0 || !a->out)
                mcs_record_clear(&rec);
        else
                *a->out = rec;
        return r;
}

static int sq_set_name(void *state, const char *uuid, const char *name, uint64_t generation, mcs_record *out,
                       mcs_err *e) {
        struct change_args a = {.uuid = uuid, .out = out, .name = name, .generation = generation};
        return write_txn(state, do_set_name, &a, e);
}

static int do_set_state(struct sq *s, void *arg, mcs_err *e) {
        struct change_args *a = arg;
        sqlite3_stmt *st;
        int64_t at = now_us();
        int r;

        if ((r = prep(s, Q_SET_STATE, &st, e)) < 0)
                return r;
        bind_text(st, 1, a->uuid);
        bind_text(st, 2, mcs_state_name(a->state));
        bind_text(st, 3, s->host);
        sqlite3_bind_int64(st, 4, at);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
                return sq_fail(s, rc, "update state", e);
        if (sqlite3_changes(s->db) == 0)
                return mcs_fail(e, MCS_E_NOTFOUND, "no reservation for %s", a->uuid);

        mcs_record rec;
        if ((r = query_one(s, Q_GET, a->uuid, &rec, e)) < 0)
                return r;
        if ((r = history_add(s, MCS_OP_STATE, &rec, at, e)) < 0 || !a->out)
                mcs_record_clear(&rec);
        else
                *a->out = rec;
        return r;
}

static int sq_set_state(void *state, const char *uuid, mcs_state st, mcs_record *out, mcs_err *e) {
        struct change_args a = {.uuid = uuid, .state = st, .out = out};
        return write_txn(state, do_set_state, &a, e);
}

static int sq_get(void *state, const char *uuid, mcs_record *out, mcs_err *e) {
        return query_one(state, Q_GET, uuid, out, e);
}

static int sq_find_label(void *state, const char *label, mcs_record *out, mcs_err *e) {
        return query_one(state, Q_BY_LABEL, label, out, e);
}

static int grow(void **v, size_t *cap, size_t n, size_t size) {
        if (n < *cap)
                return 0;
        size_t c = *cap ? *cap * 2 : 16;
        void *p = realloc(*v, c * size);
        if (!p)
                return -1;
        *v = p;
        *cap = c;
        return 0;
}

static int sq_list(void *state, const mcs_filter *f, mcs_record_list *out, mcs_err *e) {
        struct sq *s = state;
        sqlite3_stmt *st;
        size_t cap = 0;
        int r = prep(s, Q_LIST, &st, e), rc;

        out->v = NULL;
        out->n = 0;
        if (r < 0)
                return r;
        if (f->host)
                bind_text(st, 1, f->host);
        if (f->name)
                bind_text(st, 2, f->name);
        if (f->state >= 0)
                bind_text(st, 3, mcs_state_name((mcs_state) f->state));
        if (f->kind >= 0)
                bind_text(st, 4, mcs_kind_name((mcs_kind) f->kind));
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (grow((void **) &out->v, &cap, out->n, sizeof *out->v) < 0) {
                        r = mcs_fail(e, MCS_E_NOMEM, "out of memory");
                        break;
                }
                if ((r = read_record(s, st, 0, &out->v[out->n], e)) < 0)
                        break;
                out->n++;
        }
        sqlite3_reset(st);
        if (r == 0 && rc != SQLITE_DONE)
                r = sq_fail(s, rc, "list reservations", e);
        if (r < 0)
                mcs_record_list_clear(out);
        return r;
}

static int sq_history(void *state, const char *uuid, mcs_history_list *out, mcs_err *e) {
        struct sq *s = state;
        sqlite3_stmt *st;
        size_t cap = 0;
        int r = prep(s, uuid ? Q_HISTORY_UUID : Q_HISTORY_ALL, &st, e), rc;

        out->v = NULL;
        out->n = 0;
        if (r < 0)
                return r;
        if (uuid)
                bind_text(st, 1, uuid);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (grow((void **) &out->v, &cap, out->n, sizeof *out->v) < 0) {
                        r = mcs_fail(e, MCS_E_NOMEM, "out of memory");
                        break;
                }
                mcs_history_entry *h = &out->v[out->n];
                h->seq = (uint64_t) sqlite3_column_int64(st, 0);
                h->at_us = sqlite3_column_int64(st, 1);
                if (mcs_history_op_from_name((const char *) sqlite3_column_text(st, 2), &h->op) < 0) {
                        r = mcs_fail(e, MCS_E_SCHEMA, "registry %s: history row %llu has an unknown operation",
                                     s->path, (unsigned long long) h->seq);
                        break;
                }
                if ((r = read_record(s, st, 3, &h->rec, e)) < 0)
                        break;
                out->n++;
        }
        sqlite3_reset(st);
        if (r == 0 && rc != SQLITE_DONE)
                r = sq_fail(s, rc, "read history", e);
        if (r < 0)
                mcs_history_list_clear(out);
        return r;
}

static int sq_stats(void *state, mcs_alloc_stats *out, mcs_err *e) {
        struct sq *s = state;
        int r = exec(s, "BEGIN", e);
        if (r < 0)
                return r;
        if ((r = cache_sync(s, e)) < 0) {
                rollback(s);
                return r;
        }
        mcs_alloc_stats_get(s->alloc, out);
        return exec(s, "COMMIT", e);
}

static int pragma_text(struct sq *s, const char *sql, char *out, size_t len, mcs_err *e) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sq_fail(s, rc, sql, e);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                snprintf(out, len, "%s", (const char *) sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return rc == SQLITE_ROW ? 0 : sq_fail(s, rc, sql, e);
}

static int migrate(struct sq *s, mcs_err *e) {
        char v[32];
        int r = pragma_text(s, "PRAGMA user_version", v, sizeof v, e);
        if (r < 0)
                return r;
        int version = atoi(v);
        if (version == MCS_SQLITE_SCHEMA_VERSION)
                return 0;
        /* Upgrade under the write lock; another process may have done it meanwhile. */
        if ((r = exec(s, "BEGIN IMMEDIATE", e)) < 0)
                return r;
        if ((r = pragma_text(s, "PRAGMA user_version", v, sizeof v, e)) < 0)
                goto fail;
        version = atoi(v);
        if (version > MCS_SQLITE_SCHEMA_VERSION || version < 0) {
                r = mcs_fail(e, MCS_E_SCHEMA,
                             "registry %s has schema version %d; this mcsd knows versions up to %d: upgrade mcsd",
                             s->path, version, MCS_SQLITE_SCHEMA_VERSION);
                goto fail;
        }
        for (int step = version; step < MCS_SQLITE_SCHEMA_VERSION; step++)
                if ((r = exec(s, mcs_sqlite_migrations[step], e)) < 0) {
                        mcs_err_prefix(e, "migrating schema version %d to %d", step, step + 1);
                        goto fail;
                }
        snprintf(v, sizeof v, "PRAGMA user_version = %d", MCS_SQLITE_SCHEMA_VERSION);
        if ((r = exec(s, v, e)) < 0 || (r = exec(s, "COMMIT", e)) < 0)
                goto fail;
        return 0;
fail:
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

static void sq_close(void *state) {
        struct sq *s = state;
        if (!s)
                return;
        for (int i = 0; i < Q__MAX; i++)
                sqlite3_finalize(s->st[i]);
        sqlite3_close(s->db);
        mcs_alloc_free(s->alloc);
        free(s->path);
        free(s->host);
        free(s);
}

static int sq_open(const char *path, const mcs_registry_config *cfg, void **state, mcs_err *e) {
        struct sq *s = calloc(1, sizeof *s);
        char mode[32];
        int r, rc;

        if (!s)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        s->path = strdup(path);
        s->host = strdup(cfg->host_id);
        s->pool = cfg->pool;
        s->seed = cfg->seed;
        s->busy_ms = cfg->busy_timeout_ms;
        if (!s->path || !s->host) {
                sq_close(s);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                r = s->db ? sq_fail(s, rc, "open", e)
                          : mcs_fail(e, MCS_E_NOMEM, "registry %s: out of memory", path);
                sq_close(s);
                return r;
        }
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, (int) s->busy_ms);
        /* Refuse schema tricks through the SQL interface; run no schema-defined functions. */
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

        if ((r = pragma_text(s, "PRAGMA journal_mode = DELETE", mode, sizeof mode, e)) < 0)
                goto fail;
        if (strcmp(mode, "delete") != 0) {
                r = mcs_fail(e, MCS_E_IO,
                             "registry %s: journal mode is %s and cannot be set to delete; the registry needs a "
                             "rollback journal to be shared across hosts", path, mode);
                goto fail;
        }
        /* EXTRA: FULL, plus an fsync of the directory after the journal is
         * unlinked at commit. Without it a power cut right after an
         * acknowledged commit can bring the journal back, and the next
         * opener rolls the commit back. */
        if ((r = exec(s, "PRAGMA synchronous = EXTRA", e)) < 0 ||
            (r = pragma_text(s, "PRAGMA synchronous", mode, sizeof mode, e)) < 0)
                goto fail;
        if (strcmp(mode, "3") != 0) {
                r = mcs_fail(e, MCS_E_IO, "registry %s: synchronous is %s and cannot be set to extra (3)", path, mode);
                goto fail;
        }
        if ((r = migrate(s, e)) < 0)
                goto fail;
        *state = s;
        return 0;
fail:
        sq_close(s);
        return r;
}

/* ---- originals: plain rows, outside the allocator and the history ---- */

struct original_args {
        const char *uuid, *path, *context;
};

static int do_remember(struct sq *s, void *arg, mcs_err *e) {
        struct original_args *a = arg;
        sqlite3_stmt *st;
        int r = prep(s, Q_ORIG_INSERT, &st, e);
        if (r < 0)
                return r;
        bind_text(st, 1, a->path);
        bind_text(st, 2, a->uuid);
        bind_text(st, 3, a->context);
        bind_text(st, 4, s->host);
        sqlite3_bind_int64(st, 5, now_us());
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
                return sq_fail(s, rc, "remember an original label", e);
        if (sqlite3_changes(s->db) == 1)
                return 0;
        /* Already remembered: fine for the same guest, a conflict for another. */
        if ((r = prep(s, Q_ORIG_OWNER, &st, e)) < 0)
                return r;
        bind_text(st, 1, a->path);
        rc = sqlite3_step(st);
        char owner[MCS_UUID_STRLEN + 1] = "";
        if (rc == SQLITE_ROW)
                snprintf(owner, sizeof owner, "%s", (const char *) sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
                return sq_fail(s, rc, "read an original label", e);
        if (strcmp(owner, a->uuid))
                return mcs_fail(e, MCS_E_CONFLICT, "%s is already labelled for guest %s; guest %s cannot have it as a private image",
                                a->path, owner, a->uuid);
        return 0;
}

static int sq_remember_original(void *state, const char *uuid, const char *path, const char *context, mcs_err *e) {
        struct original_args a = {uuid, path, context};
        return write_txn(state, do_remember, &a, e);
}

static int sq_originals(void *state, const char *uuid, mcs_original_list *out, mcs_err *e) {
        struct sq *s = state;
        sqlite3_stmt *st;
        size_t cap = 0;
        int r = prep(s, Q_ORIG_LIST, &st, e), rc;
        *out = (mcs_original_list){0};
        if (r < 0)
                return r;
        bind_text(st, 1, uuid);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (grow((void **) &out->v, &cap, out->n, sizeof *out->v) < 0) {
                        sqlite3_reset(st);
                        mcs_original_list_clear(out);
                        return mcs_fail(e, MCS_E_NOMEM, "out of memory");
                }
                mcs_original *o = &out->v[out->n++];
                *o = (mcs_original){.path = column_dup(st, 0), .context = column_dup(st, 2), .host = column_dup(st, 3),
                                    .saved_us = sqlite3_column_int64(st, 4)};
                snprintf(o->uuid, sizeof o->uuid, "%s", (const char *) sqlite3_column_text(st, 1));
                if (!o->path || !o->context || !o->host) {
                        sqlite3_reset(st);
                        mcs_original_list_clear(out);
                        return mcs_fail(e, MCS_E_NOMEM, "out of memory");
                }
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                mcs_original_list_clear(out);
                return sq_fail(s, rc, "list original labels", e);
        }
        return 0;
}

static int do_forget(struct sq *s, void *arg, mcs_err *e) {
        sqlite3_stmt *st;
        int r = prep(s, Q_ORIG_DELETE, &st, e);
        if (r < 0)
                return r;
        bind_text(st, 1, arg);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "forget an original label", e);
}

static int sq_forget_original(void *state, const char *path, mcs_err *e) {
        return write_txn(state, do_forget, (void *) path, e);
}

const mcs_registry_ops mcs_registry_sqlite_ops = {
        .name = "sqlite",
        .open = sq_open,
        .close = sq_close,
        .reserve_any = sq_reserve_any,
        .reserve_label = sq_reserve_label,
        .release = sq_release,
        .set_state = sq_set_state,
        .set_name = sq_set_name,
        .get = sq_get,
        .find_label = sq_find_label,
        .list = sq_list,
        .history = sq_history,
        .stats = sq_stats,
        .remember_original = sq_remember_original,
        .originals = sq_originals,
        .forget_original = sq_forget_original,
};
