/* The replica driver: one replica core per hosted partition, and the
 * update of each step turned into I/O (see replica_driver.h and the
 * DRIVER CONTRACT in broker/replica/replica.h). */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/log/epoch_cache.h"
#include "broker/metadata_follower.h"
#include "broker/partition.h"
#include "broker/replica_driver_int.h"
#include "broker/wire.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_client.h"
#include "controller.pb-c.h"
#include "controller/metadata.h"
#include "errors.pb-c.h"

#define TICK_MS 20
#define ALTER_TIMEOUT_MS 5000

uint64_t st_repl_now_ms(void)
{
    return st_mono_ms(st_clock_real());
}

int64_t st_repl_broker_epoch(const struct st_repl *d)
{
    return d->cfg.follower ? st_meta_follower_broker_epoch(d->cfg.follower)
                           : -1;
}

static void trace_cb(void *arg, const char *line)
{
    struct st_repl_part *rp = arg;
    /* State changes at INFO; the per-event noise at DEBUG. */
    if (strstr(line, "became") || strstr(line, "truncate") ||
        strstr(line, "reset") || strstr(line, "diverges") ||
        strstr(line, "isr") || strstr(line, "cut")) {
        ST_INFO("replica", "partition %s-%d %s", st_partition_topic(rp->p),
                st_partition_index(rp->p), line);
    } else {
        ST_DEBUG("replica", "partition %s-%d %s", st_partition_topic(rp->p),
                 st_partition_index(rp->p), line);
    }
}

/* ---- parts ---- */

struct st_repl_part *st_repl_part_by_id(struct st_repl *d, uint64_t id)
{
    for (struct st_repl_part *rp = d->parts; rp != NULL; rp = rp->next) {
        if (rp->id == id) {
            return rp;
        }
    }
    return NULL;
}

struct st_repl_part *st_repl_find(struct st_repl *d, const char *topic,
                                  int32_t index)
{
    struct st_partition *p = d->cfg.find(d->cfg.find_arg, topic, index);
    return p != NULL ? st_partition_repl(p) : NULL;
}

int st_repl_part_new(struct st_repl *d, struct st_partition *p,
                     struct st_repl_part **out)
{
    struct st_repl_part *rp = st_calloc(1, sizeof *rp);
    if (rp == NULL) {
        return ST_ENOMEM;
    }
    rp->d = d;
    rp->p = p;
    rp->id = ++d->next_id;
    rp->min_isr = 1;
    struct st_log *log = st_partition_log(p);
    const struct st_epoch_cache *ec = st_log_epochs(log);
    struct st_replica_epoch *epochs = st_calloc(ec->n + 1, sizeof *epochs);
    if (epochs == NULL) {
        st_free(rp);
        return ST_ENOMEM;
    }
    for (size_t i = 0; i < ec->n; i++) {
        epochs[i].epoch = ec->e[i].epoch;
        epochs[i].start_offset = ec->e[i].start_offset;
    }
    struct st_replica_log_state ls = {0};
    ls.log_start = st_log_start_offset(log);
    ls.log_end = st_log_end_offset(log);
    ls.durable_end = st_log_durable_offset(log);
    if (ls.durable_end > ls.log_end) {
        ls.durable_end = ls.log_end;
    }
    ls.hw = st_log_high_watermark(log);
    if (ls.hw < ls.log_start) {
        ls.hw = ls.log_start;
    }
    if (ls.hw > ls.log_end) {
        ls.hw = ls.log_end;
    }
    ls.epochs = epochs;
    ls.n_epochs = (unsigned)ec->n;
    struct st_replica_config rc;
    st_replica_config_init(&rc);
    rc.broker_id = d->cfg.node_id;
    rc.broker_epoch = st_repl_broker_epoch(d);
    rc.replica_lag_time_max_ms = d->lag_ms;
    rc.min_insync_replicas = 1; /* checked per ack against the topic's */
    rc.durable_hw = d->durable_hw;
    rc.trace = trace_cb;
    rc.trace_arg = rp;
    int rv = st_replica_new(&rc, &ls, &rp->core);
    st_free(epochs);
    if (rv != 0) {
        ST_ERROR("replica", "partition %s-%d: core refused the log state "
                 "start=%" PRId64 " end=%" PRId64 " durable=%" PRId64
                 ": %s", st_partition_topic(p), st_partition_index(p),
                 ls.log_start, ls.log_end, ls.durable_end, st_strerror(rv));
        st_free(rp);
        return rv;
    }
    rp->next_tick_ms = UINT64_MAX;
    rp->next = d->parts;
    if (d->parts) {
        d->parts->prev = rp;
    }
    d->parts = rp;
    *out = rp;
    return 0;
}

