/* Produce: validate and append record batches to the partitions this
 * broker leads, then answer by acks:
 *   acks=0   at once after the append (the client need not wait);
 *   acks=1   at once after the leader's append (page cache);
 *   acks=-1  once the high watermark covers the records (every ISR member
 *            has them, durable per log.flush.policy), or REQUEST_TIMED_OUT
 *            after timeout_ms (the records may still become visible). The
 *            answer's `durability` says what was reached (REPLICATED, or
 *            REPLICATED_FSYNCED when every ISR member fsynced them). When
 *            the ISR fell below min.insync.replicas after the append the
 *            answer is NOT_ENOUGH_REPLICAS_AFTER_APPEND (outcome unknown,
 *            never "failed"). An idempotent retry of a batch already
 *            written gets its original offsets (the log's producer state).
 * Each partition entry is checked in this order: payload range, broker
 * fenced (BROKER_FENCED), topic and partition known
 * (UNKNOWN_TOPIC_OR_PARTITION), leadership (NOT_LEADER with the leader and
 * epoch), ISR size against min.insync.replicas for acks=-1
 * (NOT_ENOUGH_REPLICAS); then the log validates every batch (length,
 * magic, CRC, max.message.bytes) before writing any (CORRUPT_RECORD,
 * MESSAGE_TOO_LARGE). A bad entry fails alone; the others proceed.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metadata_follower.h"
#include "broker/partition.h"
#include "broker/partition_manager.h"
#include "broker/wire.h"
#include "client.pb-c.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_server.h"
#include "controller/metadata.h"
#include "errors.pb-c.h"

struct entry {
    Strata__Client__ProducePartitionResponse res;
    char msg[256];
    struct st_partition_waiter w;
    struct st_partition *p;     /* set while waiting */
    struct produce *pr;
};

struct produce {
    struct st_broker *b;
    struct st_rpc_reply *reply;
    struct event *timer;
    size_t n;
    size_t pending;
    struct entry *e;
    Strata__Client__ProducePartitionResponse **resv;
};

static void produce_free(struct produce *pr)
{
    if (pr->timer) {
        event_free(pr->timer);
    }
    for (size_t i = 0; i < pr->n; i++) {
        if (pr->e[i].res.topic != protobuf_c_empty_string) {
            st_free(pr->e[i].res.topic);
        }
    }
    st_free(pr->e);
    st_free(pr->resv);
    st_free(pr);
}

