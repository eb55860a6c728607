/* recv_snapshot.c, recv_snapshot_result.c and snapshot.c: compaction and
 * chunked InstallSnapshot. */
#include "test_raft_util.h"

static struct rt t;

static void teardown(void)
{
    raft_free(t.r);
}

static struct raft_msg chunk(raft_index idx, raft_term term, uint64_t off,
                             const char *bytes, size_t len, uint64_t total)
{
    struct raft_msg m = {.type = RAFT_MSG_SNAPSHOT, .from = 2, .to = 1,
                         .term = 3};
    m.snapshot.last_index = idx;
    m.snapshot.last_term = term;
    m.snapshot.offset = off;
    m.snapshot.total_bytes = total;
    m.snapshot.chunk = (struct st_bytes){(const uint8_t *)bytes, len};
    return m;
}

START_TEST(test_chunks_are_assembled_in_order_then_installed)
{
    /* Given a follower in term 3 with a divergent log [1, 2], */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 3, 0, (raft_term[]){1, 2}, 2);
    /* when a 6-byte snapshot up to index 10 (term 3) arrives in 3 chunks, */
    ck_assert_int_eq(rt_recv(&t, chunk(10, 3, 0, "ab", 2, 6)), 0);
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_SNAPSHOT_RESULT, 2);
    ck_assert(!m->snapshot_result.done);
    ck_assert_uint_eq(m->snapshot_result.next_offset, 2);
    /* a chunk at the wrong offset is answered with the expected one, */
    ck_assert_int_eq(rt_recv(&t, chunk(10, 3, 4, "ef", 2, 6)), 0);
    ck_assert_uint_eq(
        rt_msg(&t, RAFT_MSG_SNAPSHOT_RESULT, 2)->snapshot_result.next_offset,
        2);
    ck_assert_int_eq(rt_recv(&t, chunk(10, 3, 2, "cd", 2, 6)), 0);
    ck_assert_uint_eq(t.u.flags & RAFT_UPD_SNAPSHOT, 0);
    ck_assert_int_eq(rt_recv(&t, chunk(10, 3, 4, "ef", 2, 6)), 0);
    /* and the last one installs it: the driver gets the bytes, drops the
     * whole divergent log, and the answer says done. */
    ck_assert(t.u.flags & RAFT_UPD_SNAPSHOT);
    ck_assert_uint_eq(t.u.snapshot.index, 10);
    ck_assert_uint_eq(t.u.snapshot_data.len, 6);
    ck_assert_mem_eq(t.u.snapshot_data.base, "abcdef", 6);
    ck_assert_uint_eq(t.u.truncate_from, 11);
    ck_assert_uint_eq(t.u.commit_index, 10);
    ck_assert_uint_eq(raft_last_index(t.r), 10);
    ck_assert(rt_msg(&t, RAFT_MSG_SNAPSHOT_RESULT, 2)->snapshot_result.done);
}
END_TEST

START_TEST(test_snapshot_keeps_the_log_suffix_that_matches)
{
    /* Given a follower with log [1, 1, 1, 1], */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 3, 0, (raft_term[]){1, 1, 1, 1}, 4);
    /* when a snapshot up to index 2 (term 1) is installed, */
    ck_assert_int_eq(rt_recv(&t, chunk(2, 1, 0, "x", 1, 1)), 0);
    /* entries 3 and 4 stay. */
    ck_assert(t.u.flags & RAFT_UPD_SNAPSHOT);
    ck_assert_uint_eq(t.u.truncate_from, 0);
    ck_assert_uint_eq(raft_last_index(t.r), 4);
    ck_assert_ptr_null(raft_entry_at(t.r, 2));
    ck_assert_ptr_nonnull(raft_entry_at(t.r, 3));
}
END_TEST

