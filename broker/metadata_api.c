/* Metadata and DescribeCluster: answered from the metadata this broker
 * follows (it may lag the controller by one long-poll round). */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metadata_follower.h"
#include "broker/wire.h"
#include "client.pb-c.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/rpc_server.h"
#include "controller/metadata.h"
#include "errors.pb-c.h"

/* Every message of one answer comes from this arena: freed at once. */
struct arena {
    void **v;
    size_t n, cap;
    bool failed;
};

static void *arena_alloc(struct arena *a, size_t size)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void **v = st_realloc(a->v, cap * sizeof *v);
        if (v == NULL) {
            a->failed = true;
            return NULL;
        }
        a->v = v;
        a->cap = cap;
    }
    void *p = st_calloc(1, size ? size : 1);
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

static Strata__Client__BrokerInfo **brokers(struct arena *a,
                                            const struct st_meta *m,
                                            size_t *n_out)
{
    size_t n = st_meta_broker_count(m);
    Strata__Client__BrokerInfo **v = arena_alloc(a, (n + 1) * sizeof *v);
    for (size_t i = 0; v != NULL && i < n; i++) {
        const struct st_meta_broker *mb = st_meta_broker_at(m, i);
        Strata__Client__BrokerInfo *bi = arena_alloc(a, sizeof *bi);
        Strata__Client__Listener **ls =
            arena_alloc(a, (mb->n_listeners + 1) * sizeof *ls);
        if (bi == NULL || ls == NULL) {
            return NULL;
        }
        Strata__Client__BrokerInfo init = STRATA__CLIENT__BROKER_INFO__INIT;
        *bi = init;
        bi->id = mb->id;
        bi->rack = mb->rack;
        bi->fenced = mb->fenced;
        for (size_t k = 0; k < mb->n_listeners; k++) {
            ls[k] = arena_alloc(a, sizeof *ls[k]);
            if (ls[k] == NULL) {
                return NULL;
            }
            Strata__Client__Listener li = STRATA__CLIENT__LISTENER__INIT;
            *ls[k] = li;
            ls[k]->name = mb->listeners[k].name;
            ls[k]->host = mb->listeners[k].host;
            ls[k]->port = mb->listeners[k].port;
        }
        bi->listeners = ls;
        bi->n_listeners = mb->n_listeners;
        v[i] = bi;
    }
    *n_out = n;
    return v;
}

static Strata__Client__TopicMetadata *topic(struct arena *a,
                                            const struct st_meta_topic *t)
{
    Strata__Client__TopicMetadata *tm = arena_alloc(a, sizeof *tm);
    Strata__Client__PartitionMetadata **ps =
        arena_alloc(a, ((size_t)t->n_parts + 1) * sizeof *ps);
    if (tm == NULL || ps == NULL) {
        return NULL;
    }
    Strata__Client__TopicMetadata init = STRATA__CLIENT__TOPIC_METADATA__INIT;
    *tm = init;
    tm->name = t->name;
    tm->topic_id.data = (uint8_t *)t->id;
    tm->topic_id.len = ST_META_UUID_LEN;
    for (int32_t i = 0; i < t->n_parts; i++) {
        const struct st_meta_partition *mp = &t->parts[i];
        ps[i] = arena_alloc(a, sizeof *ps[i]);
        if (ps[i] == NULL) {
            return NULL;
        }
        Strata__Client__PartitionMetadata pi =
            STRATA__CLIENT__PARTITION_METADATA__INIT;
        *ps[i] = pi;
        ps[i]->partition = i;
        ps[i]->leader = mp->leader;
        ps[i]->leader_epoch = mp->leader_epoch;
        ps[i]->error = mp->leader < 0 ? STRATA__ERROR_CODE__NOT_LEADER : 0;
        ps[i]->replicas = mp->replicas;
        ps[i]->n_replicas = (size_t)mp->n_replicas;
        ps[i]->isr = mp->isr;
        ps[i]->n_isr = (size_t)mp->n_isr;
    }
    tm->partitions = ps;
    tm->n_partitions = (size_t)t->n_parts;
    return tm;
}

