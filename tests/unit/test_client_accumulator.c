/* The producer's accumulator: batching by size and linger, in-flight
 * limits, ordered retries, expiry and the memory budget (QUEUE_FULL). */
#include <string.h>

#include "client/lib/accumulator.h"
#include "common/err.h"
#include "test_util.h"

static struct {
    struct cl_budget budget;
    struct cl_acc acc;
    struct cl_acc_part part;
} f;

static void setup_with(size_t batch_bytes, uint64_t linger_ms,
                       size_t budget_bytes, unsigned in_flight)
{
    memset(&f, 0, sizeof f);
    f.budget.limit = budget_bytes;
    struct cl_acc_opts o = {.batch_bytes = batch_bytes,
                            .linger_ms = linger_ms,
                            .queue_bytes_max = 1 << 30,
                            .queue_msgs_max = 1000000,
                            .max_in_flight = in_flight};
    cl_acc_init(&f.acc, &o, &f.budget);
    cl_acc_part_init(&f.part);
}

static void setup(void)
{
    setup_with(1000, 10, 1 << 20, 1);
}

static void teardown(void)
{
    struct cl_msg *m = cl_acc_purge(&f.part);
    while (m != NULL) {
        struct cl_msg *n = m->next;
        cl_acc_release(&f.acc, m);
        cl_msg_free(m);
        m = n;
    }
    ck_assert_uint_eq(f.budget.used, 0);
}

/* Append a record of @value_len bytes at @now; returns reserve's result. */
static int put(size_t value_len, uint64_t now, void *opaque)
{
    static uint8_t zeros[4096];
    struct cl_msg *m;
    ck_assert_int_eq(cl_msg_new("k", 1, zeros, value_len, true, NULL, 0, 0,
                                now, opaque, &m),
                     0);
    int rv = cl_acc_reserve(&f.acc, m);
    if (rv != 0) {
        cl_msg_free(m);
        return rv;
    }
    cl_acc_append(&f.part, m);
    return 0;
}

static void finish(struct cl_batch *b)
{
    cl_acc_done(&f.part, b);
    struct cl_msg *m = b->msgs;
    while (m != NULL) {
        struct cl_msg *n = m->next;
        cl_acc_release(&f.acc, m);
        cl_msg_free(m);
        m = n;
    }
    cl_batch_free(b);
}

START_TEST(test_batch_waits_for_linger_then_is_ready)
{
    uint64_t wake = UINT64_MAX;
    /* Given one small record at t=100 and linger 10 ms, */
    ck_assert_int_eq(put(10, 100, NULL), 0);
    /* it is not ready at t=105 and asks to be woken at t=110, */
    ck_assert(!cl_acc_ready(&f.acc, &f.part, 105, false, &wake));
    ck_assert_uint_eq(wake, 110);
    /* it is ready at t=110, or at once when flushing. */
    ck_assert(cl_acc_ready(&f.acc, &f.part, 110, false, &wake));
    ck_assert(cl_acc_ready(&f.acc, &f.part, 101, true, &wake));
}
END_TEST

START_TEST(test_full_batch_is_ready_before_linger_and_cut_at_batch_size)
{
    uint64_t wake = UINT64_MAX;
    /* Given records totalling over batch.size (1000 bytes of payload), */
    for (int i = 0; i < 12; i++) {
        ck_assert_int_eq(put(200, 100, NULL), 0);
    }
    /* the partition is ready at once, */
    ck_assert(cl_acc_ready(&f.acc, &f.part, 100, false, &wake));
    /* and a batch takes no more than batch.size worth of records. */
    struct cl_batch *b = cl_acc_drain(&f.acc, &f.part);
    ck_assert_uint_le(b->bytes, 1000);
    ck_assert_uint_gt(b->n, 0);
    ck_assert_uint_lt(b->n, 12);
    finish(b);
}
END_TEST

