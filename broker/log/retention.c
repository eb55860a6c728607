/* Retention: delete whole old segments by time and size (cleanup policy
 * delete). The owner picks the segments and moves the log start at once;
 * a worker checkpoints the new start and unlinks the files. The start is
 * durable before any file goes, so a crash that resurrects some of them
 * (unlinks not yet durable) finds them below the start, and open deletes
 * them again. */
#include <inttypes.h>
#include <stdio.h>

#include "broker/log/checkpoint.h"
#include "broker/log/log_int.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"

struct st_log_retention_job {
    struct st_vfs *vfs;
    const char *dir;
    struct st_segment **segs; /* the log's references, moved here */
    size_t n;
    int64_t start;
    int rv;
};

static bool expired(const struct st_log *log, const struct st_segment *seg,
                    int64_t now_ms)
{
    if (log->conf.retention_ms < 0) {
        return false;
    }
    /* An empty segment has no records to keep; use its creation time. */
    int64_t newest = seg->max_ts >= 0 ? seg->max_ts : seg->created_ms;
    return newest < now_ms - log->conf.retention_ms;
}

int st_log_retention_begin(struct st_log *log, int64_t now_ms, int64_t hw,
                           struct st_log_retention_job **out)
{
    *out = NULL;
    if (log->failed != 0) {
        return log->failed;
    }
    if (!(log->conf.cleanup_policy & ST_LOG_CLEANUP_DELETE) ||
        log->retaining || log->cleaning) {
        return 1;
    }
    uint64_t total = st_log_size_bytes(log);
    size_t n = 0;
    while (n + 1 < log->n_segs) {
        struct st_segment *seg = log->segs[n];
        bool over = log->conf.retention_bytes >= 0 &&
                    total - seg->size >= (uint64_t)log->conf.retention_bytes;
        if (log->segs[n + 1]->base > hw || (!over && !expired(log, seg,
                                                                now_ms))) {
            break;
        }
        total -= seg->size;
        n++;
    }
    if (n == 0) {
        return 1;
    }
    struct st_log_retention_job *job = st_calloc(1, sizeof *job);
    struct st_segment **segs = st_calloc(n, sizeof *segs);
    if (job == NULL || segs == NULL) {
        st_free(job);
        st_free(segs);
        return ST_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        segs[i] = log->segs[i];
    }
    st_log_remove_segments(log, 0, n);
    job->vfs = log->vfs;
    job->dir = log->dir;
    job->segs = segs;
    job->n = n;
    job->start = log->segs[0]->base;
    if (job->start > log->start_offset) {
        log->start_offset = job->start;
    }
    job->start = log->start_offset;
    st_epoch_cache_truncate_start(&log->epochs, log->start_offset);
    log->retaining = true;
    ST_INFO("log", "dir=%s retention deletes %zu segments, start=%" PRId64,
            log->dir, n, log->start_offset);
    *out = job;
    return 0;
}

void st_log_retention_run(struct st_log_retention_job *job)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/log-start-offset", job->dir);
    job->rv = st_checkpoint_write_i64(job->vfs, p, ST_CHECKPOINT_LOG_START,
                                      job->start);
    if (job->rv != 0) {
        return;
    }
    for (size_t i = 0; i < job->n; i++) {
        st_segment_delete(job->segs[i]); /* unlinked at the last release */
        job->segs[i] = NULL;
    }
    job->rv = st_vfs_fsync_dir(job->vfs, job->dir);
}

int st_log_retention_done(struct st_log *log, struct st_log_retention_job *job)
{
    int rv = job->rv;
    log->retaining = false;
    for (size_t i = 0; i < job->n; i++) {
        /* Not deleted (the checkpoint failed): the files stay, below the
         * start in memory; the next open drops or keeps them by the
         * checkpoint it finds. */
        st_segment_release(job->segs[i]);
    }
    if (rv != 0) {
        ST_WARN("log", "dir=%s retention: %s", log->dir, st_strerror(rv));
    }
    st_free(job->segs);
    st_free(job);
    return rv;
}
