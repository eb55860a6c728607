/* The consumer's loop side: resolve STRATA_OFFSET_* positions with
 * ListOffsets, and keep one Fetch in flight per leader broker covering
 * every assigned, unpaused partition it leads whose buffered records are
 * under max.partition.fetch.bytes (and while memory.limit.bytes allows).
 * Fetches are re-issued as soon as an answer is parsed, so records keep
 * arriving while the application works: poll rarely waits.
 *
 * Results carry the partition's version: a seek, pause or re-assignment
 * bumps it, and an answer for an older version is dropped.
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

#define FETCH_BACKOFF_MS 100
#define UNCOMPRESSED_MAX (256u << 20)

struct fentry {
    char *topic;
    int32_t partition;
    uint64_t version;
};

struct freq {
    strata_t *rk;
    int32_t broker_id;
    bool list_offsets;
    size_t n;
    struct fentry e[];
};

static struct cl_ctp *ctp_find(strata_t *rk, const char *topic, int32_t p)
{
    for (struct cl_ctp *c = rk->ctps; c != NULL; c = c->next) {
        if (c->partition == p && strcmp(c->topic, topic) == 0) {
            return c;
        }
    }
    return NULL;
}

void cl_cmsg_free(struct cl_cmsg *m)
{
    st_free(m);
}

/* Queue an event (error) for strata_consumer_poll(). Requires: @lock. */
static void push_event(strata_t *rk, const char *topic, int32_t partition,
                       int64_t offset, strata_resp_err_t err,
                       const char *why)
{
    size_t tl = strlen(topic) + 1, wl = strlen(why) + 1;
    struct cl_cmsg *m = st_calloc(1, sizeof *m + tl + wl);
    if (m == NULL) {
        return;
    }
    char *p = (char *)(m + 1);
    memcpy(p, topic, tl);
    memcpy(p + tl, why, wl);
    m->pub.topic = p;
    m->pub.errstr = p + tl;
    m->pub.err = err;
    m->pub.partition = partition;
    m->pub.offset = offset;
    m->pub.timestamp_ms = -1;
    if (rk->cq_tail != NULL) {
        rk->cq_tail->next = m;
    } else {
        rk->cq_head = m;
    }
    rk->cq_tail = m;
    pthread_cond_broadcast(&rk->cond);
}

/* Make a consumed record from @rec. NULL when out of memory. */
static struct cl_cmsg *cmsg_new(struct cl_ctp *c, const struct st_record *rec)
{
    size_t tl = strlen(c->topic) + 1;
    size_t hb = 0;
    struct st_record_header h;
    for (uint32_t i = 0; i < rec->n_headers; i++) {
        if (st_record_header_get(rec, i, &h) != 0) {
            return NULL;
        }
        hb += h.key_len + 1 + h.value_len;
    }
    size_t kl = rec->key != NULL ? (size_t)rec->key_len : 0;
    size_t vl = rec->value != NULL ? (size_t)rec->value_len : 0;
    size_t bytes = sizeof(struct cl_cmsg) +
                   rec->n_headers * sizeof(strata_header_t) + tl + hb + kl +
                   vl;
    struct cl_cmsg *m = st_calloc(1, bytes);
    if (m == NULL) {
        return NULL;
    }
    m->bytes = bytes;
    uint8_t *p = (uint8_t *)(m + 1);
    m->hdrs = (strata_header_t *)p;
    p += rec->n_headers * sizeof(strata_header_t);
    for (uint32_t i = 0; i < rec->n_headers; i++) {
        st_record_header_get(rec, i, &h);
        memcpy(p, h.key, h.key_len);
        p[h.key_len] = '\0';
        m->hdrs[i].key = (const char *)p;
        p += h.key_len + 1;
        m->hdrs[i].value = NULL;
        if (h.value != NULL) {
            memcpy(p, h.value, h.value_len);
            m->hdrs[i].value = p;
        }
        m->hdrs[i].value_len = h.value_len;
        p += h.value_len;
    }
    memcpy(p, c->topic, tl);
    m->pub.topic = (const char *)p;
    p += tl;
    if (rec->key != NULL) {
        memcpy(p, rec->key, kl);
        m->pub.key = p;
        m->pub.key_len = kl;
        p += kl;
    }
    if (rec->value != NULL) {
        memcpy(p, rec->value, vl);
        m->pub.value = p;
        m->pub.value_len = vl;
    }
    m->pub.errstr = "";
    m->pub.partition = c->partition;
    m->pub.offset = rec->offset;
    m->pub.timestamp_ms = rec->timestamp_ms;
    m->pub.headers = m->hdrs;
    m->pub.n_headers = rec->n_headers;
    m->ctp = c;
    m->version = c->version;
    return m;
}

