/* Several processes on one dir:// registry (or, with MCS_TEST_NFS set to
 * nfs://SERVER/EXPORT, on an NFS server through libnfs): races for pairs,
 * for labels that contain one another, and writers killed at any instant. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcs-registry.h"
#include "race-util.h"
#include "test-util.h"

static char *location;

static int scale(int n) {
        const char *s = getenv("MCS_TEST_SCALE"); /* percent */
        int p = s ? atoi(s) : 100;
        return n * (p > 0 ? p : 100) / 100 > 0 ? n * (p > 0 ? p : 100) / 100 : 1;
}

static void setup(void) {
        test_db_setup();
        const char *nfs = getenv("MCS_TEST_NFS");
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (nfs && *nfs)
                ck_assert_int_ge(asprintf(&location, "%s/t%ld-%ld", nfs, (long) getpid(), (long) ts.tv_nsec), 0);
        else
                ck_assert_int_ge(asprintf(&location, "dir://%s/reg", test_dir), 0);
}

static void teardown(void) {
        free(location);
        test_db_teardown();
}

static mcs_registry *open_as(const char *host) {
        return race_open(location, host, NULL);
}

static void reserver_told(int worker, int count, int fd, int started) {
        race_reserver(location, NULL, worker, count, fd, started);
}

static void reserver(int worker, int count, int fd) {
        race_reserver(location, NULL, worker, count, fd, -1);
}

static void verify(race_ack *acks, size_t n) {
        race_verify(location, NULL, acks, n);
}

static void wait_ok(pid_t pid, const char *what) {
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %d)", what, status);
}

/* MCS_TEST_RESTART: a command run once the race is under way (the nfs
 * suite restarts the server with it). */
static void restart_midway(FILE *f, size_t at_acks) {
        const char *cmd = getenv("MCS_TEST_RESTART");
        if (!cmd || !*cmd)
                return;
        /* fstat, not fseek: the workers share this file's offset, and glibc's
         * fseek(SEEK_END) is an fstat and then an lseek to the size it saw,
         * which can move the offset back under a worker's write: the next
         * line then overwrote an acknowledged one. */
        for (;;) {
                struct stat st;
                ck_assert_int_eq(fstat(fileno(f), &st), 0);
                if (st.st_size / 60 >= (off_t) at_acks)
                        break;
                usleep(20000);
        }
        ck_assert_int_eq(system(cmd), 0);
}

START_TEST(four_processes_race) {
        enum { WORKERS = 4 };
        int each = scale(250);
        char *out;
        ck_assert_int_ge(asprintf(&out, "%s/acks", test_dir), 0);
        mcs_registry_close(open_as("creator"));
        FILE *f = fopen(out, "w+");
        pid_t pids[WORKERS];
        for (int w = 0; w < WORKERS; w++) {
                pids[w] = fork();
                ck_assert_int_ge(pids[w], 0);
                if (pids[w] == 0)
                        reserver(w, each, fileno(f));
        }
        restart_midway(f, (size_t) (WORKERS * each / 2));
        for (int w = 0; w < WORKERS; w++)
                wait_ok(pids[w], "worker");
        race_ack *acks = calloc((size_t) (WORKERS * each + 1), sizeof *acks);
        rewind(f);
        size_t n = race_read_acks(f, acks, (size_t) (WORKERS * each + 1));
        fclose(f);
        ck_assert_uint_eq(n, (size_t) (WORKERS * each));
        verify(acks, n);
        free(acks);
        free(out);
}
END_TEST

/* ---- dominance: a single category or a range against pairs inside it ---- */

struct shared {
        pthread_barrier_t round;
        int won[2][128];
};

/* Round k uses categories 8k..8k+7. Side 0 takes the single s0:c(8k+7) or
 * the range s0:c(8k+1).c(8k+5); side 1 a pair holding that category, or a
 * pair inside the range. */
static void dominance_side(int side, int rounds, struct shared *sh) {
        char host[16], uuid[40], label[64];
        snprintf(host, sizeof host, "side-%d", side);
        mcs_registry *r = open_as(host);
        for (int k = 0; k < rounds; k++) {
                int c = 8 * k;
                if (side == 0)
                        snprintf(label, sizeof label, k % 2 ? "s0:c%d" : "s0:c%d.c%d", k % 2 ? c + 7 : c + 1, c + 5);
                else
                        snprintf(label, sizeof label, "s0:c%d,c%d", k % 2 ? c + 6 : c + 2, k % 2 ? c + 7 : c + 4);
                snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-%012x", (unsigned) side, (unsigned) k);
                mcs_guest g = {.uuid = uuid, .name = side ? "pair" : "wide", .kind = MCS_KIND_STATIC};
                mcs_record rec;
                mcs_err e = {0};
                pthread_barrier_wait(&sh->round);
                int rc = mcs_registry_reserve_label(r, &g, label, &rec, NULL, &e);
                if (rc == 0) {
                        sh->won[side][k] = 1;
                        mcs_record_clear(&rec);
                } else if (rc != -(int) MCS_E_CONFLICT) {
                        fprintf(stderr, "%s round %d: %s\n", host, k, e.msg);
                        _exit(2);
                }
        }
        mcs_registry_close(r);
        _exit(0);
}

