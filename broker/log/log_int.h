/* Internals shared by the files of broker/log/: the segment object and the
 * log object. Not for use outside broker/log/.
 *
 * A segment is shared between the log (one reference while it is in the
 * log's list), read results (one each) and jobs (one each). References are
 * atomic because a read result may be released on another thread. The last
 * release closes the file and, when the segment was marked deleted,
 * unlinks its files.
 */
#ifndef ST_LOG_INT_H
#define ST_LOG_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/log/epoch_cache.h"
#include "broker/log/index.h"
#include "broker/log/log.h"
#include "broker/log/producer_state.h"
#include "common/batch.h"
#include "common/bytes.h"

#define ST_LOG_NAME_DIGITS 20
/* Batches larger than this are never valid on disk, whatever the config. */
#define ST_LOG_SCAN_MAX_BATCH (64u << 20)

struct st_segment {
    struct st_vfs *vfs;
    char *path;          /* "<dir>/<20-digit base>" without extension */
    char *log_path;      /* the same with ".log", for messages */
    int64_t base;
    int64_t next_offset; /* after the last batch; base when empty */
    uint64_t size;       /* bytes of batches */
    int64_t created_ms;  /* wall time, for segment_ms */
    int64_t max_ts;      /* largest batch max_timestamp, -1 when none */
    struct st_file *file;   /* NULL while closed (idle) */
    uint64_t last_used_mono;
    struct st_offset_index idx;
    struct st_time_index tidx;
    uint64_t bytes_since_index;
    uint64_t synced_size;   /* bytes known fsynced */
    uint64_t verified_size; /* bytes CRC-checked since open */
    int64_t corrupt_pos;    /* -1, or where damage was found */
    int64_t limit;          /* batches must end below this: the next
                             * segment's base (INT64_MAX: none) */
    uint64_t gen;           /* bumped when its bytes change other than by
                             * append (truncate, swap) */
    uint32_t interval;      /* index_interval_bytes */
    uint32_t last_batch_rel; /* rel offset of the last batch appended */
    bool idx_loaded;        /* idx/tidx in memory (else load on use) */
    bool index_written;     /* .index/.timeindex match the .log */
    bool deleted;           /* unlink the files at the last release */
    atomic_int refs;
};

/* ---- segment.c ---- */

/* Allocate a segment for <@dir>/<@base>; no I/O. Errors: ST_ENOMEM. */
int st_segment_new(struct st_vfs *vfs, const char *dir, int64_t base,
                   uint32_t interval, struct st_segment **out);
/* Make the indexes of a closed-over segment usable: load the files, or
 * rebuild them from the .log (CRC-checked; damage is reported and the
 * segment cut there in memory). Errors: ST_EIO, ST_ENOMEM. */
int st_segment_ensure_index(struct st_segment *seg);
/* Drop the in-memory indexes of a segment whose files hold them. */
void st_segment_drop_index(struct st_segment *seg);
/* Open-time summary of a trusted, non-active segment without loading its
 * indexes: size from the file, max_ts from the last .timeindex entry.
 * Returns ST_ENOENT/ST_ECORRUPT when the time index cannot tell (load
 * fully then). */
int st_segment_peek(struct st_segment *seg);
/* The segment stops being active: record its maximum timestamp as the
 * final time index entry, so st_segment_peek() finds it. */
int st_segment_seal(struct st_segment *seg);
/* Create the .log file (truncating a leftover). */
int st_segment_create(struct st_segment *seg);
/* Open the .log if closed (lazily); records the use time. */
int st_segment_file(struct st_segment *seg, struct st_file **out);
/* Full path of the file with extension @ext (".log", ".index", ...). */
void st_segment_path(const struct st_segment *seg, const char *ext,
                     char *out, size_t cap);
void st_segment_acquire(struct st_segment *seg);
/* Runs on: any thread. */
void st_segment_release(struct st_segment *seg);
/* Delete a segment that has left the log's list: its .log is renamed to
 * .log.deleted at once (so a new segment may reuse the name while a read
 * still pins this one), its indexes unlinked, and the .deleted file
 * unlinked at the last release. Drops the caller's reference.
 * Runs on: any thread. */
void st_segment_delete(struct st_segment *seg);

/* Add index entries for a batch of @total bytes at @pos with header @h,
 * following index_interval_bytes; updates next_offset, size, max_ts. */
int st_segment_note_batch(struct st_segment *seg, uint32_t interval,
                          const struct st_batch_header *h, uint64_t pos,
                          uint64_t total);

