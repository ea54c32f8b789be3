/* The sqlite registry: the API cases every backend shares (registry-api.c)
 * on a sqlite file, and what only sqlite has: its schema and migrations,
 * the history's triggers, the journal and directory syncs, the file gone or
 * locked, batches that commit once or not at all. */
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcs-registry.h"
#include "registry-api.h"
#include "test-util.h"

static mcs_guest guest(const char *uuid, const char *name) {
        return (mcs_guest){.uuid = uuid, .name = name, .kind = MCS_KIND_DYNAMIC};
}

static mcs_guest static_guest(const char *uuid, const char *name) {
        return (mcs_guest){.uuid = uuid, .name = name, .kind = MCS_KIND_STATIC};
}

static sqlite3 *raw_open(void) {
        sqlite3 *db;
        ck_assert_int_eq(sqlite3_open(test_db_path, &db), SQLITE_OK);
        return db;
}

static int raw_int(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        int v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return v;
}

START_TEST(unique_label_backstops_a_stale_cache) {
        mcs_registry *r = test_open_registry("host-a", "c0.c2");
        mcs_err e = {0};
        mcs_record rec;
        mcs_guest g = guest(U1, "first");
        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);

        /* A writer that bypasses the history (a bug, or a hand edit) takes the other two pairs. */
        sqlite3 *db = raw_open();
        const char *pairs[] = {"s0:c0,c1", "s0:c0,c2", "s0:c1,c2"};
        int n = 0;
        for (int k = 0; k < 3; k++) {
                if (strcmp(pairs[k], rec.label) == 0)
                        continue;
                char *sql = sqlite3_mprintf("INSERT INTO reservations VALUES ('00000000-0000-0000-0000-00000000000%d', "
                                            "'sneaky', %Q, 'dynamic', 'elsewhere', 'reserved', 1, 1, 1)", n++, pairs[k]);
                ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
                sqlite3_free(sql);
        }
        sqlite3_close(db);
        mcs_record_clear(&rec);

        /* The cache still believes two pairs are free; the insert fails, the cache is rebuilt. */
        g = guest(U2, "second");
        ck_assert_fails(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e, MCS_E_EXHAUSTED, "3 pairs, 3 held");
        mcs_registry_close(r);
}
END_TEST

