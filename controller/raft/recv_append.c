/* A follower receives AppendEntries (Raft §5.3).
 *
 * The message's term equals ours (recv.c). If our log has prev_index with
 * prev_term, conflicting entries are truncated and new ones appended; the
 * commit index moves to min(leader commit, last verified index) and never
 * back. The success answer says "my log matches yours up to last_index and
 * that is durable": it leaves now only if the verified prefix is already
 * persisted, otherwise when a PERSISTED event covers it (or immediately with
 * the unsafe test switch). A mismatch is answered with a hint (conflict term
 * and its first index) so the leader skips a whole term per round trip.
 */
#include <inttypes.h>

#include "common/err.h"
#include "controller/raft/raft_impl.h"

static void reject(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg *out = raft_send(r, RAFT_MSG_APPEND_RESULT, m->from);
    if (out == NULL) {
        return;
    }
    raft_index prev = m->append.prev_index;
    raft_index last = log_last_index(&r->log);
    out->append_result.success = false;
    out->append_result.rejected_index = prev;
    if (prev > last) {
        out->append_result.conflict_term = 0;
        out->append_result.conflict_index = last + 1;
    } else {
        raft_term t = log_term_at(&r->log, prev);
        raft_index i = prev;
        while (i - 1 > r->log.offset && log_term_at(&r->log, i - 1) == t) {
            i--;
        }
        out->append_result.conflict_term = t;
        out->append_result.conflict_index = i;
    }
    raft_trace(r, "reject append from=%" PRIu32 " prev=%" PRIu64 "/%" PRIu64
               " hint=%" PRIu64 "/%" PRIu64, m->from, prev,
               m->append.prev_term, out->append_result.conflict_index,
               out->append_result.conflict_term);
}

static void ack(struct raft *r, raft_id to, raft_index last)
{
    struct raft_msg *out = raft_send(r, RAFT_MSG_APPEND_RESULT, to);
    if (out == NULL) {
        return;
    }
    out->append_result.success = true;
    out->append_result.last_index = last;
}

void recv_append(struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER) {
        /* Two leaders in one term: impossible unless a vote was lost. */
        raft_trace(r, "ignore append from=%" PRIu32 ": I lead this term",
                   m->from);
        return;
    }
    if (r->role != RAFT_FOLLOWER || r->leader != m->from) {
        become_follower(r, r->term, m->from);
    }
    r->last_leader_contact = r->now;
    election_reset_timer(r);

    raft_index prev = m->append.prev_index;
    raft_term prev_term = m->append.prev_term;
    const struct raft_entry *ents = m->append.entries;
    unsigned n = m->append.n_entries;
    if (prev < r->log.offset) {
        /* Entries up to our snapshot are committed, so they match: skip
         * them. */
        raft_index skip = r->log.offset - prev;
        if (skip >= n) {
            ack(r, m->from, r->log.offset);
            return;
        }
        ents += skip;
        n -= (unsigned)skip;
        prev = r->log.offset;
        prev_term = r->log.offset_term;
    }
    if (prev > log_last_index(&r->log) ||
        log_term_at(&r->log, prev) != prev_term) {
        reject(r, m);
        return;
    }
    for (unsigned k = 0; k < n; k++) {
        raft_index i = prev + 1 + k;
        if (i <= r->commit && log_term_at(&r->log, i) != ents[k].term) {
            /* A leader wants a committed entry overwritten: some node lost
             * durable state (or a bug). Refuse rather than diverge. */
            raft_trace(r, "refuse append from=%" PRIu32 ": would overwrite"
                       " committed index=%" PRIu64, m->from, i);
            r->oom = ST_ECORRUPT;
            return;
        }
    }
    for (unsigned k = 0; k < n; k++) {
        const struct raft_entry *e = &ents[k];
        raft_index i = prev + 1 + k;
        if (i <= log_last_index(&r->log)) {
            if (log_term_at(&r->log, i) == e->term) {
                continue;
            }
            raft_trace(r, "truncate from=%" PRIu64 " (term %" PRIu64
                       " != %" PRIu64 ")", i, log_term_at(&r->log, i),
                       e->term);
            raft_log_truncate(r, i);
        }
        if (raft_log_append(r, e->term, e->type, e->data) != 0) {
            return;
        }
    }
    raft_index verified = prev + n;
    raft_index commit = m->append.commit < verified ? m->append.commit
                                                    : verified;
    if (commit > r->commit) {
        r->commit = commit;
    }
    if (r->cfg.unsafe_send_before_persist || verified <= r->persisted) {
        ack(r, m->from, verified);
        return;
    }
    /* Both prefixes were verified against this leader's log in this term,
     * which it never rewrites, so the larger one stands. */
    if (!r->ack_pending || verified > r->ack_index) {
        r->ack_index = verified;
    }
    r->ack_pending = true;
    r->ack_to = m->from;
}
