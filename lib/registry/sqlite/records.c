/* Records, the history (which is also the change feed) and the conditional
 * writes of the sqlite backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcs-grow.h"
#include "sq.h"

/* Reads the record columns starting at column c0. */
static int read_record(sq *s, sqlite3_stmt *st, int c0, mcs_record *rec, mcs_err *e) {
        const unsigned char *uuid = sqlite3_column_text(st, c0);
        memset(rec, 0, sizeof *rec);
        snprintf(rec->uuid, sizeof rec->uuid, "%s", uuid ? (const char *) uuid : "");
        rec->name = sq_column_dup(st, c0 + 1);
        rec->label = sq_column_dup(st, c0 + 2);
        rec->host = sq_column_dup(st, c0 + 4);
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
        int r = mcs_stored_record_check(rec, s->path, e); /* the file may be shared too */
        if (r < 0)
                mcs_record_clear(rec);
        return r;
}

/* 0 and *rec filled, or -MCS_E_NOTFOUND, or another error. */
static int query_one(sq *s, enum stmt_id id, const char *key, mcs_record *rec, mcs_err *e) {
        sqlite3_stmt *st;
        int r = sq_prep(s, id, &st, e);
        if (r < 0)
                return r;
        sq_bind_text(st, 1, key);
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

int sq_get(mcs_backend *s, const char *uuid, mcs_record *out, mcs_err *e) {
        SQ_CHECK_FILE_OR_RETURN(s, e);
        return query_one(s, Q_GET, uuid, out, e);
}

int sq_find_label(mcs_backend *s, const char *label, mcs_record *out, mcs_err *e) {
        SQ_CHECK_FILE_OR_RETURN(s, e);
        return query_one(s, Q_BY_LABEL, label, out, e);
}

/* ---- the feed: history rows, and a cursor that notices another file ----
 *
 * A cursor's mark is the registry's id and what the row at pos was, so a
 * different file at the path, or an older copy put back (the row gone, or
 * another row with its seq), ends the feed: the registry rescans. */

static void row_mark(char *out, size_t len, const char *id, int64_t at_us, const char *op, const char *uuid,
                     int64_t generation) {
        snprintf(out, len, "%.64s %lld %.16s %.36s %lld", id, (long long) at_us, op ? op : "", uuid ? uuid : "",
                 (long long) generation);
}

static int read_registry_id(sq *s, char *out, size_t len, mcs_err *e) {
        sqlite3_stmt *st;
        int r = sq_prep(s, Q_REGISTRY_ID, &st, e);
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

/* The mark of history row seq (the id alone when there is no such row). */
static int read_mark(sq *s, const char *id, int64_t seq, char *out, size_t len, mcs_err *e) {
        sqlite3_stmt *st;
        int r = sq_prep(s, Q_HISTORY_AT, &st, e);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, seq);
        int rc = sqlite3_step(st);
        snprintf(out, len, "%.64s", id);
        if (rc == SQLITE_ROW)
                row_mark(out, len, id, sqlite3_column_int64(st, 0), (const char *) sqlite3_column_text(st, 1),
                         (const char *) sqlite3_column_text(st, 2), sqlite3_column_int64(st, 3));
        else if (rc != SQLITE_DONE)
                r = sq_fail(s, rc, "read history", e);
        sqlite3_reset(st);
        return r;
}

static int feed(sq *s, mcs_cursor *at, mcs_change_fn fn, void *ctx, mcs_err *e) {
        char id[72], mark[MCS_CURSOR_MARK_MAX];
        sqlite3_stmt *st;
        int r, rc;

        if ((r = read_registry_id(s, id, sizeof id, e)) < 0 ||
            (r = read_mark(s, id, (int64_t) at->pos, mark, sizeof mark, e)) < 0)
                return r;
        if (strcmp(mark, at->mark) != 0)
                return -(int) MCS_E_STALE;
        if ((r = sq_prep(s, Q_HISTORY_SINCE, &st, e)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, (int64_t) at->pos);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                mcs_change c = {.uuid = (const char *) sqlite3_column_text(st, 4),
                                .label = (const char *) sqlite3_column_text(st, 2)};
                if (mcs_history_op_from_name((const char *) sqlite3_column_text(st, 1), &c.op) < 0) {
                        sqlite3_reset(st);
                        return mcs_fail(e, MCS_E_SCHEMA, "registry %s: history row %lld has an unknown operation",
                                        s->path, (long long) sqlite3_column_int64(st, 0));
                }
                if ((r = fn(ctx, &c, e)) < 0) {
                        sqlite3_reset(st);
                        return r;
                }
                at->pos = (uint64_t) sqlite3_column_int64(st, 0);
                row_mark(at->mark, sizeof at->mark, id, sqlite3_column_int64(st, 3),
                         (const char *) sqlite3_column_text(st, 1), c.uuid, sqlite3_column_int64(st, 5));
                if (r > 0)
                        break;
        }
        sqlite3_reset(st);
        return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sq_fail(s, rc, "read history", e);
}

int sq_changes(mcs_backend *s, mcs_cursor *at, mcs_change_fn fn, void *ctx, mcs_err *e) {
        int r = sq_begin(s, false, e);
        return r < 0 ? r : sq_end(s, feed(s, at, fn, ctx, e), e);
}

static int scan(sq *s, mcs_record_fn fn, void *ctx, mcs_cursor *at, mcs_err *e) {
        sqlite3_stmt *st;
        char id[72];
        int r = sq_prep(s, Q_ALL, &st, e), rc;
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                mcs_record rec;
                if ((r = read_record(s, st, 0, &rec, e)) < 0) {
                        sqlite3_reset(st);
                        return r;
                }
                r = fn(ctx, &rec, e);
                mcs_record_clear(&rec);
                if (r != 0) {
                        sqlite3_reset(st);
                        return r < 0 ? r : 0;
                }
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
                return sq_fail(s, rc, "read reservations", e);
        if ((r = sq_prep(s, Q_MAX_SEQ, &st, e)) < 0)
                return r;
        rc = sqlite3_step(st);
        int64_t seq = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
                return sq_fail(s, rc, "read history position", e);
        at->pos = (uint64_t) seq;
        if ((r = read_registry_id(s, id, sizeof id, e)) < 0)
                return r;
        return read_mark(s, id, seq, at->mark, sizeof at->mark, e);
}

int sq_scan(mcs_backend *s, mcs_record_fn fn, void *ctx, mcs_cursor *at, mcs_err *e) {
        int r = sq_begin(s, false, e);
        return r < 0 ? r : sq_end(s, scan(s, fn, ctx, at, e), e);
}

/* ---- writes ---- */

static int history_add(sq *s, mcs_history_op op, const mcs_record *rec, int64_t at, const mcs_actor *who,
                       mcs_err *e) {
        sqlite3_stmt *st;
        int r = sq_prep(s, s->has_who ? Q_HISTORY_ADD_WHO : Q_HISTORY_ADD, &st, e);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, at);
        sq_bind_text(st, 2, mcs_history_op_name(op));
        sq_bind_text(st, 3, rec->uuid);
        sq_bind_text(st, 4, rec->name);
        sq_bind_text(st, 5, rec->label);
        sq_bind_text(st, 6, mcs_kind_name(rec->kind));
        sq_bind_text(st, 7, rec->host);
        sq_bind_text(st, 8, mcs_state_name(rec->state));
        sqlite3_bind_int64(st, 9, (int64_t) rec->generation);
        if (s->has_who && who->known) { /* else NULL, bound by default */
                sqlite3_bind_int64(st, 10, who->uid);
                sqlite3_bind_int64(st, 11, who->pid);
        }
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "append history", e);
}

