/* recv_append.c and recv_append_result.c: log replication, acknowledgement
 * after persistence, back-tracking and the commit rule. */
#include "common/alloc.h"
#include "test_raft_util.h"

static struct rt t;

static void teardown(void)
{
    raft_free(t.r);
}

static struct raft_msg reject(raft_id from, raft_term term, raft_index rej,
                              raft_term ct, raft_index ci)
{
    struct raft_msg m = {.type = RAFT_MSG_APPEND_RESULT, .from = from,
                         .to = 1, .term = term};
    m.append_result.rejected_index = rej;
    m.append_result.conflict_term = ct;
    m.append_result.conflict_index = ci;
    return m;
}

START_TEST(test_append_is_acknowledged_only_once_persisted)
{
    /* Given a follower with log [1], */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, (raft_term[]){1}, 1);
    /* when leader 2 appends two entries of term 1, */
    ck_assert_int_eq(
        rt_recv(&t, rt_append(&t, 2, 1, 1, 1, 1, (raft_term[]){1, 1}, 2)), 0);
    /* they are handed to the driver to write, but no success leaves yet; */
    ck_assert_uint_eq(t.u.n_entries, 2);
    ck_assert_uint_eq(t.u.entries[0].index, 2);
    ck_assert_ptr_null(rt_msg(&t, RAFT_MSG_APPEND_RESULT, 2));
    ck_assert_uint_eq(t.u.commit_index, 1);
    /* when the write of index 2 is durable, success up to 2 leaves, */
    ck_assert_int_eq(rt_persisted(&t, 2, 1), 0);
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_APPEND_RESULT, 2);
    ck_assert(m->append_result.success);
    ck_assert_uint_eq(m->append_result.last_index, 2);
    /* and at index 3, success up to 3. */
    ck_assert_int_eq(rt_persisted(&t, 3, 1), 0);
    ck_assert_uint_eq(
        rt_msg(&t, RAFT_MSG_APPEND_RESULT, 2)->append_result.last_index, 3);
}
END_TEST

START_TEST(test_append_after_a_gap_is_rejected_with_the_log_end)
{
    /* Given a follower with log [1, 1], */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, (raft_term[]){1, 1}, 2);
    /* when the leader sends entries after index 5, */
    ck_assert_int_eq(
        rt_recv(&t, rt_append(&t, 2, 1, 5, 1, 0, (raft_term[]){1}, 1)), 0);
    /* it refuses and hints its log ends at 2 (next try from 3). */
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_APPEND_RESULT, 2);
    ck_assert(!m->append_result.success);
    ck_assert_uint_eq(m->append_result.rejected_index, 5);
    ck_assert_uint_eq(m->append_result.conflict_term, 0);
    ck_assert_uint_eq(m->append_result.conflict_index, 3);
}
END_TEST

START_TEST(test_mismatch_hints_the_first_index_of_the_conflicting_term)
{
    /* Given a follower with log [1, 2, 2, 2] in term 3, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 3, 0, (raft_term[]){1, 2, 2, 2}, 4);
    /* when leader 2 (term 3) says index 4 has term 3, */
    ck_assert_int_eq(rt_recv(&t, rt_append(&t, 2, 3, 4, 3, 0, NULL, 0)), 0);
    /* the hint is term 2 starting at index 2. */
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_APPEND_RESULT, 2);
    ck_assert_uint_eq(m->append_result.conflict_term, 2);
    ck_assert_uint_eq(m->append_result.conflict_index, 2);
}
END_TEST

START_TEST(test_conflicting_suffix_is_truncated_and_replaced)
{
    /* Given a follower with log [1, 2, 2] in term 3, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 3, 0, (raft_term[]){1, 2, 2}, 3);
    /* when the leader sends [3, 3] after index 1, */
    ck_assert_int_eq(
        rt_recv(&t, rt_append(&t, 2, 3, 1, 1, 0, (raft_term[]){3, 3}, 2)), 0);
    /* the driver truncates from 2 and writes the two new entries. */
    ck_assert_uint_eq(t.u.truncate_from, 2);
    ck_assert_uint_eq(t.u.n_entries, 2);
    ck_assert_uint_eq(t.u.entries[0].term, 3);
    ck_assert_uint_eq(raft_last_index(t.r), 3);
    ck_assert_uint_eq(raft_persisted_index(t.r), 1);
}
END_TEST

