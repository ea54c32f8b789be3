/* The sqlite backend's files share this: the handle, its statements, and
 * the transaction helpers. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../backend.h"

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
        Q_UPDATE,
        Q_HISTORY_ADD,
        Q_HISTORY_ADD_WHO,
        Q_HISTORY_ALL,
        Q_HISTORY_UUID,
        Q_HISTORY_ALL_WHO,
        Q_HISTORY_UUID_WHO,
        Q_ORIG_INSERT,
        Q_ORIG_OWNER,
        Q_ORIG_LIST,
        Q_ORIG_ALL,
        Q_ORIG_DELETE,
        Q_HOST_BEAT,
        Q_HOSTS,
        Q__MAX
};

struct mcs_backend {
        sqlite3 *db;
        char *path;
        char *host;
        unsigned busy_ms;
        uint64_t busy_since_us; /* when the current wait for the lock began */
        uint32_t busy_seed;     /* the jitter of the retries (busy.c) */
        bool create; /* mcs_registry_config.create */
        bool in_section; /* inside write_begin .. write_end */
        /* The history table has who_uid and who_pid (added at open, best
         * effort: db.c add_who_columns). */
        bool has_who;
        mcs_actor who; /* who asks for the writes that follow (set_actor) */
        dev_t dev;       /* the file open, to notice another at the path */
        ino_t ino;
        sqlite3_stmt *st[Q__MAX];
};
typedef struct mcs_backend sq;

/* Waits for another process's write lock with short sleeps, for up to
 * busy_ms (busy.c). */
void sq_set_busy_handler(sq *s);
/* The sleep before retry count + 1 (0 first), in microseconds. */
unsigned sq_busy_delay_us(int count, uint32_t *seed);

int sq_fail(sq *s, int rc, const char *what, mcs_err *e);
/* A cached statement, reset and ready for binding. */
int sq_prep(sq *s, enum stmt_id id, sqlite3_stmt **out, mcs_err *e);
int sq_exec(sq *s, const char *sql, mcs_err *e);
void sq_bind_text(sqlite3_stmt *st, int i, const char *v);
char *sq_column_dup(sqlite3_stmt *st, int i);

/* A write or a consistent read of several statements: its own transaction
 * unless the write section holds one already. end commits when ok. */
int sq_begin(sq *s, bool write, mcs_err *e);
int sq_end(sq *s, int ok, mcs_err *e);
/* Opens the file now at the path when it is not the one open (sq_begin
 * does this before every transaction). */
int sq_check_file(sq *s, mcs_err *e);
/* The same for a read of one statement outside any transaction. */
#define SQ_CHECK_FILE_OR_RETURN(s, e)                                                                                  \
        do {                                                                                                           \
                int check_ = (s)->in_section ? 0 : sq_check_file((s), (e));                                           \
                if (check_ < 0)                                                                                        \
                        return check_;                                                                                 \
        } while (0)

/* The record and history operations (records.c), originals and hosts (originals.c). */
int sq_changes(mcs_backend *b, mcs_cursor *at, mcs_change_fn fn, void *ctx, mcs_err *e);
int sq_scan(mcs_backend *b, mcs_record_fn fn, void *ctx, mcs_cursor *at, mcs_err *e);
int sq_get(mcs_backend *b, const char *uuid, mcs_record *out, mcs_err *e);
int sq_find_label(mcs_backend *b, const char *label, mcs_record *out, mcs_err *e);
int sq_create(mcs_backend *b, mcs_record *rec, const mcs_catset *claims, const mcs_cursor *view, mcs_err *e);
int sq_update(mcs_backend *b, const mcs_record *rec, uint64_t if_generation, mcs_err *e);
int sq_remove(mcs_backend *b, const char *uuid, const char *if_host, uint64_t if_generation, mcs_record *out,
              mcs_err *e);
int sq_history(mcs_backend *b, const char *uuid, mcs_history_list *out, mcs_err *e);
int sq_history_page(mcs_backend *b, const mcs_history_query *q, mcs_history_fn fn, void *ctx, mcs_err *e);
void sq_set_actor(mcs_backend *b, const mcs_actor *who);
int sq_import_record(mcs_backend *b, const mcs_record *rec, mcs_err *e);
int sq_import_history(mcs_backend *b, const mcs_history_entry *h, mcs_err *e);

int sq_remember_original(mcs_backend *b, const char *uuid, const char *path, const char *context, mcs_err *e);
int sq_originals(mcs_backend *b, const char *uuid, mcs_original_list *out, mcs_err *e);
int sq_forget_original(mcs_backend *b, const char *path, mcs_err *e);
int sq_import_original(mcs_backend *b, const mcs_original *o, mcs_err *e);
int sq_heartbeat(mcs_backend *b, mcs_err *e);
int sq_hosts(mcs_backend *b, mcs_host_fn fn, void *ctx, mcs_err *e);
