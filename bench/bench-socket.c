/* Round trips through mcsd's control socket, each on a fresh connection as
 * mcsctl and the hook make them, beside baselines measured in the same run:
 * a bare UNIX-socket echo for status, two raw fsync'd sqlite commits (on the
 * registry's disk, same journal settings) for reserve + release, and raw
 * commits one after another for 8 writers reserving at once (group commit).
 * Usage: bench-socket SOCKET WORKDIR */
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench-util.h"
#include "bench-raw-sqlite.h"

enum { STATUS_N = 2000, RESERVE_N = 500, RAW_N = 300, CLIENTS = 8, GROUP_ROUNDS = 7 };
#define CONCURRENT_S 2.0
#define GROUP_ROUND_S 0.4

static int dial(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                BENCH_DIE("connect %s failed", path);
        return fd;
}

/* One request on a fresh connection; the reply must carry a result. */
static void round_trip(const char *path, const char *req, char *reply, size_t cap) {
        int fd = dial(path);
        size_t len = strlen(req), got = 0;
        if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t) len)
                BENCH_DIE("send failed");
        for (;;) {
                ssize_t n = recv(fd, reply + got, cap - 1 - got, 0);
                if (n <= 0)
                        BENCH_DIE("no reply to %s", req);
                got += (size_t) n;
                reply[got] = '\0';
                if (memchr(reply, '\n', got))
                        break;
        }
        close(fd);
        if (!strstr(reply, "\"result\""))
                BENCH_DIE("error reply to %s: %s", req, reply);
}

/* ---- baselines ---- */

static void *echo_server(void *arg) {
        int lfd = *(int *) arg;
        char buf[4096];
        for (;;) {
                int fd = accept(lfd, NULL, NULL);
                if (fd < 0)
                        return NULL;
                ssize_t n = recv(fd, buf, sizeof buf, 0);
                if (n > 0 && send(fd, buf, (size_t) n, MSG_NOSIGNAL) < 0)
                        n = -1;
                close(fd);
        }
}

static double echo_us_p50(const char *dir) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/echo.sock", dir);
        unlink(sa.sun_path);
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(lfd, 128) < 0)
                BENCH_DIE("echo server: cannot listen on %s", sa.sun_path);
        pthread_t t;
        pthread_create(&t, NULL, echo_server, &lfd);
        static double v[STATUS_N];
        char reply[4096];
        for (int i = 0; i < STATUS_N; i++) {
                double t0 = bench_now();
                round_trip(sa.sun_path, "{\"result\":1}\n", reply, sizeof reply);
                v[i] = (bench_now() - t0) * 1e6;
        }
        shutdown(lfd, SHUT_RDWR);
        close(lfd);
        pthread_join(t, NULL);
        unlink(sa.sun_path);
        return bench_median(v, STATUS_N);
}

