/* Controller broker-facing APIs: registration, heartbeat, metadata fetch
 * (long poll), alter partition, producer ids (see service.h). */
#include <event2/event.h>
#include <inttypes.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/service_int.h"

#define FETCH_RECORDS_DEFAULT 1000
#define FETCH_BYTES_MAX (8u << 20)
#define FETCH_WAIT_MAX_MS 30000

struct err_ctx {
    int code;
    char msg[256];
};

static void reply_err(struct st_ctl_service *s, struct st_rpc_reply *reply,
                      int code, const char *msg)
{
    /* Every response has `controller = 1`; send it with the error. */
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    Strata__Ctl__BrokerHeartbeatResponse any =
        STRATA__CTL__BROKER_HEARTBEAT_RESPONSE__INIT;
    any.controller = &ci;
    svc_reply(reply, code ? code : STRATA__ERROR_CODE__UNKNOWN, msg,
              &any.base);
}

/* Decode @body with @desc, or answer CORRUPT_MESSAGE / NOT_CONTROLLER and
 * return NULL. */
static ProtobufCMessage *begin(struct st_ctl_service *s,
                               const struct st_rpc_request *req,
                               struct st_rpc_reply *reply,
                               const ProtobufCMessageDescriptor *desc)
{
    svc_count(s, req->api);
    if (!svc_is_active(s)) {
        svc_not_controller(s, reply);
        return NULL;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, req->body.len,
                                                    req->body.base);
    if (m == NULL) {
        svc_reply(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                  "request does not decode", NULL);
    }
    return m;
}

/* ---- registration ---- */

struct reg_ctx {
    struct err_ctx e;
    int32_t broker_id;
    int64_t epoch;
};

static void reg_done(struct st_ctl_service *s, struct waiter *w, int error,
                     const char *msg)
{
    struct reg_ctx *c = w->ctx;
    if (w->reply == NULL) {
        return;
    }
    if (error != 0) {
        reply_err(s, w->reply, error, msg);
        return;
    }
    const struct st_meta_broker *b = st_meta_broker_find(s->applied,
                                                         c->broker_id);
    Strata__Ctl__BrokerRegistrationResponse resp =
        STRATA__CTL__BROKER_REGISTRATION_RESPONSE__INIT;
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    resp.controller = &ci;
    resp.broker_epoch = c->epoch >= 0 ? c->epoch : b ? b->epoch : -1;
    if (resp.broker_epoch < 0) {
        reply_err(s, w->reply, STRATA__ERROR_CODE__UNKNOWN,
                  "the registration was refused when applied");
        return;
    }
    svc_reply(w->reply, 0, NULL, &resp.base);
}

static void broker_registration(void *arg, const struct st_rpc_request *req,
                                struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    Strata__Ctl__BrokerRegistrationRequest *in =
        (void *)begin(s, req, reply,
                      &strata__ctl__broker_registration_request__descriptor);
    if (in == NULL) {
        return;
    }
    struct reg_ctx *c = st_calloc(1, sizeof *c);
    struct st_meta_listener *ls = st_calloc(in->n_listeners + 1, sizeof *ls);
    if (c == NULL || ls == NULL || in->incarnation_id.len != ST_META_UUID_LEN) {
        reply_err(s, reply, STRATA__ERROR_CODE__INVALID_REQUEST,
                  c && ls ? "incarnation_id must be 16 bytes" : "no memory");
        st_free(c);
        st_free(ls);
        protobuf_c_message_free_unpacked(&in->base, NULL);
        return;
    }
    for (size_t i = 0; i < in->n_listeners; i++) {
        ls[i].name = in->listeners[i]->name;
        ls[i].host = in->listeners[i]->host;
        ls[i].port = (uint16_t)in->listeners[i]->port;
    }
    struct st_meta_register r = {0};
    r.broker_id = in->broker_id;
    memcpy(r.incarnation, in->incarnation_id.data, ST_META_UUID_LEN);
    r.listeners = ls;
    r.n_listeners = in->n_listeners;
    r.rack = in->rack;
    r.session_alive = svc_hb_alive(s, in->broker_id);
    c->broker_id = in->broker_id;
    struct st_meta_recs recs;
    struct st_meta_err err = {0};
    st_meta_recs_init(&recs);
    int rv = st_meta_decide_register_broker(s->pending, &r, &recs, &c->epoch,
                                            &err);
    st_free(ls);
    protobuf_c_message_free_unpacked(&in->base, NULL);
    if (rv != 0) {
        reply_err(s, reply, err.code, err.msg);
        st_free(c);
        st_meta_recs_close(&recs);
        return;
    }
    svc_hb_touch(s, c->broker_id);
    svc_propose_and_wait(s, &recs, reply, reg_done, c);
    st_meta_recs_close(&recs);
}

/* ---- heartbeat ---- */

