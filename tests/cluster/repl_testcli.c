/* repl_testcli: the client of the replication cluster and fault tests, and
 * of the replication figures (libstrata is built elsewhere; this one only
 * needs common/ and proto/).
 *
 *   repl_testcli --bootstrap H:P[,H:P...] --certs DIR CMD [ARGS]
 *
 *   create-topic NAME PARTS RF [KEY=VALUE...]   and wait for leaders
 *   produce TOPIC --count N [--size B] [--acks A] [--batch K]
 *           [--idempotent] [--seconds S] [--history F] [--inflight W]
 *       N records round-robin over the partitions (value "p=P seq=S;"
 *       padded to B bytes), one batch of K in flight per partition (W with
 *       --inflight, no retries: for figures). Retriable errors (leader
 *       moved, timeouts, not enough replicas) re-route and resend the same
 *       batch (same producer sequence with --idempotent) until acknowledged
 *       or --seconds pass. --history writes JSON lines: invoke / ok / fail
 *       / unknown with partition, seq, offset. Prints records/s and MB/s.
 *   read TOPIC --out F [--timeout-ms T]
 *       every partition from its start to its HW, from its leader: lines
 *       "partition offset seq" to F.
 *   replica-digest TOPIC PART ID      ReplicaRead from broker ID: prints
 *       "start end hw digest" of its whole log (FNV-1a 64 over the bytes
 *       with the leader-epoch field included).
 *   expect-produce TOPIC PART ACKS CODE [--produce-timeout-ms T]
 *       a batch must get ErrorCode CODE (retried for 20 s until it does)
 *   produce-until-ok TOPIC PART [--seconds S]
 *       acks=all batches until one succeeds; prints the elapsed ms.
 *   dup-after-failover TOPIC PART PID-FILE-CMD...: see repl_dup.sh
 *   idem-batch TOPIC PART SEQ [--pid P --epoch E]  one idempotent batch of
 *       10 records with base sequence SEQ; prints "base_offset pid epoch"
 *   isr TOPIC PART                    prints the ISR size and leader
 *   latency TOPIC --rate R --seconds S [--size B] [--batch K]
 *       acks=all, one batch every 1/R s round-robin; p50/p99/max.
 *
 * Exit: 0 ok, 1 check failed (one line says what), 2 usage.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.pb-c.h"
#include "common/batch.h"
#include "common/bytes.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/jobq.h"
#include "common/rpc_client.h"
#include "common/tls.h"
#include "controller.pb-c.h"
#include "errors.pb-c.h"
#include "replication.pb-c.h"

#define MAX_BROKERS 16
#define MAX_PARTS 64
#define MAX_INFLIGHT 64

static struct event_base *base;
static struct st_tls_ctx *tls;

struct conn {
    int32_t id;
    char host[256];
    uint16_t port;
    struct st_rpc_client *c;
};

static struct conn boot[MAX_BROKERS];
static int n_boot;
static struct conn brokers[MAX_BROKERS];
static int n_brokers;

struct topic {
    int n_parts;
    int32_t leader[MAX_PARTS];
    int32_t epoch[MAX_PARTS];
    int n_isr[MAX_PARTS];
};

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "repl_testcli: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct st_rpc_client *client_to(const char *host, uint16_t port)
{
    struct st_rpc_client_config cc = {0};
    cc.host = host;
    cc.port = port;
    cc.tls = tls;
    cc.connect_timeout_ms = 1000;
    cc.backoff_initial_ms = 20;
    cc.backoff_max_ms = 200;
    struct st_rpc_client *c;
    if (st_rpc_client_new(base, &cc, &c) != 0) {
        die("client to %s:%u", host, port);
    }
    return c;
}

static void run_for_ms(int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    struct timeval tv = {0, 10000};
    while (now_ms() < end) {
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

/* ---- synchronous calls ---- */

struct wait {
    bool done;
    int status;
    int32_t error;
    char msg[512];
    struct st_buf body, payload;
};

static void wait_cb(void *arg, int status, const struct st_rpc_response *r)
{
    struct wait *w = arg;
    w->done = true;
    w->status = status;
    if (r != NULL) {
        w->error = r->error;
        snprintf(w->msg, sizeof w->msg, "%s", r->error_message);
        st_buf_append(&w->body, r->body.base, r->body.len);
        st_buf_append(&w->payload, r->payload.base, r->payload.len);
    }
}

static int call(struct st_rpc_client *c, uint32_t api,
                const ProtobufCMessage *m, struct st_bytes payload,
                uint32_t timeout_ms, struct wait *w)
{
    memset(w, 0, sizeof *w);
    st_buf_init(&w->body);
    st_buf_init(&w->payload);
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    protobuf_c_message_pack(m, buf);
    struct st_rpc_call rc = {0};
    rc.api = api;
    rc.body = (struct st_bytes){buf, n};
    rc.payload = payload;
    rc.timeout_ms = timeout_ms;
    int rv = st_rpc_client_send(c, &rc, wait_cb, w, NULL);
    free(buf);
    if (rv != 0) {
        return rv;
    }
    while (!w->done) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    return w->status;
}

static void wait_close(struct wait *w)
{
    st_buf_close(&w->body);
    st_buf_close(&w->payload);
}

