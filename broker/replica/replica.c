/* The replica core's entry points: allocation, st_replica_step() dispatch,
 * the update's common fields, and the read-only accessors. The rules live in
 * the files named after them (partition.c, leader.c, follower.c, hw.c,
 * isr.c, epochs.c). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker/replica/replica_int.h"
#include "common/alloc.h"
#include "common/err.h"

void st_replica_config_init(struct st_replica_config *c)
{
    memset(c, 0, sizeof *c);
    c->replica_lag_time_max_ms = 30000;
    c->min_insync_replicas = 1;
    c->durable_hw = true;
    c->fetch_timeout_ms = 2000;
    c->fetch_backoff_ms = 50;
    c->alter_timeout_ms = 5000;
    c->alter_backoff_ms = 100;
}

void replica_trace(struct st_replica *r, const char *fmt, ...)
{
    char line[256];
    int n;
    va_list ap;

    if (r->cfg.trace == NULL) {
        return;
    }
    n = snprintf(line, sizeof line, "t=%llu broker=%d epoch=%d ",
                 (unsigned long long)r->now_ms, r->cfg.broker_id,
                 r->leader_epoch);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    r->cfg.trace(r->cfg.trace_arg, line);
}

int member_index(const struct st_replica *r, int32_t id)
{
    for (unsigned i = 0; i < r->n_members; i++) {
        if (r->members[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

bool isr_contains(const int32_t *isr, unsigned n, int32_t id)
{
    for (unsigned i = 0; i < n; i++) {
        if (isr[i] == id) {
            return true;
        }
    }
    return false;
}

static bool log_state_valid(const struct st_replica_log_state *l)
{
    if (l->log_start < 0 || l->log_end < l->log_start || l->durable_end < 0 ||
        l->durable_end > l->log_end) {
        return false;
    }
    for (unsigned i = 0; i < l->n_epochs; i++) {
        if (l->epochs[i].epoch < 0 || l->epochs[i].start_offset < 0) {
            return false;
        }
        if (i > 0 &&
            (l->epochs[i].epoch <= l->epochs[i - 1].epoch ||
             l->epochs[i].start_offset <= l->epochs[i - 1].start_offset)) {
            return false;
        }
    }
    return true;
}

int st_replica_new(const struct st_replica_config *cfg,
                   const struct st_replica_log_state *log,
                   struct st_replica **out)
{
    struct st_replica *r;
    int rv;

    if (!log_state_valid(log)) {
        return ST_EINVAL;
    }
    r = st_calloc(1, sizeof *r);
    if (r == NULL) {
        return ST_ENOMEM;
    }
    r->cfg = *cfg;
    r->role = ST_REPLICA_NONE;
    r->leader = -1;
    r->leader_epoch = -1;
    r->partition_epoch = -1;
    r->pending_base = -1;
    r->log_start = log->log_start;
    r->log_end = log->log_end;
    r->durable_end = log->durable_end;
    r->hw = log->hw < log->log_start ? log->log_start : log->hw;
    if (r->hw > log->log_end) {
        r->hw = log->log_end;
    }
    for (unsigned i = 0; i < log->n_epochs; i++) {
        rv =
            epochs_assign(r, log->epochs[i].epoch, log->epochs[i].start_offset);
        if (rv != 0) {
            st_replica_free(r);
            return rv;
        }
    }
    *out = r;
    return 0;
}

void st_replica_free(struct st_replica *r)
{
    if (r == NULL) {
        return;
    }
    st_free(r->epochs);
    st_free(r->pending);
    st_free(r->done);
    st_free(r);
}

static int on_appended(struct st_replica *r, const struct st_replica_event *ev)
{
    int64_t start = ev->appended.log_start;
    int64_t end = ev->appended.log_end;
    int64_t durable = ev->appended.durable_end;
    int rv;

    if (start < 0 || end < start || durable < 0 || durable > end) {
        return ST_EINVAL;
    }
    if (end > r->log_end) {
        if (ev->appended.epoch > epochs_latest(r)) {
            rv = epochs_assign(r, ev->appended.epoch, r->log_end);
            if (rv != 0) {
                return rv;
            }
        }
    } else if (end < r->log_end) {
        /* The log was cut under us (a failed append rolled back). */
        replica_trace(r, "log cut from=%lld to=%lld", (long long)r->log_end,
                      (long long)end);
        epochs_truncate_end(r, end);
        if (r->hw > end) {
            r->hw = end;
        }
    }
    r->log_end = end;
    if (durable > r->durable_end && r->role == ST_REPLICA_FOLLOWER &&
        !r->fetch_inflight) {
        r->next_fetch_ms = r->now_ms; /* tell the leader soon */
    }
    r->durable_end = durable;
    if (start > r->log_start) {
        epochs_truncate_start(r, start);
    }
    r->log_start = start;
    if (r->hw < start) {
        r->hw = start;
    }
    return 0;
}