static void produce_answer(struct produce *pr)
{
    Strata__Client__ProduceResponse m = STRATA__CLIENT__PRODUCE_RESPONSE__INIT;
    for (size_t i = 0; i < pr->n; i++) {
        pr->resv[i] = &pr->e[i].res;
        if (pr->e[i].res.error != 0) {
            pr->b->stats.produce_errors++;
        }
    }
    m.partitions = pr->resv;
    m.n_partitions = pr->n;
    struct st_buf out;
    st_buf_init(&out);
    if (st_pb_pack(&m.base, &out) != 0) {
        st_broker_reply_error(pr->reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
    } else {
        struct st_bytes none = {NULL, 0};
        st_rpc_reply_send(pr->reply, 0, NULL, st_pb_view(&out), none);
    }
    st_buf_close(&out);
    produce_free(pr);
}

static void set_error(struct entry *e, int32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(struct entry *e, int32_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->res.error = code;
    e->res.error_message = e->msg;
    e->res.base_offset = -1;
}

static void waiter_done(struct st_partition_waiter *w, int status)
{
    struct entry *e = (struct entry *)(void *)((char *)w -
                                               offsetof(struct entry, w));
    struct produce *pr = e->pr;
    if (status == 0) {
        e->res.durable = true;
        e->res.durability = w->durable
                                ? STRATA__CLIENT__DURABILITY__REPLICATED_FSYNCED
                                : STRATA__CLIENT__DURABILITY__REPLICATED;
    } else if (status == ST_ERANGE) {
        int64_t base = e->res.base_offset;
        set_error(e, STRATA__ERROR_CODE__NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                  "the records were appended but the ISR fell below "
                  "min.insync.replicas; they may or may not be kept");
        e->res.base_offset = base;
    } else {
        set_error(e, STRATA__ERROR_CODE__NOT_LEADER,
                  "leadership moved before the records were acknowledged "
                  "by the ISR; they may or may not be kept");
    }
    e->p = NULL;
    if (--pr->pending == 0) {
        produce_answer(pr);
    }
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct produce *pr = arg;
    for (size_t i = 0; i < pr->n; i++) {
        struct entry *e = &pr->e[i];
        if (e->p != NULL) {
            st_partition_unwait(e->p, &e->w);
            e->p = NULL;
            set_error(e, STRATA__ERROR_CODE__REQUEST_TIMED_OUT,
                      "the ISR did not acknowledge within timeout_ms; the "
                      "records may still become visible");
        }
    }
    produce_answer(pr);
}

/* Why @topic/@index is not served here. */
static void not_here(struct st_broker *b, struct entry *e, const char *topic,
                     int32_t index)
{
    const struct st_meta *m = st_meta_follower_meta(b->follower);
    const struct st_meta_topic *t = st_meta_topic_by_name(m, topic);
    if (t == NULL) {
        set_error(e, STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION,
                  "unknown topic '%s'", topic);
    } else if (index < 0 || index >= t->n_parts) {
        set_error(e, STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION,
                  "partition %d out of range: topic '%s' has %d", index,
                  topic, t->n_parts);
    } else {
        e->res.leader = t->parts[index].leader;
        e->res.leader_epoch = t->parts[index].leader_epoch;
        set_error(e, STRATA__ERROR_CODE__NOT_LEADER,
                  "broker %d does not lead %s-%d (leader %d, epoch %d)",
                  b->node_id, topic, index, e->res.leader,
                  e->res.leader_epoch);
    }
}

/* Append one entry; an acks=all entry not yet covered by the HW waits
 * (counted in pr->pending). */
static bool produce_one(struct produce *pr, struct entry *e, int32_t acks,
                        bool fenced, const Strata__Client__ProducePartition *in,
                        struct st_bytes payload)
{
    struct st_broker *b = pr->b;
    if (in->payload_length == 0 || in->payload_offset > payload.len ||
        in->payload_length > payload.len - in->payload_offset) {
        set_error(e, STRATA__ERROR_CODE__INVALID_REQUEST,
                  "payload range [%" PRIu64 ", +%" PRIu64 ") outside the "
                  "%zu-byte payload", in->payload_offset, in->payload_length,
                  payload.len);
        return false;
    }
    if (fenced) {
        set_error(e, STRATA__ERROR_CODE__BROKER_FENCED,
                  "broker %d is fenced: no heartbeat answered within "
                  "broker.session.timeout.ms, or the controller fenced it",
                  b->node_id);
        return false;
    }
    struct st_partition *p = st_pm_find(b->pm, in->topic, in->partition);
    if (p == NULL || !st_partition_is_leader(p)) {
        not_here(b, e, in->topic, in->partition);
        return false;
    }
    e->res.leader = st_partition_leader(p);
    e->res.leader_epoch = st_partition_leader_epoch(p);
    if (acks == -1 && st_partition_isr_size(p) < st_partition_min_isr(p)) {
        set_error(e, STRATA__ERROR_CODE__NOT_ENOUGH_REPLICAS,
                  "ISR of %s-%d has %d member(s), min.insync.replicas is "
                  "%" PRId64, in->topic, in->partition,
                  st_partition_isr_size(p), st_partition_min_isr(p));
        return false;
    }
    struct st_buf *buf = &b->produce_buf;
    st_buf_reset(buf);
    if (st_buf_append(buf, payload.base + in->payload_offset,
                      (size_t)in->payload_length) != 0) {
        set_error(e, STRATA__ERROR_CODE__UNKNOWN, "out of memory");
        return false;
    }
    struct st_log_append_info info;
    int rv = st_partition_append(p, buf->base, buf->len,
                                 st_wall_ms(st_clock_real()), &info);
    struct st_log *log = st_partition_log(p);
    e->res.log_start_offset = st_log_start_offset(log);
    if (rv == ST_ETOOBIG) {
        set_error(e, STRATA__ERROR_CODE__MESSAGE_TOO_LARGE,
                  "a batch is over max.message.bytes (%u) of %s-%d",
                  st_log_config(log)->max_message_bytes, in->topic,
                  in->partition);
        return false;
    }
    if (rv != 0) {
        set_error(e, st_broker_error_code(rv), "%s-%d refused the batches: "
                  "%s", in->topic, in->partition,
                  rv == ST_EAGAIN ? "a batch is cut short" : st_strerror(rv));
        return false;
    }
    b->stats.produce_records_bytes += in->payload_length;
    e->res.base_offset = info.base_offset;
    int64_t need = info.last_offset + 1;
    e->res.durable = st_partition_hw(p) >= need;
    if (acks != -1 || e->res.durable) {
        /* A duplicate already below the HW was acknowledged before. */
        e->res.durability = e->res.durable && acks == -1
                                ? STRATA__CLIENT__DURABILITY__REPLICATED
                                : STRATA__CLIENT__DURABILITY__DURABILITY_NONE;
        return false;
    }
    e->w.offset = need;
    e->w.done = waiter_done;
    e->p = p;
    pr->pending++; /* before: done() may run inside the wait */
    if (st_partition_wait(p, &e->w) != 0) {
        pr->pending--;
        e->p = NULL;
        set_error(e, STRATA__ERROR_CODE__NOT_LEADER,
                  "%s-%d: leadership is moving; the records were appended "
                  "and may or may not be kept", in->topic, in->partition);
    }
    return false;
}

static void produce_handler(void *arg, const struct st_rpc_request *req,
                            struct st_rpc_reply *reply)
{
    struct st_broker *b = arg;
    b->stats.produce_requests++;
    Strata__Client__ProduceRequest *in =
        strata__client__produce_request__unpack(NULL, req->body.len,
                                                req->body.base);
    if (in == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                              "ProduceRequest does not parse");
        return;
    }
    if (in->acks != 0 && in->acks != 1 && in->acks != -1) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__INVALID_REQUEST,
                              "acks must be 0, 1 or -1");
        strata__client__produce_request__free_unpacked(in, NULL);
        return;
    }
    struct produce *pr = st_calloc(1, sizeof *pr);
    size_t n = in->n_partitions;
    if (pr != NULL) {
        pr->e = st_calloc(n + 1, sizeof *pr->e);
        pr->resv = st_calloc(n + 1, sizeof *pr->resv);
        pr->timer = evtimer_new(b->base, timeout_cb, pr);
    }
    if (pr == NULL || pr->e == NULL || pr->resv == NULL || pr->timer == NULL) {
        if (pr != NULL) {
            produce_free(pr);
        }
        st_broker_reply_error(reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
        strata__client__produce_request__free_unpacked(in, NULL);
        return;
    }
    pr->b = b;
    pr->reply = reply;
    pr->n = n;
    pr->pending = 1; /* held by this handler until its loop is done */
    bool fenced = st_broker_fenced(b);
    for (size_t i = 0; i < n; i++) {
        struct entry *e = &pr->e[i];
        Strata__Client__ProducePartitionResponse init =
            STRATA__CLIENT__PRODUCE_PARTITION_RESPONSE__INIT;
        e->res = init;
        e->pr = pr;
        e->res.topic = st_strdup(in->partitions[i]->topic);
        e->res.partition = in->partitions[i]->partition;
        e->res.base_offset = -1;
        e->res.log_append_time_ms = -1;
        e->res.log_start_offset = -1;
        e->res.leader = -1;
        e->res.leader_epoch = -1;
        if (e->res.topic == NULL) {
            e->res.topic = (char *)protobuf_c_empty_string;
            set_error(e, STRATA__ERROR_CODE__UNKNOWN, "out of memory");
            continue;
        }
        produce_one(pr, e, in->acks, fenced, in->partitions[i],
                    req->payload);
    }
    uint32_t timeout_ms = in->timeout_ms ? in->timeout_ms : 30000;
    strata__client__produce_request__free_unpacked(in, NULL);
    if (--pr->pending == 0) {
        produce_answer(pr);
        return;
    }
    struct timeval tv = {(time_t)(timeout_ms / 1000),
                         (suseconds_t)(timeout_ms % 1000) * 1000};
    evtimer_add(pr->timer, &tv);
}

int st_broker_produce_register(struct st_broker *b)
{
    return st_rpc_server_register(b->server, STRATA__CLIENT__API__PRODUCE, 0,
                                  0, 0, produce_handler, b);
}