/* A call to any bootstrap broker that answers (round robin). */
static int boot_call(uint32_t api, const ProtobufCMessage *m,
                     uint32_t timeout_ms, struct wait *w)
{
    static int next;
    int rv = ST_ECLOSED;
    /* First pass: brokers whose connection is up (a dead one would hold
     * the request until its timeout); second pass: all. */
    for (int i = 0; i < 2 * n_boot; i++) {
        struct conn *b = &boot[(next + i) % n_boot];
        if (b->c == NULL) {
            b->c = client_to(b->host, b->port);
            run_for_ms(30);
        }
        if (i < n_boot && !st_rpc_client_connected(b->c)) {
            continue;
        }
        rv = call(b->c, api, m, (struct st_bytes){NULL, 0}, timeout_ms, w);
        if (rv == 0) {
            next = (next + i) % n_boot;
            return 0;
        }
        wait_close(w);
    }
    next++;
    return rv;
}

/* ---- metadata ---- */

static void add_broker(int32_t id, const char *host, uint16_t port)
{
    for (int k = 0; k < n_brokers; k++) {
        if (brokers[k].id == id) {
            return;
        }
    }
    if (n_brokers < MAX_BROKERS) {
        brokers[n_brokers].id = id;
        snprintf(brokers[n_brokers].host, sizeof brokers[0].host, "%s", host);
        brokers[n_brokers].port = port;
        n_brokers++;
    }
}

/* Load @name; returns 0 when every partition has a leader, -1 otherwise
 * (t->n_parts 0 when unknown). */
static int load_topic(const char *name, struct topic *t)
{
    memset(t, 0, sizeof *t);
    Strata__Client__MetadataRequest m = STRATA__CLIENT__METADATA_REQUEST__INIT;
    struct wait w;
    if (boot_call(STRATA__CLIENT__API__METADATA, &m.base, 2000, &w) != 0 ||
        w.error != 0) {
        wait_close(&w);
        return -1;
    }
    Strata__Client__MetadataResponse *r =
        strata__client__metadata_response__unpack(NULL, w.body.len,
                                                  w.body.base);
    wait_close(&w);
    if (r == NULL) {
        return -1;
    }
    for (size_t i = 0; i < r->n_brokers; i++) {
        const Strata__Client__BrokerInfo *b = r->brokers[i];
        if (b->n_listeners > 0) {
            add_broker(b->id, b->listeners[0]->host,
                       (uint16_t)b->listeners[0]->port);
        }
    }
    int rv = -1;
    for (size_t i = 0; i < r->n_topics; i++) {
        const Strata__Client__TopicMetadata *tm = r->topics[i];
        if (strcmp(tm->name, name) != 0 || tm->n_partitions > MAX_PARTS) {
            continue;
        }
        t->n_parts = (int)tm->n_partitions;
        rv = 0;
        for (size_t p = 0; p < tm->n_partitions; p++) {
            t->leader[p] = tm->partitions[p]->leader;
            t->epoch[p] = tm->partitions[p]->leader_epoch;
            t->n_isr[p] = (int)tm->partitions[p]->n_isr;
            if (t->leader[p] < 0) {
                rv = -1;
            }
        }
    }
    strata__client__metadata_response__free_unpacked(r, NULL);
    return rv;
}

static struct st_rpc_client *broker_client(int32_t id)
{
    for (int k = 0; k < n_brokers; k++) {
        if (brokers[k].id == id) {
            if (brokers[k].c == NULL) {
                brokers[k].c = client_to(brokers[k].host, brokers[k].port);
            }
            return brokers[k].c;
        }
    }
    return NULL;
}

static void wait_leaders(const char *name, struct topic *t, int seconds)
{
    uint64_t end = now_ms() + (uint64_t)seconds * 1000u;
    while (load_topic(name, t) != 0) {
        if (now_ms() > end) {
            die("topic %s: no leader for every partition in %d s", name,
                seconds);
        }
        run_for_ms(100);
    }
}

static int create_topic(const char *name, int parts, int rf, char **kv,
                        int n_kv)
{
    Strata__Ctl__CreatableTopic ct = STRATA__CTL__CREATABLE_TOPIC__INIT;
    Strata__Ctl__CreatableTopic *cts[1] = {&ct};
    Strata__Ctl__ConfigEntry ce[16];
    Strata__Ctl__ConfigEntry *cep[16];
    char keys[16][128];
    for (int i = 0; i < n_kv && i < 16; i++) {
        Strata__Ctl__ConfigEntry init = STRATA__CTL__CONFIG_ENTRY__INIT;
        ce[i] = init;
        snprintf(keys[i], sizeof keys[i], "%s", kv[i]);
        char *eq = strchr(keys[i], '=');
        if (eq == NULL) {
            die("config %s: KEY=VALUE expected", kv[i]);
        }
        *eq = '\0';
        ce[i].key = keys[i];
        ce[i].value = eq + 1;
        cep[i] = &ce[i];
    }
    ct.name = (char *)name;
    ct.partitions = parts;
    ct.replication_factor = rf;
    ct.configs = cep;
    ct.n_configs = (size_t)(n_kv < 16 ? n_kv : 16);
    Strata__Ctl__CreateTopicsRequest m =
        STRATA__CTL__CREATE_TOPICS_REQUEST__INIT;
    m.topics = cts;
    m.n_topics = 1;
    struct wait w;
    int rv = boot_call(STRATA__CLIENT__API__CREATE_TOPICS, &m.base, 20000, &w);
    if (rv != 0 || w.error != 0) {
        die("create-topic %s: status %d error %d %s", name, rv, w.error,
            w.msg);
    }
    Strata__Ctl__CreateTopicsResponse *r =
        strata__ctl__create_topics_response__unpack(NULL, w.body.len,
                                                    w.body.base);
    if (r == NULL || r->n_topics != 1) {
        die("create-topic %s: bad answer", name);
    }
    if (r->topics[0]->error != NULL && r->topics[0]->error->error != 0) {
        die("create-topic %s: error %d %s", name, r->topics[0]->error->error,
            r->topics[0]->error->message);
    }
    strata__ctl__create_topics_response__free_unpacked(r, NULL);
    wait_close(&w);
    struct topic t;
    wait_leaders(name, &t, 30);
    printf("created %s partitions=%d rf=%d\n", name, t.n_parts, rf);
    return 0;
}

