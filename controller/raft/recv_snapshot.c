/* A follower receives an InstallSnapshot chunk (Raft §7).
 *
 * Chunks are accepted in order only: a chunk at another offset than what we
 * hold is answered with the offset we expect. When the last byte arrives the
 * snapshot is installed: if our log has the snapshot's last entry we keep
 * the entries after it, otherwise the whole log goes. The update then carries
 * RAFT_UPD_SNAPSHOT, which the driver makes durable before it sends the
 * "done" answer of the same update. A snapshot at or below our commit index
 * teaches us nothing and is answered "done" at once.
 */
#include <inttypes.h>

#include "common/err.h"
#include "controller/raft/raft_impl.h"

static void answer(struct raft *r, const struct raft_msg *m, uint64_t next,
                   bool done)
{
    struct raft_msg *out = raft_send(r, RAFT_MSG_SNAPSHOT_RESULT, m->from);
    if (out == NULL) {
        return;
    }
    out->snapshot_result.last_index = m->snapshot.last_index;
    out->snapshot_result.next_offset = next;
    out->snapshot_result.done = done;
}

static void install(struct raft *r, const struct raft_msg *m)
{
    raft_index index = m->snapshot.last_index;
    raft_term term = m->snapshot.last_term;
    if (log_term_at(&r->log, index) == term) {
        log_compact_to(&r->log, index, term); /* keep the suffix */
        if (r->persisted < index) {
            r->persisted = index;
        }
    } else {
        /* Our log disagrees with or ends before the snapshot: all of it
         * goes (what of it was committed is in the snapshot anyway). */
        log_truncate_from(&r->log, r->log.offset + 1);
        log_compact_to(&r->log, index, term);
        r->upd_truncate_from = index + 1;
        r->upd_write_from = 0;
        r->persisted = index;
    }
    if (r->commit < index) {
        r->commit = index;
    }
    /* Swap the received bytes in as our snapshot. */
    struct st_buf tmp = r->snap_data;
    r->snap_data = r->rsnap_buf;
    r->rsnap_buf = tmp;
    st_buf_reset(&r->rsnap_buf);
    r->rsnap_index = 0;
    r->upd_flags |= RAFT_UPD_SNAPSHOT;
    raft_trace(r, "install snapshot index=%" PRIu64 " term=%" PRIu64
               " bytes=%zu", index, term, r->snap_data.len);
}

void recv_snapshot(struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER) {
        return;
    }
    if (r->role != RAFT_FOLLOWER || r->leader != m->from) {
        become_follower(r, r->term, m->from);
    }
    r->last_leader_contact = r->now;
    election_reset_timer(r);

    const struct raft_msg_snapshot *s = &m->snapshot;
    if (s->last_index <= r->commit) {
        answer(r, m, s->total_bytes, true);
        return;
    }
    if (r->rsnap_index != s->last_index || r->rsnap_term != s->last_term ||
        s->offset == 0) {
        st_buf_reset(&r->rsnap_buf);
        r->rsnap_index = s->last_index;
        r->rsnap_term = s->last_term;
    }
    if (s->offset != r->rsnap_buf.len ||
        s->offset + s->chunk.len > s->total_bytes) {
        answer(r, m, r->rsnap_buf.len, false);
        return;
    }
    if (st_buf_append(&r->rsnap_buf, s->chunk.base, s->chunk.len) != 0) {
        r->oom = ST_ENOMEM;
        return;
    }
    if (r->rsnap_buf.len < s->total_bytes) {
        answer(r, m, r->rsnap_buf.len, false);
        return;
    }
    install(r, m);
    answer(r, m, s->total_bytes, true);
}