START_TEST(test_commit_follows_the_leader_and_never_goes_back)
{
    /* Given a follower with log [1, 1, 1], */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, (raft_term[]){1, 1, 1}, 3);
    /* when the leader says commit 2 (verified up to 3), */
    ck_assert_int_eq(rt_recv(&t, rt_append(&t, 2, 1, 3, 1, 2, NULL, 0)), 0);
    ck_assert_uint_eq(t.u.commit_index, 2);
    /* commit is capped by what this append verified, */
    ck_assert_int_eq(rt_recv(&t, rt_append(&t, 2, 1, 1, 1, 9, NULL, 0)), 0);
    ck_assert_uint_eq(t.u.commit_index, 2);
    /* and a late message with commit 1 does not move it back. */
    ck_assert_int_eq(rt_recv(&t, rt_append(&t, 2, 1, 3, 1, 1, NULL, 0)), 0);
    ck_assert_uint_eq(t.u.commit_index, 2);
}
END_TEST

START_TEST(test_append_from_a_stale_leader_is_answered_with_our_term)
{
    /* Given a follower in term 5, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 5, 0, NULL, 0);
    /* when a leader of term 4 appends, it is told term 5. */
    ck_assert_int_eq(rt_recv(&t, rt_append(&t, 2, 4, 0, 0, 0, NULL, 0)), 0);
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_APPEND_RESULT, 2);
    ck_assert(!m->append_result.success);
    ck_assert_uint_eq(m->term, 5);
}
END_TEST

START_TEST(test_overwriting_a_committed_entry_is_refused)
{
    /* Given a follower that learned commit 2 of log [1, 1], */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, (raft_term[]){1, 1}, 2);
    ck_assert_int_eq(rt_recv(&t, rt_append(&t, 2, 1, 2, 1, 2, NULL, 0)), 0);
    /* when a (broken) leader of term 2 replaces index 2, */
    int rv = rt_recv(&t, rt_append(&t, 3, 2, 1, 1, 0, (raft_term[]){2}, 1));
    /* the core refuses with ST_ECORRUPT and keeps its log. */
    ck_assert_int_eq(rv, ST_ECORRUPT);
    ck_assert_uint_eq(raft_entry_at(t.r, 2)->term, 1);
}
END_TEST

START_TEST(test_leader_commits_only_current_term_entries_by_count)
{
    /* Given node 1 elected in term 2 over log [1] (no-op at 2), */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, (raft_term[]){1}, 1);
    rt_elect(&t, 1, (raft_id[]){2}, 1);
    ck_assert_uint_eq(raft_commit_index(t.r), 0);
    /* when node 2 acknowledges only index 1 (an old-term entry), nothing
     * commits (Raft 5.4.2), */
    ck_assert_int_eq(rt_recv(&t, rt_ack(2, 1, 2, 1)), 0);
    ck_assert_uint_eq(raft_commit_index(t.r), 0);
    /* and when it acknowledges the no-op, both commit. */
    ck_assert_int_eq(rt_recv(&t, rt_ack(2, 1, 2, 2)), 0);
    ck_assert_uint_eq(t.u.commit_index, 2);
}
END_TEST

START_TEST(test_leader_counts_itself_only_once_persisted)
{
    /* Given a leader of term 2 whose no-op at 1 is committed, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, NULL, 0);
    rt_elect(&t, 1, (raft_id[]){2}, 1);
    ck_assert_int_eq(rt_recv(&t, rt_ack(2, 1, 2, 1)), 0);
    ck_assert_uint_eq(raft_commit_index(t.r), 1);
    /* when it proposes and node 2 acknowledges index 2, */
    ck_assert_int_eq(rt_propose(&t, 1), 0);
    ck_assert_int_eq(rt_recv(&t, rt_ack(2, 1, 2, 2)), 0);
    /* index 2 is not committed while the leader's own copy is not durable
     * (one durable copy of three), */
    ck_assert_uint_eq(raft_commit_index(t.r), 1);
    /* and commits when the leader's write of it completes. */
    ck_assert_int_eq(rt_persisted(&t, 2, 2), 0);
    ck_assert_uint_eq(t.u.commit_index, 2);
}
END_TEST

