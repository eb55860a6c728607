/* Record batches: strata's unit of write, replication and storage.
 *
 * The byte layout is Kafka's v2 ("magic 2") record batch, specified byte for
 * byte in proto/RECORD_FORMAT.md. All integers in the batch header are
 * big-endian; records use zigzag varints. The CRC32C covers the bytes from
 * `attributes` to the end of the batch, so a broker may rewrite
 * `base_offset` and `leader_epoch` (set by the leader on append) without
 * recomputing it.
 *
 *   off size field
 *     0  8   base_offset
 *     8  4   batch_length      (bytes after this field: total - 12)
 *    12  4   leader_epoch
 *    16  1   magic (2)
 *    17  4   crc (CRC32C of bytes 21..end)
 *    21  2   attributes        (bits 0-2 codec, 3 timestamp type,
 *                               4 transactional, 5 control)
 *    23  4   last_offset_delta
 *    27  8   first_timestamp
 *    35  8   max_timestamp
 *    43  8   producer_id       (-1: none)
 *    51  2   producer_epoch
 *    53  4   base_sequence     (-1: none)
 *    57  4   record_count
 *    61  ..  records (compressed as a whole when codec != none)
 */
#ifndef ST_BATCH_H
#define ST_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

#define ST_BATCH_HEADER_BYTES 61
#define ST_BATCH_LENGTH_OFFSET 8  /* batch_length field */
#define ST_BATCH_LOG_OVERHEAD 12  /* base_offset + batch_length */
#define ST_BATCH_MAGIC 2

enum st_codec { ST_CODEC_NONE = 0, ST_CODEC_ZSTD = 4 };

enum {
    ST_BATCH_ATTR_CODEC_MASK = 0x07,
    ST_BATCH_ATTR_LOG_APPEND_TIME = 0x08,
    ST_BATCH_ATTR_TRANSACTIONAL = 0x10,
    ST_BATCH_ATTR_CONTROL = 0x20,
};

struct st_batch_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t first_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
};

/* Total bytes of the batch described by @h (12 + batch_length). */
static inline size_t st_batch_total_bytes(const struct st_batch_header *h)
{
    return ST_BATCH_LOG_OVERHEAD + (size_t)(uint32_t)h->batch_length;
}
static inline int64_t st_batch_last_offset(const struct st_batch_header *h)
{
    return h->base_offset + h->last_offset_delta;
}

/* Decode the fixed header at @p without checking the CRC. Requires only
 * that @len >= ST_BATCH_HEADER_BYTES (else ST_EAGAIN); checks magic and that
 * batch_length is at least the header's own size (else ST_ECORRUPT).
 * Does not require the whole batch to be in @p. A prefix that is already
 * wrong (batch_length once 12 bytes are in, magic once 17 are) gives
 * ST_ECORRUPT rather than ST_EAGAIN. */
int st_batch_header_decode(const uint8_t *p, size_t len,
                           struct st_batch_header *out);

/* Validate one whole batch at the start of @p: header sane, the batch fits
 * in @len (ST_EAGAIN if @len is short of it, so a stream reader can wait),
 * batch_length <= @max_bytes (ST_ETOOBIG), CRC32C matches (ST_ECRC),
 * record_count and last_offset_delta consistent (ST_ECORRUPT). Fills *out.
 * ST_ETOOBIG is reported as soon as batch_length is readable (12 bytes), so
 * a stream reader never waits for a batch it would refuse. A codec other
 * than none or zstd under a good CRC gives ST_EUNSUPPORTED. Never reads at
 * or past @p + @len. Records are checked by the iterator, not here. */
int st_batch_validate(const uint8_t *p, size_t len, size_t max_bytes,
                      struct st_batch_header *out);

/* CRC32C of bytes 21..@total of the batch at @batch (what the crc field
 * must hold). Requires @total >= ST_BATCH_HEADER_BYTES bytes at @batch. */
