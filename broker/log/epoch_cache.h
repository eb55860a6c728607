/* Leader-epoch cache: for each leader epoch, the first offset written in it
 * (KIP-101, KIP-279). A follower asks the leader for the end offset of its
 * latest epoch and truncates what lies past it.
 *
 * Entries are strictly increasing in both epoch and start offset. The log
 * keeps it up to date on append and truncation and checkpoints it in its
 * flush jobs. Payload: u32 n, then n x (i32 epoch, i64 start_offset).
 * Runs on: the log's owner thread. Pure; no I/O.
 */
#ifndef ST_LOG_EPOCH_CACHE_H
#define ST_LOG_EPOCH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

struct st_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
};

struct st_epoch_cache {
    struct st_epoch_entry *e; /* owned */
    size_t n;
    size_t cap;
    bool dirty; /* changed since the last checkpoint snapshot */
};

void st_epoch_cache_init(struct st_epoch_cache *c);
void st_epoch_cache_close(struct st_epoch_cache *c);
/* Record that @epoch starts at @start_offset. A no-op when @epoch is not
 * above the latest (appends within an epoch, or stale epochs on a
 * follower that has not truncated yet). A start offset not above the
 * latest entry's replaces that entry's epoch bound: entries with
 * start_offset >= @start_offset are removed first. Errors: ST_ENOMEM. */
int st_epoch_cache_assign(struct st_epoch_cache *c, int32_t epoch,
                          int64_t start_offset);
/* Latest epoch, or -1 when empty. */
int32_t st_epoch_cache_latest(const struct st_epoch_cache *c);
/* OffsetsForLeaderEpoch: the largest known epoch <= @epoch and the offset
 * where it ended (the next epoch's start, or @log_end for the latest).
 * When @epoch is below every entry (or the cache is empty) both are -1. */
void st_epoch_cache_end_offset(const struct st_epoch_cache *c, int32_t epoch,
                               int64_t log_end, int32_t *out_epoch,
                               int64_t *out_end);
/* Drop entries starting at or after @end_offset (log truncated there). */
void st_epoch_cache_truncate_end(struct st_epoch_cache *c, int64_t end_offset);
/* The log now starts at @start: drop entries wholly before it and move the
 * first remaining entry's start up to @start. */
void st_epoch_cache_truncate_start(struct st_epoch_cache *c, int64_t start);
void st_epoch_cache_clear(struct st_epoch_cache *c);
/* Payload for a checkpoint (replaces @out's contents). */
int st_epoch_cache_encode(const struct st_epoch_cache *c, struct st_buf *out);
/* Errors: ST_ECORRUPT (wrong length or not increasing), ST_ENOMEM. */
int st_epoch_cache_decode(struct st_epoch_cache *c, const uint8_t *p,
                          size_t len);

#endif
