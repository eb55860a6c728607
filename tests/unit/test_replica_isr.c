/* isr.c: when the leader asks the controller to shrink or expand the ISR,
 * and what it does with the answer. */
#include "test_replica_util.h"

static struct rt t;
static const int32_t all3[] = {1, 2, 3};
static const int32_t isr12[] = {1, 2};

static void teardown(void)
{
    st_replica_free(t.r);
}

/* Broker 1 leads epoch 1 over @isr with 10 durable records of epoch 1. */
static void leader_with_10(const int32_t *isr, unsigned n)
{
    rt_init(&t, 1, true, 0, NULL, 0);
    rt_partition(&t, 1, 1, 1, isr, n);
    rt_append(&t, 10, 1, 10);
}

static void broker_changed(int32_t id, int64_t epoch, bool fenced)
{
    struct st_replica_event ev = {.type = ST_REPLICA_EV_BROKER_CHANGED};
    ev.broker.id = id;
    ev.broker.broker_epoch = epoch;
    ev.broker.fenced = fenced;
    ck_assert_int_eq(rt_step(&t, ev), 0);
}

START_TEST(test_member_that_stops_fetching_is_shrunk_after_the_lag_time)
{
    /* Given an ISR of three where follower 3 stops fetching at t=1000, */
    leader_with_10(all3, 3);
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    for (int i = 0; i < 3; i++) {
        rt_tick(&t, 300);
        rt_fetch(&t, 2, 1, 1, 10, 1, 10);
        ck_assert(!t.u.has_alter);
    }
    /* when replica.lag.time.max.ms (1000) has passed, */
    rt_tick(&t, 101);
    /* the leader asks for ISR {1,2}, based on partition epoch 1. */
    ck_assert(rt_alter_is(&t, isr12, 2));
    ck_assert_int_eq(t.u.alter.partition_epoch, 1);
    ck_assert_int_eq(t.u.alter.leader_epoch, 1);
}
END_TEST

START_TEST(test_follower_reaching_the_previous_log_end_stays_in_sync)
{
    /* Given a leader appending between every fetch, so that followers never
     * reach its current log end but always the one of their last fetch, */
    leader_with_10(all3, 3);
    for (int i = 0; i < 30; i++) {
        int64_t prev = t.log_end;
        rt_append(&t, 5, 1, t.log_end + 5);
        rt_tick(&t, 100);
        rt_fetch(&t, 2, 1, 1, prev, 1, prev);
        rt_fetch(&t, 3, 1, 1, prev, 1, prev);
        /* no shrink is ever asked (Kafka's last-caught-up-time rule). */
        ck_assert(!t.u.has_alter);
    }
}
END_TEST

START_TEST(test_caught_up_replica_is_added_back_with_its_broker_epoch)
{
    /* Given ISR {1,2} with HW 10, */
    leader_with_10(isr12, 2);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    ck_assert_int_eq(t.u.hw_offset, 10);
    /* when replica 3 fetches at 10 with 10 durable, */
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    /* the leader asks to add it, naming the incarnation it fetched with. */
    ck_assert(rt_alter_is(&t, all3, 3));
    ck_assert_int_eq(t.u.alter.isr[2].broker_epoch, 1);
}
END_TEST

START_TEST(test_replica_not_durable_up_to_the_hw_is_not_added)
{
    /* Given ISR {1,2} with HW 10, */
    leader_with_10(isr12, 2);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    /* when replica 3 holds 10 records but made only 5 durable, */
    rt_fetch(&t, 3, 1, 1, 10, 1, 5);
    /* it is not added: a power loss would take acked records with it. */
    ck_assert(!t.u.has_alter);
}
END_TEST

