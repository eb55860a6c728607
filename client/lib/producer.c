/* The producer: strata_produce() on application threads, and on the loop
 * the pass that expires, partitions, batches and sends records, and the
 * handling of produce answers (delivery, retry, re-route).
 *
 * A record's path: strata_produce() admits it against the limits and puts
 * it in its partition's accumulator queue (or the topic's "unassigned"
 * list until metadata gives the partition count) -> the loop drains ready
 * batches, groups them by leader broker into one ProduceRequest each (the
 * batches in the raw payload) -> the answer delivers each record (offset =
 * base_offset + index) or puts the batch back in front for a retry after a
 * metadata refresh -> strata_poll() serves the delivery report and only
 * then gives the record's memory back.
 *
 * With enable.idempotence (idempotence.h): nothing is sent until a
 * producer id is held (InitProducerId to any broker, retried with
 * backoff); batches carry the id, epoch and their sequence; up to
 * CL_IDEM_MAX_IN_FLIGHT batches per partition fly at once; a sequenced
 * batch that fails for good makes the producer bump its epoch once nothing
 * is in flight.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client.pb-c.h"
#include "client/lib/errors.h"
#include "client/lib/handle.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_client.h"

/* How long a topic may be missing from metadata before its waiting records
 * fail with __UNKNOWN_TOPIC (covers a just-created topic reaching the
 * brokers). */
#define TOPIC_MISSING_MS 5000

struct preq_entry {
    struct cl_ptopic *pt;
    int32_t partition;
    struct cl_batch *batch;
};

/* One ProduceRequest in flight. */
struct preq {
    strata_t *rk;
    int32_t broker_id;
    size_t n;
    struct preq_entry e[];
};

/* ---- application side ---- */

static struct cl_ptopic *ptopic_get(strata_t *rk, const char *name)
{
    for (struct cl_ptopic *t = rk->ptopics; t != NULL; t = t->next) {
        if (strcmp(t->name, name) == 0) {
            return t;
        }
    }
    struct cl_ptopic *t = st_calloc(1, sizeof *t);
    if (t == NULL || (t->name = st_strdup(name)) == NULL) {
        st_free(t);
        return NULL;
    }
    cl_sticky_init(&t->sticky);
    t->next = rk->ptopics;
    rk->ptopics = t;
    return t;
}

/* Put @m (partition chosen or -1) into @t. Returns whether the loop must
 * be woken (a queue became non-empty or a batch filled). */
static bool place(strata_t *rk, struct cl_ptopic *t, struct cl_msg *m)
{
    if (m->partition < 0) {
        m->partition = cl_partitioner_pick(&rk->partitioner, &t->sticky,
                                           m->key, m->key_len, t->n_parts);
    }
    struct cl_acc_part *p = &t->parts[m->partition].acc;
    bool was_empty = p->head == NULL;
    cl_acc_append(p, m);
    return was_empty ||
           p->bytes + ST_BATCH_HEADER_BYTES >= rk->acc.opts.batch_bytes;
}

static void ua_append(struct cl_ptopic *t, struct cl_msg *m)
{
    m->next = NULL;
    if (t->ua_tail != NULL) {
        t->ua_tail->next = m;
    } else {
        t->ua_head = m;
    }
    t->ua_tail = m;
}