START_TEST(dominance_race) {
        int rounds = scale(120);
        if (rounds > 127)
                rounds = 127;
        struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(sh, MAP_FAILED);
        memset(sh, 0, sizeof *sh);
        pthread_barrierattr_t at;
        pthread_barrierattr_init(&at);
        pthread_barrierattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
        ck_assert_int_eq(pthread_barrier_init(&sh->round, &at, 2), 0);
        mcs_registry_close(open_as("creator"));
        pid_t pids[2];
        for (int s = 0; s < 2; s++) {
                pids[s] = fork();
                ck_assert_int_ge(pids[s], 0);
                if (pids[s] == 0)
                        dominance_side(s, rounds, sh);
        }
        for (int s = 0; s < 2; s++)
                wait_ok(pids[s], "side");
        int wins[2] = {0, 0};
        mcs_registry *r = open_as("checker");
        for (int k = 0; k < rounds; k++) {
                ck_assert_msg(sh->won[0][k] + sh->won[1][k] == 1, "round %d: %d and %d won", k, sh->won[0][k],
                              sh->won[1][k]);
                wins[0] += sh->won[0][k];
                wins[1] += sh->won[1][k];
                for (int s = 0; s < 2; s++) {
                        char uuid[40];
                        mcs_record rec;
                        mcs_err e = {0};
                        snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-%012x", (unsigned) s, (unsigned) k);
                        int rc = mcs_registry_get(r, uuid, &rec, &e);
                        ck_assert_int_eq(rc == 0, sh->won[s][k]);
                        if (rc == 0)
                                mcs_record_clear(&rec);
                }
        }
        mcs_registry_close(r);
        fprintf(stderr, "dominance: %d rounds, the wide label won %d, the pair %d\n", rounds, wins[0], wins[1]);
        munmap(sh, sizeof *sh);
}
END_TEST

/* ---- writers killed at random instants ---- */

/* The history over this storage (the nfs suite runs it over NFSv3): who
 * asked travels in who/<token> and comes back to another handle, newest
 * first, found by an overlapping label. */
START_TEST(history_with_who) {
        mcs_registry *a = open_as("host-a"), *b = open_as("host-b");
        mcs_actor who = {.known = true, .uid = 500, .pid = 777};
        mcs_guest g = {.uuid = "12121212-1212-4212-8212-121212121212", .name = "hist", .kind = MCS_KIND_STATIC};
        mcs_history_list l;
        mcs_record rec;
        mcs_err e = {0};
        mcs_registry_set_actor(a, &who);
        ck_assert_ok(mcs_registry_reserve_label(a, &g, "s0:c2,c3", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        mcs_registry_set_actor(a, NULL);
        ck_assert_ok(mcs_registry_release(a, g.uuid, NULL, &e), &e);
        ck_assert_ok(mcs_registry_history_query(b, &(mcs_history_query){.label = "s0:c1.c5"}, &l, NULL, &e), &e);
        ck_assert_uint_eq(l.n, 2);
        ck_assert_int_eq(l.v[0].op, MCS_OP_RELEASE);
        ck_assert(!l.v[0].who.known);
        ck_assert_int_eq(l.v[1].op, MCS_OP_RESERVE);
        ck_assert(l.v[1].who.known);
        ck_assert_uint_eq(l.v[1].who.uid, 500);
        ck_assert_int_eq(l.v[1].who.pid, 777);
        mcs_history_list_clear(&l);
        mcs_registry_close(b);
        mcs_registry_close(a);
}
END_TEST

START_TEST(sigkill_writers) {
        int rounds = scale(30), steady = scale(300);
        char *out;
        ck_assert_int_ge(asprintf(&out, "%s/acks", test_dir), 0);
        FILE *f = fopen(out, "w+");
        struct timespec seed;
        clock_gettime(CLOCK_MONOTONIC, &seed);
        srand((unsigned) seed.tv_nsec);
        mcs_registry_close(open_as("creator"));

        /* A writer that is never killed must finish its work whatever the others do. */
        pid_t calm = fork();
        ck_assert_int_ge(calm, 0);
        if (calm == 0)
                reserver(99, steady, fileno(f));
        for (int round = 0; round < rounds; round++) {
                int started[2];
                char byte;
                ck_assert_int_eq(pipe(started), 0);
                pid_t pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                        close(started[0]);
                        reserver_told(100 + round, 1000000, fileno(f), started[1]);
                }
                close(started[1]);
                /* Once it writes (its first reservation is in), at a random moment of the next ones. */
                ck_assert_int_eq(read(started[0], &byte, 1), 1);
                close(started[0]);
                usleep((useconds_t) (rand() % 50000));
                kill(pid, SIGKILL);
                int status;
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                ck_assert(WIFSIGNALED(status));
        }
        wait_ok(calm, "the writer never killed");
        race_ack *acks = calloc(1000000, sizeof *acks);
        rewind(f);
        size_t n = race_read_acks(f, acks, 1000000);
        fclose(f);
        ck_assert_uint_ge(n, (size_t) (steady + rounds));
        verify(acks, n);

        /* And a new writer still gets through. */
        pid_t after = fork();
        ck_assert_int_ge(after, 0);
        if (after == 0) {
                FILE *devnull = fopen("/dev/null", "w");
                reserver(500, 5, fileno(devnull));
        }
        wait_ok(after, "a writer after the kills");
        fprintf(stderr, "%d writers killed; %zu acknowledged reservations survived\n", rounds, n);
        free(acks);
        free(out);
}
END_TEST

int main(void) {
        Suite *s = suite_create("registry-dir-procs");
        TCase *tc = tcase_create(getenv("MCS_TEST_NFS") ? "nfs" : "dir");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, four_processes_race);
        tcase_add_test(tc, dominance_race);
        tcase_add_test(tc, sigkill_writers);
        tcase_add_test(tc, history_with_who);
        suite_add_tcase(s, tc);
        return test_run(s);
}
