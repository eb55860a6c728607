/* The follower side of replication: when to fetch, and what a fetch reply
 * means for the local log.
 *
 * One fetch is in flight at a time; it carries the log end and the epoch of
 * the last record (the cache's latest epoch, empty epochs included, as
 * Kafka does). A reply that does not answer that exact fetch (another
 * offset, another leader epoch) is ignored, so a late reply never appends at
 * the wrong place. A diverging answer {E, end} is resolved against our own
 * cache: we truncate to min(end, the end of our largest epoch <= E) and
 * fetch again with the epoch now last in our log, which strictly decreases
 * until the logs agree (KIP-279). When the leader has no epoch at or below
 * ours, or our offset is below its log start, nothing of our log can be
 * proven to match: we delete it and restart at the leader's log start. */
#include "broker/replica/replica_int.h"
#include "common/err.h"

void follower_become(struct st_replica *r)
{
    r->role = ST_REPLICA_FOLLOWER;
    r->fetch_inflight = false;
    r->next_fetch_ms = r->now_ms;
    r->alter_inflight = false;
    replica_trace(r, "became follower leader=%d", r->leader);
}

void follower_maybe_fetch(struct st_replica *r, struct st_replica_update *out)
{
    struct st_replica_fetch_request *q = &r->fetch;

    if (r->role != ST_REPLICA_FOLLOWER || r->leader < 0) {
        return;
    }
    if (r->fetch_inflight) {
        if (r->now_ms < r->fetch_sent_ms + r->cfg.fetch_timeout_ms) {
            return;
        }
        r->fetch_inflight = false; /* lost: ask again */
    } else if (r->now_ms < r->next_fetch_ms) {
        return;
    }
    q->to = r->leader;
    q->replica_id = r->cfg.broker_id;
    q->broker_epoch = r->cfg.broker_epoch;
    q->current_leader_epoch = r->leader_epoch;
    q->fetch_offset = r->log_end;
    q->last_fetched_epoch = epochs_latest(r);
    q->durable_end = r->durable_end;
    r->fetch_inflight = true;
    r->fetch_sent_ms = r->now_ms;
    out->has_fetch = true;
    out->fetch = *q;
}

static void reset_log(struct st_replica *r, int64_t start,
                      struct st_replica_update *out)
{
    replica_trace(r, "log reset from_end=%lld to=%lld", (long long)r->log_end,
                  (long long)start);
    out->reset_to = start;
    r->log_start = start;
    r->log_end = start;
    r->durable_end = start;
    r->hw = start;
    r->n_epochs = 0;
}

static void truncate_log(struct st_replica *r, int64_t to,
                         struct st_replica_update *out)
{
    replica_trace(r, "truncate from_end=%lld to=%lld", (long long)r->log_end,
                  (long long)to);
    out->truncate_to = to;
    r->log_end = to;
    if (r->durable_end > to) {
        r->durable_end = to;
    }
    if (r->hw > to) {
        r->hw = to;
    }
    epochs_truncate_end(r, to);
}

static void on_diverging(struct st_replica *r,
                         const struct st_replica_fetch_reply *rep,
                         struct st_replica_update *out)
{
    int32_t epoch;
    int64_t end;
    int64_t to;

    if (rep->diverging_epoch < 0) {
        reset_log(r, rep->log_start, out);
        return;
    }
    epochs_end(r, rep->diverging_epoch, &epoch, &end);
    if (epoch < 0) {
        reset_log(r, rep->log_start, out);
        return;
    }
    to = end < rep->diverging_end_offset ? end : rep->diverging_end_offset;
    if (to < r->log_start) {
        reset_log(r, rep->log_start, out);
        return;
    }
    truncate_log(r, to, out);
}

static bool runs_valid(const struct st_replica_fetch_reply *rep)
{
    for (unsigned i = 0; i < rep->n_runs; i++) {
        const struct st_replica_epoch *e = &rep->runs[i];
        if (e->start_offset < rep->offset || e->start_offset >= rep->data_end ||
            e->epoch < 0) {
            return false;
        }
        if (i > 0 && (e->epoch <= rep->runs[i - 1].epoch ||
                      e->start_offset <= rep->runs[i - 1].start_offset)) {
            return false;
        }
    }
    return rep->n_runs > 0 && rep->runs[0].start_offset == rep->offset;
}

static int on_data(struct st_replica *r,
                   const struct st_replica_fetch_reply *rep,
                   struct st_replica_update *out)
{
    int rv;

    if (rep->data_end > rep->offset) {
        if (rep->offset != r->log_end || !runs_valid(rep)) {
            return ST_EINVAL;
        }
        for (unsigned i = 0; i < rep->n_runs; i++) {
            rv =
                epochs_assign(r, rep->runs[i].epoch, rep->runs[i].start_offset);
            if (rv != 0) {
                return rv;
            }
        }
        r->log_end = rep->data_end;
        out->append_fetched = true;
        r->next_fetch_ms = r->now_ms;
    } else {
        r->next_fetch_ms = r->now_ms + r->cfg.fetch_backoff_ms;
    }
    /* A follower's HW is the leader's, capped by what we hold. */
    r->hw = rep->hw < r->log_end ? rep->hw : r->log_end;
    if (r->hw < r->log_start) {
        r->hw = r->log_start;
    }
    return 0;
}

int follower_on_reply(struct st_replica *r,
                      const struct st_replica_fetch_reply *rep,
                      struct st_replica_update *out)
{
    if (r->role != ST_REPLICA_FOLLOWER || !r->fetch_inflight ||
        rep->leader_epoch != r->fetch.current_leader_epoch ||
        rep->fetch_offset != r->fetch.fetch_offset ||
        rep->fetch_offset != r->log_end) {
        return 0; /* not the answer to the fetch in flight */
    }
    if (rep->error == ST_REPLICA_OK && rep->diverging) {
        r->fetch_inflight = false;
        on_diverging(r, rep, out);
        r->next_fetch_ms = r->now_ms;
        return 0;
    }
    if (rep->error == ST_REPLICA_OK) {
        int rv = on_data(r, rep, out);
        if (rv == 0) {
            r->fetch_inflight = false;
        }
        return rv;
    }
    r->fetch_inflight = false;
    if (rep->error == ST_REPLICA_ERR_OUT_OF_RANGE &&
        (rep->fetch_offset < rep->log_start || r->n_epochs == 0)) {
        reset_log(r, rep->log_start, out);
        r->next_fetch_ms = r->now_ms;
        return 0;
    }
    replica_trace(r, "fetch refused error=%s",
                  st_replica_error_name(rep->error));
    r->next_fetch_ms = r->now_ms + r->cfg.fetch_backoff_ms;
    return 0;
}
