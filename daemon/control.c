/* The control socket's transport: listens (or takes systemd's socket),
 * accepts clients up to max_clients (an admin arriving then takes the slot
 * of the longest-idle reader), reads newline-framed requests of at
 * most MCS_REQUEST_MAX bytes, hands each to methods.c and writes the reply.
 * All sockets are non-blocking and a client that stops reading or writing
 * is dropped after client_timeout, so no client can hold up the daemon. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "mcs-macro.h"
#include "mcs-protocol.h"
#include "mcsd.h"
#include "methods.h"

#define ACCEPT_BATCH 64
#define SWEEP_MS 250

struct control_client {
        mcsd *d;
        int fd, watch;
        control_peer peer;
        char *in;
        size_t in_len;
        char *out;
        size_t out_len, out_off;
        int64_t deadline_ms;
        bool close_after_write;
        /* Whoever answers the current request later (a job, the write
         * group), told when the client goes; no deadline meanwhile. */
        void *waiter;
        void (*forget)(void *waiter);
};

static void client_free(control_client *c) {
        close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
}

static void client_close(control_client *c) {
        mcsd *d = c->d;
        if (c->waiter)
                c->forget(c->waiter); /* it finishes; its reply is dropped */
        for (size_t i = 0; i < d->n_clients; i++)
                if (d->clients[i] == c) {
                        d->clients[i] = d->clients[--d->n_clients];
                        break;
                }
        /* libvirt's loop never dispatches a removed handle again, nor touches
         * its opaque pointer: freeing at once is safe, even from on_client. */
        virEventRemoveHandle(c->watch);
        client_free(c);
}

/* Writes what is pending; returns -1 when the client is gone. */
static int client_flush(control_client *c) {
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (n <= 0)
                        return -1;
                c->out_off += (size_t) n;
        }
        if (c->out_off == c->out_len) {
                free(c->out);
                c->out = NULL;
                c->out_len = c->out_off = 0;
                if (c->close_after_write)
                        return -1;
                c->deadline_ms = mcsd_now_ms() + c->d->cfg.client_timeout_ms;
        }
        virEventUpdateHandle(c->watch, c->out ? VIR_EVENT_HANDLE_WRITABLE : VIR_EVENT_HANDLE_READABLE);
        return 0;
}

static void client_reply(control_client *c, char *reply, bool then_close) {
        c->out = reply;
        c->out_len = reply ? strlen(reply) : 0;
        c->out_off = 0;
        c->close_after_write = then_close || !reply;
}

/* Answers every complete line in the buffer, one at a time: a client gets
 * its next reply only after reading the previous one. */
static void client_process(control_client *c) {
        while (!c->out && !c->waiter) {
                char *nl = memchr(c->in, '\n', c->in_len);
                if (!nl) {
                        if (c->in_len >= MCS_REQUEST_MAX)
                                client_reply(c,
                                             control_error_reply(MCS_PERR_TOO_LARGE, "a request line is limited to %u bytes",
                                                                 MCS_REQUEST_MAX),
                                             true);
                        return;
                }
                size_t len = (size_t) (nl - c->in);
                char *reply = control_dispatch(c->d, &c->peer, c, c->in, len);
                if (reply != reply_deferred)
                        client_reply(c, reply, false);
                c->in_len -= len + 1;
                memmove(c->in, nl + 1, c->in_len);
        }
}

/* Writes replies; as each goes out whole, answers the next request
 * already buffered (a client may send several in one write). Returns -1
 * when the client was closed. */
static int client_pump(control_client *c) {
        while (c->out) {
                if (client_flush(c) < 0) {
                        client_close(c);
                        return -1;
                }
                if (c->out)
                        break; /* the client's buffer is full: wait until it reads */
                client_process(c);
        }
        return 0;
}

/* While its request waits for an answer, the client's further requests are only buffered;
 * reading on notices a client that hangs up. */
