/* Several processes on one registry file, and processes killed mid-write. */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcs-registry.h"
#include "test-util.h"


static mcs_registry *open_as(const char *host) {
        mcs_registry_config cfg = {.host_id = host, .busy_timeout_ms = 60000};
        mcs_registry *r;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        if (mcs_registry_open(test_db_path, &cfg, &r, &e) < 0) {
                fprintf(stderr, "open: %s\n", e.msg);
                _exit(3);
        }
        return r;
}

/* Reserves count labels and writes "uuid label" to fd after each one is acknowledged. */
static void reserver(int worker, int count, int fd) {
        char host[32], uuid[40], line[128];
        snprintf(host, sizeof host, "host-%d", worker);
        mcs_registry *r = open_as(host);
        for (int n = 0; n < count; n++) {
                mcs_record rec;
                mcs_err e = {0};
                snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-%012x", (unsigned) worker, (unsigned) n);
                mcs_guest g = {.uuid = uuid, .name = "g", .kind = MCS_KIND_DYNAMIC};
                if (mcs_registry_reserve(r, &g, &rec, NULL, &e) < 0) {
                        fprintf(stderr, "worker %d reserve %d: %s\n", worker, n, e.msg);
                        _exit(2);
                }
                int len = snprintf(line, sizeof line, "%s %s\n", rec.uuid, rec.label);
                if (write(fd, line, (size_t) len) != len)
                        _exit(4);
                mcs_record_clear(&rec);
        }
        mcs_registry_close(r);
        _exit(0);
}

struct ack {
        char uuid[40], label[32];
};

static size_t read_acks(FILE *f, struct ack *acks, size_t max) {
        size_t n = 0;
        while (n < max && fscanf(f, "%39s %31s", acks[n].uuid, acks[n].label) == 2)
                n++;
        return n;
}

static int cmp_label(const void *a, const void *b) {
        return strcmp(((const struct ack *) a)->label, ((const struct ack *) b)->label);
}

/* Every acknowledged reservation is in the registry with its label; no label twice. */
static void verify(struct ack *acks, size_t n) {
        mcs_registry *r = open_as("checker");
        mcs_err e = {0};
        for (size_t i = 0; i < n; i++) {
                mcs_record rec;
                ck_assert_ok(mcs_registry_get(r, acks[i].uuid, &rec, &e), &e);
                ck_assert_str_eq(rec.label, acks[i].label);
                mcs_record_clear(&rec);
        }
        qsort(acks, n, sizeof *acks, cmp_label);
        for (size_t i = 1; i < n; i++)
                ck_assert_msg(strcmp(acks[i - 1].label, acks[i].label) != 0, "label %s acknowledged twice",
                              acks[i].label);
        mcs_record_list l;
        ck_assert_ok(mcs_registry_list(r, NULL, &l, &e), &e);
        struct ack *all = calloc(l.n + 1, sizeof *all);
        for (size_t i = 0; i < l.n; i++)
                snprintf(all[i].label, sizeof all[i].label, "%s", l.v[i].label);
        qsort(all, l.n, sizeof *all, cmp_label);
        for (size_t i = 1; i < l.n; i++)
                ck_assert_msg(strcmp(all[i - 1].label, all[i].label) != 0, "label %s held twice", all[i].label);
        free(all);
        mcs_record_list_clear(&l);
        mcs_registry_close(r);

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
        struct ack *acks = calloc(WORKERS * EACH + 1, sizeof *acks);
        rewind(f);
        size_t n = read_acks(f, acks, WORKERS * EACH + 1);
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
        struct ack *acks = calloc(1000000, sizeof *acks);
        rewind(f);
        size_t n = read_acks(f, acks, 1000000);
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
