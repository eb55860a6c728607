/* Record batches: build, validate, rewrite and iterate Kafka v2 batches.
 *
 * The byte layout is in batch.h and, with the rules this file enforces, in
 * proto/RECORD_FORMAT.md. Validation trusts nothing before it has checked
 * it: lengths are checked against the buffer before they are used, the CRC
 * before any field it covers, and every record varint against the end of its
 * record. Nothing here logs: callers know where the bytes came from (a peer,
 * a segment file) and say so in their own log line.
 */
#include "batch.h"

#include <assert.h>
#include <string.h>

#include "alloc.h"
#include "compress.h"
#include "crc32c.h"
#include "err.h"
#include "varint.h"

/* Field offsets, as in the table of batch.h. */
enum {
    OFF_BASE_OFFSET = 0,
    OFF_BATCH_LENGTH = 8,
    OFF_LEADER_EPOCH = 12,
    OFF_MAGIC = 16,
    OFF_CRC = 17,
    OFF_ATTRIBUTES = 21,
    OFF_LAST_OFFSET_DELTA = 23,
    OFF_FIRST_TIMESTAMP = 27,
    OFF_MAX_TIMESTAMP = 35,
    OFF_PRODUCER_ID = 43,
    OFF_PRODUCER_EPOCH = 51,
    OFF_BASE_SEQUENCE = 53,
    OFF_RECORD_COUNT = 57,
};

/* batch_length counts the bytes after its own field, so the smallest legal
 * value is the header minus base_offset and batch_length. */
#define MIN_BATCH_LENGTH (ST_BATCH_HEADER_BYTES - ST_BATCH_LOG_OVERHEAD)

/* The smallest encoded record: length, attributes, timestamp delta, offset
 * delta, key length, value length and header count, one byte each. */
#define MIN_RECORD_BYTES 7

/* ---- header ---- */

int st_batch_header_decode(const uint8_t *p, size_t len,
                           struct st_batch_header *out)
{
    /* Reject what is already visibly wrong even when the header is not
     * complete, so a stream reader does not wait for bytes that cannot
     * make a batch. */
    if (len >= OFF_LEADER_EPOCH &&
        (int32_t)st_get_be32(p + OFF_BATCH_LENGTH) < MIN_BATCH_LENGTH) {
        return ST_ECORRUPT;
    }
    if (len > OFF_MAGIC && (int8_t)p[OFF_MAGIC] != ST_BATCH_MAGIC) {
        return ST_ECORRUPT;
    }
    if (len < ST_BATCH_HEADER_BYTES) {
        return ST_EAGAIN;
    }
    out->base_offset = (int64_t)st_get_be64(p + OFF_BASE_OFFSET);
    out->batch_length = (int32_t)st_get_be32(p + OFF_BATCH_LENGTH);
    out->leader_epoch = (int32_t)st_get_be32(p + OFF_LEADER_EPOCH);
    out->magic = (int8_t)p[OFF_MAGIC];
    out->crc = st_get_be32(p + OFF_CRC);
    out->attributes = (int16_t)st_get_be16(p + OFF_ATTRIBUTES);
    out->last_offset_delta = (int32_t)st_get_be32(p + OFF_LAST_OFFSET_DELTA);
    out->first_timestamp = (int64_t)st_get_be64(p + OFF_FIRST_TIMESTAMP);
    out->max_timestamp = (int64_t)st_get_be64(p + OFF_MAX_TIMESTAMP);
    out->producer_id = (int64_t)st_get_be64(p + OFF_PRODUCER_ID);
    out->producer_epoch = (int16_t)st_get_be16(p + OFF_PRODUCER_EPOCH);
    out->base_sequence = (int32_t)st_get_be32(p + OFF_BASE_SEQUENCE);
    out->record_count = (int32_t)st_get_be32(p + OFF_RECORD_COUNT);
    return 0;
}

static void header_encode(uint8_t *p, const struct st_batch_header *h)
{
    st_put_be64(p + OFF_BASE_OFFSET, (uint64_t)h->base_offset);
    st_put_be32(p + OFF_BATCH_LENGTH, (uint32_t)h->batch_length);
    st_put_be32(p + OFF_LEADER_EPOCH, (uint32_t)h->leader_epoch);
    p[OFF_MAGIC] = (uint8_t)h->magic;
    st_put_be32(p + OFF_CRC, h->crc);
    st_put_be16(p + OFF_ATTRIBUTES, (uint16_t)h->attributes);
    st_put_be32(p + OFF_LAST_OFFSET_DELTA, (uint32_t)h->last_offset_delta);
    st_put_be64(p + OFF_FIRST_TIMESTAMP, (uint64_t)h->first_timestamp);
    st_put_be64(p + OFF_MAX_TIMESTAMP, (uint64_t)h->max_timestamp);
    st_put_be64(p + OFF_PRODUCER_ID, (uint64_t)h->producer_id);
    st_put_be16(p + OFF_PRODUCER_EPOCH, (uint16_t)h->producer_epoch);
    st_put_be32(p + OFF_BASE_SEQUENCE, (uint32_t)h->base_sequence);
    st_put_be32(p + OFF_RECORD_COUNT, (uint32_t)h->record_count);
}

