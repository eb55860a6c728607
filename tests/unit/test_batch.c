/* Record batches: varints, zstd, building, validation and iteration.
 *
 * Every mutated or truncated batch is handed over as an exact-size heap copy
 * so that AddressSanitizer turns any read past its end into a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/batch.h"
#include "common/compress.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/varint.h"
#include <zstd.h>
#include "test_util.h"

#define MAX_BATCH (64u << 20)

/* ---- helpers ---- */

static uint8_t *dup_exact(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(d);
    if (n > 0) {
        memcpy(d, p, n);
    }
    return d;
}

/* Recompute the CRC of a batch we edited on purpose. */
static void fix_crc(uint8_t *b, size_t len)
{
    st_put_be32(b + 17, st_batch_crc_compute(b, len));
}

static enum st_codec codec_of(int i)
{
    return i % 2 ? ST_CODEC_ZSTD : ST_CODEC_NONE;
}

static struct st_batch_builder_opts opts_with(enum st_codec codec)
{
    return (struct st_batch_builder_opts){
        .codec = codec,
        .producer_id = -1,
        .producer_epoch = -1,
        .base_sequence = -1,
        .leader_epoch = -1,
    };
}

/* Record @i of the deterministic test data: key "k<i>" except every 3rd
 * (null) and every 5th (empty); value of i % 300 bytes except every 7th
 * (null); header "h"="<i>" on every 4th. */
static void add_test_record(struct st_batch_builder *b, int i)
{
    char key[16], hval[16];
    uint8_t value[300];
    int kn = snprintf(key, sizeof key, "k%d", i);
    size_t vn = (size_t)(i % 300);
    for (size_t j = 0; j < vn; j++) {
        value[j] = (uint8_t)(i + (int)j);
    }
    int hn = snprintf(hval, sizeof hval, "%d", i);
    struct st_record_header h = {"h", 1, (const uint8_t *)hval, (size_t)hn};
    const uint8_t *k = i % 3 == 0 ? NULL : (const uint8_t *)key;
    size_t klen = i % 5 == 0 ? 0 : (size_t)kn;
    ck_assert_int_eq(st_batch_builder_add(b, 1000 + i, k, klen,
                                          i % 7 == 0 ? NULL : value, vn,
                                          i % 4 == 0 ? &h : NULL,
                                          i % 4 == 0 ? 1 : 0),
                     0);
}

static void check_test_record(const struct st_record *r, int i,
                              int64_t base_offset)
{
    char key[16], hval[16];
    int kn = snprintf(key, sizeof key, "k%d", i);
    int hn = snprintf(hval, sizeof hval, "%d", i);
    ck_assert_int_eq(r->offset, base_offset + i);
    ck_assert_int_eq(r->timestamp_ms, 1000 + i);
    if (i % 3 == 0) {
        ck_assert_ptr_null(r->key);
        ck_assert_int_eq(r->key_len, -1);
    } else {
        ck_assert_ptr_nonnull(r->key);
        ck_assert_int_eq(r->key_len, i % 5 == 0 ? 0 : kn);
        ck_assert(memcmp(r->key, key, (size_t)r->key_len) == 0);
    }
    if (i % 7 == 0) {
        ck_assert_ptr_null(r->value);
        ck_assert_int_eq(r->value_len, -1);
    } else {
        ck_assert_ptr_nonnull(r->value);
        ck_assert_int_eq(r->value_len, i % 300);
        uint8_t want[300];
        for (int j = 0; j < r->value_len; j++) {
            want[j] = (uint8_t)(i + j);
        }
        ck_assert(memcmp(r->value, want, (size_t)r->value_len) == 0);
    }
    ck_assert_uint_eq(r->n_headers, i % 4 == 0 ? 1 : 0);
    if (i % 4 == 0) {
        struct st_record_header h;
        ck_assert_int_eq(st_record_header_get(r, 0, &h), 0);
        ck_assert_uint_eq(h.key_len, 1);
        ck_assert(memcmp(h.key, "h", 1) == 0);
        ck_assert_uint_eq(h.value_len, (size_t)hn);
        ck_assert(memcmp(h.value, hval, (size_t)hn) == 0);
        ck_assert_int_eq(st_record_header_get(r, 1, &h), ST_ERANGE);
    }
}

/* Build @n test records with @codec into a heap copy the caller frees. */
static uint8_t *build_batch(int n, enum st_codec codec, size_t *len)
{
    struct st_batch_builder *b;
    struct st_bytes out;
    ck_assert_int_eq(st_batch_builder_new(&b), 0);
    struct st_batch_builder_opts o = opts_with(codec);
    st_batch_builder_reset(b, &o);
    for (int i = 0; i < n; i++) {
        add_test_record(b, i);
    }
    ck_assert_int_eq(st_batch_builder_finish(b, &out), 0);
    uint8_t *copy = dup_exact(out.base, out.len);
    *len = out.len;
    st_batch_builder_free(b);
    return copy;
}

/* Validate and iterate all records; returns the first error or the
 * record count. */