void st_repl_part_free(struct st_repl_part *rp)
{
    if (rp == NULL) {
        return;
    }
    struct st_repl *d = rp->d;
    if (rp->prev) {
        rp->prev->next = rp->next;
    } else if (d->parts == rp) {
        d->parts = rp->next;
    }
    if (rp->next) {
        rp->next->prev = rp->prev;
    }
    st_replica_free(rp->core);
    st_free(rp);
}

/* ---- applying an update ---- */

static void send_alter(struct st_repl_part *rp,
                       const struct st_replica_alter_request *a);

static int32_t latest_epoch(struct st_partition *p)
{
    return st_epoch_cache_latest(st_log_epochs(st_partition_log(p)));
}

/* Tell the core what the log really is after a cut it did not foresee
 * (a truncation lands on a batch boundary; a failed append). */
static void resync(struct st_repl_part *rp)
{
    struct st_log *log = st_partition_log(rp->p);
    if (st_log_end_offset(log) == st_replica_log_end(rp->core) &&
        st_log_start_offset(log) <= st_replica_log_end(rp->core)) {
        return;
    }
    st_repl_part_appended(rp);
}

static void complete(struct st_repl_part *rp,
                     const struct st_replica_completion *c)
{
    int status = 0;
    if (c->status == ST_REPLICA_ACKED) {
        unsigned n_isr;
        st_replica_isr(rp->core, &n_isr);
        if ((int64_t)n_isr < rp->min_isr) {
            status = ST_ERANGE; /* NOT_ENOUGH_REPLICAS_AFTER_APPEND */
        }
    } else if (c->status == ST_REPLICA_NOT_ENOUGH_REPLICAS_AFTER_APPEND) {
        status = ST_ERANGE;
    } else {
        status = ST_ENOTLEADER;
    }
    st_partition_ack(rp->p, c->token, status, c->durable);
}

int st_repl_part_step(struct st_repl_part *rp,
                      const struct st_replica_event *ev,
                      struct st_bytes fetched,
                      struct st_replica_fetch_reply *reply)
{
    struct st_repl *d = rp->d;
    struct st_partition *p = rp->p;
    struct st_replica_update up;
    memset(&up, 0, sizeof up);
    int64_t hw_before = st_partition_hw(p);
    int rv = st_replica_step(rp->core, ev, &up);
    if (rv == ST_ENOMEM) {
        ST_ERROR("replica", "partition %s-%d: out of memory in the core",
                 st_partition_topic(p), st_partition_index(p));
        return rv;
    }
    if (reply != NULL && up.has_fetch_reply) {
        *reply = up.fetch_reply;
    }
    if (rv != 0) {
        return rv;
    }
    /* Copied now: the steps that I/O below may cause (a durable callback
     * inside an append) reuse the core's arrays. */
    unsigned n = up.n_completions;
    struct st_replica_completion *cv = NULL;
    if (n > 0) {
        cv = st_malloc(n * sizeof *cv);
        if (cv == NULL) {
            n = 0;
        } else {
            memcpy(cv, up.completions, n * sizeof *cv);
        }
    }
    bool cut = false;
    /* 1. Truncate or reset (durable before anything is appended). */
    if (up.reset_to >= 0) {
        int r2 = st_partition_reset(p, up.reset_to,
                                    st_wall_ms(st_clock_real()));
        cut = true;
        if (r2 != 0) {
            ST_ERROR("replica", "partition %s-%d: reset to %" PRId64
                     " failed: %s", st_partition_topic(p),
                     st_partition_index(p), up.reset_to, st_strerror(r2));
        }
    } else if (up.truncate_to >= 0) {
        int r2 = st_partition_truncate(p, up.truncate_to);
        cut = true;
        if (r2 != 0) {
            ST_ERROR("replica", "partition %s-%d: truncate to %" PRId64
                     " failed: %s", st_partition_topic(p),
                     st_partition_index(p), up.truncate_to,
                     st_strerror(r2));
        }
    }
    /* 2. Append what was fetched. */
    if (up.append_fetched && fetched.len > 0) {
        /* The log may validate in place; the payload view is const. */
        uint8_t *copy = st_malloc(fetched.len);
        int r2 = copy ? 0 : ST_ENOMEM;
        if (copy != NULL) {
            memcpy(copy, fetched.base, fetched.len);
            r2 = st_partition_append_follower(p, copy, fetched.len,
                                              st_wall_ms(st_clock_real()));
            st_free(copy);
        }
        if (r2 != 0) {
            ST_WARN("replica", "partition %s-%d: follower append at %" PRId64
                    " failed: %s", st_partition_topic(p),
                    st_partition_index(p),
                    st_log_end_offset(st_partition_log(p)), st_strerror(r2));
            cut = true;
        }
    }
    /* 4. Sends. */
    if (up.has_fetch) {
        rp->want_fetch = true;
        rp->fetch_sent = false;
        rp->fetch_seq++;
        rp->fetch = up.fetch;
        st_repl_fetchers_kick(d->fetchers);
    }
    if (up.has_alter) {
        send_alter(rp, &up.alter);
    }
    /* 6. The HW, before acks so that answered records are readable. */
    st_partition_set_hw(p, up.hw_offset);
    /* 5. Completions. */
    for (unsigned i = 0; i < n; i++) {
        complete(rp, &cv[i]);
    }
    st_free(cv);
    /* 7. Timer. */
    rp->next_tick_ms = up.next_tick_ms;
    if (up.role == ST_REPLICA_LEADER &&
        (ev->type == ST_REPLICA_EV_APPENDED || up.hw_offset != hw_before ||
         ev->type == ST_REPLICA_EV_PARTITION_CHANGED)) {
        st_repl_serve_kick(d->serve);
    }
    if (cut) {
        resync(rp);
    }
    return 0;
}

