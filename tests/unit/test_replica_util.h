/* Helpers for the replica core's unit tests: one core under test, events
 * built in one line, and the last update kept for the "then" part. */
#ifndef ST_TEST_REPLICA_UTIL_H
#define ST_TEST_REPLICA_UTIL_H

#include <string.h>

#include "broker/replica/replica.h"
#include "common/err.h"
#include "test_util.h"

struct rt {
    struct st_replica *r;
    struct st_replica_update u;
    uint64_t now;
    int64_t log_end; /* the test's model of the local log */
    int64_t durable_end;
    int32_t partition_epoch;
};

/* Create the core of broker @id (incarnation 1) over a log of @log_end
 * records, all durable, whose epochs are @epochs (pairs epoch, start). */
static inline void rt_init(struct rt *t, int32_t id, bool durable_hw,
                           int64_t log_end,
                           const struct st_replica_epoch *epochs,
                           unsigned n_epochs)
{
    struct st_replica_config c;
    struct st_replica_log_state l = {0};

    memset(t, 0, sizeof *t);
    st_replica_config_init(&c);
    c.broker_id = id;
    c.broker_epoch = 1;
    c.durable_hw = durable_hw;
    c.min_insync_replicas = 2;
    c.replica_lag_time_max_ms = 1000;
    l.log_end = log_end;
    l.durable_end = log_end;
    l.epochs = epochs;
    l.n_epochs = n_epochs;
    t->log_end = log_end;
    t->durable_end = log_end;
    t->now = 1000;
    ck_assert_int_eq(st_replica_new(&c, &l, &t->r), 0);
}

static inline int rt_step(struct rt *t, struct st_replica_event ev)
{
    ev.now_ms = t->now;
    return st_replica_step(t->r, &ev, &t->u);
}

/* Metadata: replicas 1..3 (incarnation 1, unfenced), @leader, @isr. */
static inline int rt_partition(struct rt *t, int32_t leader,
                               int32_t leader_epoch, int32_t partition_epoch,
                               const int32_t *isr, unsigned n_isr)
{
    static struct st_replica_member m[3] = {
        {1, 1, false}, {2, 1, false}, {3, 1, false}};
    struct st_replica_event ev = {.type = ST_REPLICA_EV_PARTITION_CHANGED};

    ev.partition.leader = leader;
    ev.partition.leader_epoch = leader_epoch;
    ev.partition.partition_epoch = partition_epoch;
    ev.partition.replicas = m;
    ev.partition.n_replicas = 3;
    ev.partition.isr = isr;
    ev.partition.n_isr = n_isr;
    t->partition_epoch = partition_epoch;
    return rt_step(t, ev);
}

/* The local log grew by @n records of @epoch; durable up to @durable. */
static inline int rt_append(struct rt *t, int64_t n, int32_t epoch,
                            int64_t durable)
{
    struct st_replica_event ev = {.type = ST_REPLICA_EV_APPENDED};

    t->log_end += n;
    t->durable_end = durable;
    ev.appended.log_end = t->log_end;
    ev.appended.durable_end = durable;
    ev.appended.epoch = epoch;
    return rt_step(t, ev);
}

static inline int rt_ack_wait(struct rt *t, uint64_t token, int64_t end)
{
    struct st_replica_event ev = {.type = ST_REPLICA_EV_ACK_WAIT};

    ev.ack_wait.token = token;
    ev.ack_wait.end_offset = end;
    return rt_step(t, ev);
}

/* A follower's fetch (incarnation @incarnation) in leader epoch @epoch. */
static inline int rt_fetch(struct rt *t, int32_t from, int64_t incarnation,
                           int32_t epoch, int64_t offset, int32_t last_epoch,
                           int64_t durable)
{
    struct st_replica_event ev = {.type = ST_REPLICA_EV_FOLLOWER_FETCH};

    ev.fetch.replica_id = from;
    ev.fetch.broker_epoch = incarnation;
    ev.fetch.current_leader_epoch = epoch;
    ev.fetch.fetch_offset = offset;
    ev.fetch.last_fetched_epoch = last_epoch;
    ev.fetch.durable_end = durable;
    return rt_step(t, ev);
}

static inline int rt_tick(struct rt *t, uint64_t advance_ms)
{
    struct st_replica_event ev = {.type = ST_REPLICA_EV_TICK};

    t->now += advance_ms;
    return rt_step(t, ev);
}

static inline int rt_alter_result(struct rt *t, enum st_replica_error err,
                                  int32_t leader_epoch, int32_t base,
                                  int32_t new_epoch, const int32_t *isr,
                                  unsigned n_isr)
{
    struct st_replica_event ev = {.type = ST_REPLICA_EV_ALTER_RESULT};

    ev.alter_result.error = err;
    ev.alter_result.leader_epoch = leader_epoch;
    ev.alter_result.base_partition_epoch = base;
    ev.alter_result.partition_epoch = new_epoch;
    ev.alter_result.isr = isr;
    ev.alter_result.n_isr = n_isr;
    return rt_step(t, ev);
}

/* Answer the follower's fetch in flight (t->u.fetch must be set). */
static inline int rt_reply(struct rt *t, struct st_replica_fetch_reply rep)
{
    struct st_replica_event ev = {.type = ST_REPLICA_EV_FETCH_REPLY};

    ev.fetch_reply = rep;
    return rt_step(t, ev);
}

/* Whether the update's alter request proposes exactly @ids. */
static inline bool rt_alter_is(const struct rt *t, const int32_t *ids,
                               unsigned n)
{
    if (!t->u.has_alter || t->u.alter.n_isr != n) {
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        if (t->u.alter.isr[i].id != ids[i]) {
            return false;
        }
    }
    return true;
}

#endif
