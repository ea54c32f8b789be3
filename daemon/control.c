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

#include "control.h"
#include "log.h"
#include "mcs-macro.h"
#include "mcs-protocol.h"
#include "mcsd.h"
#include "methods.h"

#define ACCEPT_BATCH 64
#define SWEEP_MS 250

struct control {
        mcsd *d;                     /* requests go to it; its config is read */
        int listen_fd, listen_watch, sweep_timer; /* -1: none */
        int passed_fd;               /* systemd's socket, taken at start; -1: none */
        char socket_path[108];
        bool socket_created;         /* mcsd bound it (not systemd): unlinked at exit */
        gid_t socket_gid, admin_gid;
        bool admin_gid_valid;
        control_client **clients;
        size_t n_clients;
        int64_t refusal_logged_ms;   /* the last "refusing" warning; 0: none yet */
        unsigned refusals_unlogged;  /* refused since, not logged one by one */
};

struct control_client {
        control *ctl;
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

/* How the parts that answer a request later reach its client. */
static const client_port port;

static void client_free(control_client *c) {
        close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
}

static void client_close(control_client *c) {
        control *ctl = c->ctl;
        if (c->waiter)
                c->forget(c->waiter); /* it finishes; its reply is dropped */
        for (size_t i = 0; i < ctl->n_clients; i++)
                if (ctl->clients[i] == c) {
                        ctl->clients[i] = ctl->clients[--ctl->n_clients];
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
                c->deadline_ms = mcsd_now_ms() + c->ctl->d->cfg.client_timeout_ms;
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
                char *reply = control_dispatch(c->ctl->d, &c->peer, c, &port, c->in, len);
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
        c->deadline_ms = mcsd_now_ms() + c->ctl->d->cfg.client_timeout_ms;
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
static void log_unlogged_refusals(control *ctl, int64_t now) {
        if (!ctl->refusals_unlogged || now - ctl->refusal_logged_ms < REFUSAL_LOG_MS)
                return;
        log_msg(MCS_LOG_WARNING, "control socket: refused %u more clients (too many clients) since the last warning",
                ctl->refusals_unlogged);
        ctl->refusals_unlogged = 0;
}

/* One warning a second at most, so that no client can flood the log by
 * connecting over and over; the others are counted. */
static void log_refusal(control *ctl, const control_peer *peer) {
        int64_t now = mcsd_now_ms();
        if (ctl->refusal_logged_ms && now - ctl->refusal_logged_ms < REFUSAL_LOG_MS) {
                ctl->refusals_unlogged++;
                return;
        }
        log_unlogged_refusals(ctl, now);
        log_msg(MCS_LOG_WARNING, "control socket: refusing uid %u pid %d: %u clients already", peer->cred.uid,
                peer->cred.pid, ctl->d->cfg.max_clients);
        ctl->refusal_logged_ms = now;
}

/* Makes room for an admin when every slot is taken: drops the non-admin
 * client idle the longest (its deadline is the earliest; one waiting for
 * its reply, or in the middle of a request, is busy and kept), so that
 * readers can never lock root out. */
static void evict_idle_reader(control *ctl) {
        control_client *victim = NULL;
        for (size_t i = 0; i < ctl->n_clients; i++) {
                control_client *c = ctl->clients[i];
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

static void accept_one(control *ctl, int cfd) {
        control_peer peer = {0};
        socklen_t len = sizeof peer.cred;
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &peer.cred, &len) < 0) {
                log_msg(MCS_LOG_WARNING, "control socket: cannot read the peer's credentials: %s", strerror(errno));
                close(cfd);
                return;
        }
        peer.admin = peer.cred.uid == 0 || (ctl->admin_gid_valid && in_group(&peer, cfd, ctl->admin_gid));
        if (ctl->n_clients >= ctl->d->cfg.max_clients && peer.admin)
                evict_idle_reader(ctl);
        if (ctl->n_clients >= ctl->d->cfg.max_clients) {
                log_refusal(ctl, &peer);
                refuse_client(cfd, MCS_PERR_TOO_MANY, "too many clients; try again later");
                return;
        }
        control_client *c = calloc(1, sizeof *c);
        control_client **v = realloc(ctl->clients, (ctl->n_clients + 1) * sizeof *v);
        if (v)
                ctl->clients = v;
        if (!c || !v || !(c->in = malloc(MCS_REQUEST_MAX))) {
                if (c)
                        free(c->in);
                free(c);
                refuse_client(cfd, "no-memory", "out of memory");
                return;
        }
        c->ctl = ctl;
        c->fd = cfd;
        c->peer = peer;
        c->deadline_ms = mcsd_now_ms() + ctl->d->cfg.client_timeout_ms;
        c->watch = virEventAddHandle(cfd, VIR_EVENT_HANDLE_READABLE, on_client, c, NULL);
        if (c->watch < 0) {
                client_free(c);
                return;
        }
        ctl->clients[ctl->n_clients++] = c;
}

static void on_listen(int watch, int fd, int events, void *opaque) {
        control *ctl = opaque;
        (void) watch;
        (void) events;
        for (int i = 0; i < ACCEPT_BATCH; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                                log_msg(MCS_LOG_WARNING, "control socket: accept: %s", strerror(errno));
                        return;
                }
                accept_one(ctl, cfd);
        }
}

/* Drops clients past their deadline: idle, or not reading their reply. */
static void on_sweep(int timer, void *opaque) {
        control *ctl = opaque;
        int64_t now = mcsd_now_ms();
        (void) timer;
        log_unlogged_refusals(ctl, now);
        for (size_t i = 0; i < ctl->n_clients;) {
                control_client *c = ctl->clients[i];
                if (c->deadline_ms > now || c->waiter) {
                        i++;
                        continue;
                }
                log_msg(MCS_LOG_DEBUG, "control socket: dropping idle client uid %u pid %d", c->peer.cred.uid,
                        c->peer.cred.pid);
                if (!c->out)
                        send_last_words(c->fd, control_error_reply(MCS_PERR_TIMEOUT, "no complete request within %u ms",
                                                                   ctl->d->cfg.client_timeout_ms));
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

void control_resolve_admin(control *ctl) {
        const mcs_config *cfg = &ctl->d->cfg;
        mcs_err e = {0};
        ctl->admin_gid_valid =
                cfg->admin_group && resolve_group(cfg->admin_group, &ctl->admin_gid, "admin_group", &e) == 0;
        if (cfg->admin_group && !ctl->admin_gid_valid)
                log_msg(MCS_LOG_WARNING, "%s; only root may change reservations", e.msg);
}

static size_t client_connected(const control_client *c) {
        return c->ctl->n_clients;
}

static const client_port port = {.wait = client_wait, .answer = client_answer, .connected = client_connected};

int control_new(control **out, mcsd *d, int passed_fd, mcs_err *e) {
        control *ctl = calloc(1, sizeof *ctl);
        *out = NULL;
        if (!ctl) {
                if (passed_fd >= 0)
                        close(passed_fd);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        *ctl = (control){.d = d, .listen_fd = -1, .listen_watch = -1, .sweep_timer = -1, .passed_fd = passed_fd};
        *out = ctl;
        return 0;
}

int control_start(mcsd *d, mcs_err *e) {
        control *ctl = d->control;
        const mcs_config *cfg = &d->cfg;
        const char *path = cfg->socket ? cfg->socket : MCS_DEFAULT_SOCKET;
        bool passed = ctl->passed_fd >= 0;
        int r;

        snprintf(ctl->socket_path, sizeof ctl->socket_path, "%s", path);
        control_resolve_admin(ctl);
        if (passed) {
                ctl->listen_fd = ctl->passed_fd;
                ctl->passed_fd = -1;
                struct sockaddr_un sa;
                socklen_t len = sizeof sa;
                if (getsockname(ctl->listen_fd, (struct sockaddr *) &sa, &len) == 0 && sa.sun_path[0])
                        snprintf(ctl->socket_path, sizeof ctl->socket_path, "%s", sa.sun_path);
        } else {
                if (cfg->socket_group &&
                    (r = resolve_group(cfg->socket_group, &ctl->socket_gid, "socket_group", e)) < 0)
                        return r;
                if ((r = listen_unix(path, cfg->socket_mode, cfg->socket_group ? &ctl->socket_gid : NULL,
                                     &ctl->listen_fd, e)) < 0)
                        return r;
                ctl->socket_created = true;
        }
        ctl->listen_watch = virEventAddHandle(ctl->listen_fd, VIR_EVENT_HANDLE_READABLE, on_listen, ctl, NULL);
        ctl->sweep_timer = virEventAddTimeout(SWEEP_MS, on_sweep, ctl, NULL);
        if (ctl->listen_watch < 0 || ctl->sweep_timer < 0)
                return mcs_fail(e, MCS_E_IO, "cannot watch the control socket");
        log_msg(MCS_LOG_INFO, "control socket %s%s", ctl->socket_path, passed ? " (from systemd)" : "");
        return 0;
}

void control_stop(mcsd *d) {
        control *ctl = d->control;
        if (!ctl)
                return;
        while (ctl->n_clients)
                client_close(ctl->clients[0]);
        free(ctl->clients);
        if (ctl->listen_watch >= 0)
                virEventRemoveHandle(ctl->listen_watch);
        if (ctl->sweep_timer >= 0)
                virEventRemoveTimeout(ctl->sweep_timer);
        if (ctl->listen_fd >= 0)
                close(ctl->listen_fd);
        if (ctl->passed_fd >= 0) /* never started: still systemd's */
                close(ctl->passed_fd);
        /* A socket systemd passed stays; systemd owns it. */
        if (ctl->socket_created)
                unlink(ctl->socket_path);
        free(ctl);
        d->control = NULL;
}