/* ---- values ---- */

static size_t make_value(int p, int64_t s, size_t size, uint8_t *out)
{
    char head[48];
    int n = snprintf(head, sizeof head, "p=%d seq=%" PRId64 ";", p, s);
    size_t len = size > (size_t)n ? size : (size_t)n;
    memcpy(out, head, (size_t)n);
    for (size_t i = (size_t)n; i < len; i++) {
        out[i] = (uint8_t)('a' + (size_t)(s + (int64_t)i) % 26);
    }
    return len;
}

static int parse_value(const uint8_t *v, size_t len, int *p, int64_t *s)
{
    char head[48];
    size_t n = len < sizeof head - 1 ? len : sizeof head - 1;
    memcpy(head, v, n);
    head[n] = '\0';
    long long sl;
    if (sscanf(head, "p=%d seq=%lld;", p, &sl) != 2) {
        return -1;
    }
    *s = sl;
    return 0;
}

/* ---- producer ---- */

struct prod_opts {
    const char *topic;
    int64_t count;
    size_t size;
    int acks;
    int batch;
    int inflight;
    bool idempotent;
    int seconds;
    const char *history;
};

struct pbatch {
    int part;
    int64_t first_seq;
    int n;
    struct st_buf bytes;
    int attempts;
    uint64_t sent_us;
    uint64_t retry_at_ms;
    bool inflight;
    bool used;
    int last_error;      /* 0, or the last ErrorCode */
    bool maybe_written;  /* an attempt may have appended */
};

static struct {
    struct prod_opts o;
    struct topic t;
    int64_t pid;
    int16_t pepoch;
    int64_t next_seq[MAX_PARTS];     /* next record seq to batch */
    int64_t quota[MAX_PARTS];        /* records this partition gets */
    struct pbatch b[MAX_PARTS][MAX_INFLIGHT];
    int64_t acked, failed, bytes;
    FILE *hist;
    uint64_t meta_at_ms;
    uint64_t *lat;
    size_t n_lat, cap_lat;
    bool done;
    bool need_meta;
} P;

static void hist(const char *type, int part, int64_t seq, int64_t offset,
                 const char *err)
{
    if (P.hist == NULL) {
        return;
    }
    fprintf(P.hist, "{\"type\":\"%s\",\"partition\":%d,\"value\":%" PRId64
            ",\"offset\":%" PRId64 ",\"ms\":%" PRIu64 "%s%s%s}\n",
            type, part, seq, offset, now_ms(), err ? ",\"error\":\"" : "",
            err ? err : "", err ? "\"" : "");
}

static int64_t init_pid(void)
{
    Strata__Client__InitProducerIdRequest m =
        STRATA__CLIENT__INIT_PRODUCER_ID_REQUEST__INIT;
    m.producer_id = -1;
    m.producer_epoch = -1;
    uint64_t end = now_ms() + 30000;
    for (;;) {
        struct wait w;
        int rv = boot_call(STRATA__CLIENT__API__INIT_PRODUCER_ID, &m.base,
                           5000, &w);
        Strata__Client__InitProducerIdResponse *r = NULL;
        if (rv == 0 && w.error == 0) {
            r = strata__client__init_producer_id_response__unpack(
                NULL, w.body.len, w.body.base);
        }
        wait_close(&w);
        if (r != NULL && r->error == 0) {
            int64_t pid = r->producer_id;
            P.pepoch = (int16_t)r->producer_epoch;
            strata__client__init_producer_id_response__free_unpacked(r, NULL);
            return pid;
        }
        if (r != NULL) {
            strata__client__init_producer_id_response__free_unpacked(r, NULL);
        }
        if (now_ms() > end) {
            die("InitProducerId: no answer in 30 s");
        }
        run_for_ms(200);
    }
}

static bool retriable(int32_t code)
{
    switch (code) {
    case STRATA__ERROR_CODE__NOT_LEADER:
    case STRATA__ERROR_CODE__REQUEST_TIMED_OUT:
    case STRATA__ERROR_CODE__NOT_ENOUGH_REPLICAS:
    case STRATA__ERROR_CODE__NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case STRATA__ERROR_CODE__BROKER_FENCED:
    case STRATA__ERROR_CODE__FENCED_LEADER_EPOCH:
    case STRATA__ERROR_CODE__UNKNOWN_LEADER_EPOCH:
    case STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION:
        return true;
    default:
        return false;
    }
}

/* Whether an attempt failing with @code (or a transport failure, -1) may
 * have appended the batch. */
static bool maybe_appended(int32_t code)
{
    return code == -1 || code == STRATA__ERROR_CODE__REQUEST_TIMED_OUT ||
           code == STRATA__ERROR_CODE__NOT_ENOUGH_REPLICAS_AFTER_APPEND ||
           code == STRATA__ERROR_CODE__UNKNOWN ||
           (code == STRATA__ERROR_CODE__NOT_LEADER);
}

