/* Sparse offset index and time index of one segment.
 *
 * Both live in memory as sorted arrays and are written to disk beside the
 * segment's .log when the segment stops being the active one (roll) and at
 * clean shutdown; they are derived data, rebuilt from the .log whenever a
 * file is missing or fails the checks of st_offset_index_decode().
 *
 * File formats (all big-endian, no header; a torn tail is detected by the
 * length check and by the consistency checks below):
 *   <base>.index      entries of 8 bytes:  u32 rel_offset, u32 position
 *   <base>.timeindex  entries of 12 bytes: i64 timestamp, u32 rel_offset
 * rel_offset is the base offset of an indexed batch minus the segment base;
 * position is that batch's byte position in the .log. Entries are strictly
 * increasing in rel_offset, position and timestamp.
 *
 * Runs on: whichever thread owns the segment. No I/O here.
 */
#ifndef ST_LOG_INDEX_H
#define ST_LOG_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define ST_INDEX_ENTRY_BYTES 8
#define ST_TIMEINDEX_ENTRY_BYTES 12

struct st_index_entry {
    uint32_t rel_offset;
    uint32_t pos;
};

struct st_offset_index {
    struct st_index_entry *e; /* owned */
    size_t n;
    size_t cap;
};

struct st_time_entry {
    int64_t timestamp_ms;
    uint32_t rel_offset;
};

struct st_time_index {
    struct st_time_entry *e; /* owned */
    size_t n;
    size_t cap;
};

void st_offset_index_init(struct st_offset_index *ix);
void st_offset_index_close(struct st_offset_index *ix);
/* Add an entry; it must be past the last one (assert).
 * Errors: ST_ENOMEM. */
int st_offset_index_add(struct st_offset_index *ix, uint32_t rel_offset,
                        uint32_t pos);
/* The position of the last indexed batch whose rel_offset <= @rel, or 0
 * (the segment start) when none is; *entry_rel gets its rel_offset (0). */
uint32_t st_offset_index_lookup(const struct st_offset_index *ix,
                                uint32_t rel, uint32_t *entry_rel);
/* Drop entries with rel_offset >= @rel. */
void st_offset_index_truncate(struct st_offset_index *ix, uint32_t rel);
/* Serialise into @out (n * 8 bytes, caller's memory). */
void st_offset_index_encode(const struct st_offset_index *ix, uint8_t *out);
/* Parse a .index image of @len bytes, replacing @ix's contents. Checks:
 * whole entries, strictly increasing, positions < @log_size.
 * Errors: ST_ECORRUPT (nothing logged; the caller rebuilds), ST_ENOMEM. */
int st_offset_index_decode(struct st_offset_index *ix, const uint8_t *p,
                           size_t len, uint64_t log_size);

void st_time_index_init(struct st_time_index *tx);
void st_time_index_close(struct st_time_index *tx);
/* Add (@ts, @rel) if @ts is above the last entry's timestamp (else a no-op:
 * the index only records new maxima). Errors: ST_ENOMEM. */
int st_time_index_add(struct st_time_index *tx, int64_t ts, uint32_t rel);
/* The rel_offset of the last entry whose timestamp < @ts, or 0 when none
 * is: scanning from there finds the first batch with a timestamp >= @ts. */
uint32_t st_time_index_lookup(const struct st_time_index *tx, int64_t ts);
/* Drop entries with rel_offset >= @rel. */
void st_time_index_truncate(struct st_time_index *tx, uint32_t rel);
/* Largest timestamp indexed, or -1 when empty. */
int64_t st_time_index_max(const struct st_time_index *tx);
void st_time_index_encode(const struct st_time_index *tx, uint8_t *out);
/* Errors: ST_ECORRUPT, ST_ENOMEM. Checks: whole entries, increasing, and
 * every rel_offset < @rel_limit. */
int st_time_index_decode(struct st_time_index *tx, const uint8_t *p,
                         size_t len, uint64_t rel_limit);

#endif
