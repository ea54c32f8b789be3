#include <stddef.h>

#include "schema.h"

const char *const mcs_sqlite_migrations[MCS_SQLITE_SCHEMA_VERSION] = {
        /* 0 -> 1: reservations and their append-only history. history.seq is a
         * plain rowid: rows are never deleted (the triggers), so it only grows. */
        "CREATE TABLE reservations ("
        "  uuid TEXT PRIMARY KEY NOT NULL,"
        "  name TEXT NOT NULL,"
        "  label TEXT NOT NULL UNIQUE,"
        "  kind TEXT NOT NULL CHECK (kind IN ('dynamic', 'static', 'transient')),"
        "  host TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('reserved', 'running')),"
        "  created_us INTEGER NOT NULL,"
        "  updated_us INTEGER NOT NULL,"
        "  generation INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX reservations_by_name ON reservations (name);"
        "CREATE TABLE history ("
        "  seq INTEGER PRIMARY KEY,"
        "  at_us INTEGER NOT NULL,"
        "  op TEXT NOT NULL CHECK (op IN ('reserve', 'release', 'state')),"
        "  uuid TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  label TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  host TEXT NOT NULL,"
        "  state TEXT NOT NULL,"
        "  generation INTEGER NOT NULL);"
        "CREATE TRIGGER history_no_update BEFORE UPDATE ON history"
        "  BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"
        "CREATE TRIGGER history_no_delete BEFORE DELETE ON history"
        "  BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;",

        /* 1 -> 2: an identity for the registry file, so a handle notices when
         * another file has been put in its place; lookups of a guest's history. */
        "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
        "INSERT INTO meta (key, value) VALUES ('registry_id', lower(hex(randomblob(16))));"
        "INSERT INTO meta (key, value) VALUES ('created_us', CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER));"
        "CREATE INDEX history_by_uuid ON history (uuid);",
        /* 2 -> 3: the labels files carried before a guest's label replaced
         * them, so that any host can restore them. */
        "CREATE TABLE originals ("
        "  path TEXT PRIMARY KEY NOT NULL,"
        "  uuid TEXT NOT NULL,"
        "  context TEXT NOT NULL,"
        "  host TEXT NOT NULL,"
        "  saved_us INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX originals_by_uuid ON originals (uuid);",
        /* 3 -> 4: when each host last said it was alive (heartbeats). */
        "CREATE TABLE hosts (host TEXT PRIMARY KEY NOT NULL, seen_us INTEGER NOT NULL) WITHOUT ROWID;",
        /* 4 -> 5: the state 'migrating' (a guest leaving the record's host).
         * sqlite changes a CHECK only by copying the table. An older mcsd
         * refuses the file (its schema version is newer) instead of reading
         * a state it does not know. */
        "CREATE TABLE reservations_v5 ("
        "  uuid TEXT PRIMARY KEY NOT NULL,"
        "  name TEXT NOT NULL,"
        "  label TEXT NOT NULL UNIQUE,"
        "  kind TEXT NOT NULL CHECK (kind IN ('dynamic', 'static', 'transient')),"
        "  host TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('reserved', 'running', 'migrating')),"
        "  created_us INTEGER NOT NULL,"
        "  updated_us INTEGER NOT NULL,"
        "  generation INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT INTO reservations_v5 (uuid, name, label, kind, host, state, created_us, updated_us, generation)"
        "  SELECT uuid, name, label, kind, host, state, created_us, updated_us, generation FROM reservations;"
        "DROP TABLE reservations;"
        "ALTER TABLE reservations_v5 RENAME TO reservations;",
};

/* reservations_by_name (version 1): nothing looks a reservation up by name,
 * and it cost every reservation one more b-tree page in each commit. */
const char *const mcs_sqlite_unused_indexes[] = {"reservations_by_name", NULL};