/* Parse the batches of one partition's answer into the queue. */
static void take_records(strata_t *rk, struct cl_ctp *c, const uint8_t *p,
                         size_t len)
{
    while (len > 0) {
        struct st_batch_header h;
        int rv = st_batch_validate(p, len, UNCOMPRESSED_MAX, &h);
        if (rv == ST_EAGAIN) {
            return; /* a batch cut by the fetch size: fetched next time */
        }
        size_t total = rv == 0 ? st_batch_total_bytes(&h) : 0;
        if (rv == 0 && (h.attributes & ST_BATCH_ATTR_CONTROL) == 0) {
            rv = st_record_iter_init(rk->iter, p, total, UNCOMPRESSED_MAX);
            struct st_record rec;
            while (rv == 0 && (rv = st_record_iter_next(rk->iter, &rec)) ==
                                  0) {
                if (rec.offset < c->fetch_pos) {
                    continue;
                }
                struct cl_cmsg *m = cmsg_new(c, &rec);
                if (m == NULL) {
                    rv = ST_ENOMEM;
                    break;
                }
                if (rk->cq_tail != NULL) {
                    rk->cq_tail->next = m;
                } else {
                    rk->cq_head = m;
                }
                rk->cq_tail = m;
                rk->budget.used += m->bytes;
                c->queued_bytes += m->bytes;
                c->fetch_pos = rec.offset + 1;
            }
            if (rv == 1) {
                rv = 0;
            }
        }
        if (rv != 0) {
            char why[200];
            snprintf(why, sizeof why, "bad record batch at offset %" PRId64
                     ": %s", c->fetch_pos, st_strerror(rv));
            push_event(rk, c->topic, c->partition, c->fetch_pos,
                       STRATA_ERR__BAD_MSG, why);
            c->backoff_until_ms = cl_now_ms() + 1000;
            return;
        }
        if (st_batch_last_offset(&h) + 1 > c->fetch_pos) {
            c->fetch_pos = st_batch_last_offset(&h) + 1;
        }
        p += total;
        len -= total;
    }
    pthread_cond_broadcast(&rk->cond);
}

/* enable.partition.eof: once the fetch position reaches the high
 * watermark, queue one __PARTITION_EOF event behind the records before
 * it. Once per position and version (librdkafka's rule): new records, a
 * seek or a re-assignment re-arm it. Requires: @lock. */
static void maybe_eof(strata_t *rk, struct cl_ctp *c)
{
    if (!rk->cc.partition_eof || c->fetch_pos < 0 ||
        c->high_watermark < 0 || c->fetch_pos < c->high_watermark ||
        (c->eof_version == c->version && c->eof_pos == c->fetch_pos)) {
        return;
    }
    char why[120];
    snprintf(why, sizeof why, "reached the end of the partition (high "
             "watermark %" PRId64 ")", c->high_watermark);
    push_event(rk, c->topic, c->partition, c->fetch_pos,
               STRATA_ERR__PARTITION_EOF, why);
    c->eof_pos = c->fetch_pos;
    c->eof_version = c->version;
}

/* The reset position for a partition without a valid offset. */
static void reset_offset(strata_t *rk, struct cl_ctp *c, const char *why)
{
    if (rk->cc.offset_reset == CL_RESET_ERROR) {
        push_event(rk, c->topic, c->partition, c->fetch_pos,
                   STRATA_ERR_OFFSET_OUT_OF_RANGE, why);
        c->paused = true; /* until the application seeks */
        return;
    }
    c->fetch_pos = rk->cc.offset_reset == CL_RESET_EARLIEST
                       ? STRATA_OFFSET_BEGINNING
                       : STRATA_OFFSET_END;
}

