/* A (pre-)candidate receives a vote answer (Raft §5.2, thesis §9.6).
 *
 * Only answers to the current round count: a pre-vote answer while
 * pre-candidate for term+1 (granted) or our term (refused), a vote answer
 * while candidate in our term. A majority of grants advances the round
 * (pre-vote to election, election to leader); a majority of refusals ends it
 * and we wait, as a follower, for the next timeout.
 */
#include "controller/raft/raft_impl.h"

void recv_vote_result(struct raft *r, const struct raft_msg *m)
{
    const struct raft_msg_vote_result *res = &m->vote_result;
    if (r->role == RAFT_PRE_CANDIDATE && res->pre_vote) {
        raft_term want = res->granted ? r->term + 1 : r->term;
        if (m->term == want) {
            election_tally(r, m->from, res->granted);
        }
    } else if (r->role == RAFT_CANDIDATE && !res->pre_vote &&
               m->term == r->term) {
        election_tally(r, m->from, res->granted);
    }
}
