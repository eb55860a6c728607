/* leader.c and partition.c: becoming leader, and answering follower
 * fetches (KIP-101 divergence answers, KIP-320 epoch fencing). */
#include "test_replica_util.h"

static struct rt t;
static const int32_t all3[] = {1, 2, 3};
/* The leader's log: epoch 1 at [0, 5), epoch 2 at [5, 10). */
static const struct st_replica_epoch ep[] = {{1, 0}, {2, 5}};

static void teardown(void)
{
    st_replica_free(t.r);
}

/* Broker 1 becomes leader of epoch 3 over that log. */
static void leader_of_3(void)
{
    rt_init(&t, 1, true, 10, ep, 2);
    ck_assert_int_eq(rt_partition(&t, 1, 3, 3, all3, 3), 0);
}

START_TEST(test_named_leader_becomes_leader_and_starts_its_epoch_at_its_end)
{
    /* Given broker 1 with 10 records, when the metadata names it leader of
     * epoch 3, */
    leader_of_3();
    /* it leads, sends no fetch, and epoch 3 starts at its log end. */
    ck_assert_int_eq(t.u.role, ST_REPLICA_LEADER);
    ck_assert_int_eq(t.u.leader_epoch, 3);
    ck_assert(!t.u.has_fetch);
    int32_t e;
    int64_t end;
    st_replica_epoch_end(t.r, 3, &e, &end);
    ck_assert_int_eq(e, 3);
    ck_assert_int_eq(end, 10);
    st_replica_epoch_end(t.r, 2, &e, &end);
    ck_assert_int_eq(end, 10);
}
END_TEST

START_TEST(test_matching_fetch_is_served_from_its_offset_to_our_end)
{
    /* Given the leader, when follower 2 fetches at 7 with last epoch 2, */
    leader_of_3();
    ck_assert_int_eq(rt_fetch(&t, 2, 1, 3, 7, 2, 7), 0);
    /* it gets data from 7 up to our log end. */
    ck_assert(t.u.has_fetch_reply);
    ck_assert_int_eq(t.u.fetch_reply.to, 2);
    ck_assert_int_eq(t.u.fetch_reply.error, ST_REPLICA_OK);
    ck_assert(!t.u.fetch_reply.diverging);
    ck_assert_int_eq(t.u.fetch_reply.offset, 7);
    ck_assert_int_eq(t.u.fetch_reply.max_offset, 10);
}
END_TEST

START_TEST(test_follower_past_our_epoch_end_gets_a_diverging_answer)
{
    /* Given the leader whose epoch 1 ended at 5, */
    leader_of_3();
    /* when a follower fetches at 8 claiming its last record is epoch 1, */
    rt_fetch(&t, 2, 1, 3, 8, 1, 8);
    /* it is told epoch 1 ends at 5 and gets no data. */
    ck_assert(t.u.fetch_reply.diverging);
    ck_assert_int_eq(t.u.fetch_reply.diverging_epoch, 1);
    ck_assert_int_eq(t.u.fetch_reply.diverging_end_offset, 5);
    /* and its position does not count towards the HW. */
    rt_fetch(&t, 3, 1, 3, 10, 3, 10);
    ck_assert_int_eq(t.u.hw_offset, 0);
}
END_TEST

START_TEST(test_follower_with_an_epoch_we_lack_gets_our_largest_below_it)
{
    /* Given a leader of epoch 4 whose log has epochs 1 [0,5) and 3 [5,10)
     * but no epoch 2, */
    static const struct st_replica_epoch gap[] = {{1, 0}, {3, 5}};
    rt_init(&t, 1, true, 10, gap, 2);
    rt_partition(&t, 1, 4, 4, all3, 3);
    /* when a follower fetches at 7 with last epoch 2, */
    rt_fetch(&t, 2, 1, 4, 7, 2, 7);
    /* it is told our largest epoch <= 2 is 1, ending at 5 (KIP-279). */
    ck_assert(t.u.fetch_reply.diverging);
    ck_assert_int_eq(t.u.fetch_reply.diverging_epoch, 1);
    ck_assert_int_eq(t.u.fetch_reply.diverging_end_offset, 5);
    /* and one whose records are older than our first epoch learns that
     * there is no common epoch. */
    rt_fetch(&t, 3, 1, 4, 4, 0, 4);
    ck_assert(t.u.fetch_reply.diverging);
    ck_assert_int_eq(t.u.fetch_reply.diverging_epoch, -1);
}
END_TEST

START_TEST(test_fetch_with_an_old_or_future_leader_epoch_is_refused)
{
    /* Given the leader of epoch 3, */
    leader_of_3();
    /* a fetch believing in epoch 2 is fenced, one in epoch 4 unknown. */
    rt_fetch(&t, 2, 1, 2, 10, 2, 10);
    ck_assert_int_eq(t.u.fetch_reply.error, ST_REPLICA_ERR_FENCED_EPOCH);
    rt_fetch(&t, 2, 1, 4, 10, 2, 10);
    ck_assert_int_eq(t.u.fetch_reply.error, ST_REPLICA_ERR_UNKNOWN_EPOCH);
}
END_TEST

