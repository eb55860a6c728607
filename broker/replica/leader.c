/* The leader side of replication: becoming leader, and answering a
 * follower's fetch.
 *
 * A fetch names the follower's view of the leader epoch (KIP-320), its
 * fetch offset (its log end) and the epoch of its last record. The leader
 * looks that epoch up in its own cache: if the largest epoch it has at or
 * below it differs, or ends before the fetch offset, the follower's log has
 * diverged and the reply carries {epoch, end offset} instead of data (the
 * fetch-based form of OffsetsForLeaderEpoch, KIP-101/KIP-279/KIP-320).
 * Only a validated fetch moves what the leader knows of the follower: its
 * log then matches ours below the fetch offset, so that offset (or its
 * durable end) may count towards the HW. */
#include <string.h>

#include "broker/replica/replica_int.h"
#include "common/err.h"

void leader_become(struct st_replica *r)
{
    r->role = ST_REPLICA_LEADER;
    r->fetch_inflight = false;
    r->alter_inflight = false;
    r->alter_wait_metadata = false;
    r->alter_retry_ms = 0;
    isr_pending_clear(r);
    /* Our epoch starts at our log end (Kafka assigns it at makeLeader). */
    (void)epochs_assign(r, r->leader_epoch, r->log_end);
    r->epoch_start_offset = r->log_end;
    /* Forget every follower: positions from an older epoch were validated
     * against another leader's log, so they prove nothing about ours. The
     * lag clock starts now for everyone. */
    for (unsigned i = 0; i < r->n_members; i++) {
        struct follower *f = &r->followers[i];
        memset(f, 0, sizeof *f);
        f->fetch_offset = -1;
        f->durable_end = -1;
        f->last_fetch_ms = r->now_ms;
        f->caught_up_ms = r->now_ms;
        f->leo_at_last_fetch = r->log_end;
    }
    if (r->hw > r->log_end) {
        r->hw = r->log_end;
    }
    replica_trace(r, "became leader start_offset=%lld hw=%lld",
                  (long long)r->log_end, (long long)r->hw);
}

/* Kafka's lag rule (Replica.updateFetchState): a follower is caught up at
 * this fetch if it reached our log end; or it was caught up at its
 * previous fetch if it now reached what our log end was then. */
static void update_caught_up(struct st_replica *r, struct follower *f,
                             int64_t fetch_offset)
{
    if (fetch_offset >= r->log_end) {
        f->caught_up_ms = r->now_ms;
    } else if (fetch_offset >= f->leo_at_last_fetch &&
               f->last_fetch_ms > f->caught_up_ms) {
        f->caught_up_ms = f->last_fetch_ms;
    }
    f->leo_at_last_fetch = r->log_end;
    f->last_fetch_ms = r->now_ms;
}

static enum st_replica_error
check_fetch(struct st_replica *r, const struct st_replica_follower_fetch *q)
{
    if (r->role != ST_REPLICA_LEADER) {
        return ST_REPLICA_ERR_NOT_LEADER;
    }
    if (q->current_leader_epoch < r->leader_epoch) {
        return ST_REPLICA_ERR_FENCED_EPOCH;
    }
    if (q->current_leader_epoch > r->leader_epoch) {
        return ST_REPLICA_ERR_UNKNOWN_EPOCH;
    }
    if (q->replica_id == r->cfg.broker_id ||
        member_index(r, q->replica_id) < 0) {
        return ST_REPLICA_ERR_NOT_LEADER; /* not a follower of ours */
    }
    if (q->fetch_offset < r->log_start) {
        return ST_REPLICA_ERR_OUT_OF_RANGE;
    }
    if (q->last_fetched_epoch < 0 && q->fetch_offset > r->log_end) {
        return ST_REPLICA_ERR_OUT_OF_RANGE; /* empty log, past our end */
    }
    return ST_REPLICA_OK;
}

int leader_on_fetch(struct st_replica *r,
                    const struct st_replica_follower_fetch *q,
                    struct st_replica_update *out)
{
    struct st_replica_fetch_reply *rep = &out->fetch_reply;
    struct follower *f;
    int32_t epoch;
    int64_t end;
    int64_t durable;
    int i;

    out->has_fetch_reply = true;
    rep->to = q->replica_id;
    rep->leader_epoch = q->current_leader_epoch;
    rep->fetch_offset = q->fetch_offset;
    rep->log_start = r->log_start;
    rep->diverging_epoch = -1;
    rep->diverging_end_offset = -1;
    rep->offset = q->fetch_offset;
    rep->max_offset = q->fetch_offset;
    rep->data_end = q->fetch_offset;
    rep->error = check_fetch(r, q);
    if (rep->error == ST_REPLICA_ERR_NOT_LEADER) {
        return ST_ENOTLEADER;
    }
    if (rep->error != ST_REPLICA_OK) {
        return 0;
    }
    if (q->last_fetched_epoch >= 0) {
        epochs_end(r, q->last_fetched_epoch, &epoch, &end);
        if (epoch != q->last_fetched_epoch || q->fetch_offset > end) {
            rep->diverging = true;
            rep->diverging_epoch = epoch;
            rep->diverging_end_offset = end;
            replica_trace(r,
                          "fetch diverges replica=%d offset=%lld "
                          "last_epoch=%d answer_epoch=%d end=%lld",
                          q->replica_id, (long long)q->fetch_offset,
                          q->last_fetched_epoch, epoch, (long long)end);
            return 0;
        }
    }

    rep->max_offset = r->log_end;
    i = member_index(r, q->replica_id);
    f = &r->followers[i];
    if (q->broker_epoch < r->members[i].broker_epoch ||
        (f->known && q->broker_epoch < f->broker_epoch)) {
        /* A fetch from an older incarnation (delayed in the network): its
         * positions describe a log that a restart may have cut (KIP-903).
         * Serve it, but let it count for nothing. */
        return 0;
    }
    durable =
        q->durable_end < q->fetch_offset ? q->durable_end : q->fetch_offset;
    if (f->known && q->broker_epoch == f->broker_epoch) {
        /* Within one incarnation and one leader epoch a validated follower
         * never truncates, so a smaller position is a reordered fetch. */
        if (q->fetch_offset < f->fetch_offset) {
            return 0;
        }
        if (durable < f->durable_end) {
            durable = f->durable_end;
        }
    }
    update_caught_up(r, f, q->fetch_offset);
    f->known = true;
    f->broker_epoch = q->broker_epoch;
    f->fetch_offset = q->fetch_offset;
    f->durable_end = durable;
    return 0;
}