/* The history refuses to be rewritten, even through plain SQL. */
START_TEST(history_is_append_only) {
        mcs_registry *r = test_open_registry("host-a", "c0.c1023");
        mcs_err e = {0};
        mcs_record rec;
        mcs_guest g = guest(U1, "alpha");
        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_release(r, U1, NULL, &e), &e);
        mcs_registry_close(r);

        sqlite3 *db = raw_open();
        char *msg = NULL;
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM history"), 2); /* rows the triggers must guard */
        ck_assert_int_ne(sqlite3_exec(db, "UPDATE history SET host = 'forged'", NULL, NULL, &msg), SQLITE_OK);
        ck_assert_str_eq(msg, "history is append-only");
        sqlite3_free(msg);
        ck_assert_int_ne(sqlite3_exec(db, "DELETE FROM history", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
}
END_TEST

/* Who asked (history.who_uid, who_pid): columns added to a file without
 * them, no new schema version; an older mcsd's insert, which names its
 * columns, still works and records nobody; a value no process could have
 * is refused on reading. */
START_TEST(history_who_columns_are_additive) {
        const char *cols = "SELECT count(*) FROM pragma_table_info('history') WHERE name IN ('who_uid', 'who_pid')";
        const char *old_insert = "INSERT INTO history (at_us, op, uuid, name, label, kind, host, state, generation) "
                                 "VALUES (5, 'release', '" U2 "', 'old', 's0:c3,c4', 'static', 'old-host', "
                                 "'reserved', 1)";
        mcs_actor who = {.known = true, .uid = 7, .pid = 99};
        mcs_history_list l;
        mcs_err e = {0};
        mcs_record rec;
        mcs_guest g = guest(U1, "alpha");

        mcs_registry_close(test_open_registry("host-a", "c0.c1023"));
        sqlite3 *db = raw_open();
        ck_assert_int_eq(raw_int(db, cols), 2);
        ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 5);
        /* A file from before: no such columns, and an older mcsd's row. */
        ck_assert_int_eq(sqlite3_exec(db, "ALTER TABLE history DROP COLUMN who_uid; ALTER TABLE history DROP COLUMN "
                                          "who_pid", NULL, NULL, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(db, old_insert, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);

        mcs_registry *r = test_open_registry("host-a", "c0.c1023");
        mcs_registry_set_actor(r, &who);
        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        db = raw_open();
        ck_assert_int_eq(raw_int(db, cols), 2);
        ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 5);
        ck_assert_int_eq(sqlite3_exec(db, old_insert, NULL, NULL, NULL), SQLITE_OK); /* an older mcsd, still */
        sqlite3_close(db);
        ck_assert_ok(mcs_registry_history_query(r, &(mcs_history_query){0}, &l, NULL, &e), &e);
        ck_assert_uint_eq(l.n, 3);
        ck_assert(!l.v[0].who.known);
        ck_assert_str_eq(l.v[0].rec.host, "old-host");
        ck_assert(l.v[1].who.known);
        ck_assert_uint_eq(l.v[1].who.uid, 7);
        ck_assert_int_eq(l.v[1].who.pid, 99);
        ck_assert(!l.v[2].who.known);
        mcs_history_list_clear(&l);

        db = raw_open();
        ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO history (at_us, op, uuid, name, label, kind, host, state, "
                                          "generation, who_uid, who_pid) VALUES (6, 'state', '" U1 "', 'alpha', "
                                          "'s0:c1,c2', 'dynamic', 'h', 'running', 9, 0, -3)", NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        ck_assert_fails(mcs_registry_history_query(r, &(mcs_history_query){0}, &l, NULL, &e), &e, MCS_E_SCHEMA,
                        "who asked is not a uid and pid");
        mcs_registry_close(r);
}
END_TEST

/* A new file has no index that nothing reads; one an older mcsd puts
 * back (it knows the same version) is dropped at the next open. A file
 * that cannot be written at open (here: locked by another writer past the
 * busy timeout) still opens, with the index, until a later open. */
START_TEST(unused_index_is_dropped) {
        const char *count = "SELECT count(*) FROM sqlite_schema WHERE name = 'reservations_by_name'";
        mcs_registry_close(test_open_registry("host-a", "c0.c1023"));
        sqlite3 *db = raw_open();
        ck_assert_int_eq(raw_int(db, count), 0);
        ck_assert_int_eq(sqlite3_exec(db, "CREATE INDEX reservations_by_name ON reservations (name)", NULL, NULL, NULL),
                         SQLITE_OK);
        ck_assert_int_eq(raw_int(db, count), 1);

        mcs_registry_config cfg = {.create = true, .host_id = "host-a", .busy_timeout_ms = 100};
        mcs_registry *r;
        mcs_err e = {0};
        mcs_record rec;
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        ck_assert_ok(mcs_registry_open(test_db_path, &cfg, &r, &e), &e);
        ck_assert_int_eq(mcs_registry_get(r, U1, &rec, &e), -MCS_E_NOTFOUND);
        ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        ck_assert_int_eq(raw_int(db, count), 1);
        mcs_registry_close(r);
        sqlite3_close(db);

        mcs_registry_close(test_open_registry("host-a", "c0.c1023"));
        db = raw_open();
        ck_assert_int_eq(raw_int(db, count), 0);
        ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 5);
        sqlite3_close(db);
}
END_TEST

START_TEST(default_location_is_the_configured_one) {
        ck_assert_str_eq(mcs_registry_default_location(), MCS_CONFIGURED_REGISTRY);
}
END_TEST

/* Copies src over dst in place, as cp does (same inode, truncated). */
static void copy_over(const char *src, const char *dst) {
        FILE *in = fopen(src, "rb"), *out = fopen(dst, "r+b");
        char buf[8192];
        size_t n;
        ck_assert_ptr_nonnull(in);
        ck_assert_ptr_nonnull(out);
        ck_assert_int_eq(ftruncate(fileno(out), 0), 0);
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
                ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
        fclose(in);
        ck_assert_int_eq(fclose(out), 0);
}

static void copy_to(const char *src, const char *dst) {
        FILE *f = fopen(dst, "wb");
        ck_assert_ptr_nonnull(f);
        fclose(f);
        copy_over(src, dst);
}

/* The shared API cases (registry-api.c) on a fresh sqlite file; an older
 * copy is put back as cp does it, over the same inode. */
static const char *sqlite_location(void) {
        return test_db_path;
}

static char old_copy[4096];

static void sqlite_save_copy(void) {
        snprintf(old_copy, sizeof old_copy, "%s/old.db", test_dir);
        copy_to(test_db_path, old_copy);
}

static void sqlite_put_back_copy(void) {
        copy_over(old_copy, test_db_path);
}

static const registry_api_backend sqlite_backend = {
        .name = "sqlite",
        .setup = test_db_setup,
        .teardown = test_db_teardown,
        .location = sqlite_location,
        .open = test_open_registry,
        .save_copy = sqlite_save_copy,
        .put_back_copy = sqlite_put_back_copy,
};

/* Schema version 1 as released, frozen here: the migration must carry it forward. */
static const char v1_fixture[] =
        "CREATE TABLE reservations (uuid TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, label TEXT NOT NULL "
        "UNIQUE, kind TEXT NOT NULL CHECK (kind IN ('dynamic', 'static', 'transient')), host TEXT NOT NULL, "
        "state TEXT NOT NULL CHECK (state IN ('reserved', 'running')), created_us INTEGER NOT NULL, "
        "updated_us INTEGER NOT NULL, generation INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX reservations_by_name ON reservations (name);"
        "CREATE TABLE history (seq INTEGER PRIMARY KEY, at_us INTEGER NOT NULL, op TEXT NOT NULL "
        "CHECK (op IN ('reserve', 'release', 'state')), uuid TEXT NOT NULL, name TEXT NOT NULL, label TEXT NOT "
        "NULL, kind TEXT NOT NULL, host TEXT NOT NULL, state TEXT NOT NULL, generation INTEGER NOT NULL);"
        "CREATE TRIGGER history_no_update BEFORE UPDATE ON history BEGIN SELECT RAISE(ABORT, 'history is "
        "append-only'); END;"
        "CREATE TRIGGER history_no_delete BEFORE DELETE ON history BEGIN SELECT RAISE(ABORT, 'history is "
        "append-only'); END;"
        "INSERT INTO reservations VALUES ('" U1 "', 'old-guest', 's0:c0,c1', 'dynamic', 'host-old', 'running', "
        "100, 200, 3);"
        "INSERT INTO history (at_us, op, uuid, name, label, kind, host, state, generation) VALUES (100, "
        "'reserve', '" U1 "', 'old-guest', 's0:c0,c1', 'dynamic', 'host-old', 'reserved', 1);"
        "PRAGMA user_version = 1;";

START_TEST(migrates_version_1) {
        sqlite3 *db = raw_open();
        ck_assert_int_eq(sqlite3_exec(db, v1_fixture, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);

        mcs_registry *r = test_open_registry("host-a", "c0.c2");
        mcs_err e = {0};
        mcs_record rec;
        ck_assert_ok(mcs_registry_get(r, U1, &rec, &e), &e);
        ck_assert_str_eq(rec.label, "s0:c0,c1");
        ck_assert_str_eq(rec.host, "host-old");
        ck_assert_int_eq(rec.state, MCS_STATE_RUNNING);
        ck_assert_uint_eq(rec.generation, 3);
        mcs_record_clear(&rec);
        /* The old reservation is honoured: two pairs remain of c0.c2. */
        for (int n = 0; n < 2; n++) {
                char uuid[40];
                snprintf(uuid, sizeof uuid, "00000000-0000-0000-0000-%012d", n);
                mcs_guest g = guest(uuid, "new");
                ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
                ck_assert_str_ne(rec.label, "s0:c0,c1");
                mcs_record_clear(&rec);
        }
        mcs_registry_close(r);

        db = raw_open();
        ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 5);
        /* The unused index of version 1 is gone, with no new version. */
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'reservations_by_name'"), 0);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'history_by_uuid'"), 1);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM meta WHERE key = 'registry_id' AND length(value) = 32"), 1);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM originals"), 0);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM history"), 3);
        sqlite3_close(db);
}
END_TEST