strata_resp_err_t strata_produce(strata_t *rk, const char *topic,
                                 int32_t partition, const void *key,
                                 size_t key_len, const void *value,
                                 size_t value_len,
                                 const strata_header_t *headers,
                                 size_t n_headers, int msgflags,
                                 void *opaque)
{
    if (rk->type != STRATA_PRODUCER) {
        return STRATA_ERR__STATE;
    }
    if (topic == NULL || topic[0] == '\0' || partition < -1 ||
        (n_headers > 0 && headers == NULL)) {
        return STRATA_ERR__INVALID_ARG;
    }
    for (size_t i = 0; i < n_headers; i++) {
        if (headers[i].key == NULL) {
            return STRATA_ERR__INVALID_ARG;
        }
    }
    struct cl_msg *m;
    bool copy = (msgflags & STRATA_MSG_F_FREE) == 0;
    if (cl_msg_new(key, key_len, value, value_len, copy, headers, n_headers,
                   cl_wall_ms(), cl_now_ms(), opaque, &m) != 0) {
        return STRATA_ERR__NOMEM;
    }
    m->partition = partition;

    strata_resp_err_t err = STRATA_ERR_NO_ERROR;
    bool wake = false;
    pthread_mutex_lock(&rk->lock);
    struct cl_ptopic *t = NULL;
    int rv = rk->closed ? ST_ECLOSED : cl_acc_reserve(&rk->acc, m);
    if (rv == 0) {
        t = ptopic_get(rk, topic);
        if (t == NULL) {
            rv = ST_ENOMEM;
            cl_acc_release(&rk->acc, m);
        } else if (t->n_parts > 0 && partition >= t->n_parts) {
            rv = ST_ERANGE;
            cl_acc_release(&rk->acc, m);
            cl_md_want(rk); /* partitions may have been added since */
        }
    }
    if (rv == 0) {
        if (t->n_parts == 0) {
            ua_append(t, m);
            cl_md_want(rk);
            wake = true;
        } else {
            wake = place(rk, t, m);
        }
        rk->outq++;
    }
    pthread_mutex_unlock(&rk->lock);
    switch (rv) {
    case 0:
        break;
    case ST_EAGAIN:
        err = STRATA_ERR__QUEUE_FULL;
        break;
    case ST_ETOOBIG:
        err = STRATA_ERR__MSG_SIZE_TOO_LARGE;
        break;
    case ST_ERANGE:
        err = STRATA_ERR__UNKNOWN_PARTITION;
        break;
    case ST_ECLOSED:
        err = STRATA_ERR__STATE;
        break;
    default:
        err = STRATA_ERR__NOMEM;
        break;
    }
    if (err != STRATA_ERR_NO_ERROR) {
        m->value_owned_by_app = false; /* on error the caller keeps it */
        cl_msg_free(m);
    } else if (wake) {
        cl_wake(rk);
    }
    return err;
}

/* ---- outcomes ---- */

/* Hand @m's report to strata_poll(). Requires: @lock. */
static void report(strata_t *rk, struct cl_ptopic *t, struct cl_msg *m,
                   strata_resp_err_t err, const char *why)
{
    struct cl_op *op = st_calloc(1, sizeof *op);
    m->next = NULL;
    m->err = err;
    if (err != STRATA_ERR_NO_ERROR && why != NULL && m->errstr == NULL) {
        m->errstr = st_strdup(why);
    }
    if (op == NULL) {
        /* Out of memory: the record is dropped without a report. */
        cl_acc_release(&rk->acc, m);
        rk->outq--;
        cl_msg_free(m);
        return;
    }
    op->kind = CL_OP_DR;
    op->msg = m;
    op->topic = t->name;
    cl_op_push(rk, op);
}

static void report_list(strata_t *rk, struct cl_ptopic *t, struct cl_msg *m,
                        strata_resp_err_t err, const char *why)
{
    while (m != NULL) {
        struct cl_msg *next = m->next;
        report(rk, t, m, err, why);
        m = next;
    }
}

/* The batch left flight for good with @err (0: delivered at @base). */
static void batch_finish(strata_t *rk, struct cl_ptopic *t, int32_t part,
                         struct cl_batch *b, strata_resp_err_t err,
                         int64_t base, const char *why)
{
    cl_acc_done(&t->parts[part].acc, b);
    if (rk->cc.idempotence && b->base_seq >= 0) {
        if (err != STRATA_ERR_NO_ERROR) {
            /* Its sequence may or may not be in the log: a hole that only
             * a new epoch closes. */
            cl_idem_hole(&rk->idem);
        } else if (cl_idem_acked(&t->parts[part].idem, b) != 0) {
            ST_DEBUG("client", "client=%s topic=%s partition=%" PRId32
                     " ack out of order base_seq=%" PRId32, rk->name,
                     t->name, part, b->base_seq);
        }
    }
    int64_t i = 0;
    struct cl_msg *m = b->msgs;
    while (m != NULL) {
        struct cl_msg *next = m->next;
        m->partition = part;
        m->offset = err == STRATA_ERR_NO_ERROR ? base + i : -1;
        report(rk, t, m, err, why);
        m = next;
        i++;
    }
    cl_batch_free(b);
}