uint32_t st_batch_crc_compute(const uint8_t *batch, size_t total);

/* Rewrite fields outside the CRC in a batch in place. */
void st_batch_set_base_offset(uint8_t *batch, int64_t base_offset);
void st_batch_set_leader_epoch(uint8_t *batch, int32_t epoch);

/* ---- building ---- */

struct st_record_header {
    const char *key;    /* UTF-8 header key, @key_len bytes */
    size_t key_len;
    const uint8_t *value; /* NULL: null value */
    size_t value_len;
};

struct st_batch_builder_opts {
    enum st_codec codec;
    int zstd_level;       /* 0: zstd's default */
    int64_t producer_id;  /* -1: none */
    int16_t producer_epoch;
    int32_t base_sequence; /* -1: none */
    int32_t leader_epoch;  /* -1: unset (leader sets on append) */
};

struct st_batch_builder; /* opaque; reusable across batches */

/* Ownership: *out is the caller's; st_batch_builder_free() it. */
int st_batch_builder_new(struct st_batch_builder **out);
void st_batch_builder_free(struct st_batch_builder *b);
/* Start a new batch with @opts (copied); forgets any previous records. */
void st_batch_builder_reset(struct st_batch_builder *b,
                            const struct st_batch_builder_opts *opts);
/* Append one record. @key or @value NULL means null (not empty). Headers
 * are copied. Errors: ST_ENOMEM, ST_ETOOBIG (over INT32 limits). */
int st_batch_builder_add(struct st_batch_builder *b, int64_t timestamp_ms,
                         const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t value_len,
                         const struct st_record_header *headers,
                         size_t n_headers);
unsigned st_batch_builder_count(const struct st_batch_builder *b);
/* Bytes the batch would take if finished now, before compression. */
size_t st_batch_builder_size(const struct st_batch_builder *b);
/* Finish: compress the records if asked, write the header with base offset
 * 0, and compute the CRC. The view points into the builder and stays valid
 * until the next reset/add/free. Errors: ST_ECOMPRESS, ST_ENOMEM. */
int st_batch_builder_finish(struct st_batch_builder *b, struct st_bytes *out);

/* ---- reading ---- */

struct st_record {
    int64_t offset;      /* base_offset + offset_delta */
    int64_t timestamp_ms;
    const uint8_t *key;  /* NULL when null */
    int32_t key_len;
    const uint8_t *value; /* NULL when null */
    int32_t value_len;
    uint32_t n_headers;
    const uint8_t *headers_raw; /* undecoded header bytes, for the iterator */
    size_t headers_raw_len;
};

struct st_record_iter; /* opaque; reusable */

int st_record_iter_new(struct st_record_iter **out);
void st_record_iter_free(struct st_record_iter *it);
/* Begin iterating the records of the whole, validated batch at @batch
 * (st_batch_validate first). Decompresses if needed into the iterator's own
 * buffer, bounded by @max_uncompressed (ST_ETOOBIG past it). @batch is
 * borrowed and must outlive the iteration. Other errors: ST_ECORRUPT (the
 * header or length does not fit @len), ST_ECOMPRESS (not valid zstd),
 * ST_EUNSUPPORTED (codec), ST_ENOMEM. After an error, next() fails until
 * the next successful init. */
int st_record_iter_init(struct st_record_iter *it, const uint8_t *batch,
                        size_t len, size_t max_uncompressed);
/* Next record into *out: 0, 1 at the end, or ST_ECORRUPT when a varint or
 * length points past the records (never reads past them). Views in *out
 * are valid until the next init/free. */
int st_record_iter_next(struct st_record_iter *it, struct st_record *out);
/* Decode header @i (< out->n_headers) of @rec. Views point where @rec's
 * do. Errors: ST_ERANGE (@i too large), ST_ECORRUPT. */
int st_record_header_get(const struct st_record *rec, uint32_t i,
                         struct st_record_header *out);

#endif