void st_repl_part_appended(struct st_repl_part *rp)
{
    struct st_log *log = st_partition_log(rp->p);
    struct st_replica_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ST_REPLICA_EV_APPENDED;
    ev.now_ms = st_repl_now_ms();
    ev.appended.log_start = st_log_start_offset(log);
    ev.appended.log_end = st_log_end_offset(log);
    ev.appended.durable_end = st_log_durable_offset(log);
    if (ev.appended.durable_end > ev.appended.log_end) {
        ev.appended.durable_end = ev.appended.log_end;
    }
    ev.appended.epoch = st_replica_role(rp->core) == ST_REPLICA_LEADER
                            ? st_replica_leader_epoch(rp->core)
                            : latest_epoch(rp->p);
    struct st_bytes none = {NULL, 0};
    st_repl_part_step(rp, &ev, none, NULL);
    /* A follower whose flush completed may now send its next fetch. */
    st_repl_fetchers_kick(rp->d->fetchers);
}

int st_repl_part_ack_wait(struct st_repl_part *rp,
                          struct st_partition_waiter *w)
{
    struct st_replica_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ST_REPLICA_EV_ACK_WAIT;
    ev.now_ms = st_repl_now_ms();
    ev.ack_wait.token = (uint64_t)(uintptr_t)w;
    ev.ack_wait.end_offset = w->offset;
    struct st_bytes none = {NULL, 0};
    return st_repl_part_step(rp, &ev, none, NULL);
}

void st_repl_part_changed(struct st_repl_part *rp,
                          const struct st_meta_partition *mp, int64_t min_isr)
{
    rp->min_isr = min_isr;
    if (mp == NULL || mp->n_replicas > ST_REPLICA_MAX) {
        return;
    }
    const struct st_meta *m = st_meta_follower_meta(rp->d->cfg.follower);
    struct st_replica_member members[ST_REPLICA_MAX];
    struct st_bytes none = {NULL, 0};
    struct st_replica_event ev;
    for (int i = 0; i < mp->n_replicas; i++) {
        const struct st_meta_broker *b = st_meta_broker_find(m,
                                                             mp->replicas[i]);
        members[i].id = mp->replicas[i];
        members[i].broker_epoch = b ? b->epoch : -1;
        members[i].fenced = b ? b->fenced : true;
        memset(&ev, 0, sizeof ev);
        ev.type = ST_REPLICA_EV_BROKER_CHANGED;
        ev.now_ms = st_repl_now_ms();
        ev.broker = members[i];
        st_repl_part_step(rp, &ev, none, NULL);
    }
    memset(&ev, 0, sizeof ev);
    ev.type = ST_REPLICA_EV_PARTITION_CHANGED;
    ev.now_ms = st_repl_now_ms();
    ev.partition.leader = mp->leader;
    ev.partition.leader_epoch = mp->leader_epoch;
    ev.partition.partition_epoch = mp->partition_epoch;
    ev.partition.replicas = members;
    ev.partition.n_replicas = (unsigned)mp->n_replicas;
    ev.partition.isr = mp->isr;
    ev.partition.n_isr = (unsigned)mp->n_isr;
    int rv = st_repl_part_step(rp, &ev, none, NULL);
    if (rv != 0) {
        ST_WARN("replica", "partition %s-%d: partition change refused: %s",
                st_partition_topic(rp->p), st_partition_index(rp->p),
                st_strerror(rv));
    }
}