/* One fsync'd commit of one row after another, as fast as they go. */
static double raw_commits_per_s(const char *dir) {
        char path[4200];
        sqlite3_stmt *ins;
        snprintf(path, sizeof path, "%s/raw1.db", dir);
        sqlite3 *db = bench_raw_sqlite_open(path);
        if (sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES ('s0:c1,c2')", -1, &ins, NULL) != SQLITE_OK)
                BENCH_DIE("raw sqlite: %s", sqlite3_errmsg(db));
        double t0 = bench_now();
        for (int i = 0; i < RAW_N; i++) {
                if (sqlite3_step(ins) != SQLITE_DONE)
                        BENCH_DIE("raw sqlite: %s", sqlite3_errmsg(db));
                sqlite3_reset(ins);
        }
        double rate = RAW_N / (bench_now() - t0);
        sqlite3_finalize(ins);
        sqlite3_close(db);
        unlink(path);
        return rate;
}

static double raw_two_commits_us_p50(const char *dir) {
        char path[4200];
        sqlite3 *db;
        sqlite3_stmt *ins, *del;
        static double v[RAW_N];
        snprintf(path, sizeof path, "%s/raw.db", dir);
        db = bench_raw_sqlite_open(path);
        if (sqlite3_prepare_v2(db, "INSERT INTO t (id, v) VALUES (1, 's0:c1,c2')", -1, &ins, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "DELETE FROM t WHERE id = 1", -1, &del, NULL) != SQLITE_OK)
                BENCH_DIE("raw sqlite: %s", sqlite3_errmsg(db));
        for (int i = 0; i < RAW_N; i++) {
                double t0 = bench_now();
                if (sqlite3_step(ins) != SQLITE_DONE || sqlite3_step(del) != SQLITE_DONE)
                        BENCH_DIE("raw sqlite: %s", sqlite3_errmsg(db));
                sqlite3_reset(ins);
                sqlite3_reset(del);
                v[i] = (bench_now() - t0) * 1e6;
        }
        sqlite3_finalize(ins);
        sqlite3_finalize(del);
        sqlite3_close(db);
        unlink(path);
        return bench_median(v, RAW_N);
}

/* ---- through mcsd ---- */

typedef struct worker {
        const char *path;
        double until;
        long done;
        int id;
} worker;

/* Reserves a free pair for one new guest after another. */
static void *reserve_worker(void *arg) {
        worker *w = arg;
        char reply[8192], req[256];
        while (bench_now() < w->until) {
                snprintf(req, sizeof req,
                         "{\"version\":1,\"method\":\"reserve\",\"params\":{\"guest\":\"%08x-0000-4000-8000-%012ld\"}}\n",
                         0x77000000u + (unsigned) w->id, w->done);
                round_trip(w->path, req, reply, sizeof reply);
                w->done++;
        }
        return NULL;
}

/* CLIENTS threads running fn for the given time; the requests per second.
 * Worker ids start at first_id (reserve_worker makes its guests' UUIDs of them). */
static double concurrently(const char *sock, void *(*fn)(void *), double seconds, int first_id) {
        worker w[CLIENTS];
        pthread_t t[CLIENTS];
        double t0 = bench_now();
        for (int i = 0; i < CLIENTS; i++) {
                w[i] = (worker){.path = sock, .until = t0 + seconds, .id = first_id + i};
                pthread_create(&t[i], NULL, fn, &w[i]);
        }
        long total = 0;
        for (int i = 0; i < CLIENTS; i++) {
                pthread_join(t[i], NULL);
                total += w[i].done;
        }
        return (double) total / (bench_now() - t0);
}

static void *status_worker(void *arg) {
        worker *w = arg;
        char reply[8192];
        while (bench_now() < w->until) {
                round_trip(w->path, "{\"version\":1,\"method\":\"status\"}\n", reply, sizeof reply);
                w->done++;
        }
        return NULL;
}

/* What status says of the clients' writes so far. */
static void client_writes(const char *sock, long *writes, long *commits) {
        char reply[8192];
        round_trip(sock, "{\"version\":1,\"method\":\"status\"}\n", reply, sizeof reply);
        const char *cw = strstr(reply, "\"client_writes\":");
        if (!cw || sscanf(cw, "\"client_writes\":{\"writes\":%ld,\"commits\":%ld", writes, commits) != 2)
                BENCH_DIE("status without client_writes: %s", reply);
}

int main(int argc, char **argv) {
        if (argc != 3)
                BENCH_DIE("usage: bench-socket SOCKET WORKDIR");
        const char *sock = argv[1], *dir = argv[2];
        static double st[STATUS_N], rr[RESERVE_N];
        char reply[8192], req[256];

        double echo = echo_us_p50(dir);
        for (int i = 0; i < STATUS_N; i++) {
                double t0 = bench_now();
                round_trip(sock, "{\"version\":1,\"method\":\"status\"}\n", reply, sizeof reply);
                st[i] = (bench_now() - t0) * 1e6;
        }
        double status = bench_median(st, STATUS_N);
        bench_report("socket_echo_us_p50", echo, "us");
        bench_report("socket_status_us_p50", status, "us");
        bench_report("socket_status_vs_echo_ratio", status / echo, "ratio");

        double raw = raw_two_commits_us_p50(dir);
        for (int i = 0; i < RESERVE_N; i++) {
                char uuid[40];
                snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012d", i);
                double t0 = bench_now();
                snprintf(req, sizeof req, "{\"version\":1,\"method\":\"reserve\",\"params\":{\"guest\":\"%s\"}}\n", uuid);
                round_trip(sock, req, reply, sizeof reply);
                snprintf(req, sizeof req, "{\"version\":1,\"method\":\"release\",\"params\":{\"guest\":\"%s\"}}\n", uuid);
                round_trip(sock, req, reply, sizeof reply);
                rr[i] = (bench_now() - t0) * 1e6;
        }
        double p50 = bench_percentile(rr, RESERVE_N, 0.5), p99 = bench_percentile(rr, RESERVE_N, 0.99);
        bench_report("raw_sqlite_two_commits_us_p50", raw, "us");
        bench_report("socket_reserve_release_us_p50", p50, "us");
        bench_report("socket_reserve_release_us_p99", p99, "us");
        bench_report("socket_reserve_release_vs_raw_ratio", p50 / raw, "ratio");

        double per_s = concurrently(sock, status_worker, CONCURRENT_S, 0);
        bench_report("socket_status_per_s_8_clients", per_s, "requests/s");
        bench_report("socket_status_per_s_8_clients_vs_serial_ratio", per_s / (1e6 / status), "ratio");

        /* Group commit (issue 15): 8 writers through the socket against
         * commits one after another on the same disk. The disk's fsync time
         * drifts by 2x within a minute here, so each round measures both,
         * one right after the other, and the figures are the rounds' medians. */
        double raw_rate[GROUP_ROUNDS], group[GROUP_ROUNDS], ratio[GROUP_ROUNDS];
        long w0, c0, w1, c1;
        client_writes(sock, &w0, &c0);
        for (int r = 0; r < GROUP_ROUNDS; r++) {
                raw_rate[r] = raw_commits_per_s(dir);
                group[r] = concurrently(sock, reserve_worker, GROUP_ROUND_S, (r + 1) * CLIENTS);
                ratio[r] = group[r] / raw_rate[r];
        }
        client_writes(sock, &w1, &c1);
        bench_report("raw_sqlite_commits_per_s", bench_median(raw_rate, GROUP_ROUNDS), "commits/s");
        bench_report("registry_group_commit_per_s_8_writers", bench_median(group, GROUP_ROUNDS), "reservations/s");
        bench_report("registry_group_commit_vs_raw_ratio", bench_median(ratio, GROUP_ROUNDS), "ratio");
        bench_report("registry_group_commit_writes_per_commit", (double) (w1 - w0) / (double) (c1 - c0), "writes");
        return 0;
}
