/* The leader side of replication: ReplicaFetch and ReplicaRead.
 *
 * ReplicaFetch: each partition of the request is stepped as a
 * FOLLOWER_FETCH on its core, which validates the follower's epoch and
 * position (KIP-101/279/320/903) and says what to send. The request is
 * answered at once when any partition has data, an error, a diverging
 * epoch, or an HW newer than the follower knows; else it is held until one
 * of those happens (re-checked, by stepping again, whenever a hosted log
 * end or HW moves) or max_wait_ms passes. Batches are copied from the log
 * files into the reply payload as they lie (never re-encoded).
 *
 * ReplicaRead (debug, tests): a replica's raw batches up to its log end.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/partition.h"
#include "broker/replica_driver_int.h"
#include "broker/wire.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_server.h"
#include "common/vfs.h"
#include "errors.pb-c.h"
#include "replication.pb-c.h"

#define DEFAULT_MAX_BYTES (8u << 20)
#define MAX_WAIT_CAP_MS 5000

struct hpart {
    char *topic;
    int32_t partition;
    int64_t fetch_offset;
    int32_t last_epoch;
    int32_t cur_epoch;
    int64_t durable_end;
    int64_t follower_hw;
};

struct held {
    struct st_repl_serve *s;
    struct st_rpc_reply *reply;
    int32_t replica_id;
    int64_t broker_epoch;
    uint32_t max_bytes;
    struct event *timer;
    size_t n;
    struct hpart *v;
    struct held *prev, *next;
};

struct st_repl_serve {
    struct st_repl *d;
    struct event *kick_ev;
    struct held *list;
};

struct pres {
    Strata__Repl__ReplicaFetchPartitionResponse r;
};

static void held_free(struct held *h)
{
    for (size_t i = 0; i < h->n; i++) {
        st_free(h->v[i].topic);
    }
    if (h->timer) {
        event_free(h->timer);
    }
    st_free(h->v);
    st_free(h);
}

static void unlink_held(struct held *h)
{
    struct st_repl_serve *s = h->s;
    if (h->prev) {
        h->prev->next = h->next;
    } else if (s->list == h) {
        s->list = h->next;
    }
    if (h->next) {
        h->next->prev = h->prev;
    }
    h->prev = h->next = NULL;
}

/* Step the fetch of @hp; fill @out. Returns true when worth answering. */
static bool step_part(struct held *h, const struct hpart *hp,
                      struct st_replica_fetch_reply *out,
                      struct st_repl_part **rpp)
{
    memset(out, 0, sizeof *out);
    out->error = ST_REPLICA_ERR_NOT_LEADER;
    out->leader_epoch = hp->cur_epoch;
    out->fetch_offset = hp->fetch_offset;
    out->hw = -1;
    out->log_start = -1;
    out->diverging_epoch = -1;
    out->diverging_end_offset = -1;
    out->offset = out->max_offset = hp->fetch_offset;
    struct st_repl_part *rp = st_repl_find(h->s->d, hp->topic, hp->partition);
    *rpp = rp;
    if (rp == NULL) {
        return true;
    }
    struct st_replica_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ST_REPLICA_EV_FOLLOWER_FETCH;
    ev.now_ms = st_repl_now_ms();
    ev.fetch.replica_id = h->replica_id;
    ev.fetch.broker_epoch = h->broker_epoch;
    ev.fetch.current_leader_epoch = hp->cur_epoch;
    ev.fetch.fetch_offset = hp->fetch_offset;
    ev.fetch.last_fetched_epoch = hp->last_epoch;
    ev.fetch.durable_end = hp->durable_end;
    struct st_bytes none = {NULL, 0};
    int rv = st_repl_part_step(rp, &ev, none, out);
    if (rv != 0 && rv != ST_ENOTLEADER) {
        out->error = ST_REPLICA_ERR_NOT_LEADER;
        return true;
    }
    return out->error != ST_REPLICA_OK || out->diverging ||
           out->max_offset > out->offset || out->hw > hp->follower_hw;
}

