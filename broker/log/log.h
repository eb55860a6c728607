/* A partition's log on disk: a directory of segments.
 *
 *   <dir>/00000000000000000000.log        record batches, as they arrived
 *   <dir>/00000000000000000000.index      sparse offset index (index.h)
 *   <dir>/00000000000000000000.timeindex  time index (index.h)
 *   <dir>/log-start-offset                checkpoint: earliest valid offset
 *   <dir>/recovery-point                  checkpoint: all below is fsynced
 *   <dir>/high-watermark                  checkpoint written by the owner
 *   <dir>/leader-epoch-checkpoint         epoch -> start offset (epoch_cache.h)
 *   <dir>/producer-state                  pid -> epoch, sequences (producer_state.h)
 *   <dir>/clean-shutdown                  marker: indexes are trustworthy
 *
 *   <base>.log.deleted / <base>.cleaned    transient (deletion / compaction)
 *
 * Segment names are the 20-digit base offset: the log end offset when the
 * segment was rolled, which is its first batch's offset except after a
 * follower's gap (so consecutive segments always meet, which is how open
 * tells a lost unsynced tail from a gap). Batches are Kafka v2 record batches
 * (common/batch.h); the log writes them byte for byte as they arrived, only
 * rewriting base_offset and leader_epoch (outside the CRC) on a leader.
 *
 * Threads: a log belongs to one "owner" thread (the partition's event loop)
 * that calls every function here unless a function says "Runs on: any
 * thread / a worker". Disk work that may block for long (fsync, deleting
 * segments, compaction) is split into begin (owner) / run (worker) / done
 * (owner) triples so the owner never waits on a disk flush; flusher.h drives
 * them from a libevent loop with worker threads. The begin/run/done
 * functions take the same job object; one job of each kind at a time.
 * A flush run fsyncs files the owner keeps appending to: fine for the
 * posix vfs (stateless handles over pwrite/fdatasync) and the locked mem
 * vfs.
 *
 * Errors are ST_E* values (common/err.h). A failed write or fsync is sticky:
 * the log refuses further appends with that error until it is reopened,
 * because a retried fsync may "succeed" over dropped pages (LMDB's
 * MDB_FATAL_ERROR; PostgreSQL fsyncgate).
 */
#ifndef ST_LOG_H
#define ST_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct st_vfs;
struct st_file;
struct st_log;
struct st_segment;

enum st_log_flush_policy {
    ST_LOG_FLUSH_BATCH,    /* durable = fsynced; group commit (default) */
    ST_LOG_FLUSH_INTERVAL, /* fsync every flush_interval_ms; ack at once */
    ST_LOG_FLUSH_NONE,     /* page cache only (Kafka's default); ack at once */
};

enum {
    ST_LOG_CLEANUP_DELETE = 1 << 0, /* retention by time and size */
    ST_LOG_CLEANUP_COMPACT = 1 << 1, /* keep the latest record per key */
};

/* Configuration of one log; plain values, copied at open. The broker maps
 * its config keys (in parentheses) onto these. st_log_config_init() sets the
 * defaults shown. */
struct st_log_config {
    uint64_t segment_bytes;         /* segment.bytes: 1 GiB */
    int64_t segment_ms;             /* segment.ms: 7 days; <= 0 never.
                                     * Counted from the segment's creation,
                                     * or from the last open for the
                                     * active one. */
    uint32_t index_interval_bytes;  /* index.interval.bytes: 4096 */
    int64_t retention_ms;           /* retention.ms: 7 days; < 0 forever */
    int64_t retention_bytes;        /* retention.bytes: -1 (no limit) */
    unsigned cleanup_policy;        /* cleanup.policy: DELETE */
    enum st_log_flush_policy flush_policy; /* log.flush.policy: BATCH */
    int64_t flush_interval_ms;      /* log.flush.interval.ms: 1000 */
    uint32_t max_message_bytes;     /* max.message.bytes: 1 MiB + 12 */
    int64_t delete_retention_ms;    /* delete.retention.ms: 1 day */
    uint64_t dedupe_buffer_bytes;   /* log.cleaner.dedupe.buffer.size: 128 MiB */
    bool verify_reads;              /* CRC-check bytes before first serving
                                     * them after open: true */
};