/* Why a record of @t/@part could not leave: for timeout reports. */
static void why_stuck(strata_t *rk, struct cl_ptopic *t, int32_t part,
                      char *out, size_t cap)
{
    int32_t leader = cl_md_leader(rk, t->name, part, NULL);
    struct cl_broker *b = leader >= 0 ? cl_broker_find(rk, leader) : NULL;
    if (leader < 0 || b == NULL) {
        snprintf(out, cap, "timed out in queue: no leader for %s[%" PRId32
                 "]", t->name, part);
    } else if (!b->up) {
        snprintf(out, cap, "timed out in queue: not connected to leader "
                 "broker %" PRId32 " (%s:%u): %s", leader, b->host, b->port,
                 b->last_err[0] ? b->last_err : "connecting");
    } else {
        snprintf(out, cap, "timed out in queue waiting for earlier batches "
                 "of %s[%" PRId32 "] (broker %" PRId32 ")", t->name, part,
                 leader);
    }
}

/* Runs on: loop (rpc callback); takes @lock. */
static void produce_done(void *arg, int status,
                         const struct st_rpc_response *rs)
{
    struct preq *pr = arg;
    strata_t *rk = pr->rk;
    Strata__Client__ProduceResponse *resp = NULL;
    if (status == 0 && rs->error == 0) {
        resp = strata__client__produce_response__unpack(NULL, rs->body.len,
                                                        rs->body.base);
    }
    uint64_t now = cl_now_ms();
    pthread_mutex_lock(&rk->lock);
    for (size_t i = 0; i < pr->n; i++) {
        struct preq_entry *e = &pr->e[i];
        strata_resp_err_t err;
        char why[768];
        int64_t base = -1;
        int32_t hint_leader = -1, hint_epoch = -1;
        why[0] = '\0';
        if (status == ST_ECANCELED) {
            err = STRATA_ERR__DESTROY;
            snprintf(why, sizeof why, "handle closed while the batch was "
                     "in flight to broker %" PRId32, pr->broker_id);
        } else if (status != 0) {
            err = status == ST_ETIMEDOUT ? STRATA_ERR__MSG_TIMED_OUT
                                         : STRATA_ERR__TRANSPORT;
            snprintf(why, sizeof why, "%s in flight to broker %" PRId32
                     " (outcome unknown)",
                     status == ST_ETIMEDOUT ? "timed out"
                                            : "connection lost",
                     pr->broker_id);
        } else if (rs->error != 0) {
            err = cl_err_from_broker(rs->error);
            snprintf(why, sizeof why, "broker %" PRId32 ": %s",
                     pr->broker_id, rs->error_message);
        } else if (resp == NULL) {
            err = STRATA_ERR__BAD_MSG;
            snprintf(why, sizeof why, "unparsable produce answer from "
                     "broker %" PRId32, pr->broker_id);
        } else {
            err = STRATA_ERR__BAD_MSG;
            snprintf(why, sizeof why, "broker %" PRId32 " did not answer "
                     "for the partition", pr->broker_id);
            /* Answers come in request order; a request may hold several
             * batches of one partition, so match by position first. */
            for (size_t j = 0; j < resp->n_partitions; j++) {
                size_t k = (i + j) % resp->n_partitions;
                Strata__Client__ProducePartitionResponse *r =
                    resp->partitions[k];
                if (r->partition != e->partition ||
                    strcmp(r->topic, e->pt->name) != 0) {
                    continue;
                }
                err = cl_err_from_broker(r->error);
                base = r->base_offset;
                hint_leader = r->leader;
                hint_epoch = r->leader_epoch;
                snprintf(why, sizeof why, "broker %" PRId32 ": %s",
                         pr->broker_id, r->error_message);
                break;
            }
        }
        struct cl_batch *b = e->batch;
        bool expired = b->msgs->enq_ms + rk->cc.delivery_timeout_ms <= now;
        /* An earlier batch of the partition was refused or lost: this one
         * follows it again. */
        bool seq_retry = rk->cc.idempotence &&
                         err == STRATA_ERR_OUT_OF_ORDER_SEQUENCE &&
                         cl_idem_out_of_order_retriable(
                             &e->pt->parts[e->partition].idem, b);
        if (err == STRATA_ERR_DUPLICATE_SEQUENCE && base >= 0) {
            err = STRATA_ERR_NO_ERROR; /* written before: its offsets */
        }
        if (err != STRATA_ERR_NO_ERROR && !cl_idem_err_not_written(err)) {
            b->maybe_written = true;
        }
        if (err == STRATA_ERR_NO_ERROR) {
            batch_finish(rk, e->pt, e->partition, b, err, base, NULL);
        } else if (cl_err_retriable(err) || err == STRATA_ERR__MSG_TIMED_OUT ||
                   seq_retry) {
            if (cl_err_needs_metadata(err)) {
                cl_md_leader_hint(rk, e->pt->name, e->partition, hint_leader,
                                  hint_epoch);
                cl_md_want(rk);
            }
            if (rk->terminate || expired || b->attempts >= rk->cc.retries) {
                char full[400];
                snprintf(full, sizeof full, "%s (after %d attempts)", why,
                         b->attempts + 1);
                batch_finish(rk, e->pt, e->partition, b,
                             expired ? STRATA_ERR__MSG_TIMED_OUT : err, -1,
                             full);
            } else {
                ST_DEBUG("client", "client=%s topic=%s partition=%" PRId32
                         " retry attempt=%d reason=\"%s\"", rk->name,
                         e->pt->name, e->partition, b->attempts + 1, why);
                cl_acc_retry(&e->pt->parts[e->partition].acc, b, now,
                             rk->cc.retry_backoff_ms);
            }
        } else {
            batch_finish(rk, e->pt, e->partition, b, err, -1, why);
        }
    }
    pthread_mutex_unlock(&rk->lock);
    if (resp != NULL) {
        strata__client__produce_response__free_unpacked(resp, NULL);
    }
    st_free(pr);
    cl_wake(rk);
}