static int insert_record(sq *s, const mcs_record *rec, mcs_err *e) {
        sqlite3_stmt *st;
        int r = sq_prep(s, Q_INSERT, &st, e);
        if (r < 0)
                return r;
        sq_bind_text(st, 1, rec->uuid);
        sq_bind_text(st, 2, rec->name);
        sq_bind_text(st, 3, rec->label);
        sq_bind_text(st, 4, mcs_kind_name(rec->kind));
        sq_bind_text(st, 5, rec->host);
        sq_bind_text(st, 6, mcs_state_name(rec->state));
        sqlite3_bind_int64(st, 7, rec->created_us);
        sqlite3_bind_int64(st, 8, rec->updated_us);
        sqlite3_bind_int64(st, 9, (int64_t) rec->generation);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                return mcs_fail(e, MCS_E_EXISTS, "registry %s: guest %s holds a label already", s->path, rec->uuid);
        if (rc == SQLITE_CONSTRAINT_UNIQUE)
                return mcs_fail(e, MCS_E_STALE, "registry %s: label %s is held already", s->path, rec->label);
        return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "insert reservation", e);
}

static int max_seq(sq *s, uint64_t *out, mcs_err *e) {
        sqlite3_stmt *st;
        int r = sq_prep(s, Q_MAX_SEQ, &st, e);
        if (r < 0)
                return r;
        int rc = sqlite3_step(st);
        *out = (uint64_t) sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return rc == SQLITE_ROW ? 0 : sq_fail(s, rc, "read history position", e);
}

static int create(sq *s, mcs_record *rec, const mcs_cursor *view, mcs_err *e) {
        uint64_t now;
        int r = max_seq(s, &now, e);
        if (r < 0)
                return r;
        /* Outside the write section the view may be old: any change since refuses. */
        if (!s->in_section && now != view->pos)
                return -(int) MCS_E_STALE;
        /* The seq of the history row this reservation appends: every change
         * of an earlier record of this uuid appended a row before it, and
         * its generation went up by one a row at most, so this one is above
         * them all. */
        rec->generation = now + 1;
        if ((r = insert_record(s, rec, e)) < 0)
                return r;
        return history_add(s, MCS_OP_RESERVE, rec, rec->created_us, &s->who, e);
}

