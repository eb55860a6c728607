/* A follower receives TimeoutNow from its leader (thesis §3.10): start an
 * election at once, skipping pre-vote, with vote requests marked as a
 * transfer so that voters' leader stickiness does not refuse them. Ignored
 * unless our log equals the leader's (it sends only then, but a message can
 * be late). */
#include "controller/raft/raft_impl.h"

void recv_timeout_now(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_FOLLOWER || r->leader != m->from ||
        log_last_index(&r->log) != m->timeout_now.last_index ||
        log_last_term(&r->log) != m->timeout_now.last_term) {
        return;
    }
    election_start(r, false, true);
}
