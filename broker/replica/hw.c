/* The leader's high watermark and the acks=all produces waiting for it.
 *
 * HW = min over the maximal ISR (committed ISR, plus the proposed one while
 * an AlterPartition is in flight: KIP-497) of each member's end: its durable
 * end with durable_hw (log.flush.policy=batch; the leader counts its own
 * durable end too), else its log end. A member that has not fetched in this
 * leader epoch has no known end and holds the HW where it is. The HW only
 * moves forward. A produce completes when the HW reaches its end offset;
 * if the committed ISR is then below min_insync_replicas it is answered
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND (Kafka's checkEnoughReplicasReachOffset):
 * the record may survive, so the outcome is unknown, never "failed". */
#include "broker/replica/replica_int.h"
#include "common/alloc.h"
#include "common/err.h"

static int64_t self_end(const struct st_replica *r)
{
    return r->cfg.durable_hw ? r->durable_end : r->log_end;
}

void hw_advance(struct st_replica *r)
{
    int64_t hw = self_end(r);

    for (unsigned i = 0; i < r->n_members; i++) {
        const struct follower *f = &r->followers[i];
        int32_t id = r->members[i].id;
        int64_t end;

        if (id == r->cfg.broker_id || !isr_in_maximal(r, id)) {
            continue;
        }
        if (!f->known) {
            return;
        }
        end = r->cfg.durable_hw ? f->durable_end : f->fetch_offset;
        if (end < hw) {
            hw = end;
        }
    }
    if (hw > r->hw) {
        replica_trace(r, "hw from=%lld to=%lld", (long long)r->hw,
                      (long long)hw);
        r->hw = hw;
    }
}

static int push_done(struct st_replica *r, uint64_t token, int64_t end,
                     enum st_replica_ack_status status)
{
    if (r->n_done == r->cap_done) {
        unsigned cap = r->cap_done == 0 ? 16 : r->cap_done * 2;
        struct st_replica_completion *d = st_realloc(r->done, cap * sizeof *d);
        if (d == NULL) {
            return ST_ENOMEM;
        }
        r->done = d;
        r->cap_done = cap;
    }
    r->done[r->n_done].token = token;
    r->done[r->n_done].end_offset = end;
    r->done[r->n_done].status = status;
    r->done[r->n_done].durable =
        status == ST_REPLICA_ACKED && r->cfg.durable_hw;
    r->n_done++;
    return 0;
}

int acks_add(struct st_replica *r, uint64_t token, int64_t end_offset)
{
    unsigned i;

    if (end_offset < 0) {
        return ST_EINVAL;
    }
    if (r->n_pending == r->cap_pending) {
        unsigned cap = r->cap_pending == 0 ? 16 : r->cap_pending * 2;
        struct pending_ack *p = st_realloc(r->pending, cap * sizeof *p);
        if (p == NULL) {
            return ST_ENOMEM;
        }
        r->pending = p;
        r->cap_pending = cap;
    }
    /* Keep ascending end offsets (appends arrive in order; be robust). */
    i = r->n_pending;
    while (i > 0 && r->pending[i - 1].end_offset > end_offset) {
        r->pending[i] = r->pending[i - 1];
        i--;
    }
    r->pending[i].token = token;
    r->pending[i].end_offset = end_offset;
    r->n_pending++;
    return 0;
}

int acks_complete(struct st_replica *r)
{
    unsigned n = 0;
    enum st_replica_ack_status status =
        r->n_isr >= r->cfg.min_insync_replicas
            ? ST_REPLICA_ACKED
            : ST_REPLICA_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
    int rv;

    while (n < r->n_pending && r->pending[n].end_offset <= r->hw) {
        rv =
            push_done(r, r->pending[n].token, r->pending[n].end_offset, status);
        if (rv != 0) {
            return rv;
        }
        n++;
    }
    for (unsigned i = n; i < r->n_pending; i++) {
        r->pending[i - n] = r->pending[i];
    }
    r->n_pending -= n;
    return 0;
}

int acks_fail_all(struct st_replica *r, enum st_replica_ack_status status)
{
    int rv;

    for (unsigned i = 0; i < r->n_pending; i++) {
        rv =
            push_done(r, r->pending[i].token, r->pending[i].end_offset, status);
        if (rv != 0) {
            return rv;
        }
    }
    r->n_pending = 0;
    return 0;
}