/* ---- the loop pass ---- */

/* Encode @b's records into rk->payload. Errors: ST_ENOMEM, ST_ECOMPRESS. */
static int encode_batch(strata_t *rk, const struct cl_batch *b)
{
    struct st_batch_builder_opts o = {
        .codec = rk->cc.zstd ? ST_CODEC_ZSTD : ST_CODEC_NONE,
        .producer_id = rk->cc.idempotence ? rk->idem.pid : -1,
        .producer_epoch = rk->cc.idempotence ? rk->idem.epoch : -1,
        .base_sequence = rk->cc.idempotence ? b->base_seq : -1,
        .leader_epoch = -1,
    };
    st_batch_builder_reset(rk->builder, &o);
    for (const struct cl_msg *m = b->msgs; m != NULL; m = m->next) {
        int rv = st_batch_builder_add(rk->builder, m->timestamp_ms, m->key,
                                      m->key_len, m->value, m->value_len,
                                      m->hdrs, m->n_hdrs);
        if (rv != 0) {
            return rv;
        }
    }
    struct st_bytes out;
    int rv = st_batch_builder_finish(rk->builder, &out);
    if (rv != 0) {
        return rv;
    }
    return st_buf_append(&rk->payload, out.base, out.len);
}

/* Send @pr (entries for one broker). On failure every batch is retried. */
static void send_preq(strata_t *rk, struct cl_broker *b, struct preq *pr)
{
    Strata__Client__ProducePartition parts[pr->n];
    Strata__Client__ProducePartition *pp[pr->n];
    st_buf_reset(&rk->payload);
    int rv = 0;
    for (size_t i = 0; i < pr->n && rv == 0; i++) {
        Strata__Client__ProducePartition init =
            STRATA__CLIENT__PRODUCE_PARTITION__INIT;
        parts[i] = init;
        parts[i].topic = pr->e[i].pt->name;
        parts[i].partition = pr->e[i].partition;
        parts[i].payload_offset = rk->payload.len;
        rv = encode_batch(rk, pr->e[i].batch);
        parts[i].payload_length = rk->payload.len - parts[i].payload_offset;
        pp[i] = &parts[i];
    }
    Strata__Client__ProduceRequest req = STRATA__CLIENT__PRODUCE_REQUEST__INIT;
    req.acks = rk->cc.acks;
    req.timeout_ms = (uint32_t)rk->cc.request_timeout_ms;
    req.n_partitions = pr->n;
    req.partitions = pp;
    size_t len = strata__client__produce_request__get_packed_size(&req);
    uint8_t *body = st_malloc(len > 0 ? len : 1);
    if (rv == 0 && body == NULL) {
        rv = ST_ENOMEM;
    }
    if (rv == 0) {
        strata__client__produce_request__pack(&req, body);
        rv = cl_broker_send(b, STRATA__CLIENT__API__PRODUCE, body, len,
                            rk->payload.base, rk->payload.len,
                            (uint32_t)rk->cc.request_timeout_ms + 2000,
                            produce_done, pr);
    }
    st_free(body);
    if (rv != 0) {
        ST_WARN("client", "client=%s broker=%" PRId32 " produce not sent: "
                "%s", rk->name, b->id, st_strerror(rv));
        uint64_t now = cl_now_ms();
        for (size_t i = 0; i < pr->n; i++) {
            cl_acc_retry(&pr->e[i].pt->parts[pr->e[i].partition].acc,
                         pr->e[i].batch, now, rk->cc.retry_backoff_ms);
        }
        st_free(pr);
    }
}