START_TEST(test_rejection_jumps_back_over_the_conflicting_term)
{
    /* Given a leader of term 3 with log [1, 1, 1, 3(no-op)] (after a
     * history with terms 1 and 3), */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 2, 0, (raft_term[]){1, 1, 1}, 3);
    rt_elect(&t, 1, (raft_id[]){2}, 1);
    ck_assert_uint_eq(raft_current_term(t.r), 3);
    /* when node 3 rejects prev 3 with a hint "term 2 from index 2", which
     * the leader has no entry of, */
    ck_assert_int_eq(rt_recv(&t, reject(3, 3, 3, 2, 2)), 0);
    /* the next append starts at the hinted index 2 (prev 1). */
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_APPEND, 3);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->append.prev_index, 1);
    ck_assert_uint_eq(m->append.n_entries, 3);
    /* A late duplicate of that rejection changes nothing. */
    ck_assert_int_eq(rt_recv(&t, reject(3, 3, 3, 2, 2)), 0);
    ck_assert_ptr_null(rt_msg(&t, RAFT_MSG_APPEND, 3));
}
END_TEST

START_TEST(test_pipelining_sends_ahead_up_to_the_inflight_limit)
{
    /* Given a leader with inflight_max 2 and one entry per append, whose
     * peer 2 matched, */
    struct raft_config c = {.inflight_max = 2, .append_entries_max = 1};
    rt_init(&t, 1, 3, &c);
    rt_start(&t, 1, 0, NULL, 0);
    rt_elect(&t, 1, (raft_id[]){2}, 1);
    ck_assert_int_eq(rt_recv(&t, rt_ack(2, 1, 2, 1)), 0);
    /* when 3 entries are proposed, only two appends go to node 2, */
    ck_assert_int_eq(rt_propose(&t, 3), 0);
    unsigned to2 = 0;
    for (unsigned k = 0; k < t.u.n_msgs; k++) {
        to2 += t.u.msgs[k].to == 2 && t.u.msgs[k].type == RAFT_MSG_APPEND;
    }
    ck_assert_uint_eq(to2, 2);
    /* and the third leaves when the first is acknowledged. */
    ck_assert_int_eq(rt_recv(&t, rt_ack(2, 1, 2, 2)), 0);
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_APPEND, 2);
    ck_assert_uint_eq(m->append.prev_index, 3);
    ck_assert_uint_eq(m->append.n_entries, 1);
}
END_TEST

START_TEST(test_allocation_failures_are_reported_not_crashed_on)
{
    /* Given a follower, for each N the Nth allocation of an append of many
     * entries fails: */
    for (long n = 0; n < 45; n++) {
        rt_init(&t, 1, 3, NULL);
        rt_start(&t, 1, 0, NULL, 0);
        raft_term terms[40];
        for (int k = 0; k < 40; k++) {
            terms[k] = 1;
        }
        struct raft_msg m = rt_append(&t, 2, 1, 0, 0, 0, terms, 40);
        static const uint8_t byte = 7;
        for (int k = 0; k < 40; k++) {
            t.ents[k].data = (struct st_bytes){&byte, 1};
        }
        st_alloc_fail_after(n, 1);
        int rv = rt_recv(&t, m);
        st_alloc_fail_after(0, 0);
        /* the step either succeeds or says ST_ENOMEM (ASan checks that
         * nothing leaks or is touched after free). */
        ck_assert(rv == 0 || rv == ST_ENOMEM);
        raft_free(t.r);
        t.r = NULL;
    }
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("raft_recv_append");
    TCase *tc = tcase_create("append");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_append_is_acknowledged_only_once_persisted);
    tcase_add_test(tc, test_append_after_a_gap_is_rejected_with_the_log_end);
    tcase_add_test(tc, test_mismatch_hints_the_first_index_of_the_conflicting_term);
    tcase_add_test(tc, test_conflicting_suffix_is_truncated_and_replaced);
    tcase_add_test(tc, test_commit_follows_the_leader_and_never_goes_back);
    tcase_add_test(tc, test_append_from_a_stale_leader_is_answered_with_our_term);
    tcase_add_test(tc, test_overwriting_a_committed_entry_is_refused);
    tcase_add_test(tc, test_leader_commits_only_current_term_entries_by_count);
    tcase_add_test(tc, test_leader_counts_itself_only_once_persisted);
    tcase_add_test(tc, test_rejection_jumps_back_over_the_conflicting_term);
    tcase_add_test(tc, test_pipelining_sends_ahead_up_to_the_inflight_limit);
    tcase_add_test(tc, test_allocation_failures_are_reported_not_crashed_on);
    suite_add_tcase(s, tc);
    return s;
}
