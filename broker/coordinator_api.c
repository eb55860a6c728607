/* The consumer-group RPCs (proto/group.proto) on the coordinator: decode,
 * step the group's core through coordinator.c, encode; responses leave
 * through st_coord_reply() so they wait until the records of their step
 * (and of every step before) are durable. Errors of a group call are in
 * the response body's `error`; the frame header's error is used only for
 * a request that does not parse. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/coordinator.h"
#include "broker/metadata_follower.h"
#include "broker/wire.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_server.h"
#include "controller/metadata.h"
#include "errors.pb-c.h"
#include "group.pb-c.h"

void st_coord_want_topic(struct st_coord *c);

#define RECONCILE_HEARTBEAT_MS 200

/* Every allocation of one answer, freed together after packing. */
struct arena {
    void **v;
    size_t n, cap;
    bool failed;
};

static void *arena_alloc(struct arena *a, size_t n, size_t size)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        void **v = st_realloc(a->v, cap * sizeof *v);
        if (v == NULL) {
            a->failed = true;
            return NULL;
        }
        a->v = v;
        a->cap = cap;
    }
    void *p = st_calloc(n + 1, size);
    if (p == NULL) {
        a->failed = true;
        return NULL;
    }
    a->v[a->n++] = p;
    return p;
}

static void arena_free(struct arena *a)
{
    for (size_t i = 0; i < a->n; i++) {
        st_free(a->v[i]);
    }
    st_free(a->v);
}

/* Pack @msg and send it now (no durability needed). */
static void send_now(struct st_rpc_reply *reply, const ProtobufCMessage *msg)
{
    struct st_buf out;
    st_buf_init(&out);
    if (st_pb_pack(msg, &out) != 0) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
    } else {
        struct st_bytes none = {NULL, 0};
        st_rpc_reply_send(reply, 0, NULL, st_pb_view(&out), none);
    }
    st_buf_close(&out);
}

/* Pack @msg and send it once @s's appends are durable. */
static void send_durable(struct st_coord *c, struct st_coord_shard *s,
                         struct st_rpc_reply *reply,
                         const ProtobufCMessage *msg)
{
    struct st_buf out;
    st_buf_init(&out);
    if (st_pb_pack(msg, &out) != 0) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
    } else {
        st_coord_reply(c, s, reply, st_pb_view(&out));
    }
    st_buf_close(&out);
}

static const char *err_text(int32_t code)
{
    switch (code) {
    case STRATA__ERROR_CODE__NOT_COORDINATOR:
        return "this broker does not coordinate the group; find the "
               "coordinator again";
    case STRATA__ERROR_CODE__COORDINATOR_NOT_AVAILABLE:
        return "the group's coordinator is loading or unavailable; retry";
    case STRATA__ERROR_CODE__UNKNOWN_MEMBER_ID:
        return "unknown member id: rejoin with epoch 0";
    case STRATA__ERROR_CODE__FENCED_MEMBER_EPOCH:
        return "member epoch fenced: release every partition and rejoin";
    case STRATA__ERROR_CODE__STALE_MEMBER_EPOCH:
        return "stale member epoch";
    case STRATA__ERROR_CODE__PARTITION_NOT_OWNED:
        return "the member does not own the partition";
    case STRATA__ERROR_CODE__UNRELEASED_INSTANCE_ID:
        return "group.instance.id is used by a live member";
    case STRATA__ERROR_CODE__NON_EMPTY_GROUP:
        return "the group has members";
    case STRATA__ERROR_CODE__GROUP_ID_NOT_FOUND:
        return "no such group";
    case STRATA__ERROR_CODE__INVALID_REQUEST:
        return "invalid request";
    default:
        return code == 0 ? "" : "group request failed";
    }
}

/* Group @tps (n) into TopicPartitions entries (consecutive equal
 * topics merged). */