/* ---- AlterPartition ---- */

struct alter_ctx {
    struct st_repl *d;
    uint64_t part_id;
    int32_t leader_epoch;
    int32_t base_epoch;
};

static enum st_replica_error alter_error(int32_t code)
{
    switch (code) {
    case STRATA__ERROR_CODE__NONE:
        return ST_REPLICA_OK;
    case STRATA__ERROR_CODE__NOT_LEADER:
        return ST_REPLICA_ERR_NOT_LEADER;
    case STRATA__ERROR_CODE__FENCED_LEADER_EPOCH:
        return ST_REPLICA_ERR_FENCED_EPOCH;
    case STRATA__ERROR_CODE__UNKNOWN_LEADER_EPOCH:
        return ST_REPLICA_ERR_UNKNOWN_EPOCH;
    case STRATA__ERROR_CODE__BROKER_FENCED:
    case STRATA__ERROR_CODE__STALE_BROKER_EPOCH:
        return ST_REPLICA_ERR_INELIGIBLE_REPLICA;
    default:
        /* Stale partition epoch and anything else: wait for the metadata
         * to move on, then decide again. */
        return ST_REPLICA_ERR_STALE_PARTITION_EPOCH;
    }
}

static void alter_done(void *arg, int status,
                       const struct st_rpc_response *resp)
{
    struct alter_ctx *c = arg;
    struct st_repl_part *rp = st_repl_part_by_id(c->d, c->part_id);
    if (rp == NULL) {
        st_free(c);
        return;
    }
    rp->alter_sent = false;
    struct st_replica_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ST_REPLICA_EV_ALTER_RESULT;
    ev.now_ms = st_repl_now_ms();
    ev.alter_result.leader_epoch = c->leader_epoch;
    ev.alter_result.base_partition_epoch = c->base_epoch;
    Strata__Ctl__AlterPartitionResponse *r = NULL;
    if (status != 0) {
        ev.alter_result.error = ST_REPLICA_ERR_TIMEOUT;
    } else if (resp->error != 0) {
        ev.alter_result.error = alter_error(resp->error);
        ST_INFO("replica", "partition %s-%d: AlterPartition refused: %s",
                st_partition_topic(rp->p), st_partition_index(rp->p),
                resp->error_message);
    } else {
        r = strata__ctl__alter_partition_response__unpack(
            NULL, resp->body.len, resp->body.base);
        if (r == NULL) {
            ev.alter_result.error = ST_REPLICA_ERR_TIMEOUT;
        } else {
            ev.alter_result.error = ST_REPLICA_OK;
            ev.alter_result.partition_epoch = r->partition_epoch;
            ev.alter_result.isr = r->isr;
            ev.alter_result.n_isr = (unsigned)r->n_isr;
            if (r->leader_epoch != c->leader_epoch ||
                r->n_isr > ST_REPLICA_MAX) {
                ev.alter_result.error = ST_REPLICA_ERR_FENCED_EPOCH;
            }
        }
    }
    struct st_bytes none = {NULL, 0};
    st_repl_part_step(rp, &ev, none, NULL);
    if (r != NULL) {
        strata__ctl__alter_partition_response__free_unpacked(r, NULL);
    }
    st_free(c);
}

