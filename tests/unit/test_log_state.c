/* broker/log state beside the segments: checkpoints, the leader-epoch
 * cache, idempotent producer state, the high watermark, retention. */
#include "broker/log/checkpoint.h"
#include "broker/log/epoch_cache.h"
#include "broker/log/index.h"
#include "broker/log/producer_state.h"
#include "test_log_util.h"

static struct {
    struct st_vfs *vfs;
    struct st_log *log;
    struct st_log_config conf;
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(st_vfs_mem_new(3, &f.vfs), 0);
    tl_small_config(&f.conf);
}

static void teardown(void)
{
    st_log_close(f.log);
    st_vfs_mem_free(f.vfs);
}

static void open_log(void)
{
    ck_assert_int_eq(st_log_open(f.vfs, "/p", &f.conf, 1000, &f.log), 0);
}

static void reopen(bool crash)
{
    if (crash) {
        st_vfs_mem_crash(f.vfs, ST_VFS_CRASH_DROP_ALL);
        st_log_abandon(f.log);
    } else {
        st_log_close(f.log);
    }
    f.log = NULL;
    open_log();
}

/* ---- checkpoints ---- */

START_TEST(test_checkpoint_round_trips_and_refuses_damage)
{
    ck_assert_int_eq(st_vfs_mkdir(f.vfs, "/c"), 0);
    ck_assert_int_eq(st_checkpoint_write_i64(f.vfs, "/c/hw", ST_CHECKPOINT_HW,
                                             1234567890123ll),
                     0);
    int64_t v;
    ck_assert_int_eq(st_checkpoint_read_i64(f.vfs, "/c/hw", ST_CHECKPOINT_HW,
                                            &v),
                     0);
    ck_assert_int_eq(v, 1234567890123ll);
    /* Read as the wrong kind, it is corrupt; */
    ck_assert_int_eq(st_checkpoint_read_i64(f.vfs, "/c/hw",
                                            ST_CHECKPOINT_LOG_START, &v),
                     ST_ECORRUPT);
    /* a flipped byte fails the CRC; a missing file is ST_ENOENT. */
    struct st_file *fl;
    ck_assert_int_eq(st_vfs_open(f.vfs, "/c/hw", 0, &fl), 0);
    uint8_t x = 0x77;
    ck_assert_int_eq(st_vfs_pwrite(fl, &x, 1, 14), 0);
    st_vfs_close(fl);
    ck_assert_int_eq(st_checkpoint_read_i64(f.vfs, "/c/hw", ST_CHECKPOINT_HW,
                                            &v),
                     ST_ECORRUPT);
    ck_assert_int_eq(st_checkpoint_read_i64(f.vfs, "/c/no", ST_CHECKPOINT_HW,
                                            &v),
                     ST_ENOENT);
}
END_TEST

START_TEST(test_decoders_survive_random_bytes)
{
    /* Checkpoint payloads and index files come from disk: random bytes of
     * random length are refused or accepted, never read out of bounds. */
    uint64_t rng = 99;
    uint8_t buf[512];
    struct st_epoch_cache c;
    struct st_producer_state ps;
    struct st_offset_index ix;
    struct st_time_index tx;
    st_epoch_cache_init(&c);
    st_producer_state_init(&ps);
    st_offset_index_init(&ix);
    st_time_index_init(&tx);
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(st_test_rand(&rng) % sizeof buf);
        for (size_t j = 0; j < len; j++) {
            buf[j] = (uint8_t)st_test_rand(&rng);
        }
        if (i % 3 == 0 && len >= 12) {
            /* plausible counts, to get past the first checks */
            st_put_be32(buf, (uint32_t)(st_test_rand(&rng) % 8));
            st_put_be32(buf + 8, (uint32_t)(st_test_rand(&rng) % 8));
        }
        int64_t upto;
        struct st_bytes pl;
        int rv = st_epoch_cache_decode(&c, buf, len);
        ck_assert(rv == 0 || rv == ST_ECORRUPT);
        rv = st_producer_state_decode(&ps, buf, len, &upto);
        ck_assert(rv == 0 || rv == ST_ECORRUPT);
        rv = st_offset_index_decode(&ix, buf, len, 1 << 20);
        ck_assert(rv == 0 || rv == ST_ECORRUPT);
        rv = st_time_index_decode(&tx, buf, len, 1 << 20);
        ck_assert(rv == 0 || rv == ST_ECORRUPT);
        rv = st_checkpoint_decode(ST_CHECKPOINT_HW, buf, len, &pl);
        ck_assert(rv == 0 || rv == ST_ECORRUPT);
    }
    st_epoch_cache_close(&c);
    st_producer_state_close(&ps);
    st_offset_index_close(&ix);
    st_time_index_close(&tx);
}
END_TEST