static Strata__Group__TopicPartitions **
tps_to_pb(struct arena *a, const struct st_group_tp *tps, unsigned n,
          size_t *n_out)
{
    Strata__Group__TopicPartitions **v = arena_alloc(a, n, sizeof *v);
    size_t k = 0;
    for (unsigned i = 0; v != NULL && i < n;) {
        unsigned j = i;
        while (j < n && strcmp(tps[j].topic, tps[i].topic) == 0) {
            j++;
        }
        Strata__Group__TopicPartitions *t = arena_alloc(a, 1, sizeof *t);
        int32_t *parts = arena_alloc(a, j - i, sizeof *parts);
        if (t == NULL || parts == NULL) {
            break;
        }
        strata__group__topic_partitions__init(t);
        t->topic = (char *)tps[i].topic;
        for (unsigned x = i; x < j; x++) {
            parts[x - i] = tps[x].partition;
        }
        t->partitions = parts;
        t->n_partitions = j - i;
        v[k++] = t;
        i = j;
    }
    *n_out = k;
    return v;
}

/* Flatten TopicPartitions into st_group_tp (views into @in). */
static struct st_group_tp *tps_from_pb(struct arena *a,
                                       Strata__Group__TopicPartitions **in,
                                       size_t n, unsigned *n_out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += in[i]->n_partitions;
    }
    struct st_group_tp *v = arena_alloc(a, total, sizeof *v);
    unsigned k = 0;
    for (size_t i = 0; v != NULL && i < n; i++) {
        for (size_t j = 0; j < in[i]->n_partitions; j++) {
            v[k].topic = in[i]->topic;
            v[k].partition = in[i]->partitions[j];
            k++;
        }
    }
    *n_out = k;
    return v;
}

/* ---- FindCoordinator ---- */

static void find_coordinator(void *arg, const struct st_rpc_request *req,
                             struct st_rpc_reply *reply)
{
    struct st_coord *c = arg;
    struct st_broker *b = st_coord_broker(c);
    Strata__Group__FindCoordinatorRequest *in =
        strata__group__find_coordinator_request__unpack(NULL, req->body.len,
                                                        req->body.base);
    if (in == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                              "FindCoordinatorRequest does not parse");
        return;
    }
    Strata__Group__FindCoordinatorResponse r =
        STRATA__GROUP__FIND_COORDINATOR_RESPONSE__INIT;
    r.node_id = -1;
    r.partition = -1;
    const struct st_meta *m = st_meta_follower_meta(b->follower);
    const struct st_meta_topic *t = st_meta_topic_by_name(m, ST_COORD_TOPIC);
    if (in->group_id[0] == '\0' || strlen(in->group_id) > ST_GROUP_ID_MAX) {
        r.error = STRATA__ERROR_CODE__INVALID_REQUEST;
        r.error_message = "group id must have 1..255 bytes";
    } else if (t == NULL || t->n_parts <= 0) {
        st_coord_want_topic(c);
        r.error = STRATA__ERROR_CODE__COORDINATOR_NOT_AVAILABLE;
        r.error_message = "creating " ST_COORD_TOPIC "; retry";
    } else {
        int32_t i = st_coord_partition_for(in->group_id, t->n_parts);
        const struct st_meta_broker *mb =
            t->parts[i].leader >= 0
                ? st_meta_broker_find(m, t->parts[i].leader)
                : NULL;
        r.partition = i;
        if (mb == NULL || mb->n_listeners == 0) {
            r.error = STRATA__ERROR_CODE__COORDINATOR_NOT_AVAILABLE;
            r.error_message = "the group's offsets partition has no leader";
        } else {
            r.node_id = mb->id;
            r.host = mb->listeners[0].host;
            r.port = mb->listeners[0].port;
        }
    }
    send_now(reply, &r.base);
    strata__group__find_coordinator_request__free_unpacked(in, NULL);
}

/* ---- ConsumerGroupHeartbeat ---- */

static void hb_error(struct st_rpc_reply *reply, int32_t code)
{
    Strata__Group__HeartbeatResponse r =
        STRATA__GROUP__HEARTBEAT_RESPONSE__INIT;
    r.error = code;
    r.error_message = (char *)err_text(code);
    r.member_epoch = -1;
    send_now(reply, &r.base);
}