static int read_all(const uint8_t *p, size_t len, int64_t base_offset)
{
    struct st_batch_header h;
    int rv = st_batch_validate(p, len, MAX_BATCH, &h);
    if (rv != 0) {
        return rv;
    }
    struct st_record_iter *it;
    ck_assert_int_eq(st_record_iter_new(&it), 0);
    rv = st_record_iter_init(it, p, len, MAX_BATCH);
    int n = 0;
    struct st_record r;
    while (rv == 0 && (rv = st_record_iter_next(it, &r)) == 0) {
        check_test_record(&r, n, base_offset);
        n++;
    }
    st_record_iter_free(it);
    return rv < 0 ? rv : n;
}

/* ---- varints ---- */

START_TEST(test_varints_round_trip_at_the_edges)
{
    const int64_t vals[] = {0,         -1,        1,         63,
                            -64,       64,        -65,       8191,
                            -8192,     INT32_MAX, INT32_MIN, INT64_MAX,
                            INT64_MIN, 1LL << 40, -(1LL << 40)};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t buf[ST_VARLONG_MAX_BYTES];
        size_t n = st_varlong_put(buf, vals[i]);
        ck_assert_uint_eq(n, st_varlong_size(vals[i]));
        uint8_t *exact = dup_exact(buf, n);
        const uint8_t *p = exact;
        int64_t v;
        ck_assert_int_eq(st_varlong_get(&p, exact + n, &v), 0);
        ck_assert_int_eq(v, vals[i]);
        ck_assert_ptr_eq(p, exact + n);
        free(exact);
        if (vals[i] >= INT32_MIN && vals[i] <= INT32_MAX) {
            int32_t v32 = (int32_t)vals[i];
            n = st_varint_put(buf, v32);
            ck_assert_uint_eq(n, st_varint_size(v32));
            ck_assert_uint_le(n, ST_VARINT_MAX_BYTES);
            exact = dup_exact(buf, n);
            p = exact;
            int32_t got;
            ck_assert_int_eq(st_varint_get(&p, exact + n, &got), 0);
            ck_assert_int_eq(got, v32);
            free(exact);
        }
    }
    /* Zigzag: small magnitudes of either sign take one byte. */
    uint8_t b[10];
    ck_assert_uint_eq(st_varint_put(b, -1), 1);
    ck_assert_uint_eq(b[0], 1);
    ck_assert_uint_eq(st_varint_put(b, 1), 1);
    ck_assert_uint_eq(b[0], 2);
    ck_assert_uint_eq(st_varint_put(b, -64), 1);
    ck_assert_uint_eq(b[0], 0x7f);
    ck_assert_uint_eq(st_varint_put(b, 64), 2);
}
END_TEST

START_TEST(test_varint_refuses_truncated_overlong_and_out_of_range)
{
    int32_t v;
    int64_t l;
    const uint8_t *p;
    /* Given a varint whose continuation bit runs into the end, */
    uint8_t *t = dup_exact("\x80\x80", 2);
    p = t;
    ck_assert_int_eq(st_varint_get(&p, t + 2, &v), ST_ECORRUPT);
    ck_assert_ptr_eq(p, t); /* unchanged on error */
    ck_assert_int_eq(st_varint_get(&p, t, &v), ST_ECORRUPT); /* empty */
    free(t);
    /* six bytes for a 32-bit varint, */
    t = dup_exact("\x80\x80\x80\x80\x80\x00", 6);
    p = t;
    ck_assert_int_eq(st_varint_get(&p, t + 6, &v), ST_ECORRUPT);
    free(t);
    /* a fifth byte with bits above 32, */
    t = dup_exact("\xff\xff\xff\xff\x10", 5);
    p = t;
    ck_assert_int_eq(st_varint_get(&p, t + 5, &v), ST_ECORRUPT);
    /* (while 0x0f in the fifth byte is the largest legal one) */
    t[4] = 0x0f;
    ck_assert_int_eq(st_varint_get(&p, t + 5, &v), 0);
    ck_assert_int_eq(v, INT32_MIN);
    free(t);
    /* and eleven bytes for a varlong, or a tenth byte above bit 64. */
    t = dup_exact("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11);
    p = t;
    ck_assert_int_eq(st_varlong_get(&p, t + 11, &l), ST_ECORRUPT);
    t[9] = 0x02;
    ck_assert_int_eq(st_varlong_get(&p, t + 10, &l), ST_ECORRUPT);
    t[9] = 0x01; /* 2^63 zigzagged is 2^62 */
    ck_assert_int_eq(st_varlong_get(&p, t + 10, &l), 0);
    ck_assert_int_eq(l, 1LL << 62);
    free(t);
}
END_TEST

/* ---- zstd ---- */

START_TEST(test_zstd_round_trips_and_refuses_to_expand_past_the_limit)
{
    struct st_zstd *z;
    struct st_buf c, d;
    st_buf_init(&c);
    st_buf_init(&d);
    ck_assert_int_eq(st_zstd_new(&z), 0);
    uint8_t src[10000];
    for (size_t i = 0; i < sizeof src; i++) {
        src[i] = (uint8_t)(i % 13);
    }
    /* Given 10,000 bytes compressed, */
    ck_assert_int_eq(st_zstd_compress(z, 0, src, sizeof src, &c), 0);
    ck_assert_uint_lt(c.len, sizeof src);
    /* they decompress with a limit of exactly their size, */
    ck_assert_int_eq(st_zstd_decompress(z, c.base, c.len, sizeof src, &d), 0);
    ck_assert_uint_eq(d.len, sizeof src);
    ck_assert(memcmp(d.base, src, sizeof src) == 0);
    /* one byte less is refused, */
    ck_assert_int_eq(
        st_zstd_decompress(z, c.base, c.len, sizeof src - 1, &d), ST_ETOOBIG);
    /* garbage and a truncated frame are not valid zstd, */
    ck_assert_int_eq(st_zstd_decompress(z, src, 100, 1 << 20, &d),
                     ST_ECOMPRESS);
    uint8_t *cut = dup_exact(c.base, c.len - 3);
    ck_assert_int_eq(st_zstd_decompress(z, cut, c.len - 3, 1 << 20, &d),
                     ST_ECOMPRESS);
    ck_assert_int_eq(st_zstd_decompress(z, cut, 0, 1 << 20, &d),
                     ST_ECOMPRESS);
    free(cut);
    /* and a NULL context works the same. */
    ck_assert_int_eq(st_zstd_decompress(NULL, c.base, c.len, 1 << 20, &d), 0);
    ck_assert_uint_eq(d.len, sizeof src);
    st_zstd_free(z);
    st_buf_close(&c);
    st_buf_close(&d);
}
END_TEST

/* Compress @n bytes at @src the way a streaming producer might: no content
 * size in the frame header, and a window of 2^@window_log bytes. */
static void compress_undeclared(const void *src, size_t n, int window_log,
                                struct st_buf *dst)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ck_assert_ptr_nonnull(c);
    ck_assert(!ZSTD_isError(
        ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0)));
    ck_assert(!ZSTD_isError(
        ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log)));
    ck_assert_int_eq(st_buf_reserve(dst, ZSTD_compressBound(n)), 0);
    size_t r = ZSTD_compress2(c, dst->base, dst->cap, src, n);
    ck_assert(!ZSTD_isError(r));
    dst->len = r;
    ZSTD_freeCCtx(c);
    ck_assert(ZSTD_getFrameContentSize(dst->base, dst->len) ==
              ZSTD_CONTENTSIZE_UNKNOWN);
}

