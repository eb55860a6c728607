/* Leader election: roles, randomized timeouts, pre-vote and check-quorum.
 *
 * A follower that hears nothing from a leader for its randomized election
 * timeout (in [T, 2T)) first runs a pre-vote (thesis §9.6): it asks for
 * votes for term+1 without changing its own term, so a node returning from
 * a partition cannot force the cluster into a new term unless a majority
 * would elect it. Only after a pre-vote majority does it become a candidate.
 * With check-quorum (thesis §6.2) a leader that has not heard from a majority
 * within an election timeout steps down, and a node that heard from a
 * leader within the last election timeout ignores (pre)vote requests for a
 * higher term (leader stickiness, thesis §4.2.3).
 */
#include <inttypes.h>
#include <string.h>

#include "common/bytes.h"
#include "controller/raft/raft_impl.h"

void election_reset_timer(struct raft *r)
{
    uint64_t t = r->cfg.election_timeout_ms;
    r->election_deadline = r->now + t + raft_rand(r) % t;
}

bool election_in_lease(const struct raft *r)
{
    if (r->cfg.disable_check_quorum || r->leader == 0) {
        return false;
    }
    if (r->role == RAFT_LEADER) {
        return true;
    }
    return r->now - r->last_leader_contact < r->cfg.election_timeout_ms;
}

bool log_up_to_date(const struct raft *r, raft_index last_index,
                    raft_term last_term)
{
    raft_term my_term = log_last_term(&r->log);
    if (last_term != my_term) {
        return last_term > my_term;
    }
    return last_index >= log_last_index(&r->log);
}

void become_follower(struct raft *r, raft_term term, raft_id leader)
{
    if (term > r->term) {
        r->term = term;
        r->vote = 0;
        raft_mark_term_vote(r);
    }
    if (r->role != RAFT_FOLLOWER || r->leader != leader) {
        raft_trace(r, "become follower leader=%" PRIu32 " was=%s", leader,
                   raft_role_name(r->role));
    }
    r->role = RAFT_FOLLOWER;
    r->leader = leader;
    r->transferee = 0;
    r->ack_pending = false;
    if (leader != 0) {
        r->last_leader_contact = r->now;
    }
    election_reset_timer(r);
}

void become_leader(struct raft *r)
{
    r->role = RAFT_LEADER;
    r->leader = r->cfg.id;
    r->transferee = 0;
    r->ack_pending = false;
    raft_index next = log_last_index(&r->log) + 1;
    for (unsigned k = 0; k < r->cfg.voters.n; k++) {
        progress_reset(&r->progress[k], r->cfg.voters.ids[k], next);
    }
    r->heartbeat_deadline = r->now + r->cfg.heartbeat_ms;
    r->quorum_deadline = r->now + r->cfg.election_timeout_ms;
    raft_trace(r, "become leader last=%" PRIu64, next - 1);
    /* A no-op of the new term lets the leader commit everything before it
     * (Raft §5.4.2 forbids counting replicas of older-term entries). */
    struct st_bytes none = {NULL, 0};
    if (raft_log_append(r, r->term, RAFT_ENTRY_NOOP, none) != 0) {
        return;
    }
    replication_broadcast(r, false);
    replication_maybe_commit(r);
}

static unsigned count(const bool *v, unsigned n)
{
    unsigned c = 0;
    for (unsigned k = 0; k < n; k++) {
        c += v[k] ? 1 : 0;
    }
    return c;
}

void election_start(struct raft *r, bool pre_vote, bool transfer)
{
    memset(r->granted, 0, sizeof r->granted);
    memset(r->answered, 0, sizeof r->answered);
    r->leader = 0;
    r->ack_pending = false;
    if (pre_vote) {
        r->role = RAFT_PRE_CANDIDATE;
    } else {
        r->role = RAFT_CANDIDATE;
        r->term++;
        r->vote = r->cfg.id;
        raft_mark_term_vote(r);
    }
    election_reset_timer(r);
    raft_trace(r, "start %s last=%" PRIu64 "/%" PRIu64 "%s",
               pre_vote ? "pre-vote" : "election", log_last_index(&r->log),
               log_last_term(&r->log), transfer ? " transfer" : "");
    int self = raft_voter_pos(r, r->cfg.id);
    r->granted[self] = true;
    r->answered[self] = true;
    if (count(r->granted, r->cfg.voters.n) >= raft_quorum(r)) {
        if (pre_vote) {
            election_start(r, false, transfer);
        } else {
            become_leader(r);
        }
        return;
    }
    for (unsigned k = 0; k < r->cfg.voters.n; k++) {
        raft_id to = r->cfg.voters.ids[k];
        if (to == r->cfg.id) {
            continue;
        }
        struct raft_msg *m = raft_send(r, RAFT_MSG_VOTE, to);
        if (m == NULL) {
            return;
        }
        m->term = pre_vote ? r->term + 1 : r->term;
        m->vote.last_index = log_last_index(&r->log);
        m->vote.last_term = log_last_term(&r->log);
        m->vote.pre_vote = pre_vote;
        m->vote.transfer = transfer;
    }
}

void election_tally(struct raft *r, raft_id from, bool granted)
{
    int pos = raft_voter_pos(r, from);
    if (pos < 0 || r->answered[pos]) {
        return;
    }
    r->answered[pos] = true;
    r->granted[pos] = granted;
    unsigned yes = count(r->granted, r->cfg.voters.n);
    unsigned no = count(r->answered, r->cfg.voters.n) - yes;
    if (yes >= raft_quorum(r)) {
        if (r->role == RAFT_PRE_CANDIDATE) {
            election_start(r, false, false);
        } else {
            become_leader(r);
        }
    } else if (no >= raft_quorum(r)) {
        raft_trace(r, "lost %s yes=%u no=%u",
                   r->role == RAFT_PRE_CANDIDATE ? "pre-vote" : "election",
                   yes, no);
        become_follower(r, r->term, 0);
    }
}

static void check_quorum(struct raft *r)
{
    unsigned active = 0;
    for (unsigned k = 0; k < r->cfg.voters.n; k++) {
        struct raft_progress *p = &r->progress[k];
        if (p->id == r->cfg.id || p->recent_active) {
            active++;
        }
        p->recent_active = false;
    }
    r->quorum_deadline = r->now + r->cfg.election_timeout_ms;
    if (active < raft_quorum(r)) {
        raft_trace(r, "step down: check-quorum active=%u/%u", active,
                   r->cfg.voters.n);
        become_follower(r, r->term, 0);
    }
}

void election_tick(struct raft *r)
{
    if (r->role == RAFT_LEADER) {
        if (!r->cfg.disable_check_quorum && r->now >= r->quorum_deadline) {
            check_quorum(r);
            if (r->role != RAFT_LEADER) {
                return;
            }
        }
        transfer_tick(r);
        replication_tick(r);
        return;
    }
    if (r->now >= r->election_deadline) {
        election_start(r, !r->cfg.disable_pre_vote, false);
    }
}