/* ---- epoch cache ---- */

START_TEST(test_epoch_cache_answers_end_offsets_and_truncates)
{
    struct st_epoch_cache c;
    int32_t e;
    int64_t end;
    st_epoch_cache_init(&c);
    st_epoch_cache_end_offset(&c, 5, 100, &e, &end);
    ck_assert_int_eq(e, -1);
    /* Given epochs 1@0, 3@10, 4@25, */
    st_epoch_cache_assign(&c, 1, 0);
    st_epoch_cache_assign(&c, 1, 5); /* same epoch: no change */
    st_epoch_cache_assign(&c, 3, 10);
    st_epoch_cache_assign(&c, 2, 12); /* stale: ignored */
    st_epoch_cache_assign(&c, 4, 25);
    ck_assert_uint_eq(c.n, 3);
    /* epoch 2 (unknown) ends where epoch 1 ended, at 10; */
    st_epoch_cache_end_offset(&c, 2, 40, &e, &end);
    ck_assert_int_eq(e, 1);
    ck_assert_int_eq(end, 10);
    /* the latest epoch ends at the log end. */
    st_epoch_cache_end_offset(&c, 4, 40, &e, &end);
    ck_assert_int_eq(e, 4);
    ck_assert_int_eq(end, 40);
    st_epoch_cache_end_offset(&c, 0, 40, &e, &end);
    ck_assert_int_eq(e, -1);
    ck_assert_int_eq(end, -1);
    /* Truncating the log to 20 drops epoch 4; the start moving to 12
     * drops epoch 1 and clamps epoch 3's start. */
    st_epoch_cache_truncate_end(&c, 20);
    ck_assert_int_eq(st_epoch_cache_latest(&c), 3);
    st_epoch_cache_truncate_start(&c, 12);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_int_eq(c.e[0].start_offset, 12);
    /* A new epoch at an offset at or below the latest start replaces it. */
    st_epoch_cache_assign(&c, 6, 12);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_int_eq(c.e[0].epoch, 6);
    struct st_buf b;
    st_buf_init(&b);
    ck_assert_int_eq(st_epoch_cache_encode(&c, &b), 0);
    struct st_epoch_cache d;
    st_epoch_cache_init(&d);
    ck_assert_int_eq(st_epoch_cache_decode(&d, b.base, b.len), 0);
    ck_assert_int_eq(d.e[0].epoch, 6);
    ck_assert_int_eq(st_epoch_cache_decode(&d, b.base, b.len - 1),
                     ST_ECORRUPT);
    st_buf_close(&b);
    st_epoch_cache_close(&d);
    st_epoch_cache_close(&c);
}
END_TEST