START_TEST(test_zstd_bomb_without_declared_size_stops_at_the_limit)
{
    size_t n = 8u << 20, limit = 1u << 20;
    uint8_t *zeros = calloc(1, n);
    ck_assert_ptr_nonnull(zeros);
    struct st_buf c, d;
    st_buf_init(&c);
    st_buf_init(&d);
    /* Given 8 MiB of zeros in a frame that does not declare its size and
     * uses a small (1 KiB) window, */
    compress_undeclared(zeros, n, 10, &c);
    ck_assert_uint_lt(c.len, 65536);
    /* decompressing with a 1 MiB limit stops there and allocates no more
     * than twice the limit, */
    ck_assert_int_eq(st_zstd_decompress(NULL, c.base, c.len, limit, &d),
                     ST_ETOOBIG);
    ck_assert_uint_le(d.cap, 2 * (limit + 1));
    /* while the whole is fine with a limit that covers it. */
    ck_assert_int_eq(st_zstd_decompress(NULL, c.base, c.len, n, &d), 0);
    ck_assert_uint_eq(d.len, n);
    /* Given the same data with an 8 MiB window, a 4 KiB limit refuses the
     * window before allocating it. */
    c.len = 0;
    compress_undeclared(zeros, n, 23, &c);
    st_buf_close(&d);
    ck_assert_int_eq(st_zstd_decompress(NULL, c.base, c.len, 4096, &d),
                     ST_ETOOBIG);
    ck_assert_uint_le(d.cap, 8192);
    free(zeros);
    st_buf_close(&c);
    st_buf_close(&d);
}
END_TEST

/* ---- building and reading ---- */

static const int round_trip_counts[] = {0, 1, 10000};

START_TEST(test_batches_of_0_1_and_10000_records_round_trip)
{
    /* _i: count index * 2 + codec. */
    int n = round_trip_counts[_i / 2];
    enum st_codec codec = codec_of(_i);
    size_t len;
    /* Given a batch of n records built with the codec, */
    uint8_t *p = build_batch(n, codec, &len);
    /* its header says what was built, */
    struct st_batch_header h;
    ck_assert_int_eq(st_batch_validate(p, len, MAX_BATCH, &h), 0);
    ck_assert_uint_eq(st_batch_total_bytes(&h), len);
    ck_assert_int_eq(h.record_count, n);
    ck_assert_int_eq(h.last_offset_delta, n - 1);
    ck_assert_int_eq(h.attributes & ST_BATCH_ATTR_CODEC_MASK, codec);
    ck_assert_int_eq(h.magic, 2);
    ck_assert_int_eq(h.base_offset, 0);
    ck_assert_int_eq(h.leader_epoch, -1);
    ck_assert_int_eq(h.producer_id, -1);
    ck_assert_int_eq(h.first_timestamp, n > 0 ? 1000 : -1);
    ck_assert_int_eq(h.max_timestamp, n > 0 ? 1000 + n - 1 : -1);
    /* and every record comes back as it went in. */
    ck_assert_int_eq(read_all(p, len, 0), n);
    free(p);
}
END_TEST

