/* recv_vote.c and recv_vote_result.c: granting votes and counting them. */
#include "test_raft_util.h"

static struct rt t;

static void teardown(void)
{
    raft_free(t.r);
}

static struct raft_msg vote(raft_id from, raft_term term, raft_index li,
                            raft_term lt, bool pre)
{
    struct raft_msg m = {.type = RAFT_MSG_VOTE, .from = from, .to = t.id,
                         .term = term};
    m.vote.last_index = li;
    m.vote.last_term = lt;
    m.vote.pre_vote = pre;
    return m;
}

START_TEST(test_vote_is_granted_and_must_be_persisted_before_the_reply)
{
    /* Given a follower in term 1 with log [1, 1], */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, (raft_term[]){1, 1}, 2);
    /* when a candidate with an equal log asks for term 2, */
    ck_assert_int_eq(rt_recv(&t, vote(2, 2, 2, 1, false)), 0);
    /* the vote is granted in term 2 and term+vote are flagged durable in
     * the same update (the driver syncs them before sending). */
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_VOTE_RESULT, 2);
    ck_assert_ptr_nonnull(m);
    ck_assert(m->vote_result.granted);
    ck_assert_uint_eq(m->term, 2);
    ck_assert(t.u.flags & RAFT_UPD_TERM_VOTE);
    ck_assert_uint_eq(t.u.term, 2);
    ck_assert_uint_eq(t.u.vote, 2);
}
END_TEST

START_TEST(test_vote_is_refused_to_a_candidate_with_an_older_log)
{
    /* Given a follower whose last entry has term 2, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 2, 0, (raft_term[]){1, 2}, 2);
    /* when a candidate whose log ends in term 1 (but is longer) asks, */
    ck_assert_int_eq(rt_recv(&t, vote(2, 3, 5, 1, false)), 0);
    /* the vote is refused (Raft 5.4.1), though the term is adopted. */
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_VOTE_RESULT, 2);
    ck_assert(!m->vote_result.granted);
    ck_assert_uint_eq(raft_current_term(t.r), 3);
    ck_assert_uint_eq(t.u.vote, 0);
}
END_TEST

START_TEST(test_second_candidate_in_a_term_is_refused)
{
    /* Given a follower that voted for node 2 in term 2, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 2, 2, NULL, 0);
    /* when node 3 asks for term 2, it is refused; node 2 asking again is
     * granted (a lost reply is retried). */
    ck_assert_int_eq(rt_recv(&t, vote(3, 2, 0, 0, false)), 0);
    ck_assert(!rt_msg(&t, RAFT_MSG_VOTE_RESULT, 3)->vote_result.granted);
    ck_assert_int_eq(rt_recv(&t, vote(2, 2, 0, 0, false)), 0);
    ck_assert(rt_msg(&t, RAFT_MSG_VOTE_RESULT, 2)->vote_result.granted);
}
END_TEST

START_TEST(test_pre_vote_changes_neither_term_nor_vote)
{
    /* Given a follower in term 4, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 4, 0, NULL, 0);
    /* when a pre-candidate asks for term 5, */
    ck_assert_int_eq(rt_recv(&t, vote(2, 5, 0, 0, true)), 0);
    /* it is granted with term 5 but our term, vote and disk stay. */
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_VOTE_RESULT, 2);
    ck_assert(m->vote_result.granted && m->vote_result.pre_vote);
    ck_assert_uint_eq(m->term, 5);
    ck_assert_uint_eq(raft_current_term(t.r), 4);
    ck_assert_uint_eq(t.u.flags & (RAFT_UPD_TERM_VOTE), 0);
}
END_TEST

START_TEST(test_vote_is_ignored_while_the_leader_is_alive)
{
    /* Given a follower that just heard from leader 2 in term 3, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 3, 0, NULL, 0);
    ck_assert_int_eq(rt_recv(&t, rt_append(&t, 2, 3, 0, 0, 0, NULL, 0)), 0);
    /* when node 3 asks for a vote (or pre-vote) in term 4, */
    ck_assert_int_eq(rt_recv(&t, vote(3, 4, 9, 3, false)), 0);
    /* nothing is answered and the term stays (leader stickiness), */
    ck_assert_uint_eq(t.u.n_msgs, 0);
    ck_assert_uint_eq(raft_current_term(t.r), 3);
    /* but a vote that comes from a leadership transfer is heard. */
    struct raft_msg m = vote(3, 4, 9, 3, false);
    m.vote.transfer = true;
    ck_assert_int_eq(rt_recv(&t, m), 0);
    ck_assert(rt_msg(&t, RAFT_MSG_VOTE_RESULT, 3)->vote_result.granted);
}
END_TEST

