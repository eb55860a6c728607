/* The leader receiving AppendEntries answers (recv_append_result.c). */
#include "test_raft_util.h"

static struct rt t;

static void teardown(void)
{
    raft_free(t.r);
}

static struct raft_msg reject(raft_id from, raft_term term,
                              raft_index rejected, raft_term conflict_term,
                              raft_index conflict_index)
{
    struct raft_msg m = {.type = RAFT_MSG_APPEND_RESULT, .from = from,
                         .to = 1, .term = term};
    m.append_result.success = false;
    m.append_result.rejected_index = rejected;
    m.append_result.conflict_term = conflict_term;
    m.append_result.conflict_index = conflict_index;
    return m;
}

/* Given a leader whose peer 2 acknowledged index 6, */
static raft_term leader_with_peer_at_6(void)
{
    rt_init(&t, 1, 3, NULL);
    static const raft_term terms[] = {1, 1, 1, 1, 1};
    rt_start(&t, 1, 0, terms, 5);
    static const raft_id grants[] = {2, 3};
    rt_elect(&t, 1, grants, 2);
    raft_term term = raft_current_term(t.r);
    ck_assert_int_eq(rt_recv(&t, rt_ack(2, 1, term, 6)), 0);
    return term;
}

START_TEST(test_peer_that_lost_its_log_is_probed_from_its_real_end)
{
    raft_term term = leader_with_peer_at_6();
    /* when peer 2 comes back with an empty log (re-formatted) and rejects
     * a heartbeat at prev 6 saying its log ends before index 1, */
    ck_assert_int_eq(rt_recv(&t, reject(2, term, 6, 0, 1)), 0);
    /* then the leader probes it from the start instead of ignoring it. */
    const struct raft_msg *a = rt_msg(&t, RAFT_MSG_APPEND, 2);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->append.prev_index, 0);
    ck_assert_uint_ge(a->append.n_entries, 1);
}
END_TEST

START_TEST(test_rejection_below_match_with_a_term_hint_is_stale)
{
    raft_term term = leader_with_peer_at_6();
    /* when an old rejection of prev 3 (conflict in term 1) arrives late, */
    ck_assert_int_eq(rt_recv(&t, reject(2, term, 3, 1, 2)), 0);
    /* then nothing is re-sent to peer 2 because of it. */
    ck_assert_ptr_null(rt_msg(&t, RAFT_MSG_APPEND, 2));
}
END_TEST

START_TEST(test_rejection_above_match_backs_off_with_the_hint)
{
    raft_term term = leader_with_peer_at_6();
    /* Given two more entries sent optimistically to peer 2, */
    ck_assert_int_eq(rt_propose(&t, 2), 0);
    ck_assert_int_eq(rt_persist_all(&t), 0);
    /* when peer 2 rejects prev 7 saying its log ends at 6, */
    ck_assert_int_eq(rt_recv(&t, reject(2, term, 7, 0, 7)), 0);
    /* then the leader resends from index 7. */
    const struct raft_msg *a = rt_msg(&t, RAFT_MSG_APPEND, 2);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->append.prev_index, 6);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("raft_recv_append_result");
    TCase *tc = tcase_create("recv_append_result");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_peer_that_lost_its_log_is_probed_from_its_real_end);
    tcase_add_test(tc, test_rejection_below_match_with_a_term_hint_is_stale);
    tcase_add_test(tc, test_rejection_above_match_backs_off_with_the_hint);
    suite_add_tcase(s, tc);
    return s;
}