START_TEST(test_empty_key_and_null_key_are_distinguished)
{
    struct st_batch_builder *b;
    struct st_record_iter *it;
    struct st_bytes out;
    struct st_record r;
    ck_assert_int_eq(st_batch_builder_new(&b), 0);
    ck_assert_int_eq(st_record_iter_new(&it), 0);
    struct st_batch_builder_opts o = opts_with(codec_of(_i));
    st_batch_builder_reset(b, &o);
    /* Given records with an empty key, a null key, an empty value, a null
     * value, and headers with an empty and a null value, */
    struct st_record_header hs[3] = {
        {"a", 1, (const uint8_t *)"", 0},
        {"b", 1, NULL, 0},
        {"", 0, (const uint8_t *)"xyz", 3},
    };
    ck_assert_int_eq(st_batch_builder_add(b, 5, (const uint8_t *)"", 0,
                                          NULL, 0, hs, 3),
                     0);
    ck_assert_int_eq(
        st_batch_builder_add(b, 4, NULL, 0, (const uint8_t *)"", 0, NULL, 0),
        0);
    ck_assert_uint_eq(st_batch_builder_count(b), 2);
    ck_assert_int_eq(st_batch_builder_finish(b, &out), 0);
    uint8_t *p = dup_exact(out.base, out.len);
    struct st_batch_header h;
    ck_assert_int_eq(st_batch_validate(p, out.len, MAX_BATCH, &h), 0);
    ck_assert_int_eq(h.first_timestamp, 5);
    ck_assert_int_eq(h.max_timestamp, 5);
    ck_assert_int_eq(st_record_iter_init(it, p, out.len, MAX_BATCH), 0);
    /* when read back, empty is non-NULL with length 0 and null is NULL. */
    ck_assert_int_eq(st_record_iter_next(it, &r), 0);
    ck_assert_ptr_nonnull(r.key);
    ck_assert_int_eq(r.key_len, 0);
    ck_assert_ptr_null(r.value);
    ck_assert_int_eq(r.value_len, -1);
    ck_assert_uint_eq(r.n_headers, 3);
    struct st_record_header g;
    ck_assert_int_eq(st_record_header_get(&r, 0, &g), 0);
    ck_assert_ptr_nonnull(g.value);
    ck_assert_uint_eq(g.value_len, 0);
    ck_assert_int_eq(st_record_header_get(&r, 1, &g), 0);
    ck_assert_ptr_null(g.value);
    ck_assert_int_eq(st_record_header_get(&r, 2, &g), 0);
    ck_assert_uint_eq(g.key_len, 0);
    ck_assert(memcmp(g.value, "xyz", 3) == 0);
    ck_assert_int_eq(st_record_iter_next(it, &r), 0);
    ck_assert_ptr_null(r.key);
    ck_assert_int_eq(r.key_len, -1);
    ck_assert_ptr_nonnull(r.value);
    ck_assert_int_eq(r.value_len, 0);
    ck_assert_int_eq(r.timestamp_ms, 4); /* earlier than the first */
    ck_assert_int_eq(r.offset, 1);
    ck_assert_int_eq(st_record_iter_next(it, &r), 1);
    ck_assert_int_eq(st_record_iter_next(it, &r), 1);
    free(p);
    st_record_iter_free(it);
    st_batch_builder_free(b);
}
END_TEST

START_TEST(test_builder_is_reusable_and_keeps_producer_fields)
{
    struct st_batch_builder *b;
    struct st_bytes out;
    struct st_batch_header h;
    ck_assert_int_eq(st_batch_builder_new(&b), 0);
    /* Given a builder used for one zstd batch, */
    struct st_batch_builder_opts o = opts_with(ST_CODEC_ZSTD);
    st_batch_builder_reset(b, &o);
    for (int i = 0; i < 50; i++) {
        add_test_record(b, i);
    }
    ck_assert_int_eq(st_batch_builder_finish(b, &out), 0);
    /* when reset for an uncompressed idempotent batch, */
    o = (struct st_batch_builder_opts){.codec = ST_CODEC_NONE,
                                       .producer_id = 77,
                                       .producer_epoch = 3,
                                       .base_sequence = 1000,
                                       .leader_epoch = 9};
    st_batch_builder_reset(b, &o);
    ck_assert_uint_eq(st_batch_builder_count(b), 0);
    ck_assert_uint_eq(st_batch_builder_size(b), ST_BATCH_HEADER_BYTES);
    for (int i = 0; i < 3; i++) {
        add_test_record(b, i);
    }
    size_t predicted = st_batch_builder_size(b);
    ck_assert_int_eq(st_batch_builder_finish(b, &out), 0);
    /* the second batch holds only its own records and fields. */
    ck_assert_uint_eq(out.len, predicted);
    uint8_t *p = dup_exact(out.base, out.len);
    ck_assert_int_eq(st_batch_validate(p, out.len, MAX_BATCH, &h), 0);
    ck_assert_int_eq(h.record_count, 3);
    ck_assert_int_eq(h.attributes, 0);
    ck_assert_int_eq(h.producer_id, 77);
    ck_assert_int_eq(h.producer_epoch, 3);
    ck_assert_int_eq(h.base_sequence, 1000);
    ck_assert_int_eq(h.leader_epoch, 9);
    ck_assert_int_eq(read_all(p, out.len, 0), 3);
    free(p);
    /* Finishing twice gives the same bytes. */
    struct st_bytes again;
    ck_assert_int_eq(st_batch_builder_finish(b, &again), 0);
    ck_assert_uint_eq(again.len, out.len);
    st_batch_builder_free(b);
    st_batch_builder_free(NULL);
    st_record_iter_free(NULL);
}
END_TEST

