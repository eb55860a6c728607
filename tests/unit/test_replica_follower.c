/* follower.c: what a follower fetches, and what it does with the answer:
 * leader-epoch truncation (KIP-101, KIP-279), restart from the leader's log
 * start, appending fetched records, and its HW. */
#include "test_replica_util.h"

static struct rt t;
static const int32_t all3[] = {1, 2, 3};
/* Our log: epoch 1 at [0, 5), epoch 3 at [5, 8). */
static const struct st_replica_epoch ours[] = {{1, 0}, {3, 5}};

static void teardown(void)
{
    st_replica_free(t.r);
}

/* Broker 3 follows leader 2 in epoch 4 with our 8-record log. */
static void follower_of_2(void)
{
    rt_init(&t, 3, true, 8, ours, 2);
    ck_assert_int_eq(rt_partition(&t, 2, 4, 4, all3, 3), 0);
    ck_assert_int_eq(t.u.role, ST_REPLICA_FOLLOWER);
}

/* A reply to the fetch in flight, without data. */
static struct st_replica_fetch_reply reply_to_fetch(void)
{
    struct st_replica_fetch_reply r = {0};
    r.leader_epoch = t.u.fetch.current_leader_epoch;
    r.fetch_offset = t.u.fetch.fetch_offset;
    r.offset = t.u.fetch.fetch_offset;
    r.data_end = t.u.fetch.fetch_offset;
    r.diverging_epoch = -1;
    r.diverging_end_offset = -1;
    return r;
}

START_TEST(test_follower_fetches_from_its_log_end_with_its_last_epoch)
{
    /* Given a follower of broker 2 in epoch 4, */
    follower_of_2();
    /* it fetches at once from its log end, naming the epoch of its last
     * record, its view of the leader epoch and its durable end. */
    ck_assert(t.u.has_fetch);
    ck_assert_int_eq(t.u.fetch.to, 2);
    ck_assert_int_eq(t.u.fetch.replica_id, 3);
    ck_assert_int_eq(t.u.fetch.broker_epoch, 1);
    ck_assert_int_eq(t.u.fetch.current_leader_epoch, 4);
    ck_assert_int_eq(t.u.fetch.fetch_offset, 8);
    ck_assert_int_eq(t.u.fetch.last_fetched_epoch, 3);
    ck_assert_int_eq(t.u.fetch.durable_end, 8);
}
END_TEST

START_TEST(test_diverging_answer_truncates_to_the_leaders_epoch_end)
{
    /* Given a follower whose epoch 3 runs to 8, */
    follower_of_2();
    /* when the leader says its epoch 3 ended at 6, */
    struct st_replica_fetch_reply r = reply_to_fetch();
    r.diverging = true;
    r.diverging_epoch = 3;
    r.diverging_end_offset = 6;
    ck_assert_int_eq(rt_reply(&t, r), 0);
    /* the follower truncates to 6 before fetching again from there. */
    ck_assert_int_eq(t.u.truncate_to, 6);
    ck_assert(!t.u.append_fetched);
    ck_assert(t.u.has_fetch);
    ck_assert_int_eq(t.u.fetch.fetch_offset, 6);
    ck_assert_int_eq(t.u.fetch.last_fetched_epoch, 3);
    ck_assert_int_eq(st_replica_durable_end(t.r), 6);
}
END_TEST

START_TEST(test_leader_without_our_epoch_makes_us_truncate_to_our_own_end)
{
    /* Given a follower with epochs 1 [0,5) and 3 [5,8), */
    follower_of_2();
    /* when the leader has no epoch 3 and says its epoch 2 ended at 7, */
    struct st_replica_fetch_reply r = reply_to_fetch();
    r.diverging = true;
    r.diverging_epoch = 2;
    r.diverging_end_offset = 7;
    rt_reply(&t, r);
    /* the follower truncates to the end of its own largest epoch <= 2
     * (epoch 1 ends at 5), not to 7 (KIP-279), and asks again with 1. */
    ck_assert_int_eq(t.u.truncate_to, 5);
    ck_assert_int_eq(t.u.fetch.fetch_offset, 5);
    ck_assert_int_eq(t.u.fetch.last_fetched_epoch, 1);
}
END_TEST

START_TEST(test_no_common_epoch_resets_the_log_to_the_leaders_start)
{
    /* Given a follower, when the leader has no epoch at or below ours, */
    follower_of_2();
    struct st_replica_fetch_reply r = reply_to_fetch();
    r.diverging = true;
    r.log_start = 0;
    rt_reply(&t, r);
    /* nothing of our log can be proven: delete it, restart at 0. */
    ck_assert_int_eq(t.u.reset_to, 0);
    ck_assert_int_eq(t.u.fetch.fetch_offset, 0);
    ck_assert_int_eq(t.u.fetch.last_fetched_epoch, -1);
}
END_TEST

START_TEST(test_follower_far_behind_the_log_start_restarts_from_it)
{
    /* Given a follower at offset 8, */
    follower_of_2();
    /* when the leader's log now starts at 100, */
    struct st_replica_fetch_reply r = reply_to_fetch();
    r.error = ST_REPLICA_ERR_OUT_OF_RANGE;
    r.log_start = 100;
    rt_reply(&t, r);
    /* the follower deletes its log and fetches from 100 on. */
    ck_assert_int_eq(t.u.reset_to, 100);
    ck_assert_int_eq(t.u.fetch.fetch_offset, 100);
    ck_assert_int_eq(t.u.fetch.last_fetched_epoch, -1);
    ck_assert_int_eq(st_replica_log_end(t.r), 100);
}
END_TEST

