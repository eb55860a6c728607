/* The controller service and Raft driver in one process: a single-voter
 * quorum (real driver, real raft_store on disk, real RPC over mTLS on
 * 127.0.0.1) answering the broker-facing and admin calls. Waits are
 * bounded loop runs: real networking and fsync need the wall clock. */
#include <event2/event.h>
#include <string.h>

#include "common/clock.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/jobq.h"
#include "common/rpc_client.h"
#include "common/rpc_server.h"
#include "common/tls.h"
#include "controller.pb-c.h"
#include "controller/metadata.h"
#include "controller/raft_driver.h"
#include "controller/service.h"
#include "errors.pb-c.h"
#include "test_util.h"

#define WAIT_MS 5000

static struct {
    char dir[256];
    char raft_dir[300];
    struct event_base *base;
    struct st_tls_ctx *srv_tls, *cli_tls;
    struct st_rpc_server *srv;
    struct st_ctl_service *svc;
    struct st_raft_driver *drv;
    struct st_rpc_client *cli;
    uint16_t port;
    int64_t snapshot_max_records;
    uint64_t session_ms;
} f;

static void make_tls(struct st_tls_ctx **out, enum st_tls_role role,
                     const char *name)
{
    const char *dir = st_test_certs_dir();
    char ca[512], cert[512], key[512], err[ST_TLS_ERR_BYTES];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/%s.pem", dir, name);
    snprintf(key, sizeof key, "%s/%s.key", dir, name);
    struct st_tls_files files = {ca, cert, key};
    ck_assert_msg(st_tls_ctx_new(role, &files, true, out, err, sizeof err) ==
                      0, "tls: %s", err);
}

static void fatal_cb(void *arg, int rv, const char *what)
{
    ck_abort_msg("storage failed: %s: %s", what, st_strerror(rv));
}

static void apply_cb(void *arg, const struct raft_entry *e)
{
    st_ctl_service_apply(f.svc, e);
}

static int restore_cb(void *arg, raft_index i, struct st_bytes d)
{
    return st_ctl_service_restore(f.svc, i, d);
}

static void role_cb(void *arg)
{
    if (f.drv != NULL) {
        st_ctl_service_role_changed(f.svc);
    }
}

/* Start (or restart on the same directory) the single voter. */
static void voter_start(void)
{
    struct st_rpc_server_config sc = {.host = "127.0.0.1", .port = f.port,
                                      .tls = f.srv_tls};
    ck_assert_int_eq(st_rpc_server_new(f.base, &sc, &f.srv), 0);
    f.port = st_rpc_server_port(f.srv);
    struct st_ctl_service_config cc = {0};
    cc.base = f.base;
    cc.server = f.srv;
    cc.id = 1;
    cc.cluster_id = "unit";
    cc.session_timeout_ms = f.session_ms;
    cc.heartbeat_interval_ms = 1000;
    cc.snapshot_max_records = f.snapshot_max_records;
    ck_assert_int_eq(st_ctl_service_new(&cc, &f.svc), 0);
    struct st_raft_peer_addr self = {.id = 1, .host = "127.0.0.1",
                                     .port = f.port};
    struct st_raft_driver_config dc = {0};
    dc.base = f.base;
    dc.server = f.srv;
    dc.client_tls = f.cli_tls;
    dc.id = 1;
    dc.voters = &self;
    dc.n_voters = 1;
    dc.dir = f.raft_dir;
    dc.cluster_id = "unit";
    dc.election_timeout_ms = 40;
    dc.heartbeat_ms = 10;
    dc.cbs = (struct st_raft_driver_cbs){apply_cb, restore_cb, role_cb,
                                         fatal_cb, NULL};
    char err[256];
    ck_assert_msg(st_raft_driver_new(&dc, &f.drv, err, sizeof err) == 0,
                  "driver: %s", err);
    st_ctl_service_attach(f.svc, f.drv);
    st_ctl_service_role_changed(f.svc);
    struct st_rpc_client_config cl = {.host = "127.0.0.1", .port = f.port,
                                      .tls = f.cli_tls,
                                      .backoff_initial_ms = 10,
                                      .backoff_max_ms = 50};
    ck_assert_int_eq(st_rpc_client_new(f.base, &cl, &f.cli), 0);
}