START_TEST(test_builder_reports_enomem_and_stays_usable)
{
    struct st_batch_builder *b;
    struct st_bytes out;
    ck_assert_int_eq(st_batch_builder_new(&b), 0);
    add_test_record(b, 1);
    /* Given the next allocation set to fail, a record that needs to grow
     * the buffer is refused, */
    uint8_t big[5000] = {0};
    st_alloc_fail_after(0, 1);
    ck_assert_int_eq(
        st_batch_builder_add(b, 1, NULL, 0, big, sizeof big, NULL, 0),
        ST_ENOMEM);
    st_alloc_fail_after(0, 0);
    /* and the batch still holds exactly the earlier record. */
    ck_assert_uint_eq(st_batch_builder_count(b), 1);
    ck_assert_int_eq(st_batch_builder_finish(b, &out), 0);
    uint8_t *p = dup_exact(out.base, out.len);
    struct st_batch_header h;
    ck_assert_int_eq(st_batch_validate(p, out.len, MAX_BATCH, &h), 0);
    ck_assert_int_eq(h.record_count, 1);
    free(p);
    st_batch_builder_free(b);
}
END_TEST

START_TEST(test_base_offset_and_leader_epoch_rewrite_keeps_the_crc)
{
    size_t len;
    uint8_t *p = build_batch(20, codec_of(_i), &len);
    /* Given a batch appended by a leader at offset 1000 in epoch 7, */
    st_batch_set_base_offset(p, 1000);
    st_batch_set_leader_epoch(p, 7);
    /* it still validates, and its records carry the new offsets. */
    struct st_batch_header h;
    ck_assert_int_eq(st_batch_validate(p, len, MAX_BATCH, &h), 0);
    ck_assert_int_eq(h.base_offset, 1000);
    ck_assert_int_eq(h.leader_epoch, 7);
    ck_assert_int_eq(st_batch_last_offset(&h), 1019);
    ck_assert_int_eq(read_all(p, len, 1000), 20);
    free(p);
}
END_TEST

/* ---- corruption ---- */

START_TEST(test_a_flipped_byte_anywhere_is_detected)
{
    size_t len;
    uint8_t *good = build_batch(5, codec_of(_i), &len);
    const uint8_t masks[] = {0x01, 0x80, 0xff};
    for (size_t pos = 0; pos < len; pos++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            /* Given the batch with one byte changed, */
            uint8_t *p = dup_exact(good, len);
            p[pos] ^= masks[m];
            /* when it is validated, */
            struct st_batch_header h;
            int rv = st_batch_validate(p, len, MAX_BATCH, &h);
            if (pos < 8 || (pos >= 12 && pos < 16)) {
                /* base_offset and leader_epoch lie outside the CRC on
                 * purpose: a leader rewrites them. */
                ck_assert_msg(rv == 0, "pos %zu: %s", pos, st_errname(rv));
                ck_assert_int_eq(read_all(p, len, h.base_offset), 5);
            } else if (pos < 12) {
                /* batch_length: too small, too big, past the buffer, or
                 * a shorter CRC range that no longer matches. */
                ck_assert_msg(rv == ST_ECORRUPT || rv == ST_ETOOBIG ||
                                  rv == ST_EAGAIN || rv == ST_ECRC,
                              "pos %zu mask %02x: %s", pos, masks[m],
                              st_errname(rv));
            } else if (pos == 16) {
                ck_assert_msg(rv == ST_ECORRUPT, "magic: %s", st_errname(rv));
            } else {
                /* everything else is covered by the CRC. */
                ck_assert_msg(rv == ST_ECRC, "pos %zu mask %02x: %s", pos,
                              masks[m], st_errname(rv));
            }
            free(p);
        }
    }
    free(good);
}
END_TEST

START_TEST(test_every_truncation_is_incomplete_not_an_overread)
{
    size_t len;
    uint8_t *good = build_batch(5, codec_of(_i), &len);
    for (size_t cut = 0; cut < len; cut++) {
        /* Given only the first @cut bytes, in an exact-size buffer, */
        uint8_t *p = dup_exact(good, cut);
        struct st_batch_header h;
        /* validation asks for more input. */
        ck_assert_int_eq(st_batch_validate(p, cut, MAX_BATCH, &h), ST_EAGAIN);
        free(p);
    }
    free(good);
}
END_TEST