uint32_t st_batch_crc_compute(const uint8_t *batch, size_t total)
{
    return st_crc32c(0, batch + OFF_ATTRIBUTES, total - OFF_ATTRIBUTES);
}

int st_batch_validate(const uint8_t *p, size_t len, size_t max_bytes,
                      struct st_batch_header *out)
{
    struct st_batch_header h;

    /* Size first: a stream reader must not wait for 2 GiB that it would
     * refuse anyway. */
    if (len >= OFF_LEADER_EPOCH) {
        int32_t bl = (int32_t)st_get_be32(p + OFF_BATCH_LENGTH);
        if (bl >= MIN_BATCH_LENGTH && (size_t)bl > max_bytes) {
            return ST_ETOOBIG;
        }
    }
    int rv = st_batch_header_decode(p, len, &h);
    if (rv != 0) {
        return rv;
    }
    size_t total = st_batch_total_bytes(&h);
    if (len < total) {
        return ST_EAGAIN;
    }
    uint32_t crc = st_batch_crc_compute(p, total);
    if (crc != h.crc) {
        return ST_ECRC;
    }
    /* The CRC matched, so what follows was written this way by a producer:
     * a bad value here is a broken producer, not a flipped bit. */
    int codec = h.attributes & ST_BATCH_ATTR_CODEC_MASK;
    if (codec != ST_CODEC_NONE && codec != ST_CODEC_ZSTD) {
        return ST_EUNSUPPORTED;
    }
    if (h.record_count < 0 || h.last_offset_delta < h.record_count - 1) {
        return ST_ECORRUPT;
    }
    size_t records_len = total - ST_BATCH_HEADER_BYTES;
    if (codec == ST_CODEC_NONE &&
        (size_t)h.record_count > records_len / MIN_RECORD_BYTES) {
        return ST_ECORRUPT;
    }
    *out = h;
    return 0;
}