/* Give records waiting for a partition count their partition. */
void cl_producer_md_updated(strata_t *rk)
{
    uint64_t now = cl_now_ms();
    for (struct cl_ptopic *t = rk->ptopics; t != NULL; t = t->next) {
        struct cl_topic_md *md = cl_md_topic(rk, t->name);
        if (md == NULL || md->n_parts == 0) {
            if (t->missing_since_ms == 0) {
                t->missing_since_ms = now;
            }
            continue;
        }
        t->missing_since_ms = 0;
        if (md->n_parts <= t->n_parts) {
            continue; /* partitions are never removed */
        }
        /* New topic, or partitions added: in-flight requests name
         * partitions by index, so the array may move. */
        struct cl_ptp *parts =
            st_realloc(t->parts, (size_t)md->n_parts * sizeof *parts);
        if (parts == NULL) {
            continue;
        }
        for (int32_t i = t->n_parts; i < md->n_parts; i++) {
            cl_acc_part_init(&parts[i].acc);
            cl_idem_part_init(&parts[i].idem);
        }
        t->parts = parts;
        bool had_parts = t->n_parts != 0;
        t->n_parts = md->n_parts;
        if (had_parts) {
            continue;
        }
        struct cl_msg *m = t->ua_head;
        t->ua_head = t->ua_tail = NULL;
        while (m != NULL) {
            struct cl_msg *next = m->next;
            if (m->partition >= t->n_parts) {
                char why[200];
                snprintf(why, sizeof why, "partition %" PRId32 " does not "
                         "exist: %s has %" PRId32, m->partition, t->name,
                         t->n_parts);
                report(rk, t, m, STRATA_ERR__UNKNOWN_PARTITION, why);
            } else {
                place(rk, t, m);
            }
            m = next;
        }
    }
}

/* Records still waiting for metadata of @t. */
static void tick_unassigned(strata_t *rk, struct cl_ptopic *t, uint64_t now)
{
    if (t->ua_head == NULL) {
        return;
    }
    cl_md_want(rk);
    char why[768];
    if (t->missing_since_ms != 0 && now - t->missing_since_ms >=
                                        TOPIC_MISSING_MS) {
        snprintf(why, sizeof why, "topic %s does not exist in the cluster",
                 t->name);
        report_list(rk, t, t->ua_head, STRATA_ERR__UNKNOWN_TOPIC, why);
        t->ua_head = t->ua_tail = NULL;
        return;
    }
    while (t->ua_head != NULL &&
           t->ua_head->enq_ms + rk->cc.delivery_timeout_ms <= now) {
        struct cl_msg *m = t->ua_head;
        t->ua_head = m->next;
        if (t->ua_head == NULL) {
            t->ua_tail = NULL;
        }
        char down[200];
        cl_brokers_describe_down(rk, down, sizeof down);
        snprintf(why, sizeof why, "timed out in queue: no metadata for "
                 "topic %s%s%s", t->name, down[0] ? "; down: " : "", down);
        report(rk, t, m, STRATA_ERR__MSG_TIMED_OUT, why);
    }
}

