/* broker/log compaction: latest record per key, tombstones, offsets kept,
 * atomic swap, bounded memory. */
#include "test_log_util.h"

#define KEYS 1000
#define ROUNDS 100
#define PER_BATCH 100
#define TOMBSTONE_ROUND 90

static struct {
    struct st_vfs *vfs;
    struct st_log *log;
    struct st_log_config conf;
    struct st_batch_builder *bld;
    struct st_record_iter *it;
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(st_vfs_mem_new(5, &f.vfs), 0);
    tl_small_config(&f.conf);
    f.conf.segment_bytes = 256 << 10;
    f.conf.cleanup_policy = ST_LOG_CLEANUP_COMPACT;
    f.conf.delete_retention_ms = 1000;
    ck_assert_int_eq(st_batch_builder_new(&f.bld), 0);
    ck_assert_int_eq(st_record_iter_new(&f.it), 0);
}

static void teardown(void)
{
    st_log_close(f.log);
    st_vfs_mem_free(f.vfs);
    st_batch_builder_free(f.bld);
    st_record_iter_free(f.it);
}

/* Record number @n (its offset too) of the workload: key n % KEYS in round
 * n / KEYS; keys divisible by 10 get a tombstone in TOMBSTONE_ROUND and
 * are not written after it. Returns false when the record is skipped. */
static bool record_for(int64_t round, int key, bool *tombstone)
{
    *tombstone = round == TOMBSTONE_ROUND && key % 10 == 0;
    return !(round > TOMBSTONE_ROUND && key % 10 == 0);
}

/* Write the workload: 100,000 records (fewer after the tombstones) with the
 * value of each holding its own offset. */
static int64_t write_workload(void)
{
    int64_t off = 0;
    struct st_batch_builder_opts o = {.codec = ST_CODEC_NONE,
                                      .producer_id = -1,
                                      .base_sequence = -1,
                                      .leader_epoch = -1};
    for (int64_t round = 0; round < ROUNDS; round++) {
        for (int k0 = 0; k0 < KEYS; k0 += PER_BATCH) {
            st_batch_builder_reset(f.bld, &o);
            for (int k = k0; k < k0 + PER_BATCH; k++) {
                bool tomb;
                if (!record_for(round, k, &tomb)) {
                    continue;
                }
                char key[16];
                uint8_t val[24] = {0};
                int64_t tag = off + st_batch_builder_count(f.bld);
                memcpy(val, &tag, 8);
                int kl = snprintf(key, sizeof key, "k%d", k);
                ck_assert_int_eq(st_batch_builder_add(f.bld, round * 1000,
                                                      (uint8_t *)key,
                                                      (size_t)kl,
                                                      tomb ? NULL : val,
                                                      sizeof val, NULL, 0),
                                 0);
            }
            struct st_bytes v;
            ck_assert_int_eq(st_batch_builder_finish(f.bld, &v), 0);
            uint8_t *b = malloc(v.len);
            memcpy(b, v.base, v.len);
            struct st_log_append_info info;
            ck_assert_int_eq(st_log_append(f.log, b, v.len,
                                           ST_LOG_APPEND_LEADER, 1,
                                           round * 1000, &info),
                             0);
            ck_assert_int_eq(info.base_offset, off);
            off = info.last_offset + 1;
            free(b);
        }
    }
    return off;
}

/* Read the whole partition like a consumer: fold into latest[key] (the
 * offset of the latest live value, -1 when absent or deleted), checking
 * every record's value names its own offset. *records counts them. */
static void fold_partition(int64_t *latest, int64_t *records,
                           int64_t *tombstones)
{
    for (int k = 0; k < KEYS; k++) {
        latest[k] = -1;
    }
    *records = 0;
    *tombstones = 0;
    int64_t off = st_log_start_offset(f.log);
    int64_t prev = -1;
    for (;;) {
        struct st_log_read_result r;
        ck_assert_int_eq(st_log_read(f.log, off, INT64_MAX, 1 << 20, &r), 0);
        if (r.len == 0) {
            break;
        }
        uint8_t *p = tl_slurp(&r);
        for (size_t at = 0; at < r.len;) {
            struct st_batch_header h;
            ck_assert_int_eq(st_batch_validate(p + at, r.len - at, 1 << 24,
                                               &h), 0);
            ck_assert_int_eq(st_record_iter_init(f.it, p + at,
                                                 st_batch_total_bytes(&h),
                                                 1 << 24), 0);
            struct st_record rec;
            while (st_record_iter_next(f.it, &rec) == 0) {
                if (rec.offset <= prev) {
                    ck_abort_msg("offset %lld after %lld",
                                 (long long)rec.offset, (long long)prev);
                }
                prev = rec.offset;
                int k = 0;
                for (int32_t i = 1; i < rec.key_len; i++) {
                    k = k * 10 + (rec.key[i] - '0');
                }
                ck_assert_int_lt(k, KEYS);
                if (rec.value == NULL) {
                    latest[k] = -1;
                    (*tombstones)++;
                } else {
                    int64_t tag;
                    memcpy(&tag, rec.value, 8);
                    if (tag != rec.offset) { /* offsets unchanged */
                        ck_abort_msg("record at %lld says %lld",
                                     (long long)rec.offset, (long long)tag);
                    }
                    latest[k] = rec.offset;
                }
                (*records)++;
            }
            at += st_batch_total_bytes(&h);
        }
        off = r.next_offset;
        free(p);
        st_log_read_release(&r);
    }
}

