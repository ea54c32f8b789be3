/* The embedded registry: one sqlite file, possibly on shared storage.
 *
 * Every write is one BEGIN IMMEDIATE transaction in rollback-journal mode
 * with synchronous=EXTRA, so several processes may share the file (sqlite
 * relies on the filesystem's POSIX locks; WAL would need shared memory).
 * A write is acknowledged only once COMMIT has returned, so a kill -9 loses
 * nothing acknowledged; EXTRA also syncs the directory after the journal is
 * deleted, so a power cut does not either.
 *
 * The backend offers a write section (BEGIN IMMEDIATE .. COMMIT): the
 * registry brings its view up to date, decides and writes with the lock
 * held. The history table is the change feed; the UNIQUE constraint on the
 * label is a backstop should a view ever be wrong. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema.h"
#include "sq.h"

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
        [Q_INSERT] = "INSERT INTO reservations (" RECORD_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        [Q_DELETE] = "DELETE FROM reservations WHERE uuid = ?1",
        [Q_UPDATE] = "UPDATE reservations SET name = ?2, host = ?3, state = ?4, updated_us = ?5, generation = ?6 "
                     "WHERE uuid = ?1 AND generation = ?7",
        [Q_HISTORY_ADD] = "INSERT INTO history (at_us, op, uuid, name, label, kind, host, state, generation) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        [Q_HISTORY_ADD_WHO] = "INSERT INTO history (at_us, op, uuid, name, label, kind, host, state, generation, "
                              "who_uid, who_pid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        [Q_HISTORY_ALL] = "SELECT " HISTORY_COLUMNS " FROM history ORDER BY seq",
        [Q_HISTORY_UUID] = "SELECT " HISTORY_COLUMNS " FROM history WHERE uuid = ?1 ORDER BY seq",
        [Q_HISTORY_ALL_WHO] = "SELECT " HISTORY_COLUMNS ", who_uid, who_pid FROM history ORDER BY seq",
        [Q_HISTORY_UUID_WHO] = "SELECT " HISTORY_COLUMNS ", who_uid, who_pid FROM history WHERE uuid = ?1 ORDER BY seq",
        [Q_ORIG_INSERT] = "INSERT INTO originals (path, uuid, context, host, saved_us) VALUES (?1, ?2, ?3, ?4, ?5) "
                          "ON CONFLICT (path) DO NOTHING",
        [Q_ORIG_OWNER] = "SELECT uuid FROM originals WHERE path = ?1",
        [Q_ORIG_LIST] = "SELECT path, uuid, context, host, saved_us FROM originals WHERE uuid = ?1 ORDER BY path",
        [Q_ORIG_ALL] = "SELECT path, uuid, context, host, saved_us FROM originals ORDER BY path",
        [Q_ORIG_DELETE] = "DELETE FROM originals WHERE path = ?1",
        [Q_HOST_BEAT] = "INSERT INTO hosts (host, seen_us) VALUES (?1, ?2) "
                        "ON CONFLICT (host) DO UPDATE SET seen_us = excluded.seen_us",
        [Q_HOSTS] = "SELECT host, seen_us FROM hosts ORDER BY host",
};

int sq_fail(sq *s, int rc, const char *what, mcs_err *e) {
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

int sq_prep(sq *s, enum stmt_id id, sqlite3_stmt **out, mcs_err *e) {
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

int sq_exec(sq *s, const char *sql, mcs_err *e) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : sq_fail(s, rc, sql, e);
}

void sq_bind_text(sqlite3_stmt *st, int i, const char *v) {
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

char *sq_column_dup(sqlite3_stmt *st, int i) {
        const unsigned char *t = sqlite3_column_text(st, i);
        return strdup(t ? (const char *) t : "");
}

int sq_begin(sq *s, bool write, mcs_err *e) {
        if (s->in_section)
                return 0;
        int r = sq_check_file(s, e);
        return r < 0 ? r : sq_exec(s, write ? "BEGIN IMMEDIATE" : "BEGIN", e);
}

int sq_end(sq *s, int ok, mcs_err *e) {
        if (s->in_section)
                return ok;
        if (ok < 0) {
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return ok;
        }
        int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                return ok;
        int r = sq_fail(s, rc, "commit", e);
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

static int sq_write_begin(mcs_backend *s, mcs_err *e) {
        int r = sq_check_file(s, e);
        if (r == 0)
                r = sq_exec(s, "BEGIN IMMEDIATE", e);
        s->in_section = r == 0;
        return r;
}

static int sq_write_end(mcs_backend *s, bool commit, mcs_err *e) {
        s->in_section = false;
        if (!commit) {
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return 0;
        }
        return sq_end(s, 0, e);
}

static int pragma_text(sq *s, const char *sql, char *out, size_t len, mcs_err *e) {
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

#define SQ_CREATE_HINT                                                                                   \
        "a registry is created only when told (registry_create = yes in mcsd.conf, or mcsd --init-registry): " \
        "is the shared file system mounted?"

static int migrate(sq *s, mcs_err *e) {
        char v[32];
        int r = pragma_text(s, "PRAGMA user_version", v, sizeof v, e);
        if (r < 0)
                return r;
        int version = atoi(v);
        if (version == MCS_SQLITE_SCHEMA_VERSION)
                return 0;
        /* Version 0 is a file without a registry (a 0-byte file counts):
         * made one only when asked, like a missing file. */
        if (version == 0 && !s->create)
                return mcs_fail(e, MCS_E_NOTFOUND, "registry %s is an empty file, not a registry; %s", s->path,
                                SQ_CREATE_HINT);
        /* Upgrade under the write lock; another process may have done it meanwhile. */
        if ((r = sq_exec(s, "BEGIN IMMEDIATE", e)) < 0)
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
                if ((r = sq_exec(s, mcs_sqlite_migrations[step], e)) < 0) {
                        mcs_err_prefix(e, "migrating schema version %d to %d", step, step + 1);
                        goto fail;
                }
        snprintf(v, sizeof v, "PRAGMA user_version = %d", MCS_SQLITE_SCHEMA_VERSION);
        if ((r = sq_exec(s, v, e)) < 0 || (r = sq_exec(s, "COMMIT", e)) < 0)
                goto fail;
        return 0;