struct hb_ctx {
    bool fenced;
    bool want_shut_down;
};

static void hb_done(struct st_ctl_service *s, struct waiter *w, int error,
                    const char *msg)
{
    struct hb_ctx *c = w->ctx;
    if (w->reply == NULL) {
        return;
    }
    if (error != 0) {
        reply_err(s, w->reply, error, msg);
        return;
    }
    Strata__Ctl__BrokerHeartbeatResponse resp =
        STRATA__CTL__BROKER_HEARTBEAT_RESPONSE__INIT;
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    resp.controller = &ci;
    resp.fenced = c->fenced;
    /* Controlled shutdown: once fenced, its leaderships have moved. */
    resp.should_shut_down = c->want_shut_down && c->fenced;
    resp.metadata_offset = st_meta_last_offset(s->applied);
    svc_reply(w->reply, 0, NULL, &resp.base);
}

static void broker_heartbeat(void *arg, const struct st_rpc_request *req,
                             struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    Strata__Ctl__BrokerHeartbeatRequest *in =
        (void *)begin(s, req, reply,
                      &strata__ctl__broker_heartbeat_request__descriptor);
    if (in == NULL) {
        return;
    }
    struct hb_ctx *c = st_calloc(1, sizeof *c);
    if (c == NULL) {
        reply_err(s, reply, STRATA__ERROR_CODE__UNKNOWN, "no memory");
        protobuf_c_message_free_unpacked(&in->base, NULL);
        return;
    }
    const struct st_meta_broker *b = st_meta_broker_find(s->pending,
                                                         in->broker_id);
    /* Caught up: the broker has applied at least its own registration. */
    bool caught_up = b != NULL && in->metadata_offset >= b->epoch;
    struct st_meta_recs recs;
    struct st_meta_err err = {0};
    st_meta_recs_init(&recs);
    int rv = st_meta_decide_heartbeat(s->pending, in->broker_id,
                                      in->broker_epoch,
                                      in->want_fence || in->want_shut_down,
                                      caught_up, &recs, &c->fenced, &err);
    c->want_shut_down = in->want_shut_down;
    int32_t id = in->broker_id;
    protobuf_c_message_free_unpacked(&in->base, NULL);
    if (rv != 0) {
        reply_err(s, reply, err.code, err.msg);
        st_free(c);
        st_meta_recs_close(&recs);
        return;
    }
    svc_hb_touch(s, id);
    svc_propose_and_wait(s, &recs, reply, hb_done, c);
    st_meta_recs_close(&recs);
}

/* ---- alter partition ---- */

struct ap_ctx {
    uint8_t topic_id[ST_META_UUID_LEN];
    int32_t partition;
};

static void ap_done(struct st_ctl_service *s, struct waiter *w, int error,
                    const char *msg)
{
    struct ap_ctx *c = w->ctx;
    if (w->reply == NULL) {
        return;
    }
    const struct st_meta_partition *p =
        error ? NULL : st_meta_partition_find(s->applied, c->topic_id,
                                              c->partition);
    if (p == NULL) {
        int code = error ? error
                         : STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
        reply_err(s, w->reply, code, error ? msg : "the partition is gone");
        return;
    }
    Strata__Ctl__AlterPartitionResponse resp =
        STRATA__CTL__ALTER_PARTITION_RESPONSE__INIT;
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    resp.controller = &ci;
    resp.partition_epoch = p->partition_epoch;
    resp.leader = p->leader;
    resp.leader_epoch = p->leader_epoch;
    resp.isr = p->isr;
    resp.n_isr = (size_t)p->n_isr;
    svc_reply(w->reply, 0, NULL, &resp.base);
}

static void alter_partition(void *arg, const struct st_rpc_request *req,
                            struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    Strata__Ctl__AlterPartitionRequest *in =
        (void *)begin(s, req, reply,
                      &strata__ctl__alter_partition_request__descriptor);
    if (in == NULL) {
        return;
    }
    struct ap_ctx *c = st_calloc(1, sizeof *c);
    if (c == NULL || in->topic_id.len != ST_META_UUID_LEN ||
        (in->n_new_isr_epochs != 0 && in->n_new_isr_epochs != in->n_new_isr)) {
        reply_err(s, reply, STRATA__ERROR_CODE__INVALID_REQUEST,
                  "topic_id must be 16 bytes; new_isr_epochs empty or one "
                  "per member");
        st_free(c);
        protobuf_c_message_free_unpacked(&in->base, NULL);
        return;
    }
    struct st_meta_alter_partition ap = {0};
    ap.broker_id = in->broker_id;
    ap.broker_epoch = in->broker_epoch;
    memcpy(ap.topic_id, in->topic_id.data, ST_META_UUID_LEN);
    memcpy(c->topic_id, in->topic_id.data, ST_META_UUID_LEN);
    ap.partition = c->partition = in->partition;
    ap.leader_epoch = in->leader_epoch;
    ap.partition_epoch = in->partition_epoch;
    ap.new_isr = in->new_isr;
    ap.n_new_isr = (int)in->n_new_isr;
    ap.new_isr_epochs = in->n_new_isr_epochs ? in->new_isr_epochs : NULL;
    struct st_meta_recs recs;
    struct st_meta_err err = {0};
    int32_t new_epoch;
    st_meta_recs_init(&recs);
    int rv = st_meta_decide_alter_partition(s->pending, &ap, &recs,
                                            &new_epoch, &err);
    protobuf_c_message_free_unpacked(&in->base, NULL);
    if (rv != 0) {
        reply_err(s, reply, err.code, err.msg);
        st_free(c);
        st_meta_recs_close(&recs);
        return;
    }
    svc_propose_and_wait(s, &recs, reply, ap_done, c);
    st_meta_recs_close(&recs);
}