/* Clean as the flusher does: rolled segments are flushed promptly, and
 * only synced segments below the recovery point are cleaned. */
static int clean(int64_t now, int64_t hw)
{
    struct st_log_clean_job *job;
    ck_assert_int_eq(st_log_flush(f.log), 0);
    int rv = st_log_clean_begin(f.log, now, hw, &job);
    if (rv != 0) {
        return rv;
    }
    st_log_clean_run(job);
    return st_log_clean_done(f.log, job);
}

START_TEST(test_compaction_keeps_latest_value_per_live_key)
{
    ck_assert_int_eq(st_log_open(f.vfs, "/t", &f.conf, 1000, &f.log), 0);
    int64_t end = write_workload();
    ck_assert_int_eq(end, 100000 - (ROUNDS - 1 - TOMBSTONE_ROUND) * 100);
    int64_t want[KEYS], got[KEYS], n_before, n_after, tombs;
    fold_partition(want, &n_before, &tombs);
    ck_assert_int_eq(n_before, end);
    uint64_t bytes_before = st_log_size_bytes(f.log);
    size_t nseg = st_log_segment_count(f.log);
    ck_assert_uint_ge(nseg, 5);
    /* When the cleaner runs long after the tombstones were written, */
    ck_assert_int_eq(clean(1000000, end), 0);
    /* a consumer still ends with exactly the latest value per live key, */
    fold_partition(got, &n_after, &tombs);
    for (int k = 0; k < KEYS; k++) {
        ck_assert_msg(got[k] == want[k], "key %d: %lld != %lld", k,
                      (long long)got[k], (long long)want[k]);
        ck_assert_int_eq(want[k] < 0, k % 10 == 0);
    }
    /* the cleaned segments hold at most one record per key, so the record
     * count and disk use drop accordingly (all but the active segment), */
    int64_t active_records = end - 1; /* bounded by what is left active */
    (void)active_records;
    ck_assert_int_lt(n_after, n_before / 5);
    uint64_t bytes_after = st_log_size_bytes(f.log);
    ck_assert_uint_lt(bytes_after, bytes_before / 5);
    ck_assert_uint_eq(st_log_segment_count(f.log), nseg);
    /* the log end is unchanged, */
    ck_assert_int_eq(st_log_end_offset(f.log), end);
    /* and it all survives a power loss after the swap. */
    ck_assert_int_eq(st_log_flush(f.log), 0);
    st_vfs_mem_crash(f.vfs, ST_VFS_CRASH_RANDOM);
    st_log_abandon(f.log);
    ck_assert_int_eq(st_log_open(f.vfs, "/t", &f.conf, 1000, &f.log), 0);
    int64_t again[KEYS];
    fold_partition(again, &n_after, &tombs);
    ck_assert_mem_eq(again, got, sizeof got);
    /* A second pass changes nothing a consumer sees, and appends
     * continue at the end. */
    ck_assert_int_eq(clean(1000000, end), 0);
    fold_partition(again, &n_after, &tombs);
    ck_assert_mem_eq(again, got, sizeof got);
    ck_assert_int_eq(tl_append(f.log, 1, 8, 200000), end);
}
END_TEST

START_TEST(test_young_tombstones_are_kept)
{
    ck_assert_int_eq(st_log_open(f.vfs, "/t", &f.conf, 1000, &f.log), 0);
    int64_t end = write_workload();
    int64_t got[KEYS], n, tombs;
    /* Given the cleaner running right after the tombstones were written, */
    ck_assert_int_eq(clean(TOMBSTONE_ROUND * 1000 + 10, end), 0);
    /* they stay (once per deleted key) so consumers see the deletes. */
    fold_partition(got, &n, &tombs);
    ck_assert_int_eq(tombs, KEYS / 10);
    for (int k = 0; k < KEYS; k++) {
        ck_assert_int_eq(got[k] < 0, k % 10 == 0);
    }
}
END_TEST

