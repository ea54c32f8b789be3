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

static int history_add(sq *s, mcs_history_op op, const mcs_record *rec, int64_t at, mcs_err *e) {
        sqlite3_stmt *st;
        int r = sq_prep(s, Q_HISTORY_ADD, &st, e);
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
        return history_add(s, MCS_OP_RESERVE, rec, rec->created_us, e);
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
        return history_add(s, MCS_OP_STATE, rec, rec->updated_us, e);
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
        if ((r = history_add(s, MCS_OP_RELEASE, rec, mcs_registry_now_us(), e)) < 0)
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

int sq_history(mcs_backend *s, const char *uuid, mcs_history_list *out, mcs_err *e) {
        sqlite3_stmt *st;
        size_t cap = 0;
        *out = (mcs_history_list){0};
        SQ_CHECK_FILE_OR_RETURN(s, e);
        int r = sq_prep(s, uuid ? Q_HISTORY_UUID : Q_HISTORY_ALL, &st, e), rc;

        out->v = NULL;
        out->n = 0;
        if (r < 0)
                return r;
        if (uuid)
                sq_bind_text(st, 1, uuid);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (mcs_grow((void **) &out->v, &cap, out->n, sizeof *out->v, 16) < 0) {
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
        return r < 0 ? r : sq_end(s, history_add(s, h->op, &h->rec, h->at_us, e), e);
}
