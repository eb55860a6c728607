/* Raft log segment files: the byte format and a pure parser for it.
 *
 * Internal to raft_store (controller/raft/); the byte table lives at the top
 * of raft_segment.c. This file does no I/O: the store reads a segment into
 * memory and hands the bytes to raft_seg_scan(), so the parser can be unit
 * tested and fuzzed on arbitrary input.
 *
 * Runs on: any thread; no state.
 */
#ifndef RAFT_SEGMENT_H
#define RAFT_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/raft/raft_types.h"

enum {
    RAFT_SEG_HEADER_BYTES = 20,        /* magic, version, first index, crc */
    RAFT_SEG_RECORD_HEADER_BYTES = 25, /* length, crc, term, index, type */
};

/* Largest entry payload a segment accepts (64 MiB). */
#define RAFT_SEG_DATA_MAX ((size_t)64 << 20)

/* Write the 20-byte segment header for a segment whose first entry is
 * @first into @out. */
void raft_seg_header_encode(uint8_t out[RAFT_SEG_HEADER_BYTES],
                            raft_index first);

/* Bytes one record holding @data_len payload bytes takes on disk. */
static inline size_t raft_seg_record_size(size_t data_len)
{
    return RAFT_SEG_RECORD_HEADER_BYTES + data_len;
}

/* Encode @e as one record into @out, which has raft_seg_record_size(
 * e->data.len) bytes. Requires e->data.len <= RAFT_SEG_DATA_MAX. */
void raft_seg_record_encode(uint8_t *out, const struct raft_entry *e);

/* Decode and verify one record of @len bytes at @p (exactly one record, as
 * located by a previous scan). On success *e views the payload inside @p.
 * Errors: ST_ECRC (checksum mismatch), ST_ECORRUPT (bad framing). */
int raft_seg_record_decode(const uint8_t *p, size_t len,
                           struct raft_entry *e);

/* Called by raft_seg_scan() for each intact record, in order. @e->data
 * views the scanned buffer; @off and @len locate the record in the file.
 * A non-zero return stops the scan and is returned by raft_seg_scan(). */
typedef int (*raft_seg_record_cb)(void *arg, const struct raft_entry *e,
                                  uint64_t off, uint32_t len);

/* What raft_seg_scan() found. */
struct raft_seg_scan {
    size_t n_records;    /* intact records, from the start */
    uint64_t good_bytes; /* header + intact records: where the log ends */
    raft_term last_term; /* term of the last intact record (0 if none) */
    bool damaged;        /* bytes after good_bytes are not a valid record */
    /* With damaged: no intact record (one with an index after the last
     * good one) starts anywhere after good_bytes, so the damage looks like
     * a torn write at the end of the log rather than rot inside it. */
    bool torn_tail;
    const char *why;     /* static text naming the first damage, or NULL */
};

/* Parse the segment in @buf (@len bytes), whose name says its first entry
 * is @first, and whose entries must follow @prev_term (terms never
 * decrease; pass 0 for the first segment). Every record's length, CRC,
 * index (first, first + 1, ...), term (>= 1, non-decreasing) and type are
 * checked. Scanning stops at the first damage; *out says where and whether
 * it looks like a torn tail. The caller decides what damage means (only
 * the last segment may have a torn tail).
 * Returns 0, or the first non-zero value returned by @cb. */
int raft_seg_scan(const uint8_t *buf, size_t len, raft_index first,
                  raft_term prev_term, raft_seg_record_cb cb, void *arg,
                  struct raft_seg_scan *out);

#endif
