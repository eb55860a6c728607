/* The follower side of replication: one RPC client per leader broker, and
 * ReplicaFetch requests that carry every partition whose core asked for a
 * fetch from that leader (long polls, pipelined on the one connection; a
 * partition is in at most one request at a time, as its core wants).
 *
 * With durable acks (log.flush.policy=batch) a partition's fetch leaves
 * only once its log is fsynced up to its end, carrying that durable end:
 * the leader's HW then moves one round trip after each group commit
 * instead of waiting for the next long poll to end.
 *
 * Replies are turned into FETCH_REPLY events with the batches' epoch runs
 * read from their headers. A failed request (connection lost, timeout, a
 * reply that does not parse) is stepped as a NOT_LEADER reply so the core
 * backs off briefly and asks again (to whichever leader the metadata names
 * by then). */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/metadata_follower.h"
#include "broker/partition.h"
#include "broker/replica_driver_int.h"
#include "broker/wire.h"
#include "common/alloc.h"
#include "common/batch.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_client.h"
#include "controller/metadata.h"
#include "errors.pb-c.h"
#include "replication.pb-c.h"

#define MAX_LEADERS 64
#define MAX_WAIT_MS 500
#define MAX_BYTES (8u << 20)
#define REQUEST_TIMEOUT_MS (MAX_WAIT_MS + 5000)
#define MAX_RUNS 64

struct fconn {
    int32_t leader;
    char host[256];
    uint16_t port;
    struct st_rpc_client *c;
};

struct st_repl_fetchers {
    struct st_repl *d;
    struct event *kick_ev;
    struct fconn conns[MAX_LEADERS];
    int n_conns;
    bool stopped;
};

struct sent_part {
    uint64_t part_id;
    uint64_t seq;
    struct st_replica_fetch_request req;
};

struct sent {
    struct st_repl_fetchers *f;
    size_t n;
    struct sent_part v[];
};

static struct fconn *conn_for(struct st_repl_fetchers *f, int32_t leader)
{
    const struct st_meta *m = st_meta_follower_meta(f->d->cfg.follower);
    const struct st_meta_broker *b = st_meta_broker_find(m, leader);
    if (b == NULL || b->n_listeners == 0) {
        return NULL;
    }
    const struct st_meta_listener *l = &b->listeners[0];
    struct fconn *fc = NULL;
    for (int i = 0; i < f->n_conns; i++) {
        if (f->conns[i].leader == leader) {
            fc = &f->conns[i];
        }
    }
    if (fc != NULL && fc->port == l->port && strcmp(fc->host, l->host) == 0) {
        return fc;
    }
    if (fc != NULL && st_rpc_client_pending(fc->c) > 0) {
        return fc; /* moved: switch once its requests are done */
    }
    if (fc == NULL) {
        if (f->n_conns == MAX_LEADERS) {
            return NULL;
        }
        fc = &f->conns[f->n_conns++];
        fc->leader = leader;
        fc->c = NULL;
    }
    st_rpc_client_free(fc->c);
    fc->c = NULL;
    snprintf(fc->host, sizeof fc->host, "%s", l->host);
    fc->port = l->port;
    struct st_rpc_client_config cc = {0};
    cc.host = fc->host;
    cc.port = fc->port;
    cc.tls = f->d->cfg.tls;
    cc.frame_bytes_max = 0;
    cc.connect_timeout_ms = 2000;
    cc.backoff_initial_ms = 20;
    cc.backoff_max_ms = 500;
    if (st_rpc_client_new(f->d->cfg.base, &cc, &fc->c) != 0) {
        fc->c = NULL;
        return NULL;
    }
    return fc;
}

/* Epoch runs and the end offset of the whole batches in @data, which
 * start at the follower's log end @offset. Returns 0, or ST_ECORRUPT. */