static void voter_stop(void)
{
    st_rpc_client_free(f.cli);
    st_ctl_service_free(f.svc);
    st_raft_driver_close(f.drv);
    st_rpc_server_free(f.srv);
    f.cli = NULL;
    f.svc = NULL;
    f.drv = NULL;
    f.srv = NULL;
}

static void setup(void)
{
    memset(&f, 0, sizeof f);
    st_diag_set_level(ST_LEVEL_WARN);
    st_test_tmpdir(f.dir, sizeof f.dir);
    snprintf(f.raft_dir, sizeof f.raft_dir, "%s/raft", f.dir);
    ck_assert_int_eq(st_jobq_threads_init(), 0);
    f.base = event_base_new();
    make_tls(&f.srv_tls, ST_TLS_SERVER, "node1");
    make_tls(&f.cli_tls, ST_TLS_CLIENT, "client");
    f.snapshot_max_records = 1000;
    f.session_ms = 60000;
}

static void teardown(void)
{
    voter_stop();
    st_tls_ctx_free(f.srv_tls);
    st_tls_ctx_free(f.cli_tls);
    event_base_free(f.base);
    st_test_rmdir(f.dir);
}

/* Run the loop until *@flag or WAIT_MS passed. */
static bool run_until(const bool *flag)
{
    uint64_t end = st_mono_ms(st_clock_real()) + WAIT_MS;
    while (!*flag && st_mono_ms(st_clock_real()) < end) {
        event_base_loop(f.base, EVLOOP_ONCE);
    }
    return *flag;
}

static void wait_active(void)
{
    uint64_t end = st_mono_ms(st_clock_real()) + WAIT_MS;
    while (raft_commit_index(st_raft_driver_core(f.drv)) == 0 ||
           st_raft_driver_applied(f.drv) <
               raft_last_index(st_raft_driver_core(f.drv))) {
        ck_assert_msg(st_mono_ms(st_clock_real()) < end, "no leader");
        event_base_loop(f.base, EVLOOP_ONCE);
    }
}

struct answer {
    bool done;
    int status;
    int32_t error;
    uint8_t body[1 << 18];
    size_t len;
};

static void answer_cb(void *arg, int status, const struct st_rpc_response *r)
{
    struct answer *a = arg;
    a->done = true;
    a->status = status;
    if (r != NULL) {
        a->error = r->error;
        ck_assert_uint_le(r->body.len, sizeof a->body);
        memcpy(a->body, r->body.base, r->body.len);
        a->len = r->body.len;
    }
}

static void send_req(uint32_t api, const ProtobufCMessage *m,
                     struct answer *a)
{
    static uint8_t buf[1 << 16];
    size_t n = protobuf_c_message_pack(m, buf);
    struct st_rpc_call call = {.api = api, .body = {buf, n},
                               .timeout_ms = WAIT_MS};
    memset(a, 0, sizeof *a);
    ck_assert_int_eq(st_rpc_client_send(f.cli, &call, answer_cb, a, NULL), 0);
}

static struct answer ans; /* big: static */

static ProtobufCMessage *call(uint32_t api, const ProtobufCMessage *m,
                              const ProtobufCMessageDescriptor *d,
                              int32_t *error)
{
    send_req(api, m, &ans);
    ck_assert_msg(run_until(&ans.done), "no answer to api %u", api);
    ck_assert_int_eq(ans.status, 0);
    *error = ans.error;
    ProtobufCMessage *r = protobuf_c_message_unpack(d, NULL, ans.len,
                                                    ans.body);
    ck_assert_ptr_nonnull(r);
    return r;
}

