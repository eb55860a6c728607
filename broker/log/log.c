/* The partition log: append, read, roll, truncate, positions. Opening and
 * recovery are in recover.c, flushing in flush.c. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/log/checkpoint.h"
#include "broker/log/log_int.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"

void st_log_config_init(struct st_log_config *c)
{
    memset(c, 0, sizeof *c);
    c->segment_bytes = 1ull << 30;
    c->segment_ms = 7ll * 24 * 3600 * 1000;
    c->index_interval_bytes = 4096;
    c->retention_ms = 7ll * 24 * 3600 * 1000;
    c->retention_bytes = -1;
    c->cleanup_policy = ST_LOG_CLEANUP_DELETE;
    c->flush_policy = ST_LOG_FLUSH_BATCH;
    c->flush_interval_ms = 1000;
    c->max_message_bytes = (1u << 20) + 12;
    c->delete_retention_ms = 24ll * 3600 * 1000;
    c->dedupe_buffer_bytes = 128ull << 20;
    c->verify_reads = true;
}

const struct st_log_config *st_log_config(const struct st_log *log)
{
    return &log->conf;
}

struct st_segment *st_log_active(const struct st_log *log)
{
    return log->segs[log->n_segs - 1];
}

size_t st_log_seg_for(const struct st_log *log, int64_t offset)
{
    size_t lo = 0, hi = log->n_segs; /* count of segments with base <= */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base <= offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? 0 : lo - 1;
}

int st_log_push_segment(struct st_log *log, struct st_segment *seg)
{
    if (log->n_segs == log->cap_segs) {
        size_t cap = log->cap_segs ? log->cap_segs * 2 : 8;
        struct st_segment **s = st_realloc(log->segs, cap * sizeof *s);
        if (s == NULL) {
            return ST_ENOMEM;
        }
        log->segs = s;
        log->cap_segs = cap;
    }
    log->segs[log->n_segs++] = seg;
    return 0;
}

void st_log_remove_segments(struct st_log *log, size_t from, size_t n)
{
    if (n == 0) {
        return;
    }
    memmove(log->segs + from, log->segs + from + n,
            (log->n_segs - from - n) * sizeof *log->segs);
    log->n_segs -= n;
}

void st_log_path(const struct st_log *log, const char *name, char *out,
                 size_t cap)
{
    snprintf(out, cap, "%s/%s", log->dir, name);
}

void st_log_publish_durable(struct st_log *log, int64_t durable)
{
    if (durable <= log->durable_offset) {
        return;
    }
    log->durable_offset = durable;
    if (log->durable_cb != NULL) {
        log->durable_cb(log->durable_arg, durable);
    }
}

int st_log_roll(struct st_log *log, int64_t base, int64_t now_ms)
{
    struct st_segment *seg;
    if (log->n_segs > 0) {
        int srv = st_segment_seal(st_log_active(log));
        if (srv != 0) {
            return srv;
        }
    }
    int rv = st_segment_new(log->vfs, log->dir, base,
                            log->conf.index_interval_bytes, &seg);
    if (rv != 0) {
        return rv;
    }
    rv = st_segment_create(seg);
    if (rv == 0) {
        rv = st_log_push_segment(log, seg);
    }
    if (rv != 0) {
        st_segment_release(seg);
        return rv;
    }
    seg->created_ms = now_ms;
    log->dir_dirty = true;
    ST_DEBUG("log", "dir=%s rolled segment base=%" PRId64, log->dir, base);
    return 0;
}

/* ---- append ---- */

static bool needs_roll(const struct st_log *log, const struct st_segment *seg,
                       size_t len, int64_t first, int64_t last, int64_t now)
{
    if (seg->size == 0) {
        return first - seg->base > (int64_t)UINT32_MAX - 1 ||
               last - seg->base > (int64_t)UINT32_MAX - 1;
    }
    /* Damage found in the active segment (a read's CRC check) would hide
     * every batch appended after it: start a fresh segment
     * (fuzz_log_open). */
    return seg->corrupt_pos >= 0 ||
           seg->size + len > log->conf.segment_bytes ||
           (log->conf.segment_ms > 0 &&
            now - seg->created_ms >= log->conf.segment_ms) ||
           last - seg->base > (int64_t)UINT32_MAX - 1;
}

