/* What a leader knows of each peer's log (thesis §3.5, etcd's Progress).
 *
 * PROBE: next_index is a guess; one AppendEntries at a time until the peer
 * answers. PIPELINE: the peer matched; appends go out optimistically (next
 * moves at send) up to inflight_max unanswered ones. SNAPSHOT: the peer needs
 * entries we compacted; InstallSnapshot chunks go out one at a time.
 */
#include <string.h>

#include "controller/raft/raft_impl.h"

void progress_reset(struct raft_progress *p, raft_id id, raft_index next)
{
    memset(p, 0, sizeof *p);
    p->id = id;
    p->state = PROGRESS_PROBE;
    p->next = next;
}

void progress_to_probe(struct raft_progress *p, raft_index next)
{
    p->state = PROGRESS_PROBE;
    p->next = next > p->match ? next : p->match + 1;
    p->n_inflight = 0;
    p->probe_sent = false;
}

void progress_to_pipeline(struct raft_progress *p)
{
    p->state = PROGRESS_PIPELINE;
    p->n_inflight = 0;
    p->probe_sent = false;
}

void progress_to_snapshot(struct raft_progress *p, raft_index snap_index)
{
    p->state = PROGRESS_SNAPSHOT;
    p->snap_index = snap_index;
    p->snap_offset = 0;
    p->n_inflight = 0;
    p->probe_sent = false;
}

bool progress_ack(struct raft_progress *p, raft_index last)
{
    unsigned k = 0;
    while (k < p->n_inflight && p->inflight[k] <= last) {
        k++;
    }
    if (k > 0) {
        memmove(p->inflight, p->inflight + k,
                (p->n_inflight - k) * sizeof p->inflight[0]);
        p->n_inflight -= k;
    }
    if (last <= p->match) {
        return false;
    }
    p->match = last;
    if (p->next <= last) {
        p->next = last + 1;
    }
    p->acked_since_hb = true;
    return true;
}

bool progress_inflight_full(const struct raft_progress *p, unsigned max)
{
    return p->n_inflight >= max;
}

void progress_inflight_add(struct raft_progress *p, raft_index last)
{
    if (p->n_inflight < RAFT_INFLIGHT_CAP) {
        p->inflight[p->n_inflight++] = last;
    }
}
