/* The log's disk driver: runs a log's flush (group commit), retention and
 * compaction jobs on a jobq's worker threads, with their completions on the
 * libevent loop that owns the log, so that loop never blocks on disk.
 *
 * Group commit: st_log_flusher_kick() after appends starts a flush job when
 * the log wants one and none is running; appends that arrive while its
 * fsync runs are covered by the next job, started from the done callback.
 * One fsync thus covers every append of the previous interval, however
 * many appenders there are. Under log.flush.policy=interval a timer starts
 * a flush every flush_interval_ms; under none only rolled segments are
 * flushed.
 * Flush jobs of one log go to one jobq lane (@lane, e.g. the partition id)
 * so they stay in order; retention and cleaning use any worker.
 * Runs on: the loop thread of @base (every function).
 */
#ifndef ST_LOG_FLUSHER_H
#define ST_LOG_FLUSHER_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct st_jobq;
struct st_log;
struct st_log_flusher;

/* Ownership: @base, @q and @log are borrowed and must outlive the flusher;
 * *out is the caller's (st_log_flusher_free). Errors: ST_ENOMEM. */
int st_log_flusher_new(struct event_base *base, struct st_jobq *q,
                       struct st_log *log, uint64_t lane,
                       struct st_log_flusher **out);
/* Run the loop until no job is in flight, then free. NULL-safe. Call before
 * st_log_close(). */
void st_log_flusher_free(struct st_log_flusher *fl);

/* Start a group commit if one is wanted and none runs. Cheap. */
void st_log_flusher_kick(struct st_log_flusher *fl);
/* Start a retention / cleaning job when due. Returns 0 when one started, 1
 * when nothing is due or one already runs, or an error of the begin call. */
int st_log_flusher_retention(struct st_log_flusher *fl, int64_t now_ms,
                             int64_t hw);
int st_log_flusher_clean(struct st_log_flusher *fl, int64_t now_ms,
                         int64_t hw);
/* True while any job of this flusher is in flight. */
bool st_log_flusher_busy(const struct st_log_flusher *fl);
/* Run the loop (EVLOOP_ONCE) until no job is in flight. */
void st_log_flusher_drain(struct st_log_flusher *fl);
/* Flush jobs completed so far (a measure of group commit). */
uint64_t st_log_flusher_flushes(const struct st_log_flusher *fl);

#endif
