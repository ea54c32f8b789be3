/* File work off the main loop: `relabel --tree` and `nfs-export` run on a
 * thread of their own while the main loop keeps answering events and
 * clients. A job's reply is built in the main loop when the thread is done
 * (it writes a byte to a pipe libvirt's loop watches) and handed to the
 * client that asked, if it is still connected; the thread never touches
 * the client. Jobs that go through libsemanage run one at a time: it keeps
 * process-wide state (its root). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "log.h"
#include "methods.h"

typedef struct job job;

struct jobs {
        job *running;            /* started, not yet answered */
        int pipe[2], watch;      /* a finished thread writes a byte; -1: none */
        pthread_mutex_t lock;    /* a job's done and what it wrote before */
        pthread_mutex_t semanage; /* one libsemanage job at a time */
};

struct job {
        jobs *js;
        pthread_t tid;
        job_fn run;
        void (*free_arg)(void *);
        void *arg;
        bool semanage;
        json_object *id;     /* the request's id (a reference) */
        control_client *client; /* NULL once it has gone */
        const client_port *port; /* how to answer client */
        /* Written by the thread, read in the main loop once done is set. */
        json_object *result;
        reply_err err;
        bool done;
        job *next;
};

static void *job_main(void *arg) {
        job *j = arg;
        json_object *result = NULL;
        reply_err err = {0};
        if (j->semanage)
                pthread_mutex_lock(&j->js->semanage);
        int r = j->run(j->arg, &result, &err);
        if (j->semanage)
                pthread_mutex_unlock(&j->js->semanage);
        pthread_mutex_lock(&j->js->lock);
        j->result = r < 0 ? NULL : result;
        j->err = err;
        j->done = true;
        pthread_mutex_unlock(&j->js->lock);
        char c = 1;
        ssize_t n;
        do
                n = write(j->js->pipe[1], &c, 1);
        while (n < 0 && errno == EINTR);
        return NULL;
}

static void job_free(job *j) {
        if (j->free_arg)
                j->free_arg(j->arg);
        json_object_put(j->id);
        json_object_put(j->result);
        free(j);
}

/* Joins and answers every finished job. */
static void reap(jobs *js, bool all) {
        for (job **p = &js->running; *p;) {
                job *j = *p;
                pthread_mutex_lock(&js->lock);
                bool done = j->done;
                pthread_mutex_unlock(&js->lock);
                if (!done && !all) {
                        p = &j->next;
                        continue;
                }
                pthread_join(j->tid, NULL);
                *p = j->next;
                if (j->client) {
                        char *reply = control_reply(j->id, j->result, &j->err);
                        j->result = NULL; /* consumed */
                        j->port->answer(j->client, reply);
                }
                job_free(j);
        }
}

static void on_pipe(int watch, int fd, int events, void *opaque) {
        jobs *js = opaque;
        char buf[64];
        (void) watch;
        (void) events;
        while (read(fd, buf, sizeof buf) > 0)
                ;
        reap(js, false);
}

int jobs_start(mcsd *d, mcs_err *e) {
        jobs *js = calloc(1, sizeof *js);
        if (!js)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        *js = (jobs){.pipe = {-1, -1}, .watch = -1};
        pthread_mutex_init(&js->lock, NULL);
        pthread_mutex_init(&js->semanage, NULL);
        d->jobs = js;
        if (pipe2(js->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return mcs_fail(e, MCS_E_IO, "cannot create the jobs pipe: %s", strerror(errno));
        js->watch = virEventAddHandle(js->pipe[0], VIR_EVENT_HANDLE_READABLE, on_pipe, js, NULL);
        if (js->watch < 0)
                return mcs_fail(e, MCS_E_IO, "cannot watch the jobs pipe");
        return 0;
}

void jobs_stop(mcsd *d) {
        jobs *js = d->jobs;
        if (!js)
                return;
        /* Waits for the threads still running: they own files half done. */
        for (job *j = js->running; j; j = j->next)
                j->client = NULL;
        reap(js, true);
        if (js->watch >= 0)
                virEventRemoveHandle(js->watch);
        for (int i = 0; i < 2; i++)
                if (js->pipe[i] >= 0)
                        close(js->pipe[i]);
        pthread_mutex_destroy(&js->lock);
        pthread_mutex_destroy(&js->semanage);
        free(js);
        d->jobs = NULL;
}

static void forget_client(void *waiter) {
        job *j = waiter;
        j->client = NULL;
}

int job_start(request *rq, job_fn run, void *arg, void (*free_arg)(void *), bool semanage, reply_err *err) {
        jobs *js = rq->d->jobs;
        job *j = calloc(1, sizeof *j);
        if (!j || !rq->origin) {
                free(j);
                if (free_arg)
                        free_arg(arg);
                return fail(err, "no-memory", j ? "this request cannot wait for a reply" : "out of memory");
        }
        *j = (job){.js = js, .run = run, .free_arg = free_arg, .arg = arg, .semanage = semanage,
                   .id = json_object_get(rq->id), .client = rq->origin, .port = rq->port};
        int r = pthread_create(&j->tid, NULL, job_main, j);
        if (r != 0) {
                job_free(j);
                return fail(err, "no-memory", "cannot start a thread: %s", strerror(r));
        }
        j->next = js->running;
        js->running = j;
        rq->port->wait(rq->origin, forget_client, j);
        return 1;
}