static int scan_batches(struct st_bytes data, int64_t offset,
                        struct st_replica_epoch *runs, unsigned *n_runs,
                        int64_t *data_end)
{
    size_t pos = 0;
    unsigned n = 0;
    int64_t end = offset;
    while (pos < data.len) {
        struct st_batch_header h;
        int rv = st_batch_header_decode(data.base + pos, data.len - pos, &h);
        if (rv != 0 || st_batch_total_bytes(&h) > data.len - pos ||
            st_batch_last_offset(&h) < end) {
            return ST_ECORRUPT;
        }
        if (n == 0 || runs[n - 1].epoch != h.leader_epoch) {
            if (n == MAX_RUNS ||
                (n > 0 && h.leader_epoch < runs[n - 1].epoch)) {
                return ST_ECORRUPT;
            }
            runs[n].epoch = h.leader_epoch;
            runs[n].start_offset = n == 0 ? offset : h.base_offset;
            n++;
        }
        end = st_batch_last_offset(&h) + 1;
        pos += st_batch_total_bytes(&h);
    }
    *n_runs = n;
    *data_end = end;
    return 0;
}

/* Step a NOT_LEADER reply for a fetch that got no usable answer. */
static void step_failed(struct st_repl_part *rp, const struct sent_part *sp)
{
    struct st_replica_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ST_REPLICA_EV_FETCH_REPLY;
    ev.now_ms = st_repl_now_ms();
    struct st_replica_fetch_reply *r = &ev.fetch_reply;
    r->to = sp->req.replica_id;
    r->leader_epoch = sp->req.current_leader_epoch;
    r->fetch_offset = sp->req.fetch_offset;
    r->error = ST_REPLICA_ERR_NOT_LEADER;
    r->hw = -1;
    r->log_start = -1;
    r->diverging_epoch = -1;
    r->diverging_end_offset = -1;
    r->offset = sp->req.fetch_offset;
    r->max_offset = sp->req.fetch_offset;
    r->data_end = sp->req.fetch_offset;
    struct st_bytes none = {NULL, 0};
    st_repl_part_step(rp, &ev, none, NULL);
}

static void step_reply(struct st_repl_part *rp, const struct sent_part *sp,
                       const Strata__Repl__ReplicaFetchPartitionResponse *pr,
                       struct st_bytes payload)
{
    if (pr->payload_offset > payload.len ||
        pr->payload_length > payload.len - pr->payload_offset) {
        step_failed(rp, sp);
        return;
    }
    struct st_bytes data = {payload.base + pr->payload_offset,
                            (size_t)pr->payload_length};
    struct st_replica_epoch runs[MAX_RUNS];
    struct st_replica_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ST_REPLICA_EV_FETCH_REPLY;
    ev.now_ms = st_repl_now_ms();
    struct st_replica_fetch_reply *r = &ev.fetch_reply;
    r->to = sp->req.replica_id;
    r->leader_epoch = pr->leader_epoch;
    r->fetch_offset = pr->fetch_offset;
    r->error = (enum st_replica_error)pr->replica_error;
    r->hw = pr->high_watermark;
    r->log_start = pr->log_start_offset;
    r->diverging = pr->diverging;
    r->diverging_epoch = pr->diverging_epoch;
    r->diverging_end_offset = pr->diverging_end_offset;
    r->offset = pr->fetch_offset;
    r->max_offset = pr->fetch_offset;
    r->data_end = pr->fetch_offset;
    if (r->error == ST_REPLICA_OK && !r->diverging && data.len > 0) {
        unsigned n_runs = 0;
        int64_t end = 0;
        if (scan_batches(data, pr->fetch_offset, runs, &n_runs, &end) != 0) {
            ST_WARN("replica", "partition %s-%d: fetched batches at %" PRId64
                    " do not parse; fetching again",
                    st_partition_topic(rp->p), st_partition_index(rp->p),
                    pr->fetch_offset);
            step_failed(rp, sp);
            return;
        }
        r->data_end = end;
        r->max_offset = end;
        r->runs = runs;
        r->n_runs = n_runs;
    } else {
        data.len = 0;
    }
    int rv = st_repl_part_step(rp, &ev, data, NULL);
    if (rv != 0) {
        ST_WARN("replica", "partition %s-%d: fetch reply refused: %s",
                st_partition_topic(rp->p), st_partition_index(rp->p),
                st_strerror(rv));
        step_failed(rp, sp);
    }
}