static void heartbeat(void *arg, const struct st_rpc_request *req,
                      struct st_rpc_reply *reply)
{
    struct st_coord *c = arg;
    Strata__Group__HeartbeatRequest *in =
        strata__group__heartbeat_request__unpack(NULL, req->body.len,
                                                 req->body.base);
    if (in == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                              "HeartbeatRequest does not parse");
        return;
    }
    int32_t err;
    struct st_coord_shard *s = st_coord_shard_for(c, in->group_id, &err);
    bool leave = in->member_epoch < 0;
    struct st_group *g = s == NULL ? NULL
                                   : st_coord_group(s, in->group_id,
                                                    in->member_epoch == 0);
    if (s != NULL && g == NULL) {
        err = in->member_epoch == 0
                  ? STRATA__ERROR_CODE__COORDINATOR_NOT_AVAILABLE
                  : STRATA__ERROR_CODE__UNKNOWN_MEMBER_ID;
    }
    if (g == NULL) {
        hb_error(reply, err);
        strata__group__heartbeat_request__free_unpacked(in, NULL);
        return;
    }
    struct arena a = {0};
    char host[64];
    snprintf(host, sizeof host, "%s", req->peer_addr ? req->peer_addr : "");
    char *colon = strrchr(host, ':');
    if (colon != NULL) {
        *colon = '\0';
    }
    struct st_group_event ev = {.now_ms = st_coord_now_ms()};
    if (leave) {
        ev.type = ST_GROUP_EV_LEAVE;
        ev.leave.member_id = in->member_id;
        ev.leave.instance_id = in->instance_id[0] ? in->instance_id : NULL;
        ev.leave.member_epoch = in->member_epoch;
        ev.leave.reason = in->leave_reason == 1 ? ST_GROUP_LEAVE_POLL_TIMEOUT
                                                : ST_GROUP_LEAVE_CLOSE;
    } else {
        struct st_group_heartbeat *h = &ev.heartbeat;
        ev.type = ST_GROUP_EV_HEARTBEAT;
        h->member_id = in->member_id;
        h->instance_id = in->instance_id[0] ? in->instance_id : NULL;
        h->member_epoch = in->member_epoch;
        h->has_subscription = in->has_subscription;
        h->topics = (const char *const *)in->topics;
        h->n_topics = (unsigned)in->n_topics;
        h->regex = in->regex[0] ? in->regex : NULL;
        h->has_owned = in->has_owned;
        h->owned = tps_from_pb(&a, in->owned, in->n_owned, &h->n_owned);
        h->rebalance_timeout_ms = in->rebalance_timeout_ms;
        h->client_id = in->client_id[0] ? in->client_id : NULL;
        h->client_host = host;
        h->assignor = in->assignor[0] ? in->assignor : NULL;
    }
    struct st_group_update up;
    int rv = a.failed ? ST_ENOMEM
                      : st_coord_step(c, s, in->group_id, &ev, &up);
    if (rv != 0) {
        hb_error(reply, rv == ST_EINVAL
                            ? STRATA__ERROR_CODE__INVALID_REQUEST
                            : STRATA__ERROR_CODE__COORDINATOR_NOT_AVAILABLE);
    } else {
        Strata__Group__HeartbeatResponse r =
            STRATA__GROUP__HEARTBEAT_RESPONSE__INIT;
        r.error = st_coord_error_code(up.hb.error);
        r.error_message = (char *)err_text(r.error);
        r.member_id = (char *)(up.hb.member_id ? up.hb.member_id : "");
        r.member_epoch = up.hb.member_epoch;
        r.heartbeat_interval_ms = up.hb.heartbeat_interval_ms;
        if (r.error == 0 && !leave &&
            st_group_state(g) == ST_GROUP_RECONCILING &&
            r.heartbeat_interval_ms > RECONCILE_HEARTBEAT_MS) {
            /* While some member is behind the target, heartbeats come
             * sooner: a member waiting for partitions gets them soon
             * after their owner revoked, not a whole interval later. */
            r.heartbeat_interval_ms = RECONCILE_HEARTBEAT_MS;
        }
        r.assignment = tps_to_pb(&a, up.hb.assignment, up.hb.n_assignment,
                                 &r.n_assignment);
        send_durable(c, s, reply, &r.base);
        st_coord_step_done(s, in->group_id, &up);
    }
    arena_free(&a);
    strata__group__heartbeat_request__free_unpacked(in, NULL);
}