START_TEST(refuses_newer_schema_and_foreign_files) {
        mcs_registry_config cfg = {.create = true, .host_id = "h"};
        mcs_registry *r;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);

        r = test_open_registry("h", "c0.c1023");
        mcs_registry_close(r);
        sqlite3 *db = raw_open();
        ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        ck_assert_fails(mcs_registry_open(test_db_path, &cfg, &r, &e), &e, MCS_E_SCHEMA,
                        "has schema version 99; this mcsd knows versions up to 5: upgrade mcsd");

        FILE *f = fopen(test_db_path, "w");
        for (int i = 0; i < 100; i++)
                fputs("this is not a database\n", f);
        fclose(f);
        ck_assert_fails(mcs_registry_open(test_db_path, &cfg, &r, &e), &e, MCS_E_SCHEMA, "not a database");

        char *missing;
        ck_assert_int_ge(asprintf(&missing, "sqlite:%s/no/such/dir/registry.db", test_dir), 0);
        ck_assert_fails(mcs_registry_open(missing, &cfg, &r, &e), &e, MCS_E_IO, "/no/such/dir/registry.db: open");
        free(missing);
}
END_TEST

/* The default VFS, wrapped to see how sqlite deletes the journal at commit. */
static sqlite3_vfs *real_vfs, recording_vfs;
static int journal_deletes, journal_deletes_synced;