/* The part of @sp if it still waits for exactly this fetch. */
static struct st_repl_part *part_of(struct st_repl *d,
                                    const struct sent_part *sp)
{
    struct st_repl_part *rp = st_repl_part_by_id(d, sp->part_id);
    if (rp == NULL || rp->fetch_seq != sp->seq || !rp->fetch_sent) {
        return NULL;
    }
    rp->fetch_sent = false;
    rp->want_fetch = false;
    return rp;
}

static void fetch_done(void *arg, int status,
                       const struct st_rpc_response *resp)
{
    struct sent *s = arg;
    struct st_repl *d = s->f->d;
    Strata__Repl__ReplicaFetchResponse *m = NULL;
    if (status == 0 && resp->error == 0) {
        m = strata__repl__replica_fetch_response__unpack(
            NULL, resp->body.len, resp->body.base);
    }
    for (size_t i = 0; i < s->n; i++) {
        struct st_repl_part *rp = part_of(d, &s->v[i]);
        if (rp == NULL) {
            continue;
        }
        const Strata__Repl__ReplicaFetchPartitionResponse *pr = NULL;
        if (m != NULL && i < m->n_partitions &&
            m->partitions[i]->partition == st_partition_index(rp->p) &&
            strcmp(m->partitions[i]->topic, st_partition_topic(rp->p)) == 0) {
            pr = m->partitions[i];
        }
        if (pr == NULL) {
            step_failed(rp, &s->v[i]);
        } else {
            step_reply(rp, &s->v[i], pr, resp->payload);
        }
    }
    if (m != NULL) {
        strata__repl__replica_fetch_response__free_unpacked(m, NULL);
    }
    if (status != ST_ECANCELED) {
        st_repl_fetchers_kick(s->f);
    }
    st_free(s);
}

static bool sendable(struct st_repl *d, struct st_repl_part *rp)
{
    if (!rp->want_fetch || rp->fetch_sent ||
        st_replica_role(rp->core) != ST_REPLICA_FOLLOWER) {
        return false;
    }
    if (!d->durable_hw) {
        return true;
    }
    struct st_log *log = st_partition_log(rp->p);
    return st_log_durable_offset(log) >= st_log_end_offset(log);
}