static void send_alter(struct st_repl_part *rp,
                       const struct st_replica_alter_request *a)
{
    struct st_repl *d = rp->d;
    Strata__Ctl__AlterPartitionRequest m =
        STRATA__CTL__ALTER_PARTITION_REQUEST__INIT;
    int32_t ids[ST_REPLICA_MAX];
    int64_t epochs[ST_REPLICA_MAX];
    for (unsigned i = 0; i < a->n_isr; i++) {
        ids[i] = a->isr[i].id;
        epochs[i] = a->isr[i].broker_epoch;
    }
    m.broker_id = d->cfg.node_id;
    m.broker_epoch = st_repl_broker_epoch(d);
    m.topic_id.data = (uint8_t *)st_partition_topic_id(rp->p);
    m.topic_id.len = ST_META_UUID_LEN;
    m.partition = st_partition_index(rp->p);
    m.leader_epoch = a->leader_epoch;
    m.partition_epoch = a->partition_epoch;
    m.new_isr = ids;
    m.n_new_isr = a->n_isr;
    m.new_isr_epochs = epochs;
    m.n_new_isr_epochs = a->n_isr;
    struct alter_ctx *c = st_calloc(1, sizeof *c);
    struct st_buf body;
    st_buf_init(&body);
    int rv = c ? st_pb_pack(&m.base, &body) : ST_ENOMEM;
    if (rv == 0) {
        c->d = d;
        c->part_id = rp->id;
        c->leader_epoch = a->leader_epoch;
        c->base_epoch = a->partition_epoch;
        ST_INFO("replica", "partition %s-%d: AlterPartition isr=%u "
                "leader_epoch=%d partition_epoch=%d",
                st_partition_topic(rp->p), st_partition_index(rp->p),
                a->n_isr, a->leader_epoch, a->partition_epoch);
        rv = st_meta_follower_forward(d->cfg.follower,
                                      STRATA__CTL__API__ALTER_PARTITION,
                                      st_pb_view(&body), ALTER_TIMEOUT_MS,
                                      alter_done, c);
    }
    st_buf_close(&body);
    if (rv != 0) {
        st_free(c); /* the core resends after its timeout */
        return;
    }
    rp->alter_sent = true;
}

/* ---- the tick ---- */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_repl *d = arg;
    uint64_t now = st_repl_now_ms();
    struct st_bytes none = {NULL, 0};
    /* Stepping may not free parts (only reconcile does), but walk by id
     * so that a part freed meanwhile is never touched. */
    uint64_t ids[64];
    struct st_repl_part *rp = d->parts;
    while (rp != NULL) {
        size_t n = 0;
        for (; rp != NULL && n < 64; rp = rp->next) {
            if (rp->next_tick_ms <= now) {
                ids[n++] = rp->id;
            }
        }
        for (size_t i = 0; i < n; i++) {
            struct st_repl_part *t = st_repl_part_by_id(d, ids[i]);
            if (t == NULL) {
                continue;
            }
            struct st_replica_event ev;
            memset(&ev, 0, sizeof ev);
            ev.type = ST_REPLICA_EV_TICK;
            ev.now_ms = now;
            st_repl_part_step(t, &ev, none, NULL);
        }
    }
}

/* ---- the driver ---- */

int st_repl_new(const struct st_repl_config *cfg, struct st_repl **out)
{
    struct st_repl *d = st_calloc(1, sizeof *d);
    if (d == NULL) {
        return ST_ENOMEM;
    }
    d->cfg = *cfg;
    d->durable_hw = strcmp(st_conf_str(cfg->conf, "log.flush.policy"),
                           "batch") == 0;
    d->lag_ms = st_conf_ms(cfg->conf, "replica.lag.time.max.ms");
    d->tick_ev = event_new(cfg->base, -1, EV_PERSIST, tick_cb, d);
    int rv = d->tick_ev ? 0 : ST_ENOMEM;
    if (rv == 0) {
        struct timeval tv = {0, TICK_MS * 1000};
        rv = event_add(d->tick_ev, &tv) == 0 ? 0 : ST_ENOMEM;
    }
    if (rv == 0) {
        rv = st_repl_serve_new(d, &d->serve);
    }
    if (rv == 0) {
        rv = st_repl_fetchers_new(d, &d->fetchers);
    }
    if (rv != 0) {
        st_repl_free(d);
        return rv;
    }
    *out = d;
    return 0;
}

void st_repl_stop(struct st_repl *d)
{
    if (d == NULL || d->stopping) {
        return;
    }
    d->stopping = true;
    st_repl_serve_flush(d->serve);
    st_repl_fetchers_stop(d->fetchers);
}

void st_repl_free(struct st_repl *d)
{
    if (d == NULL) {
        return;
    }
    if (d->tick_ev) {
        event_free(d->tick_ev);
    }
    st_repl_fetchers_free(d->fetchers);
    st_repl_serve_free(d->serve);
    st_free(d);
}

void st_repl_set_follower(struct st_repl *d, struct st_meta_follower *f)
{
    d->cfg.follower = f;
}

int st_repl_register(struct st_repl *d, struct st_rpc_server *srv)
{
    return st_repl_serve_register(d->serve, srv);
}