static void read_while_waiting(control_client *c, int fd) {
        if (c->in_len == MCS_REQUEST_MAX) {
                virEventUpdateHandle(c->watch, 0); /* full: read again once answered */
                return;
        }
        ssize_t n = recv(fd, c->in + c->in_len, MCS_REQUEST_MAX - c->in_len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return;
        if (n <= 0)
                client_close(c);
        else
                c->in_len += (size_t) n;
}

static void on_client(int watch, int fd, int events, void *opaque) {
        control_client *c = opaque;
        (void) watch;
        if (c->waiter) {
                read_while_waiting(c, fd);
                return;
        }
        if (!c->out && (events & (VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_HANGUP | VIR_EVENT_HANDLE_ERROR))) {
                ssize_t n = recv(fd, c->in + c->in_len, MCS_REQUEST_MAX - c->in_len, MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                        return;
                if (n < 0 || (n == 0 && c->in_len == 0)) {
                        client_close(c);
                        return;
                }
                if (n == 0)
                        client_reply(c,
                                     control_error_reply(MCS_PERR_TRUNCATED,
                                                         "the connection ended inside a request (%zu bytes without a newline)",
                                                         c->in_len),
                                     true);
                else {
                        c->in_len += (size_t) n;
                        client_process(c);
                }
        }
        client_pump(c);
}

static void client_wait(control_client *c, void (*forget)(void *waiter), void *waiter) {
        c->waiter = waiter;
        c->forget = forget;
}

static void client_answer(control_client *c, char *reply) {
        c->waiter = NULL;
        if (!reply) { /* out of memory */
                client_close(c);
                return;
        }
        c->deadline_ms = mcsd_now_ms() + c->d->cfg.client_timeout_ms;
        client_reply(c, reply, false);
        if (client_pump(c) == 0 && !c->out)
                virEventUpdateHandle(c->watch, VIR_EVENT_HANDLE_READABLE);
}

/* A last error line before a connection is dropped; best effort: an idle
 * or fresh socket's buffer takes one short line, and no one waits for it. */
static void send_last_words(int fd, char *reply) {
        if (!reply)
                return;
        ssize_t n = send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
        (void) n;
        free(reply);
}

static void refuse_client(int fd, const char *code, const char *msg) {
        send_last_words(fd, control_error_reply(code, "%s", msg));
        close(fd);
}

static bool in_group(const control_peer *p, int fd, gid_t gid) {
        gid_t groups[256];
        socklen_t len = sizeof groups;
        if (p->cred.gid == gid)
                return true;
        /* The peer's supplementary groups as they were at connect(). */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof groups[0]; i++)
                if (groups[i] == gid)
                        return true;
        return false;
}

#define REFUSAL_LOG_MS 1000

/* Logs how many refusals went unlogged, once their second is over. */
static void log_unlogged_refusals(mcsd *d, int64_t now) {
        if (!d->refusals_unlogged || now - d->refusal_logged_ms < REFUSAL_LOG_MS)
                return;
        log_msg(MCS_LOG_WARNING, "control socket: refused %u more clients (too many clients) since the last warning",
                d->refusals_unlogged);
        d->refusals_unlogged = 0;
}

/* One warning a second at most, so that no client can flood the log by
 * connecting over and over; the others are counted. */
static void log_refusal(mcsd *d, const control_peer *peer) {
        int64_t now = mcsd_now_ms();
        if (d->refusal_logged_ms && now - d->refusal_logged_ms < REFUSAL_LOG_MS) {
                d->refusals_unlogged++;
                return;
        }
        log_unlogged_refusals(d, now);
        log_msg(MCS_LOG_WARNING, "control socket: refusing uid %u pid %d: %u clients already", peer->cred.uid,
                peer->cred.pid, d->cfg.max_clients);
        d->refusal_logged_ms = now;
}

/* Makes room for an admin when every slot is taken: drops the non-admin
 * client idle the longest (its deadline is the earliest; one waiting for
 * its reply, or in the middle of a request, is busy and kept), so that
 * readers can never lock root out. */
static void evict_idle_reader(mcsd *d) {
        control_client *victim = NULL;
        for (size_t i = 0; i < d->n_clients; i++) {
                control_client *c = d->clients[i];
                if (c->peer.admin || c->out || c->in_len)
                        continue;
                if (!victim || c->deadline_ms < victim->deadline_ms)
                        victim = c;
        }
        if (!victim)
                return;
        log_msg(MCS_LOG_INFO, "control socket: dropping idle client uid %u pid %d to let an admin in",
                victim->peer.cred.uid, victim->peer.cred.pid);
        send_last_words(victim->fd, control_error_reply(MCS_PERR_TOO_MANY, "dropped to make room for an admin client"));
        client_close(victim);
}

static void accept_one(mcsd *d, int cfd) {
        control_peer peer = {0};
        socklen_t len = sizeof peer.cred;
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &peer.cred, &len) < 0) {
                log_msg(MCS_LOG_WARNING, "control socket: cannot read the peer's credentials: %s", strerror(errno));
                close(cfd);
                return;
        }
        peer.admin = peer.cred.uid == 0 || (d->admin_gid_valid && in_group(&peer, cfd, d->admin_gid));
        if (d->n_clients >= d->cfg.max_clients && peer.admin)
                evict_idle_reader(d);
        if (d->n_clients >= d->cfg.max_clients) {
                log_refusal(d, &peer);
                refuse_client(cfd, MCS_PERR_TOO_MANY, "too many clients; try again later");
                return;
        }
        control_client *c = calloc(1, sizeof *c);
        control_client **v = realloc(d->clients, (d->n_clients + 1) * sizeof *v);
        if (v)
                d->clients = v;
        if (!c || !v || !(c->in = malloc(MCS_REQUEST_MAX))) {
                if (c)
                        free(c->in);
                free(c);
                refuse_client(cfd, "no-memory", "out of memory");
                return;
        }
        c->d = d;
        c->fd = cfd;
        c->peer = peer;
        c->deadline_ms = mcsd_now_ms() + d->cfg.client_timeout_ms;
        c->watch = virEventAddHandle(cfd, VIR_EVENT_HANDLE_READABLE, on_client, c, NULL);
        if (c->watch < 0) {
                client_free(c);
                return;
        }
        d->clients[d->n_clients++] = c;
}