/* ---- OffsetCommit / OffsetFetch ---- */

static void commit_error(struct st_rpc_reply *reply, int32_t code)
{
    Strata__Group__OffsetCommitResponse r =
        STRATA__GROUP__OFFSET_COMMIT_RESPONSE__INIT;
    r.error = code;
    r.error_message = (char *)err_text(code);
    send_now(reply, &r.base);
}

static void offset_commit(void *arg, const struct st_rpc_request *req,
                          struct st_rpc_reply *reply)
{
    struct st_coord *c = arg;
    Strata__Group__OffsetCommitRequest *in =
        strata__group__offset_commit_request__unpack(NULL, req->body.len,
                                                     req->body.base);
    if (in == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                              "OffsetCommitRequest does not parse");
        return;
    }
    int32_t err;
    struct st_coord_shard *s = st_coord_shard_for(c, in->group_id, &err);
    struct st_group *g = s == NULL ? NULL
                                   : st_coord_group(s, in->group_id, true);
    if (s != NULL && g == NULL) {
        err = STRATA__ERROR_CODE__COORDINATOR_NOT_AVAILABLE;
    }
    if (g != NULL && in->reset &&
        st_group_can_reset_offsets(g) != ST_GROUP_OK) {
        g = NULL;
        err = STRATA__ERROR_CODE__NON_EMPTY_GROUP;
    }
    if (g == NULL) {
        commit_error(reply, err);
        strata__group__offset_commit_request__free_unpacked(in, NULL);
        return;
    }
    struct arena a = {0};
    struct st_group_offset *offs = arena_alloc(&a, in->n_partitions,
                                               sizeof *offs);
    for (size_t i = 0; offs != NULL && i < in->n_partitions; i++) {
        const Strata__Group__OffsetCommitPartition *p = in->partitions[i];
        offs[i].tp.topic = p->topic;
        offs[i].tp.partition = p->partition;
        offs[i].offset = p->offset;
        offs[i].leader_epoch = p->leader_epoch;
        offs[i].metadata = p->metadata;
    }
    struct st_group_event ev = {.type = ST_GROUP_EV_OFFSET_COMMIT,
                                .now_ms = st_coord_now_ms()};
    ev.commit.member_id = in->member_id;
    ev.commit.member_epoch = in->member_epoch;
    ev.commit.offsets = offs;
    ev.commit.n_offsets = (unsigned)in->n_partitions;
    struct st_group_update up;
    int rv = a.failed ? ST_ENOMEM
                      : st_coord_step(c, s, in->group_id, &ev, &up);
    if (rv != 0) {
        int32_t code = rv == ST_EINVAL
                           ? STRATA__ERROR_CODE__INVALID_REQUEST
                           : STRATA__ERROR_CODE__COORDINATOR_NOT_AVAILABLE;
        commit_error(reply, code);
    } else {
        Strata__Group__OffsetCommitResponse r =
            STRATA__GROUP__OFFSET_COMMIT_RESPONSE__INIT;
        r.error = st_coord_error_code(up.error);
        r.error_message = (char *)err_text(r.error);
        Strata__Group__PartitionResult **pv =
            arena_alloc(&a, up.n_offsets, sizeof *pv);
        Strata__Group__PartitionResult *pr =
            arena_alloc(&a, up.n_offsets, sizeof *pr);
        for (unsigned i = 0; pv != NULL && pr != NULL && i < up.n_offsets;
             i++) {
            strata__group__partition_result__init(&pr[i]);
            pr[i].topic = (char *)up.offsets[i].tp.topic;
            pr[i].partition = up.offsets[i].tp.partition;
            pr[i].error = st_coord_error_code(up.offsets[i].error);
            pv[i] = &pr[i];
        }
        r.partitions = pv;
        r.n_partitions = pv != NULL && pr != NULL ? up.n_offsets : 0;
        send_durable(c, s, reply, &r.base);
        st_coord_step_done(s, in->group_id, &up);
    }
    arena_free(&a);
    strata__group__offset_commit_request__free_unpacked(in, NULL);
}