START_TEST(test_a_length_past_the_buffer_is_refused_without_reading_it)
{
    size_t len;
    uint8_t *p = build_batch(5, codec_of(_i), &len);
    struct st_batch_header h;
    /* Given batch_length pointing 100 bytes past the exact-size buffer, */
    st_put_be32(p + 8, (uint32_t)(len - 12 + 100));
    /* validation waits for more, or refuses when over the limit, */
    ck_assert_int_eq(st_batch_validate(p, len, MAX_BATCH, &h), ST_EAGAIN);
    ck_assert_int_eq(st_batch_validate(p, len, len, &h), ST_ETOOBIG);
    /* a negative or huge length is refused at once, */
    st_put_be32(p + 8, 0x80000000u);
    ck_assert_int_eq(st_batch_validate(p, len, MAX_BATCH, &h), ST_ECORRUPT);
    st_put_be32(p + 8, 0x7fffffffu);
    ck_assert_int_eq(st_batch_validate(p, len, MAX_BATCH, &h), ST_ETOOBIG);
    /* and an iterator given such a batch refuses it too. */
    struct st_record_iter *it;
    struct st_record r;
    ck_assert_int_eq(st_record_iter_new(&it), 0);
    ck_assert_int_eq(st_record_iter_next(it, &r), ST_EINVAL);
    st_put_be32(p + 8, (uint32_t)(len - 12 + 100));
    ck_assert_int_eq(st_record_iter_init(it, p, len, MAX_BATCH), ST_ECORRUPT);
    ck_assert_int_eq(st_record_iter_next(it, &r), ST_EINVAL);
    st_record_iter_free(it);
    free(p);
}
END_TEST

/* The uncompressed single-record batch used below: header, then
 * [len][attr][ts][off][keylen=-1][vlen=3]"abc"[nh=0]. */
static uint8_t *one_record_batch(size_t *len)
{
    struct st_batch_builder *b;
    struct st_bytes out;
    ck_assert_int_eq(st_batch_builder_new(&b), 0);
    ck_assert_int_eq(st_batch_builder_add(b, 0, NULL, 0,
                                          (const uint8_t *)"abc", 3, NULL, 0),
                     0);
    ck_assert_int_eq(st_batch_builder_finish(b, &out), 0);
    uint8_t *p = dup_exact(out.base, out.len);
    *len = out.len;
    st_batch_builder_free(b);
    ck_assert_uint_eq(*len, 61 + 10);
    return p;
}

static int iterate_one(const uint8_t *p, size_t len)
{
    struct st_batch_header h;
    int rv = st_batch_validate(p, len, MAX_BATCH, &h);
    if (rv != 0) {
        return rv;
    }
    struct st_record_iter *it;
    struct st_record r;
    ck_assert_int_eq(st_record_iter_new(&it), 0);
    ck_assert_int_eq(st_record_iter_init(it, p, len, MAX_BATCH), 0);
    while ((rv = st_record_iter_next(it, &r)) == 0) {
    }
    st_record_iter_free(it);
    return rv;
}

START_TEST(test_a_record_varint_past_the_end_is_corrupt)
{
    size_t len;
    uint8_t *p = one_record_batch(&len);
    ck_assert_int_eq(iterate_one(p, len), 1);
    /* Offsets inside the record (after the 61-byte header). */
    const size_t rec = 61, vlen = 61 + 5;
    struct {
        size_t at;
        uint8_t byte;
        const char *what;
    } edits[] = {
        {rec, 0x7e, "record length 63 past the end"},
        {rec, 0x01, "record length -1"},
        {rec, 0x80, "record length varint runs into the next byte"},
        {vlen, 0x08, "value length 4 past the record"},
        {vlen, 0x05, "value length -3"},
        {rec + 2, 0x80, "timestamp varint continuation"},
        {rec + 3, 0x02, "offset delta 1 beyond last_offset_delta"},
        {rec + 4, 0x02, "key length 1 shifts the record"},
        {rec + 9, 0x02, "one header announced, none present"},
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        /* Given the record edited and the CRC made to match again, */
        uint8_t *q = dup_exact(p, len);
        q[edits[e].at] = edits[e].byte;
        fix_crc(q, len);
        /* the batch validates but the iterator refuses the record. */
        ck_assert_msg(iterate_one(q, len) == ST_ECORRUPT, "%s",
                      edits[e].what);
        free(q);
    }
    /* A record_count that disagrees with the records, either way, is
     * corrupt too. */
    uint8_t *q = dup_exact(p, len);
    st_put_be32(q + 57, 2);
    st_put_be32(q + 23, 1);
    fix_crc(q, len);
    ck_assert_int_eq(iterate_one(q, len), ST_ECORRUPT);
    st_put_be32(q + 57, 0);
    fix_crc(q, len);
    ck_assert_int_eq(iterate_one(q, len), ST_ECORRUPT);
    /* last_offset_delta smaller than record_count - 1 is refused by
     * validation itself. */
    st_put_be32(q + 57, 3);
    st_put_be32(q + 23, 1);
    fix_crc(q, len);
    struct st_batch_header h;
    ck_assert_int_eq(st_batch_validate(q, len, MAX_BATCH, &h), ST_ECORRUPT);
    /* An unknown codec under a good CRC is unsupported, not corrupt. */
    st_put_be32(q + 57, 1);
    st_put_be32(q + 23, 0);
    st_put_be16(q + 21, 1 /* gzip */);
    fix_crc(q, len);
    ck_assert_int_eq(st_batch_validate(q, len, MAX_BATCH, &h),
                     ST_EUNSUPPORTED);
    free(q);
    free(p);
}
END_TEST