START_TEST(test_replica_below_the_leader_epoch_start_is_not_added)
{
    /* Given a new leader of epoch 2 starting at offset 10 with HW 4, */
    const struct st_replica_epoch ep[] = {{1, 0}};
    struct st_replica_log_state l = {
        .log_end = 10, .durable_end = 10, .hw = 4, .epochs = ep, .n_epochs = 1};
    struct st_replica_config c;
    st_replica_config_init(&c);
    c.broker_id = 1;
    c.broker_epoch = 1;
    memset(&t, 0, sizeof t);
    t.now = 1000;
    ck_assert_int_eq(st_replica_new(&c, &l, &t.r), 0);
    rt_partition(&t, 1, 2, 2, isr12, 2);
    ck_assert_int_eq(t.u.hw_offset, 4);
    /* when replica 3 fetches at 6 (past the HW, before the epoch start), */
    rt_fetch(&t, 3, 1, 2, 6, 1, 6);
    ck_assert(!t.u.has_alter);
    /* it is not added; at 10 it is. */
    rt_fetch(&t, 3, 1, 2, 10, 1, 10);
    ck_assert(rt_alter_is(&t, all3, 3));
}
END_TEST

START_TEST(test_replica_fetching_with_a_stale_incarnation_is_not_added)
{
    /* Given ISR {1,2}, HW 10, and the metadata log saying broker 3
     * re-registered as incarnation 2 (KIP-903), */
    leader_with_10(isr12, 2);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    broker_changed(3, 2, false);
    /* when a fetch of incarnation 1 arrives (delayed in the network), */
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    /* it counts for nothing; the new incarnation's fetch is added. */
    ck_assert(!t.u.has_alter);
    rt_fetch(&t, 3, 2, 1, 10, 1, 10);
    ck_assert(rt_alter_is(&t, all3, 3));
    ck_assert_int_eq(t.u.alter.isr[2].broker_epoch, 2);
}
END_TEST

START_TEST(test_fenced_broker_is_not_added)
{
    /* Given ISR {1,2}, HW 10 and broker 3 fenced, */
    leader_with_10(isr12, 2);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    broker_changed(3, 1, true);
    /* when it fetches caught up, it is not added until unfenced. */
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    ck_assert(!t.u.has_alter);
    broker_changed(3, 1, false);
    ck_assert(rt_alter_is(&t, all3, 3));
}
END_TEST

START_TEST(test_only_one_alter_is_in_flight)
{
    /* Given an expansion request in flight, */
    leader_with_10(isr12, 2);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    ck_assert(t.u.has_alter);
    /* when follower 2 then lags, no second request leaves; */
    rt_tick(&t, 1001);
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    ck_assert(!t.u.has_alter);
    /* once the first is committed, the shrink follows on its base. */
    rt_alter_result(&t, ST_REPLICA_OK, 1, 1, 2, all3, 3);
    ck_assert(t.u.has_alter);
    ck_assert_int_eq(t.u.alter.partition_epoch, 2);
    ck_assert_int_eq(t.u.alter.n_isr, 2);
    ck_assert_int_eq(t.u.alter.isr[1].id, 3);
}
END_TEST

START_TEST(test_stale_refusal_waits_for_newer_metadata)
{
    /* Given an expansion refused as based on a stale partition epoch, */
    leader_with_10(isr12, 2);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    rt_alter_result(&t, ST_REPLICA_ERR_STALE_PARTITION_EPOCH, 1, 1, 0, NULL, 0);
    /* the leader does not resend on the same base, */
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    ck_assert(!t.u.has_alter);
    /* but does on the partition epoch the metadata log then brings. */
    rt_partition(&t, 1, 1, 3, isr12, 2);
    ck_assert(t.u.has_alter);
    ck_assert_int_eq(t.u.alter.partition_epoch, 3);
}
END_TEST

START_TEST(test_unanswered_alter_is_resent_after_the_timeout)
{
    /* Given an expansion request that got no answer, */
    leader_with_10(isr12, 2);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    ck_assert(t.u.has_alter);
    ck_assert_uint_le(t.u.next_tick_ms, t.now + 5000);
    /* when the alter timeout (5000 ms) passes, it is sent again. */
    rt_tick(&t, 4000);
    ck_assert(!t.u.has_alter);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    rt_tick(&t, 1000);
    ck_assert(rt_alter_is(&t, all3, 3));
}
END_TEST

