/* Internals shared by service.c (proposals, waiters, leadership, apply,
 * fencing, snapshots), service_admin.c (quorum, topics, configs) and
 * service_broker.c (broker-facing calls). Runs on: the loop thread. */
#ifndef ST_CTL_SERVICE_INT_H
#define ST_CTL_SERVICE_INT_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "common/rpc_server.h"
#include "controller.pb-c.h"
#include "controller/decide.h"
#include "controller/metadata.h"
#include "controller/raft_driver.h"
#include "controller/service.h"
#include "errors.pb-c.h"

#define API_FIRST 100
#define API_COUNT 16

struct waiter;
/* Build and send the answer once the proposal is applied (@error 0) or
 * failed (@error an ErrorCode, @msg its text). Must answer w->reply. */
typedef void (*waiter_done_fn)(struct st_ctl_service *s, struct waiter *w,
                               int error, const char *msg);

struct waiter {
    raft_index index;   /* answered once this entry is applied */
    raft_term term;
    struct st_rpc_reply *reply;
    waiter_done_fn done;
    void *ctx;          /* owned: freed with st_free after done */
    struct waiter *next;
};

struct poller {
    struct st_ctl_service *s;
    struct st_rpc_reply *reply;
    int64_t offset;
    uint32_t max_records;
    struct event *timer;
    struct poller *next;
};

struct st_ctl_service {
    struct event_base *base;
    struct st_rpc_server *server;
    struct st_raft_driver *driver;
    raft_id id;
    char cluster_id[80];
    uint64_t session_timeout_ms;
    uint64_t heartbeat_interval_ms;
    int64_t snapshot_max_records;
    struct st_meta *applied;
    struct st_meta *pending;    /* active controller only */
    raft_term pending_term;
    uint64_t rng;
    struct waiter *waiters, *waiters_tail; /* by index */
    struct poller *pollers;
    struct st_meta_heartbeat_time *hb;
    size_t n_hb, cap_hb;
    struct event *fence_timer;
    bool auto_leader_rebalance;
    uint64_t rebalance_at_ms;      /* next preferred-leader check */
    struct event *wake_ev;      /* answers pollers after a commit */
    struct st_buf snap_buf;
    uint64_t requests[API_COUNT];
    uint64_t snapshots_taken;
};

/* ---- service.c ---- */
bool svc_is_active(struct st_ctl_service *s);
/* Answer NOT_CONTROLLER with the leader's address. */
void svc_not_controller(struct st_ctl_service *s, struct st_rpc_reply *r);
void svc_controller_info(struct st_ctl_service *s,
                         Strata__Ctl__ControllerInfo *ci, char *host,
                         size_t cap);
/* Send @msg (may be NULL: empty body) with @error/@text. */
void svc_reply(struct st_rpc_reply *r, int32_t error, const char *text,
               const ProtobufCMessage *msg);
/* Propose @recs (may be empty: *last = 0) and apply them to the pending
 * state; *last is the index of the last. Errors: ST_ENOTLEADER, ST_ENOMEM. */
int svc_propose(struct st_ctl_service *s, const struct st_meta_recs *recs,
                raft_index *last);
/* Answer @reply through @done(ctx) once entry @index is applied (at once
 * when it already is); NOT_CONTROLLER if leadership is lost first, in
 * which case @done is called with w->reply NULL to free its state.
 * Takes @ctx (st_free'd after done). */
void svc_wait(struct st_ctl_service *s, raft_index index,
              struct st_rpc_reply *reply, waiter_done_fn done, void *ctx);
/* Propose @recs (may be empty), apply them to the pending state and queue
 * a waiter answered by @done(ctx) once the last is applied (at once when
 * @recs is empty). Takes @ctx (st_free'd after done). Never fails to
 * answer: errors go to @done. */
void svc_propose_and_wait(struct st_ctl_service *s, struct st_meta_recs *recs,
                          struct st_rpc_reply *reply, waiter_done_fn done,
                          void *ctx);
void svc_count(struct st_ctl_service *s, uint32_t api);
void svc_hb_touch(struct st_ctl_service *s, int32_t broker_id);
bool svc_hb_alive(struct st_ctl_service *s, int32_t broker_id);

/* ---- service_admin.c / service_broker.c ---- */
int svc_admin_register(struct st_ctl_service *s);
int svc_broker_register(struct st_ctl_service *s);
void svc_pollers_wake(struct st_ctl_service *s, bool all);

#endif