static Strata__Group__OffsetFetchPartition **
results_to_pb(struct arena *a, const struct st_group_offset_result *v,
              unsigned n)
{
    Strata__Group__OffsetFetchPartition **pv = arena_alloc(a, n, sizeof *pv);
    Strata__Group__OffsetFetchPartition *p = arena_alloc(a, n, sizeof *p);
    for (unsigned i = 0; pv != NULL && p != NULL && i < n; i++) {
        strata__group__offset_fetch_partition__init(&p[i]);
        p[i].topic = (char *)v[i].tp.topic;
        p[i].partition = v[i].tp.partition;
        p[i].offset = v[i].offset;
        p[i].leader_epoch = v[i].leader_epoch;
        p[i].metadata = (char *)(v[i].metadata ? v[i].metadata : "");
        p[i].error = st_coord_error_code(v[i].error);
        p[i].commit_ms = v[i].commit_ms;
        pv[i] = &p[i];
    }
    return pv;
}

static void offset_fetch(void *arg, const struct st_rpc_request *req,
                         struct st_rpc_reply *reply)
{
    struct st_coord *c = arg;
    Strata__Group__OffsetFetchRequest *in =
        strata__group__offset_fetch_request__unpack(NULL, req->body.len,
                                                    req->body.base);
    if (in == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                              "OffsetFetchRequest does not parse");
        return;
    }
    Strata__Group__OffsetFetchResponse r =
        STRATA__GROUP__OFFSET_FETCH_RESPONSE__INIT;
    struct arena a = {0};
    int32_t err;
    struct st_coord_shard *s = st_coord_shard_for(c, in->group_id, &err);
    struct st_group *g = s == NULL ? NULL
                                   : st_coord_group(s, in->group_id, false);
    unsigned n_tps = 0;
    struct st_group_tp *tps = tps_from_pb(&a, in->topics, in->n_topics,
                                          &n_tps);
    if (s == NULL) {
        r.error = err;
        r.error_message = (char *)err_text(err);
        send_now(reply, &r.base);
    } else if (g == NULL || tps == NULL) {
        /* No group: nothing committed for any partition asked. */
        struct st_group_offset_result *v = arena_alloc(&a, n_tps, sizeof *v);
        for (unsigned i = 0; v != NULL && tps != NULL && i < n_tps; i++) {
            v[i].tp = tps[i];
            v[i].offset = -1;
            v[i].leader_epoch = -1;
            v[i].commit_ms = -1;
        }
        r.partitions = v != NULL ? results_to_pb(&a, v, n_tps) : NULL;
        r.n_partitions = r.partitions != NULL ? n_tps : 0;
        send_durable(c, s, reply, &r.base);
    } else {
        struct st_group_event ev = {.type = ST_GROUP_EV_OFFSET_FETCH,
                                    .now_ms = st_coord_now_ms()};
        ev.fetch.tps = n_tps > 0 ? tps : NULL;
        ev.fetch.n_tps = n_tps;
        struct st_group_update up;
        if (st_coord_step(c, s, in->group_id, &ev, &up) != 0) {
            r.error = STRATA__ERROR_CODE__COORDINATOR_NOT_AVAILABLE;
            r.error_message = (char *)err_text(r.error);
            send_now(reply, &r.base);
        } else {
            r.error = st_coord_error_code(up.error);
            r.error_message = (char *)err_text(r.error);
            r.partitions = results_to_pb(&a, up.offsets, up.n_offsets);
            r.n_partitions = r.partitions != NULL ? up.n_offsets : 0;
            send_durable(c, s, reply, &r.base);
            st_coord_step_done(s, in->group_id, &up);
        }
    }
    arena_free(&a);
    strata__group__offset_fetch_request__free_unpacked(in, NULL);
}

/* ---- ListGroups / DescribeGroups / DeleteGroups ---- */

static const char *state_text(enum st_group_state s)
{
    switch (s) {
    case ST_GROUP_EMPTY:
        return "Empty";
    case ST_GROUP_RECONCILING:
        return "Reconciling";
    case ST_GROUP_STABLE:
        return "Stable";
    case ST_GROUP_DEAD:
        return "Dead";
    }
    return "Unknown";
}

struct listing {
    struct arena *a;
    Strata__Group__GroupListing **v;
    size_t n, cap;
    int32_t node;
};