START_TEST(test_timed_out_expansion_still_counts_its_members_in_the_hw)
{
    /* Given ISR {1,2} at HW 10 and an expansion to {1,2,3} sent, */
    leader_with_10(isr12, 2);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    ck_assert(rt_alter_is(&t, all3, 3));
    /* when it times out unanswered (the controller may have applied it)
     * and 5 more records reach follower 2 but not 3, */
    rt_append(&t, 5, 1, 15);
    for (int i = 0; i < 6; i++) {
        rt_tick(&t, 900);
        rt_fetch(&t, 2, 1, 1, 15, 1, 15);
        rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    }
    ck_assert(!st_replica_alter_inflight(t.r));
    /* the HW still waits for 3 (sim seed 1229), */
    ck_assert_int_eq(st_replica_hw(t.r), 10);
    /* until the metadata log settles the ISR without it. */
    rt_partition(&t, 1, 1, 2, isr12, 2);
    ck_assert_int_eq(t.u.hw_offset, 15);
}
END_TEST

START_TEST(test_alter_reported_timed_out_by_the_driver_still_counts)
{
    /* Given ISR {1,2} at HW 10 and an expansion adding 3, */
    leader_with_10(isr12, 2);
    rt_fetch(&t, 2, 1, 1, 10, 1, 10);
    rt_fetch(&t, 3, 1, 1, 10, 1, 10);
    ck_assert(t.u.has_alter);
    /* when the driver reports it timed out, and 3 falls behind, */
    rt_alter_result(&t, ST_REPLICA_ERR_TIMEOUT, 1, 1, 0, NULL, 0);
    rt_append(&t, 5, 1, 15);
    rt_fetch(&t, 2, 1, 1, 15, 1, 15);
    /* 3 still holds the HW: the controller may have added it. */
    ck_assert_int_eq(t.u.hw_offset, 10);
    /* A refusal of the single copy sent, though, settles it. */
    rt_partition(&t, 1, 1, 2, isr12, 2);
    rt_tick(&t, 100); /* the alter backoff */
    rt_fetch(&t, 3, 1, 1, 15, 1, 15);
    ck_assert(t.u.has_alter);
    rt_alter_result(&t, ST_REPLICA_ERR_INELIGIBLE_REPLICA, 1, 2, 0, NULL, 0);
    rt_append(&t, 5, 1, 20);
    rt_fetch(&t, 2, 1, 1, 20, 1, 20);
    ck_assert_int_eq(t.u.hw_offset, 20);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("replica_isr");
    TCase *tc = tcase_create("isr");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(
        tc, test_member_that_stops_fetching_is_shrunk_after_the_lag_time);
    tcase_add_test(tc,
                   test_follower_reaching_the_previous_log_end_stays_in_sync);
    tcase_add_test(tc,
                   test_caught_up_replica_is_added_back_with_its_broker_epoch);
    tcase_add_test(tc, test_replica_not_durable_up_to_the_hw_is_not_added);
    tcase_add_test(tc, test_replica_below_the_leader_epoch_start_is_not_added);
    tcase_add_test(tc,
                   test_replica_fetching_with_a_stale_incarnation_is_not_added);
    tcase_add_test(tc, test_fenced_broker_is_not_added);
    tcase_add_test(tc, test_only_one_alter_is_in_flight);
    tcase_add_test(tc, test_stale_refusal_waits_for_newer_metadata);
    tcase_add_test(tc, test_unanswered_alter_is_resent_after_the_timeout);
    tcase_add_test(tc,
                   test_timed_out_expansion_still_counts_its_members_in_the_hw);
    tcase_add_test(tc,
                   test_alter_reported_timed_out_by_the_driver_still_counts);
    suite_add_tcase(s, tc);
    return s;
}