static int read_into(struct st_partition *p, int64_t from, int64_t to,
                     size_t *budget, struct st_buf *out, int64_t *next)
{
    struct st_log *log = st_partition_log(p);
    int64_t off = from;
    int rv = 0;
    while (off < to && *budget > 0) {
        struct st_log_read_result r;
        rv = st_log_read(log, off, to, *budget, &r);
        if (rv != 0) {
            break;
        }
        if (r.len == 0) {
            st_log_read_release(&r);
            break;
        }
        rv = st_buf_reserve(out, (size_t)r.len);
        size_t got = 0;
        if (rv == 0) {
            rv = st_vfs_pread(r.file, out->base + out->len, (size_t)r.len,
                              r.pos, &got);
        }
        if (rv == 0 && got != r.len) {
            rv = ST_EIO;
        }
        st_log_read_release(&r);
        if (rv != 0) {
            break;
        }
        out->len += got;
        *budget = got >= *budget ? 0 : *budget - got;
        off = r.next_offset;
    }
    *next = off;
    return rv;
}

static int32_t error_code(enum st_replica_error e)
{
    switch (e) {
    case ST_REPLICA_OK:
        return STRATA__ERROR_CODE__NONE;
    case ST_REPLICA_ERR_NOT_LEADER:
        return STRATA__ERROR_CODE__NOT_LEADER;
    case ST_REPLICA_ERR_FENCED_EPOCH:
        return STRATA__ERROR_CODE__FENCED_LEADER_EPOCH;
    case ST_REPLICA_ERR_UNKNOWN_EPOCH:
        return STRATA__ERROR_CODE__UNKNOWN_LEADER_EPOCH;
    case ST_REPLICA_ERR_OUT_OF_RANGE:
        return STRATA__ERROR_CODE__OFFSET_OUT_OF_RANGE;
    default:
        return STRATA__ERROR_CODE__UNKNOWN;
    }
}

/* Answer @h now when anything is worth it, or when @final. Returns true
 * when answered (and freed). */
static bool evaluate(struct held *h, bool final)
{
    size_t n = h->n;
    struct st_replica_fetch_reply *reps = st_calloc(n + 1, sizeof *reps);
    struct st_repl_part **rps = st_calloc(n + 1, sizeof *rps);
    bool any = final || reps == NULL || rps == NULL ||
               st_rpc_reply_is_closed(h->reply);
    for (size_t i = 0; reps != NULL && rps != NULL && i < n; i++) {
        any |= step_part(h, &h->v[i], &reps[i], &rps[i]);
    }
    if (!any) {
        st_free(reps);
        st_free(rps);
        return false;
    }
    struct pres *pres = st_calloc(n + 1, sizeof *pres);
    Strata__Repl__ReplicaFetchPartitionResponse **pv =
        st_calloc(n + 1, sizeof *pv);
    if (reps == NULL || rps == NULL || pres == NULL || pv == NULL) {
        st_rpc_reply_send(h->reply, STRATA__ERROR_CODE__UNKNOWN,
                          "out of memory", (struct st_bytes){NULL, 0},
                          (struct st_bytes){NULL, 0});
        st_free(pres);
        st_free(pv);
        st_free(reps);
        st_free(rps);
        held_free(h);
        return true;
    }
    struct st_buf payload, body;
    st_buf_init(&payload);
    st_buf_init(&body);
    size_t budget = h->max_bytes;
    for (size_t i = 0; i < n; i++) {
        Strata__Repl__ReplicaFetchPartitionResponse init =
            STRATA__REPL__REPLICA_FETCH_PARTITION_RESPONSE__INIT;
        struct st_replica_fetch_reply *rep = &reps[i];
        Strata__Repl__ReplicaFetchPartitionResponse *r = &pres[i].r;
        *r = init;
        r->topic = h->v[i].topic;
        r->partition = h->v[i].partition;
        r->replica_error = (int32_t)rep->error;
        r->error = error_code(rep->error);
        r->leader_epoch = rep->leader_epoch;
        r->fetch_offset = rep->fetch_offset;
        r->high_watermark = rep->hw;
        r->log_start_offset = rep->log_start;
        r->diverging = rep->diverging;
        r->diverging_epoch = rep->diverging_epoch;
        r->diverging_end_offset = rep->diverging_end_offset;
        r->payload_offset = payload.len;
        if (rps[i] != NULL && rep->error == ST_REPLICA_OK &&
            !rep->diverging && rep->max_offset > rep->offset) {
            int64_t next;
            int rv = read_into(rps[i]->p, rep->offset,
                               rep->max_offset, &budget, &payload, &next);
            if (rv != 0) {
                payload.len = (size_t)r->payload_offset;
                r->replica_error = ST_REPLICA_ERR_NOT_LEADER;
                r->error = STRATA__ERROR_CODE__UNKNOWN;
                ST_WARN("replica", "partition %s-%d: reading %" PRId64
                        " for follower %d: %s", r->topic, r->partition,
                        rep->offset, h->replica_id, st_strerror(rv));
            }
        }
        r->payload_length = payload.len - r->payload_offset;
        pv[i] = r;
    }
    Strata__Repl__ReplicaFetchResponse m =
        STRATA__REPL__REPLICA_FETCH_RESPONSE__INIT;
    m.partitions = pv;
    m.n_partitions = n;
    if (st_pb_pack(&m.base, &body) != 0) {
        st_rpc_reply_send(h->reply, STRATA__ERROR_CODE__UNKNOWN,
                          "out of memory", (struct st_bytes){NULL, 0},
                          (struct st_bytes){NULL, 0});
    } else {
        st_rpc_reply_send(h->reply, 0, NULL, st_pb_view(&body),
                          (struct st_bytes){payload.base, payload.len});
    }
    st_buf_close(&payload);
    st_buf_close(&body);
    st_free(pres);
    st_free(pv);
    st_free(reps);
    st_free(rps);
    held_free(h);
    return true;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct held *h = arg;
    unlink_held(h);
    evaluate(h, true);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_repl_serve *s = arg;
    struct held *h = s->list;
    while (h != NULL) {
        struct held *next = h->next;
        unlink_held(h);
        if (!evaluate(h, false)) {
            /* Still nothing: back in the list (order does not matter). */
            h->next = s->list;
            if (s->list) {
                s->list->prev = h;
            }
            s->list = h;
        }
        h = next;
    }
}

