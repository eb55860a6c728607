/* Admin APIs (create/delete/describe/list topics, create partitions,
 * alter/describe configs, describe quorum): forwarded to the active
 * controller (DescribeQuorum: to the voter this broker follows, which is
 * the active controller but for a moment after an election), their bodies
 * being the controller family's messages byte for byte (client.proto), so
 * clients never need the controllers' addresses. The broker only fills
 * in its own defaults for a CreateTopics that leaves the partition count
 * or replication factor at -1 (num.partitions, default.replication.factor),
 * as a Kafka broker does. The controller's answer (error, message, body)
 * goes back unchanged; a controller that cannot be reached within
 * FORWARD_TIMEOUT_MS answers REQUEST_TIMED_OUT. */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metadata_follower.h"
#include "broker/wire.h"
#include "client.pb-c.h"
#include "common/config.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_client.h"
#include "common/rpc_server.h"
#include "controller.pb-c.h"
#include "errors.pb-c.h"

#define FORWARD_TIMEOUT_MS 15000

static const struct {
    uint32_t client_api, ctl_api;
} routes[] = {
    {STRATA__CLIENT__API__CREATE_TOPICS, STRATA__CTL__API__CREATE_TOPICS},
    {STRATA__CLIENT__API__DELETE_TOPICS, STRATA__CTL__API__DELETE_TOPICS},
    {STRATA__CLIENT__API__DESCRIBE_TOPICS, STRATA__CTL__API__DESCRIBE_TOPICS},
    {STRATA__CLIENT__API__LIST_TOPICS, STRATA__CTL__API__LIST_TOPICS},
    {STRATA__CLIENT__API__ALTER_CONFIGS, STRATA__CTL__API__ALTER_CONFIGS},
    {STRATA__CLIENT__API__DESCRIBE_CONFIGS,
     STRATA__CTL__API__DESCRIBE_CONFIGS},
    {STRATA__CLIENT__API__CREATE_PARTITIONS,
     STRATA__CTL__API__CREATE_PARTITIONS},
    {STRATA__CLIENT__API__DESCRIBE_QUORUM, STRATA__CTL__API__DESCRIBE_QUORUM},
};

static void forwarded(void *arg, int status,
                      const struct st_rpc_response *resp)
{
    struct st_rpc_reply *reply = arg;
    if (status != 0) {
        st_broker_reply_error(reply,
                              status == ST_ETIMEDOUT
                                  ? STRATA__ERROR_CODE__REQUEST_TIMED_OUT
                                  : STRATA__ERROR_CODE__UNKNOWN,
                              status == ST_ETIMEDOUT
                                  ? "no active controller answered in time"
                                  : "the broker is shutting down");
        return;
    }
    struct st_bytes none = {NULL, 0};
    st_rpc_reply_send(reply, resp->error,
                      resp->error_message[0] ? resp->error_message : NULL,
                      resp->body, none);
}

/* CreateTopics with the broker's defaults filled in, packed into @out. */
static int fill_defaults(struct st_broker *b, struct st_bytes body,
                         struct st_buf *out)
{
    Strata__Ctl__CreateTopicsRequest *in =
        strata__ctl__create_topics_request__unpack(NULL, body.len, body.base);
    if (in == NULL) {
        return ST_EPROTO;
    }
    for (size_t i = 0; i < in->n_topics; i++) {
        in->topics[i]->internal = false; /* only brokers make "__" topics */
        if (in->topics[i]->partitions == -1) {
            in->topics[i]->partitions =
                (int32_t)st_conf_int(b->conf, "num.partitions");
        }
        if (in->topics[i]->replication_factor == -1) {
            in->topics[i]->replication_factor =
                (int32_t)st_conf_int(b->conf, "default.replication.factor");
        }
    }
    int rv = st_pb_pack(&in->base, out);
    strata__ctl__create_topics_request__free_unpacked(in, NULL);
    return rv;
}

static void admin_handler(void *arg, const struct st_rpc_request *req,
                          struct st_rpc_reply *reply)
{
    struct st_broker *b = arg;
    b->stats.admin_requests++;
    uint32_t ctl_api = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (routes[i].client_api == req->api) {
            ctl_api = routes[i].ctl_api;
        }
    }
    struct st_buf patched;
    st_buf_init(&patched);
    struct st_bytes body = req->body;
    if (req->api == STRATA__CLIENT__API__CREATE_TOPICS) {
        int rv = fill_defaults(b, body, &patched);
        if (rv != 0) {
            st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                                  "CreateTopicsRequest does not parse");
            st_buf_close(&patched);
            return;
        }
        body = st_pb_view(&patched);
    }
    int rv = st_meta_follower_forward(b->follower, ctl_api, body,
                                      FORWARD_TIMEOUT_MS, forwarded, reply);
    st_buf_close(&patched);
    if (rv != 0) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
    }
}

int st_broker_admin_register(struct st_broker *b)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rv = st_rpc_server_register(b->server, routes[i].client_api, 0, 0,
                                        ST_RPC_UNORDERED, admin_handler, b);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}
