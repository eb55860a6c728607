/* A hosted partition with replication factor 1: the high watermark follows
 * durability, acks=all waiters complete on it, losing leadership fails
 * them, and a closed partition reopens with its records. Runs a real
 * libevent loop and one disk thread (bounded waits). */
#include <event2/event.h>
#include <string.h>

#include "broker/partition.h"
#include "common/batch.h"
#include "common/err.h"
#include "common/jobq.h"
#include "common/vfs.h"
#include "controller/metadata.h"
#include "test_util.h"

static struct {
    char dir[256];
    struct event_base *base;
    struct st_jobq *q;
    struct st_partition *p;
    int hw_calls;
    int done_status;
    bool done;
    uint8_t batch[4096];
    size_t batch_len;
} f;

static const uint8_t topic_id[ST_META_UUID_LEN] = {1, 2, 3};

static void hw_advanced(void *arg, struct st_partition *p)
{
    f.hw_calls++;
}

static void waiter_done(struct st_partition_waiter *w, int status)
{
    f.done = true;
    f.done_status = status;
}

static int open_partition(enum st_log_flush_policy policy)
{
    struct st_partition_config pc = {0};
    pc.base = f.base;
    pc.jobq = f.q;
    pc.vfs = st_vfs_posix();
    pc.dir = f.dir;
    pc.topic = "t";
    pc.topic_id = topic_id;
    pc.index = 0;
    pc.node_id = 1;
    pc.lane = 0;
    st_log_config_init(&pc.log);
    pc.log.flush_policy = policy;
    pc.hw_advanced = hw_advanced;
    return st_partition_open(&pc, 1000, &f.p);
}

static void lead(int32_t leader, int32_t epoch)
{
    int32_t replicas[1] = {1}, isr[1] = {1};
    struct st_meta_partition mp = {replicas, 1, isr, 1, leader, epoch, 0};
    st_partition_update(f.p, &mp, 1);
}

static void make_batch(int n)
{
    struct st_batch_builder *bb;
    ck_assert_int_eq(st_batch_builder_new(&bb), 0);
    struct st_batch_builder_opts o = {ST_CODEC_NONE, 0, -1, -1, -1, -1};
    st_batch_builder_reset(bb, &o);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(st_batch_builder_add(bb, 1000 + i, NULL, 0,
                                              (const uint8_t *)"value", 5,
                                              NULL, 0), 0);
    }
    struct st_bytes out;
    ck_assert_int_eq(st_batch_builder_finish(bb, &out), 0);
    ck_assert_uint_le(out.len, sizeof f.batch);
    memcpy(f.batch, out.base, out.len);
    f.batch_len = out.len;
    st_batch_builder_free(bb);
}

static void run_until_done(void)
{
    for (int i = 0; i < 1000 && !f.done; i++) {
        struct timeval tv = {0, 10000};
        event_base_loopexit(f.base, &tv);
        event_base_dispatch(f.base);
    }
    ck_assert_msg(f.done, "the waiter never completed");
}

static void setup(void)
{
    memset(&f, 0, sizeof f);
    st_test_tmpdir(f.dir, sizeof f.dir);
    ck_assert_int_eq(st_jobq_threads_init(), 0);
    f.base = event_base_new();
    ck_assert_int_eq(st_jobq_new(f.base, 1, &f.q), 0);
}

static void teardown(void)
{
    st_partition_close(f.p, false);
    st_jobq_free(f.q);
    event_base_free(f.base);
    st_test_rmdir(f.dir);
}