fail:
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

static int has_index(sq *s, const char *name, bool *out, mcs_err *e) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?1", -1, &st,
                                    NULL);
        if (rc != SQLITE_OK)
                return sq_fail(s, rc, "reading the schema", e);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return sq_fail(s, rc, "reading the schema", e);
        *out = rc == SQLITE_ROW;
        return 0;
}

/* Drops the unused indexes a file still has; writes nothing otherwise.
 * Best effort: such an index costs only time, and a file this host cannot
 * write to now (read-only, or locked past the busy timeout) must still
 * open. The next open tries again. */
static void drop_unused_indexes(sq *s) {
        for (const char *const *name = mcs_sqlite_unused_indexes; *name; name++) {
                bool has = false;
                mcs_err ignored = {0};
                if (has_index(s, *name, &has, &ignored) < 0 || !has)
                        continue;
                char sql[128];
                snprintf(sql, sizeof sql, "DROP INDEX IF EXISTS %s", *name);
                if (sq_exec(s, "BEGIN IMMEDIATE", &ignored) < 0)
                        continue;
                if (sq_exec(s, sql, &ignored) < 0 || sq_exec(s, "COMMIT", &ignored) < 0)
                        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        }
}

/* Who asked for a change (mcs_actor): two nullable columns of history,
 * added without a new schema version. An mcsd that predates them names
 * its columns in every statement, so it goes on reading and appending
 * (its rows have none); a new version would lock every host not yet
 * upgraded out of the file. ALTER TABLE ... ADD COLUMN rewrites no row.
 * Best effort, like drop_unused_indexes: a file this host cannot write now
 * still opens, its rows then record nobody, and a later open adds them. */
static int has_column(sq *s, const char *table, const char *column, bool *out, mcs_err *e) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sq_fail(s, rc, "reading the schema", e);
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return sq_fail(s, rc, "reading the schema", e);
        *out = rc == SQLITE_ROW;
        return 0;
}

static void add_who_columns(sq *s) {
        mcs_err ignored = {0};
        bool uid = false, pid = false;
        s->has_who = false;
        if (has_column(s, "history", "who_uid", &uid, &ignored) < 0 ||
            has_column(s, "history", "who_pid", &pid, &ignored) < 0)
                return;
        if (!uid || !pid) {
                if (sq_exec(s, "BEGIN IMMEDIATE", &ignored) < 0)
                        return;
                /* Again under the lock: another host may have added them meanwhile. */
                if (has_column(s, "history", "who_uid", &uid, &ignored) < 0 ||
                    (!uid && sq_exec(s, "ALTER TABLE history ADD COLUMN who_uid INTEGER", &ignored) < 0) ||
                    has_column(s, "history", "who_pid", &pid, &ignored) < 0 ||
                    (!pid && sq_exec(s, "ALTER TABLE history ADD COLUMN who_pid INTEGER", &ignored) < 0) ||
                    sq_exec(s, "COMMIT", &ignored) < 0) {
                        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                        return;
                }
        }
        s->has_who = true;
}

static void disconnect_db(sq *s) {
        for (int i = 0; i < Q__MAX; i++) {
                sqlite3_finalize(s->st[i]);
                s->st[i] = NULL;
        }
        sqlite3_close(s->db);
        s->db = NULL;
}

static void sq_close(mcs_backend *s) {
        if (!s)
                return;
        disconnect_db(s);
        free(s->path);
        free(s->host);
        free(s);
}

/* "sqlite:///abs/path" (a URL: three slashes), "sqlite:PATH" or a plain PATH. */
static const char *path_of(const char *location) {
        if (strncmp(location, "///", 3) == 0)
                return location + 2;
        return location;
}