/* Validate every batch in @buf and work out the offsets; on a leader also
 * stamp them. Returns 1 for a duplicate (out filled). */
static int prepare(struct st_log *log, uint8_t *buf, size_t len,
                   enum st_log_append_mode mode, int32_t leader_epoch,
                   struct st_log_append_info *out)
{
    int64_t next = log->end_offset;
    size_t at = 0;
    out->base_offset = -1;
    while (at < len) {
        struct st_batch_header h;
        /* A follower takes what its leader accepted, whatever its own
         * limit says (configs may differ for a moment). */
        size_t max = mode == ST_LOG_APPEND_LEADER ? log->conf.max_message_bytes
                                                  : ST_LOG_SCAN_MAX_BATCH;
        int rv = st_batch_validate(buf + at, len - at, max, &h);
        if (rv != 0) {
            return rv;
        }
        size_t total = st_batch_total_bytes(&h);
        if (mode == ST_LOG_APPEND_FOLLOWER) {
            if (h.base_offset < next) {
                return ST_ERANGE;
            }
        } else {
            if (h.producer_id >= 0) {
                int64_t first, last;
                rv = st_producer_state_check(&log->producers, &h, &first,
                                             &last);
                if (rv == 1 && at == 0 && total == len) {
                    out->base_offset = first;
                    out->last_offset = last;
                    out->duplicate = true;
                    return 1;
                }
                if (rv != 0) {
                    return rv == 1 ? ST_EINVAL : rv;
                }
            }
            h.base_offset = next;
        }
        if (out->base_offset < 0) {
            out->base_offset = h.base_offset;
        }
        next = st_batch_last_offset(&h) + 1;
        at += total;
    }
    if (mode == ST_LOG_APPEND_LEADER) {
        int64_t off = log->end_offset;
        for (at = 0; at < len;) {
            struct st_batch_header h;
            st_batch_header_decode(buf + at, len - at, &h);
            st_batch_set_base_offset(buf + at, off);
            st_batch_set_leader_epoch(buf + at, leader_epoch);
            off += h.last_offset_delta + 1;
            at += st_batch_total_bytes(&h);
        }
    }
    out->last_offset = next - 1;
    return 0;
}

/* The bytes are on the file: update indexes, epochs and producers. */
static int note_appended(struct st_log *log, struct st_segment *seg,
                         const uint8_t *buf, size_t len, uint64_t pos)
{
    for (size_t at = 0; at < len;) {
        struct st_batch_header h;
        st_batch_header_decode(buf + at, len - at, &h);
        size_t total = st_batch_total_bytes(&h);
        int rv = st_segment_note_batch(seg, log->conf.index_interval_bytes,
                                       &h, pos + at, total);
        if (rv == 0) {
            rv = st_epoch_cache_assign(&log->epochs, h.leader_epoch,
                                       h.base_offset);
        }
        if (rv == 0) {
            rv = st_producer_state_update(&log->producers, &h);
        }
        if (rv != 0) {
            return rv;
        }
        at += total;
    }
    return 0;
}