static void list_one(void *arg, const char *group_id,
                     const struct st_group *g)
{
    struct listing *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        Strata__Group__GroupListing **v = arena_alloc(l->a, cap, sizeof *v);
        if (v == NULL) {
            return;
        }
        if (l->n > 0) {
            memcpy(v, l->v, l->n * sizeof *v);
        }
        l->v = v;
        l->cap = cap;
    }
    Strata__Group__GroupListing *x = arena_alloc(l->a, 1, sizeof *x);
    if (x == NULL) {
        return;
    }
    strata__group__group_listing__init(x);
    x->group_id = (char *)group_id;
    x->state = (char *)state_text(st_group_state(g));
    x->members = st_group_member_count(g);
    x->coordinator = l->node;
    l->v[l->n++] = x;
}

static void list_groups(void *arg, const struct st_rpc_request *req,
                        struct st_rpc_reply *reply)
{
    struct st_coord *c = arg;
    struct arena a = {0};
    struct listing l = {&a, NULL, 0, 0, st_coord_broker(c)->node_id};
    st_coord_foreach_group(c, list_one, &l);
    Strata__Group__ListGroupsResponse r =
        STRATA__GROUP__LIST_GROUPS_RESPONSE__INIT;
    r.groups = l.v;
    r.n_groups = l.n;
    send_now(reply, &r.base);
    arena_free(&a);
}

static Strata__Group__TopicPartitions **desc_tps(struct arena *a,
                                                 struct st_group_tp *v,
                                                 unsigned n, size_t *n_out)
{
    return tps_to_pb(a, v, n, n_out);
}

static void describe_groups(void *arg, const struct st_rpc_request *req,
                            struct st_rpc_reply *reply)
{
    struct st_coord *c = arg;
    Strata__Group__DescribeGroupsRequest *in =
        strata__group__describe_groups_request__unpack(NULL, req->body.len,
                                                       req->body.base);
    if (in == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                              "DescribeGroupsRequest does not parse");
        return;
    }
    Strata__Group__DescribeGroupsResponse r =
        STRATA__GROUP__DESCRIBE_GROUPS_RESPONSE__INIT;
    r.group_id = in->group_id;
    r.coordinator = st_coord_broker(c)->node_id;
    struct arena a = {0};
    int32_t err;
    struct st_coord_shard *s = st_coord_shard_for(c, in->group_id, &err);
    struct st_group *g = s == NULL ? NULL
                                   : st_coord_group(s, in->group_id, false);
    struct st_group_desc *d = NULL;
    if (s != NULL && g == NULL) {
        err = STRATA__ERROR_CODE__GROUP_ID_NOT_FOUND;
    } else if (g != NULL && st_group_describe(g, &d) != 0) {
        err = STRATA__ERROR_CODE__UNKNOWN;
    }
    if (d == NULL) {
        r.error = err;
        r.error_message = (char *)err_text(err);
        send_now(reply, &r.base);
        strata__group__describe_groups_request__free_unpacked(in, NULL);
        return;
    }
    r.state = (char *)state_text(d->state);
    r.group_epoch = d->group_epoch;
    r.target_epoch = d->target_epoch;
    r.assignor = d->assignor ? d->assignor : "";
    r.members = arena_alloc(&a, d->n_members, sizeof *r.members);
    Strata__Group__DescribedMember *mv =
        arena_alloc(&a, d->n_members, sizeof *mv);
    for (unsigned i = 0; r.members && mv && i < d->n_members; i++) {
        const struct st_group_member_desc *md = &d->members[i];
        Strata__Group__DescribedMember *m = &mv[i];
        strata__group__described_member__init(m);
        m->member_id = md->member_id;
        m->instance_id = md->instance_id ? md->instance_id : "";
        m->client_id = md->client_id ? md->client_id : "";
        m->client_host = md->client_host ? md->client_host : "";
        m->assignor = md->assignor ? md->assignor : "";
        m->member_epoch = md->member_epoch;
        m->state = md->static_left
                       ? "static-left"
                       : (char *)st_group_member_state_name(md->state);
        m->topics = md->topics;
        m->n_topics = md->n_topics;
        m->regex = md->regex ? md->regex : "";
        m->assigned = desc_tps(&a, md->assigned, md->n_assigned,
                               &m->n_assigned);
        m->revoking = desc_tps(&a, md->revoking, md->n_revoking,
                               &m->n_revoking);
        m->target = desc_tps(&a, md->target, md->n_target, &m->n_target);
        r.members[i] = m;
    }
    r.n_members = r.members && mv ? d->n_members : 0;
    struct st_group_offset_result *ov = arena_alloc(&a, d->n_offsets,
                                                    sizeof *ov);
    for (unsigned i = 0; ov != NULL && i < d->n_offsets; i++) {
        ov[i].tp = d->offsets[i].tp;
        ov[i].offset = d->offsets[i].offset;
        ov[i].leader_epoch = d->offsets[i].leader_epoch;
        ov[i].metadata = d->offsets[i].metadata;
        ov[i].commit_ms = d->offsets[i].commit_ms;
    }
    r.offsets = ov != NULL ? results_to_pb(&a, ov, d->n_offsets) : NULL;
    r.n_offsets = r.offsets != NULL ? d->n_offsets : 0;
    send_durable(c, s, reply, &r.base);
    st_group_desc_free(d);
    arena_free(&a);
    strata__group__describe_groups_request__free_unpacked(in, NULL);
}

