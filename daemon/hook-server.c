/* The hook socket, served by a thread of its own with its own registry
 * handle. libvirtd runs the hook while it holds the guest, and every
 * libvirt call mcsd's main loop makes about that guest waits for the hook
 * to finish: if the main loop served the hook too, it could wait for
 * itself. This thread never calls libvirt. Only root may connect (libvirt
 * runs hooks as root); one request per connection. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hook-params.h"
#include "log.h"
#include "mcs-message-ids.h"
#include "mcs-domain-label.h"
#include "mcs-group-commit.h"
#include "mcs-guest-images.h"
#include "mcs-hook-rules.h"
#include "mcs-macro.h"
#include "methods.h"
#include "metrics.h"

#define IO_TIMEOUT_S 2
/* At most this many hook requests share one registry commit. */
#define HOOK_GROUP_MAX 16

struct hook_server {
        pthread_t thread;
        int listen_fd;
        bool created;        /* mcsd bound it (not systemd) */
        char path[108];
        int wake[2];         /* written to stop the thread */
        bool running;
        /* What the thread works from: its own copy of the config and the
         * host id, replaced whole while it is stopped (a reload), never the
         * daemon's state; the policy is handed over by the main loop. */
        mcs_config cfg;
        char host_id[MCS_HOST_MAX + 1];
        _Atomic int policy;     /* mcs_label_policy; -1 until libvirt answered */
        mcsd_metrics *metrics;  /* thread-safe counters, shared with the main loop */
        mcs_registry *reg;   /* the thread's own handle */
        mcs_images *images;  /* and its own image types and policy checker */
        _Atomic int64_t busy_since_ms; /* inside a request since then; 0: waiting (the watchdog reads it) */
        struct {
                _Atomic uint64_t requests, commits, largest; /* read by status in the main loop */
        } stats;
};


static void set_msg(mcs_hook_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(mcs_hook_verdict *v, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->msg, sizeof v->msg, fmt, ap); /* a long path may cut the message; it stays a message */
        va_end(ap);
}

struct image_failures {
        char first[MCS_ERR_MSG_MAX];
        unsigned n;
};

static void note_image(void *opaque, const char *path, const char *context, const mcs_label_result *res,
                       const mcs_err *err) {
        struct image_failures *f = opaque;
        (void) path;
        (void) context;
        (void) res;
        if (err && !f->n++)
                snprintf(f->first, sizeof f->first, "%s", err->msg);
}

/* A relabel='no' guest about to start: its images must carry its label,
 * or it is refused. The disks come from the guest's XML. */
static void label_images(hook_server *h, const mcs_domain *d, const mcs_hook_request *rq, mcs_hook_verdict *v) {
        struct image_failures f = {0};
        char level[MCS_RANGE_STRMAX];
        mcs_err e = {0};
        if (d->relabel)
                return;
        int r = mcs_context_level(rq->label, level, sizeof level, &e);
        if (r == 0)
                r = mcs_images_label(h->images, h->reg, &h->cfg, d, level, note_image, &f, &e);
        if (r < 0)
                set_msg(v, "guest '%s': cannot label its images: %s", rq->name, e.msg);
        else if (r > 0)
                set_msg(v, "guest '%s': %d of its images could not be labelled: %s", rq->name, r, f.first);
        v->allow = r == 0;
}

/* A transient guest's reservation went at release end: its private images
 * get their labels from before back, as when mcsd releases a label. A
 * failure is logged and the original kept in the registry for a later
 * release path; the guest has stopped, so the verdict stays. */