int sq_create(mcs_backend *s, mcs_record *rec, const mcs_catset *claims, const mcs_cursor *view, mcs_err *e) {
        (void) claims; /* the write lock covers every category */
        int r = sq_begin(s, true, e);
        return r < 0 ? r : sq_end(s, create(s, rec, view, e), e);
}

static int update(sq *s, const mcs_record *rec, uint64_t if_generation, mcs_err *e) {
        sqlite3_stmt *st;
        mcs_record now;
        int r = query_one(s, Q_GET, rec->uuid, &now, e);
        if (r < 0)
                return r;
        r = mcs_registry_check_same_record(&now, rec, if_generation, e);
        mcs_record_clear(&now);
        if (r < 0 || (r = sq_prep(s, Q_UPDATE, &st, e)) < 0)
                return r;
        sq_bind_text(st, 1, rec->uuid);
        sq_bind_text(st, 2, rec->name);
        sq_bind_text(st, 3, rec->host);
        sq_bind_text(st, 4, mcs_state_name(rec->state));
        sqlite3_bind_int64(st, 5, rec->updated_us);
        sqlite3_bind_int64(st, 6, (int64_t) rec->generation);
        sqlite3_bind_int64(st, 7, (int64_t) if_generation);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
                return sq_fail(s, rc, "update reservation", e);
        return history_add(s, MCS_OP_STATE, rec, rec->updated_us, &s->who, e);
}

int sq_update(mcs_backend *s, const mcs_record *rec, uint64_t if_generation, mcs_err *e) {
        int r = sq_begin(s, true, e);
        return r < 0 ? r : sq_end(s, update(s, rec, if_generation, e), e);
}

/* Reads, checks and deletes in one write transaction: nothing can change
 * the record between the check and the delete. */
static int remove_if(sq *s, const char *uuid, const char *if_host, uint64_t if_generation, mcs_record *rec,
                     mcs_err *e) {
        sqlite3_stmt *st;
        int r = query_one(s, Q_GET, uuid, rec, e);
        if (r < 0)
                return r;
        if ((r = mcs_registry_check_unchanged(rec, if_host, if_generation, "released", e)) < 0 ||
            (r = sq_prep(s, Q_DELETE, &st, e)) < 0)
                goto fail;
        sq_bind_text(st, 1, uuid);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                r = sq_fail(s, rc, "delete reservation", e);
                goto fail;
        }
        if ((r = history_add(s, MCS_OP_RELEASE, rec, mcs_registry_now_us(), &s->who, e)) < 0)
                goto fail;
        return 0;
fail:
        mcs_record_clear(rec);
        return r;
}

int sq_remove(mcs_backend *s, const char *uuid, const char *if_host, uint64_t if_generation, mcs_record *out,
              mcs_err *e) {
        mcs_record rec = {0};
        int r = sq_begin(s, true, e);
        if (r < 0)
                return r;
        r = sq_end(s, remove_if(s, uuid, if_host, if_generation, &rec, e), e);
        if (r < 0) {
                mcs_record_clear(&rec); /* filled when the commit failed after remove_if */
                return r;
        }
        if (out)
                *out = rec;
        else
                mcs_record_clear(&rec);
        return 0;
}

/* Who asked, from the two columns at c0 (NULL: nobody outside mcsd). */
static int read_who(sq *s, sqlite3_stmt *st, int c0, mcs_history_entry *h, mcs_err *e) {
        h->who = (mcs_actor){0};
        if (sqlite3_column_type(st, c0) == SQLITE_NULL && sqlite3_column_type(st, c0 + 1) == SQLITE_NULL)
                return 0;
        sqlite3_int64 uid = sqlite3_column_int64(st, c0), pid = sqlite3_column_int64(st, c0 + 1);
        if (sqlite3_column_type(st, c0) != SQLITE_INTEGER || sqlite3_column_type(st, c0 + 1) != SQLITE_INTEGER ||
            uid < 0 || uid > UINT32_MAX || pid <= 0 || pid > INT32_MAX)
                return mcs_fail(e, MCS_E_SCHEMA, "registry %s: history row %llu: who asked is not a uid and pid",
                                s->path, (unsigned long long) h->seq);
        h->who = (mcs_actor){.known = true, .uid = (uint32_t) uid, .pid = (int32_t) pid};
        return mcs_stored_actor_check(&h->who, s->path, e);
}