static void build(struct pbatch *b, struct st_batch_builder *bb, int part,
                  int64_t first, int n)
{
    uint8_t *val = malloc(P.o.size + 64);
    struct st_batch_builder_opts bo = {0};
    bo.codec = ST_CODEC_NONE;
    bo.producer_id = P.o.idempotent ? P.pid : -1;
    bo.producer_epoch = P.o.idempotent ? P.pepoch : -1;
    bo.base_sequence = P.o.idempotent ? (int32_t)first : -1;
    bo.leader_epoch = -1;
    st_batch_builder_reset(bb, &bo);
    for (int i = 0; i < n; i++) {
        size_t len = make_value(part, first + i, P.o.size, val);
        st_batch_builder_add(bb, (int64_t)time(NULL) * 1000, NULL, 0, val,
                             len, NULL, 0);
    }
    struct st_bytes out;
    if (st_batch_builder_finish(bb, &out) != 0) {
        die("batch build");
    }
    st_buf_reset(&b->bytes);
    st_buf_append(&b->bytes, out.base, out.len);
    free(val);
    b->part = part;
    b->first_seq = first;
    b->n = n;
    b->attempts = 0;
    b->used = true;
    b->inflight = false;
    b->retry_at_ms = 0;
    b->last_error = 0;
    b->maybe_written = false;
    for (int i = 0; i < n; i++) {
        hist("invoke", part, first + i, -1, NULL);
    }
}

static void send_batch(struct pbatch *b);

static void refresh_meta(void)
{
    if (now_ms() < P.meta_at_ms + 100) {
        return;
    }
    P.meta_at_ms = now_ms();
    struct topic t;
    if (load_topic(P.o.topic, &t) == 0 || t.n_parts == P.t.n_parts) {
        for (int p = 0; p < t.n_parts; p++) {
            if (t.leader[p] >= 0) {
                P.t.leader[p] = t.leader[p];
                P.t.epoch[p] = t.epoch[p];
            }
        }
    }
}

static void lat_add(uint64_t us)
{
    if (P.n_lat == P.cap_lat) {
        P.cap_lat = P.cap_lat ? 2 * P.cap_lat : 4096;
        P.lat = realloc(P.lat, P.cap_lat * sizeof *P.lat);
    }
    P.lat[P.n_lat++] = us;
}

static void produce_cb(void *arg, int status, const struct st_rpc_response *r)
{
    struct pbatch *b = arg;
    b->inflight = false;
    int32_t code = -1;
    int64_t base_offset = -1;
    char msg[256] = "transport";
    if (status == 0 && r->error != 0) {
        code = r->error;
        snprintf(msg, sizeof msg, "%s", r->error_message);
    } else if (status == 0) {
        Strata__Client__ProduceResponse *m =
            strata__client__produce_response__unpack(NULL, r->body.len,
                                                     r->body.base);
        if (m != NULL && m->n_partitions == 1) {
            code = m->partitions[0]->error;
            base_offset = m->partitions[0]->base_offset;
            snprintf(msg, sizeof msg, "%s", m->partitions[0]->error_message);
        }
        if (m != NULL) {
            strata__client__produce_response__free_unpacked(m, NULL);
        }
    }
    if (code == 0) {
        lat_add(now_us() - b->sent_us);
        for (int i = 0; i < b->n; i++) {
            hist("ok", b->part, b->first_seq + i, base_offset + i, NULL);
        }
        P.acked += b->n;
        P.bytes += (int64_t)b->bytes.len;
        b->used = false;
        return;
    }
    b->last_error = code;
    b->maybe_written |= maybe_appended(code);
    if (P.o.inflight > 1 || (code != -1 && !retriable(code))) {
        /* Figures mode, or a definite refusal: give up on the batch. */
        for (int i = 0; i < b->n; i++) {
            hist(b->maybe_written ? "unknown" : "fail", b->part,
                 b->first_seq + i, -1, msg);
        }
        P.failed += b->n;
        b->used = false;
        if (P.o.inflight == 1) {
            fprintf(stderr, "p%d seq %" PRId64 ": error %d %s\n", b->part,
                    b->first_seq, code, msg);
        }
        return;
    }
    P.need_meta = true; /* refreshed from the main loop, not here */
    b->retry_at_ms = now_ms() + 50;
}

static void send_batch(struct pbatch *b)
{
    struct st_rpc_client *c = broker_client(P.t.leader[b->part]);
    if (c == NULL) {
        b->retry_at_ms = now_ms() + 100;
        return;
    }
    Strata__Client__ProducePartition pp =
        STRATA__CLIENT__PRODUCE_PARTITION__INIT;
    Strata__Client__ProducePartition *ppv[1] = {&pp};
    pp.topic = (char *)P.o.topic;
    pp.partition = b->part;
    pp.payload_offset = 0;
    pp.payload_length = b->bytes.len;
    Strata__Client__ProduceRequest m = STRATA__CLIENT__PRODUCE_REQUEST__INIT;
    m.acks = P.o.acks;
    m.timeout_ms = 5000;
    m.partitions = ppv;
    m.n_partitions = 1;
    size_t n = protobuf_c_message_get_packed_size(&m.base);
    uint8_t *buf = malloc(n + 1);
    protobuf_c_message_pack(&m.base, buf);
    struct st_rpc_call rc = {0};
    rc.api = STRATA__CLIENT__API__PRODUCE;
    rc.body = (struct st_bytes){buf, n};
    rc.payload = (struct st_bytes){b->bytes.base, b->bytes.len};
    rc.timeout_ms = 8000;
    b->attempts++;
    b->sent_us = now_us();
    b->inflight = true;
    if (st_rpc_client_send(c, &rc, produce_cb, b, NULL) != 0) {
        b->inflight = false;
        b->retry_at_ms = now_ms() + 100;
    }
    free(buf);
}