START_TEST(test_epoch_cache_survives_crash_and_is_rebuilt_past_checkpoint)
{
    open_log();
    uint8_t *b;
    size_t len = tl_batch(2, 10, 1, &b);
    struct st_log_append_info info;
    uint8_t *ep_old = NULL, *ps_old = NULL;
    size_t ep_len = 0, ps_len = 0;
    for (int epoch = 1; epoch <= 5; epoch++) {
        ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_LEADER,
                                       epoch, 1, &info), 0);
        if (epoch == 3) {
            /* Checkpoints now cover epochs 1..3. */
            ck_assert_int_eq(st_log_flush(f.log), 0);
            ck_assert_int_eq(st_vfs_read_all(f.vfs,
                                             "/p/leader-epoch-checkpoint",
                                             &ep_old, &ep_len), 0);
            ck_assert_int_eq(st_vfs_read_all(f.vfs, "/p/producer-state",
                                             &ps_old, &ps_len), 0);
        }
    }
    ck_assert_int_eq(st_log_flush(f.log), 0);
    /* Given the log synced up to epoch 5 but the checkpoints as they were
     * at epoch 3 (a crash between the data fsync and the checkpoints), */
    st_log_abandon(f.log);
    f.log = NULL;
    ck_assert_int_eq(st_vfs_write_atomic(f.vfs, "/p/leader-epoch-checkpoint",
                                         ep_old, ep_len), 0);
    ck_assert_int_eq(st_vfs_write_atomic(f.vfs, "/p/producer-state", ps_old,
                                         ps_len), 0);
    st_vfs_mem_crash(f.vfs, ST_VFS_CRASH_DROP_ALL);
    /* the reopened log knows every epoch again. */
    open_log();
    ck_assert_int_eq(st_epoch_cache_latest(st_log_epochs(f.log)), 5);
    int32_t e;
    int64_t end;
    st_epoch_cache_end_offset(st_log_epochs(f.log), 3, 0, &e, &end);
    ck_assert_int_eq(end, 6);
    /* And without any checkpoint it is rebuilt from the whole log. */
    st_log_abandon(f.log);
    f.log = NULL;
    ck_assert_int_eq(st_vfs_unlink(f.vfs, "/p/leader-epoch-checkpoint"), 0);
    open_log();
    ck_assert_uint_eq(st_log_epochs(f.log)->n, 5);
    st_free(ep_old);
    st_free(ps_old);
    free(b);
}
END_TEST

/* ---- producer state ---- */

static struct st_batch_header pbatch(int64_t pid, int16_t epoch, int32_t seq,
                                     int32_t n, int64_t base)
{
    struct st_batch_header h;
    memset(&h, 0, sizeof h);
    h.producer_id = pid;
    h.producer_epoch = epoch;
    h.base_sequence = seq;
    h.last_offset_delta = n - 1;
    h.base_offset = base;
    return h;
}

START_TEST(test_producer_state_dedups_fences_and_orders)
{
    struct st_producer_state ps;
    int64_t a, b;
    st_producer_state_init(&ps);
    struct st_batch_header h = pbatch(7, 0, 0, 3, 100);
    /* An unknown producer may start anywhere, */
    ck_assert_int_eq(st_producer_state_check(&ps, &h, &a, &b), 0);
    st_producer_state_update(&ps, &h);
    /* the same batch again is a duplicate with the original offsets, */
    h.base_offset = 555;
    ck_assert_int_eq(st_producer_state_check(&ps, &h, &a, &b), 1);
    ck_assert_int_eq(a, 100);
    ck_assert_int_eq(b, 102);
    /* a gap in sequence is out of order, the next one is fine, */
    h = pbatch(7, 0, 5, 1, 103);
    ck_assert_int_eq(st_producer_state_check(&ps, &h, &a, &b), ST_ERANGE);
    h = pbatch(7, 0, 3, 1, 103);
    ck_assert_int_eq(st_producer_state_check(&ps, &h, &a, &b), 0);
    st_producer_state_update(&ps, &h);
    /* an older epoch is fenced, a newer one must start at 0. */
    h = pbatch(7, -1, 4, 1, 104);
    ck_assert_int_eq(st_producer_state_check(&ps, &h, &a, &b), ST_EFENCED);
    h = pbatch(7, 1, 4, 1, 104);
    ck_assert_int_eq(st_producer_state_check(&ps, &h, &a, &b), ST_ERANGE);
    /* Only the last 5 batches are remembered. */
    for (int i = 0; i < 7; i++) {
        h = pbatch(9, 0, i, 1, 200 + i);
        st_producer_state_update(&ps, &h);
    }
    h = pbatch(9, 0, 1, 1, 0);
    ck_assert_int_eq(st_producer_state_check(&ps, &h, &a, &b), ST_ERANGE);
    h = pbatch(9, 0, 3, 1, 0);
    ck_assert_int_eq(st_producer_state_check(&ps, &h, &a, &b), 1);
    /* Many producers survive an encode/decode and truncation. */
    for (int64_t pid = 100; pid < 400; pid++) {
        h = pbatch(pid, 2, 0, 1, 1000 + pid);
        st_producer_state_update(&ps, &h);
    }
    struct st_buf buf;
    st_buf_init(&buf);
    ck_assert_int_eq(st_producer_state_encode(&ps, 1400, &buf), 0);
    struct st_producer_state back;
    st_producer_state_init(&back);
    int64_t upto;
    ck_assert_int_eq(st_producer_state_decode(&back, buf.base, buf.len, &upto),
                     0);
    ck_assert_int_eq(upto, 1400);
    ck_assert_uint_eq(back.n, ps.n);
    ck_assert_ptr_nonnull(st_producer_state_find(&back, 399));
    st_producer_state_truncate(&back, 1200);
    ck_assert_ptr_null(st_producer_state_find(&back, 250));
    ck_assert_ptr_nonnull(st_producer_state_find(&back, 150));
    ck_assert_ptr_nonnull(st_producer_state_find(&back, 7));
    ck_assert_int_eq(st_producer_state_decode(&back, buf.base, buf.len - 3,
                                              &upto),
                     ST_ECORRUPT);
    st_buf_close(&buf);
    st_producer_state_close(&back);
    st_producer_state_close(&ps);
}
END_TEST