START_TEST(test_fetched_records_are_appended_and_the_hw_is_capped_by_our_end)
{
    /* Given a follower at 8, */
    follower_of_2();
    /* when records [8, 12) of epoch 4 arrive with leader HW 20, */
    struct st_replica_epoch runs[] = {{4, 8}};
    struct st_replica_fetch_reply r = reply_to_fetch();
    r.hw = 20;
    r.data_end = 12;
    r.runs = runs;
    r.n_runs = 1;
    rt_reply(&t, r);
    /* the driver appends them, the HW is min(20, 12), and the next fetch
     * leaves at once from 12 with epoch 4. */
    ck_assert(t.u.append_fetched);
    ck_assert_int_eq(t.u.hw_offset, 12);
    ck_assert_int_eq(t.u.fetch.fetch_offset, 12);
    ck_assert_int_eq(t.u.fetch.last_fetched_epoch, 4);
    /* They are not durable until the log says so. */
    ck_assert_int_eq(st_replica_durable_end(t.r), 8);
}
END_TEST

START_TEST(test_reply_to_another_fetch_is_ignored)
{
    /* Given a follower with a fetch at 8 in flight, */
    follower_of_2();
    /* when a late reply for offset 6 arrives with data, */
    struct st_replica_epoch runs[] = {{4, 6}};
    struct st_replica_fetch_reply r = reply_to_fetch();
    r.fetch_offset = 6;
    r.offset = 6;
    r.data_end = 9;
    r.runs = runs;
    r.n_runs = 1;
    ck_assert_int_eq(rt_reply(&t, r), 0);
    /* nothing is appended or truncated. */
    ck_assert(!t.u.append_fetched);
    ck_assert_int_eq(t.u.truncate_to, -1);
    ck_assert_int_eq(st_replica_log_end(t.r), 8);
}
END_TEST

START_TEST(test_lost_fetch_is_resent_after_the_timeout)
{
    /* Given a fetch in flight, */
    follower_of_2();
    /* when no answer came within fetch_timeout_ms (2000), */
    rt_tick(&t, 1999);
    ck_assert(!t.u.has_fetch);
    rt_tick(&t, 1);
    /* it is sent again. */
    ck_assert(t.u.has_fetch);
    ck_assert_int_eq(t.u.fetch.fetch_offset, 8);
}
END_TEST

START_TEST(test_durable_progress_is_reported_without_waiting)
{
    /* Given a follower that fetched [8, 12), not yet durable, */
    follower_of_2();
    struct st_replica_epoch runs[] = {{4, 8}};
    struct st_replica_fetch_reply r = reply_to_fetch();
    r.data_end = 12;
    r.runs = runs;
    r.n_runs = 1;
    rt_reply(&t, r);
    /* and then got an empty answer, so it idles for the backoff, */
    rt_reply(&t, reply_to_fetch());
    ck_assert(!t.u.has_fetch);
    /* when its log makes the records durable, */
    struct st_replica_event ev = {.type = ST_REPLICA_EV_APPENDED};
    ev.appended.log_end = 12;
    ev.appended.durable_end = 12;
    rt_step(&t, ev);
    /* it fetches at once so that the leader's durable HW can move. */
    ck_assert(t.u.has_fetch);
    ck_assert_int_eq(t.u.fetch.durable_end, 12);
}
END_TEST

START_TEST(test_leader_change_makes_the_follower_fetch_from_the_new_leader)
{
    /* Given a follower of broker 2, */
    follower_of_2();
    /* when broker 1 becomes leader of epoch 5, */
    rt_partition(&t, 1, 5, 5, all3, 3);
    /* the next fetch goes to 1 in epoch 5, at once. */
    ck_assert(t.u.has_fetch);
    ck_assert_int_eq(t.u.fetch.to, 1);
    ck_assert_int_eq(t.u.fetch.current_leader_epoch, 5);
    /* and a stale change from epoch 4 is ignored. */
    rt_partition(&t, 2, 4, 6, all3, 3);
    ck_assert_int_eq(st_replica_leader_epoch(t.r), 5);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("replica_follower");
    TCase *tc = tcase_create("follower");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc,
                   test_follower_fetches_from_its_log_end_with_its_last_epoch);
    tcase_add_test(tc,
                   test_diverging_answer_truncates_to_the_leaders_epoch_end);
    tcase_add_test(
        tc, test_leader_without_our_epoch_makes_us_truncate_to_our_own_end);
    tcase_add_test(tc,
                   test_no_common_epoch_resets_the_log_to_the_leaders_start);
    tcase_add_test(tc, test_follower_far_behind_the_log_start_restarts_from_it);
    tcase_add_test(
        tc, test_fetched_records_are_appended_and_the_hw_is_capped_by_our_end);
    tcase_add_test(tc, test_reply_to_another_fetch_is_ignored);
    tcase_add_test(tc, test_lost_fetch_is_resent_after_the_timeout);
    tcase_add_test(tc, test_durable_progress_is_reported_without_waiting);
    tcase_add_test(
        tc, test_leader_change_makes_the_follower_fetch_from_the_new_leader);
    suite_add_tcase(s, tc);
    return s;
}