/* ---- producer ids ---- */

struct pid_ctx {
    int64_t start;
    int32_t size;
};

static void pid_done(struct st_ctl_service *s, struct waiter *w, int error,
                     const char *msg)
{
    struct pid_ctx *c = w->ctx;
    if (w->reply == NULL) {
        return;
    }
    if (error != 0) {
        reply_err(s, w->reply, error, msg);
        return;
    }
    Strata__Ctl__AllocateProducerIdsResponse resp =
        STRATA__CTL__ALLOCATE_PRODUCER_IDS_RESPONSE__INIT;
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    resp.controller = &ci;
    resp.start = c->start;
    resp.size = c->size;
    svc_reply(w->reply, 0, NULL, &resp.base);
}

static void allocate_producer_ids(void *arg, const struct st_rpc_request *req,
                                  struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    Strata__Ctl__AllocateProducerIdsRequest *in =
        (void *)begin(s, req, reply,
                      &strata__ctl__allocate_producer_ids_request__descriptor);
    if (in == NULL) {
        return;
    }
    struct pid_ctx *c = st_calloc(1, sizeof *c);
    if (c == NULL) {
        reply_err(s, reply, STRATA__ERROR_CODE__UNKNOWN, "no memory");
        protobuf_c_message_free_unpacked(&in->base, NULL);
        return;
    }
    c->size = in->size > 0 ? in->size : ST_META_PRODUCER_ID_BLOCK;
    struct st_meta_recs recs;
    struct st_meta_err err = {0};
    st_meta_recs_init(&recs);
    int rv = st_meta_decide_alloc_producer_ids(s->pending, in->broker_id,
                                               in->broker_epoch, c->size,
                                               &recs, &c->start, &err);
    protobuf_c_message_free_unpacked(&in->base, NULL);
    if (rv != 0) {
        reply_err(s, reply, err.code, err.msg);
        st_free(c);
        st_meta_recs_close(&recs);
        return;
    }
    svc_propose_and_wait(s, &recs, reply, pid_done, c);
    st_meta_recs_close(&recs);
}

/* ---- fetch metadata (long poll) ---- */

/* Answer @reply from the committed log after @offset: a snapshot when the
 * entries after @offset are compacted, then records. Returns false (and
 * answers nothing) when there is nothing new and !@force. */
static bool fetch_answer(struct st_ctl_service *s, struct st_rpc_reply *reply,
                         int64_t offset, uint32_t max_records, bool force)
{
    const struct raft *r = st_raft_driver_core(s->driver);
    raft_index applied = st_raft_driver_applied(s->driver);
    struct raft_snapshot_meta snap = raft_snapshot(r);
    raft_index from = offset < 0 ? 1 : (raft_index)offset + 1;
    bool send_snap = snap.index > 0 && from <= snap.index;
    if (send_snap) {
        from = snap.index + 1;
    }
    if (!force && !send_snap && from > applied) {
        return false;
    }
    size_t cap = applied >= from ? (size_t)(applied - from + 1) : 0;
    if (cap > max_records) {
        cap = max_records;
    }
    Strata__Ctl__MetadataRecordAt *recs = st_calloc(cap + 1, sizeof *recs);
    Strata__Ctl__MetadataRecordAt **rps = st_calloc(cap + 1, sizeof *rps);
    if (recs == NULL || rps == NULL) {
        st_free(recs);
        st_free(rps);
        reply_err(s, reply, STRATA__ERROR_CODE__UNKNOWN, "no memory");
        return true;
    }
    size_t n = 0, bytes = 0;
    for (raft_index i = from;
         i <= applied && n < cap && bytes < FETCH_BYTES_MAX; i++) {
        const struct raft_entry *e = raft_entry_at(r, i);
        if (e == NULL) {
            break;
        }
        if (e->type != RAFT_ENTRY_COMMAND) {
            continue;
        }
        strata__ctl__metadata_record_at__init(&recs[n]);
        recs[n].offset = (int64_t)i;
        recs[n].record.data = (uint8_t *)e->data.base;
        recs[n].record.len = e->data.len;
        bytes += e->data.len;
        rps[n] = &recs[n];
        n++;
    }
    Strata__Ctl__FetchMetadataResponse resp =
        STRATA__CTL__FETCH_METADATA_RESPONSE__INIT;
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    resp.controller = &ci;
    resp.records = rps;
    resp.n_records = n;
    resp.snapshot_offset = -1;
    if (send_snap) {
        struct st_bytes data = raft_snapshot_data(r);
        resp.snapshot.data = (uint8_t *)data.base;
        resp.snapshot.len = data.len;
        resp.snapshot_offset = (int64_t)snap.index;
    }
    /* The last committed *record* (Raft no-ops are not records): a broker
     * is caught up once its own last offset reaches it. */
    resp.high_watermark = st_meta_last_offset(s->applied);
    svc_reply(reply, 0, NULL, &resp.base);
    st_free(recs);
    st_free(rps);
    return true;
}

