/* Talks to mcsd's control socket below the protocol, for the cli suite:
 *   rawsock SOCKET send          stdin's bytes as they are, then shutdown(SHUT_WR);
 *                                prints what comes back until EOF
 *   rawsock SOCKET hold MS       connects, sends nothing for MS ms; prints
 *                                what came back and "closed" or "open"
 *   rawsock SOCKET flood MS      sends "list" requests as fast as it can for MS
 *                                ms and never reads; prints "closed" or "open"
 *   rawsock SOCKET many N        connects N clients, then each sends "status";
 *                                prints "ok K refused R" */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int connect_to(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                perror(path);
                exit(3);
        }
        return fd;
}

/* Reads until EOF or timeout_ms; returns bytes read into buf (NUL-terminated). */
static size_t drain(int fd, char *buf, size_t cap, int timeout_ms, int *closed) {
        size_t len = 0;
        *closed = 0;
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, timeout_ms) <= 0)
                        break;
                ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
                if (n <= 0) {
                        *closed = 1;
                        break;
                }
                len += (size_t) n;
                if (len == cap - 1)
                        break;
        }
        buf[len] = '\0';
        return len;
}

static int mode_send(const char *path) {
        static char in[1 << 20], out[1 << 20];
        size_t n = fread(in, 1, sizeof in, stdin);
        int fd = connect_to(path), closed;
        for (size_t off = 0; off < n;) {
                ssize_t w = send(fd, in + off, n - off, MSG_NOSIGNAL);
                if (w <= 0)
                        break; /* the daemon may close early, e.g. on an oversized line */
                off += (size_t) w;
        }
        shutdown(fd, SHUT_WR);
        drain(fd, out, sizeof out, 10000, &closed);
        fputs(out, stdout);
        close(fd);
        return 0;
}

static int mode_hold(const char *path, int ms) {
        char out[4096];
        int fd = connect_to(path), closed;
        drain(fd, out, sizeof out, ms, &closed);
        printf("%s%s\n", out, closed ? "closed" : "open");
        close(fd);
        return 0;
}

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int mode_flood(const char *path, int ms) {
        static const char req[] = "{\"version\":1,\"method\":\"list\"}\n";
        int fd = connect_to(path);
        long long end = now_ms() + ms;
        int closed = 0;
        while (now_ms() < end && !closed) {
                ssize_t w = send(fd, req, sizeof req - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno != EAGAIN)
                        closed = 1;
                else if (w < 0)
                        usleep(10000); /* both buffers are full: mcsd stopped reading */
        }
        /* A dropped client sees an error or EOF on its next write or read. */
        if (!closed) {
                char buf[1 << 16];
                ssize_t n;
                while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
                        ;
                closed = n == 0 || (n < 0 && errno != EAGAIN);
        }
        printf("%s\n", closed ? "closed" : "open");
        close(fd);
        return 0;
}

static int mode_many(const char *path, int n) {
        static const char req[] = "{\"version\":1,\"method\":\"status\"}\n";
        int *fds = calloc((size_t) n, sizeof *fds), ok = 0, refused = 0;
        for (int i = 0; i < n; i++)
                fds[i] = connect_to(path);
        for (int i = 0; i < n; i++)
                if (send(fds[i], req, sizeof req - 1, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET)
                        perror("send");
        for (int i = 0; i < n; i++) {
                char out[8192];
                int closed;
                drain(fds[i], out, sizeof out, 10000, &closed);
                if (strstr(out, "\"result\""))
                        ok++;
                else if (strstr(out, "too-many-clients"))
                        refused++;
                close(fds[i]);
        }
        printf("ok %d refused %d\n", ok, refused);
        free(fds);
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 3 && !strcmp(argv[2], "send"))
                return mode_send(argv[1]);
        if (argc == 4 && !strcmp(argv[2], "hold"))
                return mode_hold(argv[1], atoi(argv[3]));
        if (argc == 4 && !strcmp(argv[2], "flood"))
                return mode_flood(argv[1], atoi(argv[3]));
        if (argc == 4 && !strcmp(argv[2], "many"))
                return mode_many(argv[1], atoi(argv[3]));
        fprintf(stderr, "usage: rawsock SOCKET send | hold MS | flood MS | many N\n");
        return 2;
}