/* Opens the file at s->path and sets it up; records which file it is. A
 * missing file is created only when s->create says so. */
static int connect_db(sq *s, mcs_err *e) {
        char mode[32];
        int r;
        int rc = sqlite3_open_v2(s->path, &s->db,
                                 SQLITE_OPEN_READWRITE | (s->create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK && !s->create && s->db && sqlite3_system_errno(s->db) == ENOENT)
                return mcs_fail(e, MCS_E_NOTFOUND, "registry %s does not exist; %s", s->path, SQ_CREATE_HINT);
        if (rc != SQLITE_OK)
                return s->db ? sq_fail(s, rc, "open", e) : mcs_fail(e, MCS_E_NOMEM, "registry %s: out of memory", s->path);
        sqlite3_extended_result_codes(s->db, 1);
        sq_set_busy_handler(s);
        /* Refuse schema tricks through the SQL interface; run no schema-defined functions. */
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

        if ((r = pragma_text(s, "PRAGMA journal_mode = DELETE", mode, sizeof mode, e)) < 0)
                return r;
        if (strcmp(mode, "delete") != 0)
                return mcs_fail(e, MCS_E_IO,
                                "registry %s: journal mode is %s and cannot be set to delete; the registry needs a "
                                "rollback journal to be shared across hosts", s->path, mode);
        /* EXTRA: FULL, plus an fsync of the directory after the journal is
         * unlinked at commit. Without it a power cut right after an
         * acknowledged commit can bring the journal back, and the next
         * opener rolls the commit back. */
        if ((r = sq_exec(s, "PRAGMA synchronous = EXTRA", e)) < 0 ||
            (r = pragma_text(s, "PRAGMA synchronous", mode, sizeof mode, e)) < 0)
                return r;
        if (strcmp(mode, "3") != 0)
                return mcs_fail(e, MCS_E_IO, "registry %s: synchronous is %s and cannot be set to extra (3)", s->path,
                                mode);
        if ((r = migrate(s, e)) < 0)
                return r;
        drop_unused_indexes(s);
        add_who_columns(s);
        struct stat st;
        if (stat(s->path, &st) < 0)
                return mcs_fail(e, MCS_E_IO, "registry %s: %s", s->path, strerror(errno));
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        return 0;
}

/* The file at the path is no longer the one open (removed, or another put
 * in its place, with its directory perhaps): writes to the open one would
 * reach no other host. Open what is there now, a new registry if nothing
 * is and s->create allows it (else the registry fails until the file is
 * back); the registry's view notices the new registry id and starts again. */
int sq_check_file(sq *s, mcs_err *e) {
        struct stat st;
        if (s->db && stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
                return 0;
        disconnect_db(s);
        int r = connect_db(s, e);
        if (r < 0) {
                disconnect_db(s);
                mcs_err_prefix(e, "registry file %s is gone and cannot be made again", s->path);
        }
        return r;
}

static int sq_open(const char *location, const mcs_registry_config *cfg, mcs_backend **out, mcs_err *e) {
        const char *path = path_of(location);
        sq *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        s->path = strdup(path);
        s->host = strdup(cfg->host_id);
        s->busy_ms = cfg->busy_timeout_ms;
        s->create = cfg->create;
        if (!s->path || !s->host) {
                sq_close(s);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        if (!*path) {
                sq_close(s);
                return mcs_fail(e, MCS_E_INVALID, "registry '%s': no path", location);
        }
        if ((r = connect_db(s, e)) < 0) {
                sq_close(s);
                return r;
        }
        *out = s;
        return 0;
}

static int sq_health(mcs_backend *s, char *out, size_t len, mcs_err *e) {
        sqlite3_stmt *st;
        int r = sq_check_file(s, e);
        if (r < 0 || (r = sq_prep(s, Q_REGISTRY_ID, &st, e)) < 0)
                return r;
        if (r < 0)
                return r;
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
                return sq_fail(s, rc, "read", e);
        snprintf(out, len, "ok: sqlite file %s", s->path);
        return 0;
}

const mcs_backend_ops mcs_backend_sqlite = {
        .version = MCS_BACKEND_VERSION,
        .size = sizeof(mcs_backend_ops),
        .name = "sqlite",
        .open = sq_open,
        .close = sq_close,
        .write_begin = sq_write_begin,
        .write_end = sq_write_end,
        .changes = sq_changes,
        .scan = sq_scan,
        .get = sq_get,
        .create = sq_create,
        .update = sq_update,
        .remove = sq_remove,
        .find_label = sq_find_label,
        .history = sq_history,
        .remember_original = sq_remember_original,
        .originals = sq_originals,
        .forget_original = sq_forget_original,
        .heartbeat = sq_heartbeat,
        .hosts = sq_hosts,
        .health = sq_health,
        .import_record = sq_import_record,
        .import_history = sq_import_history,
        .history_page = sq_history_page,
        .set_actor = sq_set_actor,
        .import_original = sq_import_original,
};
