/* Flush jobs: make appended batches, rolled segments' indexes and changed
 * checkpoints durable, in begin (owner) / run (worker) / done (owner).
 *
 * Group commit falls out of the shape: while one job's fsyncs run, appends
 * keep landing in the page cache; the next job, started from the previous
 * one's done, covers all of them with one fsync per file. The order inside
 * run matters for recovery: segment data and index files first, then the
 * directory (new segment names), then the epoch and producer checkpoints,
 * and the recovery point last, so a recovery point on disk always means
 * "everything below is synced and described by the checkpoints". */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/log/checkpoint.h"
#include "broker/log/log_int.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"

struct pinned {
    struct st_segment *seg;
    struct st_file *file; /* NULL: only the index files are written */
    uint64_t size;
    uint64_t gen;
    bool write_index;
    struct st_buf idx;
    struct st_buf tidx;
};

struct st_log_flush_job {
    struct st_vfs *vfs;
    const char *dir; /* the log's; the log outlives its jobs */
    struct pinned *p;
    size_t n;
    bool sync_dir;
    int64_t target;
    int64_t recovery_point;
    bool write_rp;
    struct st_buf epochs;
    bool write_epochs;
    struct st_buf producers;
    bool write_producers;
    int64_t hw;
    bool write_hw;
    int rv;
};

static void job_free(struct st_log_flush_job *job)
{
    for (size_t i = 0; i < job->n; i++) {
        st_segment_release(job->p[i].seg);
        st_buf_close(&job->p[i].idx);
        st_buf_close(&job->p[i].tidx);
    }
    st_free(job->p);
    st_buf_close(&job->epochs);
    st_buf_close(&job->producers);
    st_free(job);
}

bool st_log_flush_wanted(const struct st_log *log)
{
    if (log->failed != 0 || log->flushing) {
        return false;
    }
    for (size_t i = 0; i + 1 < log->n_segs; i++) {
        if (!log->segs[i]->index_written ||
            log->segs[i]->synced_size < log->segs[i]->size) {
            return true; /* a rolled segment: flushed under any policy */
        }
    }
    return log->conf.flush_policy == ST_LOG_FLUSH_BATCH &&
           log->synced_offset < log->end_offset;
}

static int pin_segments(struct st_log *log, struct st_log_flush_job *job)
{
    job->p = st_calloc(log->n_segs, sizeof *job->p);
    if (job->p == NULL) {
        return ST_ENOMEM;
    }
    for (size_t i = 0; i < log->n_segs; i++) {
        struct st_segment *seg = log->segs[i];
        bool active = i + 1 == log->n_segs;
        bool data = seg->synced_size < seg->size;
        bool index = !seg->index_written && (!active || log->closing);
        if (!data && !index) {
            continue;
        }
        struct pinned *pp = &job->p[job->n];
        st_buf_init(&pp->idx);
        st_buf_init(&pp->tidx);
        if (data) {
            int rv = st_segment_file(seg, &pp->file);
            if (rv != 0) {
                return rv;
            }
        }
        if (index) {
            int rv = st_segment_encode_indexes(seg, &pp->idx, &pp->tidx);
            if (rv != 0) {
                st_buf_close(&pp->idx);
                st_buf_close(&pp->tidx);
                return rv;
            }
            pp->write_index = true;
        }
        st_segment_acquire(seg);
        pp->seg = seg;
        pp->size = seg->size;
        pp->gen = seg->gen;
        job->n++;
    }
    return 0;
}

int st_log_flush_begin(struct st_log *log, struct st_log_flush_job **out)
{
    *out = NULL;
    if (log->failed != 0) {
        return log->failed;
    }
    if (log->flushing) {
        return 1;
    }
    struct st_log_flush_job *job = st_calloc(1, sizeof *job);
    if (job == NULL) {
        return ST_ENOMEM;
    }
    job->vfs = log->vfs;
    job->dir = log->dir;
    st_buf_init(&job->epochs);
    st_buf_init(&job->producers);
    int rv = pin_segments(log, job);
    job->target = log->end_offset;
    job->sync_dir = log->dir_dirty;
    job->recovery_point = st_log_active(log)->base;
    job->write_rp = job->recovery_point != log->recovery_point;
    job->write_epochs = log->epochs.dirty;
    /* Unchanged producer state is rewritten at roll and close only, to
     * move its upto offset (where the open-time header scan starts). */
    bool rolled = false;
    for (size_t i = 0; i < job->n; i++) {
        rolled = rolled || job->p[i].write_index;
    }
    job->write_producers =
        log->producers.dirty ||
        ((rolled || log->closing) && log->ps_upto_written != log->end_offset);
    job->hw = log->hw;
    job->write_hw = log->hw != log->hw_written;
    if (rv == 0 && job->write_epochs) {
        rv = st_epoch_cache_encode(&log->epochs, &job->epochs);
    }
    if (rv == 0 && job->write_producers) {
        rv = st_producer_state_encode(&log->producers, log->end_offset,
                                      &job->producers);
    }
    if (rv != 0) {
        job_free(job);
        return rv;
    }
    if (job->n == 0 && !job->sync_dir && !job->write_rp &&
        !job->write_epochs && !job->write_producers && !job->write_hw &&
        log->synced_offset >= log->end_offset) {
        job_free(job);
        return 1;
    }
    log->dir_dirty = false;
    log->epochs.dirty = false;
    log->producers.dirty = false;
    log->flushing = true;
    *out = job;
    return 0;
}