void st_log_config_init(struct st_log_config *c);
/* The configuration the log was opened with. Borrowed. */
const struct st_log_config *st_log_config(const struct st_log *log);

/* ---- open and close ---- */

/* Open (creating if missing) the log in directory @dir of @vfs.
 *
 * Recovery: without the clean-shutdown marker, every segment at or after
 * the recovery point is scanned batch by batch (length, magic, CRC) and
 * the log is truncated at the first bad batch of the *last* segment (a torn
 * write). A bad batch in an earlier segment is not repaired: it is logged
 * with file and position (ST_CORRUPT) and the segment is cut there in
 * memory (never served; reads of those offsets answer ST_ECORRUPT). Missing
 * or inconsistent index files are rebuilt from the .log. Leftovers of an
 * interrupted compaction (*.cleaned) or atomic write (*.tmp) are removed.
 * Producer state and the leader-epoch cache are reloaded from their
 * checkpoints and brought up to the log end by scanning batch headers.
 *
 * @now_ms is wall time, used as the creation time of a new segment.
 * Ownership: @vfs is borrowed and must outlive the log; *out is the
 * caller's, st_log_close() it. @dir is copied.
 * Errors: ST_ENOMEM, ST_EIO, ST_ECORRUPT (a checkpoint file is damaged
 * beyond use), ST_EINVAL (bad config). */
int st_log_open(struct st_vfs *vfs, const char *dir,
                const struct st_log_config *conf, int64_t now_ms,
                struct st_log **out);

/* Flush everything synchronously (segments, indexes, checkpoints), write the
 * clean-shutdown marker (only when no write or fsync failed) and free the
 * log. Waits for nothing: callers finish any begin/run/done job first (the
 * flusher does). NULL-safe. Returns the first error met; the log is freed
 * anyway. Runs on: the owner thread; blocks on disk. */
int st_log_close(struct st_log *log);

/* Free the log without writing anything: no flush, no marker, no index
 * files. For tests that model a process dying (after st_vfs_mem_crash or
 * to leave the directory as a crash would). NULL-safe. */
void st_log_abandon(struct st_log *log);

/* ---- append ---- */

enum st_log_append_mode {
    ST_LOG_APPEND_LEADER,   /* assign offsets and leader epoch */
    ST_LOG_APPEND_FOLLOWER, /* keep the leader's offsets and epochs */
};

struct st_log_append_info {
    int64_t base_offset;  /* offset of the first record appended */
    int64_t last_offset;  /* offset of the last record appended */
    bool duplicate;       /* idempotent retry: nothing written; the offsets
                           * are those of the original append */
};

/* Append the record batches in @buf (@len bytes: one or more whole batches,
 * back to back). Each is validated (length, magic, CRC, size limit
 * max_message_bytes) before anything is written: one bad batch refuses the
 * whole call. LEADER: base offsets are assigned from the log end and
 * @leader_epoch is stamped into each batch, in place in @buf; producer
 * batches (producer_id >= 0) are checked for idempotence first.
 * FOLLOWER: offsets must be increasing and at or past the log end (gaps are
 * allowed: compacted leaders); @leader_epoch is ignored.
 * The log rolls a new segment first when the active one is full
 * (segment_bytes) or old (segment_ms, measured from @now_ms).
 * Durability is reported later (st_log_durable_offset, durable callback).
 * @buf is borrowed for the call (and modified in place on a leader).
 * Errors: ST_ECRC/ST_ECORRUPT/ST_EAGAIN (a batch is bad or cut short),
 * ST_ETOOBIG, ST_ERANGE (follower offsets behind the log end; or a
 * producer sequence out of order), ST_EFENCED (producer epoch older than
 * the one known), ST_ENOSPC/ST_EIO (write failed: sticky for EIO; for
 * ENOSPC the partial write is cut back and later appends may succeed once
 * space frees), and any earlier sticky error. */
int st_log_append(struct st_log *log, uint8_t *buf, size_t len,
                  enum st_log_append_mode mode, int32_t leader_epoch,
                  int64_t now_ms, struct st_log_append_info *out);

/* ---- read ---- */

/* A byte range of one segment file holding whole batches. While held it
 * pins the segment (its file stays open and its bytes are not deleted or
 * replaced); st_log_read_release() it. @file is for st_vfs_pread, @fd for
 * sendfile (-1 on a vfs without descriptors). */
