/* Leadership transfer (thesis §3.10), for rolling restarts.
 *
 * The leader stops accepting proposals, brings the target up to date, then
 * sends it TimeoutNow; the target starts an election at once, skipping
 * pre-vote and marking its vote requests as a transfer so that leader
 * stickiness does not block them. If the target has not taken over within
 * an election timeout, the leader resumes normal operation.
 */
#include <inttypes.h>

#include "common/err.h"
#include "controller/raft/raft_impl.h"

void transfer_maybe_send(struct raft *r, struct raft_progress *p)
{
    if (r->transferee == 0 || p->id != r->transferee ||
        p->match != log_last_index(&r->log)) {
        return;
    }
    struct raft_msg *m = raft_send(r, RAFT_MSG_TIMEOUT_NOW, p->id);
    if (m == NULL) {
        return;
    }
    m->timeout_now.last_index = log_last_index(&r->log);
    m->timeout_now.last_term = log_last_term(&r->log);
    raft_trace(r, "transfer: timeout-now to=%" PRIu32, p->id);
}

int transfer_start(struct raft *r, raft_id to)
{
    if (r->role != RAFT_LEADER || r->transferee != 0) {
        return ST_ENOTLEADER;
    }
    if (to == 0) {
        raft_index best = 0;
        for (unsigned k = 0; k < r->cfg.voters.n; k++) {
            struct raft_progress *p = &r->progress[k];
            if (p->id != r->cfg.id && (to == 0 || p->match > best)) {
                to = p->id;
                best = p->match;
            }
        }
        if (to == 0) {
            return ST_EINVAL; /* a single voter has no one to hand over to */
        }
    }
    if (to == r->cfg.id || raft_voter_pos(r, to) < 0) {
        return ST_EINVAL;
    }
    r->transferee = to;
    r->transfer_deadline = r->now + r->cfg.election_timeout_ms;
    raft_trace(r, "transfer: start to=%" PRIu32, to);
    struct raft_progress *p = progress_of(r, to);
    if (p->match == log_last_index(&r->log)) {
        transfer_maybe_send(r, p);
    } else {
        replication_send(r, p, false);
    }
    return 0;
}

void transfer_tick(struct raft *r)
{
    if (r->transferee != 0 && r->now >= r->transfer_deadline) {
        raft_trace(r, "transfer: abort to=%" PRIu32 " timed out",
                   r->transferee);
        r->transferee = 0;
    }
}