void st_repl_serve_kick(struct st_repl_serve *s)
{
    if (s != NULL && s->list != NULL) {
        event_active(s->kick_ev, EV_READ, 1);
    }
}

static void fetch_handler(void *arg, const struct st_rpc_request *req,
                          struct st_rpc_reply *reply)
{
    struct st_repl_serve *s = arg;
    Strata__Repl__ReplicaFetchRequest *in =
        strata__repl__replica_fetch_request__unpack(NULL, req->body.len,
                                                    req->body.base);
    if (in == NULL) {
        st_rpc_reply_send(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                          "ReplicaFetchRequest does not parse",
                          (struct st_bytes){NULL, 0},
                          (struct st_bytes){NULL, 0});
        return;
    }
    struct held *h = st_calloc(1, sizeof *h);
    bool ok = h != NULL;
    if (ok) {
        h->v = st_calloc(in->n_partitions + 1, sizeof *h->v);
        h->timer = evtimer_new(s->d->cfg.base, timer_cb, h);
        ok = h->v != NULL && h->timer != NULL;
    }
    for (size_t i = 0; ok && i < in->n_partitions; i++) {
        const Strata__Repl__ReplicaFetchPartition *fp = in->partitions[i];
        struct hpart *hp = &h->v[i];
        hp->topic = st_strdup(fp->topic);
        ok = hp->topic != NULL;
        h->n = i + 1;
        hp->partition = fp->partition;
        hp->fetch_offset = fp->fetch_offset;
        hp->last_epoch = fp->last_fetched_epoch;
        hp->cur_epoch = fp->current_leader_epoch;
        hp->durable_end = fp->durable_end;
        hp->follower_hw = fp->follower_hw;
    }
    if (!ok) {
        st_rpc_reply_send(reply, STRATA__ERROR_CODE__UNKNOWN,
                          "out of memory", (struct st_bytes){NULL, 0},
                          (struct st_bytes){NULL, 0});
        if (h != NULL) {
            held_free(h);
        }
        strata__repl__replica_fetch_request__free_unpacked(in, NULL);
        return;
    }
    h->s = s;
    h->reply = reply;
    h->replica_id = in->replica_id;
    h->broker_epoch = in->broker_epoch;
    h->max_bytes = in->max_bytes ? in->max_bytes : DEFAULT_MAX_BYTES;
    if (h->max_bytes > DEFAULT_MAX_BYTES) {
        h->max_bytes = DEFAULT_MAX_BYTES;
    }
    uint32_t wait_ms = in->max_wait_ms;
    if (wait_ms > MAX_WAIT_CAP_MS) {
        wait_ms = MAX_WAIT_CAP_MS;
    }
    strata__repl__replica_fetch_request__free_unpacked(in, NULL);
    if (evaluate(h, wait_ms == 0 || s->d->stopping)) {
        return;
    }
    h->next = s->list;
    if (s->list) {
        s->list->prev = h;
    }
    s->list = h;
    struct timeval tv = {(time_t)(wait_ms / 1000),
                         (suseconds_t)(wait_ms % 1000) * 1000};
    evtimer_add(h->timer, &tv);
}

