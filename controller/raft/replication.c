/* Log replication on the leader: AppendEntries batching and pipelining,
 * heartbeats, proposals and the commit rule.
 *
 * A peer in PIPELINE gets appends optimistically (next_index moves at send)
 * while fewer than inflight_max are unanswered; each carries at most
 * append_entries_max entries and append_bytes_max payload bytes (at least
 * one entry). A peer that made no progress during a heartbeat period with
 * appends out falls back to PROBE. The leader commits index N only when a
 * majority (itself counted only for what it persisted) matches N and N's
 * entry is of the current term (Raft §5.4.2).
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>

#include "common/err.h"
#include "controller/raft/raft_impl.h"

struct raft_progress *progress_of(struct raft *r, raft_id id)
{
    int pos = raft_voter_pos(r, id);
    return pos < 0 ? NULL : &r->progress[pos];
}

static void send_heartbeat(struct raft *r, struct raft_progress *p)
{
    /* Anchor at what the peer surely has, so that a heartbeat never makes a
     * pipelining peer reject an index still in flight. */
    raft_index prev = p->state == PROGRESS_PROBE ? p->next - 1 : p->match;
    if (prev < r->log.offset) {
        prev = r->log.offset;
    }
    struct raft_msg *m = raft_send(r, RAFT_MSG_APPEND, p->id);
    if (m == NULL) {
        return;
    }
    m->append.prev_index = prev;
    m->append.prev_term = log_term_at(&r->log, prev);
    m->append.commit = r->commit;
    if (p->state == PROGRESS_PROBE) {
        p->probe_sent = true;
    }
}

/* Send at most one message to @p; true if it carried entries. */
static bool send_one(struct raft *r, struct raft_progress *p, bool heartbeat)
{
    if (p->state == PROGRESS_SNAPSHOT) {
        if (heartbeat || p->snap_index != r->log.offset) {
            snapshot_send_chunk(r, p);
        }
        return false;
    }
    raft_index last = log_last_index(&r->log);
    raft_index prev = p->next - 1;
    if (prev < r->log.offset) {
        /* The entries the peer needs are compacted: send the snapshot. */
        raft_trace(r, "peer=%" PRIu32 " next=%" PRIu64
                   " behind snapshot=%" PRIu64 ": send snapshot", p->id,
                   p->next, r->log.offset);
        progress_to_snapshot(p, r->log.offset);
        snapshot_send_chunk(r, p);
        return false;
    }
    bool can_send = p->state == PROGRESS_PROBE
                        ? (!p->probe_sent || heartbeat)
                        : !progress_inflight_full(p, r->cfg.inflight_max);
    if (!can_send || p->next > last) {
        if (heartbeat) {
            send_heartbeat(r, p);
        }
        return false;
    }
    unsigned n = 0;
    size_t bytes = 0;
    for (raft_index i = p->next; i <= last; i++) {
        const struct raft_entry *e = log_get(&r->log, i);
        if (n > 0 && (n >= r->cfg.append_entries_max ||
                      bytes + e->data.len > r->cfg.append_bytes_max)) {
            break;
        }
        n++;
        bytes += e->data.len;
    }
    struct raft_msg *m = raft_send(r, RAFT_MSG_APPEND, p->id);
    if (m == NULL) {
        return false;
    }
    m->append.prev_index = prev;
    m->append.prev_term = log_term_at(&r->log, prev);
    m->append.commit = r->commit;
    m->append.n_entries = n; /* entries resolved in fill_update() */
    if (p->state == PROGRESS_PIPELINE) {
        p->next += n;
        progress_inflight_add(p, prev + n);
    } else {
        p->probe_sent = true;
    }
    return true;
}

void replication_send(struct raft *r, struct raft_progress *p, bool heartbeat)
{
    if (p->id == r->cfg.id) {
        return;
    }
    /* A pipelining peer gets appends until the window is full. */
    while (send_one(r, p, heartbeat) && p->state == PROGRESS_PIPELINE &&
           r->oom == 0) {
        heartbeat = false;
    }
}

void replication_broadcast(struct raft *r, bool heartbeat)
{
    for (unsigned k = 0; k < r->cfg.voters.n; k++) {
        replication_send(r, &r->progress[k], heartbeat);
    }
}

static int cmp_desc(const void *a, const void *b)
{
    raft_index x = *(const raft_index *)a, y = *(const raft_index *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

void replication_maybe_commit(struct raft *r)
{
    if (r->role != RAFT_LEADER) {
        return;
    }
    raft_index m[RAFT_VOTERS_MAX];
    for (unsigned k = 0; k < r->cfg.voters.n; k++) {
        struct raft_progress *p = &r->progress[k];
        m[k] = p->id == r->cfg.id ? raft_self_match(r) : p->match;
    }
    qsort(m, r->cfg.voters.n, sizeof m[0], cmp_desc);
    raft_index n = m[raft_quorum(r) - 1];
    if (n <= r->commit) {
        return;
    }
    if (log_term_at(&r->log, n) != r->term &&
        !r->cfg.unsafe_commit_previous_terms) {
        return; /* Raft §5.4.2: an older-term entry commits only under one
                 * of the current term (Figure 8). */
    }
    r->commit = n;
    /* Tell followers now rather than at the next heartbeat. */
    replication_broadcast(r, true);
}

void replication_tick(struct raft *r)
{
    if (r->now < r->heartbeat_deadline) {
        return;
    }
    r->heartbeat_deadline = r->now + r->cfg.heartbeat_ms;
    for (unsigned k = 0; k < r->cfg.voters.n; k++) {
        struct raft_progress *p = &r->progress[k];
        if (p->id == r->cfg.id) {
            continue;
        }
        if (p->state == PROGRESS_PIPELINE && !p->acked_since_hb &&
            p->n_inflight > 0) {
            /* Appends were lost or the peer is slow: probe again. */
            progress_to_probe(p, p->match + 1);
        }
        p->acked_since_hb = false;
        replication_send(r, p, true);
    }
}

int replication_propose(struct raft *r, const struct st_bytes *data,
                        unsigned n)
{
    if (r->role != RAFT_LEADER || r->transferee != 0) {
        return ST_ENOTLEADER;
    }
    for (unsigned k = 0; k < n; k++) {
        int rv = raft_log_append(r, r->term, RAFT_ENTRY_COMMAND, data[k]);
        if (rv != 0) {
            return rv;
        }
    }
    replication_broadcast(r, false);
    replication_maybe_commit(r);
    return 0;
}

void replication_persisted(struct raft *r, raft_index index, raft_term term)
{
    if (index <= r->persisted || log_term_at(&r->log, index) != term ||
        index <= r->log.offset) {
        return; /* stale: the log changed since that write */
    }
    r->persisted = index;
    if (r->role == RAFT_LEADER) {
        replication_maybe_commit(r);
        return;
    }
    if (r->ack_pending && r->role == RAFT_FOLLOWER &&
        r->leader == r->ack_to) {
        raft_index last = r->ack_index < r->persisted ? r->ack_index
                                                      : r->persisted;
        struct raft_msg *m = raft_send(r, RAFT_MSG_APPEND_RESULT, r->ack_to);
        if (m == NULL) {
            return;
        }
        m->append_result.success = true;
        m->append_result.last_index = last;
        if (r->persisted >= r->ack_index) {
            r->ack_pending = false;
        }
    }
}