START_TEST(test_compressed_records_are_bounded_by_the_limit)
{
    size_t len;
    uint8_t *p = build_batch(1000, ST_CODEC_ZSTD, &len);
    struct st_record_iter *it;
    ck_assert_int_eq(st_record_iter_new(&it), 0);
    /* Given a zstd batch whose records take ~150 KB uncompressed, */
    ck_assert_int_eq(st_record_iter_init(it, p, len, 1 << 20), 0);
    /* a limit of 4 KiB is refused, */
    ck_assert_int_eq(st_record_iter_init(it, p, len, 4096), ST_ETOOBIG);
    /* and records that are not zstd at all are a compression error. */
    uint8_t *q = dup_exact(p, len);
    q[61] ^= 0xff; /* zstd magic */
    fix_crc(q, len);
    ck_assert_int_eq(st_record_iter_init(it, q, len, 1 << 20), ST_ECOMPRESS);
    free(q);
    st_record_iter_free(it);
    free(p);
}
END_TEST

START_TEST(test_allocation_failures_are_reported_not_crashed)
{
    size_t len;
    uint8_t *p = build_batch(100, ST_CODEC_ZSTD, &len);
    struct st_record_iter *it = NULL;
    struct st_batch_builder *b = NULL;
    /* Given each of the first allocations failing in turn, creating an
     * iterator or builder reports ST_ENOMEM and leaks nothing, */
    for (long k = 0; k < 3; k++) {
        st_alloc_fail_after(k, 1);
        int rv = st_record_iter_new(&it);
        st_alloc_fail_after(0, 0);
        if (rv == 0) {
            st_record_iter_free(it);
        } else {
            ck_assert_int_eq(rv, ST_ENOMEM);
        }
        st_alloc_fail_after(k, 1);
        rv = st_batch_builder_new(&b);
        st_alloc_fail_after(0, 0);
        if (rv == 0) {
            st_batch_builder_free(b);
        } else {
            ck_assert_int_eq(rv, ST_ENOMEM);
        }
    }
    /* and an iterator that cannot allocate its decompression buffer says
     * so, then works on the next try. */
    ck_assert_int_eq(st_record_iter_new(&it), 0);
    st_alloc_fail_after(0, 1);
    ck_assert_int_eq(st_record_iter_init(it, p, len, MAX_BATCH), ST_ENOMEM);
    st_alloc_fail_after(0, 0);
    struct st_record r;
    ck_assert_int_eq(st_record_iter_next(it, &r), ST_EINVAL);
    ck_assert_int_eq(st_record_iter_init(it, p, len, MAX_BATCH), 0);
    ck_assert_int_eq(st_record_iter_next(it, &r), 0);
    st_record_iter_free(it);
    free(p);
}
END_TEST

/* ---- the documented example ---- */

/* Read the bytes between the markers of proto/RECORD_FORMAT.md: each line
 * is "OFFSET: hh hh ... | annotation". */
static size_t read_doc_example(uint8_t *out, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/proto/RECORD_FORMAT.md",
             STRATA_SOURCE_ROOT);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char line[512];
    int in = 0;
    size_t n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, "example-hex-begin") != NULL) {
            in = 1;
            continue;
        }
        if (strstr(line, "example-hex-end") != NULL) {
            break;
        }
        char *colon = strchr(line, ':');
        if (!in || colon == NULL) {
            continue;
        }
        char *bar = strchr(line, '|');
        if (bar != NULL) {
            *bar = '\0';
        }
        for (char *s = colon + 1; *s != '\0';) {
            unsigned v;
            int used;
            if (sscanf(s, " %2x%n", &v, &used) != 1) {
                break;
            }
            ck_assert_uint_lt(n, cap);
            out[n++] = (uint8_t)v;
            s += used;
        }
    }
    fclose(f);
    return n;
}