static int64_t register_broker(int32_t id)
{
    uint8_t inc[16] = {1, 2, 3, (uint8_t)id};
    Strata__Ctl__BrokerRegistrationRequest req =
        STRATA__CTL__BROKER_REGISTRATION_REQUEST__INIT;
    req.broker_id = id;
    req.incarnation_id = (ProtobufCBinaryData){sizeof inc, inc};
    int32_t err;
    Strata__Ctl__BrokerRegistrationResponse *r = (void *)call(
        STRATA__CTL__API__BROKER_REGISTRATION, &req.base,
        &strata__ctl__broker_registration_response__descriptor, &err);
    ck_assert_int_eq(err, 0);
    int64_t epoch = r->broker_epoch;
    ck_assert_int_gt(epoch, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return epoch;
}

static bool heartbeat(int32_t id, int64_t epoch, int64_t offset)
{
    Strata__Ctl__BrokerHeartbeatRequest req =
        STRATA__CTL__BROKER_HEARTBEAT_REQUEST__INIT;
    req.broker_id = id;
    req.broker_epoch = epoch;
    req.metadata_offset = offset;
    int32_t err;
    Strata__Ctl__BrokerHeartbeatResponse *r = (void *)call(
        STRATA__CTL__API__BROKER_HEARTBEAT, &req.base,
        &strata__ctl__broker_heartbeat_response__descriptor, &err);
    ck_assert_int_eq(err, 0);
    bool fenced = r->fenced;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return fenced;
}

static void create_topic(const char *name, int parts, int rf)
{
    Strata__Ctl__CreatableTopic t = STRATA__CTL__CREATABLE_TOPIC__INIT;
    t.name = (char *)name;
    t.partitions = parts;
    t.replication_factor = rf;
    Strata__Ctl__CreatableTopic *tp = &t;
    Strata__Ctl__CreateTopicsRequest req =
        STRATA__CTL__CREATE_TOPICS_REQUEST__INIT;
    req.topics = &tp;
    req.n_topics = 1;
    int32_t err;
    Strata__Ctl__CreateTopicsResponse *r = (void *)call(
        STRATA__CTL__API__CREATE_TOPICS, &req.base,
        &strata__ctl__create_topics_response__descriptor, &err);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(r->n_topics, 1);
    ck_assert_msg(r->topics[0]->error->error == 0, "create %s: %s", name,
                  r->topics[0]->error->message);
    ck_assert_uint_eq(r->topics[0]->topic_id.len, 16);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void brokers_up(int n)
{
    for (int32_t id = 1; id <= n; id++) {
        int64_t epoch = register_broker(id);
        ck_assert(!heartbeat(id, epoch, epoch));
    }
}

/* ---- tests ---- */

START_TEST(test_registered_broker_is_unfenced_by_caught_up_heartbeat)
{
    /* Given an active controller and a registered broker, */
    voter_start();
    wait_active();
    int64_t epoch = register_broker(7);
    /* a heartbeat that has not seen its own registration keeps it fenced, */
    ck_assert(heartbeat(7, epoch, epoch - 1));
    /* and one that has seen it unfences it. */
    ck_assert(!heartbeat(7, epoch, epoch));
}
END_TEST

START_TEST(test_fetch_metadata_returns_committed_records_after_offset)
{
    /* Given a broker and a topic committed, */
    voter_start();
    wait_active();
    brokers_up(1);
    create_topic("orders", 2, 1);
    /* when a broker fetches from the start, */
    Strata__Ctl__FetchMetadataRequest req =
        STRATA__CTL__FETCH_METADATA_REQUEST__INIT;
    req.offset = -1;
    int32_t err;
    Strata__Ctl__FetchMetadataResponse *r = (void *)call(
        STRATA__CTL__API__FETCH_METADATA, &req.base,
        &strata__ctl__fetch_metadata_response__descriptor, &err);
    ck_assert_int_eq(err, 0);
    /* it gets register, unfence and create-topic, which rebuild the state. */
    ck_assert_uint_eq(r->n_records, 3);
    ck_assert_int_eq(r->snapshot_offset, -1);
    struct st_meta *m;
    ck_assert_int_eq(st_meta_new(&m), 0);
    for (size_t i = 0; i < r->n_records; i++) {
        ck_assert_int_eq(st_meta_apply(m, r->records[i]->offset,
                                       r->records[i]->record.data,
                                       r->records[i]->record.len), 0);
    }
    ck_assert_ptr_nonnull(st_meta_topic_by_name(m, "orders"));
    ck_assert_int_eq(r->high_watermark, r->records[2]->offset);
    ck_assert_int_eq(st_meta_last_offset(m), r->high_watermark);
    st_meta_free(m);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}
END_TEST

START_TEST(test_fetch_metadata_long_poll_is_woken_by_a_commit)
{
    /* Given a broker that has every record and long-polls for 4 s, */
    voter_start();
    wait_active();
    brokers_up(1);
    Strata__Ctl__FetchMetadataRequest req =
        STRATA__CTL__FETCH_METADATA_REQUEST__INIT;
    req.offset = (int64_t)st_raft_driver_applied(f.drv);
    req.max_wait_ms = 4000;
    static struct answer poll;
    send_req(STRATA__CTL__API__FETCH_METADATA, &req.base, &poll);
    uint64_t t0 = st_mono_ms(st_clock_real());
    /* when a topic is created meanwhile, */
    create_topic("late", 1, 1);
    /* the poll is answered with it long before its max wait. */
    ck_assert(run_until(&poll.done));
    ck_assert_uint_lt(st_mono_ms(st_clock_real()) - t0, 3000);
    Strata__Ctl__FetchMetadataResponse *r =
        strata__ctl__fetch_metadata_response__unpack(NULL, poll.len,
                                                     poll.body);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->n_records, 1);
    ck_assert_int_gt(r->records[0]->offset, req.offset);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}
END_TEST

START_TEST(test_fetch_below_log_start_answers_with_a_snapshot)
{
    /* Given snapshots every 2 records and enough records for one, */
    f.snapshot_max_records = 2;
    voter_start();
    wait_active();
    brokers_up(1);
    create_topic("a", 1, 1);
    create_topic("b", 1, 1);
    uint64_t end = st_mono_ms(st_clock_real()) + WAIT_MS;
    while (raft_snapshot(st_raft_driver_core(f.drv)).index == 0) {
        ck_assert(st_mono_ms(st_clock_real()) < end);
        event_base_loop(f.base, EVLOOP_ONCE);
    }
    /* when a broker fetches from the start, */
    Strata__Ctl__FetchMetadataRequest req =
        STRATA__CTL__FETCH_METADATA_REQUEST__INIT;
    req.offset = -1;
    int32_t err;
    Strata__Ctl__FetchMetadataResponse *r = (void *)call(
        STRATA__CTL__API__FETCH_METADATA, &req.base,
        &strata__ctl__fetch_metadata_response__descriptor, &err);
    ck_assert_int_eq(err, 0);
    /* it gets the snapshot, then the records after it. */
    ck_assert_int_gt(r->snapshot_offset, 0);
    struct st_meta *m;
    ck_assert_int_eq(st_meta_new(&m), 0);
    ck_assert_int_eq(st_meta_snapshot_load(m, r->snapshot.data,
                                           r->snapshot.len), 0);
    for (size_t i = 0; i < r->n_records; i++) {
        ck_assert_int_gt(r->records[i]->offset, r->snapshot_offset);
        ck_assert_int_eq(st_meta_apply(m, r->records[i]->offset,
                                       r->records[i]->record.data,
                                       r->records[i]->record.len), 0);
    }
    ck_assert_uint_eq(st_meta_topic_count(m), 2);
    st_meta_free(m);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}
END_TEST

START_TEST(test_alter_partition_checks_the_partition_epoch)
{
    /* Given a topic on brokers 1 and 2, */
    voter_start();
    wait_active();
    brokers_up(2);
    create_topic("isr", 1, 2);
    Strata__Ctl__DescribeTopicsRequest dreq =
        STRATA__CTL__DESCRIBE_TOPICS_REQUEST__INIT;
    int32_t err;
    Strata__Ctl__DescribeTopicsResponse *d = (void *)call(
        STRATA__CTL__API__DESCRIBE_TOPICS, &dreq.base,
        &strata__ctl__describe_topics_response__descriptor, &err);
    ck_assert_uint_eq(d->n_topics, 1);
    const Strata__Ctl__PartitionInfo *p = d->topics[0]->partitions[0];
    int32_t leader = p->leader;
    int32_t epoch = p->partition_epoch;
    uint8_t id[16];
    memcpy(id, d->topics[0]->topic_id.data, 16);
    protobuf_c_message_free_unpacked(&d->base, NULL);
    /* when its leader shrinks the ISR to itself with a stale epoch, */
    Strata__Ctl__AlterPartitionRequest req =
        STRATA__CTL__ALTER_PARTITION_REQUEST__INIT;
    req.broker_id = leader;
    req.topic_id = (ProtobufCBinaryData){16, id};
    req.partition = 0;
    int32_t isr[1] = {leader};
    req.new_isr = isr;
    req.n_new_isr = 1;
    /* (the broker epochs are the registration offsets: look them up) */
    Strata__Ctl__FetchMetadataRequest freq =
        STRATA__CTL__FETCH_METADATA_REQUEST__INIT;
    freq.offset = -1;
    Strata__Ctl__FetchMetadataResponse *fr = (void *)call(
        STRATA__CTL__API__FETCH_METADATA, &freq.base,
        &strata__ctl__fetch_metadata_response__descriptor, &err);
    struct st_meta *m;
    ck_assert_int_eq(st_meta_new(&m), 0);
    for (size_t i = 0; i < fr->n_records; i++) {
        st_meta_apply(m, fr->records[i]->offset, fr->records[i]->record.data,
                      fr->records[i]->record.len);
    }
    req.broker_epoch = st_meta_broker_find(m, leader)->epoch;
    st_meta_free(m);
    protobuf_c_message_free_unpacked(&fr->base, NULL);
    req.leader_epoch = 0;
    req.partition_epoch = epoch + 5;
    Strata__Ctl__AlterPartitionResponse *r = (void *)call(
        STRATA__CTL__API__ALTER_PARTITION, &req.base,
        &strata__ctl__alter_partition_response__descriptor, &err);
    /* it is refused; */
    ck_assert_int_ne(err, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* with the current epoch it is applied and the epoch moves on. */
    req.partition_epoch = epoch;
    r = (void *)call(STRATA__CTL__API__ALTER_PARTITION, &req.base,
                     &strata__ctl__alter_partition_response__descriptor,
                     &err);
    ck_assert_int_eq(err, 0);
    ck_assert_int_eq(r->partition_epoch, epoch + 1);
    ck_assert_uint_eq(r->n_isr, 1);
    ck_assert_int_eq(r->isr[0], leader);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}
END_TEST

START_TEST(test_producer_id_blocks_do_not_overlap)
{
    /* Given a registered, unfenced broker, */
    voter_start();
    wait_active();
    int64_t epoch = register_broker(3);
    ck_assert(!heartbeat(3, epoch, epoch));
    Strata__Ctl__AllocateProducerIdsRequest req =
        STRATA__CTL__ALLOCATE_PRODUCER_IDS_REQUEST__INIT;
    req.broker_id = 3;
    req.broker_epoch = epoch;
    int64_t next = 0;
    /* each allocation starts where the previous one ended. */
    for (int i = 0; i < 3; i++) {
        int32_t err;
        Strata__Ctl__AllocateProducerIdsResponse *r = (void *)call(
            STRATA__CTL__API__ALLOCATE_PRODUCER_IDS, &req.base,
            &strata__ctl__allocate_producer_ids_response__descriptor, &err);
        ck_assert_int_eq(err, 0);
        ck_assert_int_eq(r->start, next);
        next = r->start + r->size;
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
}
END_TEST

START_TEST(test_restart_recovers_the_metadata_from_the_log)
{
    /* Given topics committed, */
    voter_start();
    wait_active();
    brokers_up(1);
    create_topic("kept", 3, 1);
    /* when the voter restarts on the same directory, */
    voter_stop();
    voter_start();
    wait_active();
    /* the topic is described again. */
    Strata__Ctl__ListTopicsRequest req = STRATA__CTL__LIST_TOPICS_REQUEST__INIT;
    int32_t err;
    Strata__Ctl__ListTopicsResponse *r = (void *)call(
        STRATA__CTL__API__LIST_TOPICS, &req.base,
        &strata__ctl__list_topics_response__descriptor, &err);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(r->n_topics, 1);
    ck_assert_str_eq(r->topics[0]->name, "kept");
    ck_assert_uint_eq(r->topics[0]->n_partitions, 3);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}
END_TEST

/* The metadata as a broker would rebuild it from FetchMetadata. */
static struct st_meta *fetch_state(void)
{
    Strata__Ctl__FetchMetadataRequest req =
        STRATA__CTL__FETCH_METADATA_REQUEST__INIT;
    req.offset = -1;
    int32_t err;
    Strata__Ctl__FetchMetadataResponse *r = (void *)call(
        STRATA__CTL__API__FETCH_METADATA, &req.base,
        &strata__ctl__fetch_metadata_response__descriptor, &err);
    ck_assert_int_eq(err, 0);
    struct st_meta *m;
    ck_assert_int_eq(st_meta_new(&m), 0);
    for (size_t i = 0; i < r->n_records; i++) {
        st_meta_apply(m, r->records[i]->offset, r->records[i]->record.data,
                      r->records[i]->record.len);
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return m;
}

START_TEST(test_broker_without_heartbeats_is_fenced_after_session_timeout)
{
    /* Given a 300 ms session and an unfenced broker, */
    f.session_ms = 300;
    voter_start();
    wait_active();
    int64_t epoch = register_broker(5);
    ck_assert(!heartbeat(5, epoch, epoch));
    uint64_t t0 = st_mono_ms(st_clock_real());
    /* when it stops heartbeating, the active controller fences it, */
    bool fenced = false;
    while (!fenced) {
        ck_assert(st_mono_ms(st_clock_real()) - t0 < WAIT_MS);
        struct st_meta *m = fetch_state();
        fenced = st_meta_broker_find(m, 5)->fenced;
        st_meta_free(m);
        struct timeval tv = {0, 20000};
        event_base_loopexit(f.base, &tv);
        event_base_dispatch(f.base);
    }
    /* not before its session ran out. */
    ck_assert_uint_ge(st_mono_ms(st_clock_real()) - t0, 300);
}
END_TEST

START_TEST(test_high_watermark_is_the_last_record_not_a_raft_noop)
{
    /* Given a record committed, then a restart whose new term begins with
     * a Raft no-op (the last entry of the log, but not a record), */
    voter_start();
    wait_active();
    int64_t epoch = register_broker(9);
    voter_stop();
    voter_start();
    wait_active();
    ck_assert_uint_gt(st_raft_driver_applied(f.drv), (uint64_t)epoch);
    /* a fetch reports the record's offset as the high watermark, so a
     * broker that applied it counts as caught up. */
    Strata__Ctl__FetchMetadataRequest req =
        STRATA__CTL__FETCH_METADATA_REQUEST__INIT;
    req.offset = -1;
    int32_t err;
    Strata__Ctl__FetchMetadataResponse *r = (void *)call(
        STRATA__CTL__API__FETCH_METADATA, &req.base,
        &strata__ctl__fetch_metadata_response__descriptor, &err);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(r->n_records, 1);
    ck_assert_int_eq(r->records[0]->offset, epoch);
    ck_assert_int_eq(r->high_watermark, epoch);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}
END_TEST

START_TEST(test_concurrent_creates_share_fsyncs)
{
    /* Given a broker, and 40 topic creations sent without waiting, */
    voter_start();
    wait_active();
    brokers_up(1);
    struct st_raft_driver_stats before, after;
    st_raft_driver_stats(f.drv, &before);
    static struct answer as[40];
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof name, "burst%d", i);
        Strata__Ctl__CreatableTopic t = STRATA__CTL__CREATABLE_TOPIC__INIT;
        t.name = name;
        t.partitions = 1;
        t.replication_factor = 1;
        Strata__Ctl__CreatableTopic *tp = &t;
        Strata__Ctl__CreateTopicsRequest req =
            STRATA__CTL__CREATE_TOPICS_REQUEST__INIT;
        req.topics = &tp;
        req.n_topics = 1;
        send_req(STRATA__CTL__API__CREATE_TOPICS, &req.base, &as[i]);
    }
    /* when all are answered, */
    for (int i = 0; i < 40; i++) {
        ck_assert(run_until(&as[i].done));
        ck_assert_int_eq(as[i].error, 0);
    }
    /* every entry was written, with fewer fsyncs than entries. */
    st_raft_driver_stats(f.drv, &after);
    ck_assert_uint_ge(after.entries_written - before.entries_written, 40);
    ck_assert_uint_lt(after.log_syncs - before.log_syncs, 40);
}
END_TEST

START_TEST(test_unknown_topic_is_a_per_topic_error)
{
    voter_start();
    wait_active();
    /* Given no topics, deleting one answers UNKNOWN_TOPIC_OR_PARTITION. */
    char *names[1] = {"ghost"};
    Strata__Ctl__DeleteTopicsRequest req =
        STRATA__CTL__DELETE_TOPICS_REQUEST__INIT;
    req.names = names;
    req.n_names = 1;
    int32_t err;
    Strata__Ctl__DeleteTopicsResponse *r = (void *)call(
        STRATA__CTL__API__DELETE_TOPICS, &req.base,
        &strata__ctl__delete_topics_response__descriptor, &err);
    ck_assert_int_eq(err, 0);
    ck_assert_int_eq(r->topics[0]->error->error,
                     STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}
END_TEST

static Strata__Ctl__CreatePartitionsResponse *
create_partitions(const char *name, int32_t total)
{
    Strata__Ctl__CreatePartitionsTopic t =
        STRATA__CTL__CREATE_PARTITIONS_TOPIC__INIT;
    t.name = (char *)name;
    t.total = total;
    Strata__Ctl__CreatePartitionsTopic *tp = &t;
    Strata__Ctl__CreatePartitionsRequest req =
        STRATA__CTL__CREATE_PARTITIONS_REQUEST__INIT;
    req.topics = &tp;
    req.n_topics = 1;
    int32_t err;
    Strata__Ctl__CreatePartitionsResponse *r = (void *)call(
        STRATA__CTL__API__CREATE_PARTITIONS, &req.base,
        &strata__ctl__create_partitions_response__descriptor, &err);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(r->n_topics, 1);
    ck_assert_str_eq(r->topics[0]->name, name);
    return r;
}

START_TEST(test_create_partitions_grows_a_topic_and_refuses_shrinking)
{
    /* Given three brokers and a topic of 2 partitions, */
    voter_start();
    wait_active();
    brokers_up(3);
    create_topic("grow", 2, 2);
    /* when it is grown to 5, the answer comes once the new partitions are
     * in the committed metadata, with the topic's replication factor; */
    Strata__Ctl__CreatePartitionsResponse *r = create_partitions("grow", 5);
    ck_assert_msg(r->topics[0]->error->error == 0, "%s",
                  r->topics[0]->error->message);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    struct st_meta *m = fetch_state();
    const struct st_meta_topic *t = st_meta_topic_by_name(m, "grow");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->n_parts, 5);
    for (int32_t p = 2; p < 5; p++) {
        ck_assert_int_eq(t->parts[p].n_replicas, 2);
        ck_assert_int_ge(t->parts[p].leader, 1);
    }
    st_meta_free(m);
    /* a total not above the current count is INVALID_PARTITIONS, */
    r = create_partitions("grow", 5);
    ck_assert_int_eq(r->topics[0]->error->error,
                     STRATA__ERROR_CODE__INVALID_PARTITIONS);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* and an unknown topic is UNKNOWN_TOPIC_OR_PARTITION. */
    r = create_partitions("ghost", 3);
    ck_assert_int_eq(r->topics[0]->error->error,
                     STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("ctl_service");
    TCase *tc = tcase_create("service");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc,
                   test_registered_broker_is_unfenced_by_caught_up_heartbeat);
    tcase_add_test(tc,
                   test_fetch_metadata_returns_committed_records_after_offset);
    tcase_add_test(tc, test_fetch_metadata_long_poll_is_woken_by_a_commit);
    tcase_add_test(tc, test_fetch_below_log_start_answers_with_a_snapshot);
    tcase_add_test(tc, test_alter_partition_checks_the_partition_epoch);
    tcase_add_test(tc, test_producer_id_blocks_do_not_overlap);
    tcase_add_test(tc, test_restart_recovers_the_metadata_from_the_log);
    tcase_add_test(tc, test_unknown_topic_is_a_per_topic_error);
    tcase_add_test(tc,
                   test_create_partitions_grows_a_topic_and_refuses_shrinking);
    tcase_add_test(tc, test_concurrent_creates_share_fsyncs);
    tcase_add_test(tc,
                   test_high_watermark_is_the_last_record_not_a_raft_noop);
    tcase_add_test(tc,
                   test_broker_without_heartbeats_is_fenced_after_session_timeout);
    suite_add_tcase(s, tc);
    return s;
}