static void restore_images(hook_server *h, const mcs_hook_request *rq, mcs_hook_verdict *v) {
        struct image_failures f = {0};
        mcs_err e = {0};
        int r = mcs_images_restore(h->images, h->reg, &h->cfg, h->host_id, rq->uuid, v->released, note_image, &f,
                                   &e);
        if (r < 0)
                log_guest(MCS_LOG_ERROR, rq->name, rq->uuid, NULL, "guest '%s': cannot restore its images: %s", rq->name,
                          e.msg);
        else if (r > 0)
                log_guest(MCS_LOG_ERROR, rq->name, rq->uuid, NULL, "guest '%s': %d of its images kept its label: %s",
                          rq->name, r, f.first);
        else
                return;
        char was[sizeof v->msg];
        memcpy(was, v->msg, sizeof was);
        set_msg(v, "%s; its images were not all restored", was);
}

/* Why a request is stale (the hook gave up on it: its deadline passed, or
 * it hung up), or NULL. A hook that fails closed refused such a start
 * already; one that may fail open may have let it go on (may_go_on). */
static const char *stale(json_object *params, int fd, char *buf, size_t size) {
        json_object *v;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t now_ms = (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
        if (json_object_object_get_ex(params, "deadline", &v) && json_object_get_int64(v) < now_ms) {
                snprintf(buf, size, "its deadline passed %lld ms ago", (long long) (now_ms - json_object_get_int64(v)));
                return buf;
        }
        /* POLLHUP: the hook closed its socket (it gave up); one that only
         * shut down its writing side still waits for the answer. */
        struct pollfd p = {.fd = fd};
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLHUP))
                return "the hook hung up";
        return NULL;
}

/* Whether the hook that sent params may let the start go on when it gives
 * up on mcsd: it says so (fail_open), or mcsd.conf, which it reads too,
 * does. Either suffices: the hook may have read a newer mcsd.conf than
 * this mcsd (before a reload). */
static bool may_fail_open(const mcs_config *cfg, json_object *params) {
        json_object *v;
        return cfg->hook_fail_open ||
               (json_object_object_get_ex(params, "fail_open", &v) && json_object_get_boolean(v));
}

/* One hook connection, from its request to its reply. */
typedef struct hook_call {
        int fd;
        struct ucred peer;
        json_object *req, *id, *params;
        mcs_domain dom;
        mcs_hook_request rq;
        bool parsed;        /* rq and dom hold the request: it is decided */
        bool may_go_on;     /* a hook that gives up on it may let the start go on (fail-open) */
        mcs_hook_verdict v;
        reply_err err;
        bool failed;        /* err is the answer */
        int64_t t0_ns;      /* accepted then (metrics_mono_ns) */
} hook_call;

/* Operations whose refusal stops a guest from running (as mcsctl hook's). */
static bool gates_start(mcs_hook_op op) {
        return op == MCS_HOOK_PREPARE || op == MCS_HOOK_START || op == MCS_HOOK_RESTORE || op == MCS_HOOK_MIGRATE;
}

/* The journal's id for a request mcsd could not decide: a hook that may
 * fail open lets a start go on, one that fails closed refuses it. */
static const char *undecided_id(const hook_call *c) {
        if (!gates_start(c->rq.op))
                return NULL;
        return c->may_go_on ? MCS_MSGID_FAIL_OPEN : MCS_MSGID_HOOK_REFUSED;
}

/* The registry part of the decision: made for every call of a group in
 * one batch. No file is touched and nothing is answered before it is
 * durable. */
