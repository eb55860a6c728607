/* Receiving a message: the term rules every message obeys (Raft §5.1,
 * thesis §4.2.3 and §9.6), then dispatch to the recv_<type>.c handler.
 *
 *  - A (pre)vote request for a higher term from a node while we are in a
 *    leader lease (check-quorum on, heard from a leader recently) is ignored,
 *    unless it comes from a leadership transfer: a rejoining node cannot
 *    depose a healthy leader.
 *  - A higher term makes us a follower of it, except for pre-vote requests
 *    and granted pre-vote answers, which carry a term nobody holds yet.
 *  - A lower term is stale. An AppendEntries or InstallSnapshot from a stale
 *    leader is answered with our term so it steps down; a pre-vote for a
 *    stale term is refused so the pre-candidate learns our term.
 */
#include <inttypes.h>

#include "controller/raft/raft_impl.h"

static void reject_stale(struct raft *r, const struct raft_msg *m)
{
    if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT) {
        struct raft_msg *out = raft_send(r, RAFT_MSG_APPEND_RESULT, m->from);
        if (out != NULL) {
            out->append_result.success = false;
            out->append_result.rejected_index = 0;
        }
    } else if (m->type == RAFT_MSG_VOTE && m->vote.pre_vote) {
        struct raft_msg *out = raft_send(r, RAFT_MSG_VOTE_RESULT, m->from);
        if (out != NULL) {
            out->vote_result.granted = false;
            out->vote_result.pre_vote = true;
        }
    }
}

void recv_message(struct raft *r, const struct raft_msg *m)
{
    if (m->term > r->term) {
        if (m->type == RAFT_MSG_VOTE && !m->vote.transfer &&
            election_in_lease(r)) {
            raft_trace(r, "ignore %svote from=%" PRIu32 " term=%" PRIu64
                       ": leader=%" PRIu32 " is alive",
                       m->vote.pre_vote ? "pre-" : "", m->from, m->term,
                       r->leader);
            return;
        }
        bool keep_term =
            (m->type == RAFT_MSG_VOTE && m->vote.pre_vote) ||
            (m->type == RAFT_MSG_VOTE_RESULT && m->vote_result.pre_vote &&
             m->vote_result.granted);
        if (!keep_term) {
            bool from_leader = m->type == RAFT_MSG_APPEND ||
                               m->type == RAFT_MSG_SNAPSHOT ||
                               m->type == RAFT_MSG_TIMEOUT_NOW;
            raft_trace(r, "newer term=%" PRIu64 " from=%" PRIu32, m->term,
                       m->from);
            become_follower(r, m->term, from_leader ? m->from : 0);
        }
    } else if (m->term < r->term) {
        reject_stale(r, m);
        return;
    }
    switch (m->type) {
    case RAFT_MSG_APPEND:
        recv_append(r, m);
        break;
    case RAFT_MSG_APPEND_RESULT:
        recv_append_result(r, m);
        break;
    case RAFT_MSG_VOTE:
        recv_vote(r, m);
        break;
    case RAFT_MSG_VOTE_RESULT:
        recv_vote_result(r, m);
        break;
    case RAFT_MSG_SNAPSHOT:
        recv_snapshot(r, m);
        break;
    case RAFT_MSG_SNAPSHOT_RESULT:
        recv_snapshot_result(r, m);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        recv_timeout_now(r, m);
        break;
    }
}
