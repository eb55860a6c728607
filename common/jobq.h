/* A job queue: blocking disk work on worker threads, completions on the loop.
 *
 * The caller embeds a struct st_job in its own struct, fills in work() and
 * done(), and submits it. work() runs on one of the queue's worker threads
 * (fsync, unlink, compaction: anything that may block); done() then runs on
 * the libevent loop thread of the queue's event_base. One user event,
 * activated with event_active() by the worker that finishes a job while the
 * completion list is empty, drains every finished job per loop turn, so done()
 * callbacks run in the order their work finished.
 *
 *   struct flush { struct st_job job; struct seg *seg; int rv; };
 *   static void flush_work(struct st_job *j)
 *   {
 *       struct flush *fl = ST_JOB_CONTAINER(j, struct flush, job);
 *       fl->rv = st_vfs_fsync(fl->seg->file);
 *   }
 *   static void flush_done(struct st_job *j, int status)  (on the loop)
 *
 * Ordering. Jobs given to st_jobq_submit() may run concurrently and finish in
 * any order. Jobs given to st_jobq_submit_lane() with the same lane key run
 * one at a time, in submission order, and their done() callbacks run in that
 * same order: a lane is pinned to one worker (key % n_threads), which takes
 * lane jobs before shared ones. Use the partition (or Raft group) id as the
 * key to keep that partition's appends, fsyncs and deletions in order
 * without a thread per partition.
 *
 * Threads. libevent must have been told to use pthreads *before* the
 * event_base was created: call st_jobq_threads_init() (or
 * evthread_use_pthreads()) first thing in main() and in each test, then
 * event_base_new(). Otherwise event_active() from a worker races with the
 * loop. The queue's user event is never event_add()ed, so it does not keep
 * event_base_dispatch() running by itself: a process always has a listener
 * or timer; a test with nothing else runs the loop with
 * EVLOOP_NO_EXIT_ON_EMPTY and breaks it from done().
 */
#ifndef ST_JOBQ_H
#define ST_JOBQ_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct st_jobq;

struct st_job {
    /* Runs on: a worker thread. May set @status (0 on submit). */
    void (*work)(struct st_job *job);
    /* Runs on: the loop thread. @status is job->status as work() left it.
     * The job's memory is the caller's again from the moment done() is
     * called (it may free or resubmit it). */
    void (*done)(struct st_job *job, int status);
    int status;
    /* Private to the queue. */
    struct st_job *next;
};

/* The struct that embeds @job as @member. */
#define ST_JOB_CONTAINER(job, type, member)                                   \
    ((type *)(void *)((char *)(job) - offsetof(type, member)))

/* evthread_use_pthreads(), once per process. Call before creating any
 * event_base that a jobq will use. Errors: ST_ENOMEM. Runs on: any thread. */
int st_jobq_threads_init(void);

/* Start @n_threads (>= 1) workers whose completions run on @base's loop.
 * @base is borrowed and must outlive the queue.
 * Errors: ST_EINVAL (n_threads 0), ST_ENOMEM, negated errno of
 * pthread_create. Ownership: *out is the caller's; st_jobq_free() it.
 * Runs on: the loop thread. */
int st_jobq_new(struct event_base *base, unsigned n_threads,
                struct st_jobq **out);

/* Queue @job on any worker. @job must stay valid until its done() runs.
 * Errors: ST_ECLOSED once st_jobq_free() has begun (done() is then never
 * called for it). Runs on: any thread, including work() and done(). */
int st_jobq_submit(struct st_jobq *q, struct st_job *job);

/* Queue @job in the serial lane @lane (see the top of this file).
 * Errors and ownership as st_jobq_submit(). */
int st_jobq_submit_lane(struct st_jobq *q, struct st_job *job, uint64_t lane);

/* Number of jobs submitted whose done() has not run yet. Runs on: any
 * thread (a snapshot). */
size_t st_jobq_pending(struct st_jobq *q);

/* Shut down: refuse new submissions (ST_ECLOSED), let the workers run every
 * job already queued, join them, then run every remaining done() on the
 * calling thread, in finish order, before returning. So no submitted job is
 * ever dropped: each gets exactly one done(). Jobs that work() or done()
 * try to submit during shutdown get ST_ECLOSED. NULL-safe.
 * Runs on: the loop thread, outside any done() of this queue, before
 * @base is freed. The loop need not be running. */
void st_jobq_free(struct st_jobq *q);

#endif