static void decide_registry(hook_server *h, hook_call *c) {
        mcs_err e = {0};
        const mcs_hook_request *rq = &c->rq;
        char late[64];
        const char *why_late = stale(c->params, c->fd, late, sizeof late);
        c->may_go_on = may_fail_open(&h->cfg, c->params);
        /* Late for a hook that may fail open: decided all the same, since the
         * guest may be running; what that reserves is kept (decide_finish). */
        if (why_late && c->may_go_on)
                log_event(MCS_MSGID_FAIL_OPEN, MCS_LOG_WARNING, rq->name, rq->uuid, NULL,
                          "hook %s (pid %d): a late request for guest '%s' (%s) is decided all the same: with "
                          "hook_fail_open the start may have gone on",
                          mcs_hook_op_name(rq->op), (int) c->peer.pid, rq->name, why_late);
        else if (why_late) {
                log_guest(MCS_LOG_WARNING, rq->name, rq->uuid, NULL,
                          "hook %s (pid %d): dropped a late request for guest '%s' (%s); the hook refused it already",
                          mcs_hook_op_name(rq->op), (int) c->peer.pid, rq->name, why_late);
                c->failed = fail(&c->err, MCS_PERR_TIMEOUT, "hook: request dropped: %s", why_late) < 0;
                return;
        }
        int policy = atomic_load(&h->policy);
        if (policy == MCS_LABELS_RESERVE && rq->op == MCS_HOOK_MIGRATE) {
                /* No label to check, but the registry records an incoming
                 * migration as on an SELinux host (docs/mcsd.md, Migration). */
                mcs_hook_request unlabelled = *rq;
                unlabelled.label = NULL;
                if (mcs_hook_decide(h->reg, &h->cfg, &unlabelled, &c->v, &e) < 0) {
                        log_event(undecided_id(c), MCS_LOG_ERROR, rq->name, rq->uuid, NULL,
                                  "hook %s for guest '%s': %s", mcs_hook_op_name(rq->op), rq->name, e.msg);
                        c->failed = fail_mcs(&c->err, &e) < 0;
                }
        } else if (policy == MCS_LABELS_RESERVE || policy == MCS_LABELS_OFF) {
                /* Until libvirt has answered (-1) the checks apply: fail closed. */
                c->v = (mcs_hook_verdict){.allow = true};
                set_msg(&c->v, "libvirt on this host has no SELinux security driver; mcsd labels no guest here");
        } else if (mcs_hook_decide(h->reg, &h->cfg, rq, &c->v, &e) < 0) {
                log_event(undecided_id(c), MCS_LOG_ERROR, rq->name, rq->uuid, NULL, "hook %s for guest '%s': %s",
                          mcs_hook_op_name(rq->op), rq->name, e.msg);
                c->failed = fail_mcs(&c->err, &e) < 0;
        }
}

/* What follows from a durable decision: images, a late hook, the log. */
static void decide_finish(hook_server *h, hook_call *c) {
        const mcs_hook_request *rq = &c->rq;
        mcs_hook_verdict *v = &c->v;
        const char *op = mcs_hook_op_name(rq->op);
        mcs_err e = {0};
        char late[64];
        const char *why_late;
        int policy = atomic_load(&h->policy);

        if (v->allow && policy == MCS_LABELS_WRITE && rq->op == MCS_HOOK_PREPARE && rq->mode == MCS_SECLABEL_STATIC &&
            rq->label)
                label_images(h, &c->dom, rq, v);
        /* The hook gave up while this was being decided (registry waits can
         * add up past its deadline). A hook that fails closed refused the
         * start, so a reservation made for it is undone, unless the record
         * changed meanwhile. One that may fail open may have let it go on:
         * nothing is undone, the guest may run on it (reconcile releases a
         * dynamic record whose guest never ran, after undefine_grace). */
        if ((why_late = stale(c->params, c->fd, late, sizeof late)) && c->may_go_on) {
                log_event(MCS_MSGID_FAIL_OPEN, v->allow ? MCS_LOG_WARNING : MCS_LOG_ERROR, rq->name, rq->uuid,
                          rq->label,
                          "hook %s (pid %d): the hook gave up on guest '%s' (%s) and may have let it start "
                          "(hook_fail_open); %s%s%s",
                          op, (int) c->peer.pid, rq->name, why_late,
                          v->allow ? "its reservation stays" : "it was REFUSED, yet may be running",
                          v->msg[0] ? ": " : "", v->msg);
        } else if (v->created && why_late) {
                int r = mcs_registry_release_if(h->reg, rq->uuid, h->host_id, v->generation, NULL, &e);
                /* Images labelled for it at prepare get their labels back. */
                if (r == 0 && rq->label && mcs_context_level(rq->label, v->released, sizeof v->released, NULL) == 0)
                        restore_images(h, rq, v);
                log_guest(MCS_LOG_WARNING, rq->name, rq->uuid, NULL,
                          "hook %s (pid %d): the hook gave up on guest '%s' (%s) while it was decided; %s%s", op,
                          (int) c->peer.pid, rq->name, why_late,
                          r == 0 ? "its new reservation is undone" : "its reservation stays: ", r == 0 ? "" : e.msg);
                c->failed = fail(&c->err, MCS_PERR_TIMEOUT, "hook: request dropped: %s", why_late) < 0;
                return;
        }
        /* A late decision for a fail-open hook goes on as a timely one. */
        if (v->released[0])
                restore_images(h, rq, v);
        log_event(!v->allow && gates_start(rq->op) ? MCS_MSGID_HOOK_REFUSED
                  : v->allow && v->created       ? MCS_MSGID_RESERVED
                                                 : NULL,
                  v->allow ? (v->msg[0] ? MCS_LOG_INFO : MCS_LOG_DEBUG) : MCS_LOG_ERROR, rq->name, rq->uuid, rq->label,
                  "hook %s (pid %d): guest '%s' %s%s%s", op, (int) c->peer.pid, rq->name, v->allow ? "allowed" : "REFUSED",
                  v->msg[0] ? ": " : "", v->msg);
}

