/* Snapshots: compaction after the application took one, and sending one to
 * a peer in chunks (InstallSnapshot, Raft §7).
 *
 * The core keeps a copy of the latest snapshot's bytes so that it can send
 * it; the log keeps only entries after it. A peer in SNAPSHOT state has one
 * chunk of snapshot_chunk_bytes outstanding at a time; it is re-sent at each
 * heartbeat until the peer answers with the offset it has.
 */
#include <inttypes.h>

#include "common/err.h"
#include "controller/raft/raft_impl.h"

void snapshot_send_chunk(struct raft *r, struct raft_progress *p)
{
    if (p->snap_index != r->log.offset) {
        /* A newer snapshot replaced the one being sent: start over. */
        progress_to_snapshot(p, r->log.offset);
    }
    uint64_t total = r->snap_data.len;
    uint64_t off = p->snap_offset <= total ? p->snap_offset : 0;
    uint64_t len = total - off;
    if (len > r->cfg.snapshot_chunk_bytes) {
        len = r->cfg.snapshot_chunk_bytes;
    }
    struct raft_msg *m = raft_send(r, RAFT_MSG_SNAPSHOT, p->id);
    if (m == NULL) {
        return;
    }
    m->snapshot.last_index = r->log.offset;
    m->snapshot.last_term = r->log.offset_term;
    m->snapshot.offset = off;
    m->snapshot.total_bytes = total;
    m->snapshot.chunk.base = r->snap_data.base ? r->snap_data.base + off
                                               : NULL;
    m->snapshot.chunk.len = len;
}

int snapshot_taken(struct raft *r, raft_index index, struct st_bytes data)
{
    if (index <= r->log.offset) {
        return 0; /* not newer than what we have */
    }
    if (index > r->commit || index > log_last_index(&r->log)) {
        return ST_EINVAL;
    }
    raft_term term = log_term_at(&r->log, index);
    st_buf_reset(&r->snap_data);
    if (st_buf_append(&r->snap_data, data.base, data.len) != 0) {
        return ST_ENOMEM;
    }
    log_compact_to(&r->log, index, term);
    if (r->persisted < index) {
        r->persisted = index; /* the durable snapshot covers them */
    }
    raft_trace(r, "snapshot taken index=%" PRIu64 " term=%" PRIu64
               " bytes=%zu", index, term, data.len);
    return 0;
}
