/* libFuzzer target for the Raft wire decoder (controller/raft_wire.h).
 *
 * Every input goes through st_raft_wire_decode() as a peer's bytes would.
 * It must answer 0 or ST_ECORRUPT, never crash or read past the input.
 * When it decodes, the message is encoded again and decoded a second time:
 * both decodes must give the same struct raft_msg (every field, every
 * entry and its data, the cluster id), and encoding the second decode
 * must give the same bytes as the first encode (the encoding is a fixed
 * point after one round). The target links raft_wire.c alone.
 *
 * With STRATA_FUZZ_SEED_DIR=<dir> set, the program writes one encoded
 * message of each type there and exits (tests/fuzz/run-fuzz.sh does this).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "controller/raft_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct st_buf enc1, enc2;

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_raft_wire: %s\n", what);
        abort();
    }
}

static bool bytes_eq(struct st_bytes a, struct st_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

static bool msg_eq(const struct raft_msg *a, const struct raft_msg *b)
{
    if (a->type != b->type || a->from != b->from || a->to != b->to ||
        a->term != b->term) {
        return false;
    }
    switch (a->type) {
    case RAFT_MSG_APPEND:
        if (a->append.prev_index != b->append.prev_index ||
            a->append.prev_term != b->append.prev_term ||
            a->append.commit != b->append.commit ||
            a->append.n_entries != b->append.n_entries) {
            return false;
        }
        for (unsigned i = 0; i < a->append.n_entries; i++) {
            const struct raft_entry *x = &a->append.entries[i];
            const struct raft_entry *y = &b->append.entries[i];
            if (x->term != y->term || x->index != y->index ||
                x->type != y->type || !bytes_eq(x->data, y->data)) {
                return false;
            }
        }
        return true;
    case RAFT_MSG_APPEND_RESULT:
        return a->append_result.success == b->append_result.success &&
               a->append_result.last_index == b->append_result.last_index &&
               a->append_result.rejected_index ==
                   b->append_result.rejected_index &&
               a->append_result.conflict_term ==
                   b->append_result.conflict_term &&
               a->append_result.conflict_index ==
                   b->append_result.conflict_index;
    case RAFT_MSG_VOTE:
        return a->vote.last_index == b->vote.last_index &&
               a->vote.last_term == b->vote.last_term &&
               a->vote.pre_vote == b->vote.pre_vote &&
               a->vote.transfer == b->vote.transfer;
    case RAFT_MSG_VOTE_RESULT:
        return a->vote_result.granted == b->vote_result.granted &&
               a->vote_result.pre_vote == b->vote_result.pre_vote;
    case RAFT_MSG_SNAPSHOT:
        return a->snapshot.last_index == b->snapshot.last_index &&
               a->snapshot.last_term == b->snapshot.last_term &&
               a->snapshot.offset == b->snapshot.offset &&
               a->snapshot.total_bytes == b->snapshot.total_bytes &&
               bytes_eq(a->snapshot.chunk, b->snapshot.chunk);
    case RAFT_MSG_SNAPSHOT_RESULT:
        return a->snapshot_result.last_index ==
                   b->snapshot_result.last_index &&
               a->snapshot_result.next_offset ==
                   b->snapshot_result.next_offset &&
               a->snapshot_result.done == b->snapshot_result.done;
    case RAFT_MSG_TIMEOUT_NOW:
        return a->timeout_now.last_index == b->timeout_now.last_index &&
               a->timeout_now.last_term == b->timeout_now.last_term;
    }
    return false;
}

static void write_seeds(const char *dir)
{
    static const uint8_t data[] = "metadata-record";
    struct raft_entry es[3];
    for (unsigned i = 0; i < 3; i++) {
        es[i].term = 2;
        es[i].index = 10 + i;
        es[i].type = i == 0 ? 2 : 1;
        es[i].data.base = data;
        es[i].data.len = i == 0 ? 0 : sizeof data - 1;
    }
    struct raft_msg m[7];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 7; i++) {
        m[i].from = 1;
        m[i].to = 2;
        m[i].term = 3;
    }
    m[0].type = RAFT_MSG_APPEND;
    m[0].append.prev_index = 9;
    m[0].append.prev_term = 1;
    m[0].append.commit = 9;
    m[0].append.entries = es;
    m[0].append.n_entries = 3;
    m[1].type = RAFT_MSG_APPEND_RESULT;
    m[1].append_result.last_index = 12;
    m[1].append_result.conflict_term = 1;
    m[2].type = RAFT_MSG_VOTE;
    m[2].vote.last_index = 12;
    m[2].vote.pre_vote = true;
    m[3].type = RAFT_MSG_VOTE_RESULT;
    m[3].vote_result.granted = true;
    m[4].type = RAFT_MSG_SNAPSHOT;
    m[4].snapshot.last_index = 100;
    m[4].snapshot.total_bytes = 15;
    m[4].snapshot.chunk.base = data;
    m[4].snapshot.chunk.len = sizeof data - 1;
    m[5].type = RAFT_MSG_SNAPSHOT_RESULT;
    m[5].snapshot_result.next_offset = 15;
    m[5].snapshot_result.done = true;
    m[6].type = RAFT_MSG_TIMEOUT_NOW;
    m[6].timeout_now.last_index = 12;
    for (int i = 0; i < 7; i++) {
        struct st_buf b;
        char path[4096];
        st_buf_init(&b);
        check(st_raft_wire_encode(&m[i], "cluster-0001", &b) == 0, "encode");
        snprintf(path, sizeof path, "%s/raft-msg-%d", dir, i);
        FILE *f = fopen(path, "wb");
        check(f != NULL && fwrite(b.base, 1, b.len, f) == b.len,
              "cannot write a seed");
        fclose(f);
        st_buf_close(&b);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    st_buf_init(&enc1);
    st_buf_init(&enc2);
    const char *dir = getenv("STRATA_FUZZ_SEED_DIR");
    if (dir != NULL && dir[0] != '\0') {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct raft_msg m1, m2;
    const char *cid1 = NULL, *cid2 = NULL;
    Strata__Raft__RaftMessage *pb1 = NULL, *pb2 = NULL;
    struct raft_entry *e1 = NULL, *e2 = NULL;
    int rv = st_raft_wire_decode(data, size, &m1, &cid1, &pb1, &e1);
    check(rv == 0 || rv == ST_ECORRUPT, "decode: undocumented code");
    if (rv != 0) {
        check(pb1 == NULL && e1 == NULL, "a refused decode left memory");
        return 0;
    }
    check(cid1 != NULL, "no cluster id view");
    check(m1.type != RAFT_MSG_APPEND || m1.append.n_entries == 0 ||
              m1.append.entries != NULL,
          "append without its entries");
    st_buf_reset(&enc1);
    check(st_raft_wire_encode(&m1, cid1, &enc1) == 0, "re-encode");
    rv = st_raft_wire_decode(enc1.base, enc1.len, &m2, &cid2, &pb2, &e2);
    check(rv == 0, "a re-encoded message does not decode");
    check(msg_eq(&m1, &m2), "message changed in an encode/decode round");
    check(strcmp(cid1, cid2) == 0, "cluster id changed in a round");
    st_buf_reset(&enc2);
    check(st_raft_wire_encode(&m2, cid2, &enc2) == 0 &&
              enc2.len == enc1.len &&
              memcmp(enc1.base, enc2.base, enc1.len) == 0,
          "encoding is not a fixed point after one round");
    st_raft_wire_free(pb1, e1);
    st_raft_wire_free(pb2, e2);
    return 0;
}