static int recording_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
        (void) vfs;
        size_t n = strlen(name);
        if (n > 8 && !strcmp(name + n - 8, "-journal")) {
                journal_deletes++;
                journal_deletes_synced += sync_dir != 0;
        }
        return real_vfs->xDelete(real_vfs, name, sync_dir);
}

/* A commit deletes its journal and then syncs the directory
 * (synchronous=EXTRA), on a new registry and on an existing one: else a
 * power cut right after an acknowledged commit can undo it. */
START_TEST(commit_syncs_the_directory) {
        mcs_err e = {0};
        mcs_record rec;
        real_vfs = sqlite3_vfs_find(NULL);
        recording_vfs = *real_vfs;
        recording_vfs.zName = "mcs-recording";
        recording_vfs.xDelete = recording_delete;
        ck_assert_int_eq(sqlite3_vfs_register(&recording_vfs, 1), SQLITE_OK);

        for (int round = 0; round < 2; round++) {
                mcs_registry *r = test_open_registry("h", "c0.c1023");
                journal_deletes = journal_deletes_synced = 0;
                char uuid[40];
                snprintf(uuid, sizeof uuid, "00000000-0000-0000-0000-%012d", round);
                mcs_guest g = guest(uuid, "durable");
                ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
                mcs_record_clear(&rec);
                ck_assert_int_ge(journal_deletes, 1);
                ck_assert_int_eq(journal_deletes_synced, journal_deletes);
                mcs_registry_close(r);
        }
        sqlite3_vfs_unregister(&recording_vfs);
}
END_TEST

