/* Raft log segment format and parser.
 *
 * A segment file `log-<20-digit first index>.seg` is a header followed by
 * records, one per entry, with consecutive indexes. All integers are
 * big-endian, like everything else strata writes.
 *
 * Header (20 bytes):
 *   off size field
 *     0    4 magic      "RLOG" (0x524c4f47)
 *     4    4 version    1
 *     8    8 first      index of the first record; equals the file name
 *    16    4 crc        CRC32C of bytes [0, 16)
 *
 * Record (25 + n bytes):
 *   off size field
 *     0    4 length     bytes after this field: 21 + n
 *     4    4 crc        CRC32C of bytes [0, 4) then [8, 25 + n)
 *     8    8 term       >= 1, never lower than the previous record's
 *    16    8 index      previous record's index + 1 (first: header.first)
 *    24    1 type       enum raft_entry_type (1..3)
 *    25    n data       the entry payload, n <= RAFT_SEG_DATA_MAX
 *
 * The CRC covers the length, so a flipped length in a complete record is
 * caught, and the index, so a record can never be read at the wrong place.
 *
 * Torn tail vs. rot. Appends only ever extend the last segment, and the
 * store fsyncs a segment before it creates the next one, so damage can be
 * the leftover of an interrupted write only at the end of the last
 * segment, and there nothing intact can follow it. raft_seg_scan()
 * therefore calls damage a torn tail exactly when no intact record whose
 * index lies after the last good one starts at any byte after it (zeroes,
 * a cut-off record, a record with a bad CRC that ends the file, random
 * bytes). Damage followed by an intact later record is rot in the middle
 * of the log, which must not be repaired by truncation: that would drop
 * entries that may have been acknowledged.
 */
#include "controller/raft/raft_segment.h"

#include <string.h>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/err.h"

#define SEG_MAGIC 0x524c4f47u /* "RLOG" */
#define SEG_VERSION 1u
#define REC_LENGTH_MIN 21u    /* crc + term + index + type */

static const char why_crc[] = "record crc mismatch";

void raft_seg_header_encode(uint8_t out[RAFT_SEG_HEADER_BYTES],
                            raft_index first)
{
    st_put_be32(out, SEG_MAGIC);
    st_put_be32(out + 4, SEG_VERSION);
    st_put_be64(out + 8, first);
    st_put_be32(out + 16, st_crc32c(0, out, 16));
}

static uint32_t record_crc(const uint8_t *p, size_t total)
{
    uint32_t crc = st_crc32c(0, p, 4);
    return st_crc32c(crc, p + 8, total - 8);
}

void raft_seg_record_encode(uint8_t *out, const struct raft_entry *e)
{
    size_t total = raft_seg_record_size(e->data.len);

    st_put_be32(out, (uint32_t)(total - 4));
    st_put_be64(out + 8, e->term);
    st_put_be64(out + 16, e->index);
    out[24] = e->type;
    if (e->data.len > 0) {
        memcpy(out + 25, e->data.base, e->data.len);
    }
    st_put_be32(out + 4, record_crc(out, total));
}

/* Frame the record at @p with @avail bytes available. Returns its total
 * size, or 0 with *why set when it cannot be framed or fails its CRC. */
static size_t record_frame(const uint8_t *p, size_t avail, const char **why)
{
    if (avail < RAFT_SEG_RECORD_HEADER_BYTES) {
        *why = "incomplete record header";
        return 0;
    }
    uint32_t length = st_get_be32(p);
    if (length < REC_LENGTH_MIN ||
        length - REC_LENGTH_MIN > RAFT_SEG_DATA_MAX) {
        *why = "bad record length";
        return 0;
    }
    size_t total = (size_t)length + 4;
    if (total > avail) {
        *why = "record runs past the end of the file";
        return 0;
    }
    if (record_crc(p, total) != st_get_be32(p + 4)) {
        *why = why_crc;
        return 0;
    }
    return total;
}

static void record_view(const uint8_t *p, size_t total, struct raft_entry *e)
{
    e->term = st_get_be64(p + 8);
    e->index = st_get_be64(p + 16);
    e->type = p[24];
    e->data.base = p + RAFT_SEG_RECORD_HEADER_BYTES;
    e->data.len = total - RAFT_SEG_RECORD_HEADER_BYTES;
}