int st_log_append(struct st_log *log, uint8_t *buf, size_t len,
                  enum st_log_append_mode mode, int32_t leader_epoch,
                  int64_t now_ms, struct st_log_append_info *out)
{
    memset(out, 0, sizeof *out);
    if (log->failed != 0) {
        return log->failed;
    }
    if (len == 0) {
        return ST_EINVAL;
    }
    int rv = prepare(log, buf, len, mode, leader_epoch, out);
    if (rv != 0) {
        return rv == 1 ? 0 : rv;
    }
    struct st_segment *seg = st_log_active(log);
    if (needs_roll(log, seg, len, out->base_offset, out->last_offset,
                   now_ms)) {
        /* The new segment is named after the log end, not the first
         * batch (they differ only after a follower's gap): consecutive
         * segments then always meet, and recovery can tell a lost tail
         * from a gap. Only a gap too wide for 32-bit relative offsets
         * names it after the batch. */
        int64_t base = log->end_offset;
        if (out->last_offset - base > (int64_t)UINT32_MAX - 1 ||
            base <= seg->base) {
            base = out->base_offset;
            if (seg->size == 0) {
                /* An empty segment must not stop short of its successor
                 * (open would take it for a lost tail): drop it. */
                log->n_segs--;
                st_segment_delete(seg);
            }
        }
        rv = st_log_roll(log, base, now_ms);
        if (rv != 0 && log->n_segs == 0) {
            log->failed = rv; /* no active segment left */
        }
        if (rv != 0) {
            return rv;
        }
        seg = st_log_active(log);
    }
    struct st_file *f;
    rv = st_segment_file(seg, &f);
    if (rv != 0) {
        return rv;
    }
    uint64_t pos = seg->size;
    rv = st_vfs_pwrite(f, buf, len, pos);
    if (rv != 0) {
        /* Cut back whatever part of the write landed, so the file ends at
         * a batch boundary; if even that fails the log is unusable. */
        int trv = st_vfs_truncate(f, pos);
        if (rv != ST_ENOSPC || trv != 0) {
            log->failed = rv;
            ST_ERROR("log", "dir=%s append failed at pos=%" PRIu64 ": %s",
                     log->dir, pos, st_strerror(rv));
        }
        return rv;
    }
    bool verified = seg->verified_size == pos;
    seg->index_written = false;
    rv = note_appended(log, seg, buf, len, pos);
    if (rv != 0) {
        log->failed = rv; /* memory and file disagree now */
        return rv;
    }
    if (verified) {
        seg->verified_size = seg->size;
    }
    log->end_offset = seg->next_offset;
    if (log->conf.flush_policy != ST_LOG_FLUSH_BATCH) {
        st_log_publish_durable(log, log->end_offset);
    }
    return 0;
}

/* ---- read ---- */

/* CRC-check [from, to) of @seg, batch by batch. Returns the position of
 * the first bad batch, or @to when all are good. */
/* CRC-check the batches in [@from, @to) of @seg. The base offset is
 * outside the CRC, so offsets are checked too: each batch must start at or
 * after @floor (the offset after the batch before @from) and after the
 * one before it; a trusted segment is never scanned at open, and a flipped
 * bit there would otherwise serve offsets out of order
 * (fuzz_log_open). */
static int verify_range(struct st_log *log, struct st_segment *seg,
                        uint64_t from, uint64_t to, int64_t floor,
                        uint64_t *good_end)
{
    struct st_seg_reader r;
    st_seg_reader_init(&r, seg->file, to);
    int rv = 0;
    uint64_t pos = from;
    while (pos < to) {
        struct st_batch_header h;
        rv = st_seg_reader_batch(&r, pos, true, &h, NULL);
        if (rv == 0 && (h.base_offset < floor ||
                        h.base_offset - seg->base > UINT32_MAX - 1 ||
                        st_batch_last_offset(&h) >= seg->limit)) {
            rv = ST_ECORRUPT;
        }
        if (rv != 0) {
            break;
        }
        floor = st_batch_last_offset(&h) + 1;
        pos += st_batch_total_bytes(&h);
    }
    st_seg_reader_close(&r);
    *good_end = pos;
    if (rv == ST_ECORRUPT || rv == 1) {
        seg->corrupt_pos = (int64_t)pos;
        return ST_CORRUPT(seg->log_path, pos,
                          "bad batch (CRC or offset) on read");
    }
    (void)log;
    return rv;
}

