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

#include "log.h"
#include "methods.h"


struct job {
        mcsd *d;
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
                pthread_mutex_lock(&j->d->semanage_lock);
        int r = j->run(j->arg, &result, &err);
        if (j->semanage)
                pthread_mutex_unlock(&j->d->semanage_lock);
        pthread_mutex_lock(&j->d->jobs_lock);
        j->result = r < 0 ? NULL : result;
        j->err = err;
        j->done = true;
        pthread_mutex_unlock(&j->d->jobs_lock);
        char c = 1;
        ssize_t n;
        do
                n = write(j->d->jobs_pipe[1], &c, 1);
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
static void reap(mcsd *d, bool all) {
        for (job **p = &d->jobs; *p;) {
                job *j = *p;
                pthread_mutex_lock(&d->jobs_lock);
                bool done = j->done;
                pthread_mutex_unlock(&d->jobs_lock);
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
        mcsd *d = opaque;
        char buf[64];
        (void) watch;
        (void) events;
        while (read(fd, buf, sizeof buf) > 0)
                ;
        reap(d, false);
}

int jobs_start(mcsd *d, mcs_err *e) {
        pthread_mutex_init(&d->jobs_lock, NULL);
        pthread_mutex_init(&d->semanage_lock, NULL);
        if (pipe2(d->jobs_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return mcs_fail(e, MCS_E_IO, "cannot create the jobs pipe: %s", strerror(errno));
        d->jobs_watch = virEventAddHandle(d->jobs_pipe[0], VIR_EVENT_HANDLE_READABLE, on_pipe, d, NULL);
        if (d->jobs_watch < 0)
                return mcs_fail(e, MCS_E_IO, "cannot watch the jobs pipe");
        return 0;
}

void jobs_stop(mcsd *d) {
        /* Waits for the threads still running: they own files half done. */
        for (job *j = d->jobs; j; j = j->next)
                j->client = NULL;
        reap(d, true);
        if (d->jobs_watch >= 0)
                virEventRemoveHandle(d->jobs_watch);
        d->jobs_watch = -1;
        for (int i = 0; i < 2; i++)
                if (d->jobs_pipe[i] >= 0)
                        close(d->jobs_pipe[i]);
        d->jobs_pipe[0] = d->jobs_pipe[1] = -1;
}

static void forget_client(void *waiter) {
        job *j = waiter;
        j->client = NULL;
}

int job_start(request *rq, job_fn run, void *arg, void (*free_arg)(void *), bool semanage, reply_err *err) {
        mcsd *d = rq->d;
        job *j = calloc(1, sizeof *j);
        if (!j || !rq->origin) {
                free(j);
                if (free_arg)
                        free_arg(arg);
                return fail(err, "no-memory", j ? "this request cannot wait for a reply" : "out of memory");
        }
        *j = (job){.d = d, .run = run, .free_arg = free_arg, .arg = arg, .semanage = semanage,
                   .id = json_object_get(rq->id), .client = rq->origin, .port = rq->port};
        int r = pthread_create(&j->tid, NULL, job_main, j);
        if (r != 0) {
                job_free(j);
                return fail(err, "no-memory", "cannot start a thread: %s", strerror(r));
        }
        j->next = d->jobs;
        d->jobs = j;
        rq->port->wait(rq->origin, forget_client, j);
        return 1;
}