static void send_to(struct st_repl_fetchers *f, int32_t leader)
{
    struct st_repl *d = f->d;
    size_t n = 0;
    for (struct st_repl_part *rp = d->parts; rp != NULL; rp = rp->next) {
        n += sendable(d, rp) && rp->fetch.to == leader;
    }
    if (n == 0) {
        return;
    }
    struct fconn *fc = conn_for(f, leader);
    struct sent *s = st_calloc(1, sizeof *s + n * sizeof s->v[0]);
    Strata__Repl__ReplicaFetchPartition *pv = st_calloc(n, sizeof *pv);
    Strata__Repl__ReplicaFetchPartition **pp = st_calloc(n, sizeof *pp);
    if (fc == NULL || fc->c == NULL || s == NULL || pv == NULL || pp == NULL) {
        st_free(s);
        st_free(pv);
        st_free(pp);
        return; /* the cores ask again after their timeout */
    }
    s->f = f;
    size_t i = 0;
    for (struct st_repl_part *rp = d->parts; rp != NULL && i < n;
         rp = rp->next) {
        if (!sendable(d, rp) || rp->fetch.to != leader) {
            continue;
        }
        struct st_log *log = st_partition_log(rp->p);
        Strata__Repl__ReplicaFetchPartition init =
            STRATA__REPL__REPLICA_FETCH_PARTITION__INIT;
        pv[i] = init;
        pv[i].topic = (char *)st_partition_topic(rp->p);
        pv[i].partition = st_partition_index(rp->p);
        pv[i].fetch_offset = rp->fetch.fetch_offset;
        pv[i].last_fetched_epoch = rp->fetch.last_fetched_epoch;
        pv[i].current_leader_epoch = rp->fetch.current_leader_epoch;
        /* What is fsynced now (never less than the core said). */
        int64_t durable = st_log_durable_offset(log);
        if (durable > rp->fetch.fetch_offset) {
            durable = rp->fetch.fetch_offset;
        }
        if (durable < rp->fetch.durable_end) {
            durable = rp->fetch.durable_end;
        }
        pv[i].durable_end = durable;
        pv[i].follower_hw = st_replica_hw(rp->core);
        pp[i] = &pv[i];
        s->v[i].part_id = rp->id;
        s->v[i].seq = rp->fetch_seq;
        s->v[i].req = rp->fetch;
        rp->fetch_sent = true;
        i++;
    }
    s->n = i;
    Strata__Repl__ReplicaFetchRequest m =
        STRATA__REPL__REPLICA_FETCH_REQUEST__INIT;
    m.replica_id = d->cfg.node_id;
    m.broker_epoch = st_repl_broker_epoch(d);
    m.max_wait_ms = MAX_WAIT_MS;
    m.max_bytes = MAX_BYTES;
    m.partitions = pp;
    m.n_partitions = i;
    struct st_buf body;
    st_buf_init(&body);
    int rv = st_pb_pack(&m.base, &body);
    if (rv == 0) {
        struct st_rpc_call call = {0};
        call.api = STRATA__REPL__API__REPLICA_FETCH;
        call.body = st_pb_view(&body);
        call.timeout_ms = REQUEST_TIMEOUT_MS;
        rv = st_rpc_client_send(fc->c, &call, fetch_done, s, NULL);
    }
    st_buf_close(&body);
    st_free(pv);
    st_free(pp);
    if (rv != 0) {
        for (size_t k = 0; k < s->n; k++) {
            struct st_repl_part *rp = part_of(d, &s->v[k]);
            if (rp != NULL) {
                step_failed(rp, &s->v[k]);
            }
        }
        st_free(s);
    }
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_repl_fetchers *f = arg;
    if (f->stopped) {
        return;
    }
    int32_t leaders[MAX_LEADERS];
    int n = 0;
    for (struct st_repl_part *rp = f->d->parts; rp != NULL; rp = rp->next) {
        if (!sendable(f->d, rp)) {
            continue;
        }
        bool seen = false;
        for (int i = 0; i < n; i++) {
            seen |= leaders[i] == rp->fetch.to;
        }
        if (!seen && n < MAX_LEADERS) {
            leaders[n++] = rp->fetch.to;
        }
    }
    for (int i = 0; i < n; i++) {
        send_to(f, leaders[i]);
    }
}

void st_repl_fetchers_kick(struct st_repl_fetchers *f)
{
    if (f != NULL && !f->stopped) {
        event_active(f->kick_ev, EV_READ, 1);
    }
}

int st_repl_fetchers_new(struct st_repl *d, struct st_repl_fetchers **out)
{
    struct st_repl_fetchers *f = st_calloc(1, sizeof *f);
    if (f == NULL) {
        return ST_ENOMEM;
    }
    f->d = d;
    f->kick_ev = event_new(d->cfg.base, -1, 0, kick_cb, f);
    if (f->kick_ev == NULL) {
        st_free(f);
        return ST_ENOMEM;
    }
    *out = f;
    return 0;
}

void st_repl_fetchers_stop(struct st_repl_fetchers *f)
{
    if (f == NULL || f->stopped) {
        return;
    }
    f->stopped = true;
    for (int i = 0; i < f->n_conns; i++) {
        struct st_rpc_client *c = f->conns[i].c;
        f->conns[i].c = NULL;
        st_rpc_client_free(c); /* pending fetches end ST_ECANCELED */
    }
}

void st_repl_fetchers_free(struct st_repl_fetchers *f)
{
    if (f == NULL) {
        return;
    }
    st_repl_fetchers_stop(f);
    event_free(f->kick_ev);
    st_free(f);
}