struct pending {
    struct cl_broker *b;
    struct preq *pr;
    size_t cap;
};

static int add_entry(struct pending *pend, size_t *n_pend, size_t max,
                     strata_t *rk, struct cl_broker *b,
                     struct preq_entry e)
{
    size_t i = 0;
    while (i < *n_pend && pend[i].b != b) {
        i++;
    }
    if (i == *n_pend) {
        if (i == max) {
            return ST_ENOMEM;
        }
        pend[i].b = b;
        pend[i].pr = NULL;
        pend[i].cap = 0;
        (*n_pend)++;
    }
    struct pending *p = &pend[i];
    if (p->pr == NULL || p->pr->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        struct preq *pr = st_realloc(p->pr, sizeof *pr + cap * sizeof e);
        if (pr == NULL) {
            return ST_ENOMEM;
        }
        if (p->pr == NULL) {
            pr->n = 0;
            pr->rk = rk;
            pr->broker_id = b->id;
        }
        p->pr = pr;
        p->cap = cap;
    }
    p->pr->e[p->pr->n++] = e;
    return 0;
}

#define PENDING_BROKERS_MAX 64

/* ---- the producer id ---- */

/* Batches of every partition in flight. Requires: @lock. */
static uint64_t in_flight_total(strata_t *rk)
{
    uint64_t n = 0;
    for (struct cl_ptopic *t = rk->ptopics; t != NULL; t = t->next) {
        for (int32_t i = 0; i < t->n_parts; i++) {
            n += t->parts[i].acc.in_flight;
        }
    }
    return n;
}

/* A new epoch: every partition's sequences restart at 0. Batches waiting
 * for a resend that were certainly never written get new sequences when
 * they leave (still first, in order); the others may be in the log under
 * the old epoch, so they fail. Requires: @lock; nothing in flight. */
static void epoch_bumped(strata_t *rk)
{
    uint64_t now = cl_now_ms();
    char why[300];
    snprintf(why, sizeof why, "outcome unknown: an earlier batch of the "
             "idempotent producer failed, so its epoch was bumped to %d "
             "and this batch, already sent under the old epoch, cannot be "
             "resent without risking a duplicate", (int)rk->idem.epoch);
    for (struct cl_ptopic *t = rk->ptopics; t != NULL; t = t->next) {
        for (int32_t i = 0; i < t->n_parts; i++) {
            struct cl_acc_part *ap = &t->parts[i].acc;
            struct cl_batch *keep = NULL, **tail = &keep;
            while (ap->retry != NULL) {
                struct cl_batch *b = cl_acc_drain(&rk->acc, ap);
                b->base_seq = -1; /* no new hole; a new one if resent */
                if (b->maybe_written) {
                    batch_finish(rk, t, i, b,
                                 STRATA_ERR_OUT_OF_ORDER_SEQUENCE, -1, why);
                } else {
                    *tail = b;
                    tail = &b->next;
                }
            }
            while (keep != NULL) { /* back in front, in order */
                struct cl_batch *b = keep;
                keep = b->next;
                b->next = NULL;
                cl_acc_retry(ap, b, now, 0);
            }
            cl_idem_part_init(&t->parts[i].idem);
        }
    }
}