struct st_log_read_result {
    struct st_file *file;
    int fd;
    uint64_t pos;
    uint64_t len;           /* 0: nothing to read yet (at the upper bound) */
    int64_t first_offset;   /* base offset of the first batch in the range */
    int64_t next_offset;    /* offset after the last batch in the range */
    struct st_segment *seg; /* private pin */
};

/* Read whole batches holding offsets >= @offset and < @max_offset (the high
 * watermark for consumers, the log end for followers), at most @max_bytes
 * of them, except that the first batch is returned whole even when larger
 * (so a consumer always makes progress, as Kafka does). The first batch
 * returned may start before @offset (batches are not split). The range
 * never crosses a segment end: call again at next_offset.
 * Errors: ST_ERANGE when @offset is below the log start or past the log end
 * (answer "offset out of range" with st_log_start_offset() /
 * st_log_end_offset()), ST_ECORRUPT (damaged bytes; logged with file and
 * position, never served), ST_EIO.
 * A later st_log_truncate_to() may cut the bytes of a range still held
 * (the file shrinks under it, as in Kafka); retention, compaction and
 * full truncation never do (they replace or rename files instead).
 * Ownership: on success *out must be released. */
int st_log_read(struct st_log *log, int64_t offset, int64_t max_offset,
                size_t max_bytes, struct st_log_read_result *out);
/* Drop the pin of a successful read. NULL-safe on out->seg == NULL. Runs on:
 * any thread (sends may finish on another thread). */
void st_log_read_release(struct st_log_read_result *r);

/* Offset of the first batch whose max timestamp is >= @ts_ms (ListOffsets
 * by time), or ST_ENOENT when every batch is older. Returns 0 and *offset. */
int st_log_offset_for_time(struct st_log *log, int64_t ts_ms,
                           int64_t *offset);

/* ---- positions ---- */

int64_t st_log_start_offset(const struct st_log *log);
/* Offset the next append gets (log end offset). */
int64_t st_log_end_offset(const struct st_log *log);
/* Every offset below this counts as durable under the flush policy: for
 * BATCH it has been fsynced; for INTERVAL and NONE it equals the log end
 * (acknowledged from the page cache, as Kafka does). */
int64_t st_log_durable_offset(const struct st_log *log);
/* Every offset below this has really been fsynced (any policy). */
int64_t st_log_synced_offset(const struct st_log *log);
/* Sticky error (0 when healthy). */
int st_log_failed(const struct st_log *log);
/* Called on the owner thread whenever st_log_durable_offset() grows, with
 * the new value. Replaces any earlier callback; @cb NULL removes it. */
typedef void (*st_log_durable_cb)(void *arg, int64_t durable_offset);
void st_log_set_durable_cb(struct st_log *log, st_log_durable_cb cb,
                           void *arg);
/* Bytes of all segments; number of segments. */
uint64_t st_log_size_bytes(const struct st_log *log);
size_t st_log_segment_count(const struct st_log *log);
/* Wall time the active segment was created (for segment_ms). */
int64_t st_log_active_created_ms(const struct st_log *log);

/* ---- flush (durability) ---- */

struct st_log_flush_job;

/* Start a flush of everything appended so far: pins the segments with
 * unsynced writes and snapshots the checkpoints that changed. Returns 0 and
 * *job (the log keeps ownership; it is freed by _done), or 1 when there is
 * nothing to flush or a flush is already running (*job NULL). Errors: the
 * sticky error, ST_ENOMEM. */
int st_log_flush_begin(struct st_log *log, struct st_log_flush_job **job);
/* fsync the pinned files, the directory when segments were created, and
 * write the snapshotted checkpoints. Runs on: a worker thread (or the
 * owner); touches no state the owner changes. */
void st_log_flush_run(struct st_log_flush_job *job);
/* Publish the result: advance the synced/durable offsets and call the
 * durable callback, or make the failure sticky. Frees @job. Returns the
 * job's status. */
int st_log_flush_done(struct st_log *log, struct st_log_flush_job *job);
/* begin + run + done on the calling thread. Returns 0 when there was
 * nothing to do. Blocks on disk. */
int st_log_flush(struct st_log *log);
/* True when appends are waiting for an fsync under the BATCH policy (the
 * flusher then starts the next group commit). */
