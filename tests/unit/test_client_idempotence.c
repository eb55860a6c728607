/* The idempotent producer's pure parts: getting a producer id (backoff,
 * bumps after a hole), in-flight limits per partition, which
 * OUT_OF_ORDER_SEQUENCE answers are retried, and resends waiting for the
 * batches in flight so that they never overtake. */
#include <string.h>

#include "client/lib/accumulator.h"
#include "client/lib/idempotence.h"
#include "common/err.h"
#include "test_util.h"

START_TEST(test_a_new_producer_asks_for_an_id_and_backs_off_on_failure)
{
    struct cl_idem s;
    cl_idem_init(&s);
    /* Given a producer with no id, nothing may be sent and it asks at once; */
    ck_assert(!cl_idem_ready(&s));
    ck_assert(cl_idem_want_init(&s, 0, 0));
    s.init_in_flight = true;
    ck_assert(!cl_idem_want_init(&s, 0, 0)); /* one request at a time */
    /* when the request fails it waits the backoff, doubled per failure, */
    ck_assert_uint_eq(cl_idem_init_failed(&s, 1000, 100), 1);
    ck_assert(!cl_idem_want_init(&s, 1099, 0));
    ck_assert(cl_idem_want_init(&s, 1100, 0));
    ck_assert_uint_eq(cl_idem_init_failed(&s, 1100, 100), 2);
    ck_assert(!cl_idem_want_init(&s, 1299, 0));
    ck_assert(cl_idem_want_init(&s, 1300, 0));
    /* capped at one second, */
    for (int i = 0; i < 10; i++) {
        cl_idem_init_failed(&s, 2000, 100);
    }
    ck_assert_uint_eq(s.retry_at_ms, 3000);
    /* and once answered it is ready and asks no more. */
    ck_assert(!cl_idem_init_done(&s, 42, 0));
    ck_assert(cl_idem_ready(&s));
    ck_assert_int_eq(s.pid, 42);
    ck_assert_uint_eq(s.failures, 0);
    ck_assert(!cl_idem_want_init(&s, 5000, 0));
}
END_TEST

START_TEST(test_a_hole_stops_sending_and_bumps_only_when_nothing_flies)
{
    struct cl_idem s;
    cl_idem_init(&s);
    cl_idem_init_done(&s, 7, 0);
    /* Given a sequenced batch failed for good, */
    cl_idem_hole(&s);
    /* nothing more is sent, */
    ck_assert(!cl_idem_ready(&s));
    /* the bump waits while batches are in flight, */
    ck_assert(!cl_idem_want_init(&s, 0, 3));
    ck_assert(cl_idem_want_init(&s, 0, 0));
    /* and its answer says it was a bump (sequences must restart). */
    ck_assert(cl_idem_init_done(&s, 7, 1));
    ck_assert(cl_idem_ready(&s));
    ck_assert_int_eq(s.epoch, 1);
}
END_TEST

START_TEST(test_one_batch_flies_until_the_first_is_acknowledged)
{
    struct cl_idem_part p;
    struct cl_batch a = {.n = 4, .base_seq = -1};
    cl_idem_part_init(&p);
    /* Given a partition with nothing acknowledged in this epoch, one
     * batch may fly (an unknown producer's first sequence is taken as
     * is, so a later batch must not overtake it); */
    ck_assert_uint_eq(cl_idem_in_flight_limit(&p, 5), 1);
    cl_idem_assign(&p, &a);
    ck_assert_int_eq(cl_idem_acked(&p, &a), 0);
    /* once one is acknowledged, up to the limit. */
    ck_assert_uint_eq(cl_idem_in_flight_limit(&p, 5), 5);
}
END_TEST

START_TEST(test_out_of_order_is_retried_only_behind_an_unacknowledged_batch)
{
    struct cl_idem_part p;
    struct cl_batch a = {.n = 2, .base_seq = -1};
    struct cl_batch b = {.n = 3, .base_seq = -1};
    cl_idem_part_init(&p);
    cl_idem_assign(&p, &a);
    cl_idem_assign(&p, &b);
    /* Given batch a not yet acknowledged, OUT_OF_ORDER for b means b
     * arrived before a's resend: retried; */
    ck_assert(cl_idem_out_of_order_retriable(&p, &b));
    /* for a (the next expected) it is a hole: not retried. */
    ck_assert(!cl_idem_out_of_order_retriable(&p, &a));
    ck_assert_int_eq(cl_idem_acked(&p, &a), 0);
    ck_assert(!cl_idem_out_of_order_retriable(&p, &b));
}
END_TEST

