/* The raw sqlite baseline of the registry benchmarks: a fresh file with
 * mcsd's journal settings (rollback journal, synchronous=EXTRA) and one
 * table of single rows. Include after sqlite3.h and bench-util.h. */
#pragma once

#include <unistd.h>

static inline sqlite3 *bench_raw_sqlite_open(const char *path) {
        sqlite3 *db;
        unlink(path);
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db, "PRAGMA journal_mode = DELETE; PRAGMA synchronous = EXTRA;"
                             "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
                         NULL, NULL, NULL) != SQLITE_OK)
                BENCH_DIE("raw sqlite: %s", sqlite3_errmsg(db));
        return db;
}