static void poller_unlink_free(struct st_ctl_service *s, struct poller *p)
{
    struct poller **pp = &s->pollers;
    while (*pp != NULL && *pp != p) {
        pp = &(*pp)->next;
    }
    if (*pp == p) {
        *pp = p->next;
    }
    event_free(p->timer);
    st_free(p);
}

static void poller_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct poller *p = arg;
    (void)fd;
    (void)what;
    struct st_ctl_service *s = p->s;
    if (svc_is_active(s)) {
        fetch_answer(s, p->reply, p->offset, p->max_records, true);
    } else {
        svc_not_controller(s, p->reply);
    }
    poller_unlink_free(s, p);
}

void svc_pollers_wake(struct st_ctl_service *s, bool all)
{
    struct poller *p = s->pollers;
    while (p != NULL) {
        struct poller *next = p->next;
        bool done;
        if (all || !svc_is_active(s)) {
            svc_not_controller(s, p->reply);
            done = true;
        } else if (st_rpc_reply_is_closed(p->reply)) {
            st_rpc_reply_send(p->reply, 0, NULL, (struct st_bytes){0},
                              (struct st_bytes){0});
            done = true;
        } else {
            done = fetch_answer(s, p->reply, p->offset, p->max_records,
                                false);
        }
        if (done) {
            poller_unlink_free(s, p);
        }
        p = next;
    }
}

static void fetch_metadata(void *arg, const struct st_rpc_request *req,
                           struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    Strata__Ctl__FetchMetadataRequest *in =
        (void *)begin(s, req, reply,
                      &strata__ctl__fetch_metadata_request__descriptor);
    if (in == NULL) {
        return;
    }
    uint32_t max_records = in->max_records ? in->max_records
                                           : FETCH_RECORDS_DEFAULT;
    int64_t offset = in->offset;
    uint32_t wait_ms = in->max_wait_ms > FETCH_WAIT_MAX_MS ? FETCH_WAIT_MAX_MS
                                                           : in->max_wait_ms;
    protobuf_c_message_free_unpacked(&in->base, NULL);
    if (fetch_answer(s, reply, offset, max_records, wait_ms == 0)) {
        return;
    }
    struct poller *p = st_calloc(1, sizeof *p);
    if (p == NULL || (p->timer = evtimer_new(s->base, poller_timeout_cb,
                                             p)) == NULL) {
        st_free(p);
        fetch_answer(s, reply, offset, max_records, true);
        return;
    }
    p->s = s;
    p->reply = reply;
    p->offset = offset;
    p->max_records = max_records;
    p->next = s->pollers;
    s->pollers = p;
    struct timeval tv = {(time_t)(wait_ms / 1000),
                         (suseconds_t)((wait_ms % 1000) * 1000)};
    evtimer_add(p->timer, &tv);
}

int svc_broker_register(struct st_ctl_service *s)
{
    static const struct {
        uint32_t api;
        unsigned flags;
        st_rpc_handler_fn fn;
    } apis[] = {
        {STRATA__CTL__API__BROKER_REGISTRATION, 0, broker_registration},
        {STRATA__CTL__API__BROKER_HEARTBEAT, 0, broker_heartbeat},
        {STRATA__CTL__API__FETCH_METADATA, ST_RPC_UNORDERED, fetch_metadata},
        {STRATA__CTL__API__ALTER_PARTITION, 0, alter_partition},
        {STRATA__CTL__API__ALLOCATE_PRODUCER_IDS, 0, allocate_producer_ids},
    };
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++) {
        int rv = st_rpc_server_register(s->server, apis[i].api, 0, 0,
                                        apis[i].flags, apis[i].fn, s);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}
