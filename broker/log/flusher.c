/* Drives a log's begin/run/done jobs on a jobq from the loop. */
#include "broker/log/flusher.h"

#include <event2/event.h>

#include "broker/log/log.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/jobq.h"

struct fl_job {
    struct st_job job;
    struct st_log_flusher *fl;
    bool busy;
    void *core; /* the log's job object */
};

struct st_log_flusher {
    struct event_base *base;
    struct st_jobq *q;
    struct st_log *log;
    uint64_t lane;
    struct event *timer; /* interval policy */
    struct fl_job flush;
    struct fl_job retention;
    struct fl_job clean;
    bool clean_waits; /* its done is due once the flush finishes */
    uint64_t flushes;
};

static void flush_work(struct st_job *j)
{
    struct fl_job *fj = ST_JOB_CONTAINER(j, struct fl_job, job);
    st_log_flush_run(fj->core);
}

static void flush_done(struct st_job *j, int status)
{
    struct fl_job *fj = ST_JOB_CONTAINER(j, struct fl_job, job);
    struct st_log_flusher *fl = fj->fl;
    (void)status;
    fj->busy = false;
    st_log_flush_done(fl->log, fj->core); /* failures become sticky */
    fl->flushes++;
    if (fl->clean_waits) {
        fl->clean_waits = false;
        fl->clean.busy = false;
        st_log_clean_done(fl->log, fl->clean.core);
    }
    st_log_flusher_kick(fl); /* the appends that came meanwhile */
}

static void start_flush(struct st_log_flusher *fl)
{
    struct st_log_flush_job *core;
    if (fl->flush.busy || st_log_flush_begin(fl->log, &core) != 0) {
        return;
    }
    fl->flush.core = core;
    fl->flush.busy = true;
    fl->flush.job.work = flush_work;
    fl->flush.job.done = flush_done;
    fl->flush.job.status = 0;
    if (st_jobq_submit_lane(fl->q, &fl->flush.job, fl->lane) != 0) {
        /* Shutting down: do it here rather than lose it. */
        flush_work(&fl->flush.job);
        flush_done(&fl->flush.job, 0);
    }
}

void st_log_flusher_kick(struct st_log_flusher *fl)
{
    if (!fl->flush.busy && st_log_flush_wanted(fl->log)) {
        start_flush(fl);
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    start_flush(arg);
}

int st_log_flusher_new(struct event_base *base, struct st_jobq *q,
                       struct st_log *log, uint64_t lane,
                       struct st_log_flusher **out)
{
    struct st_log_flusher *fl = st_calloc(1, sizeof *fl);
    if (fl == NULL) {
        return ST_ENOMEM;
    }
    fl->base = base;
    fl->q = q;
    fl->log = log;
    fl->lane = lane;
    fl->flush.fl = fl;
    fl->retention.fl = fl;
    fl->clean.fl = fl;
    const struct st_log_config *c = st_log_config(log);
    if (c->flush_policy == ST_LOG_FLUSH_INTERVAL) {
        fl->timer = event_new(base, -1, EV_PERSIST, timer_cb, fl);
        if (fl->timer == NULL) {
            st_free(fl);
            return ST_ENOMEM;
        }
        struct timeval tv = {
            .tv_sec = c->flush_interval_ms / 1000,
            .tv_usec = (c->flush_interval_ms % 1000) * 1000,
        };
        event_add(fl->timer, &tv);
    }
    *out = fl;
    return 0;
}

bool st_log_flusher_busy(const struct st_log_flusher *fl)
{
    return fl->flush.busy || fl->retention.busy || fl->clean.busy;
}

void st_log_flusher_drain(struct st_log_flusher *fl)
{
    while (st_log_flusher_busy(fl)) {
        event_base_loop(fl->base, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY);
    }
}

void st_log_flusher_free(struct st_log_flusher *fl)
{
    if (fl == NULL) {
        return;
    }
    if (fl->timer != NULL) {
        event_free(fl->timer);
    }
    st_log_flusher_drain(fl);
    st_free(fl);
}

uint64_t st_log_flusher_flushes(const struct st_log_flusher *fl)
{
    return fl->flushes;
}

/* ---- retention ---- */

static void retention_work(struct st_job *j)
{
    struct fl_job *fj = ST_JOB_CONTAINER(j, struct fl_job, job);
    st_log_retention_run(fj->core);
}

static void retention_done(struct st_job *j, int status)
{
    struct fl_job *fj = ST_JOB_CONTAINER(j, struct fl_job, job);
    (void)status;
    fj->busy = false;
    st_log_retention_done(fj->fl->log, fj->core);
}

int st_log_flusher_retention(struct st_log_flusher *fl, int64_t now_ms,
                             int64_t hw)
{
    struct st_log_retention_job *core;
    if (fl->retention.busy) {
        return 1;
    }
    int rv = st_log_retention_begin(fl->log, now_ms, hw, &core);
    if (rv != 0) {
        return rv;
    }
    fl->retention.core = core;
    fl->retention.busy = true;
    fl->retention.job.work = retention_work;
    fl->retention.job.done = retention_done;
    if (st_jobq_submit(fl->q, &fl->retention.job) != 0) {
        retention_work(&fl->retention.job);
        retention_done(&fl->retention.job, 0);
    }
    return 0;
}

/* ---- compaction ---- */

static void clean_work(struct st_job *j)
{
    struct fl_job *fj = ST_JOB_CONTAINER(j, struct fl_job, job);
    st_log_clean_run(fj->core);
}

static void clean_done(struct st_job *j, int status)
{
    struct fl_job *fj = ST_JOB_CONTAINER(j, struct fl_job, job);
    (void)status;
    if (st_log_clean_done(fj->fl->log, fj->core) == 1) {
        fj->fl->clean_waits = true; /* flush_done finishes it */
        return;
    }
    fj->busy = false;
}

int st_log_flusher_clean(struct st_log_flusher *fl, int64_t now_ms,
                         int64_t hw)
{
    struct st_log_clean_job *core;
    if (fl->clean.busy) {
        return 1;
    }
    int rv = st_log_clean_begin(fl->log, now_ms, hw, &core);
    if (rv != 0) {
        return rv;
    }
    fl->clean.core = core;
    fl->clean.busy = true;
    fl->clean.job.work = clean_work;
    fl->clean.job.done = clean_done;
    if (st_jobq_submit(fl->q, &fl->clean.job) != 0) {
        clean_work(&fl->clean.job);
        clean_done(&fl->clean.job, 0);
    }
    return 0;
}