START_TEST(registry_file_removed_then_back) {
        mcs_registry *r = test_open_registry("host-a", "c0.c1023");
        mcs_record rec;
        mcs_err e = {0};
        char health[2048], *moved;
        mcs_guest g1 = static_guest(U1, "g1"), g2 = static_guest(U2, "g2"), g3 = static_guest(U3, "g3");
        ck_assert_int_ge(asprintf(&moved, "%s.moved", test_dir), 0);

        ck_assert_ok(mcs_registry_reserve_label(r, &g1, "s0:c1,c2", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_uint_eq(mcs_registry_breaks(r, &e), 0);
        ck_assert_ok(mcs_registry_health(r, health, sizeof health, &e), &e);
        ck_assert_msg(strncmp(health, "ok", 2) == 0, "health: %s", health);

        /* The registry's directory is gone: writes fail, health says so. */
        ck_assert_int_eq(rename(test_dir, moved), 0);
        ck_assert_int_eq(mcs_registry_reserve_label(r, &g2, "s0:c3,c4", &rec, NULL, &e), -MCS_E_IO);
        ck_assert_msg(strstr(e.msg, "is gone and cannot be made again"), "message: %s", e.msg);
        ck_assert_int_lt(mcs_registry_health(r, health, sizeof health, &e), 0);
        ck_assert_int_lt(mcs_registry_heartbeat(r, &e), 0);

        /* An empty directory is back: a new registry is made there; the
         * handle notices it is not the one it followed. */
        ck_assert_int_eq(mkdir(test_dir, 0700), 0);
        ck_assert_ok(mcs_registry_reserve_label(r, &g3, "s0:c1,c2", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_uint_eq(mcs_registry_breaks(r, &e), 1);
        ck_assert_ok(mcs_registry_health(r, health, sizeof health, &e), &e);
        ck_assert_msg(strncmp(health, "ok", 2) == 0, "health after: %s", health);
        ck_assert_int_eq(mcs_registry_get(r, U1, &rec, NULL), -MCS_E_NOTFOUND);
        mcs_registry_close(r);

        /* Clean up the moved directory. */
        char *cmd;
        ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", moved), 0);
        ck_assert_int_eq(system(cmd), 0);
        free(cmd);
        free(moved);
}
END_TEST

/* Without create, a missing file, a 0-byte file or a file removed while
 * open is not made a registry: an unmounted shared path would otherwise
 * become a registry of this host alone. */
START_TEST(registry_made_only_when_told) {
        mcs_registry_config cfg = {.host_id = "host-a"};
        mcs_registry *r;
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest g1 = static_guest(U1, "g1");
        mcs_catset_add_range(&cfg.pool, 0, 1023);

        ck_assert_fails(mcs_registry_open(test_db_path, &cfg, &r, &e), &e, MCS_E_NOTFOUND, "does not exist");
        ck_assert_msg(strstr(e.msg, "registry_create = yes"), "%s", e.msg);
        ck_assert_int_ne(access(test_db_path, F_OK), 0);
        int fd = open(test_db_path, O_CREAT | O_WRONLY, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_fails(mcs_registry_open(test_db_path, &cfg, &r, &e), &e, MCS_E_NOTFOUND, "is an empty file");

        /* Made when told; then opened without create; not made again when removed. */
        cfg.create = true;
        ck_assert_ok(mcs_registry_open(test_db_path, &cfg, &r, &e), &e);
        mcs_registry_close(r);
        cfg.create = false;
        ck_assert_ok(mcs_registry_open(test_db_path, &cfg, &r, &e), &e);
        ck_assert_ok(mcs_registry_reserve_label(r, &g1, "s0:c1,c2", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_int_eq(unlink(test_db_path), 0);
        ck_assert_int_lt(mcs_registry_get(r, U1, &rec, &e), 0);
        ck_assert_msg(strstr(e.msg, "does not exist"), "%s", e.msg);
        ck_assert_int_ne(access(test_db_path, F_OK), 0);
        mcs_registry_close(r);
}
END_TEST

START_TEST(write_failure_shows_in_health) {
        mcs_registry_config cfg = {.create = true, .host_id = "host-a", .busy_timeout_ms = 100};
        mcs_registry *r;
        mcs_record rec;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_ok(mcs_registry_open(test_db_path, &cfg, &r, &e), &e);
        char health[2048];
        mcs_guest g1 = static_guest(U1, "g1"), g2 = static_guest(U2, "g2");

        /* Another writer holds the lock beyond the busy timeout. */
        sqlite3 *db = raw_open();
        ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        ck_assert_int_eq(mcs_registry_reserve_label(r, &g1, "s0:c1,c2", &rec, NULL, &e), -MCS_E_BUSY);
        ck_assert_ok(mcs_registry_health(r, health, sizeof health, &e), &e);
        ck_assert_msg(strstr(health, "failing since ") && strstr(health, "locked by another writer"), "health: %s",
                      health);
        /* A refusal is not a storage failure, and does not clear one either. */
        ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        ck_assert_ok(mcs_registry_reserve_label(r, &g1, "s0:c1,c2", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_health(r, health, sizeof health, &e), &e);
        ck_assert_msg(strncmp(health, "ok", 2) == 0, "health after a write: %s", health);
        ck_assert_int_eq(mcs_registry_reserve_label(r, &g2, "s0:c1,c2", &rec, NULL, &e), -MCS_E_CONFLICT);
        ck_assert_ok(mcs_registry_health(r, health, sizeof health, &e), &e);
        ck_assert_msg(strncmp(health, "ok", 2) == 0, "health after a refusal: %s", health);
        mcs_registry_close(r);
}
END_TEST

/* The default VFS wrapped to see every sleep a waiter for the lock asks for. */
static struct {
        sqlite3_vfs *real;
        sqlite3_vfs shim;
        atomic_int sleeps;
        atomic_int max_us;
        atomic_llong total_us;
} busy_vfs;

static int counting_sleep(sqlite3_vfs *vfs, int us) {
        (void) vfs;
        atomic_fetch_add(&busy_vfs.sleeps, 1);
        atomic_fetch_add(&busy_vfs.total_us, us);
        for (int m = atomic_load(&busy_vfs.max_us); us > m && !atomic_compare_exchange_weak(&busy_vfs.max_us, &m, us);)
                ;
        return busy_vfs.real->xSleep(busy_vfs.real, us);
}

static void busy_vfs_install(void) {
        busy_vfs.real = sqlite3_vfs_find(NULL);
        busy_vfs.shim = *busy_vfs.real;
        busy_vfs.shim.zName = "mcs-test-counting";
        busy_vfs.shim.xSleep = counting_sleep;
        atomic_store(&busy_vfs.sleeps, 0);
        atomic_store(&busy_vfs.max_us, 0);
        atomic_store(&busy_vfs.total_us, 0);
        ck_assert_int_eq(sqlite3_vfs_register(&busy_vfs.shim, 1), SQLITE_OK);
}

static void busy_vfs_remove(void) {
        sqlite3_vfs_unregister(&busy_vfs.shim);
        sqlite3_vfs_register(busy_vfs.real, 1);
}

/* The other writer: commits once the waiter has retried ten times (or
 * after 10 s, which fails the test). */
static void *commit_after_retries(void *arg) {
        sqlite3 *db = arg;
        for (int i = 0; i < 10000 && atomic_load(&busy_vfs.sleeps) < 10; i++)
                usleep(1000);
        ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        return NULL;
}

/* A write that finds the file locked by another writer retries every
 * couple of milliseconds (not sqlite's steps of up to 100 ms, which keep
 * a host asleep long after a few-millisecond write is done), gets the
 * lock once it is free, and gives up as busy after busy_timeout. */
START_TEST(busy_waiter_retries_within_milliseconds) {
        busy_vfs_install();
        mcs_registry_config cfg = {.create = true, .host_id = "host-a", .busy_timeout_ms = 10000};
        mcs_registry *r;
        mcs_record rec;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_ok(mcs_registry_open(test_db_path, &cfg, &r, &e), &e);
        mcs_guest g1 = static_guest(U1, "g1"), g2 = static_guest(U2, "g2");

        sqlite3 *db = raw_open();
        ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, commit_after_retries, db), 0);
        ck_assert_ok(mcs_registry_reserve_label(r, &g1, "s0:c1,c2", &rec, NULL, &e), &e);
        pthread_join(t, NULL);
        mcs_record_clear(&rec);
        ck_assert_int_ge(atomic_load(&busy_vfs.sleeps), 10);
        ck_assert_msg(atomic_load(&busy_vfs.max_us) <= 2000, "a waiter slept %d us at once",
                      atomic_load(&busy_vfs.max_us));
        mcs_registry_close(r);

        /* Never released: the write waits busy_timeout in all, then fails. */
        cfg.busy_timeout_ms = 300;
        ck_assert_ok(mcs_registry_open(test_db_path, &cfg, &r, &e), &e);
        ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        atomic_store(&busy_vfs.total_us, 0);
        atomic_store(&busy_vfs.max_us, 0);
        ck_assert_fails(mcs_registry_reserve_label(r, &g2, "s0:c3,c4", &rec, NULL, &e), &e, MCS_E_BUSY,
                        "locked by another writer for more than 300 ms");
        ck_assert_int_le(atomic_load(&busy_vfs.total_us), 300000);
        ck_assert_int_le(atomic_load(&busy_vfs.max_us), 2000);
        ck_assert_int_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        mcs_registry_close(r);
        busy_vfs_remove();
}
END_TEST

START_TEST(batch_commits_once_or_not_at_all) {
        mcs_registry *r = test_open_registry("host-a", "c0.c5"), *other = test_open_registry("host-b", "c0.c5");
        mcs_record rec;
        mcs_alloc_stats st;
        mcs_err e = {0};
        char uuid[40];

        /* Rolled back: nothing stays, and the view forgets what it saw. */
        ck_assert(!mcs_registry_in_batch(r));
        ck_assert_ok(mcs_registry_batch_begin(r, &e), &e);
        ck_assert(mcs_registry_in_batch(r)); /* sqlite shares one commit */
        for (int i = 0; i < 10; i++) {
                snprintf(uuid, sizeof uuid, "20000000-0000-0000-0000-%012d", i);
                mcs_guest g = guest(uuid, "b");
                ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
                mcs_record_clear(&rec);
        }
        ck_assert_int_eq(mcs_registry_batch_begin(r, &e), -MCS_E_INVALID);
        ck_assert_ok(mcs_registry_batch_end(r, false, &e), &e);
        ck_assert(!mcs_registry_in_batch(r));
        ck_assert_ok(mcs_registry_stats(r, &st, &e), &e);
        ck_assert_uint_eq(st.labels, 0);
        ck_assert_ok(mcs_registry_stats(other, &st, &e), &e);
        ck_assert_uint_eq(st.labels, 0);

        /* Committed: every pair of c0..c5 (15) in one batch, all distinct;
         * the 16th finds the pool exhausted inside the batch. */
        ck_assert_ok(mcs_registry_batch_begin(r, &e), &e);
        for (int i = 0; i < 15; i++) {
                snprintf(uuid, sizeof uuid, "30000000-0000-0000-0000-%012d", i);
                mcs_guest g = guest(uuid, "c");
                ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
                mcs_record_clear(&rec);
        }
        mcs_guest late = guest("30000000-0000-0000-0000-999999999999", "late");
        ck_assert_int_eq(mcs_registry_reserve(r, &late, &rec, NULL, &e), -MCS_E_EXHAUSTED);
        ck_assert_ok(mcs_registry_batch_end(r, true, &e), &e);
        mcs_record_list l;
        ck_assert_ok(mcs_registry_list(other, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, 15);
        for (size_t i = 0; i < l.n; i++)
                for (size_t j = i + 1; j < l.n; j++)
                        ck_assert_str_ne(l.v[i].label, l.v[j].label);
        mcs_record_list_clear(&l);
        ck_assert_ok(mcs_registry_stats(r, &st, &e), &e);
        ck_assert_uint_eq(st.free_pairs, 0);
        mcs_registry_close(other);
        mcs_registry_close(r);
}
END_TEST

START_TEST(wal_file_is_put_back_to_rollback_journal) {
        sqlite3 *db = raw_open();
        ck_assert_int_eq(sqlite3_exec(db, "PRAGMA journal_mode = WAL; CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        mcs_registry *r = test_open_registry("h", "c0.c1023");
        mcs_registry_close(r);
        db = raw_open();
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_str_eq((const char *) sqlite3_column_text(st, 0), "delete");
        sqlite3_finalize(st);
        sqlite3_close(db);
}
END_TEST

/* With an allowed range (system_u's), reserve_label refuses any level or
 * range whose sensitivities or categories lie outside it, with the reason. */
START_TEST(labels_outside_the_allowed_range) {
        mcs_range allowed;
        mcs_registry_config cfg = {.create = true, .host_id = "h1", .allowed = &allowed};
        mcs_registry *r;
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest g = {.uuid = "11111111-2222-3333-4444-555555555555", .name = "vm", .kind = MCS_KIND_STATIC};
        ck_assert_ok(mcs_range_parse("s0-s0:c0.c511", &allowed, &e), &e);
        mcs_catset_add_range(&cfg.pool, 0, 511);
        ck_assert_ok(mcs_registry_open(test_db_path, &cfg, &r, &e), &e);
        static const char *const refused[] = {"s15:c3,c4", "s0-s1:c5,c6", "s1:c5,c6", "s0:c3,c600", "s0:c0.c512"};
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
                ck_assert_fails(mcs_registry_reserve_label(r, &g, refused[i], &rec, NULL, &e), &e, MCS_E_INVALID,
                                "is outside s0-s0:c0.c511, the range the SELinux policy allows (system_u's)");
        ck_assert_ok(mcs_registry_reserve_label(r, &g, "s0:c3,c4", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_release(r, g.uuid, NULL, &e), &e);
        ck_assert_ok(mcs_registry_reserve_label(r, &g, "s0-s0:c0.c511", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        mcs_registry_close(r);

        /* Nor may the pool pairs are drawn from reach beyond it. */
        mcs_catset_add(&cfg.pool, 512);
        ck_assert_fails(mcs_registry_open(test_db_path, &cfg, &r, &e), &e, MCS_E_RANGE,
                        "the category pool c0.c512 reaches beyond s0-s0:c0.c511");
}
END_TEST

int main(void) {
        Suite *s = suite_create("registry");
        suite_add_tcase(s, registry_api_tcase(&sqlite_backend));
        TCase *tc = tcase_create("sqlite");
        tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, default_location_is_the_configured_one);
        tcase_add_test(tc, history_is_append_only);
        tcase_add_test(tc, history_who_columns_are_additive);
        tcase_add_test(tc, unique_label_backstops_a_stale_cache);
        tcase_add_test(tc, migrates_version_1);
        tcase_add_test(tc, unused_index_is_dropped);
        tcase_add_test(tc, refuses_newer_schema_and_foreign_files);
        tcase_add_test(tc, wal_file_is_put_back_to_rollback_journal);
        tcase_add_test(tc, commit_syncs_the_directory);
        tcase_add_test(tc, registry_file_removed_then_back);
        tcase_add_test(tc, write_failure_shows_in_health);
        tcase_add_test(tc, busy_waiter_retries_within_milliseconds);
        tcase_add_test(tc, batch_commits_once_or_not_at_all);
        tcase_add_test(tc, labels_outside_the_allowed_range);
        tcase_add_test(tc, registry_made_only_when_told);
        suite_add_tcase(s, tc);
        return test_run(s);
}