static void on_listen(int watch, int fd, int events, void *opaque) {
        mcsd *d = opaque;
        (void) watch;
        (void) events;
        for (int i = 0; i < ACCEPT_BATCH; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                                log_msg(MCS_LOG_WARNING, "control socket: accept: %s", strerror(errno));
                        return;
                }
                accept_one(d, cfd);
        }
}

/* Drops clients past their deadline: idle, or not reading their reply. */
static void on_sweep(int timer, void *opaque) {
        mcsd *d = opaque;
        int64_t now = mcsd_now_ms();
        (void) timer;
        log_unlogged_refusals(d, now);
        for (size_t i = 0; i < d->n_clients;) {
                control_client *c = d->clients[i];
                if (c->deadline_ms > now || c->waiter) {
                        i++;
                        continue;
                }
                log_msg(MCS_LOG_DEBUG, "control socket: dropping idle client uid %u pid %d", c->peer.cred.uid,
                        c->peer.cred.pid);
                if (!c->out)
                        send_last_words(c->fd, control_error_reply(MCS_PERR_TIMEOUT, "no complete request within %u ms",
                                                                   d->cfg.client_timeout_ms));
                client_close(c); /* swaps the last client into slot i */
        }
}

static int resolve_group(const char *name, gid_t *out, const char *key, mcs_err *e) {
        struct group *g = getgrnam(name);
        if (!g)
                return mcs_fail(e, MCS_E_NOTFOUND, "%s: no group named '%s'", key, name);
        *out = g->gr_gid;
        return 0;
}

void control_resolve_admin(mcsd *d) {
        mcs_err e = {0};
        d->admin_gid_valid = d->cfg.admin_group && resolve_group(d->cfg.admin_group, &d->admin_gid, "admin_group", &e) == 0;
        if (d->cfg.admin_group && !d->admin_gid_valid)
                log_msg(MCS_LOG_WARNING, "%s; only root may change reservations", e.msg);
}

static const client_port port = {.wait = client_wait, .answer = client_answer};

int control_start(mcsd *d, mcs_err *e) {
        const char *path = d->cfg.socket ? d->cfg.socket : MCS_DEFAULT_SOCKET;
        bool passed = d->passed_control_fd >= 0;
        int r;

        snprintf(d->socket_path, sizeof d->socket_path, "%s", path);
        d->client_port = &port;
        control_resolve_admin(d);
        if (passed) {
                d->listen_fd = d->passed_control_fd;
                struct sockaddr_un sa;
                socklen_t len = sizeof sa;
                if (getsockname(d->listen_fd, (struct sockaddr *) &sa, &len) == 0 && sa.sun_path[0])
                        snprintf(d->socket_path, sizeof d->socket_path, "%s", sa.sun_path);
        } else {
                if (d->cfg.socket_group && (r = resolve_group(d->cfg.socket_group, &d->socket_gid, "socket_group", e)) < 0)
                        return r;
                if ((r = listen_unix(path, d->cfg.socket_mode, d->cfg.socket_group ? &d->socket_gid : NULL,
                                     &d->listen_fd, e)) < 0)
                        return r;
                d->socket_created = true;
        }
        d->listen_watch = virEventAddHandle(d->listen_fd, VIR_EVENT_HANDLE_READABLE, on_listen, d, NULL);
        d->sweep_timer = virEventAddTimeout(SWEEP_MS, on_sweep, d, NULL);
        if (d->listen_watch < 0 || d->sweep_timer < 0)
                return mcs_fail(e, MCS_E_IO, "cannot watch the control socket");
        log_msg(MCS_LOG_INFO, "control socket %s%s", d->socket_path, passed ? " (from systemd)" : "");
        return 0;
}

void control_stop(mcsd *d) {
        while (d->n_clients)
                client_close(d->clients[0]);
        free(d->clients);
        d->clients = NULL;
        if (d->listen_watch >= 0)
                virEventRemoveHandle(d->listen_watch);
        if (d->sweep_timer >= 0)
                virEventRemoveTimeout(d->sweep_timer);
        d->listen_watch = d->sweep_timer = -1;
        if (d->listen_fd >= 0)
                close(d->listen_fd);
        d->listen_fd = -1;
        /* A socket systemd passed stays; systemd owns it. */
        if (d->socket_created)
                unlink(d->socket_path);
}
