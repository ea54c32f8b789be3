/* Original labels of files, and host heartbeats: plain rows, outside the
 * allocator and the history. */
#include <stdio.h>
#include <string.h>

#include "mcs-grow.h"
#include "sq.h"

static int insert_original(sq *s, const char *uuid, const char *path, const char *context, const char *host,
                           int64_t saved_us, bool *inserted, mcs_err *e) {
        sqlite3_stmt *st;
        int r = sq_prep(s, Q_ORIG_INSERT, &st, e);
        if (r < 0)
                return r;
        sq_bind_text(st, 1, path);
        sq_bind_text(st, 2, uuid);
        sq_bind_text(st, 3, context);
        sq_bind_text(st, 4, host);
        sqlite3_bind_int64(st, 5, saved_us);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
                return sq_fail(s, rc, "remember an original label", e);
        *inserted = sqlite3_changes(s->db) == 1;
        return 0;
}

static int remember(sq *s, const char *uuid, const char *path, const char *context, mcs_err *e) {
        sqlite3_stmt *st;
        bool inserted;
        int r = insert_original(s, uuid, path, context, s->host, mcs_registry_now_us(), &inserted, e);
        if (r < 0 || inserted)
                return r;
        /* Already remembered: fine for the same guest, a conflict for another. */
        if ((r = sq_prep(s, Q_ORIG_OWNER, &st, e)) < 0)
                return r;
        sq_bind_text(st, 1, path);
        int rc = sqlite3_step(st);
        char owner[MCS_UUID_STRLEN + 1] = "";
        if (rc == SQLITE_ROW)
                snprintf(owner, sizeof owner, "%s", (const char *) sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
                return sq_fail(s, rc, "read an original label", e);
        if (strcmp(owner, uuid))
                return mcs_fail(e, MCS_E_CONFLICT,
                                "%s is already labelled for guest %s; guest %s cannot have it as a private image",
                                path, owner, uuid);
        return 0;
}

int sq_remember_original(mcs_backend *s, const char *uuid, const char *path, const char *context, mcs_err *e) {
        int r = sq_begin(s, true, e);
        return r < 0 ? r : sq_end(s, remember(s, uuid, path, context, e), e);
}

int sq_import_original(mcs_backend *s, const mcs_original *o, mcs_err *e) {
        bool inserted;
        int r = sq_begin(s, true, e);
        if (r < 0)
                return r;
        r = insert_original(s, o->uuid, o->path, o->context, o->host, o->saved_us, &inserted, e);
        if (r == 0 && !inserted)
                r = mcs_fail(e, MCS_E_EXISTS, "registry %s: an original label of %s is there already", s->path,
                             o->path);
        return sq_end(s, r, e);
}

int sq_originals(mcs_backend *s, const char *uuid, mcs_original_list *out, mcs_err *e) {
        sqlite3_stmt *st;
        size_t cap = 0;
        *out = (mcs_original_list){0};
        SQ_CHECK_FILE_OR_RETURN(s, e);
        int r = sq_prep(s, uuid ? Q_ORIG_LIST : Q_ORIG_ALL, &st, e), rc;
        if (r < 0)
                return r;
        if (uuid)
                sq_bind_text(st, 1, uuid);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (mcs_grow((void **) &out->v, &cap, out->n, sizeof *out->v, 16) < 0) {
                        sqlite3_reset(st);
                        mcs_original_list_clear(out);
                        return mcs_fail(e, MCS_E_NOMEM, "out of memory");
                }
                mcs_original *o = &out->v[out->n++];
                *o = (mcs_original){.path = sq_column_dup(st, 0),
                                    .context = sq_column_dup(st, 2),
                                    .host = sq_column_dup(st, 3),
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

static int forget(sq *s, const char *path, mcs_err *e) {
        sqlite3_stmt *st;
        int r = sq_prep(s, Q_ORIG_DELETE, &st, e);
        if (r < 0)
                return r;
        sq_bind_text(st, 1, path);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "forget an original label", e);
}

int sq_forget_original(mcs_backend *s, const char *path, mcs_err *e) {
        int r = sq_begin(s, true, e);
        return r < 0 ? r : sq_end(s, forget(s, path, e), e);
}

static int beat(sq *s, mcs_err *e) {
        sqlite3_stmt *st;
        int r = sq_prep(s, Q_HOST_BEAT, &st, e);
        if (r < 0)
                return r;
        sq_bind_text(st, 1, s->host);
        sqlite3_bind_int64(st, 2, mcs_registry_now_us());
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "heartbeat", e);
}

int sq_heartbeat(mcs_backend *s, mcs_err *e) {
        int r = sq_begin(s, true, e);
        return r < 0 ? r : sq_end(s, beat(s, e), e);
}

int sq_hosts(mcs_backend *s, mcs_host_fn fn, void *ctx, mcs_err *e) {
        sqlite3_stmt *st;
        SQ_CHECK_FILE_OR_RETURN(s, e);
        int r = sq_prep(s, Q_HOSTS, &st, e), rc;
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                mcs_host_beat h = {(const char *) sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1)};
                if ((r = fn(ctx, &h, e)) != 0) {
                        sqlite3_reset(st);
                        return r < 0 ? r : 0;
                }
        }
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "list hosts", e);
}