void st_batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
    st_put_be64(batch + OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void st_batch_set_leader_epoch(uint8_t *batch, int32_t epoch)
{
    st_put_be32(batch + OFF_LEADER_EPOCH, (uint32_t)epoch);
}

/* ---- building ---- */

struct st_batch_builder {
    struct st_batch_builder_opts opts;
    struct st_buf raw;  /* header space + uncompressed records */
    struct st_buf zbuf; /* header + compressed records (zstd only) */
    struct st_zstd *z;
    int32_t count;
    int64_t first_ts;
    int64_t max_ts;
};

static const struct st_batch_builder_opts default_opts = {
    .codec = ST_CODEC_NONE,
    .zstd_level = 0,
    .producer_id = -1,
    .producer_epoch = -1,
    .base_sequence = -1,
    .leader_epoch = -1,
};

int st_batch_builder_new(struct st_batch_builder **out)
{
    struct st_batch_builder *b = st_calloc(1, sizeof *b);
    if (b == NULL) {
        return ST_ENOMEM;
    }
    st_buf_init(&b->raw);
    st_buf_init(&b->zbuf);
    int rv = st_zstd_new(&b->z);
    if (rv != 0) {
        st_free(b);
        return rv;
    }
    st_batch_builder_reset(b, NULL);
    *out = b;
    return 0;
}

void st_batch_builder_free(struct st_batch_builder *b)
{
    if (b == NULL) {
        return;
    }
    st_buf_close(&b->raw);
    st_buf_close(&b->zbuf);
    st_zstd_free(b->z);
    st_free(b);
}

void st_batch_builder_reset(struct st_batch_builder *b,
                            const struct st_batch_builder_opts *opts)
{
    b->opts = opts != NULL ? *opts : default_opts;
    st_buf_reset(&b->raw);
    st_buf_reset(&b->zbuf);
    b->count = 0;
    b->first_ts = -1;
    b->max_ts = -1;
}

/* Bytes of one header as encoded inside a record. */
static size_t header_size(const struct st_record_header *h)
{
    size_t n = st_varint_size((int32_t)h->key_len) + h->key_len;
    if (h->value == NULL) {
        return n + st_varint_size(-1);
    }
    return n + st_varint_size((int32_t)h->value_len) + h->value_len;
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n, bool null)
{
    if (null) {
        return p + st_varint_put(p, -1);
    }
    p += st_varint_put(p, (int32_t)n);
    if (n > 0) {
        memcpy(p, src, n);
    }
    return p + n;
}

int st_batch_builder_add(struct st_batch_builder *b, int64_t timestamp_ms,
                         const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t value_len,
                         const struct st_record_header *headers,
                         size_t n_headers)
{
    const size_t lim = INT32_MAX;

    if (b->count == INT32_MAX || key_len > lim || value_len > lim ||
        n_headers > lim) {
        return ST_ETOOBIG;
    }
    key_len = key != NULL ? key_len : 0;
    value_len = value != NULL ? value_len : 0;
    int64_t first_ts = b->count == 0 ? timestamp_ms : b->first_ts;
    int64_t ts_delta;
    if (__builtin_sub_overflow(timestamp_ms, first_ts, &ts_delta)) {
        return ST_ETOOBIG;
    }

    /* Size the body first: its length prefix comes before it. Each part
     * is at most INT32_MAX + 5, so the sum cannot wrap a 64-bit size_t
     * before the checks below refuse it. */
    size_t body = 1 + st_varlong_size(ts_delta) + st_varint_size(b->count);
    body += key != NULL ? st_varint_size((int32_t)key_len) + key_len
                        : st_varint_size(-1);
    body += value != NULL ? st_varint_size((int32_t)value_len) + value_len
                          : st_varint_size(-1);
    body += st_varint_size((int32_t)n_headers);
    for (size_t i = 0; i < n_headers; i++) {
        assert(headers[i].key != NULL || headers[i].key_len == 0);
        if (headers[i].key_len > lim ||
            (headers[i].value != NULL && headers[i].value_len > lim)) {
            return ST_ETOOBIG;
        }
        body += header_size(&headers[i]);
        if (body > lim) {
            return ST_ETOOBIG;
        }
    }
    if (body > lim) {
        return ST_ETOOBIG;
    }
    size_t rec = st_varint_size((int32_t)body) + body;
    size_t used = b->raw.len > 0 ? b->raw.len : ST_BATCH_HEADER_BYTES;
    if (used - ST_BATCH_LOG_OVERHEAD + rec > lim) {
        return ST_ETOOBIG;
    }

    /* The header space is reserved with the first record so that an empty
     * builder owns no memory until used. */
    size_t need = rec + (b->raw.len == 0 ? ST_BATCH_HEADER_BYTES : 0);
    int rv = st_buf_reserve(&b->raw, need);
    if (rv != 0) {
        return rv;
    }
    if (b->raw.len == 0) {
        memset(b->raw.base, 0, ST_BATCH_HEADER_BYTES);
        b->raw.len = ST_BATCH_HEADER_BYTES;
    }

    uint8_t *p = b->raw.base + b->raw.len;
    p += st_varint_put(p, (int32_t)body);
    *p++ = 0; /* record attributes: unused, always 0 */
    p += st_varlong_put(p, ts_delta);
    p += st_varint_put(p, b->count);
    p = put_bytes(p, key, key_len, key == NULL);
    p = put_bytes(p, value, value_len, value == NULL);
    p += st_varint_put(p, (int32_t)n_headers);
    for (size_t i = 0; i < n_headers; i++) {
        const struct st_record_header *h = &headers[i];
        p = put_bytes(p, h->key, h->key_len, false);
        p = put_bytes(p, h->value, h->value_len, h->value == NULL);
    }
    assert((size_t)(p - (b->raw.base + b->raw.len)) == rec);
    b->raw.len += rec;

    if (b->count == 0) {
        b->first_ts = timestamp_ms;
        b->max_ts = timestamp_ms;
    } else if (timestamp_ms > b->max_ts) {
        b->max_ts = timestamp_ms;
    }
    b->count++;
    return 0;
}

unsigned st_batch_builder_count(const struct st_batch_builder *b)
{
    return (unsigned)b->count;
}

size_t st_batch_builder_size(const struct st_batch_builder *b)
{
    return b->raw.len > 0 ? b->raw.len : ST_BATCH_HEADER_BYTES;
}

int st_batch_builder_finish(struct st_batch_builder *b, struct st_bytes *out)
{
    int rv;

    if (b->raw.len == 0) {
        rv = st_buf_reserve(&b->raw, ST_BATCH_HEADER_BYTES);
        if (rv != 0) {
            return rv;
        }
        memset(b->raw.base, 0, ST_BATCH_HEADER_BYTES);
        b->raw.len = ST_BATCH_HEADER_BYTES;
    }
    struct st_buf *dst = &b->raw;
    if (b->opts.codec == ST_CODEC_ZSTD) {
        st_buf_reset(&b->zbuf);
        rv = st_buf_reserve(&b->zbuf, ST_BATCH_HEADER_BYTES);
        if (rv != 0) {
            return rv;
        }
        b->zbuf.len = ST_BATCH_HEADER_BYTES;
        rv = st_zstd_compress(b->z, b->opts.zstd_level,
                              b->raw.base + ST_BATCH_HEADER_BYTES,
                              b->raw.len - ST_BATCH_HEADER_BYTES, &b->zbuf);
        if (rv != 0) {
            return rv;
        }
        if (b->zbuf.len - ST_BATCH_LOG_OVERHEAD > INT32_MAX) {
            return ST_ETOOBIG;
        }
        dst = &b->zbuf;
    }

    struct st_batch_header h = {
        .base_offset = 0,
        .batch_length = (int32_t)(dst->len - ST_BATCH_LOG_OVERHEAD),
        .leader_epoch = b->opts.leader_epoch,
        .magic = ST_BATCH_MAGIC,
        .crc = 0,
        .attributes = (int16_t)(b->opts.codec & ST_BATCH_ATTR_CODEC_MASK),
        .last_offset_delta = b->count - 1,
        .first_timestamp = b->first_ts,
        .max_timestamp = b->max_ts,
        .producer_id = b->opts.producer_id,
        .producer_epoch = b->opts.producer_epoch,
        .base_sequence = b->opts.base_sequence,
        .record_count = b->count,
    };
    header_encode(dst->base, &h);
    st_put_be32(dst->base + OFF_CRC, st_batch_crc_compute(dst->base, dst->len));
    out->base = dst->base;
    out->len = dst->len;
    return 0;
}

/* ---- reading ---- */

struct st_record_iter {
    struct st_batch_header h;
    struct st_buf plain; /* decompressed records (zstd only) */
    struct st_zstd *z;
    const uint8_t *p;    /* next record */
    const uint8_t *end;  /* end of the records */
    int32_t remaining;   /* records not yet returned */
    int32_t prev_delta;  /* offset delta of the last record returned */
    int failed;          /* sticky error */
};

int st_record_iter_new(struct st_record_iter **out)
{
    struct st_record_iter *it = st_calloc(1, sizeof *it);
    if (it == NULL) {
        return ST_ENOMEM;
    }
    st_buf_init(&it->plain);
    int rv = st_zstd_new(&it->z);
    if (rv != 0) {
        st_free(it);
        return rv;
    }
    it->failed = ST_EINVAL; /* next() before init() */
    *out = it;
    return 0;
}

void st_record_iter_free(struct st_record_iter *it)
{
    if (it == NULL) {
        return;
    }
    st_buf_close(&it->plain);
    st_zstd_free(it->z);
    st_free(it);
}

int st_record_iter_init(struct st_record_iter *it, const uint8_t *batch,
                        size_t len, size_t max_uncompressed)
{
    it->failed = ST_EINVAL;
    /* The caller validated the batch; we still check every length we use
     * so a caller's mistake cannot make us read past @len. */
    int rv = st_batch_header_decode(batch, len, &it->h);
    if (rv != 0) {
        return rv == ST_EAGAIN ? ST_ECORRUPT : rv;
    }
    size_t total = st_batch_total_bytes(&it->h);
    if (total > len || it->h.record_count < 0) {
        return ST_ECORRUPT;
    }
    const uint8_t *rec = batch + ST_BATCH_HEADER_BYTES;
    size_t rec_len = total - ST_BATCH_HEADER_BYTES;
    switch (it->h.attributes & ST_BATCH_ATTR_CODEC_MASK) {
    case ST_CODEC_NONE:
        it->p = rec;
        it->end = rec + rec_len;
        break;
    case ST_CODEC_ZSTD:
        rv = st_zstd_decompress(it->z, rec, rec_len, max_uncompressed,
                                &it->plain);
        if (rv != 0) {
            return rv;
        }
        it->p = it->plain.base;
        it->end = it->plain.base + it->plain.len;
        break;
    default:
        return ST_EUNSUPPORTED;
    }
    it->remaining = it->h.record_count;
    it->prev_delta = -1;
    it->failed = 0;
    return 0;
}

/* Read a varint length that must be -1 (null, when @nullable) or fit in
 * [*pp, end); set *out to the bytes (NULL for null) and advance. */
static int get_bytes(const uint8_t **pp, const uint8_t *end, bool nullable,
                     const uint8_t **out, int32_t *out_len)
{
    int32_t n;
    int rv = st_varint_get(pp, end, &n);
    if (rv != 0) {
        return rv;
    }
    if (n == -1 && nullable) {
        *out = NULL;
        *out_len = -1;
        return 0;
    }
    if (n < 0 || (size_t)n > (size_t)(end - *pp)) {
        return ST_ECORRUPT;
    }
    *out = *pp;
    *out_len = n;
    *pp += n;
    return 0;
}

static int record_decode(struct st_record_iter *it, struct st_record *out)
{
    const uint8_t *p = it->p;
    int32_t body;
    int rv = st_varint_get(&p, it->end, &body);
    if (rv != 0) {
        return rv;
    }
    if (body < 0 || (size_t)body > (size_t)(it->end - p)) {
        return ST_ECORRUPT;
    }
    const uint8_t *end = p + body;
    if (p == end) {
        return ST_ECORRUPT; /* no attributes byte */
    }
    p++; /* record attributes: unused */
    int64_t ts_delta;
    int32_t off_delta;
    if (st_varlong_get(&p, end, &ts_delta) != 0 ||
        st_varint_get(&p, end, &off_delta) != 0) {
        return ST_ECORRUPT;
    }
    if (off_delta <= it->prev_delta || off_delta > it->h.last_offset_delta) {
        return ST_ECORRUPT;
    }
    if (get_bytes(&p, end, true, &out->key, &out->key_len) != 0 ||
        get_bytes(&p, end, true, &out->value, &out->value_len) != 0) {
        return ST_ECORRUPT;
    }
    int32_t n_headers;
    if (st_varint_get(&p, end, &n_headers) != 0 || n_headers < 0 ||
        (size_t)n_headers > (size_t)(end - p) / 2) {
        return ST_ECORRUPT;
    }
    const uint8_t *hdr = p;
    for (int32_t i = 0; i < n_headers; i++) {
        const uint8_t *k, *v;
        int32_t kn, vn;
        if (get_bytes(&p, end, false, &k, &kn) != 0 ||
            get_bytes(&p, end, true, &v, &vn) != 0) {
            return ST_ECORRUPT;
        }
    }
    if (p != end) {
        return ST_ECORRUPT; /* the length disagrees with the contents */
    }

    if (it->h.attributes & ST_BATCH_ATTR_LOG_APPEND_TIME) {
        out->timestamp_ms = it->h.max_timestamp;
    } else if (__builtin_add_overflow(it->h.first_timestamp, ts_delta,
                                      &out->timestamp_ms)) {
        return ST_ECORRUPT;
    }
    if (__builtin_add_overflow(it->h.base_offset, (int64_t)off_delta,
                               &out->offset)) {
        return ST_ECORRUPT;
    }
    out->n_headers = (uint32_t)n_headers;
    out->headers_raw = hdr;
    out->headers_raw_len = (size_t)(end - hdr);
    it->prev_delta = off_delta;
    it->p = end;
    return 0;
}

int st_record_iter_next(struct st_record_iter *it, struct st_record *out)
{
    if (it->failed != 0) {
        return it->failed;
    }
    if (it->remaining == 0) {
        if (it->p != it->end) {
            it->failed = ST_ECORRUPT; /* bytes after the last record */
            return it->failed;
        }
        return 1;
    }
    int rv = record_decode(it, out);
    if (rv != 0) {
        it->failed = ST_ECORRUPT;
        return it->failed;
    }
    it->remaining--;
    return 0;
}

int st_record_header_get(const struct st_record *rec, uint32_t i,
                         struct st_record_header *out)
{
    if (i >= rec->n_headers) {
        return ST_ERANGE;
    }
    const uint8_t *p = rec->headers_raw;
    const uint8_t *end = p + rec->headers_raw_len;
    for (uint32_t j = 0; j <= i; j++) {
        const uint8_t *k, *v;
        int32_t kn, vn;
        if (get_bytes(&p, end, false, &k, &kn) != 0 ||
            get_bytes(&p, end, true, &v, &vn) != 0) {
            return ST_ECORRUPT;
        }
        if (j == i) {
            out->key = (const char *)k;
            out->key_len = (size_t)kn;
            out->value = v;
            out->value_len = v != NULL ? (size_t)vn : 0;
        }
    }
    return 0;
}