int st_log_read(struct st_log *log, int64_t offset, int64_t max_offset,
                size_t max_bytes, struct st_log_read_result *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->first_offset = offset;
    out->next_offset = offset;
    if (offset < log->start_offset || offset > log->end_offset) {
        return ST_ERANGE;
    }
    if (offset >= max_offset || offset == log->end_offset) {
        return 0;
    }
    struct st_segment *seg = NULL;
    struct st_batch_header h;
    uint64_t pos = 0;
    bool found = false;
    for (size_t i = st_log_seg_for(log, offset); i < log->n_segs; i++) {
        seg = log->segs[i];
        int rv = st_segment_find(seg, offset, &pos, &h, &found);
        if (rv != 0) {
            return rv;
        }
        if (found) {
            break;
        }
    }
    if (!found || h.base_offset >= max_offset) {
        return 0;
    }
    uint64_t end = pos;
    int64_t next = offset;
    int64_t first_offset = h.base_offset;
    uint8_t hb[ST_BATCH_HEADER_BYTES];
    uint64_t vfrom = pos < seg->verified_size ? seg->verified_size : pos;
    int64_t vfloor = seg->base; /* offset after the batch before vfrom */
    for (;;) {
        uint64_t total = st_batch_total_bytes(&h);
        if (end > pos && end - pos + total > max_bytes) {
            break;
        }
        end += total;
        next = st_batch_last_offset(&h) + 1;
        if (end == vfrom) {
            vfloor = next;
        }
        if (end >= seg->size) {
            break;
        }
        size_t n = 0;
        int rv = st_vfs_pread(seg->file, hb, sizeof hb, end, &n);
        if (rv != 0) {
            return rv;
        }
        if (n < sizeof hb || st_batch_header_decode(hb, n, &h) != 0) {
            break; /* the CRC pass below reports it */
        }
        if (h.base_offset >= max_offset) {
            break;
        }
    }
    if (log->conf.verify_reads && end > seg->verified_size) {
        uint64_t from = vfrom;
        uint64_t good = from;
        int rv = verify_range(log, seg, from, end, vfloor, &good);
        if (from == seg->verified_size) {
            seg->verified_size = good;
        }
        if (rv != 0 && good <= pos) {
            return rv;
        }
        if (rv != 0) {
            /* Serve the good prefix; the next read reports the damage. */
            end = pos;
            next = offset;
            while (end < good) {
                size_t n = 0;
                rv = st_vfs_pread(seg->file, hb, sizeof hb, end, &n);
                if (rv != 0) {
                    return rv;
                }
                st_batch_header_decode(hb, n, &h);
                end += st_batch_total_bytes(&h);
                next = st_batch_last_offset(&h) + 1;
            }
        }
    }
    st_segment_acquire(seg);
    seg->last_used_mono = 0;
    out->seg = seg;
    out->file = seg->file;
    out->fd = st_vfs_fd(seg->file);
    out->pos = pos;
    out->len = end - pos;
    out->first_offset = first_offset;
    out->next_offset = next;
    return 0;
}

void st_log_read_release(struct st_log_read_result *r)
{
    if (r == NULL || r->seg == NULL) {
        return;
    }
    st_segment_release(r->seg);
    r->seg = NULL;
    r->file = NULL;
}

int st_log_offset_for_time(struct st_log *log, int64_t ts_ms, int64_t *offset)
{
    for (size_t i = 0; i < log->n_segs; i++) {
        struct st_segment *seg = log->segs[i];
        if (seg->max_ts < ts_ms || seg->next_offset <= log->start_offset) {
            continue;
        }
        struct st_file *f;
        int rv = st_segment_ensure_index(seg);
        if (rv == 0) {
            rv = st_segment_file(seg, &f);
        }
        uint32_t rel = st_time_index_lookup(&seg->tidx, ts_ms);
        uint64_t pos = st_offset_index_lookup(&seg->idx, rel, NULL);
        if (rv != 0) {
            return rv;
        }
        struct st_seg_reader r;
        st_seg_reader_init(&r, f, seg->size);
        while (pos < seg->size) {
            struct st_batch_header h;
            rv = st_seg_reader_batch(&r, pos, false, &h, NULL);
            if (rv != 0) {
                break;
            }
            if (h.base_offset < seg->base ||
                h.base_offset >= seg->next_offset) {
                /* Headers are read unverified here: a trusted segment's
                 * bytes were never scanned (fuzz_log_open). */
                st_seg_reader_close(&r);
                return ST_CORRUPT(seg->log_path, pos,
                                  "batch offset %" PRId64 " outside [%" PRId64
                                  ", %" PRId64 ")",
                                  h.base_offset, seg->base, seg->next_offset);
            }
            if (h.max_timestamp >= ts_ms &&
                st_batch_last_offset(&h) >= log->start_offset) {
                st_seg_reader_close(&r);
                int64_t found = h.base_offset < log->start_offset
                                    ? log->start_offset
                                    : h.base_offset;
                if (found >= st_log_end_offset(log)) {
                    /* Only bytes past the log end (a start offset moved
                     * beyond them, or an unverified header) matched: no
                     * record of the log answers @ts_ms (fuzz_log_open). */
                    return ST_ENOENT;
                }
                *offset = found;
                return 0;
            }
            pos += st_batch_total_bytes(&h);
        }
        st_seg_reader_close(&r);
        if (rv < 0) {
            return rv;
        }
    }
    return ST_ENOENT;
}

