/* The leader receives an InstallSnapshot answer: send the next chunk, or,
 * once the peer installed it, resume log replication after the snapshot. */
#include "controller/raft/raft_impl.h"

void recv_snapshot_result(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_LEADER) {
        return;
    }
    struct raft_progress *p = progress_of(r, m->from);
    const struct raft_msg_snapshot_result *res = &m->snapshot_result;
    p->recent_active = true;
    if (p->state != PROGRESS_SNAPSHOT || res->last_index != p->snap_index) {
        return; /* stale */
    }
    if (res->done) {
        p->acked_since_hb = true;
        if (res->last_index > p->match) {
            p->match = res->last_index;
        }
        progress_to_probe(p, p->match + 1);
        replication_maybe_commit(r);
        replication_send(r, p, false);
        return;
    }
    if (p->snap_index != r->log.offset) {
        return; /* the next heartbeat restarts with the newer snapshot */
    }
    p->snap_offset = res->next_offset;
    snapshot_send_chunk(r, p);
}
