/* Raft messages survive the trip through proto/raft.proto. */
#include <string.h>

#include "common/err.h"
#include "controller/raft_wire.h"
#include "test_util.h"

static void round_trip(const struct raft_msg *in, struct raft_msg *out,
                       Strata__Raft__RaftMessage **pb,
                       struct raft_entry **entries)
{
    struct st_buf b;
    st_buf_init(&b);
    ck_assert_int_eq(st_raft_wire_encode(in, "c1", &b), 0);
    const char *cid;
    ck_assert_int_eq(st_raft_wire_decode(b.base, b.len, out, &cid, pb,
                                         entries), 0);
    ck_assert_str_eq(cid, "c1");
    ck_assert_int_eq(out->type, in->type);
    ck_assert_uint_eq(out->from, in->from);
    ck_assert_uint_eq(out->to, in->to);
    ck_assert_uint_eq(out->term, in->term);
    st_buf_close(&b);
}

START_TEST(test_append_entries_keep_terms_indexes_types_and_data)
{
    /* Given an AppendEntries with two entries, */
    struct raft_entry es[2] = {
        {.term = 3, .index = 10, .type = RAFT_ENTRY_NOOP},
        {.term = 4, .index = 11, .type = RAFT_ENTRY_COMMAND,
         .data = {(const uint8_t *)"rec", 3}},
    };
    struct raft_msg m = {.type = RAFT_MSG_APPEND, .from = 1, .to = 2,
                         .term = 4};
    m.append = (struct raft_msg_append){.prev_index = 9, .prev_term = 3,
                                        .commit = 8, .entries = es,
                                        .n_entries = 2};
    /* when it is encoded and decoded, */
    struct raft_msg out;
    Strata__Raft__RaftMessage *pb;
    struct raft_entry *entries;
    round_trip(&m, &out, &pb, &entries);
    /* every field is back. */
    ck_assert_uint_eq(out.append.prev_index, 9);
    ck_assert_uint_eq(out.append.prev_term, 3);
    ck_assert_uint_eq(out.append.commit, 8);
    ck_assert_uint_eq(out.append.n_entries, 2);
    ck_assert_uint_eq(out.append.entries[1].term, 4);
    ck_assert_uint_eq(out.append.entries[1].index, 11);
    ck_assert_uint_eq(out.append.entries[0].type, RAFT_ENTRY_NOOP);
    ck_assert_uint_eq(out.append.entries[1].data.len, 3);
    ck_assert_mem_eq(out.append.entries[1].data.base, "rec", 3);
    st_raft_wire_free(pb, entries);
}
END_TEST

START_TEST(test_every_other_message_type_round_trips)
{
    struct raft_msg ms[6] = {0};
    ms[0].type = RAFT_MSG_APPEND_RESULT;
    ms[0].append_result = (struct raft_msg_append_result){
        .success = false, .last_index = 5, .rejected_index = 7,
        .conflict_term = 2, .conflict_index = 4};
    ms[1].type = RAFT_MSG_VOTE;
    ms[1].vote = (struct raft_msg_vote){.last_index = 9, .last_term = 3,
                                        .pre_vote = true, .transfer = true};
    ms[2].type = RAFT_MSG_VOTE_RESULT;
    ms[2].vote_result = (struct raft_msg_vote_result){.granted = true,
                                                      .pre_vote = true};
    ms[3].type = RAFT_MSG_SNAPSHOT;
    ms[3].snapshot = (struct raft_msg_snapshot){
        .last_index = 100, .last_term = 6, .offset = 64, .total_bytes = 70,
        .chunk = {(const uint8_t *)"abcdef", 6}};
    ms[4].type = RAFT_MSG_SNAPSHOT_RESULT;
    ms[4].snapshot_result = (struct raft_msg_snapshot_result){
        .last_index = 100, .next_offset = 70, .done = true};
    ms[5].type = RAFT_MSG_TIMEOUT_NOW;
    ms[5].timeout_now = (struct raft_msg_timeout_now){.last_index = 12,
                                                      .last_term = 5};
    for (int i = 0; i < 6; i++) {
        ms[i].from = 3;
        ms[i].to = 1;
        ms[i].term = 6;
        struct raft_msg out;
        Strata__Raft__RaftMessage *pb;
        struct raft_entry *entries;
        round_trip(&ms[i], &out, &pb, &entries);
        /* the union compares equal field by field */
        switch (ms[i].type) {
        case RAFT_MSG_APPEND_RESULT:
            ck_assert(!out.append_result.success);
            ck_assert_uint_eq(out.append_result.rejected_index, 7);
            ck_assert_uint_eq(out.append_result.conflict_term, 2);
            ck_assert_uint_eq(out.append_result.conflict_index, 4);
            ck_assert_uint_eq(out.append_result.last_index, 5);
            break;
        case RAFT_MSG_VOTE:
            ck_assert(out.vote.pre_vote && out.vote.transfer);
            ck_assert_uint_eq(out.vote.last_index, 9);
            ck_assert_uint_eq(out.vote.last_term, 3);
            break;
        case RAFT_MSG_VOTE_RESULT:
            ck_assert(out.vote_result.granted && out.vote_result.pre_vote);
            break;
        case RAFT_MSG_SNAPSHOT:
            ck_assert_uint_eq(out.snapshot.offset, 64);
            ck_assert_uint_eq(out.snapshot.total_bytes, 70);
            ck_assert_mem_eq(out.snapshot.chunk.base, "abcdef", 6);
            break;
        case RAFT_MSG_SNAPSHOT_RESULT:
            ck_assert(out.snapshot_result.done);
            ck_assert_uint_eq(out.snapshot_result.next_offset, 70);
            break;
        default:
            ck_assert_uint_eq(out.timeout_now.last_index, 12);
            ck_assert_uint_eq(out.timeout_now.last_term, 5);
        }
        st_raft_wire_free(pb, entries);
    }
}
END_TEST

START_TEST(test_garbage_and_bodiless_messages_are_refused)
{
    struct raft_msg out;
    const char *cid;
    Strata__Raft__RaftMessage *pb;
    struct raft_entry *entries;
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01};
    ck_assert_int_eq(st_raft_wire_decode(junk, sizeof junk, &out, &cid, &pb,
                                         &entries), ST_ECORRUPT);
    /* A message with a type but no body. */
    Strata__Raft__RaftMessage m = STRATA__RAFT__RAFT_MESSAGE__INIT;
    m.type = STRATA__RAFT__MSG_TYPE__VOTE;
    uint8_t buf[64];
    size_t n = strata__raft__raft_message__pack(&m, buf);
    ck_assert_int_eq(st_raft_wire_decode(buf, n, &out, &cid, &pb, &entries),
                     ST_ECORRUPT);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("raft_wire");
    TCase *tc = tcase_create("wire");
    tcase_add_test(tc, test_append_entries_keep_terms_indexes_types_and_data);
    tcase_add_test(tc, test_every_other_message_type_round_trips);
    tcase_add_test(tc, test_garbage_and_bodiless_messages_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