/* Parses the request line; a call that cannot be decided gets its error. */
static void parse(hook_call *c, const char *line, size_t len) {
        const char *method;
        if (control_parse_request(line, len, &c->req, &c->err) < 0 ||
            control_check_envelope(c->req, &c->id, &method, &c->err) < 0) {
                c->failed = true;
                return;
        }
        if (strcmp(method, "hook"))
                c->failed = fail(&c->err, MCS_PERR_METHOD, "the hook socket answers the method 'hook' only") < 0;
        else if (!json_object_object_get_ex(c->req, "params", &c->params) ||
                 !json_object_is_type(c->params, json_type_object))
                c->failed = fail(&c->err, MCS_PERR_BAD_REQUEST, "hook: 'params' must be an object") < 0;
        else if (hook_parse_params(c->params, &c->dom, &c->rq, &c->err) < 0) {
                log_msg(MCS_LOG_ERROR, "hook (pid %d): %s", (int) c->peer.pid, c->err.msg);
                c->failed = true;
        } else
                c->parsed = true;
}

/* Reads the call's one request line (blocking, with deadlines; root
 * only) and parses it, or sets the answer. Returns -1 when the client went
 * away before it sent one. */
static int receive(hook_call *c) {
        socklen_t len = sizeof c->peer;
        struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
        size_t got = 0, cap = MCS_REQUEST_MAX;
        _cleanup_free_ char *buf = NULL;
        char *nl = NULL;
        bool oom;

        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) < 0 || c->peer.uid != 0) {
                fail(&c->err, MCS_PERR_DENIED, "the hook socket is for root (libvirt's hooks) only");
                c->failed = true;
                return 0;
        }
        /* The request carries the domain XML: its buffer grows up to the hook's own limit. */
        oom = !(buf = malloc(cap));
        while (!oom && !nl) {
                if (got == cap) {
                        if (cap == MCS_HOOK_REQUEST_MAX)
                                break;
                        size_t more = cap * 4 < MCS_HOOK_REQUEST_MAX ? cap * 4 : MCS_HOOK_REQUEST_MAX;
                        char *nb = realloc(buf, more);
                        if (!(oom = !nb)) {
                                buf = nb;
                                cap = more;
                        }
                        continue;
                }
                ssize_t n = recv(c->fd, buf + got, cap - got, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                nl = memchr(buf + got, '\n', (size_t) n);
                got += (size_t) n;
        }
        c->failed = !nl;
        if (oom)
                fail(&c->err, mcs_code_name(MCS_E_NOMEM), "out of memory");
        else if (!nl)
                fail(&c->err, MCS_PERR_TOO_LARGE, "a hook request line is limited to %u bytes", MCS_HOOK_REQUEST_MAX);
        else
                parse(c, buf, (size_t) (nl - buf));
        return 0;
}