/* One row of HISTORY_COLUMNS (and who_uid, who_pid when with_who). */
static int read_history_row(sq *s, sqlite3_stmt *st, bool with_who, mcs_history_entry *h, mcs_err *e) {
        *h = (mcs_history_entry){0};
        h->seq = (uint64_t) sqlite3_column_int64(st, 0);
        h->at_us = sqlite3_column_int64(st, 1);
        if (mcs_history_op_from_name((const char *) sqlite3_column_text(st, 2), &h->op) < 0)
                return mcs_fail(e, MCS_E_SCHEMA, "registry %s: history row %llu has an unknown operation", s->path,
                                (unsigned long long) h->seq);
        int r = read_record(s, st, 3, &h->rec, e);
        if (r == 0 && with_who && (r = read_who(s, st, 12, h, e)) < 0)
                mcs_record_clear(&h->rec);
        return r;
}

int sq_history(mcs_backend *s, const char *uuid, mcs_history_list *out, mcs_err *e) {
        sqlite3_stmt *st;
        size_t cap = 0;
        *out = (mcs_history_list){0};
        SQ_CHECK_FILE_OR_RETURN(s, e);
        enum stmt_id id = uuid ? (s->has_who ? Q_HISTORY_UUID_WHO : Q_HISTORY_UUID)
                               : (s->has_who ? Q_HISTORY_ALL_WHO : Q_HISTORY_ALL);
        int r = sq_prep(s, id, &st, e), rc;
        if (r < 0)
                return r;
        if (uuid)
                sq_bind_text(st, 1, uuid);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (mcs_grow((void **) &out->v, &cap, out->n, sizeof *out->v, 16) < 0) {
                        r = mcs_fail(e, MCS_E_NOMEM, "out of memory");
                        break;
                }
                if ((r = read_history_row(s, st, s->has_who, &out->v[out->n], e)) < 0)
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

/* A page newest first: the guest, host and times go into the SQL (the
 * rowid walked backwards, or history_by_uuid for one guest), the label is
 * the registry's to check. The statement is built per query from fixed
 * pieces; every value is bound. */
static int page(sq *s, const mcs_history_query *q, mcs_history_fn fn, void *ctx, mcs_err *e) {
        char sql[512];
        sqlite3_stmt *st;
        snprintf(sql, sizeof sql,
                 "SELECT seq, at_us, op, uuid, name, label, kind, host, state, at_us, at_us, generation%s "
                 "FROM history WHERE seq < ?1%s%s%s%s ORDER BY seq DESC",
                 s->has_who ? ", who_uid, who_pid" : "", q->uuid ? " AND uuid = ?2" : "",
                 q->host ? " AND host = ?3" : "", q->since_us ? " AND at_us >= ?4" : "",
                 q->until_us ? " AND at_us <= ?5" : "");
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), r = 0;
        if (rc != SQLITE_OK)
                return sq_fail(s, rc, "prepare a history query", e);
        sqlite3_bind_int64(st, 1, q->before ? (sqlite3_int64) q->before : INT64_MAX);
        if (q->uuid)
                sq_bind_text(st, 2, q->uuid);
        if (q->host)
                sq_bind_text(st, 3, q->host);
        if (q->since_us)
                sqlite3_bind_int64(st, 4, q->since_us);
        if (q->until_us)
                sqlite3_bind_int64(st, 5, q->until_us);
        while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                mcs_history_entry h;
                if ((r = read_history_row(s, st, s->has_who, &h, e)) < 0)
                        break;
                r = fn(ctx, &h, e);
                mcs_record_clear(&h.rec);
        }
        sqlite3_finalize(st);
        if (r == 0 && rc != SQLITE_DONE)
                r = sq_fail(s, rc, "read history", e);
        return r < 0 ? r : 0;
}

int sq_history_page(mcs_backend *s, const mcs_history_query *q, mcs_history_fn fn, void *ctx, mcs_err *e) {
        int r = sq_begin(s, false, e);
        return r < 0 ? r : sq_end(s, page(s, q, fn, ctx, e), e);
}

void sq_set_actor(mcs_backend *s, const mcs_actor *who) {
        s->who = who ? *who : (mcs_actor){0};
}

/* ---- a copy from another registry fills this one ---- */

int sq_import_record(mcs_backend *s, const mcs_record *rec, mcs_err *e) {
        int r = sq_begin(s, true, e);
        if (r < 0)
                return r;
        r = insert_record(s, rec, e);
        if (r == -(int) MCS_E_STALE)
                r = mcs_fail(e, MCS_E_EXISTS, "registry %s: label %s is held already", s->path, rec->label);
        return sq_end(s, r, e);
}

int sq_import_history(mcs_backend *s, const mcs_history_entry *h, mcs_err *e) {
        int r = sq_begin(s, true, e);
        return r < 0 ? r : sq_end(s, history_add(s, h->op, &h->rec, h->at_us, &h->who, e), e);
}