static int write_cp(struct st_log_flush_job *job, const char *name,
                    uint16_t kind, const struct st_buf *b)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", job->dir, name);
    return st_checkpoint_write(job->vfs, p, kind, b->base, b->len);
}

static int write_i64(struct st_log_flush_job *job, const char *name,
                     uint16_t kind, int64_t v)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", job->dir, name);
    return st_checkpoint_write_i64(job->vfs, p, kind, v);
}

void st_log_flush_run(struct st_log_flush_job *job)
{
    int rv = 0;
    for (size_t i = 0; i < job->n && rv == 0; i++) {
        struct pinned *pp = &job->p[i];
        if (pp->write_index) {
            rv = st_segment_write_index_files(job->vfs, pp->seg->path,
                                              &pp->idx, &pp->tidx);
        }
        if (rv == 0 && pp->file != NULL) {
            rv = st_vfs_fsync(pp->file);
        }
    }
    if (rv == 0 && job->sync_dir) {
        rv = st_vfs_fsync_dir(job->vfs, job->dir);
    }
    if (rv == 0 && job->write_epochs) {
        rv = write_cp(job, "leader-epoch-checkpoint", ST_CHECKPOINT_EPOCHS,
                      &job->epochs);
    }
    if (rv == 0 && job->write_producers) {
        rv = write_cp(job, "producer-state", ST_CHECKPOINT_PRODUCERS,
                      &job->producers);
    }
    if (rv == 0 && job->write_hw) {
        rv = write_i64(job, "high-watermark", ST_CHECKPOINT_HW, job->hw);
    }
    if (rv == 0 && job->write_rp) {
        rv = write_i64(job, "recovery-point", ST_CHECKPOINT_RECOVERY_POINT,
                       job->recovery_point);
    }
    job->rv = rv;
}

int st_log_flush_done(struct st_log *log, struct st_log_flush_job *job)
{
    int rv = job->rv;
    log->flushing = false;
    if (rv != 0) {
        log->failed = rv;
        ST_ERROR("log", "dir=%s flush failed, log refuses writes until "
                        "reopened: %s",
                 log->dir, st_strerror(rv));
        job_free(job);
        return rv;
    }
    for (size_t i = 0; i < job->n; i++) {
        struct pinned *pp = &job->p[i];
        if (pp->seg->gen != pp->gen) {
            continue;
        }
        if (pp->file != NULL && pp->seg->synced_size < pp->size) {
            pp->seg->synced_size = pp->size;
        }
        if (pp->write_index && pp->seg->size == pp->size) {
            pp->seg->index_written = true;
        }
    }
    if (job->write_rp) {
        log->recovery_point = job->recovery_point;
    }
    if (job->write_hw) {
        log->hw_written = job->hw;
    }
    if (job->write_producers) {
        log->ps_upto_written = job->target;
    }
    int64_t synced = job->target < log->end_offset ? job->target
                                                   : log->end_offset;
    if (synced > log->synced_offset) {
        log->synced_offset = synced;
    }
    job_free(job);
    if (log->conf.flush_policy == ST_LOG_FLUSH_BATCH) {
        st_log_publish_durable(log, log->synced_offset);
    }
    return 0;
}

int st_log_flush(struct st_log *log)
{
    struct st_log_flush_job *job;
    int rv = st_log_flush_begin(log, &job);
    if (rv != 0) {
        return rv == 1 ? 0 : rv;
    }
    st_log_flush_run(job);
    return st_log_flush_done(log, job);
}