START_TEST(test_log_answers_retried_batch_with_original_offsets)
{
    open_log();
    tl_append(f.log, 4, 10, 1);
    uint8_t *b;
    size_t len = tl_batch_ex(3, 10, 1, 0, 0, 0, false, 42, 0, 0, &b);
    uint8_t *copy = malloc(len);
    memcpy(copy, b, len);
    struct st_log_append_info info;
    ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_LEADER, 1, 1,
                                   &info), 0);
    ck_assert_int_eq(info.base_offset, 4);
    ck_assert(!info.duplicate);
    /* A retry of the same producer batch writes nothing, */
    ck_assert_int_eq(st_log_append(f.log, copy, len, ST_LOG_APPEND_LEADER, 1,
                                   1, &info), 0);
    ck_assert(info.duplicate);
    ck_assert_int_eq(info.base_offset, 4);
    ck_assert_int_eq(info.last_offset, 6);
    ck_assert_int_eq(st_log_end_offset(f.log), 7);
    /* and the state is rebuilt after a crash before any checkpoint. */
    reopen(false);
    ck_assert_int_eq(st_log_append(f.log, copy, len, ST_LOG_APPEND_LEADER, 1,
                                   1, &info), 0);
    ck_assert(info.duplicate);
    ck_assert_int_eq(info.base_offset, 4);
    free(b);
    free(copy);
    /* A batch from a stale producer epoch is fenced. */
    len = tl_batch_ex(1, 10, 1, 0, 0, 0, false, 42, -1, 3, &b);
    ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_LEADER, 1, 1,
                                   &info), ST_EFENCED);
    free(b);
}
END_TEST

START_TEST(test_high_watermark_is_checkpointed_by_flush)
{
    open_log();
    ck_assert_int_eq(st_log_high_watermark(f.log), -1);
    tl_append(f.log, 4, 10, 1);
    st_log_set_high_watermark(f.log, 4);
    ck_assert_int_eq(st_log_flush(f.log), 0);
    st_log_set_high_watermark(f.log, 5); /* not flushed: lost on a crash */
    reopen(true);
    ck_assert_int_eq(st_log_high_watermark(f.log), 4);
}
END_TEST

/* ---- retention ---- */

static int run_retention(int64_t now, int64_t hw)
{
    struct st_log_retention_job *job;
    int rv = st_log_retention_begin(f.log, now, hw, &job);
    if (rv != 0) {
        return rv;
    }
    st_log_retention_run(job);
    return st_log_retention_done(f.log, job);
}