bool st_log_flush_wanted(const struct st_log *log);

/* ---- truncation ---- */

/* Discard every batch holding an offset >= @offset (a follower dropping a
 * divergent suffix, KIP-101). Cuts at a batch boundary, so the log end
 * becomes the base of the batch holding @offset (or stays if already
 * <= @offset). Later segments are deleted. Durable before returning.
 * Errors: ST_ERANGE if @offset < log start; ST_EIO; ST_EAGAIN while a
 * flush, retention or clean job is running (st_log_flusher_drain() or
 * retry after its done). Blocks on disk (truncation is rare). */
int st_log_truncate_to(struct st_log *log, int64_t offset);
/* Delete every segment and restart the log empty at @offset (a replica
 * far behind the leader's log start); @now_ms is the new segment's
 * creation time. Durable before returning. Errors as st_log_truncate_to. */
int st_log_truncate_full(struct st_log *log, int64_t offset, int64_t now_ms);

/* ---- retention ---- */

struct st_log_retention_job;

/* Choose whole non-active segments to delete: those whose newest record
 * is older than retention_ms before @now_ms, and the oldest ones while the
 * log exceeds retention_bytes; never a segment holding offsets >= @hw.
 * Only with cleanup policy DELETE. The log start moves past them at once
 * (reads below answer ST_ERANGE) and is checkpointed by the run.
 * Returns 0 and *job, or 1 when nothing is due. */
int st_log_retention_begin(struct st_log *log, int64_t now_ms, int64_t hw,
                           struct st_log_retention_job **job);
/* Write the log-start checkpoint, then unlink the segments' files.
 * Runs on: a worker. */
void st_log_retention_run(struct st_log_retention_job *job);
/* Frees @job; returns its status. */
int st_log_retention_done(struct st_log *log,
                          struct st_log_retention_job *job);

/* ---- compaction ---- */

struct st_log_clean_job;

/* Choose the non-active segments below @hw for cleaning (cleanup policy
 * COMPACT). Returns 0 and *job, or 1 when there is nothing to clean. */
int st_log_clean_begin(struct st_log *log, int64_t now_ms, int64_t hw,
                       struct st_log_clean_job **job);
/* Build the key -> latest offset map (bounded by dedupe_buffer_bytes; it
 * cleans fewer segments when the map fills) and write a cleaned copy of
 * each chosen segment as <base>.cleaned, fsynced. Offsets are unchanged;
 * tombstones older than delete_retention_ms are dropped. Runs on: a
 * worker; reads only the pinned segments. */
void st_log_clean_run(struct st_log_clean_job *job);
/* Swap each cleaned copy in atomically (rename over the .log; indexes
 * rewritten) unless the segment changed meanwhile (then it is discarded).
 * Frees @job and returns its status, or returns 1 and keeps @job while a
 * flush job is running (call again after its done). Blocks on renames
 * and a directory fsync. */
int st_log_clean_done(struct st_log *log, struct st_log_clean_job *job);

/* ---- file descriptors ---- */

/* Close the files of non-active segments not read since @idle_ms before
 * @now_mono_ms and not pinned. They reopen on the next read. */
void st_log_close_idle(struct st_log *log, uint64_t now_mono_ms,
                       uint64_t idle_ms);
/* Number of segment files currently open, and of segments whose indexes
 * are in memory (old segments load them on first use, KIP-263 style, and
 * drop them with their idle file). */
size_t st_log_open_files(const struct st_log *log);
size_t st_log_loaded_indexes(const struct st_log *log);

/* ---- checkpoints kept beside the log ---- */

struct st_epoch_cache;
struct st_producer_state;

/* The leader-epoch cache (epoch_cache.h) and producer state
 * (producer_state.h) that this log maintains on append/truncate. Borrowed;
 * valid until close. Changes made through them are checkpointed by the next
 * flush. */
struct st_epoch_cache *st_log_epochs(struct st_log *log);
struct st_producer_state *st_log_producers(struct st_log *log);

/* The high watermark is the owner's (replica state); the log only stores
 * it: written durably by the next flush (or st_log_close). *hw is -1 when
 * never written. Errors: ST_ECORRUPT on a damaged file. */
void st_log_set_high_watermark(struct st_log *log, int64_t hw);
int64_t st_log_high_watermark(const struct st_log *log);

#endif
