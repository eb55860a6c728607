/* Helpers for the broker/log tests (test_log_*.c): building batches,
 * reading them back, small log configurations. Header-only, static. */
#ifndef ST_TEST_LOG_UTIL_H
#define ST_TEST_LOG_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/log/log.h"
#include "common/alloc.h"
#include "common/batch.h"
#include "common/err.h"
#include "common/vfs.h"
#include "test_util.h"

/* A batch of @n records "k<key0+i % key_mod>" -> @value_len bytes of value
 * whose first 8 bytes hold @tag + i (value NULL when @tombstone), at
 * timestamp @ts. Ownership: the caller frees *out with free(). */
static inline size_t tl_batch_ex(int n, size_t value_len, int64_t ts,
                                 int key0, int key_mod, uint64_t tag,
                                 bool tombstone, int64_t pid, int16_t pepoch,
                                 int32_t seq, uint8_t **out)
{
    struct st_batch_builder *b;
    ck_assert_int_eq(st_batch_builder_new(&b), 0);
    struct st_batch_builder_opts o = {
        .codec = ST_CODEC_NONE, .producer_id = pid,
        .producer_epoch = pepoch, .base_sequence = seq, .leader_epoch = -1};
    st_batch_builder_reset(b, &o);
    uint8_t *val = calloc(1, value_len + 8);
    for (int i = 0; i < n; i++) {
        char key[32];
        int k = key_mod > 0 ? (key0 + i) % key_mod : key0 + i;
        int kl = snprintf(key, sizeof key, "k%d", k);
        uint64_t t = tag + (uint64_t)i;
        memcpy(val, &t, value_len < 8 ? value_len : 8);
        ck_assert_int_eq(st_batch_builder_add(b, ts, (uint8_t *)key,
                                              (size_t)kl,
                                              tombstone ? NULL : val,
                                              value_len, NULL, 0),
                         0);
    }
    struct st_bytes v;
    ck_assert_int_eq(st_batch_builder_finish(b, &v), 0);
    *out = malloc(v.len);
    memcpy(*out, v.base, v.len);
    st_batch_builder_free(b);
    free(val);
    return v.len;
}

static inline size_t tl_batch(int n, size_t value_len, int64_t ts,
                              uint8_t **out)
{
    return tl_batch_ex(n, value_len, ts, 0, 0, 0, false, -1, 0, -1, out);
}

/* Append a fresh batch of @n records as leader; returns its base offset. */
static inline int64_t tl_append(struct st_log *log, int n, size_t value_len,
                                int64_t ts)
{
    uint8_t *b;
    size_t len = tl_batch(n, value_len, ts, &b);
    struct st_log_append_info info;
    int rv = st_log_append(log, b, len, ST_LOG_APPEND_LEADER, 1, ts, &info);
    free(b);
    ck_assert_msg(rv == 0, "append: %s", st_strerror(rv));
    return info.base_offset;
}

/* Read the range of @r into a malloc'd buffer. */
static inline uint8_t *tl_slurp(const struct st_log_read_result *r)
{
    uint8_t *p = malloc(r->len + 1);
    size_t n = 0;
    ck_assert_int_eq(st_vfs_pread(r->file, p, r->len, r->pos, &n), 0);
    ck_assert_uint_eq(n, r->len);
    return p;
}

/* Walk every batch from @from to the end of @log, checking CRCs and that
 * offsets increase; returns the number of batches and the next offset. */
static inline int64_t tl_scan_all(struct st_log *log, int64_t from,
                                  int64_t *n_batches)
{
    int64_t off = from, count = 0;
    for (;;) {
        struct st_log_read_result r;
        int rv = st_log_read(log, off, INT64_MAX, 1 << 20, &r);
        ck_assert_msg(rv == 0, "read at %lld: %s", (long long)off,
                      st_strerror(rv));
        if (r.len == 0) {
            st_log_read_release(&r);
            break;
        }
        uint8_t *p = tl_slurp(&r);
        for (size_t at = 0; at < r.len;) {
            struct st_batch_header h;
            ck_assert_int_eq(st_batch_validate(p + at, r.len - at, 64 << 20,
                                               &h), 0);
            ck_assert_int_ge(st_batch_last_offset(&h), off);
            off = st_batch_last_offset(&h) + 1;
            at += st_batch_total_bytes(&h);
            count++;
        }
        free(p);
        st_log_read_release(&r);
    }
    if (n_batches != NULL) {
        *n_batches = count;
    }
    return off;
}

static inline void tl_small_config(struct st_log_config *c)
{
    st_log_config_init(c);
    c->segment_bytes = 64 << 10;
    c->index_interval_bytes = 1024;
    c->retention_ms = -1;
}

#endif
