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
#include "mcs-domain-label.h"
#include "mcs-guest-images.h"
#include "mcs-hook-rules.h"
#include "mcs-macro.h"
#include "methods.h"

#define IO_TIMEOUT_S 2

struct hook_server {
        pthread_t thread;
        int listen_fd;
        bool created;        /* mcsd bound it (not systemd) */
        char path[108];
        int wake[2];         /* written to stop the thread */
        bool running;
        /* Read by the thread; the main loop changes d->cfg only while the
         * thread is paused (reload). */
        const mcsd *d;
        mcs_registry *reg;   /* the thread's own handle */
        mcs_images *images;  /* and its own image types and policy checker */
        _Atomic int64_t busy_since_ms; /* inside a request since then; 0: waiting (the watchdog reads it) */
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
                r = mcs_images_label(h->images, h->reg, &h->d->cfg, d, level, note_image, &f, &e);
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
        int r = mcs_images_restore(h->images, h->reg, &h->d->cfg, h->d->host_id, rq->uuid, v->released, note_image, &f,
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
 * it hung up), or NULL. Such a request must not touch the registry: the
 * start it asks about was refused already. */
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

static int decide(hook_server *h, json_object *params, const mcs_domain *d, const mcs_hook_request *rq,
                  const struct ucred *peer, int fd, json_object **result, reply_err *err) {
        mcs_hook_verdict v;
        mcs_err e = {0};
        const char *op = mcs_hook_op_name(rq->op);

        char late[64];
        const char *why_late = stale(params, fd, late, sizeof late);
        if (why_late) {
                log_guest(MCS_LOG_WARNING, rq->name, rq->uuid, NULL,
                          "hook %s (pid %d): dropped a late request for guest '%s' (%s); the hook refused it already",
                          op, (int) peer->pid, rq->name, why_late);
                return fail(err, MCS_PERR_TIMEOUT, "hook: request dropped: %s", why_late);
        }
        int policy = __atomic_load_n(&h->d->hook_policy, __ATOMIC_ACQUIRE);
        if (policy == MCS_LABELS_RESERVE || policy == MCS_LABELS_OFF) {
                /* Until libvirt has answered (-1) the checks apply: fail closed. */
                v = (mcs_hook_verdict){.allow = true};
                set_msg(&v, "libvirt on this host has no SELinux security driver; mcsd labels no guest here");
        } else if (mcs_hook_decide(h->reg, &h->d->cfg, rq, &v, &e) < 0) {
                log_guest(MCS_LOG_ERROR, rq->name, rq->uuid, NULL, "hook %s for guest '%s': %s", op, rq->name, e.msg);
                return fail_mcs(err, &e);
        }
        if (v.allow && policy == MCS_LABELS_WRITE && rq->op == MCS_HOOK_PREPARE && rq->mode == MCS_SECLABEL_STATIC &&
            rq->label)
                label_images(h, d, rq, &v);
        /* The hook gave up while this was being decided (registry waits can
         * add up past its deadline): it refused the start, so a reservation
         * made for it is undone, unless the record changed meanwhile. */
        if (v.created && (why_late = stale(params, fd, late, sizeof late))) {
                int r = mcs_registry_release_if(h->reg, rq->uuid, h->d->host_id, v.generation, NULL, &e);
                /* Images labelled for it at prepare get their labels back. */
                if (r == 0 && rq->label && mcs_context_level(rq->label, v.released, sizeof v.released, NULL) == 0)
                        restore_images(h, rq, &v);
                log_guest(MCS_LOG_WARNING, rq->name, rq->uuid, NULL,
                          "hook %s (pid %d): the hook gave up on guest '%s' (%s) while it was decided; %s%s", op,
                          (int) peer->pid, rq->name, why_late,
                          r == 0 ? "its new reservation is undone" : "its reservation stays: ", r == 0 ? "" : e.msg);
                return fail(err, MCS_PERR_TIMEOUT, "hook: request dropped: %s", why_late);
        }
        if (v.released[0])
                restore_images(h, rq, &v);
        log_guest(v.allow ? (v.msg[0] ? MCS_LOG_INFO : MCS_LOG_DEBUG) : MCS_LOG_ERROR, rq->name, rq->uuid, rq->label,
                  "hook %s (pid %d): guest '%s' %s%s%s", op, (int) peer->pid, rq->name,
                  v.allow ? "allowed" : "REFUSED", v.msg[0] ? ": " : "", v.msg);
        *result = json_object_new_object();
        json_object_object_add(*result, "allow", json_object_new_boolean(v.allow));
        json_object_object_add(*result, "message", json_str(v.msg[0] ? v.msg : NULL));
        return 0;
}

static char *answer(hook_server *h, const char *line, size_t len, const struct ucred *peer, int fd) {
        json_object *req = NULL, *id = NULL, *params, *result = NULL;
        const char *method;
        reply_err err = {0};
        char *reply;

        if (control_parse_request(line, len, &req, &err) < 0)
                return control_reply(NULL, NULL, &err);
        if (control_check_envelope(req, &id, &method, &err) < 0)
                goto out;
        if (strcmp(method, "hook"))
                fail(&err, MCS_PERR_METHOD, "the hook socket answers the method 'hook' only");
        else if (!json_object_object_get_ex(req, "params", &params) || !json_object_is_type(params, json_type_object))
                fail(&err, MCS_PERR_BAD_REQUEST, "hook: 'params' must be an object");
        else {
                mcs_domain d;
                mcs_hook_request rq;
                if (hook_parse_params(params, &d, &rq, &err) == 0)
                        decide(h, params, &d, &rq, peer, fd, &result, &err);
                else
                        log_msg(MCS_LOG_ERROR, "hook (pid %d): %s", (int) peer->pid, err.msg);
                mcs_domain_clear(&d);
        }
out:
        reply = control_reply(id, result, &err);
        json_object_put(req);
        return reply;
}

static void serve(hook_server *h, int fd) {
        struct ucred peer;
        socklen_t len = sizeof peer;
        struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
        size_t got = 0, cap = MCS_REQUEST_MAX;
        _cleanup_free_ char *buf = NULL;
        char *nl = NULL, *reply;
        bool oom;

        /* Blocking, with deadlines: one client at a time, root only. */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0 || peer.uid != 0) {
                reply_err err;
                fail(&err, MCS_PERR_DENIED, "the hook socket is for root (libvirt's hooks) only");
                reply = control_reply(NULL, NULL, &err);
                goto send;
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
                ssize_t n = recv(fd, buf + got, cap - got, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                nl = memchr(buf + got, '\n', (size_t) n);
                got += (size_t) n;
        }
        if (!nl) {
                reply_err err;
                if (oom)
                        fail(&err, mcs_code_name(MCS_E_NOMEM), "out of memory");
                else
                        fail(&err, MCS_PERR_TOO_LARGE, "a hook request line is limited to %u bytes", MCS_HOOK_REQUEST_MAX);
                reply = control_reply(NULL, NULL, &err);
        } else
                reply = answer(h, buf, (size_t) (nl - buf), &peer, fd);
send:
        if (reply) {
                size_t off = 0, n = strlen(reply);
                while (off < n) {
                        ssize_t w = send(fd, reply + off, n - off, MSG_NOSIGNAL);
                        if (w <= 0)
                                break;
                        off += (size_t) w;
                }
                free(reply);
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
                serve(h, fd);
                close(fd);
                atomic_store(&h->busy_since_ms, 0);
        }
}

static int run_thread(hook_server *h, mcs_err *e) {
        mcs_catset pool;
        int r = mcsd_open_registry(&h->d->cfg, h->d->host_id, &h->reg, &pool, e);
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
        *h = (hook_server){.d = d, .listen_fd = d->passed_hook_fd, .wake = {-1, -1}};
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
        free(h);
        return r;
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
        free(h);
        d->hook = NULL;
}

/* Around a reload: the thread stops before the main loop changes its
 * config or registry and starts again on the new ones. The listening
 * socket stays (its path changes only at the next start); clients wait in
 * its backlog meanwhile. */
void hook_server_pause(mcsd *d) {
        if (d->hook)
                stop_thread(d->hook);
}

void hook_server_resume(mcsd *d) {
        mcs_err e = {0};
        if (d->hook && run_thread(d->hook, &e) < 0)
                log_msg(MCS_LOG_ERROR, "hook socket: %s; the hook refuses every start until mcsd restarts", e.msg);
}