/* Runs on: loop (rpc callback); takes @lock. */
static void pid_done(void *arg, int status, const struct st_rpc_response *rs)
{
    strata_t *rk = arg;
    Strata__Client__InitProducerIdResponse *r = NULL;
    char why[400];
    strata_resp_err_t err = STRATA_ERR_NO_ERROR;
    if (status != 0) {
        err = status == ST_ETIMEDOUT ? STRATA_ERR__TIMED_OUT
                                     : STRATA_ERR__TRANSPORT;
        snprintf(why, sizeof why, "InitProducerId: %s", st_strerror(status));
    } else if (rs->error != 0) {
        err = cl_err_from_broker(rs->error);
        snprintf(why, sizeof why, "InitProducerId: %s", rs->error_message);
    } else if ((r = strata__client__init_producer_id_response__unpack(
                    NULL, rs->body.len, rs->body.base)) == NULL) {
        err = STRATA_ERR__BAD_MSG;
        snprintf(why, sizeof why, "InitProducerId: unparsable answer");
    } else if (r->error != 0 || r->producer_id < 0 || r->producer_epoch < 0 ||
               r->producer_epoch > INT16_MAX) {
        err = r->error != 0 ? cl_err_from_broker(r->error)
                            : STRATA_ERR__BAD_MSG;
        snprintf(why, sizeof why, "InitProducerId: %s",
                 r->error_message[0] ? r->error_message : "no id given");
    }
    pthread_mutex_lock(&rk->lock);
    if (status == ST_ECANCELED) {
        rk->idem.init_in_flight = false;
    } else if (err == STRATA_ERR_NO_ERROR) {
        bool bump = rk->idem.bump_needed;
        if (bump) {
            rk->idem.epoch = (int16_t)r->producer_epoch;
            epoch_bumped(rk);
        }
        cl_idem_init_done(&rk->idem, r->producer_id,
                          (int16_t)r->producer_epoch);
        rk->acc.opts.max_in_flight = CL_IDEM_MAX_IN_FLIGHT;
        ST_INFO("client", "client=%s idempotence=on producer_id=%" PRId64
                " epoch=%d in_flight_per_partition=%d%s", rk->name,
                rk->idem.pid, (int)rk->idem.epoch, CL_IDEM_MAX_IN_FLIGHT,
                bump ? " (epoch bumped)" : "");
    } else {
        unsigned n = cl_idem_init_failed(&rk->idem, cl_now_ms(),
                                         rk->cc.retry_backoff_ms);
        ST_WARN("client", "client=%s attempt=%u %s", rk->name, n, why);
        if (n == 3) {
            cl_error_push(rk, err, "idempotent producer has no producer id "
                          "after %u attempts (%s); records wait, and fail "
                          "after delivery.timeout.ms", n, why);
        }
    }
    pthread_mutex_unlock(&rk->lock);
    if (r != NULL) {
        strata__client__init_producer_id_response__free_unpacked(r, NULL);
    }
    cl_wake(rk);
}

/* Ask for a producer id (or a new epoch) when needed. Runs on: loop;
 * @lock held. */
static void pid_tick(strata_t *rk, uint64_t now, uint64_t *wake_ms)
{
    struct cl_idem *s = &rk->idem;
    uint64_t busy = s->bump_needed ? in_flight_total(rk) : 0;
    if (!cl_idem_want_init(s, now, busy)) {
        if (!s->init_in_flight && now < s->retry_at_ms &&
            s->retry_at_ms < *wake_ms) {
            *wake_ms = s->retry_at_ms;
        }
        return;
    }
    struct cl_broker *b = cl_broker_any(rk);
    if (b == NULL || !b->up) {
        return; /* a broker coming up wakes the loop */
    }
    Strata__Client__InitProducerIdRequest m =
        STRATA__CLIENT__INIT_PRODUCER_ID_REQUEST__INIT;
    m.producer_id = s->have_id ? s->pid : -1;
    m.producer_epoch = s->have_id ? s->epoch : -1;
    uint8_t body[64];
    size_t len = strata__client__init_producer_id_request__pack(&m, body);
    int rv = cl_broker_send(b, STRATA__CLIENT__API__INIT_PRODUCER_ID, body,
                            len, NULL, 0,
                            (uint32_t)rk->cc.request_timeout_ms, pid_done,
                            rk);
    if (rv != 0) {
        unsigned n = cl_idem_init_failed(s, now, rk->cc.retry_backoff_ms);
        ST_WARN("client", "client=%s attempt=%u InitProducerId not sent: "
                "%s", rk->name, n, st_strerror(rv));
        if (s->retry_at_ms < *wake_ms) {
            *wake_ms = s->retry_at_ms;
        }
        return;
    }
    s->init_in_flight = true;
}