static void respond(hook_call *c) {
        json_object *result = NULL;
        if (!c->failed) {
                result = json_object_new_object();
                json_object_object_add(result, "allow", json_object_new_boolean(c->v.allow));
                json_object_object_add(result, "message", json_str(c->v.msg[0] ? c->v.msg : NULL));
        }
        char *reply = control_reply(c->id, result, &c->err);
        if (!reply)
                return;
        size_t off = 0, n = strlen(reply);
        while (off < n) {
                ssize_t w = send(c->fd, reply + off, n - off, MSG_NOSIGNAL);
                if (w <= 0)
                        break;
                off += (size_t) w;
        }
        free(reply);
}

static void call_clear(hook_call *c) {
        mcs_domain_clear(&c->dom);
        json_object_put(c->req);
        close(c->fd);
}

/* Decides the parsed calls, their registry writes in one batch when there
 * are several (group commit). A batch that meets a storage failure or is
 * not committed stores nothing: every call in it is answered with that
 * failure, and the hook refuses (fail closed). */
typedef struct hook_group {
        hook_server *h;
        hook_call **v; /* the calls parsed, in order */
} hook_group;

static int decide_one(void *ctx, size_t i, mcs_err *e) {
        hook_group *g = ctx;
        hook_call *c = g->v[i];
        decide_registry(g->h, c);
        if (c->failed && c->err.fault)
                return mcs_fail(e, c->err.mcs, "%s", c->err.msg);
        return 0;
}

static void decide_group(hook_server *h, hook_call *calls, size_t n) {
        hook_call *parsed_calls[HOOK_GROUP_MAX];
        size_t parsed = 0, stands = 0;
        for (size_t i = 0; i < n && parsed < HOOK_GROUP_MAX; i++)
                if (calls[i].parsed)
                        parsed_calls[parsed++] = &calls[i];
        /* One group commit (lib/registry's rules): the calls from `stands`
         * on were not stored, or not decided, for `why`. */
        int64_t t0 = metrics_mono_ns();
        hook_group g = {h, parsed_calls};
        mcs_err e = {0};
        reply_err why = {0};
        bool fault = mcs_registry_group_write(h->reg, parsed, decide_one, &g, &stands, &e) < 0;
        if (fault)
                fail_mcs(&why, &e);
        for (size_t i = stands; i < parsed; i++)
                parsed_calls[i]->failed =
                        fail(&parsed_calls[i]->err, why.code, "hook: not stored, the registry failed: %s", why.msg) < 0;
        /* A storage failure stops the group, so only a failed group stored nothing. */
        bool stored = !fault;
        if (parsed)
                metrics_registry_write(h->metrics, METRICS_WRITER_HOOK, metrics_mono_ns() - t0, stored);
        if (fault)
                log_msg(MCS_LOG_ERROR, "hook: %zu of %zu requests decided together were not stored: %s", parsed - stands,
                        parsed, why.msg);
        for (size_t i = 0; i < n; i++) {
                hook_call *c = &calls[i];
                if (!c->parsed)
                        continue;
                if (!c->failed)
                        decide_finish(h, c);
                if (!c->failed && c->v.created)
                        metrics_reservation(h->metrics, METRICS_RESERVE_CREATED);
                if (!c->failed && c->v.released[0])
                        metrics_release(h->metrics, METRICS_RELEASE_RELEASED);
        }
        atomic_fetch_add(&h->stats.requests, parsed);
        if (parsed)
                atomic_fetch_add(&h->stats.commits, 1);
        if (parsed > atomic_load(&h->stats.largest))
                atomic_store(&h->stats.largest, parsed);
}

