/* hw.c: the leader's high watermark and acks=all completions. */
#include "common/alloc.h"
#include "test_replica_util.h"

static struct rt t;
static const int32_t all3[] = {1, 2, 3};
static const int32_t isr12[] = {1, 2};
static const int32_t isr1[] = {1};

static void teardown(void)
{
    st_replica_free(t.r);
}

/* Broker 1 leads epoch 1 over ISR {1,2,3} and holds 10 records of epoch 1,
 * durable up to @durable. */
static void leader_with_10(bool durable_hw, int64_t durable)
{
    rt_init(&t, 1, durable_hw, 0, NULL, 0);
    ck_assert_int_eq(rt_partition(&t, 1, 1, 1, all3, 3), 0);
    ck_assert_int_eq(t.u.role, ST_REPLICA_LEADER);
    ck_assert_int_eq(rt_append(&t, 10, 1, durable), 0);
}

START_TEST(test_hw_is_the_minimum_durable_end_of_the_isr)
{
    /* Given a leader with 10 durable records, */
    leader_with_10(true, 10);
    /* when both followers hold all 10 but made only 6 and 8 durable, */
    ck_assert_int_eq(rt_fetch(&t, 2, 1, 1, 10, 1, 6), 0);
    ck_assert_int_eq(rt_fetch(&t, 3, 1, 1, 10, 1, 8), 0);
    /* the HW is the smallest durable end, and the reply carries it. */
    ck_assert_int_eq(t.u.hw_offset, 6);
    ck_assert_int_eq(t.u.fetch_reply.hw, 6);
}
END_TEST

START_TEST(test_hw_counts_log_ends_without_durable_hw)
{
    /* Given a page-cache policy (durable_hw=false), */
    leader_with_10(false, 0);
    /* when the followers hold 10 and 9 records, none durable, */
    rt_fetch(&t, 2, 1, 1, 10, 1, 0);
    rt_fetch(&t, 3, 1, 1, 9, 1, 0);
    /* the HW is the smallest log end. */
    ck_assert_int_eq(t.u.hw_offset, 9);
}
END_TEST

START_TEST(test_leader_counts_its_own_durable_end)
{
    /* Given a leader that made only 4 of its 10 records durable, */
    leader_with_10(true, 4);
    /* when both followers made all 10 durable, */
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    ck_assert_int_eq(t.u.hw_offset, 4);
    /* and only its own flush lets the HW reach 10. */
    rt_append(&t, 0, 1, 10);
    ck_assert_int_eq(t.u.hw_offset, 10);
}
END_TEST

START_TEST(test_hw_never_goes_backwards_on_a_leader)
{
    /* Given a HW of 8, */
    leader_with_10(true, 10);
    rt_fetch(&t, 2, 1, 1, 10, 1, 8);
    rt_fetch(&t, 3, 1, 1, 10, 1, 9);
    ck_assert_int_eq(t.u.hw_offset, 8);
    /* when follower 2 reports a smaller position (a new incarnation), */
    rt_fetch(&t, 2, 2, 1, 5, 1, 5);
    /* the HW stays. */
    ck_assert_int_eq(t.u.hw_offset, 8);
    ck_assert_int_eq(st_replica_hw(t.r), 8);
}
END_TEST

START_TEST(test_new_leader_waits_for_each_isr_member_to_fetch_in_its_epoch)
{
    /* Given a former follower with 10 durable records and HW 0, */
    const struct st_replica_epoch ep[] = {{1, 0}};
    rt_init(&t, 1, true, 10, ep, 1);
    /* when it becomes leader of epoch 2, */
    rt_partition(&t, 1, 2, 2, all3, 3);
    /* its HW does not move on its own log alone, */
    ck_assert_int_eq(t.u.hw_offset, 0);
    /* nor after one follower fetched in the new epoch, */
    rt_fetch(&t, 2, 1, 2, 10, 1, 10);
    ck_assert_int_eq(t.u.hw_offset, 0);
    ck_assert(!t.u.hw_settled);
    /* only once every ISR member did; then the HW has reached the start
     * of epoch 2 and may be shown to clients (KIP-207). */
    rt_fetch(&t, 3, 1, 2, 10, 1, 10);
    ck_assert_int_eq(t.u.hw_offset, 10);
    ck_assert(t.u.hw_settled);
}
END_TEST

START_TEST(test_fetch_from_an_old_leader_epoch_does_not_count)
{
    /* Given a leader of epoch 2, */
    const struct st_replica_epoch ep[] = {{1, 0}};
    rt_init(&t, 1, true, 10, ep, 1);
    rt_partition(&t, 1, 2, 2, all3, 3);
    /* when followers fetch still believing in epoch 1, */
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    ck_assert_int_eq(t.u.fetch_reply.error, ST_REPLICA_ERR_FENCED_EPOCH);
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    /* they are refused and the HW does not move. */
    ck_assert_int_eq(t.u.hw_offset, 0);
}
END_TEST