void cl_producer_tick(strata_t *rk, uint64_t now, uint64_t *wake_ms)
{
    struct pending pend[PENDING_BROKERS_MAX];
    size_t n_pend = 0;
    char why[768];
    bool idem = rk->cc.idempotence;

    for (struct cl_ptopic *t = rk->ptopics; t != NULL; t = t->next) {
        tick_unassigned(rk, t, now);
        for (int32_t i = 0; i < t->n_parts; i++) {
            struct cl_acc_part *ap = &t->parts[i].acc;
            struct cl_msg *old =
                cl_acc_expire(ap, now, rk->cc.delivery_timeout_ms);
            if (old != NULL) {
                why_stuck(rk, t, i, why, sizeof why);
                report_list(rk, t, old, STRATA_ERR__MSG_TIMED_OUT, why);
            }
            if (ap->head == NULL && ap->retry == NULL) {
                continue;
            }
            int32_t leader = cl_md_leader(rk, t->name, i, NULL);
            struct cl_broker *b =
                leader >= 0 ? cl_broker_find(rk, leader) : NULL;
            if (b == NULL) {
                cl_md_want(rk);
                continue;
            }
            /* Without an id, or once a hole is found, nothing leaves (the
             * id's answer wakes us). */
            bool may_send = !idem || cl_idem_ready(&rk->idem);
            if (!b->up || !may_send) {
                continue; /* its coming up wakes the loop */
            }
            unsigned limit = idem ? cl_idem_in_flight_limit(
                                        &t->parts[i].idem,
                                        rk->acc.opts.max_in_flight)
                                  : rk->acc.opts.max_in_flight;
            while (ap->in_flight < limit &&
                   (!idem || cl_idem_ready(&rk->idem)) &&
                   cl_acc_ready(&rk->acc, ap, now, rk->flushing, wake_ms)) {
                struct cl_batch *batch = cl_acc_drain(&rk->acc, ap);
                if (batch == NULL) {
                    break;
                }
                if (idem) {
                    cl_idem_assign(&t->parts[i].idem, batch);
                }
                if (batch->attempts > 0 &&
                    batch->msgs->enq_ms + rk->cc.delivery_timeout_ms <= now) {
                    snprintf(why, sizeof why, "timed out after %d attempts "
                             "in flight", batch->attempts);
                    batch_finish(rk, t, i, batch, STRATA_ERR__MSG_TIMED_OUT,
                                 -1, why);
                    continue;
                }
                if (batch->attempts == 0) {
                    cl_partitioner_batch_sent(&t->sticky, i);
                }
                struct preq_entry e = {t, i, batch};
                if (add_entry(pend, &n_pend, PENDING_BROKERS_MAX, rk, b, e) !=
                    0) {
                    cl_acc_retry(ap, batch, now, rk->cc.retry_backoff_ms);
                    break;
                }
            }
        }
    }
    for (size_t k = 0; k < n_pend; k++) {
        send_preq(rk, pend[k].b, pend[k].pr);
    }
    if (idem) {
        /* Last: a hole found above with nothing in flight bumps now. */
        pid_tick(rk, now, wake_ms);
    }
}

void cl_producer_purge(strata_t *rk, strata_resp_err_t err, const char *why)
{
    for (struct cl_ptopic *t = rk->ptopics; t != NULL; t = t->next) {
        report_list(rk, t, t->ua_head, err, why);
        t->ua_head = t->ua_tail = NULL;
        for (int32_t i = 0; i < t->n_parts; i++) {
            report_list(rk, t, cl_acc_purge(&t->parts[i].acc), err, why);
        }
    }
}

void cl_producer_free(strata_t *rk)
{
    while (rk->ptopics != NULL) {
        struct cl_ptopic *t = rk->ptopics;
        rk->ptopics = t->next;
        st_free(t->parts);
        st_free(t->name);
        st_free(t);
    }
}