static void serve_calls(hook_server *h, hook_call *calls, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (receive(&calls[i]) < 0) {
                        call_clear(&calls[i]);
                        calls[i--] = calls[--n];
                }
        decide_group(h, calls, n);
        for (size_t i = 0; i < n; i++) {
                respond(&calls[i]);
                metrics_decision dec = calls[i].failed ? METRICS_HOOK_ERROR
                                       : calls[i].v.allow ? METRICS_HOOK_ALLOWED
                                                          : METRICS_HOOK_REFUSED;
                metrics_hook(h->metrics, calls[i].parsed ? calls[i].rq.op : MCS_HOOK_OTHER, dec,
                             metrics_mono_ns() - calls[i].t0_ns);
                call_clear(&calls[i]);
        }
}

/* Accepts fd's call and every other one already waiting, up to
 * HOOK_GROUP_MAX: starts that libvirt runs at the same moment share one
 * commit, and each is answered once the group is decided. A connection
 * whose request has not arrived yet is served alone afterwards, so that
 * no slow client holds up a group. */
static void serve_group(hook_server *h, int fd) {
        hook_call group[HOOK_GROUP_MAX], alone[HOOK_GROUP_MAX];
        size_t n = 0, m = 0;
        group[n++] = (hook_call){.fd = fd, .t0_ns = metrics_mono_ns()};
        while (n + m < HOOK_GROUP_MAX) {
                int more = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (more < 0)
                        break;
                fcntl(more, F_SETFL, fcntl(more, F_GETFL) & ~O_NONBLOCK);
                struct pollfd p = {.fd = more, .events = POLLIN};
                if (poll(&p, 1, 0) == 1)
                        group[n++] = (hook_call){.fd = more, .t0_ns = metrics_mono_ns()};
                else
                        alone[m++] = (hook_call){.fd = more, .t0_ns = metrics_mono_ns()};
        }
        serve_calls(h, group, n);
        for (size_t i = 0; i < m; i++) {
                atomic_store(&h->busy_since_ms, mcsd_now_ms());
                serve_calls(h, &alone[i], 1);
        }
}

static void *run(void *arg) {
        hook_server *h = arg;
        for (;;) {
                struct pollfd p[2] = {{.fd = h->listen_fd, .events = POLLIN}, {.fd = h->wake[0], .events = POLLIN}};
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        log_msg(MCS_LOG_ERROR, "hook socket: poll: %s", strerror(errno));
                        return NULL;
                }
                if (p[1].revents)
                        return NULL;
                int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                atomic_store(&h->busy_since_ms, mcsd_now_ms());
                serve_group(h, fd);
                atomic_store(&h->busy_since_ms, 0);
        }
}