START_TEST(test_retention_by_time_deletes_old_segments_only)
{
    f.conf.retention_ms = 10000;
    open_log();
    /* Given segments written at t=1000.., then some at t=50000, */
    for (int i = 0; i < 200; i++) {
        tl_append(f.log, 1, 1000, i < 150 ? 1000 + i : 50000);
    }
    size_t nseg = st_log_segment_count(f.log);
    ck_assert_uint_ge(nseg, 3);
    /* nothing is due while everything is young, */
    ck_assert_int_eq(run_retention(5000, INT64_MAX), 1);
    /* at t=55000 the old segments go, never the active one, */
    ck_assert_int_eq(run_retention(55000, INT64_MAX), 0);
    ck_assert_uint_lt(st_log_segment_count(f.log), nseg);
    ck_assert_uint_ge(st_log_segment_count(f.log), 1);
    int64_t start = st_log_start_offset(f.log);
    ck_assert_int_gt(start, 0);
    ck_assert_int_le(start, 150);
    /* reads below the start are out of range, at it they work, */
    struct st_log_read_result r;
    ck_assert_int_eq(st_log_read(f.log, 0, INT64_MAX, 10, &r), ST_ERANGE);
    ck_assert_int_eq(st_log_read(f.log, start, INT64_MAX, 10, &r), 0);
    ck_assert_int_eq(r.first_offset, start);
    st_log_read_release(&r);
    /* and the start survives a power loss. */
    ck_assert_int_eq(st_log_flush(f.log), 0);
    reopen(true);
    ck_assert_int_eq(st_log_start_offset(f.log), start);
    ck_assert_int_eq(tl_scan_all(f.log, start, NULL), 200);
}
END_TEST

START_TEST(test_retention_by_size_stops_at_hw_and_active_segment)
{
    f.conf.retention_bytes = 100000;
    open_log();
    for (int i = 0; i < 400; i++) {
        tl_append(f.log, 1, 1000, 1000);
    }
    ck_assert_uint_gt(st_log_size_bytes(f.log), 300000);
    /* Segments holding offsets at or past the HW are kept, */
    ck_assert_int_eq(run_retention(2000, 10), 1);
    ck_assert_int_eq(st_log_start_offset(f.log), 0);
    /* below it, the log shrinks to about retention_bytes. */
    ck_assert_int_eq(run_retention(2000, INT64_MAX), 0);
    ck_assert_uint_le(st_log_size_bytes(f.log), 100000 + (64 << 10));
    ck_assert_uint_ge(st_log_size_bytes(f.log), 100000);
    ck_assert_int_eq(tl_scan_all(f.log, st_log_start_offset(f.log), NULL),
                     400);
    /* A read that pins a doomed segment keeps its bytes readable. */
    f.conf.retention_bytes = 1;
    reopen(false);
    struct st_log_read_result r;
    int64_t start = st_log_start_offset(f.log);
    ck_assert_int_eq(st_log_read(f.log, start, INT64_MAX, 100, &r), 0);
    ck_assert_int_eq(run_retention(2000, INT64_MAX), 0);
    ck_assert_uint_eq(st_log_segment_count(f.log), 1);
    uint8_t *p = tl_slurp(&r);
    struct st_batch_header h;
    ck_assert_int_eq(st_batch_validate(p, r.len, 1 << 20, &h), 0);
    free(p);
    st_log_read_release(&r);
}
END_TEST

START_TEST(test_retention_with_compact_only_policy_deletes_nothing)
{
    f.conf.retention_bytes = 1;
    f.conf.cleanup_policy = ST_LOG_CLEANUP_COMPACT;
    open_log();
    for (int i = 0; i < 200; i++) {
        tl_append(f.log, 1, 1000, 1000);
    }
    ck_assert_int_eq(run_retention(2000, INT64_MAX), 1);
    ck_assert_int_eq(st_log_start_offset(f.log), 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("log_state");
    TCase *tc = tcase_create("state");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_checkpoint_round_trips_and_refuses_damage);
    tcase_add_test(tc, test_decoders_survive_random_bytes);
    tcase_add_test(tc, test_epoch_cache_answers_end_offsets_and_truncates);
    tcase_add_test(tc,
                   test_epoch_cache_survives_crash_and_is_rebuilt_past_checkpoint);
    tcase_add_test(tc, test_producer_state_dedups_fences_and_orders);
    tcase_add_test(tc, test_log_answers_retried_batch_with_original_offsets);
    tcase_add_test(tc, test_high_watermark_is_checkpointed_by_flush);
    tcase_add_test(tc, test_retention_by_time_deletes_old_segments_only);
    tcase_add_test(tc, test_retention_by_size_stops_at_hw_and_active_segment);
    tcase_add_test(tc, test_retention_with_compact_only_policy_deletes_nothing);
    suite_add_tcase(s, tc);
    return s;
}