static bool type_valid(uint8_t type)
{
    return type >= RAFT_ENTRY_COMMAND && type <= RAFT_ENTRY_CONFIG;
}

int raft_seg_record_decode(const uint8_t *p, size_t len,
                           struct raft_entry *e)
{
    const char *why = NULL;
    size_t total = record_frame(p, len, &why);
    if (total == 0) {
        return why == why_crc ? ST_ECRC : ST_ECORRUPT;
    }
    if (total != len) {
        return ST_ECORRUPT;
    }
    record_view(p, total, e);
    return 0;
}

/* Is there an intact record with an index in (@last, @last + bound] that
 * starts at any byte from @from on? (See "Torn tail vs. rot" above.) */
static bool intact_record_after(const uint8_t *buf, size_t len, size_t from,
                                raft_index last)
{
    /* Every record takes at least 25 bytes, so indexes beyond this bound
     * cannot have been written after @last in @len bytes. */
    raft_index bound = last + (len - from) / RAFT_SEG_RECORD_HEADER_BYTES + 1;
    const char *why;

    for (size_t q = from; q + RAFT_SEG_RECORD_HEADER_BYTES <= len; q++) {
        raft_index idx = st_get_be64(buf + q + 16);
        if (idx <= last || idx > bound) {
            continue; /* cheap filter before framing and CRC */
        }
        if (record_frame(buf + q, len - q, &why) != 0) {
            return true;
        }
    }
    return false;
}

static void mark_damage(struct raft_seg_scan *out, const uint8_t *buf,
                        size_t len, raft_index last, const char *why)
{
    out->damaged = true;
    out->why = why;
    out->torn_tail = !intact_record_after(buf, len, out->good_bytes, last);
}

static bool header_check(const uint8_t *buf, size_t len, raft_index first,
                         struct raft_seg_scan *out)
{
    if (len < RAFT_SEG_HEADER_BYTES) {
        mark_damage(out, buf, len, first - 1, "incomplete segment header");
        return false;
    }
    if (st_crc32c(0, buf, 16) != st_get_be32(buf + 16)) {
        mark_damage(out, buf, len, first - 1, "segment header crc mismatch");
        return false;
    }
    /* An intact header that is not ours is never a torn write. */
    out->damaged = true;
    if (st_get_be32(buf) != SEG_MAGIC) {
        out->why = "bad segment magic";
        return false;
    }
    if (st_get_be32(buf + 4) != SEG_VERSION) {
        out->why = "unsupported segment version";
        return false;
    }
    if (st_get_be64(buf + 8) != first) {
        out->why = "segment header first index differs from its name";
        return false;
    }
    out->damaged = false;
    out->good_bytes = RAFT_SEG_HEADER_BYTES;
    return true;
}

int raft_seg_scan(const uint8_t *buf, size_t len, raft_index first,
                  raft_term prev_term, raft_seg_record_cb cb, void *arg,
                  struct raft_seg_scan *out)
{
    memset(out, 0, sizeof *out);
    if (first == 0) {
        out->damaged = true;
        out->why = "segment first index 0";
        return 0;
    }
    if (!header_check(buf, len, first, out)) {
        return 0;
    }
    raft_index expect = first;
    raft_term term = prev_term;
    size_t pos = RAFT_SEG_HEADER_BYTES;
    while (pos < len) {
        const char *why = NULL;
        size_t total = record_frame(buf + pos, len - pos, &why);
        struct raft_entry e;
        if (total != 0) {
            record_view(buf + pos, total, &e);
            if (e.index != expect) {
                why = "record index out of sequence";
            } else if (e.term == 0 || e.term < term) {
                why = "record term goes backwards";
            } else if (!type_valid(e.type)) {
                why = "unknown entry type";
            }
        }
        if (why != NULL) {
            mark_damage(out, buf, len, expect - 1, why);
            return 0;
        }
        if (cb != NULL) {
            int rv = cb(arg, &e, pos, (uint32_t)total);
            if (rv != 0) {
                return rv;
            }
        }
        term = e.term;
        expect++;
        pos += total;
        out->n_records++;
        out->good_bytes = pos;
        out->last_term = term;
    }
    return 0;
}
