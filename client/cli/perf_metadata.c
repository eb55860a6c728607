/* strata perf metadata --topics N: topic creations per second committed
 * through the controller quorum. Registers placeholder brokers (so that
 * replicas can be placed), then pipelines CreateTopics (one topic each,
 * --inflight at a time) straight to the active controller; a creation
 * counts once its answer says it is committed and applied. */
#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/cli/cli.h"
#include "client/cli/ctl_rpc.h"
#include "common/alloc.h"
#include "common/rpc_client.h"
#include "controller.pb-c.h"

#define BROKERS_MAX 32

struct run {
    struct st_rpc_client *client;
    struct event *hb_timer;
    int32_t broker_ids[BROKERS_MAX];
    int64_t broker_epochs[BROKERS_MAX];
    int n_brokers;
    char prefix[64];
    int32_t partitions, rf;
    long total, sent, ok, failed, inflight;
    char first_err[256];
};

static void send_next(struct run *r);

static void hb_sent_cb(void *arg, int status, const struct st_rpc_response *x)
{
    (void)arg;
    (void)status;
    (void)x;
}

/* Keep the placeholder brokers' sessions alive during long runs. */
static void hb_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct run *r = arg;
    (void)fd;
    (void)what;
    for (int i = 0; i < r->n_brokers; i++) {
        Strata__Ctl__BrokerHeartbeatRequest hb =
            STRATA__CTL__BROKER_HEARTBEAT_REQUEST__INIT;
        hb.broker_id = r->broker_ids[i];
        hb.broker_epoch = r->broker_epochs[i];
        hb.metadata_offset = r->broker_epochs[i];
        uint8_t buf[64];
        size_t n = strata__ctl__broker_heartbeat_request__pack(&hb, buf);
        struct st_rpc_call call = {0};
        call.api = STRATA__CTL__API__BROKER_HEARTBEAT;
        call.body = (struct st_bytes){buf, n};
        call.timeout_ms = 2000;
        st_rpc_client_send(r->client, &call, hb_sent_cb, r, NULL);
    }
}

static void created_cb(void *arg, int status,
                       const struct st_rpc_response *resp)
{
    struct run *r = arg;
    r->inflight--;
    int e = status != 0 ? -1 : resp->error;
    if (e == 0) {
        Strata__Ctl__CreateTopicsResponse *m =
            strata__ctl__create_topics_response__unpack(NULL, resp->body.len,
                                                        resp->body.base);
        if (m == NULL || m->n_topics != 1) {
            e = -2;
        } else if (m->topics[0]->error && m->topics[0]->error->error) {
            e = m->topics[0]->error->error;
            if (r->first_err[0] == '\0') {
                snprintf(r->first_err, sizeof r->first_err, "%s",
                         m->topics[0]->error->message);
            }
        }
        if (m != NULL) {
            strata__ctl__create_topics_response__free_unpacked(m, NULL);
        }
    } else if (r->first_err[0] == '\0') {
        snprintf(r->first_err, sizeof r->first_err, "%s",
                 resp ? resp->error_message : "transport failure");
    }
    if (e == 0) {
        r->ok++;
    } else {
        r->failed++;
    }
    send_next(r);
}

static void send_next(struct run *r)
{
    if (r->sent >= r->total) {
        return;
    }
    char name[128];
    snprintf(name, sizeof name, "%s-%ld", r->prefix, r->sent);
    Strata__Ctl__CreatableTopic t = STRATA__CTL__CREATABLE_TOPIC__INIT;
    t.name = name;
    t.partitions = r->partitions;
    t.replication_factor = r->rf;
    Strata__Ctl__CreatableTopic *tp = &t;
    Strata__Ctl__CreateTopicsRequest req =
        STRATA__CTL__CREATE_TOPICS_REQUEST__INIT;
    req.topics = &tp;
    req.n_topics = 1;
    uint8_t buf[512];
    size_t n = strata__ctl__create_topics_request__pack(&req, buf);
    struct st_rpc_call call = {0};
    call.api = STRATA__CTL__API__CREATE_TOPICS;
    call.body = (struct st_bytes){buf, n};
    call.timeout_ms = 10000;
    r->sent++;
    if (st_rpc_client_send(r->client, &call, created_cb, r, NULL) == 0) {
        r->inflight++;
    } else {
        r->failed++;
    }
}