START_TEST(test_the_documented_example_decodes_as_documented)
{
    uint8_t doc[256];
    size_t n = read_doc_example(doc, sizeof doc);
    uint8_t *p = dup_exact(doc, n);
    /* Given the example bytes of RECORD_FORMAT.md, the header holds what
     * the document says, */
    struct st_batch_header h;
    ck_assert_int_eq(st_batch_validate(p, n, MAX_BATCH, &h), 0);
    ck_assert_uint_eq(n, 86);
    ck_assert_int_eq(h.base_offset, 42);
    ck_assert_int_eq(h.batch_length, 74);
    ck_assert_int_eq(h.leader_epoch, 3);
    ck_assert_uint_eq(h.crc, 0x28d2cc73u);
    ck_assert_int_eq(h.attributes, 0);
    ck_assert_int_eq(h.last_offset_delta, 1);
    ck_assert_int_eq(h.first_timestamp, 1700000000000LL);
    ck_assert_int_eq(h.max_timestamp, 1700000000005LL);
    ck_assert_int_eq(h.producer_id, -1);
    ck_assert_int_eq(h.producer_epoch, -1);
    ck_assert_int_eq(h.base_sequence, -1);
    ck_assert_int_eq(h.record_count, 2);
    /* the records too, */
    struct st_record_iter *it;
    struct st_record r;
    struct st_record_header g;
    ck_assert_int_eq(st_record_iter_new(&it), 0);
    ck_assert_int_eq(st_record_iter_init(it, p, n, MAX_BATCH), 0);
    ck_assert_int_eq(st_record_iter_next(it, &r), 0);
    ck_assert_int_eq(r.offset, 42);
    ck_assert_int_eq(r.timestamp_ms, 1700000000000LL);
    ck_assert_int_eq(r.key_len, 1);
    ck_assert(memcmp(r.key, "k", 1) == 0);
    ck_assert_int_eq(r.value_len, 5);
    ck_assert(memcmp(r.value, "hello", 5) == 0);
    ck_assert_uint_eq(r.n_headers, 1);
    ck_assert_int_eq(st_record_header_get(&r, 0, &g), 0);
    ck_assert(g.key_len == 2 && memcmp(g.key, "ct", 2) == 0);
    ck_assert(g.value_len == 1 && memcmp(g.value, "t", 1) == 0);
    ck_assert_int_eq(st_record_iter_next(it, &r), 0);
    ck_assert_int_eq(r.offset, 43);
    ck_assert_int_eq(r.timestamp_ms, 1700000000005LL);
    ck_assert_ptr_null(r.key);
    ck_assert_ptr_null(r.value);
    ck_assert_uint_eq(r.n_headers, 0);
    ck_assert_int_eq(st_record_iter_next(it, &r), 1);
    st_record_iter_free(it);

    /* and the builder, given the same input, makes exactly these bytes. */
    struct st_batch_builder *b;
    struct st_bytes out;
    ck_assert_int_eq(st_batch_builder_new(&b), 0);
    struct st_record_header ct = {"ct", 2, (const uint8_t *)"t", 1};
    ck_assert_int_eq(st_batch_builder_add(b, 1700000000000LL,
                                          (const uint8_t *)"k", 1,
                                          (const uint8_t *)"hello", 5, &ct,
                                          1),
                     0);
    ck_assert_int_eq(
        st_batch_builder_add(b, 1700000000005LL, NULL, 0, NULL, 0, NULL, 0),
        0);
    ck_assert_int_eq(st_batch_builder_finish(b, &out), 0);
    uint8_t *built = dup_exact(out.base, out.len);
    st_batch_set_base_offset(built, 42);
    st_batch_set_leader_epoch(built, 3);
    ck_assert_uint_eq(out.len, n);
    ck_assert(memcmp(built, p, n) == 0);
    free(built);
    st_batch_builder_free(b);
    free(p);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("varint+zstd");
    tcase_add_test(tc, test_varints_round_trip_at_the_edges);
    tcase_add_test(tc, test_varint_refuses_truncated_overlong_and_out_of_range);
    tcase_add_test(tc,
                   test_zstd_round_trips_and_refuses_to_expand_past_the_limit);
    tcase_add_test(tc, test_zstd_bomb_without_declared_size_stops_at_the_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_add_loop_test(tc, test_batches_of_0_1_and_10000_records_round_trip,
                        0, 6);
    tcase_add_loop_test(tc, test_empty_key_and_null_key_are_distinguished, 0,
                        2);
    tcase_add_test(tc, test_builder_is_reusable_and_keeps_producer_fields);
    tcase_add_test(tc, test_builder_reports_enomem_and_stays_usable);
    tcase_add_loop_test(
        tc, test_base_offset_and_leader_epoch_rewrite_keeps_the_crc, 0, 2);
    tcase_add_loop_test(tc, test_a_flipped_byte_anywhere_is_detected, 0, 2);
    tcase_add_loop_test(tc, test_every_truncation_is_incomplete_not_an_overread,
                        0, 2);
    tcase_add_loop_test(
        tc, test_a_length_past_the_buffer_is_refused_without_reading_it, 0, 2);
    tcase_add_test(tc, test_a_record_varint_past_the_end_is_corrupt);
    tcase_add_test(tc, test_compressed_records_are_bounded_by_the_limit);
    tcase_add_test(tc, test_allocation_failures_are_reported_not_crashed);
    tcase_add_test(tc, test_the_documented_example_decodes_as_documented);
    suite_add_tcase(s, tc);
    return s;
}