static void partition_failed(strata_t *rk, struct cl_ctp *c,
                             strata_resp_err_t err, const char *msg,
                             int32_t leader, int32_t epoch)
{
    if (err == STRATA_ERR_OFFSET_OUT_OF_RANGE) {
        char why[300];
        snprintf(why, sizeof why, "offset %" PRId64 " out of range: %s",
                 c->fetch_pos, msg);
        reset_offset(rk, c, why);
        return;
    }
    if (cl_err_needs_metadata(err)) {
        cl_md_leader_hint(rk, c->topic, c->partition, leader, epoch);
        cl_md_want(rk);
    }
    c->backoff_until_ms = cl_now_ms() + FETCH_BACKOFF_MS;
}

/* Runs on: loop (rpc callback); takes @lock. */
static void fetch_done(void *arg, int status, const struct st_rpc_response *rs)
{
    struct freq *fr = arg;
    strata_t *rk = fr->rk;
    Strata__Client__FetchResponse *resp = NULL;
    Strata__Client__ListOffsetsResponse *lo = NULL;
    if (status == 0 && rs->error == 0) {
        if (fr->list_offsets) {
            lo = strata__client__list_offsets_response__unpack(
                NULL, rs->body.len, rs->body.base);
        } else {
            resp = strata__client__fetch_response__unpack(NULL, rs->body.len,
                                                          rs->body.base);
        }
    }
    pthread_mutex_lock(&rk->lock);
    struct cl_broker *b = cl_broker_find(rk, fr->broker_id);
    if (b != NULL && !fr->list_offsets) {
        b->fetch_in_flight = false;
    }
    for (size_t i = 0; i < fr->n; i++) {
        struct cl_ctp *c = ctp_find(rk, fr->e[i].topic, fr->e[i].partition);
        if (c == NULL || c->version != fr->e[i].version) {
            continue; /* unassigned, sought or paused since */
        }
        c->fetching = false;
        if (resp == NULL && lo == NULL) {
            partition_failed(rk, c, status != 0 ? cl_err_from_st(status)
                                                : STRATA_ERR__TRANSPORT,
                             "", -1, -1);
            continue;
        }
        if (lo != NULL) {
            for (size_t k = 0; k < lo->n_partitions; k++) {
                Strata__Client__ListOffsetsPartitionResponse *r =
                    lo->partitions[k];
                if (r->partition != c->partition ||
                    strcmp(r->topic, c->topic) != 0) {
                    continue;
                }
                if (r->error != 0) {
                    partition_failed(rk, c, cl_err_from_broker(r->error),
                                     r->error_message, -1, -1);
                } else {
                    /* -1: no record that new: the end (HW) is unknown
                     * here, so ask again for the latest. */
                    c->fetch_pos = r->offset >= 0 ? r->offset
                                                  : STRATA_OFFSET_END;
                    if (r->offset >= 0 && c->app_pos < 0) {
                        c->app_pos = r->offset;
                    }
                }
            }
            continue;
        }
        for (size_t k = 0; k < resp->n_partitions; k++) {
            Strata__Client__FetchPartitionResponse *r = resp->partitions[k];
            if (r->partition != c->partition ||
                strcmp(r->topic, c->topic) != 0) {
                continue;
            }
            if (r->error != 0) {
                partition_failed(rk, c, cl_err_from_broker(r->error),
                                 r->error_message, r->leader,
                                 r->leader_epoch);
                break;
            }
            c->high_watermark = r->high_watermark;
            c->log_start = r->log_start_offset;
            if (r->payload_offset <= rs->payload.len &&
                r->payload_length <= rs->payload.len - r->payload_offset) {
                take_records(rk, c, rs->payload.base + r->payload_offset,
                             (size_t)r->payload_length);
            }
            maybe_eof(rk, c);
            break;
        }
    }
    pthread_mutex_unlock(&rk->lock);
    if (resp != NULL) {
        strata__client__fetch_response__free_unpacked(resp, NULL);
    }
    if (lo != NULL) {
        strata__client__list_offsets_response__free_unpacked(lo, NULL);
    }
    for (size_t i = 0; i < fr->n; i++) {
        st_free(fr->e[i].topic);
    }
    st_free(fr);
    cl_wake(rk);
}

