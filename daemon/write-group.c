/* Group commit of the control socket's writes (issue 15). Each reserve or
 * release costs a durable commit, most of it one fsync; clients that ask
 * at the same time share one. A method checks and resolves its request,
 * then queues its write here. On the main loop's next turn, once every
 * client ready meanwhile has been read, the queued writes run in one
 * registry batch; the batch is committed; only then does each method
 * finish (write the label into the guest's XML, restore images, log) and
 * its client get the reply. Nothing is acknowledged before it is durable.
 *
 * A batch that meets a storage failure, or whose commit fails, is rolled
 * back whole: every write in it is answered with that failure, none is
 * stored, and each client may ask again. Running the others again one by
 * one would make the last client wait for each one's busy timeout. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mcs-macro.h"
#include "mcs-group-commit.h"
#include "methods.h"
#include "metrics.h"

/* At most this many writes share a commit; the rest go into the next. */
#define GROUP_MAX 64

typedef struct entry {
        const group_write_ops *ops;
        void *state;
        control_client *client; /* NULL once it has gone: the write is dropped */
        const client_port *port; /* how to answer client */
        control_peer peer;
        const char *method;
        json_object *id;
        int r;
        reply_err err;
        struct entry *next;
} entry;

struct write_group {
        mcsd *d;
        int timer;
        entry *head, **tail;
        write_group_stats stats;
};

static void entry_free(entry *x) {
        if (x->ops->free)
                x->ops->free(x->state);
        json_object_put(x->id);
        free(x);
}

static void forget_client(void *waiter) {
        entry *x = waiter;
        x->client = NULL;
}

static request entry_request(mcsd *d, entry *x) {
        return (request){.d = d, .peer = &x->peer, .method = x->method, .id = x->id};
}

/* Takes up to GROUP_MAX entries off the queue, in arrival order, dropping
 * those whose client has gone (nothing was written for them). */
static size_t take(write_group *g, entry **out) {
        size_t n = 0;
        while (g->head && n < GROUP_MAX) {
                entry *x = g->head;
                if (!(g->head = x->next))
                        g->tail = &g->head;
                if (x->client)
                        out[n++] = x;
                else
                        entry_free(x);
        }
        return n;
}

typedef struct batch {
        mcsd *d;
        entry **v;
} batch;

static int write_entry(void *ctx, size_t i, mcs_err *e) {
        batch *b = ctx;
        entry *x = b->v[i];
        request rq = entry_request(b->d, x);
        /* Each write's history entry names the peer that asked for it. */
        mcs_actor who = {.known = true, .uid = x->peer.cred.uid, .pid = x->peer.cred.pid};
        mcs_registry_set_actor(b->d->reg, &who);
        x->r = x->ops->write(&rq, x->state, &x->err);
        mcs_registry_set_actor(b->d->reg, NULL);
        if (x->r < 0)
                return mcs_fail(e, x->err.fault ? x->err.mcs : MCS_E_INVALID, "%s", x->err.msg);
        return 0;
}

/* Runs the writes in one group commit (lib/registry's rules). The writes
 * from *stands on were not stored, or not run, for *why. */
static int run_batch(mcsd *d, entry **v, size_t n, size_t *stands, reply_err *why) {
        mcs_err e = {0};
        batch b = {d, v};
        if (mcs_registry_group_write(d->reg, n, write_entry, &b, stands, &e) < 0)
                return fail_mcs(why, &e);
        return 0;
}

static void answer(mcsd *d, entry *x) {
        json_object *result = NULL;
        if (x->r == 0) {
                request rq = entry_request(d, x);
                x->r = x->ops->finish(&rq, x->state, &result, &x->err);
        }
        x->port->answer(x->client, control_reply(x->id, x->r == 0 ? result : NULL, &x->err));
}

static void flush(write_group *g) {
        entry *v[GROUP_MAX];
        reply_err why = {0};
        size_t n = take(g, v), stands = n;
        int64_t t0 = metrics_mono_ns();
        int rc = n ? run_batch(g->d, v, n, &stands, &why) : 0;
        /* A storage failure stops the group, so only a failed group stored
         * nothing; a write refused (conflict, in use) is no storage failure. */
        if (n)
                metrics_registry_write(g->d->metrics, METRICS_WRITER_CLIENT, metrics_mono_ns() - t0, rc == 0);
        if (rc < 0) {
                log_msg(MCS_LOG_WARNING, "control socket: %zu of %zu writes meant to share one commit were not stored: %s",
                        n - stands, n, why.msg);
                for (size_t i = stands; i < n; i++) {
                        v[i]->r = -1;
                        fail(&v[i]->err, why.code, "not stored, the registry failed: %s", why.msg);
                }
        }
        size_t stored = 0;
        for (size_t i = 0; i < n; i++)
                stored += v[i]->r == 0;
        if (stored) {
                g->stats.writes += stored;
                g->stats.commits++;
                if (stored > g->stats.largest)
                        g->stats.largest = stored;
        }
        for (size_t i = 0; i < n; i++) {
                answer(g->d, v[i]);
                entry_free(v[i]);
        }
        virEventUpdateTimeout(g->timer, g->head ? 0 : -1);
}

static void on_timer(int timer, void *opaque) {
        (void) timer;
        flush(opaque);
}

int group_write(request *rq, const group_write_ops *ops, void *state, json_object **result, reply_err *err) {
        write_group *g = rq->d->writes;
        entry *x = rq->origin && g ? calloc(1, sizeof *x) : NULL;

        if (!x) { /* no client waits for it (or no memory to queue it): at once, on its own */
                int r = ops->write(rq, state, err);
                if (r == 0)
                        r = ops->finish(rq, state, result, err);
                if (ops->free)
                        ops->free(state);
                return r;
        }
        *x = (entry){.ops = ops, .state = state, .client = rq->origin, .peer = *rq->peer, .method = rq->method,
                     .id = json_object_get(rq->id), .port = rq->port};
        *g->tail = x;
        g->tail = &x->next;
        rq->port->wait(rq->origin, forget_client, x);
        /* Fires on the loop's next turn: the clients ready now are read first. */
        virEventUpdateTimeout(g->timer, 0);
        return 1;
}

void write_group_stats_get(const mcsd *d, write_group_stats *out) {
        *out = d->writes ? d->writes->stats : (write_group_stats){0};
}

int write_group_start(mcsd *d, mcs_err *e) {
        write_group *g = calloc(1, sizeof *g);
        if (!g)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        g->d = d;
        g->tail = &g->head;
        if ((g->timer = virEventAddTimeout(-1, on_timer, g, NULL)) < 0) {
                free(g);
                return mcs_fail(e, MCS_E_IO, "cannot add the write group's timer");
        }
        d->writes = g;
        return 0;
}

void write_group_stop(mcsd *d) {
        write_group *g = d->writes;
        if (!g)
                return;
        entry *v[GROUP_MAX];
        while (g->head)
                for (size_t i = 0, n = take(g, v); i < n; i++)
                        entry_free(v[i]);
        virEventRemoveTimeout(g->timer);
        free(g);
        d->writes = NULL;
}