START_TEST(test_cleaner_bounded_by_dedupe_buffer_and_hw)
{
    /* A map too small for one segment's keys cleans nothing, safely. */
    f.conf.dedupe_buffer_bytes = 1024 * 24;
    ck_assert_int_eq(st_log_open(f.vfs, "/t", &f.conf, 1000, &f.log), 0);
    int64_t end = write_workload();
    uint64_t before = st_log_size_bytes(f.log);
    ck_assert_int_eq(clean(1000000, end), 0);
    ck_assert_uint_eq(st_log_size_bytes(f.log), before);
    /* Nothing is cleaned above the HW (only segments wholly below it). */
    st_log_close(f.log);
    f.conf.dedupe_buffer_bytes = 8 << 20;
    ck_assert_int_eq(st_log_open(f.vfs, "/t", &f.conf, 1000, &f.log), 0);
    ck_assert_int_eq(clean(1000000, 10), 1);
    /* A delete-only log is never compacted. */
    st_log_close(f.log);
    f.conf.cleanup_policy = ST_LOG_CLEANUP_DELETE;
    ck_assert_int_eq(st_log_open(f.vfs, "/t", &f.conf, 1000, &f.log), 0);
    ck_assert_int_eq(clean(1000000, end), 1);
}
END_TEST

START_TEST(test_interrupted_compaction_leaves_old_segment)
{
    ck_assert_int_eq(st_log_open(f.vfs, "/t", &f.conf, 1000, &f.log), 0);
    int64_t end = write_workload();
    int64_t want[KEYS], got[KEYS], n, tombs;
    fold_partition(want, &n, &tombs);
    ck_assert_int_eq(st_log_flush(f.log), 0);
    /* Given a cleaner that wrote its copies but lost power before the
     * swap, */
    struct st_log_clean_job *job;
    ck_assert_int_eq(st_log_clean_begin(f.log, 1000000, end, &job), 0);
    st_log_clean_run(job);
    st_vfs_mem_crash(f.vfs, ST_VFS_CRASH_RANDOM);
    st_log_clean_done(f.log, job); /* the swap fails on a dead disk */
    st_log_abandon(f.log);
    /* the reopened log has the old segments and no stray .cleaned. */
    ck_assert_int_eq(st_log_open(f.vfs, "/t", &f.conf, 1000, &f.log), 0);
    ck_assert_int_eq(st_log_end_offset(f.log), end);
    fold_partition(got, &n, &tombs);
    ck_assert_mem_eq(got, want, sizeof got);
    char **names;
    size_t nn;
    ck_assert_int_eq(st_vfs_list(f.vfs, "/t", &names, &nn), 0);
    for (size_t i = 0; i < nn; i++) {
        ck_assert_ptr_null(strstr(names[i], ".cleaned"));
    }
    st_vfs_names_free(names, nn);
}
END_TEST

START_TEST(test_swap_waits_for_a_running_flush)
{
    ck_assert_int_eq(st_log_open(f.vfs, "/t", &f.conf, 1000, &f.log), 0);
    int64_t end = write_workload();
    int64_t want[KEYS], got[KEYS], n, tombs;
    fold_partition(want, &n, &tombs);
    ck_assert_int_eq(st_log_flush(f.log), 0);
    struct st_log_clean_job *job;
    ck_assert_int_eq(st_log_clean_begin(f.log, 1000000, end, &job), 0);
    st_log_clean_run(job);
    /* Given a flush job in flight (it may be writing index files of the
     * segments being replaced), */
    st_log_set_high_watermark(f.log, end); /* something to flush */
    struct st_log_flush_job *fj;
    ck_assert_int_eq(st_log_flush_begin(f.log, &fj), 0);
    /* the swap waits, */
    ck_assert_int_eq(st_log_clean_done(f.log, job), 1);
    st_log_flush_run(fj);
    ck_assert_int_eq(st_log_flush_done(f.log, fj), 0);
    /* and happens once the flush is done. */
    ck_assert_int_eq(st_log_clean_done(f.log, job), 0);
    fold_partition(got, &n, &tombs);
    ck_assert_mem_eq(got, want, sizeof got);
    ck_assert_int_lt(n, end / 5);
    /* Index files left without their .log are removed at open. */
    st_log_close(f.log);
    struct st_file *x;
    ck_assert_int_eq(st_vfs_open(f.vfs, "/t/00000000000000999999.index",
                                 ST_VFS_CREATE, &x), 0);
    st_vfs_close(x);
    ck_assert_int_eq(st_log_open(f.vfs, "/t", &f.conf, 1000, &f.log), 0);
    ck_assert_int_eq(st_vfs_stat(f.vfs, "/t/00000000000000999999.index",
                                 NULL), ST_ENOENT);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("log_compact");
    TCase *tc = tcase_create("compact");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_compaction_keeps_latest_value_per_live_key);
    tcase_add_test(tc, test_young_tombstones_are_kept);
    tcase_add_test(tc, test_cleaner_bounded_by_dedupe_buffer_and_hw);
    tcase_add_test(tc, test_interrupted_compaction_leaves_old_segment);
    tcase_add_test(tc, test_swap_waits_for_a_running_flush);
    suite_add_tcase(s, tc);
    return s;
}