static struct freq *freq_new(strata_t *rk, int32_t broker, size_t cap,
                             bool list_offsets)
{
    struct freq *fr = st_calloc(1, sizeof *fr + cap * sizeof fr->e[0]);
    if (fr != NULL) {
        fr->rk = rk;
        fr->broker_id = broker;
        fr->list_offsets = list_offsets;
    }
    return fr;
}

static int freq_add(struct freq *fr, struct cl_ctp *c)
{
    fr->e[fr->n].topic = st_strdup(c->topic);
    if (fr->e[fr->n].topic == NULL) {
        return ST_ENOMEM;
    }
    fr->e[fr->n].partition = c->partition;
    fr->e[fr->n].version = c->version;
    fr->n++;
    return 0;
}

static void freq_free(struct freq *fr)
{
    for (size_t i = 0; i < fr->n; i++) {
        st_free(fr->e[i].topic);
    }
    st_free(fr);
}

/* Resolve @c's sentinel position with a ListOffsets to @b. */
static void send_list_offsets(strata_t *rk, struct cl_broker *b,
                              struct cl_ctp *c)
{
    if (c->fetch_pos == STRATA_OFFSET_INVALID) {
        reset_offset(rk, c, "no offset to start from");
        if (c->paused) {
            return;
        }
    }
    struct freq *fr = freq_new(rk, b->id, 1, true);
    if (fr == NULL || freq_add(fr, c) != 0) {
        st_free(fr);
        return;
    }
    Strata__Client__ListOffsetsPartition lp =
        STRATA__CLIENT__LIST_OFFSETS_PARTITION__INIT;
    Strata__Client__ListOffsetsPartition *lpp = &lp;
    lp.topic = c->topic;
    lp.partition = c->partition;
    lp.timestamp = c->fetch_pos == STRATA_OFFSET_BEGINNING ? -2 : -1;
    lp.current_leader_epoch = -1;
    Strata__Client__ListOffsetsRequest req =
        STRATA__CLIENT__LIST_OFFSETS_REQUEST__INIT;
    req.n_partitions = 1;
    req.partitions = &lpp;
    uint8_t buf[512];
    size_t need = strata__client__list_offsets_request__get_packed_size(&req);
    if (need > sizeof buf) {
        freq_free(fr);
        return;
    }
    size_t len = strata__client__list_offsets_request__pack(&req, buf);
    if (cl_broker_send(b, STRATA__CLIENT__API__LIST_OFFSETS, buf, len, NULL,
                       0, (uint32_t)rk->cc.request_timeout_ms, fetch_done,
                       fr) != 0) {
        freq_free(fr);
        return;
    }
    c->fetching = true;
}

static void send_fetch(strata_t *rk, struct cl_broker *b, struct freq *fr,
                       struct cl_ctp **ctps)
{
    Strata__Client__FetchPartition parts[fr->n];
    Strata__Client__FetchPartition *pp[fr->n];
    for (size_t i = 0; i < fr->n; i++) {
        Strata__Client__FetchPartition init =
            STRATA__CLIENT__FETCH_PARTITION__INIT;
        parts[i] = init;
        parts[i].topic = ctps[i]->topic;
        parts[i].partition = ctps[i]->partition;
        parts[i].fetch_offset = ctps[i]->fetch_pos;
        parts[i].current_leader_epoch = -1;
        parts[i].partition_max_bytes =
            (uint32_t)rk->cc.partition_fetch_bytes_max;
        pp[i] = &parts[i];
    }
    Strata__Client__FetchRequest req = STRATA__CLIENT__FETCH_REQUEST__INIT;
    req.max_wait_ms = (uint32_t)rk->cc.fetch_max_wait_ms;
    req.min_bytes = (uint32_t)rk->cc.fetch_min_bytes;
    req.max_bytes = 0;
    req.replica_id = -1;
    req.n_partitions = fr->n;
    req.partitions = pp;
    size_t len = strata__client__fetch_request__get_packed_size(&req);
    uint8_t *body = st_malloc(len > 0 ? len : 1);
    int rv = body == NULL ? ST_ENOMEM : 0;
    if (rv == 0) {
        strata__client__fetch_request__pack(&req, body);
        rv = cl_broker_send(b, STRATA__CLIENT__API__FETCH, body, len, NULL, 0,
                            (uint32_t)(rk->cc.fetch_max_wait_ms +
                                       rk->cc.request_timeout_ms),
                            fetch_done, fr);
    }
    st_free(body);
    if (rv != 0) {
        freq_free(fr);
        return;
    }
    b->fetch_in_flight = true;
    for (size_t i = 0; i < fr->n; i++) {
        ctps[i]->fetching = true;
    }
}