START_TEST(test_fetch_below_our_log_start_is_out_of_range)
{
    /* Given a leader whose log now starts at 6, */
    leader_of_3();
    struct st_replica_event ev = {.type = ST_REPLICA_EV_APPENDED};
    ev.appended.log_start = 6;
    ev.appended.log_end = 10;
    ev.appended.durable_end = 10;
    rt_step(&t, ev);
    /* when a follower fetches at 2, it is told where the log starts. */
    rt_fetch(&t, 2, 1, 3, 2, 1, 2);
    ck_assert_int_eq(t.u.fetch_reply.error, ST_REPLICA_ERR_OUT_OF_RANGE);
    ck_assert_int_eq(t.u.fetch_reply.log_start, 6);
}
END_TEST

START_TEST(test_fetch_on_a_non_leader_is_answered_not_leader)
{
    /* Given a follower of broker 2, */
    rt_init(&t, 1, true, 10, ep, 2);
    rt_partition(&t, 2, 3, 3, all3, 3);
    /* a fetch sent to it is refused, and so is one from a non-replica. */
    ck_assert_int_eq(rt_fetch(&t, 3, 1, 3, 10, 2, 10), ST_ENOTLEADER);
    ck_assert(t.u.has_fetch_reply);
    ck_assert_int_eq(t.u.fetch_reply.error, ST_REPLICA_ERR_NOT_LEADER);
    st_replica_free(t.r);
    leader_of_3();
    ck_assert_int_eq(rt_fetch(&t, 9, 1, 3, 10, 2, 10), ST_ENOTLEADER);
}
END_TEST

START_TEST(test_reordered_older_fetch_does_not_move_a_follower_back)
{
    /* Given follower 2 known at 12 in this epoch, */
    leader_of_3();
    rt_append(&t, 5, 3, 15);
    rt_fetch(&t, 2, 1, 3, 12, 3, 12);
    rt_fetch(&t, 3, 1, 3, 15, 3, 15);
    ck_assert_int_eq(t.u.hw_offset, 12);
    /* when an older fetch of the same incarnation at 10 arrives late, */
    rt_fetch(&t, 2, 1, 3, 10, 2, 10);
    /* it is served, but the HW and what we know of 2 stay. */
    ck_assert_int_eq(t.u.fetch_reply.error, ST_REPLICA_OK);
    rt_fetch(&t, 2, 1, 3, 15, 3, 15);
    ck_assert_int_eq(t.u.hw_offset, 15);
}
END_TEST

START_TEST(test_metadata_without_us_as_replica_makes_us_idle)
{
    /* Given a leader, when the replica set no longer holds broker 1, */
    static const struct st_replica_member m[2] = {{2, 1, false}, {3, 1, false}};
    static const int32_t isr23[] = {2, 3};
    leader_of_3();
    struct st_replica_event ev = {.type = ST_REPLICA_EV_PARTITION_CHANGED};
    ev.partition.leader = 2;
    ev.partition.leader_epoch = 4;
    ev.partition.partition_epoch = 4;
    ev.partition.replicas = m;
    ev.partition.n_replicas = 2;
    ev.partition.isr = isr23;
    ev.partition.n_isr = 2;
    ck_assert_int_eq(rt_step(&t, ev), 0);
    /* it neither leads nor fetches. */
    ck_assert_int_eq(t.u.role, ST_REPLICA_NONE);
    ck_assert(!t.u.has_fetch);
}
END_TEST

START_TEST(test_isr_naming_a_non_replica_is_invalid)
{
    /* Given a core, a partition change whose ISR names broker 9 (not a
     * replica) is refused. */
    static const int32_t bad[] = {1, 9};
    rt_init(&t, 1, true, 0, NULL, 0);
    ck_assert_int_eq(rt_partition(&t, 1, 1, 1, bad, 2), ST_EINVAL);
    ck_assert_int_eq(st_replica_role(t.r), ST_REPLICA_NONE);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("replica_leader");
    TCase *tc = tcase_create("leader");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(
        tc, test_named_leader_becomes_leader_and_starts_its_epoch_at_its_end);
    tcase_add_test(tc,
                   test_matching_fetch_is_served_from_its_offset_to_our_end);
    tcase_add_test(tc,
                   test_follower_past_our_epoch_end_gets_a_diverging_answer);
    tcase_add_test(
        tc, test_follower_with_an_epoch_we_lack_gets_our_largest_below_it);
    tcase_add_test(tc,
                   test_fetch_with_an_old_or_future_leader_epoch_is_refused);
    tcase_add_test(tc, test_fetch_below_our_log_start_is_out_of_range);
    tcase_add_test(tc, test_fetch_on_a_non_leader_is_answered_not_leader);
    tcase_add_test(tc,
                   test_reordered_older_fetch_does_not_move_a_follower_back);
    tcase_add_test(tc, test_metadata_without_us_as_replica_makes_us_idle);
    tcase_add_test(tc, test_isr_naming_a_non_replica_is_invalid);
    suite_add_tcase(s, tc);
    return s;
}
