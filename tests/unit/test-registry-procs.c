/* Several processes on one registry file, and processes killed mid-write. */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcs-registry.h"
#include "race-util.h"
#include "test-util.h"


static mcs_registry *open_as(const char *host) {
        return race_open(test_db_path, host, NULL);
}

static void reserver(int worker, int count, int fd) {
        race_reserver(test_db_path, NULL, worker, count, fd, -1);
}

/* The shared checks, and the file's own integrity and uniqueness. */
static void verify(race_ack *acks, size_t n) {
        race_verify(test_db_path, NULL, acks, n);

        sqlite3 *db;
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_open(test_db_path, &db), SQLITE_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_str_eq((const char *) sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
        ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT label) FROM reservations", -1, &st,
                                            NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_int_eq(sqlite3_column_int(st, 0), sqlite3_column_int(st, 1));
        ck_assert_int_ge(sqlite3_column_int(st, 0), (int) n);
        sqlite3_finalize(st);
        sqlite3_close(db);
}

START_TEST(four_processes_thousand_each) {
        enum { WORKERS = 4, EACH = 1000 };
        char *out;
        ck_assert_int_ge(asprintf(&out, "%s/acks", test_dir), 0);
        mcs_registry_close(open_as("creator")); /* create the schema once, before the race */
        FILE *f = fopen(out, "w+");
        pid_t pids[WORKERS];
        for (int w = 0; w < WORKERS; w++) {
                pids[w] = fork();
                ck_assert_int_ge(pids[w], 0);
                if (pids[w] == 0)
                        reserver(w, EACH, fileno(f));
        }
        for (int w = 0; w < WORKERS; w++) {
                int status;
                ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d failed (status %d)", w,
                              status);
        }
        race_ack *acks = calloc(WORKERS * EACH + 1, sizeof *acks);
        rewind(f);
        size_t n = race_read_acks(f, acks, WORKERS * EACH + 1);
        fclose(f);
        ck_assert_uint_eq(n, WORKERS * EACH);
        verify(acks, n);
        free(acks);
        free(out);
}
END_TEST

static bool hot_journal(void) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s-journal", test_db_path);
        return stat(path, &st) == 0 && st.st_size > 0;
}

START_TEST(sigkill_mid_transaction_leaves_consistent_registry) {
        enum { ROUNDS = 30 };
        char *out;
        int hot = 0;
        ck_assert_int_ge(asprintf(&out, "%s/acks", test_dir), 0);
        FILE *f = fopen(out, "w+");
        struct timespec seed;
        clock_gettime(CLOCK_MONOTONIC, &seed);
        srand((unsigned) seed.tv_nsec);

        for (int round = 0; round < ROUNDS; round++) {
                pid_t pid = fork();
                ck_assert_int_ge(pid, 0);
                struct stat before;
                ck_assert_int_eq(fstat(fileno(f), &before), 0);
                if (pid == 0)
                        reserver(100 + round, 1000000, fileno(f));
                /* A loaded machine may take long to start the child: let it
                 * acknowledge one reservation (up to 10 s), then kill it at a
                 * random moment within the next 30 ms. */
                struct stat now;
                for (int wait = 0; wait < 10000 && fstat(fileno(f), &now) == 0 && now.st_size == before.st_size; wait++)
                        usleep(1000);
                usleep((useconds_t) (rand() % 30000));
                kill(pid, SIGKILL);
                int status;
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                ck_assert(WIFSIGNALED(status));
                /* A journal left behind proves the kill landed inside a transaction. */
                hot += hot_journal();
        }
        race_ack *acks = calloc(1000000, sizeof *acks);
        rewind(f);
        size_t n = race_read_acks(f, acks, 1000000);
        fclose(f);
        ck_assert_uint_gt(n, 0);
        verify(acks, n);
        ck_assert_msg(hot > 0, "no kill in %d rounds landed inside a transaction", ROUNDS);
        fprintf(stderr, "%d of %d kills left a hot journal; %zu acknowledged reservations survived\n", hot, ROUNDS, n);
        free(acks);
        free(out);
}
END_TEST

int main(void) {
        Suite *s = suite_create("registry-procs");
        TCase *tc = tcase_create("sqlite");
        tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, four_processes_thousand_each);
        tcase_add_test(tc, sigkill_mid_transaction_leaves_consistent_registry);
        suite_add_tcase(s, tc);
        return test_run(s);
}
