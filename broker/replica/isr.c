/* The leader's ISR decisions: when to ask the controller to shrink or expand
 * the in-sync replica set (AlterPartition), and what its answer means.
 *
 * Shrink: an ISR member not caught up to our log end within
 * replica_lag_time_max_ms. Expand: a replica, validated in this leader
 * epoch, whose end (durable end with durable_hw) reached the HW and whose
 * fetch offset reached the start of our leader epoch (Kafka's
 * isFollowerInSync), whose broker is registered and not fenced, and whose
 * fetch carried the broker epoch the metadata log has (KIP-903: a broker
 * that restarted, maybe without its unflushed tail, cannot rejoin under its
 * old incarnation). The request names the partition epoch it is based on;
 * the controller refuses a stale one. One request in flight; until the
 * outcome is known the HW counts the union of both ISRs (hw.c). */
#include <string.h>

#include "broker/replica/replica_int.h"

/* The maximal ISR is the committed one plus every member we proposed on
 * the current partition epoch. A proposal is settled only when the
 * partition epoch moves (our alter accepted, or newer metadata), or when
 * the single copy we sent was refused outright. A timed-out request is not
 * settled: the controller may have applied it (sim seed 1229: the HW
 * counted the leader alone while the controller's ISR held a lagging
 * follower, which it then elected). */
bool isr_in_maximal(const struct st_replica *r, int32_t id)
{
    if (isr_contains(r->isr, r->n_isr, id)) {
        return true;
    }
    return r->pending_base == r->partition_epoch &&
           isr_contains(r->pending_isr, r->n_pending_isr, id);
}

static void pending_add(struct st_replica *r,
                        const struct st_replica_alter_request *a)
{
    if (r->pending_base != a->partition_epoch) {
        r->pending_base = a->partition_epoch;
        r->n_pending_isr = 0;
        r->pending_copies = 0;
    }
    for (unsigned i = 0; i < a->n_isr; i++) {
        if (!isr_contains(r->pending_isr, r->n_pending_isr, a->isr[i].id)) {
            r->pending_isr[r->n_pending_isr++] = a->isr[i].id;
        }
    }
    r->pending_copies++;
}

void isr_pending_clear(struct st_replica *r)
{
    r->n_pending_isr = 0;
    r->pending_copies = 0;
    r->pending_base = -1;
}

static bool lagging(const struct st_replica *r, const struct follower *f)
{
    return r->now_ms > f->caught_up_ms + r->cfg.replica_lag_time_max_ms;
}

static bool eligible(const struct st_replica *r, unsigned i)
{
    const struct follower *f = &r->followers[i];
    const struct st_replica_member *m = &r->members[i];
    int64_t end;

    if (!f->known || m->fenced) {
        return false;
    }
    if (m->broker_epoch >= 0 && m->broker_epoch != f->broker_epoch) {
        return false;
    }
    end = r->cfg.durable_hw ? f->durable_end : f->fetch_offset;
    return end >= r->hw && f->fetch_offset >= r->epoch_start_offset &&
           !lagging(r, f);
}

