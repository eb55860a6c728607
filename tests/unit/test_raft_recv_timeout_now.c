/* recv_timeout_now.c and transfer.c: leadership transfer; election.c:
 * timeouts, check-quorum. */
#include "test_raft_util.h"

static struct rt t;

static void teardown(void)
{
    raft_free(t.r);
}

static struct raft_msg timeout_now(raft_term term, raft_index li,
                                   raft_term lt)
{
    struct raft_msg m = {.type = RAFT_MSG_TIMEOUT_NOW, .from = 2, .to = 1,
                         .term = term};
    m.timeout_now.last_index = li;
    m.timeout_now.last_term = lt;
    return m;
}

START_TEST(test_timeout_now_starts_an_election_at_once)
{
    /* Given a follower of leader 2 with the leader's log [1], */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, (raft_term[]){1}, 1);
    ck_assert_int_eq(rt_recv(&t, rt_append(&t, 2, 1, 1, 1, 1, NULL, 0)), 0);
    /* when the leader says TimeoutNow, */
    ck_assert_int_eq(rt_recv(&t, timeout_now(1, 1, 1)), 0);
    /* it is candidate in term 2 right away (no pre-vote) and its vote
     * requests are marked as a transfer. */
    ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE);
    ck_assert_uint_eq(raft_current_term(t.r), 2);
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_VOTE, 3);
    ck_assert(m->vote.transfer && !m->vote.pre_vote);
}
END_TEST

START_TEST(test_timeout_now_is_ignored_when_the_logs_differ)
{
    /* Given a follower of leader 2 with log [1], */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, (raft_term[]){1}, 1);
    ck_assert_int_eq(rt_recv(&t, rt_append(&t, 2, 1, 1, 1, 1, NULL, 0)), 0);
    /* a TimeoutNow for a log ending at 2 is ignored. */
    ck_assert_int_eq(rt_recv(&t, timeout_now(1, 2, 1)), 0);
    ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
}
END_TEST

START_TEST(test_transfer_waits_for_the_target_then_sends_timeout_now)
{
    /* Given a leader of term 2 with node 3 behind, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, NULL, 0);
    rt_elect(&t, 1, (raft_id[]){2}, 1);
    /* when asked to transfer to node 3, */
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.to = 3;
    ck_assert_int_eq(rt_step(&t, ev), 0);
    ck_assert_ptr_null(rt_msg(&t, RAFT_MSG_TIMEOUT_NOW, 3));
    /* it refuses proposals meanwhile, */
    ck_assert_int_eq(rt_propose(&t, 1), ST_ENOTLEADER);
    /* and sends TimeoutNow once node 3 matches its whole log. */
    ck_assert_int_eq(rt_recv(&t, rt_ack(3, 1, 2, 1)), 0);
    ck_assert_ptr_nonnull(rt_msg(&t, RAFT_MSG_TIMEOUT_NOW, 3));
}
END_TEST

START_TEST(test_transfer_is_abandoned_after_an_election_timeout)
{
    /* Given a leader transferring to an unresponsive node 3, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, NULL, 0);
    rt_elect(&t, 1, (raft_id[]){2}, 1);
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.to = 3;
    ck_assert_int_eq(rt_step(&t, ev), 0);
    /* when an election timeout passes (node 2 keeps answering), */
    for (int k = 0; k < 12; k++) {
        ck_assert_int_eq(rt_recv(&t, rt_ack(2, 1, 2, 1)), 0);
        ck_assert_int_eq(rt_tick(&t, 10), 0);
    }
    /* it still leads and takes proposals again. */
    ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
    ck_assert_int_eq(rt_propose(&t, 1), 0);
}
END_TEST

START_TEST(test_leader_without_a_quorum_steps_down)
{
    /* Given a leader of 3 that hears from nobody, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, NULL, 0);
    rt_elect(&t, 1, (raft_id[]){2}, 1);
    /* when an election timeout passes twice, it is a follower. */
    for (int k = 0; k < 25 && raft_role(t.r) == RAFT_LEADER; k++) {
        ck_assert_int_eq(rt_tick(&t, 10), 0);
    }
    ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_current_term(t.r), 2);
}
END_TEST

START_TEST(test_without_check_quorum_a_lonely_leader_keeps_leading)
{
    struct raft_config c = {.disable_check_quorum = true};
    rt_init(&t, 1, 3, &c);
    rt_start(&t, 1, 0, NULL, 0);
    rt_elect(&t, 1, (raft_id[]){2}, 1);
    for (int k = 0; k < 100; k++) {
        ck_assert_int_eq(rt_tick(&t, 10), 0);
    }
    ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
}
END_TEST

START_TEST(test_single_voter_elects_itself_and_commits_alone)
{
    /* Given a one-voter group, */
    rt_init(&t, 1, 1, NULL);
    rt_start(&t, 0, 0, NULL, 0);
    /* when its timer fires it leads, */
    ck_assert_int_eq(rt_tick(&t, 2 * ET), 0);
    ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
    /* and a proposal commits once persisted. */
    ck_assert_int_eq(rt_propose(&t, 1), 0);
    ck_assert_uint_eq(t.u.commit_index, 0);
    ck_assert_int_eq(rt_persisted(&t, 2, 1), 0);
    ck_assert_uint_eq(t.u.commit_index, 2);
}
END_TEST

START_TEST(test_election_timeout_is_randomized_between_t_and_2t)
{
    /* Given a started follower, its next timeout lies in [T, 2T). */
    rt_init(&t, 1, 3, NULL);
    t.now = 1000;
    rt_start(&t, 0, 0, NULL, 0);
    ck_assert_uint_ge(t.u.next_timeout_ms, 1000 + ET);
    ck_assert_uint_lt(t.u.next_timeout_ms, 1000 + 2 * ET);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("raft_recv_timeout_now");
    TCase *tc = tcase_create("transfer");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_timeout_now_starts_an_election_at_once);
    tcase_add_test(tc, test_timeout_now_is_ignored_when_the_logs_differ);
    tcase_add_test(tc, test_transfer_waits_for_the_target_then_sends_timeout_now);
    tcase_add_test(tc, test_transfer_is_abandoned_after_an_election_timeout);
    suite_add_tcase(s, tc);
    tc = tcase_create("election");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_leader_without_a_quorum_steps_down);
    tcase_add_test(tc, test_without_check_quorum_a_lonely_leader_keeps_leading);
    tcase_add_test(tc, test_single_voter_elects_itself_and_commits_alone);
    tcase_add_test(tc, test_election_timeout_is_randomized_between_t_and_2t);
    suite_add_tcase(s, tc);
    return s;
}
