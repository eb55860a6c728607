/* The leader receives an AppendEntries answer (Raft §5.3, thesis §3.5).
 *
 * Success: the peer's match index moves up (never down), pipelining starts,
 * more entries go out, and the commit index may advance. Failure: unless it
 * is stale (answers an index at or below match), next_index jumps back using
 * the hint: past the whole conflicting term if we have no entry of it, else
 * to just after our last entry of that term; the peer goes back to PROBE.
 * A failure with rejected_index 0 is a stale-term reply handled in recv.c.
 */
#include <inttypes.h>

#include "controller/raft/raft_impl.h"

static raft_index next_from_hint(struct raft *r, const struct raft_msg *m)
{
    const struct raft_msg_append_result *res = &m->append_result;
    if (res->conflict_term == 0) {
        return res->conflict_index;
    }
    raft_index i = res->rejected_index;
    if (i > log_last_index(&r->log)) {
        i = log_last_index(&r->log);
    }
    while (i > r->log.offset && log_term_at(&r->log, i) > res->conflict_term) {
        i--;
    }
    if (i > r->log.offset && log_term_at(&r->log, i) == res->conflict_term) {
        return i + 1; /* we have that term: resume after our last of it */
    }
    return res->conflict_index;
}

void recv_append_result(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_LEADER) {
        return;
    }
    struct raft_progress *p = progress_of(r, m->from);
    const struct raft_msg_append_result *res = &m->append_result;
    p->recent_active = true;
    if (res->success) {
        if (p->state == PROGRESS_SNAPSHOT) {
            if (res->last_index < p->snap_index) {
                return; /* an old answer; the snapshot is still needed */
            }
            progress_to_probe(p, res->last_index + 1);
        }
        p->probe_sent = false;
        bool moved = progress_ack(p, res->last_index);
        if (p->state == PROGRESS_PROBE && p->match + 1 >= p->next) {
            progress_to_pipeline(p);
        }
        if (moved) {
            replication_maybe_commit(r);
            transfer_maybe_send(r, p);
        }
        replication_send(r, p, false);
        return;
    }
    if (p->state != PROGRESS_SNAPSHOT && res->conflict_term == 0 &&
        res->conflict_index <= p->match) {
        /* The peer's log now ends before what it acknowledged: it lost its
         * durable state (a wiped and re-formatted data directory). Forget
         * its match and probe from its real end, or it would never catch
         * up under this leader. Lowering match only delays commits; the
         * commit index itself never moves back. A reordered old rejection
         * can land here too; the next probe answer restores match. */
        raft_trace(r, "peer=%" PRIu32 " lost its log: ends before %" PRIu64
                   " but acknowledged %" PRIu64, m->from, res->conflict_index,
                   p->match);
        p->match = res->conflict_index > 0 ? res->conflict_index - 1 : 0;
        progress_to_probe(p, res->conflict_index > 0 ? res->conflict_index
                                                     : 1);
        replication_send(r, p, false);
        return;
    }
    if (res->rejected_index <= p->match || p->state == PROGRESS_SNAPSHOT) {
        return; /* stale */
    }
    if (p->state == PROGRESS_PROBE && res->rejected_index != p->next - 1) {
        return; /* answers an older probe */
    }
    raft_index next = next_from_hint(r, m);
    if (next > res->rejected_index) {
        next = res->rejected_index;
    }
    raft_trace(r, "peer=%" PRIu32 " rejected prev=%" PRIu64 " next=%" PRIu64
               " -> %" PRIu64, m->from, res->rejected_index, p->next, next);
    progress_to_probe(p, next);
    replication_send(r, p, false);
}
