#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mcs-protocol.h"

#define REPLY_MAX (256u << 20) /* a list of every reservation in a large cluster fits */

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const client_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const client_opts *o, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (o->why)
                vsnprintf(o->why, o->why_len, fmt, ap);
        else {
                fputs("mcsctl: ", stderr);
                vfprintf(stderr, fmt, ap);
                fputc('\n', stderr);
        }
        va_end(ap);
}

static int unreachable(const client_opts *o, const char *why) {
        say(o, "cannot reach mcsd at %s: %s%s", o->socket, why,
            o->why ? "" : "\nmcsctl: is mcsd running? (systemctl status mcsd; or pass --socket PATH)");
        return EXIT_UNREACHABLE;
}

/* Waits for fd to be ready for events until the deadline. */
static int wait_fd(int fd, short events, long long deadline) {
        for (;;) {
                long long left = deadline - now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = events};
                int r = poll(&p, 1, (int) left);
                if (r > 0)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
}

/* Connects without blocking past the deadline. A UNIX socket whose backlog
 * is full (mcsd stopped accepting: hung, or busy) refuses a non-blocking
 * connect with EAGAIN at once; that is retried until the deadline, since a
 * blocking connect would wait for mcsd forever. */
static int connect_socket(const client_opts *o, long long deadline, int *out) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(o->socket) >= sizeof sa.sun_path) {
                say(o, "socket path %s is too long", o->socket);
                return EXIT_USAGE;
        }
        strcpy(sa.sun_path, o->socket);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return unreachable(o, strerror(errno));
        for (;;) {
                int r = connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 ? errno : 0;
                if (r == EINPROGRESS || r == EINTR) {
                        socklen_t len = sizeof r;
                        if ((r = -wait_fd(fd, POLLOUT, deadline)) == 0 &&
                            getsockopt(fd, SOL_SOCKET, SO_ERROR, &r, &len) < 0)
                                r = errno;
                }
                if (r == EAGAIN && now_ms() < deadline) {
                        long long left = deadline - now_ms();
                        poll(NULL, 0, left < 20 ? (int) left : 20);
                        continue;
                }
                if (r == 0) {
                        *out = fd;
                        return EXIT_OK;
                }
                close(fd);
                if (r == EAGAIN || r == ETIMEDOUT) {
                        say(o, "mcsd at %s did not accept the connection within %d ms (it is busy or hung)", o->socket,
                            o->timeout_ms);
                        return EXIT_UNREACHABLE;
                }
                return unreachable(o, strerror(r));
        }
}

static int send_all(int fd, const char *buf, size_t len, long long deadline) {
        while (len) {
                int r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (n < 0)
                        return -errno;
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Reads one line; returns its length or -errno. A reply that began but
 * did not end (the connection closed, failed or timed out after its first
 * byte) is -EBADMSG: mcsd answered, and what it said is unknown. */
static ssize_t read_line(int fd, char **out, long long deadline) {
        size_t cap = 65536, len = 0;
        char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                int r = wait_fd(fd, POLLIN, deadline);
                if (r < 0) {
                        free(buf);
                        return len ? -EBADMSG : r;
                }
                if (len == cap) {
                        char *nb = cap >= REPLY_MAX ? NULL : realloc(buf, cap * 2);
                        if (!nb) {
                                free(buf);
                                return -EMSGSIZE;
                        }
                        buf = nb;
                        cap *= 2;
                }
                ssize_t n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (n <= 0) {
                        int err = n == 0 ? ECONNRESET : errno;
                        free(buf);
                        return len ? -EBADMSG : -err;
                }
                char *nl = memchr(buf + len, '\n', (size_t) n);
                len += (size_t) n;
                if (nl) {
                        *nl = '\0';
                        *out = buf;
                        return nl - buf;
                }
        }
}

/* A string member of o, or NULL (absent, or of another type). */
static const char *string_of(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                                : NULL;
}

static int reply_error(const client_opts *o, json_object *err) {
        const char *c = string_of(err, "code"), *m = string_of(err, "message");
        say(o, "%s", m ? m : "mcsd's error reply has no message");
        if (c && !strcmp(c, MCS_PERR_DENIED))
                return EXIT_DENIED;
        return EXIT_FAILED;
}

int client_call(const client_opts *o, const char *method, json_object *params, json_object **result) {
        json_object *req = json_object_new_object(), *reply = NULL, *v;
        char *line = NULL;
        int fd = -1, rc;

        json_object_object_add(req, "version", json_object_new_int(MCS_PROTOCOL_VERSION));
        json_object_object_add(req, "method", json_object_new_string(method));
        json_object_object_add(req, "params", params ? params : json_object_new_object());
        const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t len = strlen(text), max = o->request_max ? o->request_max : MCS_REQUEST_MAX;
        if (len + 1 > max) {
                say(o, "the request is longer than %zu bytes", max);
                json_object_put(req);
                return EXIT_USAGE;
        }
        long long deadline = now_ms() + o->timeout_ms;
        if ((rc = connect_socket(o, deadline, &fd)) != EXIT_OK) {
                json_object_put(req);
                return rc;
        }
        char *out = malloc(len + 2);
        int r = out ? 0 : -ENOMEM;
        if (out) {
                memcpy(out, text, len);
                out[len] = '\n';
                r = send_all(fd, out, len + 1, deadline);
                free(out);
        }
        json_object_put(req);
        /* mcsd may have refused the connection (too many clients) with a
         * reply line and closed it before the request went out: that reply,
         * already here, says more than the broken pipe. */
        ssize_t n = r;
        if (r == 0 || r == -EPIPE || r == -ECONNRESET) {
                n = read_line(fd, &line, deadline);
                if (n < 0 && r < 0 && n != -EBADMSG && n != -EMSGSIZE)
                        n = r;
        }
        close(fd);
        if (n == -ETIMEDOUT) {
                say(o, "mcsd at %s did not answer within %d ms", o->socket, o->timeout_ms);
                return EXIT_UNREACHABLE;
        }
        /* An answer that came, but cut short or too long to read, is no
         * less an answer: not "unreachable". */
        if (n == -EBADMSG) {
                say(o, "mcsd's reply was cut short (no end of line before the connection ended or %d ms passed)",
                    o->timeout_ms);
                return EXIT_FAILED;
        }
        if (n == -EMSGSIZE) {
                say(o, "mcsd's reply is longer than %u bytes", REPLY_MAX);
                return EXIT_FAILED;
        }
        if (n == -ENOMEM) {
                say(o, "out of memory");
                return EXIT_FAILED;
        }
        if (n < 0)
                return unreachable(o, strerror((int) -n));
        reply = json_tokener_parse(line);
        free(line);
        if (!reply || !json_object_is_type(reply, json_type_object)) {
                say(o, "mcsd sent a reply that is not a JSON object");
                json_object_put(reply);
                return EXIT_FAILED;
        }
        if (json_object_object_get_ex(reply, "error", &v)) {
                rc = reply_error(o, v);
                json_object_put(reply);
                return rc;
        }
        if (!json_object_object_get_ex(reply, "result", &v) || !json_object_is_type(v, json_type_object)) {
                say(o, "mcsd's reply has neither an error nor a result object");
                json_object_put(reply);
                return EXIT_FAILED;
        }
        *result = json_object_get(v);
        json_object_put(reply);
        return EXIT_OK;
}
