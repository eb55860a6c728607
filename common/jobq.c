/* Worker threads for blocking work; completions drained on the loop thread.
 *
 * One mutex guards the shared queue, every worker's lane queue, the list of
 * finished jobs and the closing flag. A worker that appends to an empty
 * finished list activates the queue's user event (after unlocking, so the
 * lock order is always q->mu alone, or the base lock alone); drain_cb on the
 * loop takes the whole list at once and runs each done() without the lock.
 */
#include "jobq.h"

#include <assert.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdbool.h>

#include "alloc.h"
#include "err.h"

struct fifo {
    struct st_job *head, *tail;
};

struct worker {
    struct st_jobq *q;
    pthread_t tid;
    struct fifo lane; /* jobs pinned to this worker, in submission order */
};

struct st_jobq {
    struct event_base *base;
    struct event *ev; /* user event: drain finished jobs */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct fifo shared;
    struct fifo finished;
    struct worker *workers;
    unsigned n_workers;
    size_t pending; /* submitted, done() not yet run */
    bool closing;
    bool in_drain; /* loop thread only */
};

static void fifo_push(struct fifo *f, struct st_job *job)
{
    job->next = NULL;
    if (f->tail != NULL) {
        f->tail->next = job;
    } else {
        f->head = job;
    }
    f->tail = job;
}

static struct st_job *fifo_pop(struct fifo *f)
{
    struct st_job *job = f->head;
    if (job != NULL) {
        f->head = job->next;
        if (f->head == NULL) {
            f->tail = NULL;
        }
        job->next = NULL;
    }
    return job;
}

static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static int threads_rv;

static void threads_init_once(void)
{
    threads_rv = evthread_use_pthreads() == 0 ? 0 : ST_ENOMEM;
}

int st_jobq_threads_init(void)
{
    pthread_once(&threads_once, threads_init_once);
    return threads_rv;
}

/* Run done() for every job in @list, in order. Runs on: the loop thread. */
static void run_done(struct st_jobq *q, struct st_job *list)
{
    size_t n = 0;
    q->in_drain = true;
    while (list != NULL) {
        struct st_job *job = list;
        list = job->next; /* done() may free or resubmit the job */
        job->next = NULL;
        job->done(job, job->status);
        n++;
    }
    q->in_drain = false;
    pthread_mutex_lock(&q->mu);
    q->pending -= n;
    pthread_mutex_unlock(&q->mu);
}

/* Runs on: the loop thread (libevent calls it). */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_jobq *q = arg;
    pthread_mutex_lock(&q->mu);
    struct st_job *list = q->finished.head;
    q->finished.head = q->finished.tail = NULL;
    pthread_mutex_unlock(&q->mu);
    run_done(q, list);
}

/* The next job for @w: its lane first, then the shared queue; NULL when
 * the queue is closing and both are empty. Called with q->mu held. */
static struct st_job *next_job(struct worker *w)
{
    struct st_jobq *q = w->q;
    for (;;) {
        struct st_job *job = fifo_pop(&w->lane);
        if (job == NULL) {
            job = fifo_pop(&q->shared);
        }
        if (job != NULL || q->closing) {
            return job;
        }
        pthread_cond_wait(&q->cond, &q->mu);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct st_jobq *q = w->q;
    pthread_mutex_lock(&q->mu);
    struct st_job *job;
    while ((job = next_job(w)) != NULL) {
        pthread_mutex_unlock(&q->mu);
        job->work(job);
        pthread_mutex_lock(&q->mu);
        bool was_empty = q->finished.head == NULL;
        fifo_push(&q->finished, job);
        if (was_empty && !q->closing) {
            /* Unlocked: event_active takes the base lock, and the loop
             * thread takes q->mu in drain_cb. The worker (so the event)
             * lives until st_jobq_free() joins it. */
            pthread_mutex_unlock(&q->mu);
            event_active(q->ev, EV_READ, 0);
            pthread_mutex_lock(&q->mu);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static int submit(struct st_jobq *q, struct st_job *job, struct fifo *f)
{
    assert(job->work != NULL && job->done != NULL);
    pthread_mutex_lock(&q->mu);
    if (q->closing) {
        pthread_mutex_unlock(&q->mu);
        return ST_ECLOSED;
    }
    job->status = 0;
    fifo_push(f != NULL ? f : &q->shared, job);
    q->pending++;
    /* Broadcast: a lane job must wake its own worker, not just any. */
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int st_jobq_submit(struct st_jobq *q, struct st_job *job)
{
    return submit(q, job, NULL);
}

int st_jobq_submit_lane(struct st_jobq *q, struct st_job *job, uint64_t lane)
{
    return submit(q, job, &q->workers[lane % q->n_workers].lane);
}

size_t st_jobq_pending(struct st_jobq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->pending;
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* Stop and join the first @n workers. */
static void stop_workers(struct st_jobq *q, unsigned n)
{
    pthread_mutex_lock(&q->mu);
    q->closing = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
    for (unsigned i = 0; i < n; i++) {
        pthread_join(q->workers[i].tid, NULL);
    }
}

int st_jobq_new(struct event_base *base, unsigned n_threads,
                struct st_jobq **out)
{
    if (n_threads == 0) {
        return ST_EINVAL;
    }
    int rv = ST_ENOMEM;
    struct st_jobq *q = st_calloc(1, sizeof *q);
    if (q == NULL) {
        return ST_ENOMEM;
    }
    q->base = base;
    q->workers = st_calloc(n_threads, sizeof *q->workers);
    if (q->workers == NULL) {
        goto err_after_alloc;
    }
    q->ev = event_new(base, -1, 0, drain_cb, q);
    if (q->ev == NULL) {
        goto err_after_workers;
    }
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        goto err_after_event;
    }
    if (pthread_cond_init(&q->cond, NULL) != 0) {
        goto err_after_mutex;
    }
    for (unsigned i = 0; i < n_threads; i++) {
        q->workers[i].q = q;
        int err = pthread_create(&q->workers[i].tid, NULL, worker_main,
                                 &q->workers[i]);
        if (err != 0) {
            stop_workers(q, i);
            rv = -err;
            goto err_after_cond;
        }
        q->n_workers = i + 1;
    }
    *out = q;
    return 0;
err_after_cond:
    pthread_cond_destroy(&q->cond);
err_after_mutex:
    pthread_mutex_destroy(&q->mu);
err_after_event:
    event_free(q->ev);
err_after_workers:
    st_free(q->workers);
err_after_alloc:
    st_free(q);
    return rv;
}

void st_jobq_free(struct st_jobq *q)
{
    if (q == NULL) {
        return;
    }
    assert(!q->in_drain); /* never from inside one of our done() */
    stop_workers(q, q->n_workers);
    /* Every worker has exited, so every job is on the finished list. */
    event_del(q->ev);
    struct st_job *list = q->finished.head;
    q->finished.head = q->finished.tail = NULL;
    run_done(q, list);
    assert(q->pending == 0);
    event_free(q->ev);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mu);
    st_free(q->workers);
    st_free(q);
}
