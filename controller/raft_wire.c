/* Raft messages to and from proto/raft.proto (see raft_wire.h). */
#include "controller/raft_wire.h"

#include <string.h>

#include "common/alloc.h"
#include "common/err.h"

static int encode_append(const struct raft_msg_append *a,
                         Strata__Raft__RaftMessage *pb,
                         Strata__Raft__AppendEntries *ae,
                         Strata__Raft__Entry **eptrs, Strata__Raft__Entry *es)
{
    ae->prev_index = a->prev_index;
    ae->prev_term = a->prev_term;
    ae->commit = a->commit;
    ae->n_entries = a->n_entries;
    ae->entries = eptrs;
    for (unsigned i = 0; i < a->n_entries; i++) {
        strata__raft__entry__init(&es[i]);
        es[i].term = a->entries[i].term;
        es[i].index = a->entries[i].index;
        es[i].type = a->entries[i].type;
        es[i].data.data = (uint8_t *)a->entries[i].data.base;
        es[i].data.len = a->entries[i].data.len;
        eptrs[i] = &es[i];
    }
    pb->body_case = STRATA__RAFT__RAFT_MESSAGE__BODY_APPEND;
    pb->append = ae;
    return 0;
}

int st_raft_wire_encode(const struct raft_msg *m, const char *cluster_id,
                        struct st_buf *out)
{
    Strata__Raft__RaftMessage pb = STRATA__RAFT__RAFT_MESSAGE__INIT;
    Strata__Raft__AppendEntries ae = STRATA__RAFT__APPEND_ENTRIES__INIT;
    Strata__Raft__AppendEntriesResult ar =
        STRATA__RAFT__APPEND_ENTRIES_RESULT__INIT;
    Strata__Raft__RequestVote rv = STRATA__RAFT__REQUEST_VOTE__INIT;
    Strata__Raft__RequestVoteResult vr =
        STRATA__RAFT__REQUEST_VOTE_RESULT__INIT;
    Strata__Raft__InstallSnapshot is = STRATA__RAFT__INSTALL_SNAPSHOT__INIT;
    Strata__Raft__InstallSnapshotResult ir =
        STRATA__RAFT__INSTALL_SNAPSHOT_RESULT__INIT;
    Strata__Raft__TimeoutNow tn = STRATA__RAFT__TIMEOUT_NOW__INIT;
    Strata__Raft__Entry **eptrs = NULL;
    Strata__Raft__Entry *es = NULL;

    pb.type = (Strata__Raft__MsgType)m->type;
    pb.from = m->from;
    pb.to = m->to;
    pb.term = m->term;
    pb.cluster_id = (char *)cluster_id;
    switch (m->type) {
    case RAFT_MSG_APPEND:
        if (m->append.n_entries > 0) {
            eptrs = st_calloc(m->append.n_entries, sizeof *eptrs);
            es = st_calloc(m->append.n_entries, sizeof *es);
            if (eptrs == NULL || es == NULL) {
                st_free(eptrs);
                st_free(es);
                return ST_ENOMEM;
            }
        }
        encode_append(&m->append, &pb, &ae, eptrs, es);
        break;
    case RAFT_MSG_APPEND_RESULT:
        ar.success = m->append_result.success;
        ar.last_index = m->append_result.last_index;
        ar.rejected_index = m->append_result.rejected_index;
        ar.conflict_term = m->append_result.conflict_term;
        ar.conflict_index = m->append_result.conflict_index;
        pb.body_case = STRATA__RAFT__RAFT_MESSAGE__BODY_APPEND_RESULT;
        pb.append_result = &ar;
        break;
    case RAFT_MSG_VOTE:
        rv.last_index = m->vote.last_index;
        rv.last_term = m->vote.last_term;
        rv.pre_vote = m->vote.pre_vote;
        rv.transfer = m->vote.transfer;
        pb.body_case = STRATA__RAFT__RAFT_MESSAGE__BODY_VOTE;
        pb.vote = &rv;
        break;
    case RAFT_MSG_VOTE_RESULT:
        vr.granted = m->vote_result.granted;
        vr.pre_vote = m->vote_result.pre_vote;
        pb.body_case = STRATA__RAFT__RAFT_MESSAGE__BODY_VOTE_RESULT;
        pb.vote_result = &vr;
        break;
    case RAFT_MSG_SNAPSHOT:
        is.last_index = m->snapshot.last_index;
        is.last_term = m->snapshot.last_term;
        is.offset = m->snapshot.offset;
        is.total_bytes = m->snapshot.total_bytes;
        is.chunk.data = (uint8_t *)m->snapshot.chunk.base;
        is.chunk.len = m->snapshot.chunk.len;
        pb.body_case = STRATA__RAFT__RAFT_MESSAGE__BODY_SNAPSHOT;
        pb.snapshot = &is;
        break;
    case RAFT_MSG_SNAPSHOT_RESULT:
        ir.last_index = m->snapshot_result.last_index;
        ir.next_offset = m->snapshot_result.next_offset;
        ir.done = m->snapshot_result.done;
        pb.body_case = STRATA__RAFT__RAFT_MESSAGE__BODY_SNAPSHOT_RESULT;
        pb.snapshot_result = &ir;
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        tn.last_index = m->timeout_now.last_index;
        tn.last_term = m->timeout_now.last_term;
        pb.body_case = STRATA__RAFT__RAFT_MESSAGE__BODY_TIMEOUT_NOW;
        pb.timeout_now = &tn;
        break;
    }
    size_t n = strata__raft__raft_message__get_packed_size(&pb);
    int rc = st_buf_reserve(out, n);
    if (rc == 0) {
        strata__raft__raft_message__pack(&pb, out->base + out->len);
        out->len += n;
    }
    st_free(eptrs);
    st_free(es);
    return rc;
}