START_TEST(test_pre_vote_majority_starts_a_real_election)
{
    /* Given node 1 of 3 whose election timer fired, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, NULL, 0);
    ck_assert_int_eq(rt_tick(&t, 2 * ET), 0);
    ck_assert_int_eq(raft_role(t.r), RAFT_PRE_CANDIDATE);
    ck_assert_uint_eq(raft_current_term(t.r), 1);
    ck_assert_uint_eq(rt_count(&t, RAFT_MSG_VOTE), 2);
    /* when one pre-vote is granted (a majority with its own), */
    ck_assert_int_eq(rt_recv(&t, rt_vote_result(2, 1, 2, true, true)), 0);
    /* it becomes candidate in term 2, votes for itself durably and asks. */
    ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE);
    ck_assert_uint_eq(raft_current_term(t.r), 2);
    ck_assert(t.u.flags & RAFT_UPD_TERM_VOTE);
    ck_assert_uint_eq(t.u.vote, 1);
    ck_assert(!rt_msg(&t, RAFT_MSG_VOTE, 3)->vote.pre_vote);
}
END_TEST

START_TEST(test_vote_majority_makes_a_leader_that_appends_a_noop)
{
    /* Given a candidate in term 2 with log [1], */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, (raft_term[]){1}, 1);
    ck_assert_int_eq(rt_tick(&t, 2 * ET), 0);
    ck_assert_int_eq(rt_recv(&t, rt_vote_result(2, 1, 2, true, true)), 0);
    /* when a vote is granted, */
    ck_assert_int_eq(rt_recv(&t, rt_vote_result(3, 1, 2, true, false)), 0);
    /* it leads and writes a no-op of term 2 at index 2, sent to both. */
    ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
    ck_assert_uint_eq(t.u.n_entries, 1);
    ck_assert_uint_eq(t.u.entries[0].index, 2);
    ck_assert_uint_eq(t.u.entries[0].type, RAFT_ENTRY_NOOP);
    ck_assert_ptr_nonnull(rt_msg(&t, RAFT_MSG_APPEND, 2));
    ck_assert_ptr_nonnull(rt_msg(&t, RAFT_MSG_APPEND, 3));
}
END_TEST

START_TEST(test_refusal_majority_ends_the_election)
{
    /* Given a 3-voter pre-candidate, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, NULL, 0);
    ck_assert_int_eq(rt_tick(&t, 2 * ET), 0);
    /* when both others refuse, */
    ck_assert_int_eq(rt_recv(&t, rt_vote_result(2, 1, 1, false, true)), 0);
    ck_assert_int_eq(rt_recv(&t, rt_vote_result(3, 1, 1, false, true)), 0);
    /* it is a follower again, in the same term. */
    ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_current_term(t.r), 1);
}
END_TEST

START_TEST(test_stale_vote_answers_are_not_counted)
{
    /* Given a candidate in term 3, */
    rt_init(&t, 1, 5, NULL);
    rt_start(&t, 2, 0, NULL, 0);
    ck_assert_int_eq(rt_tick(&t, 2 * ET), 0);
    ck_assert_int_eq(rt_recv(&t, rt_vote_result(2, 1, 3, true, true)), 0);
    ck_assert_int_eq(rt_recv(&t, rt_vote_result(3, 1, 3, true, true)), 0);
    ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE);
    /* when grants arrive for term 2 and the same voter twice, */
    ck_assert_int_eq(rt_recv(&t, rt_vote_result(2, 1, 2, true, false)), 0);
    ck_assert_int_eq(rt_recv(&t, rt_vote_result(3, 1, 3, true, false)), 0);
    ck_assert_int_eq(rt_recv(&t, rt_vote_result(3, 1, 3, true, false)), 0);
    /* it still needs a third vote of 5. */
    ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE);
    ck_assert_int_eq(rt_recv(&t, rt_vote_result(4, 1, 3, true, false)), 0);
    ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
}
END_TEST

START_TEST(test_unsafe_switch_marks_the_vote_lazy)
{
    /* Given the test-only unsafe_send_before_persist switch, */
    struct raft_config c = {.unsafe_send_before_persist = true};
    rt_init(&t, 1, 3, &c);
    rt_start(&t, 1, 0, NULL, 0);
    /* a granted vote no longer requires a sync before the reply. */
    ck_assert_int_eq(rt_recv(&t, vote(2, 2, 0, 0, false)), 0);
    ck_assert(rt_msg(&t, RAFT_MSG_VOTE_RESULT, 2)->vote_result.granted);
    ck_assert_uint_eq(t.u.flags & RAFT_UPD_TERM_VOTE, 0);
    ck_assert(t.u.flags & RAFT_UPD_TERM_VOTE_LAZY);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("raft_recv_vote");
    TCase *tc = tcase_create("vote");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_vote_is_granted_and_must_be_persisted_before_the_reply);
    tcase_add_test(tc, test_vote_is_refused_to_a_candidate_with_an_older_log);
    tcase_add_test(tc, test_second_candidate_in_a_term_is_refused);
    tcase_add_test(tc, test_pre_vote_changes_neither_term_nor_vote);
    tcase_add_test(tc, test_vote_is_ignored_while_the_leader_is_alive);
    tcase_add_test(tc, test_pre_vote_majority_starts_a_real_election);
    tcase_add_test(tc, test_vote_majority_makes_a_leader_that_appends_a_noop);
    tcase_add_test(tc, test_refusal_majority_ends_the_election);
    tcase_add_test(tc, test_stale_vote_answers_are_not_counted);
    tcase_add_test(tc, test_unsafe_switch_marks_the_vote_lazy);
    suite_add_tcase(s, tc);
    return s;
}