static void delete_groups(void *arg, const struct st_rpc_request *req,
                          struct st_rpc_reply *reply)
{
    struct st_coord *c = arg;
    Strata__Group__DeleteGroupsRequest *in =
        strata__group__delete_groups_request__unpack(NULL, req->body.len,
                                                     req->body.base);
    if (in == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                              "DeleteGroupsRequest does not parse");
        return;
    }
    Strata__Group__DeleteGroupsResponse r =
        STRATA__GROUP__DELETE_GROUPS_RESPONSE__INIT;
    int32_t err;
    struct st_coord_shard *s = st_coord_shard_for(c, in->group_id, &err);
    struct st_group *g = s == NULL ? NULL
                                   : st_coord_group(s, in->group_id, false);
    if (s != NULL && g == NULL) {
        err = STRATA__ERROR_CODE__GROUP_ID_NOT_FOUND;
    }
    if (g == NULL) {
        r.error = err;
        r.error_message = (char *)err_text(err);
        send_now(reply, &r.base);
    } else {
        struct st_group_event ev = {.type = ST_GROUP_EV_DELETE,
                                    .now_ms = st_coord_now_ms()};
        struct st_group_update up;
        if (st_coord_step(c, s, in->group_id, &ev, &up) != 0) {
            r.error = STRATA__ERROR_CODE__COORDINATOR_NOT_AVAILABLE;
            r.error_message = (char *)err_text(r.error);
            send_now(reply, &r.base);
        } else {
            r.error = st_coord_error_code(up.error);
            r.error_message = (char *)err_text(r.error);
            send_durable(c, s, reply, &r.base);
            st_coord_step_done(s, in->group_id, &up);
            ST_INFO("coord", "group=%s delete: %s", in->group_id,
                    r.error == 0 ? "deleted" : r.error_message);
        }
    }
    strata__group__delete_groups_request__free_unpacked(in, NULL);
}

int st_coord_api_register(struct st_coord *c)
{
    static const struct {
        uint32_t api;
        st_rpc_handler_fn fn;
    } apis[] = {
        {STRATA__GROUP__API__FIND_COORDINATOR, find_coordinator},
        {STRATA__GROUP__API__CONSUMER_GROUP_HEARTBEAT, heartbeat},
        {STRATA__GROUP__API__OFFSET_COMMIT, offset_commit},
        {STRATA__GROUP__API__OFFSET_FETCH, offset_fetch},
        {STRATA__GROUP__API__LIST_GROUPS, list_groups},
        {STRATA__GROUP__API__DESCRIBE_GROUPS, describe_groups},
        {STRATA__GROUP__API__DELETE_GROUPS, delete_groups},
    };
    struct st_rpc_server *srv = st_coord_broker(c)->server;
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++) {
        int rv = st_rpc_server_register(srv, apis[i].api, 0, 0, 0,
                                        apis[i].fn, c);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}