START_TEST(test_in_flight_limit_holds_the_next_batch)
{
    uint64_t wake = UINT64_MAX;
    ck_assert_int_eq(put(10, 0, NULL), 0);
    struct cl_batch *b = cl_acc_drain(&f.acc, &f.part);
    ck_assert_int_eq(put(10, 0, NULL), 0);
    /* With one batch in flight (limit 1) the next waits, */
    ck_assert(!cl_acc_ready(&f.acc, &f.part, 1000, true, &wake));
    finish(b);
    /* and goes once the first is done. */
    ck_assert(cl_acc_ready(&f.acc, &f.part, 1000, true, &wake));
}
END_TEST

START_TEST(test_retried_batch_goes_first_and_keeps_order)
{
    int tag[4];
    uint64_t wake = UINT64_MAX;
    setup_with(120, 0, 1 << 20, 5); /* one record per batch, 5 in flight */
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(put(10, 0, &tag[i]), 0);
    }
    struct cl_batch *b0 = cl_acc_drain(&f.acc, &f.part);
    struct cl_batch *b1 = cl_acc_drain(&f.acc, &f.part);
    /* Given batches 0 and 1 failed (1 first) and must be resent, */
    cl_acc_retry(&f.part, b1, 0, 50);
    cl_acc_retry(&f.part, b0, 0, 50);
    /* nothing leaves during the backoff, */
    ck_assert(!cl_acc_ready(&f.acc, &f.part, 10, true, &wake));
    ck_assert_uint_eq(wake, 50);
    /* then they leave in their original order, before record 2. */
    ck_assert(cl_acc_ready(&f.acc, &f.part, 50, false, &wake));
    struct cl_batch *x = cl_acc_drain(&f.acc, &f.part);
    struct cl_batch *y = cl_acc_drain(&f.acc, &f.part);
    struct cl_batch *z = cl_acc_drain(&f.acc, &f.part);
    ck_assert_ptr_eq(x->msgs->opaque, &tag[0]);
    ck_assert_ptr_eq(y->msgs->opaque, &tag[1]);
    ck_assert_ptr_eq(z->msgs->opaque, &tag[2]);
    ck_assert_int_eq(x->attempts, 1);
    finish(x);
    finish(y);
    finish(z);
}
END_TEST

START_TEST(test_memory_budget_refuses_with_queue_full_then_recovers)
{
    setup_with(100000, 10, 4096, 1);
    /* Given the budget nearly used, */
    int rv;
    int n = 0;
    while ((rv = put(500, 0, NULL)) == 0) {
        n++;
    }
    /* the next record is refused as "try again" (QUEUE_FULL), */
    ck_assert_int_eq(rv, ST_EAGAIN);
    ck_assert_int_gt(n, 3);
    ck_assert_uint_le(f.budget.used, 4096);
    /* and once a batch completes, there is room again. */
    finish(cl_acc_drain(&f.acc, &f.part));
    ck_assert_uint_eq(f.budget.used, 0);
    ck_assert_int_eq(put(500, 0, NULL), 0);
}
END_TEST

START_TEST(test_record_larger_than_batch_size_is_too_big)
{
    ck_assert_int_eq(put(2000, 0, NULL), ST_ETOOBIG);
}
END_TEST

START_TEST(test_message_count_limit_gives_queue_full)
{
    f.acc.opts.queue_msgs_max = 3;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(put(1, 0, NULL), 0);
    }
    ck_assert_int_eq(put(1, 0, NULL), ST_EAGAIN);
}
END_TEST

START_TEST(test_expire_unlinks_only_records_past_the_timeout)
{
    ck_assert_int_eq(put(10, 0, NULL), 0);
    ck_assert_int_eq(put(10, 50, NULL), 0);
    struct cl_msg *gone = cl_acc_expire(&f.part, 100, 80);
    ck_assert_ptr_nonnull(gone);
    ck_assert_ptr_null(gone->next);
    ck_assert_uint_eq(f.part.n, 1);
    cl_acc_release(&f.acc, gone);
    cl_msg_free(gone);
}
END_TEST