/* How much a partition may hold fetched before its next fetch waits:
 * two answers' worth, so one is consumed while the next is in flight. */
static size_t queue_bytes_max(const strata_t *rk)
{
    return 2 * (size_t)rk->cc.partition_fetch_bytes_max;
}

/* Tell the application once when metadata says an assigned partition
 * does not exist (it keeps being retried: the topic may be created). */
static void report_unknown(strata_t *rk, struct cl_ctp *c)
{
    if (!rk->md_ready || c->unknown_reported) {
        return;
    }
    struct cl_topic_md *t = cl_md_topic(rk, c->topic);
    if (t != NULL && c->partition < t->n_parts) {
        return; /* exists, leaderless for now */
    }
    char why[200];
    snprintf(why, sizeof why, "%s the cluster metadata",
             t == NULL ? "topic not in" : "partition not in");
    push_event(rk, c->topic, c->partition, c->fetch_pos,
               t == NULL ? STRATA_ERR__UNKNOWN_TOPIC
                         : STRATA_ERR__UNKNOWN_PARTITION,
               why);
    c->unknown_reported = true;
}

void cl_fetcher_tick(strata_t *rk, uint64_t now, uint64_t *wake_ms)
{
    size_t n_ctp = 0;
    for (struct cl_ctp *c = rk->ctps; c != NULL; c = c->next) {
        n_ctp++;
    }
    if (n_ctp == 0) {
        return;
    }
    bool budget_ok = rk->budget.used < rk->budget.limit;
    for (struct cl_broker *b = rk->brokers; b != NULL; b = b->next) {
        if (!b->up || b->bootstrap) {
            continue;
        }
        struct freq *fr = NULL;
        struct cl_ctp *ctps[n_ctp];
        for (struct cl_ctp *c = rk->ctps; c != NULL; c = c->next) {
            if (c->paused || c->fetching) {
                continue;
            }
            if (c->backoff_until_ms > now) {
                if (c->backoff_until_ms < *wake_ms) {
                    *wake_ms = c->backoff_until_ms;
                }
                continue;
            }
            int32_t leader = cl_md_leader(rk, c->topic, c->partition, NULL);
            if (leader < 0) {
                cl_md_want(rk);
                report_unknown(rk, c);
                continue;
            }
            if (leader != b->id) {
                continue;
            }
            if (c->fetch_pos < 0) {
                send_list_offsets(rk, b, c);
                continue;
            }
            if (b->fetch_in_flight || !budget_ok ||
                c->queued_bytes >= queue_bytes_max(rk)) {
                continue; /* a poll or an answer wakes the loop */
            }
            if (fr == NULL && (fr = freq_new(rk, b->id, n_ctp, false)) ==
                                  NULL) {
                return;
            }
            ctps[fr->n] = c;
            if (freq_add(fr, c) != 0) {
                break;
            }
        }
        if (fr != NULL && fr->n > 0) {
            send_fetch(rk, b, fr, ctps);
        } else {
            st_free(fr);
        }
    }
}

void cl_consumer_free(strata_t *rk)
{
    while (rk->cq_head != NULL) {
        struct cl_cmsg *m = rk->cq_head;
        rk->cq_head = m->next;
        cl_cmsg_free(m);
    }
    rk->cq_tail = NULL;
    while (rk->ctps != NULL) {
        struct cl_ctp *c = rk->ctps;
        rk->ctps = c->next;
        st_free(c->topic);
        st_free(c);
    }
}