/* Sequential reader over a segment file with a read-ahead window. */
struct st_seg_reader {
    struct st_file *f;
    uint64_t file_size;
    struct st_buf buf;
    uint64_t win_pos;
};
void st_seg_reader_init(struct st_seg_reader *r, struct st_file *f,
                        uint64_t file_size);
void st_seg_reader_close(struct st_seg_reader *r);
/* Make @n bytes at @pos available; *p points at them. *got may be less
 * than @n only at the file end. Errors: ST_EIO, ST_ENOMEM. */
int st_seg_reader_get(struct st_seg_reader *r, uint64_t pos, size_t n,
                      const uint8_t **p, size_t *got);
/* Read and decode the batch at @pos: headers only (@verify false) or the
 * whole batch CRC-checked. *p gets the batch bytes when @verify.
 * Returns 0, 1 at a clean end of file, or ST_ECORRUPT (not logged) for a
 * short, malformed or CRC-failing batch. */
int st_seg_reader_batch(struct st_seg_reader *r, uint64_t pos, bool verify,
                        struct st_batch_header *h, const uint8_t **p);

/* Scan the segment from @pos (which must be a batch start, @pos 0 or an
 * index entry, with the in-memory indexes holding only entries before it)
 * to the end of the file, adding index entries and setting next_offset,
 * size and max_ts. With @verify, batches are CRC-checked and *bad_pos gets
 * the position of the first bad batch (the file size when none); without,
 * a malformed header also stops the scan there. @pos > 0 must be the
 * position of the last index entry. */
int st_segment_scan(struct st_segment *seg, uint32_t interval, uint64_t pos,
                    bool verify, uint64_t *bad_pos);
/* Load .index and .timeindex and check them against the .log: 0, or
 * ST_ECORRUPT/ST_ENOENT when they must be rebuilt (the in-memory indexes
 * are then empty). */
int st_segment_load_indexes(struct st_segment *seg);
/* Encode both indexes (for a flush job to write). */
int st_segment_encode_indexes(const struct st_segment *seg,
                              struct st_buf *idx, struct st_buf *tidx);
/* Write encoded index images and fsync them. Runs on: a worker. */
int st_segment_write_index_files(struct st_vfs *vfs, const char *path_noext,
                                 const struct st_buf *idx,
                                 const struct st_buf *tidx);
/* Position of the first batch holding an offset >= @offset, searching from
 * the index; *found false when every batch ends before it (*pos is then
 * the segment size). *h gets that batch's header. */
int st_segment_find(struct st_segment *seg, int64_t offset, uint64_t *pos,
                    struct st_batch_header *h, bool *found);
/* Cut the segment at @pos (a batch boundary) with new end @next_offset. */
int st_segment_truncate(struct st_segment *seg, uint64_t pos,
                        int64_t next_offset);
/* Unlink the .index and .timeindex (stale after a cut). */
void st_segment_unlink_indexes(struct st_segment *seg);

/* ---- the log ---- */

struct st_log {
    struct st_vfs *vfs;
    char *dir;
    struct st_log_config conf;
    struct st_segment **segs; /* sorted by base; the last is active */
    size_t n_segs;
    size_t cap_segs;
    int64_t start_offset;
    int64_t end_offset;
    int64_t synced_offset;
    int64_t durable_offset;
    int64_t recovery_point;      /* last value checkpointed */
    int64_t hw;                  /* -1 when unknown */
    int64_t hw_written;
    int64_t ps_upto_written;     /* upto of the last producer checkpoint */
    int failed;                  /* sticky error */
    bool dir_dirty;              /* segments created since the last flush */
    bool flushing;
    bool cleaning;
    bool retaining;
    bool closing;                /* the active segment's indexes too */
    uint64_t rolled_unsynced;    /* count of rolled segments to persist */
    struct st_epoch_cache epochs;
    struct st_producer_state producers;
    st_log_durable_cb durable_cb;
    void *durable_arg;
    struct st_buf scratch;       /* reusable read buffer */
};

struct st_segment *st_log_active(const struct st_log *log);
/* Index of the last segment with base <= @offset, or 0. */
size_t st_log_seg_for(const struct st_log *log, int64_t offset);
/* Insert/remove segments in the list (the list's reference moves). */
int st_log_push_segment(struct st_log *log, struct st_segment *seg);
void st_log_remove_segments(struct st_log *log, size_t from, size_t n);
/* Durable offset moved: call the callback. */
void st_log_publish_durable(struct st_log *log, int64_t durable);
void st_log_path(const struct st_log *log, const char *name, char *out,
                 size_t cap);
/* Roll: make a new active segment at @base. */
int st_log_roll(struct st_log *log, int64_t base, int64_t now_ms);

#endif
