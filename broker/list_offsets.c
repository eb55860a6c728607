/* ListOffsets: the earliest offset (-2: log start), the latest (-1: the
 * high watermark, what a consumer can read up to) or the first offset whose
 * batch has a timestamp at or after a time (from the time index), for
 * partitions this broker leads. An offset found at or past the HW is not
 * yet readable and answers -1, as for a time newer than every record. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metadata_follower.h"
#include "broker/partition.h"
#include "broker/partition_manager.h"
#include "broker/wire.h"
#include "client.pb-c.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/rpc_server.h"
#include "controller/metadata.h"
#include "errors.pb-c.h"

struct lres {
    Strata__Client__ListOffsetsPartitionResponse r;
    char msg[200];
};

static void one(struct st_broker *b, const Strata__Client__ListOffsetsPartition *in,
                struct lres *lr)
{
    Strata__Client__ListOffsetsPartitionResponse init =
        STRATA__CLIENT__LIST_OFFSETS_PARTITION_RESPONSE__INIT;
    lr->r = init;
    lr->r.topic = in->topic;
    lr->r.partition = in->partition;
    lr->r.timestamp = in->timestamp;
    lr->r.offset = -1;
    lr->r.error_message = lr->msg;
    struct st_partition *p = st_pm_find(b->pm, in->topic, in->partition);
    if (p == NULL || !st_partition_is_leader(p)) {
        const struct st_meta *m = st_meta_follower_meta(b->follower);
        const struct st_meta_topic *t = st_meta_topic_by_name(m, in->topic);
        if (t == NULL || in->partition < 0 || in->partition >= t->n_parts) {
            lr->r.error = STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(lr->msg, sizeof lr->msg, "unknown topic or partition "
                     "%s-%d", in->topic, in->partition);
        } else {
            lr->r.error = STRATA__ERROR_CODE__NOT_LEADER;
            lr->r.leader_epoch = t->parts[in->partition].leader_epoch;
            snprintf(lr->msg, sizeof lr->msg, "broker %d does not lead "
                     "%s-%d (leader %d)", b->node_id, in->topic,
                     in->partition, t->parts[in->partition].leader);
        }
        return;
    }
    int32_t le = st_partition_leader_epoch(p);
    lr->r.leader_epoch = le;
    if (in->current_leader_epoch >= 0 && in->current_leader_epoch != le) {
        lr->r.error = in->current_leader_epoch < le
                          ? STRATA__ERROR_CODE__FENCED_LEADER_EPOCH
                          : STRATA__ERROR_CODE__UNKNOWN_LEADER_EPOCH;
        snprintf(lr->msg, sizeof lr->msg, "leader epoch %d, not %d", le,
                 in->current_leader_epoch);
        return;
    }
    struct st_log *log = st_partition_log(p);
    int64_t hw = st_partition_hw(p);
    if (in->timestamp == -2) {
        lr->r.offset = st_log_start_offset(log);
    } else if (in->timestamp == -1) {
        lr->r.offset = hw;
    } else if (in->timestamp < 0) {
        lr->r.error = STRATA__ERROR_CODE__INVALID_REQUEST;
        snprintf(lr->msg, sizeof lr->msg, "timestamp %" PRId64 ": expected "
                 "-2, -1 or a time in ms", in->timestamp);
    } else {
        int64_t off;
        int rv = st_log_offset_for_time(log, in->timestamp, &off);
        if (rv == 0 && off < hw) {
            lr->r.offset = off;
        } else if (rv != 0 && rv != ST_ENOENT) {
            lr->r.error = st_broker_error_code(rv);
            snprintf(lr->msg, sizeof lr->msg, "time index of %s-%d: %s",
                     in->topic, in->partition, st_strerror(rv));
        }
    }
}

static void list_offsets_handler(void *arg, const struct st_rpc_request *req,
                                 struct st_rpc_reply *reply)
{
    struct st_broker *b = arg;
    b->stats.list_offsets_requests++;
    Strata__Client__ListOffsetsRequest *in =
        strata__client__list_offsets_request__unpack(NULL, req->body.len,
                                                     req->body.base);
    if (in == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                              "ListOffsetsRequest does not parse");
        return;
    }
    struct lres *lr = st_calloc(in->n_partitions + 1, sizeof *lr);
    Strata__Client__ListOffsetsPartitionResponse **v =
        st_calloc(in->n_partitions + 1, sizeof *v);
    struct st_buf out;
    st_buf_init(&out);
    if (lr == NULL || v == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
    } else {
        for (size_t i = 0; i < in->n_partitions; i++) {
            one(b, in->partitions[i], &lr[i]);
            v[i] = &lr[i].r;
        }
        Strata__Client__ListOffsetsResponse m =
            STRATA__CLIENT__LIST_OFFSETS_RESPONSE__INIT;
        m.partitions = v;
        m.n_partitions = in->n_partitions;
        struct st_bytes none = {NULL, 0};
        if (st_pb_pack(&m.base, &out) == 0) {
            st_rpc_reply_send(reply, 0, NULL, st_pb_view(&out), none);
        } else {
            st_broker_reply_error(reply, STRATA__ERROR_CODE__UNKNOWN,
                                  "out of memory");
        }
    }
    st_buf_close(&out);
    st_free(lr);
    st_free(v);
    strata__client__list_offsets_request__free_unpacked(in, NULL);
}

int st_broker_list_offsets_register(struct st_broker *b)
{
    return st_rpc_server_register(b->server, STRATA__CLIENT__API__LIST_OFFSETS,
                                  0, 0, 0, list_offsets_handler, b);
}
