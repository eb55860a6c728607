/* broker_testcli: a small client for the broker cluster tests and figures
 * (the real client library comes later). Synchronous where a test wants
 * a yes/no, pipelined where it measures.
 *
 *   broker_testcli --bootstrap HOST:PORT --certs DIR CMD [ARGS]
 *
 *   create-topic NAME PARTITIONS      create (RF 1) and wait for leaders
 *   delete-topic NAME
 *   alter-topic-config NAME KEY VALUE
 *   metadata                          print brokers and partition leaders
 *   admin-check TOPIC NBROKERS        list/describe topics and configs
 *                                     (forwarded), describe cluster
 *   produce TOPIC [--count N] [--size B] [--acks A] [--batch K]
 *           [--inflight W] [--ack-file F]
 *       N records round-robin over the partitions (K per batch, W requests
 *       in flight per connection). Record seq s of partition p has a value
 *       derived from (p, s) of B bytes. Offsets must come back contiguous.
 *       --ack-file writes "partition acked" lines (also on failure).
 *   consume TOPIC [--count N | --expect-file F] [--size B] [--timeout-ms T]
 *       fetch every partition from offset 0 with long polls until N records
 *       in all (or each partition's count in F) were read, checking that
 *       the record at offset o of partition p is seq o of p, in order.
 *   time-check TOPIC                  ListOffsets earliest/latest/by time on
 *                                     partition 0 of a fresh topic
 *   long-poll-check TOPIC             an empty fetch waits max_wait_ms; a
 *                                     waiting fetch is woken by a produce
 *   bad-input TOPIC                   every bad input gets its typed error,
 *                                     the connection stays usable, and the
 *                                     records written before are intact
 *   expect-produce-error TOPIC CODE   one produce to partition 0 must fail
 *                                     with ErrorCode CODE
 *   fenced-check TOPIC PID SECONDS
 *       with a connection open to the leader of partition 0 (broker PID,
 *       not the bootstrap broker): SIGSTOP it for SECONDS, check that the
 *       other brokers' metadata shows it fenced, send a produce while it
 *       is stopped, SIGCONT it: the produce must get BROKER_FENCED. Then
 *       produce must succeed again within 30 s (unfenced, leading again).
 *   register --controller HOST:PORT --node-id N --incarnation HEX
 *       send a BrokerRegistration (prints the error code it got)
 *   perf-produce / perf-consume TOPIC  as produce/consume, printing MB/s
 *   latency TOPIC --rate R --seconds S [--acks A] [--size B] [--batch K]
 *       one batch every 1/R s; prints p50/p99/max produce latency
 *
 * Exit: 0 ok, 1 check failed (one line says what), 2 usage.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/types.h>
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

#define MAX_BROKERS 16
#define MAX_PARTS 256

static struct event_base *base;
static struct st_tls_ctx *tls;

struct conn {
    int32_t id;
    char host[256];
    uint16_t port;
    struct st_rpc_client *c;
};

static struct conn conns[MAX_BROKERS + 1]; /* [0] is the bootstrap */
static int n_conns = 1;