static void pump(struct st_batch_builder *bb)
{
    bool busy = false;
    if (P.need_meta) {
        P.need_meta = false;
        refresh_meta();
    }
    uint64_t now = now_ms();
    for (int p = 0; p < P.t.n_parts; p++) {
        for (int k = 0; k < P.o.inflight; k++) {
            struct pbatch *b = &P.b[p][k];
            if (!b->used && !P.done && P.next_seq[p] < P.quota[p]) {
                int n = P.o.batch;
                if (P.quota[p] - P.next_seq[p] < n) {
                    n = (int)(P.quota[p] - P.next_seq[p]);
                }
                build(b, bb, p, P.next_seq[p], n);
                P.next_seq[p] += n;
                if (P.o.idempotent && P.next_seq[p] > INT32_MAX) {
                    die("sequence overflow");
                }
            }
            if (b->used && !b->inflight && now >= b->retry_at_ms) {
                if (P.done) {
                    for (int i = 0; i < b->n; i++) {
                        hist(b->maybe_written ? "unknown" : "fail", p,
                             b->first_seq + i, -1, "deadline");
                    }
                    b->used = false;
                    continue;
                }
                send_batch(b);
            }
            busy |= b->used;
        }
    }
    if (!busy && !P.done) {
        bool more = false;
        for (int p = 0; p < P.t.n_parts; p++) {
            more |= P.next_seq[p] < P.quota[p];
        }
        P.done = !more;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_latency(void)
{
    if (P.n_lat == 0) {
        return;
    }
    qsort(P.lat, P.n_lat, sizeof *P.lat, cmp_u64);
    printf("latency_ms p50=%.2f p99=%.2f max=%.2f n=%zu\n",
           (double)P.lat[P.n_lat / 2] / 1000.0,
           (double)P.lat[P.n_lat * 99 / 100] / 1000.0,
           (double)P.lat[P.n_lat - 1] / 1000.0, P.n_lat);
}

static int produce(const struct prod_opts *o)
{
    P.o = *o;
    wait_leaders(o->topic, &P.t, 30);
    if (o->history != NULL) {
        P.hist = fopen(o->history, "w");
        if (P.hist == NULL) {
            die("cannot write %s", o->history);
        }
        setvbuf(P.hist, NULL, _IOLBF, 0);
    }
    if (o->idempotent) {
        P.pid = init_pid();
    }
    for (int p = 0; p < P.t.n_parts; p++) {
        P.quota[p] = o->count / P.t.n_parts +
                     (p < o->count % P.t.n_parts ? 1 : 0);
        for (int k = 0; k < MAX_INFLIGHT; k++) {
            st_buf_init(&P.b[p][k].bytes);
        }
    }
    struct st_batch_builder *bb;
    st_batch_builder_new(&bb);
    uint64_t t0 = now_us();
    uint64_t deadline = o->seconds > 0 ? now_ms() + (uint64_t)o->seconds * 1000
                                       : UINT64_MAX;
    for (;;) {
        if (now_ms() > deadline) {
            P.done = true;
        }
        pump(bb);
        bool any = false;
        for (int p = 0; p < P.t.n_parts; p++) {
            for (int k = 0; k < P.o.inflight; k++) {
                any |= P.b[p][k].used;
            }
        }
        if (P.done && !any) {
            break;
        }
        struct timeval tv = {0, 5000};
        event_base_loopexit(base, &tv);
        event_base_loop(base, EVLOOP_ONCE);
    }
    double secs = (double)(now_us() - t0) / 1e6;
    printf("produced acked=%" PRId64 " failed=%" PRId64 " in %.2f s: "
           "%.0f records/s %.2f MB/s\n",
           P.acked, P.failed, secs, (double)P.acked / secs,
           (double)P.bytes / secs / 1e6);
    print_latency();
    if (P.hist) {
        fclose(P.hist);
    }
    st_batch_builder_free(bb);
    return P.acked == o->count ? 0 : (o->seconds > 0 ? 0 : 1);
}

/* ---- read ---- */

static int read_topic(const char *topic, const char *out_path, int timeout_ms)
{
    struct topic t;
    wait_leaders(topic, &t, 30);
    FILE *out = fopen(out_path, "w");
    if (out == NULL) {
        die("cannot write %s", out_path);
    }
    struct st_record_iter *it;
    st_record_iter_new(&it);
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    int64_t total = 0;
    for (int p = 0; p < t.n_parts; p++) {
        int64_t next = 0;
        for (;;) {
            if (now_ms() > end) {
                die("read: timed out at p%d offset %" PRId64, p, next);
            }
            Strata__Client__FetchPartition fp =
                STRATA__CLIENT__FETCH_PARTITION__INIT;
            Strata__Client__FetchPartition *fpv[1] = {&fp};
            fp.topic = (char *)topic;
            fp.partition = p;
            fp.fetch_offset = next;
            fp.current_leader_epoch = -1;
            fp.partition_max_bytes = 4u << 20;
            Strata__Client__FetchRequest m =
                STRATA__CLIENT__FETCH_REQUEST__INIT;
            m.max_wait_ms = 0;
            m.partitions = fpv;
            m.n_partitions = 1;
            m.replica_id = -1;
            struct st_rpc_client *c = broker_client(t.leader[p]);
            struct wait w;
            int rv = c ? call(c, STRATA__CLIENT__API__FETCH, &m.base,
                              (struct st_bytes){NULL, 0}, 5000, &w)
                       : ST_ECLOSED;
            Strata__Client__FetchResponse *r = NULL;
            if (rv == 0 && w.error == 0) {
                r = strata__client__fetch_response__unpack(NULL, w.body.len,
                                                           w.body.base);
            }
            if (r == NULL || r->n_partitions != 1 ||
                r->partitions[0]->error != 0) {
                if (r) {
                    strata__client__fetch_response__free_unpacked(r, NULL);
                }
                if (c) {
                    wait_close(&w);
                }
                run_for_ms(200);
                load_topic(topic, &t);
                continue;
            }
            const Strata__Client__FetchPartitionResponse *pr = r->partitions[0];
            int64_t hw = pr->high_watermark;
            const uint8_t *buf = w.payload.base + pr->payload_offset;
            size_t len = (size_t)pr->payload_length;
            size_t pos = 0;
            while (pos < len) {
                struct st_batch_header h;
                if (st_batch_validate(buf + pos, len - pos, len, &h) != 0) {
                    die("p%d: bad batch in fetch at %" PRId64, p, next);
                }
                size_t tb = st_batch_total_bytes(&h);
                st_record_iter_init(it, buf + pos, tb, 64u << 20);
                struct st_record rec;
                while (st_record_iter_next(it, &rec) == 0) {
                    if (rec.offset < next) {
                        continue;
                    }
                    int vp;
                    int64_t seq;
                    if (parse_value(rec.value, (size_t)rec.value_len, &vp,
                                    &seq) != 0 || vp != p) {
                        die("p%d offset %" PRId64 ": foreign value", p,
                            rec.offset);
                    }
                    fprintf(out, "%d %" PRId64 " %" PRId64 "\n", p,
                            rec.offset, seq);
                    next = rec.offset + 1;
                    total++;
                }
                next = st_batch_last_offset(&h) + 1 > next
                           ? st_batch_last_offset(&h) + 1
                           : next;
                pos += tb;
            }
            strata__client__fetch_response__free_unpacked(r, NULL);
            wait_close(&w);
            if (next >= hw) {
                break;
            }
        }
    }
    fclose(out);
    st_record_iter_free(it);
    printf("read %" PRId64 " records\n", total);
    return 0;
}

/* ---- replica digest ---- */

static int replica_digest(const char *topic, int part, int32_t id)
{
    struct topic t;
    load_topic(topic, &t);
    struct st_rpc_client *c = broker_client(id);
    if (c == NULL) {
        die("no address for broker %d", id);
    }
    uint64_t h = 1469598103934665603ull;
    int64_t off = -1, start = -1, end = -1, hw = -1;
    for (;;) {
        Strata__Repl__ReplicaReadRequest m =
            STRATA__REPL__REPLICA_READ_REQUEST__INIT;
        m.topic = (char *)topic;
        m.partition = part;
        m.offset = off < 0 ? 0 : off;
        m.max_bytes = 4u << 20;
        struct wait w;
        int rv = call(c, STRATA__REPL__API__REPLICA_READ, &m.base,
                      (struct st_bytes){NULL, 0}, 5000, &w);
        Strata__Repl__ReplicaReadResponse *r = NULL;
        if (rv == 0 && w.error == 0) {
            r = strata__repl__replica_read_response__unpack(NULL, w.body.len,
                                                            w.body.base);
        }
        if (r == NULL || r->error != 0) {
            die("replica-read %s-%d on %d: %d %s", topic, part, id,
                r ? r->error : rv, r ? r->error_message : w.msg);
        }
        if (off < 0) {
            start = r->log_start_offset;
            end = r->log_end_offset;
            hw = r->high_watermark;
            if (start != 0) {
                off = start;
                strata__repl__replica_read_response__free_unpacked(r, NULL);
                wait_close(&w);
                continue;
            }
        }
        for (size_t i = 0; i < w.payload.len; i++) {
            h = (h ^ w.payload.base[i]) * 1099511628211ull;
        }
        off = r->next_offset;
        strata__repl__replica_read_response__free_unpacked(r, NULL);
        wait_close(&w);
        if (off >= end) {
            break;
        }
    }
    printf("%" PRId64 " %" PRId64 " %" PRId64 " %016" PRIx64 "\n", start, end,
           hw, h);
    return 0;
}

/* ---- single batches ---- */

struct one {
    int32_t error;
    int64_t base_offset;
    int durability;
    char msg[600];
};

static int produce_one(const char *topic, int part, int acks, int64_t pid,
                       int16_t epoch, int32_t seq, uint32_t timeout_ms,
                       struct one *res)
{
    struct topic t;
    if (load_topic(topic, &t) != 0 && (t.n_parts <= part ||
                                        t.leader[part] < 0)) {
        return -1;
    }
    struct st_batch_builder *bb;
    st_batch_builder_new(&bb);
    struct st_batch_builder_opts bo = {0};
    bo.producer_id = pid;
    bo.producer_epoch = epoch;
    bo.base_sequence = seq;
    bo.leader_epoch = -1;
    st_batch_builder_reset(bb, &bo);
    uint8_t val[64];
    for (int i = 0; i < 10; i++) {
        size_t len = make_value(part, (seq < 0 ? 0 : seq) + i, 32, val);
        st_batch_builder_add(bb, 0, NULL, 0, val, len, NULL, 0);
    }
    struct st_bytes bytes;
    st_batch_builder_finish(bb, &bytes);
    Strata__Client__ProducePartition pp =
        STRATA__CLIENT__PRODUCE_PARTITION__INIT;
    Strata__Client__ProducePartition *ppv[1] = {&pp};
    pp.topic = (char *)topic;
    pp.partition = part;
    pp.payload_length = bytes.len;
    Strata__Client__ProduceRequest m = STRATA__CLIENT__PRODUCE_REQUEST__INIT;
    m.acks = acks;
    m.timeout_ms = timeout_ms;
    m.partitions = ppv;
    m.n_partitions = 1;
    struct wait w;
    struct st_rpc_client *c = broker_client(t.leader[part]);
    if (c != NULL && !st_rpc_client_connected(c)) {
        run_for_ms(30); /* a new client, or a dead leader: fail fast */
        if (!st_rpc_client_connected(c)) {
            c = NULL;
        }
    }
    int rv = c ? call(c, STRATA__CLIENT__API__PRODUCE, &m.base, bytes,
                      timeout_ms + 500, &w)
               : -1;
    st_batch_builder_free(bb);
    if (rv != 0) {
        if (c) {
            wait_close(&w);
        }
        return -1;
    }
    Strata__Client__ProduceResponse *r =
        w.error == 0 ? strata__client__produce_response__unpack(
                           NULL, w.body.len, w.body.base)
                     : NULL;
    memset(res, 0, sizeof *res);
    if (r == NULL || r->n_partitions != 1) {
        res->error = w.error ? w.error : STRATA__ERROR_CODE__UNKNOWN;
        snprintf(res->msg, sizeof res->msg, "%s", w.msg);
    } else {
        res->error = r->partitions[0]->error;
        res->base_offset = r->partitions[0]->base_offset;
        res->durability = r->partitions[0]->durability;
        snprintf(res->msg, sizeof res->msg, "%s",
                 r->partitions[0]->error_message);
    }
    if (r) {
        strata__client__produce_response__free_unpacked(r, NULL);
    }
    wait_close(&w);
    return 0;
}

static int produce_until_ok(const char *topic, int part, int seconds)
{
    uint64_t t0 = now_ms();
    uint64_t end = t0 + (uint64_t)seconds * 1000u;
    while (now_ms() < end) {
        struct one res;
        if (produce_one(topic, part, -1, -1, -1, -1, 1000, &res) == 0 &&
            res.error == 0) {
            printf("ok_after_ms=%" PRIu64 " offset=%" PRId64 "\n",
                   now_ms() - t0, res.base_offset);
            return 0;
        }
        run_for_ms(20);
    }
    die("no acks=all produce succeeded on %s-%d in %d s", topic, part,
        seconds);
}

/* ---- latency at a rate ---- */

static int latency(struct prod_opts *o, int rate, int seconds)
{
    P.o = *o;
    P.o.inflight = MAX_INFLIGHT;
    wait_leaders(o->topic, &P.t, 30);
    for (int p = 0; p < P.t.n_parts; p++) {
        for (int k = 0; k < MAX_INFLIGHT; k++) {
            st_buf_init(&P.b[p][k].bytes);
        }
    }
    struct st_batch_builder *bb;
    st_batch_builder_new(&bb);
    uint64_t t0 = now_us();
    uint64_t end = t0 + (uint64_t)seconds * 1000000u;
    uint64_t period = 1000000u / (uint64_t)rate;
    uint64_t next = t0;
    int64_t seq = 0;
    int part = 0;
    while (now_us() < end) {
        if (now_us() >= next) {
            next += period;
            for (int k = 0; k < MAX_INFLIGHT; k++) {
                struct pbatch *b = &P.b[part][k];
                if (!b->used) {
                    build(b, bb, part, seq, o->batch);
                    send_batch(b);
                    break;
                }
            }
            seq += o->batch;
            part = (part + 1) % P.t.n_parts;
        }
        struct timeval tv = {0, 500};
        event_base_loopexit(base, &tv);
        event_base_loop(base, EVLOOP_ONCE);
    }
    run_for_ms(2000);
    printf("rate=%d batches/s batch=%d size=%zu acked=%" PRId64
           " failed=%" PRId64 "\n", rate, o->batch, o->size, P.acked,
           P.failed);
    print_latency();
    st_batch_builder_free(bb);
    return 0;
}

/* ---- main ---- */

static void parse_boot(const char *list)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok && n_boot < MAX_BROKERS;
         tok = strtok(NULL, ",")) {
        char *colon = strrchr(tok, ':');
        if (colon == NULL) {
            die("bootstrap %s: HOST:PORT expected", tok);
        }
        *colon = '\0';
        snprintf(boot[n_boot].host, sizeof boot[0].host, "%s", tok);
        boot[n_boot].port = (uint16_t)atoi(colon + 1);
        n_boot++;
    }
}