/* ---- ReplicaRead ---- */

static void read_handler(void *arg, const struct st_rpc_request *req,
                         struct st_rpc_reply *reply)
{
    struct st_repl_serve *s = arg;
    Strata__Repl__ReplicaReadRequest *in =
        strata__repl__replica_read_request__unpack(NULL, req->body.len,
                                                   req->body.base);
    Strata__Repl__ReplicaReadResponse m =
        STRATA__REPL__REPLICA_READ_RESPONSE__INIT;
    struct st_buf payload, body;
    st_buf_init(&payload);
    st_buf_init(&body);
    char msg[256] = "";
    if (in == NULL) {
        m.error = STRATA__ERROR_CODE__CORRUPT_MESSAGE;
        snprintf(msg, sizeof msg, "ReplicaReadRequest does not parse");
    } else {
        struct st_partition *p = s->d->cfg.find(s->d->cfg.find_arg,
                                                 in->topic, in->partition);
        struct st_repl_part *rp = p ? st_partition_repl(p) : NULL;
        if (rp == NULL) {
            m.error = STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(msg, sizeof msg, "%s-%d is not hosted here", in->topic,
                     in->partition);
        } else {
            struct st_log *log = st_partition_log(p);
            m.log_start_offset = st_log_start_offset(log);
            m.log_end_offset = st_log_end_offset(log);
            m.high_watermark = st_partition_hw(p);
            m.role = (char *)st_replica_role_name(st_replica_role(rp->core));
            m.leader_epoch = st_replica_leader_epoch(rp->core);
            size_t budget = in->max_bytes ? in->max_bytes : (1u << 20);
            int64_t next = in->offset;
            int rv = in->offset < m.log_start_offset ||
                             in->offset > m.log_end_offset
                         ? ST_ERANGE
                         : read_into(p, in->offset, m.log_end_offset,
                                     &budget, &payload, &next);
            m.next_offset = next;
            if (rv != 0) {
                m.error = rv == ST_ERANGE
                              ? STRATA__ERROR_CODE__OFFSET_OUT_OF_RANGE
                              : STRATA__ERROR_CODE__UNKNOWN;
                snprintf(msg, sizeof msg, "%s", st_strerror(rv));
                payload.len = 0;
            }
        }
    }
    m.error_message = msg;
    if (st_pb_pack(&m.base, &body) == 0) {
        st_rpc_reply_send(reply, 0, NULL, st_pb_view(&body),
                          (struct st_bytes){payload.base, payload.len});
    } else {
        st_rpc_reply_send(reply, STRATA__ERROR_CODE__UNKNOWN, "out of memory",
                          (struct st_bytes){NULL, 0},
                          (struct st_bytes){NULL, 0});
    }
    if (in != NULL) {
        strata__repl__replica_read_request__free_unpacked(in, NULL);
    }
    st_buf_close(&payload);
    st_buf_close(&body);
}

/* ---- life ---- */

int st_repl_serve_new(struct st_repl *d, struct st_repl_serve **out)
{
    struct st_repl_serve *s = st_calloc(1, sizeof *s);
    if (s == NULL) {
        return ST_ENOMEM;
    }
    s->d = d;
    s->kick_ev = event_new(d->cfg.base, -1, 0, kick_cb, s);
    if (s->kick_ev == NULL) {
        st_free(s);
        return ST_ENOMEM;
    }
    *out = s;
    return 0;
}

void st_repl_serve_flush(struct st_repl_serve *s)
{
    while (s != NULL && s->list != NULL) {
        struct held *h = s->list;
        unlink_held(h);
        evaluate(h, true);
    }
}

void st_repl_serve_free(struct st_repl_serve *s)
{
    if (s == NULL) {
        return;
    }
    st_repl_serve_flush(s);
    event_free(s->kick_ev);
    st_free(s);
}

int st_repl_serve_register(struct st_repl_serve *s, struct st_rpc_server *srv)
{
    int rv = st_rpc_server_register(srv, STRATA__REPL__API__REPLICA_FETCH, 0,
                                    0, ST_RPC_UNORDERED, fetch_handler, s);
    if (rv == 0) {
        rv = st_rpc_server_register(srv, STRATA__REPL__API__REPLICA_READ, 0,
                                    0, 0, read_handler, s);
    }
    return rv;
}