/* ---- positions ---- */

int64_t st_log_start_offset(const struct st_log *log)
{
    return log->start_offset;
}
int64_t st_log_end_offset(const struct st_log *log)
{
    return log->end_offset;
}
int64_t st_log_durable_offset(const struct st_log *log)
{
    return log->durable_offset;
}
int64_t st_log_synced_offset(const struct st_log *log)
{
    return log->synced_offset;
}
int st_log_failed(const struct st_log *log)
{
    return log->failed;
}
void st_log_set_durable_cb(struct st_log *log, st_log_durable_cb cb,
                           void *arg)
{
    log->durable_cb = cb;
    log->durable_arg = arg;
}
uint64_t st_log_size_bytes(const struct st_log *log)
{
    uint64_t n = 0;
    for (size_t i = 0; i < log->n_segs; i++) {
        n += log->segs[i]->size;
    }
    return n;
}
size_t st_log_segment_count(const struct st_log *log)
{
    return log->n_segs;
}
int64_t st_log_active_created_ms(const struct st_log *log)
{
    return st_log_active(log)->created_ms;
}
struct st_epoch_cache *st_log_epochs(struct st_log *log)
{
    return &log->epochs;
}
struct st_producer_state *st_log_producers(struct st_log *log)
{
    return &log->producers;
}
void st_log_set_high_watermark(struct st_log *log, int64_t hw)
{
    log->hw = hw;
}
int64_t st_log_high_watermark(const struct st_log *log)
{
    return log->hw;
}

/* ---- idle files ---- */

void st_log_close_idle(struct st_log *log, uint64_t now_mono_ms,
                       uint64_t idle_ms)
{
    for (size_t i = 0; i + 1 < log->n_segs; i++) {
        struct st_segment *seg = log->segs[i];
        if (seg->file == NULL || atomic_load(&seg->refs) != 1 ||
            seg->synced_size < seg->size) {
            continue;
        }
        if (seg->last_used_mono == 0) {
            seg->last_used_mono = now_mono_ms; /* used since last sweep */
        } else if (now_mono_ms - seg->last_used_mono >= idle_ms) {
            st_vfs_close(seg->file);
            seg->file = NULL;
            st_segment_drop_index(seg); /* reloaded from its files on use */
        }
    }
}

size_t st_log_loaded_indexes(const struct st_log *log)
{
    size_t n = 0;
    for (size_t i = 0; i < log->n_segs; i++) {
        n += log->segs[i]->idx_loaded;
    }
    return n;
}

size_t st_log_open_files(const struct st_log *log)
{
    size_t n = 0;
    for (size_t i = 0; i < log->n_segs; i++) {
        n += log->segs[i]->file != NULL;
    }
    return n;
}

/* ---- truncation ---- */

static int write_recovery_point(struct st_log *log, int64_t rp)
{
    char p[4096];
    if (rp >= log->recovery_point) {
        return 0;
    }
    st_log_path(log, "recovery-point", p, sizeof p);
    int rv = st_checkpoint_write_i64(log->vfs, p,
                                     ST_CHECKPOINT_RECOVERY_POINT, rp);
    if (rv == 0) {
        log->recovery_point = rp;
    }
    return rv;
}