START_TEST(test_headers_and_key_are_copied_into_the_record)
{
    char hv[] = "v1";
    strata_header_t h[2] = {{"a", hv, 2}, {"empty", NULL, 0}};
    struct cl_msg *m;
    ck_assert_int_eq(cl_msg_new("key", 3, "val", 3, true, h, 2, 7, 0, NULL,
                                &m),
                     0);
    hv[0] = 'X';
    ck_assert_uint_eq(m->n_hdrs, 2);
    ck_assert_int_eq(memcmp(m->hdrs[0].value, "v1", 2), 0);
    ck_assert_str_eq(m->hdrs[1].key, "empty");
    ck_assert_ptr_null(m->hdrs[1].value);
    ck_assert_int_eq(memcmp(m->key, "key", 3), 0);
    ck_assert(!m->value_owned_by_app);
    cl_msg_free(m);
}
END_TEST

START_TEST(test_encoded_batch_stays_within_batch_size)
{
    /* Regression (cluster perf run): batches cut at batch.size of raw
     * payload encoded over the broker's max.message.bytes. Given small
     * records with headers filling a 4 KiB batch, */
    setup_with(4096, 0, 1 << 20, 1);
    strata_header_t h[2] = {{"a", "1", 1}, {"bb", NULL, 0}};
    for (int i = 0; i < 200; i++) {
        struct cl_msg *m;
        ck_assert_int_eq(cl_msg_new("key", 3, "value", 5, true, h, 2, 0, 0,
                                    NULL, &m),
                         0);
        ck_assert_int_eq(cl_acc_reserve(&f.acc, m), 0);
        cl_acc_append(&f.part, m);
    }
    /* the encoded batch is no larger than batch.size. */
    struct cl_batch *b = cl_acc_drain(&f.acc, &f.part);
    struct st_batch_builder *bb;
    ck_assert_int_eq(st_batch_builder_new(&bb), 0);
    struct st_batch_builder_opts o = {.codec = ST_CODEC_NONE,
                                      .producer_id = -1,
                                      .base_sequence = -1,
                                      .leader_epoch = -1};
    st_batch_builder_reset(bb, &o);
    for (struct cl_msg *m = b->msgs; m != NULL; m = m->next) {
        ck_assert_int_eq(st_batch_builder_add(bb, 1700000000000, m->key,
                                              m->key_len, m->value,
                                              m->value_len, m->hdrs,
                                              m->n_hdrs),
                         0);
    }
    struct st_bytes out;
    ck_assert_int_eq(st_batch_builder_finish(bb, &out), 0);
    ck_assert_uint_le(out.len, 4096);
    ck_assert_uint_gt(out.len, 2048); /* and it is not mostly empty */
    st_batch_builder_free(bb);
    finish(b);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("client_accumulator");
    TCase *tc = tcase_create("client_accumulator");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_batch_waits_for_linger_then_is_ready);
    tcase_add_test(tc,
        test_full_batch_is_ready_before_linger_and_cut_at_batch_size);
    tcase_add_test(tc, test_in_flight_limit_holds_the_next_batch);
    tcase_add_test(tc, test_retried_batch_goes_first_and_keeps_order);
    tcase_add_test(tc,
        test_memory_budget_refuses_with_queue_full_then_recovers);
    tcase_add_test(tc, test_record_larger_than_batch_size_is_too_big);
    tcase_add_test(tc, test_message_count_limit_gives_queue_full);
    tcase_add_test(tc, test_expire_unlinks_only_records_past_the_timeout);
    tcase_add_test(tc, test_headers_and_key_are_copied_into_the_record);
    tcase_add_test(tc, test_encoded_batch_stays_within_batch_size);
    suite_add_tcase(s, tc);
    return s;
}