START_TEST(test_only_refusals_before_the_append_count_as_not_written)
{
    /* Answers given before the append: the batch is certainly not in the
     * log and may be resent under a new epoch; */
    ck_assert(cl_idem_err_not_written(STRATA_ERR_OUT_OF_ORDER_SEQUENCE));
    ck_assert(cl_idem_err_not_written(STRATA_ERR_NOT_ENOUGH_REPLICAS));
    ck_assert(cl_idem_err_not_written(STRATA_ERR_MESSAGE_TOO_LARGE));
    /* lost answers, timeouts and NOT_LEADER (also sent after an append
     * whose fate is unknown) are not. */
    ck_assert(!cl_idem_err_not_written(STRATA_ERR__TRANSPORT));
    ck_assert(!cl_idem_err_not_written(STRATA_ERR__MSG_TIMED_OUT));
    ck_assert(!cl_idem_err_not_written(STRATA_ERR_REQUEST_TIMED_OUT));
    ck_assert(!cl_idem_err_not_written(STRATA_ERR_NOT_LEADER));
    ck_assert(!cl_idem_err_not_written(
        STRATA_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND));
}
END_TEST

START_TEST(test_resends_wait_for_every_batch_in_flight)
{
    struct cl_budget budget = {.limit = 1 << 20};
    struct cl_acc acc;
    struct cl_acc_part part;
    struct cl_acc_opts o = {.batch_bytes = 120,
                            .linger_ms = 0,
                            .queue_bytes_max = 1 << 30,
                            .queue_msgs_max = 1000,
                            .max_in_flight = 5};
    cl_acc_init(&acc, &o, &budget);
    cl_acc_part_init(&part);
    static uint8_t zeros[10];
    for (int i = 0; i < 3; i++) {
        struct cl_msg *m;
        ck_assert_int_eq(cl_msg_new("k", 1, zeros, sizeof zeros, true, NULL,
                                    0, 0, 0, NULL, &m),
                         0);
        ck_assert_int_eq(cl_acc_reserve(&acc, m), 0);
        cl_acc_append(&part, m);
    }
    uint64_t wake = UINT64_MAX;
    struct cl_batch *b0 = cl_acc_drain(&acc, &part);
    struct cl_batch *b1 = cl_acc_drain(&acc, &part);
    /* Given batch 0 must be resent while batch 1 still flies, */
    cl_acc_retry(&part, b0, 0, 10);
    /* nothing leaves, not even past the backoff or on flush (batch 2 must
     * not overtake, and 0 must not go while 1 may still land), */
    ck_assert(!cl_acc_ready(&acc, &part, 100, true, &wake));
    /* until batch 1 came back too; then 0 goes first, then 1. */
    cl_acc_retry(&part, b1, 100, 10);
    ck_assert(cl_acc_ready(&acc, &part, 110, false, &wake));
    ck_assert_ptr_eq(cl_acc_drain(&acc, &part), b0);
    ck_assert_ptr_eq(cl_acc_drain(&acc, &part), b1);
    ck_assert_uint_eq(b0->number, 0);
    ck_assert_uint_eq(b1->number, 1);
    cl_acc_done(&part, b0);
    cl_acc_done(&part, b1);
    struct cl_msg *ms[2] = {b0->msgs, b1->msgs};
    cl_batch_free(b0);
    cl_batch_free(b1);
    for (int i = 0; i < 2; i++) {
        cl_acc_release(&acc, ms[i]);
        cl_msg_free(ms[i]);
    }
    struct cl_msg *m = cl_acc_purge(&part);
    while (m != NULL) {
        struct cl_msg *n = m->next;
        cl_acc_release(&acc, m);
        cl_msg_free(m);
        m = n;
    }
    ck_assert_uint_eq(budget.used, 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("client_idempotence");
    TCase *tc = tcase_create("client_idempotence");
    tcase_add_test(tc,
                   test_a_new_producer_asks_for_an_id_and_backs_off_on_failure);
    tcase_add_test(tc,
                   test_a_hole_stops_sending_and_bumps_only_when_nothing_flies);
    tcase_add_test(tc, test_one_batch_flies_until_the_first_is_acknowledged);
    tcase_add_test(
        tc, test_out_of_order_is_retried_only_behind_an_unacknowledged_batch);
    tcase_add_test(tc,
                   test_only_refusals_before_the_append_count_as_not_written);
    tcase_add_test(tc, test_resends_wait_for_every_batch_in_flight);
    suite_add_tcase(s, tc);
    return s;
}