/* Drop segments [from, n) from the list, unlinking their files (now, or at
 * the release of the last read pinning them). Newest first, so a crash in
 * between leaves a prefix of the log. */
static void drop_segments_from(struct st_log *log, size_t from)
{
    while (log->n_segs > from) {
        struct st_segment *seg = log->segs[log->n_segs - 1];
        log->n_segs--;
        st_segment_delete(seg);
    }
}

static int truncate_fail(struct st_log *log, int rv)
{
    log->failed = rv;
    ST_ERROR("log", "dir=%s truncation failed: %s", log->dir,
             st_strerror(rv));
    return rv;
}

int st_log_truncate_to(struct st_log *log, int64_t offset)
{
    if (log->failed != 0) {
        return log->failed;
    }
    if (log->flushing || log->cleaning || log->retaining) {
        return ST_EAGAIN;
    }
    if (offset >= log->end_offset) {
        return 0;
    }
    if (offset < log->start_offset) {
        return ST_ERANGE;
    }
    size_t i = st_log_seg_for(log, offset);
    struct st_segment *seg = log->segs[i];
    uint64_t pos;
    struct st_batch_header h;
    bool found;
    int rv = st_segment_find(seg, offset, &pos, &h, &found);
    if (rv != 0) {
        return rv;
    }
    int64_t new_end = found && h.base_offset < offset ? h.base_offset
                                                      : offset;
    if (new_end < log->start_offset) {
        new_end = log->start_offset;
    }
    /* Cutting fsyncs the cut segment, which would make its unsynced
     * appends durable before those of earlier segments: a crash could then
     * leave a hole. Flush everything first, in order (power-loss seed
     * 73361). */
    rv = st_log_flush(log);
    if (rv != 0) {
        return rv;
    }
    rv = write_recovery_point(log, seg->base);
    if (rv != 0) {
        return truncate_fail(log, rv);
    }
    drop_segments_from(log, i + 1);
    rv = st_segment_truncate(seg, pos, new_end);
    if (rv == 0) {
        rv = st_vfs_fsync_dir(log->vfs, log->dir);
    }
    if (rv != 0) {
        return truncate_fail(log, rv);
    }
    ST_INFO("log", "dir=%s truncated to offset=%" PRId64 " (asked %" PRId64
                   ")",
            log->dir, new_end, offset);
    log->end_offset = new_end;
    if (log->synced_offset > new_end) {
        log->synced_offset = new_end;
    }
    if (log->durable_offset > new_end) {
        log->durable_offset = new_end;
    }
    st_epoch_cache_truncate_end(&log->epochs, new_end);
    st_producer_state_truncate(&log->producers, new_end);
    return 0;
}

int st_log_truncate_full(struct st_log *log, int64_t offset, int64_t now_ms)
{
    char p[4096];
    if (log->failed != 0) {
        return log->failed;
    }
    if (log->flushing || log->cleaning || log->retaining) {
        return ST_EAGAIN;
    }
    if (offset < 0) {
        return ST_EINVAL;
    }
    /* The log start is durable first: a crash that resurrects old
     * segments then finds them below it and deletes them again. */
    st_log_path(log, "log-start-offset", p, sizeof p);
    int rv = st_checkpoint_write_i64(log->vfs, p, ST_CHECKPOINT_LOG_START,
                                     offset);
    if (rv == 0) {
        rv = write_recovery_point(log, offset);
    }
    if (rv != 0) {
        return truncate_fail(log, rv);
    }
    drop_segments_from(log, 0);
    rv = st_log_roll(log, offset, now_ms);
    if (rv == 0) {
        rv = st_vfs_fsync_dir(log->vfs, log->dir);
    }
    if (rv != 0) {
        return truncate_fail(log, rv);
    }
    log->dir_dirty = false;
    st_log_active(log)->index_written = false;
    ST_INFO("log", "dir=%s restarted empty at offset=%" PRId64, log->dir,
            offset);
    log->start_offset = offset;
    log->end_offset = offset;
    log->synced_offset = offset;
    log->durable_offset = offset;
    st_epoch_cache_clear(&log->epochs);
    st_producer_state_clear(&log->producers);
    return 0;
}