START_TEST(test_acks_all_waiter_completes_once_fsynced)
{
    /* Given a leader under the batch flush policy, */
    ck_assert_int_eq(open_partition(ST_LOG_FLUSH_BATCH), 0);
    lead(1, 3);
    ck_assert(st_partition_is_leader(f.p));
    /* when 10 records are appended, */
    make_batch(10);
    struct st_log_append_info info;
    ck_assert_int_eq(st_partition_append(f.p, f.batch, f.batch_len, 2000,
                                         &info), 0);
    ck_assert_int_eq(info.base_offset, 0);
    ck_assert_int_eq(info.last_offset, 9);
    /* the HW waits for the group commit, */
    ck_assert_int_eq(st_partition_hw(f.p), 0);
    struct st_partition_waiter w = {.offset = 10, .done = waiter_done};
    st_partition_wait(f.p, &w);
    /* and the waiter completes once it ran. */
    run_until_done();
    ck_assert_int_eq(f.done_status, 0);
    ck_assert_int_eq(st_partition_hw(f.p), 10);
    ck_assert_int_ge(f.hw_calls, 1);
    ck_assert_int_eq(st_partition_leader_epoch(f.p), 3);
}
END_TEST

START_TEST(test_losing_leadership_fails_waiters_and_refuses_appends)
{
    ck_assert_int_eq(open_partition(ST_LOG_FLUSH_BATCH), 0);
    lead(1, 3);
    struct st_partition_waiter w = {.offset = 1000, .done = waiter_done};
    st_partition_wait(f.p, &w);
    /* When the metadata moves the leadership elsewhere, */
    lead(2, 4);
    /* the waiter fails at once and appends are refused. */
    ck_assert(f.done);
    ck_assert_int_eq(f.done_status, ST_ENOTLEADER);
    ck_assert(!st_partition_is_leader(f.p));
    make_batch(1);
    struct st_log_append_info info;
    ck_assert_int_eq(st_partition_append(f.p, f.batch, f.batch_len, 2000,
                                         &info), ST_ENOTLEADER);
}
END_TEST

START_TEST(test_page_cache_policy_moves_hw_at_append)
{
    ck_assert_int_eq(open_partition(ST_LOG_FLUSH_NONE), 0);
    lead(1, 0);
    make_batch(5);
    struct st_log_append_info info;
    ck_assert_int_eq(st_partition_append(f.p, f.batch, f.batch_len, 2000,
                                         &info), 0);
    ck_assert_int_eq(st_partition_hw(f.p), 5);
}
END_TEST

START_TEST(test_reopened_partition_keeps_records_and_hw)
{
    /* Given 2 x 10 records, closed cleanly, */
    ck_assert_int_eq(open_partition(ST_LOG_FLUSH_NONE), 0);
    lead(1, 0);
    struct st_log_append_info info;
    for (int i = 0; i < 2; i++) {
        make_batch(10);
        ck_assert_int_eq(st_partition_append(f.p, f.batch, f.batch_len, 2000,
                                             &info), 0);
    }
    ck_assert_int_eq(st_partition_close(f.p, false), 0);
    f.p = NULL;
    /* when reopened and leading again, */
    ck_assert_int_eq(open_partition(ST_LOG_FLUSH_BATCH), 0);
    ck_assert_int_eq(st_log_end_offset(st_partition_log(f.p)), 20);
    lead(1, 1);
    /* every record is below the HW again. */
    ck_assert_int_eq(st_partition_hw(f.p), 20);
}
END_TEST

START_TEST(test_close_with_remove_deletes_the_directory)
{
    ck_assert_int_eq(open_partition(ST_LOG_FLUSH_NONE), 0);
    ck_assert_int_eq(st_partition_close(f.p, true), 0);
    f.p = NULL;
    ck_assert_int_eq(st_vfs_stat(st_vfs_posix(), f.dir, NULL), ST_ENOENT);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("broker_partition");
    TCase *tc = tcase_create("broker_partition");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_acks_all_waiter_completes_once_fsynced);
    tcase_add_test(tc, test_losing_leadership_fails_waiters_and_refuses_appends);
    tcase_add_test(tc, test_page_cache_policy_moves_hw_at_append);
    tcase_add_test(tc, test_reopened_partition_keeps_records_and_hw);
    tcase_add_test(tc, test_close_with_remove_deletes_the_directory);
    suite_add_tcase(s, tc);
    return s;
}