static int run_thread(hook_server *h, mcs_err *e) {
        mcs_catset pool;
        int r = mcsd_open_registry(&h->cfg, h->host_id, &h->reg, &pool, e);
        if (r < 0)
                return r;
        if (!(h->images = mcs_images_new())) {
                mcs_registry_close(h->reg);
                h->reg = NULL;
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        if (pipe2(h->wake, O_CLOEXEC) < 0 || pthread_create(&h->thread, NULL, run, h) != 0) {
                r = mcs_fail(e, MCS_E_IO, "cannot start the hook thread: %s", strerror(errno));
                if (h->wake[0] >= 0) {
                        close(h->wake[0]);
                        close(h->wake[1]);
                }
                h->wake[0] = h->wake[1] = -1;
                mcs_registry_close(h->reg);
                h->reg = NULL;
                mcs_images_free(h->images);
                h->images = NULL;
                return r;
        }
        h->running = true;
        return 0;
}

static void stop_thread(hook_server *h) {
        if (!h->running)
                return;
        if (write(h->wake[1], "x", 1) < 0)
                log_msg(MCS_LOG_WARNING, "hook socket: cannot wake its thread: %s", strerror(errno));
        pthread_join(h->thread, NULL);
        close(h->wake[0]);
        close(h->wake[1]);
        h->wake[0] = h->wake[1] = -1;
        mcs_registry_close(h->reg);
        h->reg = NULL;
        mcs_images_free(h->images);
        h->images = NULL;
        h->running = false;
}

int hook_server_start(mcsd *d, mcs_err *e) {
        hook_server *h = calloc(1, sizeof *h);
        int r;

        if (!h)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        *h = (hook_server){.listen_fd = d->passed_hook_fd, .wake = {-1, -1}, .metrics = d->metrics};
        atomic_store(&h->policy, d->hook_policy);
        snprintf(h->host_id, sizeof h->host_id, "%s", d->host_id);
        if ((r = mcs_config_copy(&h->cfg, &d->cfg, e)) < 0) {
                free(h);
                return r;
        }
        snprintf(h->path, sizeof h->path, "%s", mcs_config_hook_socket(&d->cfg));
        d->passed_hook_fd = -1; /* the server owns it now */
        if (h->listen_fd < 0) {
                if ((r = listen_unix(h->path, 0600, NULL, &h->listen_fd, e)) < 0)
                        goto fail;
                h->created = true;
        }
        if ((r = run_thread(h, e)) < 0)
                goto fail;
        d->hook = h;
        log_msg(MCS_LOG_INFO, "hook socket %s%s", h->path, h->created ? "" : " (from systemd)");
        return 0;
fail:
        mcs_err_prefix(e, "hook socket");
        if (h->listen_fd >= 0 && h->created) {
                close(h->listen_fd);
                unlink(h->path);
        }
        mcs_config_clear(&h->cfg);
        free(h);
        return r;
}

void hook_server_stats(mcsd *d, uint64_t *requests, uint64_t *commits, uint64_t *largest) {
        hook_server *h = d->hook;
        *requests = h ? atomic_load(&h->stats.requests) : 0;
        *commits = h ? atomic_load(&h->stats.commits) : 0;
        *largest = h ? atomic_load(&h->stats.largest) : 0;
}

bool hook_server_stuck(mcsd *d, int64_t limit_ms) {
        int64_t since = d->hook ? atomic_load(&d->hook->busy_since_ms) : 0;
        return since && mcsd_now_ms() - since > limit_ms;
}

void hook_server_stop(mcsd *d) {
        hook_server *h = d->hook;
        if (!h)
                return;
        stop_thread(h);
        close(h->listen_fd);
        if (h->created)
                unlink(h->path);
        mcs_config_clear(&h->cfg);
        free(h);
        d->hook = NULL;
}

/* A reload: the thread stops, takes a copy of the new config and host id
 * whole, and starts again on them (with a registry of its own opened from
 * them). The listening socket stays (its path changes only at the next
 * start); clients wait in its backlog meanwhile. */
void hook_server_reload(mcsd *d) {
        hook_server *h = d->hook;
        mcs_config copy;
        mcs_err e = {0};
        if (!h)
                return;
        stop_thread(h);
        if (mcs_config_copy(&copy, &d->cfg, &e) < 0)
                log_msg(MCS_LOG_ERROR, "hook socket: %s; its thread keeps the config it had", e.msg);
        else {
                mcs_config_clear(&h->cfg);
                h->cfg = copy;
                snprintf(h->host_id, sizeof h->host_id, "%s", d->host_id);
        }
        if (run_thread(h, &e) < 0)
                log_msg(MCS_LOG_ERROR, "hook socket: %s; the hook refuses every start until mcsd restarts", e.msg);
}

void hook_server_set_policy(mcsd *d, int policy) {
        if (d->hook)
                atomic_store(&d->hook->policy, policy);
}