int main(int argc, char **argv)
{
    const char *bootstrap = NULL, *certs = NULL, *cmd = NULL, *out = NULL;
    const char *pos[16];
    int n_pos = 0, rate = 100, timeout_ms = 60000;
    int64_t pid = -1;
    int epoch = -1;
    uint32_t produce_timeout_ms = 3000;
    struct prod_opts o = {0};
    o.size = 100;
    o.acks = -1;
    o.batch = 100;
    o.inflight = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--bootstrap") == 0 && v) {
            bootstrap = v, i++;
        } else if (strcmp(a, "--certs") == 0 && v) {
            certs = v, i++;
        } else if (strcmp(a, "--count") == 0 && v) {
            o.count = atoll(v), i++;
        } else if (strcmp(a, "--size") == 0 && v) {
            o.size = (size_t)atoll(v), i++;
        } else if (strcmp(a, "--acks") == 0 && v) {
            o.acks = atoi(v), i++;
        } else if (strcmp(a, "--batch") == 0 && v) {
            o.batch = atoi(v), i++;
        } else if (strcmp(a, "--inflight") == 0 && v) {
            o.inflight = atoi(v), i++;
        } else if (strcmp(a, "--seconds") == 0 && v) {
            o.seconds = atoi(v), i++;
        } else if (strcmp(a, "--history") == 0 && v) {
            o.history = v, i++;
        } else if (strcmp(a, "--out") == 0 && v) {
            out = v, i++;
        } else if (strcmp(a, "--rate") == 0 && v) {
            rate = atoi(v), i++;
        } else if (strcmp(a, "--timeout-ms") == 0 && v) {
            timeout_ms = atoi(v), i++;
        } else if (strcmp(a, "--produce-timeout-ms") == 0 && v) {
            produce_timeout_ms = (uint32_t)atoi(v), i++;
        } else if (strcmp(a, "--pid") == 0 && v) {
            pid = atoll(v), i++;
        } else if (strcmp(a, "--epoch") == 0 && v) {
            epoch = atoi(v), i++;
        } else if (strcmp(a, "--idempotent") == 0) {
            o.idempotent = true;
        } else if (cmd == NULL) {
            cmd = a;
        } else if (n_pos < 16) {
            pos[n_pos++] = a;
        }
    }
    if (bootstrap == NULL || certs == NULL || cmd == NULL || o.batch < 1 ||
        o.inflight < 1 || o.inflight > MAX_INFLIGHT || rate < 1) {
        fprintf(stderr, "usage: repl_testcli --bootstrap H:P[,H:P] --certs "
                "DIR CMD ... (see the top of repl_testcli.c)\n");
        return 2;
    }
    char ca[4096], cert[4096], key[4096], err[ST_TLS_ERR_BYTES];
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    snprintf(cert, sizeof cert, "%s/client.pem", certs);
    snprintf(key, sizeof key, "%s/client.key", certs);
    struct st_tls_files files = {ca, cert, key};
    st_diag_set_level(ST_LEVEL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    st_jobq_threads_init();
    base = event_base_new();
    if (st_tls_ctx_new(ST_TLS_CLIENT, &files, false, &tls, err,
                       sizeof err) != 0) {
        die("tls: %s", err);
    }
    parse_boot(bootstrap);
    if (strcmp(cmd, "create-topic") == 0 && n_pos >= 3) {
        return create_topic(pos[0], atoi(pos[1]), atoi(pos[2]),
                            (char **)pos + 3, n_pos - 3);
    }
    if (strcmp(cmd, "produce") == 0 && n_pos == 1) {
        o.topic = pos[0];
        return produce(&o);
    }
    if (strcmp(cmd, "read") == 0 && n_pos == 1 && out != NULL) {
        return read_topic(pos[0], out, timeout_ms);
    }
    if (strcmp(cmd, "replica-digest") == 0 && n_pos == 3) {
        return replica_digest(pos[0], atoi(pos[1]), atoi(pos[2]));
    }
    if (strcmp(cmd, "expect-produce") == 0 && n_pos == 4) {
        struct one res;
        uint64_t end = now_ms() + 20000 + produce_timeout_ms;
        for (;;) {
            int rv = produce_one(pos[0], atoi(pos[1]), atoi(pos[2]), -1, -1,
                                 -1, produce_timeout_ms, &res);
            if (rv == 0 && res.error == atoi(pos[3])) {
                printf("got error %d as expected (%s) durability=%d\n",
                       res.error, res.msg, res.durability);
                return 0;
            }
            if (now_ms() > end) {
                die("expect-produce: wanted %s, got %d %s", pos[3],
                    rv ? -1 : res.error, rv ? "transport" : res.msg);
            }
            run_for_ms(200);
        }
    }
    if (strcmp(cmd, "produce-until-ok") == 0 && n_pos == 2) {
        return produce_until_ok(pos[0], atoi(pos[1]),
                                o.seconds > 0 ? o.seconds : 60);
    }
    if (strcmp(cmd, "idem-batch") == 0 && n_pos == 3) {
        if (pid < 0) {
            pid = init_pid();
            epoch = P.pepoch;
        }
        struct one res;
        uint64_t end = now_ms() + 30000;
        while (produce_one(pos[0], atoi(pos[1]), -1, pid, (int16_t)epoch,
                           atoi(pos[2]), 3000, &res) != 0 ||
               retriable(res.error)) {
            if (now_ms() > end) {
                die("idem-batch: no answer");
            }
            run_for_ms(200);
        }
        if (res.error != 0) {
            printf("error %d\n", res.error);
            fprintf(stderr, "idem-batch: error %d %s\n", res.error, res.msg);
            return 3;
        }
        printf("%" PRId64 " %" PRId64 " %d\n", res.base_offset, pid, epoch);
        return 0;
    }
    if (strcmp(cmd, "isr") == 0 && n_pos == 2) {
        struct topic t;
        load_topic(pos[0], &t);
        int p = atoi(pos[1]);
        if (p >= t.n_parts) {
            die("no partition %d", p);
        }
        printf("isr=%d leader=%d epoch=%d\n", t.n_isr[p], t.leader[p],
               t.epoch[p]);
        return 0;
    }
    if (strcmp(cmd, "latency") == 0 && n_pos == 1) {
        o.topic = pos[0];
        return latency(&o, rate, o.seconds > 0 ? o.seconds : 10);
    }
    fprintf(stderr, "repl_testcli: unknown command or arguments\n");
    return 2;
}