int perf_metadata(const struct cli_opts *o, int argc, char **argv)
{
    struct run r = {0};
    long inflight = 32;
    /* Fresh placeholder broker ids per run: a live registration of an
     * earlier run cannot be taken over, and we need the epochs to keep
     * them alive with heartbeats. */
    int32_t broker_base = 100000 + (int32_t)(getpid() % 100000) * 32;
    r.partitions = 1;
    r.rf = 1;
    snprintf(r.prefix, sizeof r.prefix, "perf-%d", (int)getpid());
    for (int i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--topics") == 0) {
            r.total = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--partitions") == 0) {
            r.partitions = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--replication-factor") == 0) {
            r.rf = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--inflight") == 0) {
            inflight = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--broker-base") == 0) {
            broker_base = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--prefix") == 0) {
            snprintf(r.prefix, sizeof r.prefix, "%s", argv[i + 1]);
        } else {
            fprintf(stderr, "strata: perf metadata: bad argument '%s'\n",
                    argv[i]);
            return 2;
        }
    }
    if (r.total <= 0 || inflight <= 0 || r.rf <= 0 || r.partitions <= 0 ||
        r.rf > BROKERS_MAX) {
        fprintf(stderr, "usage: strata perf metadata --topics N "
                "[--partitions P] [--replication-factor R (<= %d)] "
                "[--inflight K] [--broker-base ID] [--prefix NAME]\n",
                BROKERS_MAX);
        return 2;
    }
    char err[1024];
    struct cli_ctl *c;
    if (cli_ctl_open(o, &c, err, sizeof err) != 0) {
        fprintf(stderr, "strata: %s\n", err);
        return 2;
    }
    /* Placeholder brokers so that rf replicas can be placed. */
    for (int32_t b = 0; b < r.rf; b++) {
        int64_t epoch;
        int32_t id = broker_base + b;
        if (cli_broker_register(c, id, "127.0.0.1", 9092, "", &epoch, err,
                                sizeof err) != 0) {
            fprintf(stderr, "strata: perf metadata: broker %" PRId32 ": %s\n",
                    id, err);
            cli_ctl_close(c);
            return 1;
        }
        r.broker_ids[r.n_brokers] = id;
        r.broker_epochs[r.n_brokers++] = epoch;
    }
    char host[256];
    uint16_t port;
    cli_ctl_current(c, host, sizeof host, &port); /* the leader */
    r.client = cli_ctl_client(c, host, port);
    r.hb_timer = event_new(cli_ctl_base(c), -1, EV_PERSIST, hb_timer_cb, &r);
    struct timeval hb_tv = {1, 0};
    if (r.hb_timer != NULL) {
        event_add(r.hb_timer, &hb_tv);
    }
    uint64_t t0 = cli_now_ms();
    while (r.inflight < inflight && r.sent < r.total) {
        send_next(&r);
    }
    while (r.inflight > 0) {
        event_base_loop(cli_ctl_base(c), EVLOOP_ONCE);
    }
    uint64_t ms = cli_now_ms() - t0;
    if (r.hb_timer != NULL) {
        event_free(r.hb_timer);
    }
    st_rpc_client_free(r.client);
    cli_ctl_close(c);
    double rate = ms ? (double)r.ok * 1000.0 / (double)ms : 0.0;
    if (o->json) {
        printf("{\"topics\":%ld,\"failed\":%ld,\"ms\":%" PRIu64
               ",\"topics_per_s\":%.1f,\"inflight\":%ld,\"partitions\":%d,"
               "\"replication_factor\":%d}\n", r.ok, r.failed, ms, rate,
               inflight, r.partitions, r.rf);
    } else {
        printf("created %ld topics (%ld failed) in %" PRIu64 " ms: %.1f "
               "topics/s committed (inflight %ld, partitions %d, rf %d, "
               "leader %s:%u)\n", r.ok, r.failed, ms, rate, inflight,
               r.partitions, r.rf, host, port);
    }
    if (r.failed > 0) {
        fprintf(stderr, "strata: perf metadata: first error: %s\n",
                r.first_err);
    }
    return r.failed > 0 ? 1 : 0;
}