START_TEST(test_pending_shrink_holds_the_hw_until_committed)
{
    /* Given a leader whose follower 3 never fetches, */
    leader_with_10(true, 10);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    ck_assert_int_eq(t.u.hw_offset, 0);
    /* when the lag time passes, the leader asks to drop 3 */
    rt_tick(&t, 600);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    rt_tick(&t, 500);
    ck_assert(rt_alter_is(&t, isr12, 2));
    ck_assert(st_replica_alter_inflight(t.r));
    /* but the HW still counts 3 while the request is in flight (KIP-497), */
    ck_assert_int_eq(t.u.hw_offset, 0);
    /* and moves once the controller committed ISR {1,2}. */
    rt_alter_result(&t, ST_REPLICA_OK, 1, 1, 2, isr12, 2);
    ck_assert_int_eq(t.u.hw_offset, 10);
}
END_TEST

START_TEST(test_acks_all_completes_when_the_hw_passes_the_append)
{
    /* Given a produce of records [0, 10) waiting for acks=all, */
    leader_with_10(true, 10);
    ck_assert_int_eq(rt_ack_wait(&t, 77, 10), 0);
    ck_assert_uint_eq(t.u.n_completions, 0);
    /* when the HW reaches 9 nothing completes; at 10 it is acknowledged. */
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    rt_fetch(&t, 3, 1, 1, 9, 1, 9);
    ck_assert_uint_eq(t.u.n_completions, 0);
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    ck_assert_uint_eq(t.u.n_completions, 1);
    ck_assert_uint_eq(t.u.completions[0].token, 77);
    ck_assert_int_eq(t.u.completions[0].status, ST_REPLICA_ACKED);
    ck_assert(t.u.completions[0].durable);
}
END_TEST

START_TEST(test_isr_below_min_after_append_is_not_enough_replicas)
{
    /* Given min.insync.replicas=2 and a produce waiting at offset 10, */
    leader_with_10(true, 10);
    rt_ack_wait(&t, 5, 10);
    /* when the ISR shrinks to the leader alone, */
    rt_partition(&t, 1, 1, 2, isr1, 1);
    /* the HW passes the append but the outcome is unknown, not failed. */
    ck_assert_int_eq(t.u.hw_offset, 10);
    ck_assert_uint_eq(t.u.n_completions, 1);
    ck_assert_int_eq(t.u.completions[0].status,
                     ST_REPLICA_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    /* and new acks=all produces must be refused before the append. */
    ck_assert(st_replica_isr_under_min(t.r));
}
END_TEST

START_TEST(test_losing_leadership_answers_pending_acks_not_leader)
{
    /* Given a produce waiting for the HW, */
    leader_with_10(true, 10);
    rt_ack_wait(&t, 9, 10);
    /* when broker 2 becomes leader of epoch 2, */
    rt_partition(&t, 2, 2, 2, all3, 3);
    /* the produce is answered NOT_LEADER (outcome unknown). */
    ck_assert_int_eq(t.u.role, ST_REPLICA_FOLLOWER);
    ck_assert_uint_eq(t.u.n_completions, 1);
    ck_assert_int_eq(t.u.completions[0].status, ST_REPLICA_ACK_NOT_LEADER);
    /* A follower refuses to wait for acks. */
    ck_assert_int_eq(rt_ack_wait(&t, 10, 10), ST_ENOTLEADER);
}
END_TEST

START_TEST(test_out_of_memory_is_an_error_value_and_leaks_nothing)
{
    /* Given a leader, when every allocation fails, */
    leader_with_10(true, 10);
    st_alloc_fail_after(0, 1000);
    /* a produce cannot be registered and says so; a new core cannot be
     * created either. */
    ck_assert_int_eq(rt_ack_wait(&t, 1, 10), ST_ENOMEM);
    struct st_replica_config c;
    struct st_replica_log_state l = {0};
    struct st_replica *r2 = NULL;
    st_replica_config_init(&c);
    ck_assert_int_eq(st_replica_new(&c, &l, &r2), ST_ENOMEM);
    st_alloc_fail_after(0, 0);
    /* (the sanitizer's leak check covers the rest at teardown) */
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("replica_hw");
    TCase *tc = tcase_create("hw");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_hw_is_the_minimum_durable_end_of_the_isr);
    tcase_add_test(tc, test_hw_counts_log_ends_without_durable_hw);
    tcase_add_test(tc, test_leader_counts_its_own_durable_end);
    tcase_add_test(tc, test_hw_never_goes_backwards_on_a_leader);
    tcase_add_test(
        tc, test_new_leader_waits_for_each_isr_member_to_fetch_in_its_epoch);
    tcase_add_test(tc, test_fetch_from_an_old_leader_epoch_does_not_count);
    tcase_add_test(tc, test_pending_shrink_holds_the_hw_until_committed);
    tcase_add_test(tc, test_acks_all_completes_when_the_hw_passes_the_append);
    tcase_add_test(tc, test_isr_below_min_after_append_is_not_enough_replicas);
    tcase_add_test(tc, test_losing_leadership_answers_pending_acks_not_leader);
    tcase_add_test(tc, test_out_of_memory_is_an_error_value_and_leaks_nothing);
    suite_add_tcase(s, tc);
    return s;
}