static void fill_common(struct st_replica *r, struct st_replica_update *out)
{
    uint64_t next = UINT64_MAX;

    out->role = r->role;
    out->leader_epoch = r->leader_epoch;
    out->hw_offset = r->hw;
    out->hw_settled =
        r->role == ST_REPLICA_LEADER && r->hw >= r->epoch_start_offset;
    out->completions = r->done;
    out->n_completions = r->n_done;
    if (r->role == ST_REPLICA_LEADER) {
        next = isr_next_check_ms(r);
    } else if (r->role == ST_REPLICA_FOLLOWER) {
        next = r->fetch_inflight ? r->fetch_sent_ms + r->cfg.fetch_timeout_ms
                                 : r->next_fetch_ms;
    }
    out->next_tick_ms = next;
}

int st_replica_step(struct st_replica *r, const struct st_replica_event *ev,
                    struct st_replica_update *out)
{
    int rv = 0;

    memset(out, 0, sizeof *out);
    out->truncate_to = -1;
    out->reset_to = -1;
    r->n_done = 0;
    if (ev->now_ms > r->now_ms) {
        r->now_ms = ev->now_ms;
    }

    switch (ev->type) {
    case ST_REPLICA_EV_PARTITION_CHANGED:
        rv = partition_changed(r, &ev->partition, out);
        break;
    case ST_REPLICA_EV_BROKER_CHANGED:
        broker_changed(r, &ev->broker);
        break;
    case ST_REPLICA_EV_APPENDED:
        rv = on_appended(r, ev);
        break;
    case ST_REPLICA_EV_ACK_WAIT:
        if (r->role != ST_REPLICA_LEADER) {
            rv = ST_ENOTLEADER;
            break;
        }
        rv = acks_add(r, ev->ack_wait.token, ev->ack_wait.end_offset);
        break;
    case ST_REPLICA_EV_FOLLOWER_FETCH:
        rv = leader_on_fetch(r, &ev->fetch, out);
        break;
    case ST_REPLICA_EV_FETCH_REPLY:
        rv = follower_on_reply(r, &ev->fetch_reply, out);
        break;
    case ST_REPLICA_EV_ALTER_RESULT:
        isr_on_result(r, &ev->alter_result);
        break;
    case ST_REPLICA_EV_TICK:
        break;
    default:
        rv = ST_EINVAL;
        break;
    }

    /* Whatever happened, bring the derived state up to date. */
    if (rv == 0 && r->role == ST_REPLICA_LEADER) {
        hw_advance(r);
        rv = acks_complete(r);
        if (rv == 0) {
            isr_maybe_alter(r, out);
        }
    }
    if (rv == 0 && r->role == ST_REPLICA_FOLLOWER) {
        follower_maybe_fetch(r, out);
    }
    if (out->has_fetch_reply) {
        out->fetch_reply.hw = r->hw; /* the HW after this fetch counted */
    }
    fill_common(r, out);
    return rv;
}

enum st_replica_role st_replica_role(const struct st_replica *r)
{
    return r->role;
}

int32_t st_replica_leader_epoch(const struct st_replica *r)
{
    return r->leader_epoch;
}

int32_t st_replica_partition_epoch(const struct st_replica *r)
{
    return r->partition_epoch;
}

int64_t st_replica_hw(const struct st_replica *r)
{
    return r->hw;
}

int64_t st_replica_log_end(const struct st_replica *r)
{
    return r->log_end;
}

int64_t st_replica_durable_end(const struct st_replica *r)
{
    return r->durable_end;
}

const int32_t *st_replica_isr(const struct st_replica *r, unsigned *n)
{
    *n = r->n_isr;
    return r->isr;
}

bool st_replica_isr_under_min(const struct st_replica *r)
{
    return r->n_isr < r->cfg.min_insync_replicas;
}

bool st_replica_alter_inflight(const struct st_replica *r)
{
    return r->alter_inflight;
}

void st_replica_epoch_end(const struct st_replica *r, int32_t epoch,
                          int32_t *out_epoch, int64_t *out_end)
{
    epochs_end(r, epoch, out_epoch, out_end);
}

const char *st_replica_role_name(enum st_replica_role role)
{
    switch (role) {
    case ST_REPLICA_NONE:
        return "none";
    case ST_REPLICA_LEADER:
        return "leader";
    case ST_REPLICA_FOLLOWER:
        return "follower";
    }
    return "?";
}

const char *st_replica_error_name(enum st_replica_error e)
{
    switch (e) {
    case ST_REPLICA_OK:
        return "OK";
    case ST_REPLICA_ERR_NOT_LEADER:
        return "NOT_LEADER";
    case ST_REPLICA_ERR_FENCED_EPOCH:
        return "FENCED_LEADER_EPOCH";
    case ST_REPLICA_ERR_UNKNOWN_EPOCH:
        return "UNKNOWN_LEADER_EPOCH";
    case ST_REPLICA_ERR_OUT_OF_RANGE:
        return "OFFSET_OUT_OF_RANGE";
    case ST_REPLICA_ERR_STALE_PARTITION_EPOCH:
        return "STALE_PARTITION_EPOCH";
    case ST_REPLICA_ERR_INELIGIBLE_REPLICA:
        return "INELIGIBLE_REPLICA";
    case ST_REPLICA_ERR_TIMEOUT:
        return "TIMEOUT";
    }
    return "?";
}