START_TEST(test_snapshot_below_commit_is_acknowledged_without_install)
{
    /* Given a follower that committed up to 3, */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 3, 0, (raft_term[]){1, 1, 1}, 3);
    ck_assert_int_eq(rt_recv(&t, rt_append(&t, 2, 3, 3, 1, 3, NULL, 0)), 0);
    /* when an old snapshot up to 2 arrives, it answers done, installs
     * nothing. */
    ck_assert_int_eq(rt_recv(&t, chunk(2, 1, 0, "x", 1, 1)), 0);
    ck_assert_uint_eq(t.u.flags & RAFT_UPD_SNAPSHOT, 0);
    ck_assert(rt_msg(&t, RAFT_MSG_SNAPSHOT_RESULT, 2)->snapshot_result.done);
}
END_TEST

START_TEST(test_leader_sends_compacted_prefix_as_chunked_snapshot)
{
    /* Given a leader (chunks of 4 bytes) that compacted its log into a
     * 10-byte snapshot at index 3, */
    struct raft_config c = {.snapshot_chunk_bytes = 4};
    rt_init(&t, 1, 3, &c);
    rt_start(&t, 1, 0, NULL, 0);
    rt_elect(&t, 1, (raft_id[]){2}, 1);
    ck_assert_int_eq(rt_propose(&t, 2), 0);
    ck_assert_int_eq(rt_persist_all(&t), 0);
    ck_assert_int_eq(rt_recv(&t, rt_ack(2, 1, 2, 3)), 0);
    ck_assert_uint_eq(raft_commit_index(t.r), 3);
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
    ev.snapshot_taken.index = 3;
    ev.snapshot_taken.data = (struct st_bytes){(const uint8_t *)"0123456789",
                                               10};
    ck_assert_int_eq(rt_step(&t, ev), 0);
    ck_assert_ptr_null(raft_entry_at(t.r, 3));
    /* when the heartbeat comes for node 3, which never answered and so
     * needs index 1 onwards, */
    ck_assert_int_eq(rt_tick(&t, 10), 0);
    /* it gets the first 4-byte chunk, */
    const struct raft_msg *m = rt_msg(&t, RAFT_MSG_SNAPSHOT, 3);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->snapshot.last_index, 3);
    ck_assert_uint_eq(m->snapshot.total_bytes, 10);
    ck_assert_uint_eq(m->snapshot.chunk.len, 4);
    /* then the next from the offset it reports, */
    struct raft_msg res = {.type = RAFT_MSG_SNAPSHOT_RESULT, .from = 3,
                           .to = 1, .term = 2};
    res.snapshot_result.last_index = 3;
    res.snapshot_result.next_offset = 8;
    ck_assert_int_eq(rt_recv(&t, res), 0);
    m = rt_msg(&t, RAFT_MSG_SNAPSHOT, 3);
    ck_assert_uint_eq(m->snapshot.offset, 8);
    ck_assert_uint_eq(m->snapshot.chunk.len, 2);
    /* and once installed, replication resumes after index 3. */
    res.snapshot_result.done = true;
    ck_assert_int_eq(rt_recv(&t, res), 0);
    ck_assert_int_eq(rt_propose(&t, 1), 0);
    m = rt_msg(&t, RAFT_MSG_APPEND, 3);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->append.prev_index, 3);
}
END_TEST

START_TEST(test_snapshot_beyond_commit_is_refused)
{
    /* Given a follower with commit 0, taking a snapshot at 1 is refused. */
    rt_init(&t, 1, 3, NULL);
    rt_start(&t, 1, 0, (raft_term[]){1}, 1);
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
    ev.snapshot_taken.index = 1;
    ck_assert_int_eq(rt_step(&t, ev), ST_EINVAL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("raft_recv_snapshot");
    TCase *tc = tcase_create("snapshot");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_chunks_are_assembled_in_order_then_installed);
    tcase_add_test(tc, test_snapshot_keeps_the_log_suffix_that_matches);
    tcase_add_test(tc, test_snapshot_below_commit_is_acknowledged_without_install);
    tcase_add_test(tc, test_leader_sends_compacted_prefix_as_chunked_snapshot);
    tcase_add_test(tc, test_snapshot_beyond_commit_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