static int decode_body(const Strata__Raft__RaftMessage *pb,
                       struct raft_msg *m, struct raft_entry **entries)
{
    switch (pb->body_case) {
    case STRATA__RAFT__RAFT_MESSAGE__BODY_APPEND: {
        const Strata__Raft__AppendEntries *a = pb->append;
        m->type = RAFT_MSG_APPEND;
        m->append.prev_index = a->prev_index;
        m->append.prev_term = a->prev_term;
        m->append.commit = a->commit;
        m->append.n_entries = (unsigned)a->n_entries;
        if (a->n_entries > 0) {
            *entries = st_calloc(a->n_entries, sizeof **entries);
            if (*entries == NULL) {
                return ST_ENOMEM;
            }
        }
        for (size_t i = 0; i < a->n_entries; i++) {
            (*entries)[i].term = a->entries[i]->term;
            (*entries)[i].index = a->entries[i]->index;
            (*entries)[i].type = (uint8_t)a->entries[i]->type;
            (*entries)[i].data.base = a->entries[i]->data.data;
            (*entries)[i].data.len = a->entries[i]->data.len;
        }
        m->append.entries = *entries;
        return 0;
    }
    case STRATA__RAFT__RAFT_MESSAGE__BODY_APPEND_RESULT:
        m->type = RAFT_MSG_APPEND_RESULT;
        m->append_result.success = pb->append_result->success;
        m->append_result.last_index = pb->append_result->last_index;
        m->append_result.rejected_index = pb->append_result->rejected_index;
        m->append_result.conflict_term = pb->append_result->conflict_term;
        m->append_result.conflict_index = pb->append_result->conflict_index;
        return 0;
    case STRATA__RAFT__RAFT_MESSAGE__BODY_VOTE:
        m->type = RAFT_MSG_VOTE;
        m->vote.last_index = pb->vote->last_index;
        m->vote.last_term = pb->vote->last_term;
        m->vote.pre_vote = pb->vote->pre_vote;
        m->vote.transfer = pb->vote->transfer;
        return 0;
    case STRATA__RAFT__RAFT_MESSAGE__BODY_VOTE_RESULT:
        m->type = RAFT_MSG_VOTE_RESULT;
        m->vote_result.granted = pb->vote_result->granted;
        m->vote_result.pre_vote = pb->vote_result->pre_vote;
        return 0;
    case STRATA__RAFT__RAFT_MESSAGE__BODY_SNAPSHOT:
        m->type = RAFT_MSG_SNAPSHOT;
        m->snapshot.last_index = pb->snapshot->last_index;
        m->snapshot.last_term = pb->snapshot->last_term;
        m->snapshot.offset = pb->snapshot->offset;
        m->snapshot.total_bytes = pb->snapshot->total_bytes;
        m->snapshot.chunk.base = pb->snapshot->chunk.data;
        m->snapshot.chunk.len = pb->snapshot->chunk.len;
        return 0;
    case STRATA__RAFT__RAFT_MESSAGE__BODY_SNAPSHOT_RESULT:
        m->type = RAFT_MSG_SNAPSHOT_RESULT;
        m->snapshot_result.last_index = pb->snapshot_result->last_index;
        m->snapshot_result.next_offset = pb->snapshot_result->next_offset;
        m->snapshot_result.done = pb->snapshot_result->done;
        return 0;
    case STRATA__RAFT__RAFT_MESSAGE__BODY_TIMEOUT_NOW:
        m->type = RAFT_MSG_TIMEOUT_NOW;
        m->timeout_now.last_index = pb->timeout_now->last_index;
        m->timeout_now.last_term = pb->timeout_now->last_term;
        return 0;
    default:
        return ST_ECORRUPT;
    }
}

int st_raft_wire_decode(const uint8_t *buf, size_t len, struct raft_msg *msg,
                        const char **cluster_id,
                        Strata__Raft__RaftMessage **pb,
                        struct raft_entry **entries)
{
    *entries = NULL;
    *pb = strata__raft__raft_message__unpack(NULL, len, buf);
    if (*pb == NULL) {
        return ST_ECORRUPT;
    }
    memset(msg, 0, sizeof *msg);
    msg->from = (*pb)->from;
    msg->to = (*pb)->to;
    msg->term = (*pb)->term;
    *cluster_id = (*pb)->cluster_id;
    int rv = decode_body(*pb, msg, entries);
    if (rv == 0 && (int)msg->type != (int)(*pb)->type) {
        rv = ST_ECORRUPT;
    }
    if (rv != 0) {
        st_raft_wire_free(*pb, *entries);
        *pb = NULL;
        *entries = NULL;
    }
    return rv;
}

void st_raft_wire_free(Strata__Raft__RaftMessage *pb,
                       struct raft_entry *entries)
{
    if (pb != NULL) {
        strata__raft__raft_message__free_unpacked(pb, NULL);
    }
    st_free(entries);
}
