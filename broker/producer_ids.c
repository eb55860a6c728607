/* InitProducerId: idempotent producers get a producer id and epoch from any
 * broker. Ids come from blocks the active controller allocates
 * (AllocateProducerIds; the block is a metadata record, so an id is never
 * handed out twice, also across controller failover and broker restarts:
 * a restarted broker asks for a fresh block). A request naming its current
 * id gets the same id with the epoch bumped (a restarted producer fences
 * its older self); past INT16_MAX it gets a new id.
 *
 * Requests that arrive while no id is left wait for the block request in
 * flight (one at a time) and are answered when it completes.
 * Runs on: the broker's loop thread.
 */
#include <stdint.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metadata_follower.h"
#include "broker/wire.h"
#include "client.pb-c.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_client.h"
#include "common/rpc_server.h"
#include "controller.pb-c.h"
#include "errors.pb-c.h"

#define ALLOC_TIMEOUT_MS 10000
#define PENDING_MAX 4096

struct st_pid_alloc {
    int64_t next, end;            /* ids [next, end) are ours to give */
    bool allocating;
    struct st_rpc_reply *pending[PENDING_MAX];
    size_t n_pending;
    bool closed;
};

static void answer(struct st_rpc_reply *reply, int32_t code, const char *msg,
                   int64_t pid, int32_t epoch)
{
    Strata__Client__InitProducerIdResponse m =
        STRATA__CLIENT__INIT_PRODUCER_ID_RESPONSE__INIT;
    m.error = code;
    m.error_message = (char *)(msg ? msg : "");
    m.producer_id = pid;
    m.producer_epoch = epoch;
    struct st_buf out;
    st_buf_init(&out);
    if (st_pb_pack(&m.base, &out) == 0) {
        st_rpc_reply_send(reply, 0, NULL, st_pb_view(&out),
                          (struct st_bytes){NULL, 0});
    } else {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
    }
    st_buf_close(&out);
}

static void alloc_start(struct st_broker *b);

static void alloc_done(void *arg, int status,
                       const struct st_rpc_response *resp)
{
    struct st_broker *b = arg;
    struct st_pid_alloc *a = b->pids;
    a->allocating = false;
    if (a->closed) {
        return;
    }
    int32_t code = STRATA__ERROR_CODE__REQUEST_TIMED_OUT;
    const char *msg = "the controller did not allocate producer ids";
    if (status == 0 && resp->error != 0) {
        code = resp->error;
        msg = resp->error_message;
    } else if (status == 0) {
        Strata__Ctl__AllocateProducerIdsResponse *r =
            strata__ctl__allocate_producer_ids_response__unpack(
                NULL, resp->body.len, resp->body.base);
        if (r != NULL && r->size > 0 && r->start >= 0) {
            a->next = r->start;
            a->end = r->start + r->size;
            code = 0;
            ST_INFO("broker", "producer ids [%lld, %lld) allocated",
                    (long long)a->next, (long long)a->end);
        }
        if (r != NULL) {
            strata__ctl__allocate_producer_ids_response__free_unpacked(r,
                                                                       NULL);
        }
    }
    size_t n = a->n_pending;
    size_t i = 0;
    for (; i < n && (code != 0 || a->next < a->end); i++) {
        if (code != 0) {
            answer(a->pending[i], code, msg, -1, -1);
        } else {
            answer(a->pending[i], 0, NULL, a->next++, 0);
        }
    }
    memmove(a->pending, a->pending + i, (n - i) * sizeof a->pending[0]);
    a->n_pending = n - i;
    if (a->n_pending > 0) {
        alloc_start(b);
    }
}

static void alloc_start(struct st_broker *b)
{
    struct st_pid_alloc *a = b->pids;
    if (a->allocating) {
        return;
    }
    Strata__Ctl__AllocateProducerIdsRequest m =
        STRATA__CTL__ALLOCATE_PRODUCER_IDS_REQUEST__INIT;
    m.broker_id = b->node_id;
    m.broker_epoch = st_meta_follower_broker_epoch(b->follower);
    struct st_buf body;
    st_buf_init(&body);
    int rv = st_pb_pack(&m.base, &body);
    if (rv == 0) {
        rv = st_meta_follower_forward(b->follower,
                                      STRATA__CTL__API__ALLOCATE_PRODUCER_IDS,
                                      st_pb_view(&body), ALLOC_TIMEOUT_MS,
                                      alloc_done, b);
    }
    st_buf_close(&body);
    if (rv == 0) {
        a->allocating = true;
        return;
    }
    for (size_t i = 0; i < a->n_pending; i++) {
        answer(a->pending[i], STRATA__ERROR_CODE__UNKNOWN, st_strerror(rv),
               -1, -1);
    }
    a->n_pending = 0;
}

static void init_pid_handler(void *arg, const struct st_rpc_request *req,
                             struct st_rpc_reply *reply)
{
    struct st_broker *b = arg;
    struct st_pid_alloc *a = b->pids;
    Strata__Client__InitProducerIdRequest *in =
        strata__client__init_producer_id_request__unpack(NULL, req->body.len,
                                                         req->body.base);
    if (in == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                              "InitProducerIdRequest does not parse");
        return;
    }
    int64_t pid = in->producer_id;
    int32_t epoch = in->producer_epoch;
    strata__client__init_producer_id_request__free_unpacked(in, NULL);
    if (pid >= 0 && epoch >= 0 && epoch < INT16_MAX) {
        answer(reply, 0, NULL, pid, epoch + 1);
        return;
    }
    if (a->next < a->end) {
        answer(reply, 0, NULL, a->next++, 0);
        return;
    }
    if (a->n_pending == PENDING_MAX) {
        answer(reply, STRATA__ERROR_CODE__THROTTLED,
               "too many InitProducerId requests waiting", -1, -1);
        return;
    }
    a->pending[a->n_pending++] = reply;
    alloc_start(b);
}

int st_broker_producer_ids_register(struct st_broker *b)
{
    b->pids = st_calloc(1, sizeof *b->pids);
    if (b->pids == NULL) {
        return ST_ENOMEM;
    }
    return st_rpc_server_register(b->server,
                                  STRATA__CLIENT__API__INIT_PRODUCER_ID, 0, 0,
                                  0, init_pid_handler, b);
}

void st_broker_producer_ids_free(struct st_broker *b)
{
    struct st_pid_alloc *a = b->pids;
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->n_pending; i++) {
        answer(a->pending[i], STRATA__ERROR_CODE__REQUEST_TIMED_OUT,
               "the broker is stopping", -1, -1);
    }
    a->n_pending = 0;
    a->closed = true;
    /* The follower (freed next) cancels the block request in flight, whose
     * callback still reads a->closed: free after it. */
}