static void send_packed(struct st_rpc_reply *reply, struct arena *a,
                        const ProtobufCMessage *m)
{
    struct st_buf out;
    st_buf_init(&out);
    struct st_bytes none = {NULL, 0};
    if (!a->failed && st_pb_pack(m, &out) == 0) {
        st_rpc_reply_send(reply, 0, NULL, st_pb_view(&out), none);
    } else {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
    }
    st_buf_close(&out);
}

static void metadata_handler(void *arg, const struct st_rpc_request *req,
                             struct st_rpc_reply *reply)
{
    struct st_broker *b = arg;
    b->stats.metadata_requests++;
    Strata__Client__MetadataRequest *in =
        strata__client__metadata_request__unpack(NULL, req->body.len,
                                                 req->body.base);
    if (in == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                              "MetadataRequest does not parse");
        return;
    }
    const struct st_meta *m = st_meta_follower_meta(b->follower);
    struct arena a = {0};
    Strata__Client__MetadataResponse out =
        STRATA__CLIENT__METADATA_RESPONSE__INIT;
    out.brokers = brokers(&a, m, &out.n_brokers);
    size_t n = in->n_topics ? in->n_topics : st_meta_topic_count(m);
    out.topics = arena_alloc(&a, (n + 1) * sizeof *out.topics);
    for (size_t i = 0; out.topics != NULL && i < n; i++) {
        const struct st_meta_topic *t =
            in->n_topics ? st_meta_topic_by_name(m, in->topics[i])
                         : st_meta_topic_at(m, i);
        if (t != NULL) {
            out.topics[i] = topic(&a, t);
            continue;
        }
        Strata__Client__TopicMetadata *tm = arena_alloc(&a, sizeof *tm);
        char *msg = arena_alloc(&a, 300);
        if (tm == NULL || msg == NULL) {
            break;
        }
        Strata__Client__TopicMetadata init =
            STRATA__CLIENT__TOPIC_METADATA__INIT;
        *tm = init;
        tm->name = in->topics[i];
        tm->error = STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
        snprintf(msg, 300, "unknown topic '%.200s'", in->topics[i]);
        tm->error_message = msg;
        out.topics[i] = tm;
    }
    out.n_topics = out.topics ? n : 0;
    out.controller_id = st_meta_follower_controller_id(b->follower);
    out.metadata_offset = st_meta_last_offset(m);
    out.cluster_id = b->cluster_id;
    out.answered_by = b->node_id;
    send_packed(reply, &a, &out.base);
    arena_free(&a);
    strata__client__metadata_request__free_unpacked(in, NULL);
}

static void describe_cluster_handler(void *arg,
                                     const struct st_rpc_request *req,
                                     struct st_rpc_reply *reply)
{
    struct st_broker *b = arg;
    b->stats.admin_requests++;
    const struct st_meta *m = st_meta_follower_meta(b->follower);
    struct arena a = {0};
    Strata__Client__DescribeClusterResponse out =
        STRATA__CLIENT__DESCRIBE_CLUSTER_RESPONSE__INIT;
    out.brokers = brokers(&a, m, &out.n_brokers);
    out.cluster_id = b->cluster_id;
    out.controller_id = st_meta_follower_controller_id(b->follower);
    out.metadata_offset = st_meta_last_offset(m);
    send_packed(reply, &a, &out.base);
    arena_free(&a);
}

int st_broker_metadata_register(struct st_broker *b)
{
    int rv = st_rpc_server_register(b->server, STRATA__CLIENT__API__METADATA,
                                    0, 0, 0, metadata_handler, b);
    if (rv == 0) {
        rv = st_rpc_server_register(b->server,
                                    STRATA__CLIENT__API__DESCRIBE_CLUSTER, 0,
                                    0, 0, describe_cluster_handler, b);
    }
    return rv;
}