void isr_maybe_alter(struct st_replica *r, struct st_replica_update *out)
{
    struct st_replica_alter_request *a = &r->alter;
    bool changed = false;

    if (r->alter_inflight &&
        r->now_ms >= r->alter_sent_ms + r->cfg.alter_timeout_ms) {
        replica_trace(r, "alter timed out partition_epoch=%d",
                      a->partition_epoch);
        r->alter_inflight = false;
        r->alter_wait_metadata = false;
    }
    if (r->alter_inflight || r->now_ms < r->alter_retry_ms) {
        return;
    }
    if (r->alter_wait_metadata) {
        /* Refused as stale: new metadata is on its way; give up waiting
         * after the alter timeout in case it was lost. */
        if (r->now_ms < r->alter_sent_ms + r->cfg.alter_timeout_ms) {
            return;
        }
        r->alter_wait_metadata = false;
    }

    memset(a, 0, sizeof *a);
    for (unsigned i = 0; i < r->n_members; i++) {
        const struct st_replica_member *m = &r->members[i];
        bool in = isr_contains(r->isr, r->n_isr, m->id);
        bool keep;

        if (m->id == r->cfg.broker_id) {
            keep = true;
        } else if (in) {
            keep = !lagging(r, &r->followers[i]);
        } else {
            keep = eligible(r, i);
        }
        changed = changed || keep != in;
        if (keep) {
            a->isr[a->n_isr].id = m->id;
            a->isr[a->n_isr].broker_epoch = m->id == r->cfg.broker_id
                                                ? r->cfg.broker_epoch
                                                : r->followers[i].broker_epoch;
            a->isr[a->n_isr].fenced = false;
            a->n_isr++;
        }
    }
    if (!changed) {
        return;
    }
    a->leader_id = r->cfg.broker_id;
    a->leader_epoch = r->leader_epoch;
    a->partition_epoch = r->partition_epoch;
    r->alter_inflight = true;
    r->alter_sent_ms = r->now_ms;
    pending_add(r, a);
    out->has_alter = true;
    out->alter = *a;
    replica_trace(r, "alter isr from=%u to=%u partition_epoch=%d", r->n_isr,
                  a->n_isr, a->partition_epoch);
}

void isr_on_result(struct st_replica *r,
                   const struct st_replica_alter_result *res)
{
    if (r->role != ST_REPLICA_LEADER || !r->alter_inflight ||
        res->leader_epoch != r->alter.leader_epoch ||
        res->base_partition_epoch != r->alter.partition_epoch) {
        return; /* not the answer to the request in flight */
    }
    r->alter_inflight = false;
    replica_trace(r, "alter result error=%s partition_epoch=%d",
                  st_replica_error_name(res->error), res->partition_epoch);
    switch (res->error) {
    case ST_REPLICA_OK:
        if (res->partition_epoch > r->partition_epoch &&
            res->n_isr <= ST_REPLICA_MAX) {
            r->partition_epoch = res->partition_epoch;
            memcpy(r->isr, res->isr, res->n_isr * sizeof *res->isr);
            r->n_isr = res->n_isr;
        }
        break;
    case ST_REPLICA_ERR_STALE_PARTITION_EPOCH:
    case ST_REPLICA_ERR_FENCED_EPOCH:
    case ST_REPLICA_ERR_NOT_LEADER:
        r->alter_wait_metadata = true;
        r->alter_sent_ms = r->now_ms;
        break;
    case ST_REPLICA_ERR_INELIGIBLE_REPLICA:
        /* Refused while based on the current epoch: if it was the only
         * copy, nothing of it can still apply. */
        if (r->pending_copies == 1) {
            isr_pending_clear(r);
        }
        r->alter_retry_ms = r->now_ms + r->cfg.alter_backoff_ms;
        break;
    default:
        /* A timeout or transport error says nothing of the outcome: the
         * proposal stays in the maximal ISR. */
        r->alter_retry_ms = r->now_ms + r->cfg.alter_backoff_ms;
        break;
    }
}

uint64_t isr_next_check_ms(const struct st_replica *r)
{
    uint64_t next = UINT64_MAX;

    if (r->alter_inflight || r->alter_wait_metadata) {
        next = r->alter_sent_ms + r->cfg.alter_timeout_ms;
    } else if (r->alter_retry_ms > r->now_ms) {
        next = r->alter_retry_ms;
    }
    for (unsigned i = 0; i < r->n_members; i++) {
        uint64_t t;
        if (r->members[i].id == r->cfg.broker_id ||
            !isr_contains(r->isr, r->n_isr, r->members[i].id)) {
            continue;
        }
        t = r->followers[i].caught_up_ms + r->cfg.replica_lag_time_max_ms + 1;
        if (t < next) {
            next = t;
        }
    }
    return next;
}
