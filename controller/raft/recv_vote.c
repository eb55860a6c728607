/* A node receives RequestVote or a pre-vote request (Raft §5.2, §5.4.1;
 * thesis §9.6).
 *
 * Grant when the candidate's log is at least as up to date as ours and we
 * can vote: we already voted for it, or we have not voted and know no leader
 * in this term, or (pre-vote) it asks for a term above ours. A real vote is
 * recorded and must be durable before the answer leaves (RAFT_UPD_TERM_VOTE
 * in the same update: the driver persists it first). A pre-vote changes
 * nothing. The answer carries the asked term when granted (so a pre-vote
 * grant does not look like a newer term) and our term otherwise.
 */
#include <inttypes.h>

#include "controller/raft/raft_impl.h"

void recv_vote(struct raft *r, const struct raft_msg *m)
{
    const struct raft_msg_vote *v = &m->vote;
    bool can_vote = r->vote == m->from ||
                    (r->vote == 0 && r->leader == 0) ||
                    (v->pre_vote && m->term > r->term);
    bool up_to_date = log_up_to_date(r, v->last_index, v->last_term);
    bool grant = can_vote && up_to_date;
    if (grant && !v->pre_vote) {
        r->vote = m->from;
        raft_mark_term_vote(r);
        election_reset_timer(r);
    }
    struct raft_msg *out = raft_send(r, RAFT_MSG_VOTE_RESULT, m->from);
    if (out == NULL) {
        return;
    }
    out->term = grant ? m->term : r->term;
    out->vote_result.granted = grant;
    out->vote_result.pre_vote = v->pre_vote;
    raft_trace(r, "%s %svote to=%" PRIu32 " for term=%" PRIu64
               " its last=%" PRIu64 "/%" PRIu64, grant ? "grant" : "refuse",
               v->pre_vote ? "pre-" : "", m->from, m->term, v->last_index,
               v->last_term);
}