struct topic {
    int n_parts;
    int32_t leader[MAX_PARTS];
    int32_t epoch[MAX_PARTS];
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                      noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "broker_testcli: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct st_rpc_client *client_to(const char *host, uint16_t port)
{
    struct st_rpc_client_config cc = {0};
    cc.host = host;
    cc.port = port;
    cc.tls = tls;
    cc.connect_timeout_ms = 3000;
    struct st_rpc_client *c;
    if (st_rpc_client_new(base, &cc, &c) != 0) {
        die("client to %s:%u", host, port);
    }
    return c;
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

static void wait_close(struct wait *w)
{
    st_buf_close(&w->body);
    st_buf_close(&w->payload);
}

/* Send and run the loop until answered. Returns the transport status. */
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

/* ---- metadata ---- */

static Strata__Client__MetadataResponse *metadata(void)
{
    Strata__Client__MetadataRequest m = STRATA__CLIENT__METADATA_REQUEST__INIT;
    struct wait w;
    int rv = call(conns[0].c, STRATA__CLIENT__API__METADATA, &m.base,
                  (struct st_bytes){NULL, 0}, 5000, &w);
    Strata__Client__MetadataResponse *r =
        rv == 0 && w.error == 0
            ? strata__client__metadata_response__unpack(NULL, w.body.len,
                                                        w.body.base)
            : NULL;
    wait_close(&w);
    return r;
}

/* Load @name's partitions and every broker's address. Returns 0, or -1
 * when the topic is unknown or a partition has no leader. */
static int load_topic(const char *name, struct topic *t)
{
    Strata__Client__MetadataResponse *r = metadata();
    if (r == NULL) {
        return -1;
    }
    for (size_t i = 0; i < r->n_brokers; i++) {
        const Strata__Client__BrokerInfo *b = r->brokers[i];
        bool known = false;
        for (int k = 1; k < n_conns; k++) {
            known = known || conns[k].id == b->id;
        }
        if (!known && b->n_listeners > 0 && n_conns <= MAX_BROKERS) {
            conns[n_conns].id = b->id;
            snprintf(conns[n_conns].host, sizeof conns[n_conns].host, "%s",
                     b->listeners[0]->host);
            conns[n_conns].port = (uint16_t)b->listeners[0]->port;
            n_conns++;
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
            if (t->leader[p] < 0) {
                rv = -1;
            }
        }
    }
    strata__client__metadata_response__free_unpacked(r, NULL);
    return rv;
}

static struct st_rpc_client *leader_client(int32_t id)
{
    for (int k = 1; k < n_conns; k++) {
        if (conns[k].id == id) {
            if (conns[k].c == NULL) {
                conns[k].c = client_to(conns[k].host, conns[k].port);
            }
            return conns[k].c;
        }
    }
    die("no address for broker %d", id);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void wait_topic(const char *name, struct topic *t, int seconds)
{
    uint64_t end = now_ns() + (uint64_t)seconds * 1000000000u;
    while (load_topic(name, t) != 0) {
        if (now_ns() > end) {
            die("topic %s has no leader for every partition after %d s",
                name, seconds);
        }
        sleep_ms(100);
    }
}

/* Whether every partition's leader (per the bootstrap's metadata) agrees
 * that it leads in that epoch: a ListOffsets to each with the epoch. */
static bool leaders_agree(const char *topic, const struct topic *t)
{
    for (int p = 0; p < t->n_parts; p++) {
        Strata__Client__ListOffsetsPartition lp =
            STRATA__CLIENT__LIST_OFFSETS_PARTITION__INIT;
        Strata__Client__ListOffsetsPartition *lps[1] = {&lp};
        lp.topic = (char *)topic;
        lp.partition = p;
        lp.timestamp = -1;
        lp.current_leader_epoch = t->epoch[p];
        Strata__Client__ListOffsetsRequest m =
            STRATA__CLIENT__LIST_OFFSETS_REQUEST__INIT;
        m.partitions = lps;
        m.n_partitions = 1;
        struct wait w;
        int rv = call(leader_client(t->leader[p]),
                      STRATA__CLIENT__API__LIST_OFFSETS, &m.base,
                      (struct st_bytes){NULL, 0}, 5000, &w);
        Strata__Client__ListOffsetsResponse *r =
            rv == 0 && w.error == 0
                ? strata__client__list_offsets_response__unpack(
                      NULL, w.body.len, w.body.base)
                : NULL;
        bool ok = r != NULL && r->n_partitions == 1 &&
                  r->partitions[0]->error == 0;
        if (r) {
            strata__client__list_offsets_response__free_unpacked(r, NULL);
        }
        wait_close(&w);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* wait_topic, then until every leader knows it leads (the bootstrap
 * broker may learn a leader change before the new leader does). */
static void wait_ready(const char *name, struct topic *t, int seconds)
{
    uint64_t end = now_ns() + (uint64_t)seconds * 1000000000u;
    for (;;) {
        wait_topic(name, t, seconds);
        if (leaders_agree(name, t)) {
            return;
        }
        if (now_ns() > end) {
            die("leaders of %s do not agree they lead after %d s", name,
                seconds);
        }
        sleep_ms(100);
    }
}

/* ---- admin ---- */

static int create_topic(const char *name, int parts)
{
    Strata__Ctl__CreatableTopic ct = STRATA__CTL__CREATABLE_TOPIC__INIT;
    Strata__Ctl__CreatableTopic *cts[1] = {&ct};
    ct.name = (char *)name;
    ct.partitions = parts;
    ct.replication_factor = 1;
    Strata__Ctl__CreateTopicsRequest m = STRATA__CTL__CREATE_TOPICS_REQUEST__INIT;
    m.topics = cts;
    m.n_topics = 1;
    struct wait w;
    int rv = call(conns[0].c, STRATA__CLIENT__API__CREATE_TOPICS, &m.base,
                  (struct st_bytes){NULL, 0}, 20000, &w);
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
    wait_topic(name, &t, 20);
    printf("created %s partitions=%d\n", name, t.n_parts);
    return 0;
}

static int delete_topic(const char *name)
{
    Strata__Ctl__DeleteTopicsRequest m = STRATA__CTL__DELETE_TOPICS_REQUEST__INIT;
    char *names[1] = {(char *)name};
    m.names = names;
    m.n_names = 1;
    struct wait w;
    int rv = call(conns[0].c, STRATA__CLIENT__API__DELETE_TOPICS, &m.base,
                  (struct st_bytes){NULL, 0}, 20000, &w);
    if (rv != 0 || w.error != 0) {
        die("delete-topic %s: status %d error %d %s", name, rv, w.error,
            w.msg);
    }
    wait_close(&w);
    printf("deleted %s\n", name);
    return 0;
}

static int alter_topic_config(const char *topic, const char *key,
                              const char *value)
{
    Strata__Ctl__ConfigAlteration ca = STRATA__CTL__CONFIG_ALTERATION__INIT;
    Strata__Ctl__ConfigAlteration *cas[1] = {&ca};
    ca.key = (char *)key;
    ca.value = (char *)value;
    Strata__Ctl__AlterConfigsRequest m =
        STRATA__CTL__ALTER_CONFIGS_REQUEST__INIT;
    m.resource = STRATA__CTL__RESOURCE_TYPE__RESOURCE_TOPIC;
    m.name = (char *)topic;
    m.configs = cas;
    m.n_configs = 1;
    struct wait w;
    int rv = call(conns[0].c, STRATA__CLIENT__API__ALTER_CONFIGS, &m.base,
                  (struct st_bytes){NULL, 0}, 20000, &w);
    if (rv != 0 || w.error != 0) {
        die("alter-config: %s %d %s", st_strerror(rv), w.error, w.msg);
    }
    Strata__Ctl__AlterConfigsResponse *r =
        strata__ctl__alter_configs_response__unpack(NULL, w.body.len,
                                                    w.body.base);
    if (r == NULL || (r->error != NULL && r->error->error != 0)) {
        die("alter-config refused: %s", r && r->error ? r->error->message
                                                       : "no answer");
    }
    strata__ctl__alter_configs_response__free_unpacked(r, NULL);
    wait_close(&w);
    printf("altered %s %s=%s\n", topic, key, value);
    return 0;
}

/* The forwarded admin reads and DescribeCluster answer sensibly. */
static int admin_check(const char *topic, int n_brokers)
{
    struct wait w;
    Strata__Ctl__ListTopicsRequest lt = STRATA__CTL__LIST_TOPICS_REQUEST__INIT;
    if (call(conns[0].c, STRATA__CLIENT__API__LIST_TOPICS, &lt.base,
             (struct st_bytes){NULL, 0}, 20000, &w) != 0 || w.error != 0) {
        die("list topics: %d %s", w.error, w.msg);
    }
    Strata__Ctl__ListTopicsResponse *l =
        strata__ctl__list_topics_response__unpack(NULL, w.body.len,
                                                  w.body.base);
    bool found = false;
    for (size_t i = 0; l != NULL && i < l->n_topics; i++) {
        found = found || strcmp(l->topics[i]->name, topic) == 0;
    }
    if (!found) {
        die("list topics: %s missing", topic);
    }
    strata__ctl__list_topics_response__free_unpacked(l, NULL);
    wait_close(&w);
    printf("ok: list topics (forwarded) names %s\n", topic);

    Strata__Ctl__DescribeTopicsRequest dt =
        STRATA__CTL__DESCRIBE_TOPICS_REQUEST__INIT;
    char *names[1] = {(char *)topic};
    dt.names = names;
    dt.n_names = 1;
    if (call(conns[0].c, STRATA__CLIENT__API__DESCRIBE_TOPICS, &dt.base,
             (struct st_bytes){NULL, 0}, 20000, &w) != 0 || w.error != 0) {
        die("describe topics: %d %s", w.error, w.msg);
    }
    Strata__Ctl__DescribeTopicsResponse *d =
        strata__ctl__describe_topics_response__unpack(NULL, w.body.len,
                                                      w.body.base);
    if (d == NULL || d->n_topics != 1 || d->topics[0]->n_partitions < 1) {
        die("describe topics: no partitions for %s", topic);
    }
    printf("ok: describe topics (forwarded): %s has %zu partition(s)\n",
           topic, d->topics[0]->n_partitions);
    strata__ctl__describe_topics_response__free_unpacked(d, NULL);
    wait_close(&w);

    Strata__Ctl__DescribeConfigsRequest dc =
        STRATA__CTL__DESCRIBE_CONFIGS_REQUEST__INIT;
    dc.resource = STRATA__CTL__RESOURCE_TYPE__RESOURCE_TOPIC;
    dc.name = (char *)topic;
    if (call(conns[0].c, STRATA__CLIENT__API__DESCRIBE_CONFIGS, &dc.base,
             (struct st_bytes){NULL, 0}, 20000, &w) != 0 || w.error != 0) {
        die("describe configs: %d %s", w.error, w.msg);
    }
    Strata__Ctl__DescribeConfigsResponse *c =
        strata__ctl__describe_configs_response__unpack(NULL, w.body.len,
                                                       w.body.base);
    if (c == NULL) {
        die("describe configs answer");
    }
    printf("ok: describe configs (forwarded): %zu override(s)", c->n_configs);
    for (size_t i = 0; i < c->n_configs; i++) {
        printf(" %s=%s", c->configs[i]->key, c->configs[i]->value);
    }
    printf("\n");
    strata__ctl__describe_configs_response__free_unpacked(c, NULL);
    wait_close(&w);

    Strata__Client__DescribeClusterRequest dq =
        STRATA__CLIENT__DESCRIBE_CLUSTER_REQUEST__INIT;
    if (call(conns[0].c, STRATA__CLIENT__API__DESCRIBE_CLUSTER, &dq.base,
             (struct st_bytes){NULL, 0}, 5000, &w) != 0 || w.error != 0) {
        die("describe cluster: %d %s", w.error, w.msg);
    }
    Strata__Client__DescribeClusterResponse *q =
        strata__client__describe_cluster_response__unpack(NULL, w.body.len,
                                                          w.body.base);
    if (q == NULL || (int)q->n_brokers != n_brokers || q->controller_id < 1 ||
        q->cluster_id[0] == '\0') {
        die("describe cluster: %d brokers, controller %d",
            q ? (int)q->n_brokers : -1, q ? q->controller_id : -1);
    }
    printf("ok: describe cluster: cluster %s, controller %d, %zu brokers\n",
           q->cluster_id, q->controller_id, q->n_brokers);
    strata__client__describe_cluster_response__free_unpacked(q, NULL);
    wait_close(&w);
    return 0;
}

static int print_metadata(void)
{
    Strata__Client__MetadataResponse *r = metadata();
    if (r == NULL) {
        die("metadata");
    }
    printf("cluster %s controller %d offset %" PRId64 "\n", r->cluster_id,
           r->controller_id, r->metadata_offset);
    for (size_t i = 0; i < r->n_brokers; i++) {
        printf("broker %d %s:%u fenced=%d\n", r->brokers[i]->id,
               r->brokers[i]->n_listeners ? r->brokers[i]->listeners[0]->host
                                          : "-",
               r->brokers[i]->n_listeners ? r->brokers[i]->listeners[0]->port
                                          : 0,
               r->brokers[i]->fenced);
    }
    for (size_t i = 0; i < r->n_topics; i++) {
        for (size_t p = 0; p < r->topics[i]->n_partitions; p++) {
            printf("partition %s-%zu leader %d epoch %d\n",
                   r->topics[i]->name, p, r->topics[i]->partitions[p]->leader,
                   r->topics[i]->partitions[p]->leader_epoch);
        }
    }
    strata__client__metadata_response__free_unpacked(r, NULL);
    return 0;
}

/* ---- records ---- */

/* The value of seq @s of partition @p: a header then a pattern. */
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

/* ---- pipelined produce ---- */

struct prod_opts {
    int64_t count;
    size_t size;
    int acks;
    int batch;
    int inflight;
    const char *ack_file;
    const char *topic;
    bool perf;
};

struct preq {
    int part;
    int n;
    int64_t first_seq;
    uint64_t sent_ns;
};

static struct {
    struct topic t;
    int64_t next_seq[MAX_PARTS];
    int64_t acked[MAX_PARTS];
    int inflight;
    int64_t acked_total;
    bool failed;
    char why[600];
    uint64_t *lat_ns;
    size_t n_lat, cap_lat;
    int acks;
} P;

static void write_ack_file(const char *path)
{
    if (path == NULL) {
        return;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return;
    }
    for (int p = 0; p < P.t.n_parts; p++) {
        fprintf(f, "%d %" PRId64 "\n", p, P.acked[p]);
    }
    fclose(f);
}

static void lat_add(uint64_t ns)
{
    if (P.n_lat == P.cap_lat) {
        P.cap_lat = P.cap_lat ? P.cap_lat * 2 : 1024;
        P.lat_ns = realloc(P.lat_ns, P.cap_lat * sizeof *P.lat_ns);
    }
    P.lat_ns[P.n_lat++] = ns;
}

static void produce_cb(void *arg, int status, const struct st_rpc_response *r)
{
    struct preq *q = arg;
    P.inflight--;
    lat_add(now_ns() - q->sent_ns);
    if (P.failed) {
        free(q);
        return;
    }
    if (status != 0 || r->error != 0) {
        P.failed = true;
        snprintf(P.why, sizeof P.why, "produce p%d: status %s error %d %s",
                 q->part, st_strerror(status), r ? r->error : 0,
                 r ? r->error_message : "");
        free(q);
        return;
    }
    Strata__Client__ProduceResponse *m =
        strata__client__produce_response__unpack(NULL, r->body.len,
                                                 r->body.base);
    if (m == NULL || m->n_partitions != 1) {
        P.failed = true;
        snprintf(P.why, sizeof P.why, "produce answer does not parse");
    } else if (m->partitions[0]->error != 0) {
        P.failed = true;
        snprintf(P.why, sizeof P.why, "produce p%d: error %d %s", q->part,
                 m->partitions[0]->error, m->partitions[0]->error_message);
    } else if (P.acks != 0 && m->partitions[0]->base_offset != q->first_seq) {
        P.failed = true;
        snprintf(P.why, sizeof P.why, "produce p%d: base offset %" PRId64
                 " but seq %" PRId64 " (offsets not contiguous)", q->part,
                 m->partitions[0]->base_offset, q->first_seq);
    } else if (P.acks == -1 && !m->partitions[0]->durable) {
        P.failed = true;
        snprintf(P.why, sizeof P.why, "acks=all answered before durable");
    } else {
        P.acked[q->part] += q->n;
        P.acked_total += q->n;
    }
    if (m) {
        strata__client__produce_response__free_unpacked(m, NULL);
    }
    free(q);
}

static void send_batch(struct st_batch_builder *bb, uint8_t *val,
                       const struct prod_opts *o, int part, int n,
                       int64_t ts_ms)
{
    struct st_batch_builder_opts bo = {ST_CODEC_NONE, 0, -1, -1, -1, -1};
    st_batch_builder_reset(bb, &bo);
    int64_t seq0 = P.next_seq[part];
    for (int i = 0; i < n; i++) {
        size_t len = make_value(part, seq0 + i, o->size, val);
        st_batch_builder_add(bb, ts_ms >= 0 ? ts_ms : wall_ms(), NULL, 0,
                             val, len, NULL, 0);
    }
    struct st_bytes batch;
    if (st_batch_builder_finish(bb, &batch) != 0) {
        die("batch build");
    }
    P.next_seq[part] += n;
    Strata__Client__ProducePartition pp =
        STRATA__CLIENT__PRODUCE_PARTITION__INIT;
    Strata__Client__ProducePartition *pps[1] = {&pp};
    pp.topic = (char *)o->topic;
    pp.partition = part;
    pp.payload_offset = 0;
    pp.payload_length = batch.len;
    Strata__Client__ProduceRequest m = STRATA__CLIENT__PRODUCE_REQUEST__INIT;
    m.acks = o->acks;
    m.timeout_ms = 30000;
    m.partitions = pps;
    m.n_partitions = 1;
    size_t bn = strata__client__produce_request__get_packed_size(&m);
    uint8_t body[512];
    if (bn > sizeof body) {
        die("topic name too long");
    }
    strata__client__produce_request__pack(&m, body);
    struct preq *q = malloc(sizeof *q);
    q->part = part;
    q->n = n;
    q->first_seq = seq0;
    q->sent_ns = now_ns();
    struct st_rpc_call rc = {0};
    rc.api = STRATA__CLIENT__API__PRODUCE;
    rc.body = (struct st_bytes){body, bn};
    rc.payload = batch;
    rc.timeout_ms = 60000;
    if (st_rpc_client_send(leader_client(P.t.leader[part]), &rc, produce_cb,
                           q, NULL) != 0) {
        die("send");
    }
    P.inflight++;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_latency(const char *what)
{
    if (P.n_lat == 0) {
        return;
    }
    qsort(P.lat_ns, P.n_lat, sizeof *P.lat_ns, cmp_u64);
    printf("%s latency_ms p50=%.3f p99=%.3f max=%.3f n=%zu\n", what,
           P.lat_ns[P.n_lat / 2] / 1e6, P.lat_ns[P.n_lat * 99 / 100] / 1e6,
           P.lat_ns[P.n_lat - 1] / 1e6, P.n_lat);
}

static int produce(const struct prod_opts *o)
{
    wait_ready(o->topic, &P.t, 30);
    P.acks = o->acks;
    struct st_batch_builder *bb;
    st_batch_builder_new(&bb);
    uint8_t *val = malloc(o->size + 64);
    int64_t sent = 0;
    int part = 0;
    uint64_t t0 = now_ns();
    while (sent < o->count && !P.failed) {
        int n = o->batch;
        if (n > o->count - sent) {
            n = (int)(o->count - sent);
        }
        send_batch(bb, val, o, part, n, -1);
        sent += n;
        part = (part + 1) % P.t.n_parts;
        while (P.inflight >= o->inflight && !P.failed) {
            event_base_loop(base, EVLOOP_ONCE);
        }
    }
    while (P.inflight > 0) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    write_ack_file(o->ack_file);
    st_batch_builder_free(bb);
    free(val);
    if (P.failed) {
        printf("acked %" PRId64 " records before failing\n", P.acked_total);
        die("%s", P.why);
    }
    double mb = (double)P.acked_total * (double)o->size / 1e6;
    printf("produced %" PRId64 " records acks=%d size=%zu in %.2f s: "
           "%.0f records/s %.1f MB/s\n", P.acked_total, o->acks, o->size,
           secs, (double)P.acked_total / secs, mb / secs);
    if (o->perf) {
        print_latency("produce");
    }
    return 0;
}

/* ---- consume ---- */

struct cons {
    int64_t want[MAX_PARTS];
    int64_t next[MAX_PARTS];
    int64_t total_want, total;
    uint64_t bytes;
    size_t size;
    bool verify;
};

/* Check and count the batches of one partition's payload range. */
static void consume_range(struct cons *c, struct st_record_iter *it, int p,
                          const uint8_t *buf, size_t len, uint8_t *expect)
{
    size_t pos = 0;
    while (pos < len) {
        struct st_batch_header h;
        int rv = st_batch_validate(buf + pos, len - pos, len, &h);
        if (rv != 0) {
            die("p%d: batch at payload %zu invalid: %s", p, pos,
                st_strerror(rv));
        }
        size_t total = st_batch_total_bytes(&h);
        if (st_batch_last_offset(&h) >= c->next[p]) {
            if (st_record_iter_init(it, buf + pos, total, 64u << 20) != 0) {
                die("p%d: iter", p);
            }
            struct st_record r;
            while ((rv = st_record_iter_next(it, &r)) == 0) {
                if (r.offset < c->next[p]) {
                    continue; /* the batch started before our offset */
                }
                if (r.offset != c->next[p]) {
                    die("p%d: offset %" PRId64 " where %" PRId64
                        " was due (gap or reorder)", p, r.offset, c->next[p]);
                }
                if (c->verify) {
                    size_t el = make_value(p, r.offset, c->size, expect);
                    if ((size_t)r.value_len != el ||
                        memcmp(r.value, expect, el) != 0) {
                        die("p%d offset %" PRId64 ": value is not seq %" PRId64
                            " of p%d", p, r.offset, r.offset, p);
                    }
                }
                c->next[p]++;
                c->total++;
            }
            if (rv < 0) {
                die("p%d: record decode: %s", p, st_strerror(rv));
            }
        }
        c->bytes += total;
        pos += total;
    }
}

static int consume(const char *topic, struct cons *c, int timeout_ms,
                   bool perf)
{
    struct topic t;
    wait_ready(topic, &t, 30);
    struct st_record_iter *it;
    st_record_iter_new(&it);
    uint8_t *expect = malloc(c->size + 64);
    uint64_t t0 = now_ns();
    uint64_t end = t0 + (uint64_t)timeout_ms * 1000000u;
    while (c->total < c->total_want) {
        if (now_ns() > end) {
            die("consumed %" PRId64 " of %" PRId64 " records in %d ms",
                c->total, c->total_want, timeout_ms);
        }
        /* One fetch per leader, holding every partition it leads. */
        for (int k = 1; k < n_conns; k++) {
            Strata__Client__FetchPartition fps[MAX_PARTS];
            Strata__Client__FetchPartition *v[MAX_PARTS];
            size_t n = 0;
            for (int p = 0; p < t.n_parts; p++) {
                if (t.leader[p] != conns[k].id || c->next[p] >= c->want[p]) {
                    continue;
                }
                Strata__Client__FetchPartition init =
                    STRATA__CLIENT__FETCH_PARTITION__INIT;
                fps[n] = init;
                fps[n].topic = (char *)topic;
                fps[n].partition = p;
                fps[n].fetch_offset = c->next[p];
                fps[n].current_leader_epoch = t.epoch[p];
                fps[n].partition_max_bytes = 8u << 20;
                v[n] = &fps[n];
                n++;
            }
            if (n == 0) {
                continue;
            }
            Strata__Client__FetchRequest m =
                STRATA__CLIENT__FETCH_REQUEST__INIT;
            m.max_wait_ms = 500;
            m.min_bytes = 1;
            m.max_bytes = 32u << 20;
            m.partitions = v;
            m.n_partitions = n;
            m.replica_id = -1;
            struct wait w;
            int rv = call(leader_client(conns[k].id),
                          STRATA__CLIENT__API__FETCH, &m.base,
                          (struct st_bytes){NULL, 0}, 10000, &w);
            if (rv != 0 || w.error != 0) {
                die("fetch: status %s error %d %s", st_strerror(rv), w.error,
                    w.msg);
            }
            Strata__Client__FetchResponse *r =
                strata__client__fetch_response__unpack(NULL, w.body.len,
                                                       w.body.base);
            if (r == NULL) {
                die("fetch answer does not parse");
            }
            for (size_t i = 0; i < r->n_partitions; i++) {
                const Strata__Client__FetchPartitionResponse *pr =
                    r->partitions[i];
                if (pr->error != 0) {
                    die("fetch %s-%d: error %d %s", pr->topic, pr->partition,
                        pr->error, pr->error_message);
                }
                if (pr->payload_offset + pr->payload_length > w.payload.len) {
                    die("fetch: range outside payload");
                }
                consume_range(c, it, pr->partition,
                              w.payload.base + pr->payload_offset,
                              (size_t)pr->payload_length, expect);
            }
            strata__client__fetch_response__free_unpacked(r, NULL);
            wait_close(&w);
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("consumed %" PRId64 " records in order (%.2f s: %.0f records/s "
           "%.1f MB/s of batches)\n", c->total, secs,
           (double)c->total / secs, (double)c->bytes / 1e6 / secs);
    (void)perf;
    st_record_iter_free(it);
    free(expect);
    return 0;
}

/* ---- single requests for the checks ---- */

/* Produce @payload to @topic/@part with one entry covering [off, off+len).
 * Returns the partition error (or the header error when set), 0 on
 * success with *base. */
static int32_t produce_raw(const char *topic, int32_t part,
                           struct st_bytes payload, uint64_t off, uint64_t len,
                           int acks, int64_t *base_out, char *msg, size_t cap)
{
    struct topic t;
    struct st_rpc_client *c = conns[0].c;
    if (load_topic(topic, &t) == 0 && part >= 0 && part < t.n_parts &&
        part < MAX_PARTS) {
        c = leader_client(t.leader[part]);
    }
    Strata__Client__ProducePartition pp =
        STRATA__CLIENT__PRODUCE_PARTITION__INIT;
    Strata__Client__ProducePartition *pps[1] = {&pp};
    pp.topic = (char *)topic;
    pp.partition = part;
    pp.payload_offset = off;
    pp.payload_length = len;
    Strata__Client__ProduceRequest m = STRATA__CLIENT__PRODUCE_REQUEST__INIT;
    m.acks = acks;
    m.timeout_ms = 10000;
    m.partitions = pps;
    m.n_partitions = 1;
    struct wait w;
    int rv = call(c, STRATA__CLIENT__API__PRODUCE, &m.base, payload, 15000,
                  &w);
    if (rv != 0) {
        die("produce transport: %s", st_strerror(rv));
    }
    int32_t err = w.error;
    snprintf(msg, cap, "%s", w.msg);
    if (err == 0) {
        Strata__Client__ProduceResponse *r =
            strata__client__produce_response__unpack(NULL, w.body.len,
                                                     w.body.base);
        if (r == NULL || r->n_partitions != 1) {
            die("produce answer");
        }
        err = r->partitions[0]->error;
        snprintf(msg, cap, "%s", r->partitions[0]->error_message);
        if (base_out) {
            *base_out = r->partitions[0]->base_offset;
        }
        strata__client__produce_response__free_unpacked(r, NULL);
    }
    wait_close(&w);
    return err;
}

static struct st_bytes one_batch(struct st_batch_builder *bb, int part,
                                 int64_t seq0, int n, size_t size,
                                 int64_t ts_ms)
{
    uint8_t val[4096];
    struct st_batch_builder_opts bo = {ST_CODEC_NONE, 0, -1, -1, -1, -1};
    st_batch_builder_reset(bb, &bo);
    for (int i = 0; i < n; i++) {
        size_t len = make_value(part, seq0 + i, size, val);
        st_batch_builder_add(bb, ts_ms, NULL, 0, val, len, NULL, 0);
    }
    struct st_bytes out;
    if (st_batch_builder_finish(bb, &out) != 0) {
        die("batch");
    }
    return out;
}

static int64_t list_offset(const char *topic, int32_t part, int64_t ts,
                           int32_t *err_out)
{
    struct topic t;
    wait_topic(topic, &t, 20);
    Strata__Client__ListOffsetsPartition lp =
        STRATA__CLIENT__LIST_OFFSETS_PARTITION__INIT;
    Strata__Client__ListOffsetsPartition *lps[1] = {&lp};
    lp.topic = (char *)topic;
    lp.partition = part;
    lp.timestamp = ts;
    lp.current_leader_epoch = -1;
    Strata__Client__ListOffsetsRequest m =
        STRATA__CLIENT__LIST_OFFSETS_REQUEST__INIT;
    m.partitions = lps;
    m.n_partitions = 1;
    struct wait w;
    int32_t leader = part < t.n_parts ? t.leader[part] : t.leader[0];
    int rv = call(leader_client(leader), STRATA__CLIENT__API__LIST_OFFSETS,
                  &m.base, (struct st_bytes){NULL, 0}, 5000, &w);
    if (rv != 0 || w.error != 0) {
        die("list-offsets: %s %d %s", st_strerror(rv), w.error, w.msg);
    }
    Strata__Client__ListOffsetsResponse *r =
        strata__client__list_offsets_response__unpack(NULL, w.body.len,
                                                      w.body.base);
    if (r == NULL || r->n_partitions != 1) {
        die("list-offsets answer");
    }
    int64_t off = r->partitions[0]->offset;
    *err_out = r->partitions[0]->error;
    strata__client__list_offsets_response__free_unpacked(r, NULL);
    wait_close(&w);
    return off;
}

static void expect_offset(const char *topic, int64_t ts, int64_t want)
{
    int32_t err;
    int64_t got = list_offset(topic, 0, ts, &err);
    if (err != 0 || got != want) {
        die("list-offsets ts=%" PRId64 ": got %" PRId64 " (error %d), want "
            "%" PRId64, ts, got, err, want);
    }
    printf("ok: list-offsets ts=%" PRId64 " -> %" PRId64 "\n", ts, got);
}

/* Batches with timestamps 1000.. and 2000..: time lookups are exact. */
static int time_check(const char *topic)
{
    struct st_batch_builder *bb;
    st_batch_builder_new(&bb);
    char msg[512];
    int64_t base_off;
    for (int b = 0; b < 3; b++) {
        struct st_bytes batch = one_batch(bb, 0, b * 10, 10, 100,
                                          1000 * (b + 1));
        int32_t err = produce_raw(topic, 0, batch, 0, batch.len, -1,
                                  &base_off, msg, sizeof msg);
        if (err != 0) {
            die("time-check produce: %d %s", err, msg);
        }
    }
    expect_offset(topic, -2, 0);
    expect_offset(topic, -1, 30);
    expect_offset(topic, 500, 0);
    expect_offset(topic, 1500, 10);
    expect_offset(topic, 2000, 10);
    expect_offset(topic, 2500, 20);
    expect_offset(topic, 9000, -1);
    st_batch_builder_free(bb);
    return 0;
}

static void health(const char *topic, int64_t want_records)
{
    struct cons c;
    memset(&c, 0, sizeof c);
    struct topic t;
    wait_topic(topic, &t, 10);
    c.want[0] = want_records;
    c.total_want = want_records;
    c.size = 100;
    c.verify = true;
    consume(topic, &c, 10000, false);
}

static void expect_err(const char *what, int32_t got, int32_t want,
                       const char *msg)
{
    if (got != want) {
        die("%s: error %d (%s), want %d", what, got, msg, want);
    }
    printf("ok: %s -> error %d: %s\n", what, got, msg);
}

static int bad_input(const char *topic)
{
    struct st_batch_builder *bb;
    st_batch_builder_new(&bb);
    char msg[512];
    int64_t off;
    /* Given 10 good records, */
    struct st_bytes good = one_batch(bb, 0, 0, 10, 100, wall_ms());
    int32_t err = produce_raw(topic, 0, good, 0, good.len, -1, &off, msg,
                              sizeof msg);
    if (err != 0 || off != 0) {
        die("good produce: %d %s", err, msg);
    }
    /* a corrupt batch (one flipped byte under the CRC), */
    struct st_bytes b = one_batch(bb, 0, 10, 5, 100, wall_ms());
    uint8_t *copy = malloc(b.len + 1);
    memcpy(copy, b.base, b.len);
    copy[b.len - 3] ^= 0x5a;
    err = produce_raw(topic, 0, (struct st_bytes){copy, b.len}, 0, b.len, 1,
                      NULL, msg, sizeof msg);
    expect_err("corrupt batch", err, STRATA__ERROR_CODE__CORRUPT_RECORD, msg);
    /* a batch cut short, */
    err = produce_raw(topic, 0, (struct st_bytes){copy, b.len - 20}, 0,
                      b.len - 20, 1, NULL, msg, sizeof msg);
    expect_err("truncated batch", err, STRATA__ERROR_CODE__CORRUPT_RECORD,
               msg);
    free(copy);
    /* a batch over max.message.bytes (default 1 MiB + 12), */
    uint8_t *big = malloc(1200000);
    struct st_batch_builder_opts bo = {ST_CODEC_NONE, 0, -1, -1, -1, -1};
    st_batch_builder_reset(bb, &bo);
    memset(big, 'x', 1200000);
    st_batch_builder_add(bb, wall_ms(), NULL, 0, big, 1200000, NULL, 0);
    struct st_bytes bigb;
    st_batch_builder_finish(bb, &bigb);
    err = produce_raw(topic, 0, bigb, 0, bigb.len, 1, NULL, msg, sizeof msg);
    expect_err("batch over max.message.bytes", err,
               STRATA__ERROR_CODE__MESSAGE_TOO_LARGE, msg);
    free(big);
    /* an unknown topic and a partition out of range, */
    b = one_batch(bb, 0, 10, 5, 100, wall_ms());
    err = produce_raw("no-such-topic", 0, b, 0, b.len, 1, NULL, msg,
                      sizeof msg);
    expect_err("unknown topic", err,
               STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION, msg);
    err = produce_raw(topic, 999, b, 0, b.len, 1, NULL, msg, sizeof msg);
    expect_err("partition out of range", err,
               STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION, msg);
    /* a payload range outside the payload, bad acks, */
    err = produce_raw(topic, 0, b, 10, b.len, 1, NULL, msg, sizeof msg);
    expect_err("range outside payload", err,
               STRATA__ERROR_CODE__INVALID_REQUEST, msg);
    err = produce_raw(topic, 0, b, 0, b.len, 7, NULL, msg, sizeof msg);
    expect_err("acks=7", err, STRATA__ERROR_CODE__INVALID_REQUEST, msg);
    /* a body that is not protobuf, */
    struct topic t;
    wait_topic(topic, &t, 10);
    struct st_rpc_client *c = leader_client(t.leader[0]);
    {
        struct wait w;
        memset(&w, 0, sizeof w);
        uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
        struct st_rpc_call rc = {0};
        rc.api = STRATA__CLIENT__API__PRODUCE;
        rc.body = (struct st_bytes){junk, sizeof junk};
        rc.timeout_ms = 5000;
        st_rpc_client_send(c, &rc, wait_cb, &w, NULL);
        while (!w.done) {
            event_base_loop(base, EVLOOP_ONCE);
        }
        expect_err("garbage body", w.status ? -1 : w.error,
                   STRATA__ERROR_CODE__CORRUPT_MESSAGE, w.msg);
        wait_close(&w);
    }
    /* a produce sent to a broker that does not lead the partition, */
    for (int k = 1; k < n_conns; k++) {
        if (conns[k].id == t.leader[0]) {
            continue;
        }
        Strata__Client__ProducePartition pp =
            STRATA__CLIENT__PRODUCE_PARTITION__INIT;
        Strata__Client__ProducePartition *pps[1] = {&pp};
        pp.topic = (char *)topic;
        pp.partition = 0;
        pp.payload_length = b.len;
        Strata__Client__ProduceRequest m =
            STRATA__CLIENT__PRODUCE_REQUEST__INIT;
        m.acks = 1;
        m.partitions = pps;
        m.n_partitions = 1;
        struct wait w;
        if (call(leader_client(conns[k].id), STRATA__CLIENT__API__PRODUCE,
                 &m.base, b, 5000, &w) != 0 || w.error != 0) {
            die("produce to a follower: transport");
        }
        Strata__Client__ProduceResponse *r =
            strata__client__produce_response__unpack(NULL, w.body.len,
                                                     w.body.base);
        expect_err("produce to a non-leader", r->partitions[0]->error,
                   STRATA__ERROR_CODE__NOT_LEADER,
                   r->partitions[0]->error_message);
        if (r->partitions[0]->leader != t.leader[0]) {
            die("NOT_LEADER names leader %d, not %d",
                r->partitions[0]->leader, t.leader[0]);
        }
        strata__client__produce_response__free_unpacked(r, NULL);
        wait_close(&w);
        break;
    }
    /* and a fetch at a negative offset: */
    {
        Strata__Client__FetchPartition fp =
            STRATA__CLIENT__FETCH_PARTITION__INIT;
        Strata__Client__FetchPartition *v[1] = {&fp};
        fp.topic = (char *)topic;
        fp.partition = 0;
        fp.fetch_offset = -5;
        fp.current_leader_epoch = -1;
        Strata__Client__FetchRequest m = STRATA__CLIENT__FETCH_REQUEST__INIT;
        m.max_wait_ms = 100;
        m.partitions = v;
        m.n_partitions = 1;
        struct wait w;
        if (call(c, STRATA__CLIENT__API__FETCH, &m.base,
                 (struct st_bytes){NULL, 0}, 5000, &w) != 0 || w.error) {
            die("negative fetch transport");
        }
        Strata__Client__FetchResponse *r =
            strata__client__fetch_response__unpack(NULL, w.body.len,
                                                   w.body.base);
        expect_err("fetch offset -5", r->partitions[0]->error,
                   STRATA__ERROR_CODE__OFFSET_OUT_OF_RANGE,
                   r->partitions[0]->error_message);
        strata__client__fetch_response__free_unpacked(r, NULL);
        wait_close(&w);
        /* and with an old leader epoch */
        fp.fetch_offset = 0;
        fp.current_leader_epoch = t.epoch[0] - 1;
        call(c, STRATA__CLIENT__API__FETCH, &m.base,
             (struct st_bytes){NULL, 0}, 5000, &w);
        r = strata__client__fetch_response__unpack(NULL, w.body.len,
                                                   w.body.base);
        if (t.epoch[0] > 0) {
            expect_err("fetch with an old leader epoch", r->partitions[0]->error,
                       STRATA__ERROR_CODE__FENCED_LEADER_EPOCH,
                       r->partitions[0]->error_message);
        }
        strata__client__fetch_response__free_unpacked(r, NULL);
        wait_close(&w);
        fp.current_leader_epoch = t.epoch[0] + 1;
        call(c, STRATA__CLIENT__API__FETCH, &m.base,
             (struct st_bytes){NULL, 0}, 5000, &w);
        r = strata__client__fetch_response__unpack(NULL, w.body.len,
                                                   w.body.base);
        expect_err("fetch with a future leader epoch", r->partitions[0]->error,
                   STRATA__ERROR_CODE__UNKNOWN_LEADER_EPOCH,
                   r->partitions[0]->error_message);
        strata__client__fetch_response__free_unpacked(r, NULL);
        wait_close(&w);
    }
    /* The connection still works and the 10 records are intact; a new
     * good batch lands right after them. */
    b = one_batch(bb, 0, 10, 5, 100, wall_ms());
    err = produce_raw(topic, 0, b, 0, b.len, -1, &off, msg, sizeof msg);
    if (err != 0 || off != 10) {
        die("good produce after bad input: error %d offset %" PRId64 " %s",
            err, off, msg);
    }
    health(topic, 15);
    printf("ok: connection healthy, records intact after bad input\n");
    st_batch_builder_free(bb);
    return 0;
}

static int expect_produce_error(const char *topic, int32_t code, int acks)
{
    struct st_batch_builder *bb;
    st_batch_builder_new(&bb);
    char msg[512];
    struct st_bytes b = one_batch(bb, 0, 0, 1, 100, wall_ms());
    int32_t err = produce_raw(topic, 0, b, 0, b.len, acks, NULL, msg,
                              sizeof msg);
    st_batch_builder_free(bb);
    expect_err("produce", err, code, msg);
    return 0;
}

/* Whether the bootstrap broker's metadata shows broker @id fenced. */
static bool shows_fenced(int32_t id)
{
    Strata__Client__MetadataResponse *r = metadata();
    bool fenced = false;
    for (size_t i = 0; r != NULL && i < r->n_brokers; i++) {
        fenced = fenced || (r->brokers[i]->id == id && r->brokers[i]->fenced);
    }
    if (r) {
        strata__client__metadata_response__free_unpacked(r, NULL);
    }
    return fenced;
}

static void run_for_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static int fenced_check(const char *topic, pid_t pid, int seconds)
{
    struct st_batch_builder *bb;
    st_batch_builder_new(&bb);
    char msg[512];
    int64_t off;
    struct topic t;
    wait_topic(topic, &t, 20);
    int32_t victim = t.leader[0];
    struct st_bytes b = one_batch(bb, 0, 0, 1, 100, wall_ms());
    int32_t err = produce_raw(topic, 0, b, 0, b.len, -1, &off, msg,
                              sizeof msg);
    if (err != 0) {
        die("first produce: %d %s", err, msg);
    }
    if (kill(pid, SIGSTOP) != 0) {
        die("SIGSTOP %d", (int)pid);
    }
    uint64_t end = now_ns() + (uint64_t)(seconds + 20) * 1000000000u;
    while (!shows_fenced(victim)) {
        if (now_ns() > end) {
            kill(pid, SIGCONT);
            die("broker %d not fenced %d s after SIGSTOP", victim,
                seconds + 20);
        }
        sleep_ms(200);
    }
    printf("ok: broker %d fenced by the controller while stopped\n", victim);
    sleep_ms(seconds * 1000);
    /* A produce that waits in the stopped broker's socket. */
    b = one_batch(bb, 0, 1, 1, 100, wall_ms());
    Strata__Client__ProducePartition pp =
        STRATA__CLIENT__PRODUCE_PARTITION__INIT;
    Strata__Client__ProducePartition *pps[1] = {&pp};
    pp.topic = (char *)topic;
    pp.partition = 0;
    pp.payload_length = b.len;
    Strata__Client__ProduceRequest m = STRATA__CLIENT__PRODUCE_REQUEST__INIT;
    m.acks = 1;
    m.timeout_ms = 5000;
    m.partitions = pps;
    m.n_partitions = 1;
    uint8_t body[512];
    size_t bn = strata__client__produce_request__pack(&m, body);
    struct wait w;
    memset(&w, 0, sizeof w);
    struct st_rpc_call rc = {0};
    rc.api = STRATA__CLIENT__API__PRODUCE;
    rc.body = (struct st_bytes){body, bn};
    rc.payload = b;
    rc.timeout_ms = 20000;
    if (st_rpc_client_send(leader_client(victim), &rc, wait_cb, &w, NULL)) {
        die("send");
    }
    run_for_ms(300); /* written into the socket; no answer yet */
    if (w.done) {
        die("a stopped broker answered");
    }
    kill(pid, SIGCONT);
    while (!w.done) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    if (w.status != 0 || w.error != 0) {
        die("produce to resumed broker: %s %d", st_strerror(w.status),
            w.error);
    }
    Strata__Client__ProduceResponse *r =
        strata__client__produce_response__unpack(NULL, w.body.len,
                                                 w.body.base);
    int32_t code = r && r->n_partitions ? r->partitions[0]->error : -1;
    expect_err("produce to a fenced broker", code,
               STRATA__ERROR_CODE__BROKER_FENCED,
               r && r->n_partitions ? r->partitions[0]->error_message : "");
    strata__client__produce_response__free_unpacked(r, NULL);
    wait_close(&w);
    end = now_ns() + 30 * 1000000000ull;
    for (;;) {
        b = one_batch(bb, 0, 1, 1, 100, wall_ms());
        if (load_topic(topic, &t) == 0) {
            err = produce_raw(topic, 0, b, 0, b.len, -1, &off, msg,
                              sizeof msg);
            if (err == 0) {
                break;
            }
        }
        if (now_ns() > end) {
            die("no produce accepted 30 s after SIGCONT: %d %s", err, msg);
        }
        sleep_ms(200);
    }
    printf("ok: broker %d unfenced and accepting produce again (offset "
           "%" PRId64 ")\n", t.leader[0], off);
    st_batch_builder_free(bb);
    return 0;
}

/* One fetch of partition 0 at @offset, sent now; answered into @w. */
static void fetch_async(struct st_rpc_client *c, const char *topic,
                        int64_t offset, uint32_t max_wait_ms, struct wait *w)
{
    Strata__Client__FetchPartition fp = STRATA__CLIENT__FETCH_PARTITION__INIT;
    Strata__Client__FetchPartition *v[1] = {&fp};
    fp.topic = (char *)topic;
    fp.partition = 0;
    fp.fetch_offset = offset;
    fp.current_leader_epoch = -1;
    Strata__Client__FetchRequest m = STRATA__CLIENT__FETCH_REQUEST__INIT;
    m.max_wait_ms = max_wait_ms;
    m.min_bytes = 1;
    m.partitions = v;
    m.n_partitions = 1;
    uint8_t body[512];
    size_t bn = strata__client__fetch_request__pack(&m, body);
    memset(w, 0, sizeof *w);
    struct st_rpc_call rc = {0};
    rc.api = STRATA__CLIENT__API__FETCH;
    rc.body = (struct st_bytes){body, bn};
    rc.timeout_ms = max_wait_ms + 5000;
    if (st_rpc_client_send(c, &rc, wait_cb, w, NULL) != 0) {
        die("send fetch");
    }
}

/* The long poll waits for max_wait_ms when nothing comes, and answers as
 * soon as a record is committed when one does. */
static int long_poll_check(const char *topic)
{
    struct topic t;
    wait_topic(topic, &t, 20);
    struct st_rpc_client *c = leader_client(t.leader[0]);
    struct wait w;
    uint64_t t0 = now_ns();
    fetch_async(c, topic, 0, 400, &w);
    while (!w.done) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    double waited = (double)(now_ns() - t0) / 1e6;
    if (w.status != 0 || w.error != 0 || w.payload.len != 0 ||
        waited < 390) {
        die("empty long poll: status %d error %d %zu bytes after %.0f ms",
            w.status, w.error, w.payload.len, waited);
    }
    printf("ok: empty long poll answered after %.0f ms (max_wait 400)\n",
           waited);
    wait_close(&w);
    t0 = now_ns();
    fetch_async(c, topic, 0, 10000, &w);
    run_for_ms(300);
    if (w.done) {
        die("a long poll with no data answered early");
    }
    struct st_batch_builder *bb;
    st_batch_builder_new(&bb);
    char msg[512];
    int64_t off;
    struct st_bytes b = one_batch(bb, 0, 0, 3, 100, wall_ms());
    int32_t err = produce_raw(topic, 0, b, 0, b.len, 1, &off, msg,
                              sizeof msg);
    if (err != 0) {
        die("produce: %d %s", err, msg);
    }
    while (!w.done) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    waited = (double)(now_ns() - t0) / 1e6;
    if (w.status != 0 || w.error != 0 || w.payload.len < b.len ||
        waited > 5000) {
        die("woken long poll: status %d error %d %zu bytes after %.0f ms",
            w.status, w.error, w.payload.len, waited);
    }
    printf("ok: long poll woken by a produce after %.0f ms (max_wait "
           "10000)\n", waited);
    wait_close(&w);
    st_batch_builder_free(bb);
    return 0;
}

static int do_register(const char *ctl, int32_t node, const char *hex)
{
    char host[256];
    const char *colon = strrchr(ctl, ':');
    if (colon == NULL || strlen(hex) != 32) {
        die("register: --controller HOST:PORT --incarnation 32-hex");
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - ctl), ctl);
    struct st_rpc_client *c = client_to(host, (uint16_t)atoi(colon + 1));
    uint8_t inc[16];
    for (int i = 0; i < 16; i++) {
        unsigned x;
        sscanf(hex + 2 * i, "%2x", &x);
        inc[i] = (uint8_t)x;
    }
    Strata__Ctl__BrokerListener l = STRATA__CTL__BROKER_LISTENER__INIT;
    Strata__Ctl__BrokerListener *ls[1] = {&l};
    l.name = "CLIENT";
    l.host = "127.0.0.1";
    l.port = 1;
    Strata__Ctl__BrokerRegistrationRequest m =
        STRATA__CTL__BROKER_REGISTRATION_REQUEST__INIT;
    m.broker_id = node;
    m.incarnation_id.data = inc;
    m.incarnation_id.len = 16;
    m.listeners = ls;
    m.n_listeners = 1;
    struct wait w;
    int rv = call(c, STRATA__CTL__API__BROKER_REGISTRATION, &m.base,
                  (struct st_bytes){NULL, 0}, 5000, &w);
    printf("register node=%d status=%s error=%d %s\n", node, st_strerror(rv),
           w.error, w.msg);
    wait_close(&w);
    st_rpc_client_free(c);
    return 0;
}

/* ---- latency at a fixed rate ---- */

static struct {
    struct prod_opts o;
    struct st_batch_builder *bb;
    uint8_t *val;
    int64_t to_send;
    int part;
    struct event *ev;
} L;

static void rate_cb(evutil_socket_t fd, short what, void *arg)
{
    if (L.to_send <= 0 || P.failed) {
        event_del(L.ev);
        return;
    }
    send_batch(L.bb, L.val, &L.o, L.part, L.o.batch, -1);
    L.part = (L.part + 1) % P.t.n_parts;
    L.to_send--;
}

static int latency(const struct prod_opts *o, int rate, int seconds)
{
    wait_ready(o->topic, &P.t, 30);
    P.acks = o->acks;
    L.o = *o;
    st_batch_builder_new(&L.bb);
    L.val = malloc(o->size + 64);
    L.to_send = (int64_t)rate * seconds;
    L.ev = event_new(base, -1, EV_PERSIST, rate_cb, NULL);
    struct timeval tv = {0, 1000000 / rate};
    if (rate == 1) {
        tv.tv_sec = 1;
        tv.tv_usec = 0;
    }
    event_add(L.ev, &tv);
    while ((L.to_send > 0 || P.inflight > 0) && !P.failed) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    event_free(L.ev);
    if (P.failed) {
        die("%s", P.why);
    }
    printf("rate %d batches/s x %d records of %zu B, acks=%d: ", rate,
           o->batch, o->size, o->acks);
    print_latency("produce");
    st_batch_builder_free(L.bb);
    free(L.val);
    return 0;
}

/* ---- main ---- */

static void load_expect(const char *path, struct cons *c, int n_parts)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        die("cannot read %s", path);
    }
    int p;
    long long n;
    while (fscanf(f, "%d %lld", &p, &n) == 2) {
        if (p >= 0 && p < n_parts) {
            c->want[p] = n;
            c->total_want += n;
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *bootstrap = NULL, *certs = NULL, *cmd = NULL;
    const char *pos[4] = {0};
    int n_pos = 0;
    struct prod_opts o = {100000, 100, 1, 100, 16, NULL, NULL, false};
    const char *expect_file = NULL, *controller = NULL, *incarnation = NULL;
    int64_t count_set = -1;
    int timeout_ms = 60000, rate = 100, seconds = 10, node = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--bootstrap") == 0 && v) { bootstrap = v; i++; }
        else if (strcmp(a, "--certs") == 0 && v) { certs = v; i++; }
        else if (strcmp(a, "--count") == 0 && v) { count_set = atoll(v); i++; }
        else if (strcmp(a, "--size") == 0 && v) { o.size = (size_t)atol(v); i++; }
        else if (strcmp(a, "--acks") == 0 && v) { o.acks = atoi(v); i++; }
        else if (strcmp(a, "--batch") == 0 && v) { o.batch = atoi(v); i++; }
        else if (strcmp(a, "--inflight") == 0 && v) { o.inflight = atoi(v); i++; }
        else if (strcmp(a, "--ack-file") == 0 && v) { o.ack_file = v; i++; }
        else if (strcmp(a, "--expect-file") == 0 && v) { expect_file = v; i++; }
        else if (strcmp(a, "--timeout-ms") == 0 && v) { timeout_ms = atoi(v); i++; }
        else if (strcmp(a, "--rate") == 0 && v) { rate = atoi(v); i++; }
        else if (strcmp(a, "--seconds") == 0 && v) { seconds = atoi(v); i++; }
        else if (strcmp(a, "--controller") == 0 && v) { controller = v; i++; }
        else if (strcmp(a, "--node-id") == 0 && v) { node = atoi(v); i++; }
        else if (strcmp(a, "--incarnation") == 0 && v) { incarnation = v; i++; }
        else if (cmd == NULL) { cmd = a; }
        else if (n_pos < 4) { pos[n_pos++] = a; }
        else { fprintf(stderr, "unexpected %s\n", a); return 2; }
    }
    if (count_set >= 0) {
        o.count = count_set;
    }
    if (certs == NULL || cmd == NULL ||
        (bootstrap == NULL && strcmp(cmd, "register") != 0) ||
        o.batch < 1 || o.inflight < 1 || rate < 1) {
        fprintf(stderr, "usage: broker_testcli --bootstrap HOST:PORT --certs "
                "DIR CMD ... (see the top of broker_testcli.c)\n");
        return 2;
    }
    char ca[4096], cert[4096], key[4096], err[ST_TLS_ERR_BYTES];
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    snprintf(cert, sizeof cert, "%s/client.pem", certs);
    snprintf(key, sizeof key, "%s/client.key", certs);
    struct st_tls_files files = {ca, cert, key};
    st_diag_set_level(ST_LEVEL_WARN);
    signal(SIGPIPE, SIG_IGN); /* a killed broker must not kill us */
    st_jobq_threads_init();
    base = event_base_new();
    if (st_tls_ctx_new(ST_TLS_CLIENT, &files, false, &tls, err,
                       sizeof err) != 0) {
        die("tls: %s", err);
    }
    if (strcmp(cmd, "register") == 0) {
        if (controller == NULL || incarnation == NULL || node < 0) {
            return 2;
        }
        return do_register(controller, node, incarnation);
    }
    const char *colon = strrchr(bootstrap, ':');
    if (colon == NULL) {
        return 2;
    }
    snprintf(conns[0].host, sizeof conns[0].host, "%.*s",
             (int)(colon - bootstrap), bootstrap);
    conns[0].port = (uint16_t)atoi(colon + 1);
    conns[0].id = -1;
    conns[0].c = client_to(conns[0].host, conns[0].port);
    int rv = 2;
    o.topic = pos[0];
    if (strcmp(cmd, "create-topic") == 0 && n_pos == 2) {
        rv = create_topic(pos[0], atoi(pos[1]));
    } else if (strcmp(cmd, "delete-topic") == 0 && n_pos == 1) {
        rv = delete_topic(pos[0]);
    } else if (strcmp(cmd, "alter-topic-config") == 0 && n_pos == 3) {
        rv = alter_topic_config(pos[0], pos[1], pos[2]);
    } else if (strcmp(cmd, "admin-check") == 0 && n_pos == 2) {
        rv = admin_check(pos[0], atoi(pos[1]));
    } else if (strcmp(cmd, "metadata") == 0) {
        rv = print_metadata();
    } else if ((strcmp(cmd, "produce") == 0 ||
                strcmp(cmd, "perf-produce") == 0) && n_pos == 1) {
        o.perf = cmd[0] == 'p' && cmd[1] == 'e';
        rv = produce(&o);
    } else if ((strcmp(cmd, "consume") == 0 ||
                strcmp(cmd, "perf-consume") == 0) && n_pos == 1) {
        struct cons c;
        memset(&c, 0, sizeof c);
        struct topic t;
        wait_topic(pos[0], &t, 20);
        c.size = o.size;
        c.verify = strcmp(cmd, "consume") == 0;
        if (expect_file != NULL) {
            load_expect(expect_file, &c, t.n_parts);
        } else {
            /* The same round robin of batches as produce. */
            int p = 0;
            for (int64_t sent = 0; sent < o.count;) {
                int64_t n = o.count - sent < o.batch ? o.count - sent
                                                     : o.batch;
                c.want[p] += n;
                sent += n;
                p = (p + 1) % t.n_parts;
            }
            c.total_want = o.count;
        }
        rv = consume(pos[0], &c, timeout_ms, !c.verify);
    } else if (strcmp(cmd, "time-check") == 0 && n_pos == 1) {
        rv = time_check(pos[0]);
    } else if (strcmp(cmd, "bad-input") == 0 && n_pos == 1) {
        rv = bad_input(pos[0]);
    } else if (strcmp(cmd, "expect-produce-error") == 0 && n_pos == 2) {
        rv = expect_produce_error(pos[0], atoi(pos[1]), o.acks);
    } else if (strcmp(cmd, "fenced-check") == 0 && n_pos == 3) {
        rv = fenced_check(pos[0], (pid_t)atoi(pos[1]), atoi(pos[2]));
    } else if (strcmp(cmd, "long-poll-check") == 0 && n_pos == 1) {
        rv = long_poll_check(pos[0]);
    } else if (strcmp(cmd, "latency") == 0 && n_pos == 1) {
        rv = latency(&o, rate, seconds);
    } else {
        fprintf(stderr, "unknown command or arguments: %s\n", cmd);
    }
    for (int k = 0; k < n_conns; k++) {
        st_rpc_client_free(conns[k].c);
    }
    st_tls_ctx_free(tls);
    event_base_free(base);
    free(P.lat_ns);
    return rv;
}
