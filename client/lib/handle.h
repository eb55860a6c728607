/* The client handle's internals, shared by the files of libstrata.
 *
 * Threads and locks: every strata_t has one I/O thread running its own
 * libevent loop; it alone touches the RPC clients (common/rpc_client.h is
 * single-threaded). Application threads and the loop share the state below
 * under one mutex, @lock; @cond is broadcast whenever something an
 * application thread may wait for changes (a delivery report or message
 * queued, metadata arrived, a request completed, the outq shrank).
 * Application threads wake the loop with cl_wake() (event_active on a
 * user event; libevent is made thread-aware once per process).
 *
 * Fields are annotated: [L] under @lock; [loop] loop thread only;
 * [const] set in strata_new() then read-only.
 */
#ifndef ST_CLIENT_HANDLE_H
#define ST_CLIENT_HANDLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/lib/accumulator.h"
#include "client/lib/conf.h"
#include "client/lib/idempotence.h"
#include "client/lib/partitioner.h"
#include "common/batch.h"
#include "common/bytes.h"
#include "strata.h"

struct event;
struct event_base;
struct st_rpc_client;
struct st_rpc_response;
struct st_tls_ctx;
struct cl_group;

/* One broker connection. Bootstrap entries have id < 0 until metadata
 * names the brokers; then each broker gets its own entry. */
struct cl_broker {
    struct cl_broker *next;     /* [L] */
    int32_t id;                 /* [const after creation] */
    char host[256];
    uint16_t port;
    bool bootstrap;
    struct st_rpc_client *rpc;  /* [loop] */
    bool up;                    /* [L] */
    bool ever_failed;           /* [L] */
    char last_err[256];         /* [L] why the last attempt failed */
    bool fetch_in_flight;       /* [loop] */
    strata_t *rk;
};

struct cl_part_md {
    int32_t leader;             /* -1: none */
    int32_t leader_epoch;
};

/* What the cluster metadata says of a topic. */
struct cl_topic_md {
    struct cl_topic_md *next;   /* [L] */
    char *name;
    int32_t err;                /* broker ErrorCode for the topic */
    int32_t n_parts;
    struct cl_part_md *parts;
};

/* Producer state of one partition. */
struct cl_ptp {
    struct cl_acc_part acc;
    struct cl_idem_part idem;
};

/* Producer state of one topic. */
struct cl_ptopic {
    struct cl_ptopic *next;     /* [L] */
    char *name;
    struct cl_sticky sticky;
    int32_t n_parts;            /* 0 until metadata knows the topic */
    struct cl_ptp *parts;
    struct cl_msg *ua_head, *ua_tail; /* waiting for the partition count */
    uint64_t missing_since_ms;  /* metadata said unknown since; 0 no */
};

/* Consumer state of one assigned partition. */
struct cl_ctp {
    struct cl_ctp *next;        /* [L] */
    char *topic;
    int32_t partition;
    int64_t fetch_pos;          /* next offset to fetch; <0: a sentinel */
    int64_t app_pos;            /* next offset poll returns; -1001 unknown */
    int64_t high_watermark;
    int64_t log_start;
    bool paused;
    bool fetching;              /* a fetch or list-offsets is out */
    uint64_t version;           /* bumped by seek/pause: stale results drop */
    size_t queued_bytes;        /* fetched, not yet returned by poll */
    uint64_t backoff_until_ms;
    bool unknown_reported;      /* __UNKNOWN_TOPIC/PARTITION event sent */
    int64_t eof_pos;            /* __PARTITION_EOF sent at this position */
    uint64_t eof_version;       /* ... of this version; 0: none sent */
};

/* A consumed record as handed to the application. */
struct cl_cmsg {
    strata_message_t pub;       /* first: the application's pointer */
    struct cl_cmsg *next;
    struct cl_ctp *ctp;         /* NULL for events */
    uint64_t version;
    size_t bytes;               /* counted in the memory budget */
    strata_header_t *hdrs;
    char *errstr_own;
};

/* Something for strata_poll() to serve. */
struct cl_op {
    struct cl_op *next;
    enum { CL_OP_DR, CL_OP_ERROR } kind;
    struct cl_msg *msg;         /* DR */
    const char *topic;          /* DR: its ptopic's name (lives with rk) */
    strata_resp_err_t err;      /* ERROR */
    char reason[512];
};

/* A request an application thread hands to the loop and waits for. */
struct cl_req {
    struct cl_req *next;        /* [L] the loop's to-send queue */
    strata_t *rk;
    int refs;                   /* [L] caller + loop */
    uint32_t api;
    struct st_buf body;
    int32_t broker_id;          /* -1: any broker */
    uint32_t timeout_ms;
    bool done;                  /* [L] */
    int status;                 /* 0 or an ST_E* transport status */
    int32_t error;              /* Header.error */
    char error_message[256];
    struct st_buf resp_body;
};

struct strata_s {
    strata_type_t type;                 /* [const] */
    strata_conf_t *conf;                /* [const] owned */
    struct cl_conf cc;                  /* [const] */
    char name[128];                     /* [const] */
    struct st_tls_ctx *tls;             /* [const] */

    pthread_t thread;
    bool thread_started;
    struct event_base *base;            /* [loop] */
    struct event *wake_ev;              /* thread-safe event_active */
    struct event *timer_ev;             /* [loop] */

    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool terminate;                     /* [L] */
    bool closed;                        /* [L] close() ran */

    struct cl_broker *brokers;          /* [L] */
    struct cl_topic_md *topics_md;      /* [L] */
    bool md_ready;                      /* [L] a metadata answer arrived */
    bool md_in_flight;                  /* [loop] */
    bool md_wanted;                     /* [L] refresh asap */
    uint64_t md_last_ms;                /* [loop] */
    int32_t controller_id;              /* [L] */
    char cluster_id[64];                /* [L] */
    bool all_down_reported;             /* [loop] */
    unsigned broker_rr;                 /* [L] cl_broker_any rotation */

    struct cl_req *reqs;                /* [L] for the loop to send */

    struct cl_op *ops_head, *ops_tail;  /* [L] for strata_poll */

    /* producer */
    struct cl_budget budget;            /* [L] shared with consumer */
    struct cl_acc acc;                  /* [L] */
    struct cl_partitioner partitioner;  /* [L] */
    struct cl_ptopic *ptopics;          /* [L] */
    struct cl_idem idem;                /* [L] idempotence.h */
    int64_t outq;                       /* [L] records without served DR */
    bool flushing;                      /* [L] */
    unsigned max_in_flight;             /* [const] */
    struct st_batch_builder *builder;   /* [loop] */
    struct st_buf payload;              /* [loop] */

    /* consumer */
    struct cl_ctp *ctps;                /* [L] */
    uint64_t version_seq;               /* [L] source of cl_ctp.version */
    struct cl_cmsg *cq_head, *cq_tail;  /* [L] fetched records */
    struct st_record_iter *iter;        /* [loop] */
    struct cl_group *grp;               /* [L] group.h; NULL: no group.id */
};

/* Wake the loop thread. Runs on: any thread. */
void cl_wake(strata_t *rk);

/* Milliseconds on the monotonic / wall clock. */
uint64_t cl_now_ms(void);
int64_t cl_wall_ms(void);

/* Serve queued callbacks (delivery reports, errors) now, without
 * waiting; returns how many. Requires: @lock NOT held. */
int cl_serve_ops(strata_t *rk);

/* Queue @op for strata_poll() and broadcast. Requires: @lock held. */
void cl_op_push(strata_t *rk, struct cl_op *op);
/* Queue a client-wide error for the error callback. Requires: @lock. */
void cl_error_push(strata_t *rk, strata_resp_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- broker_conn.c ---- */

/* Create the bootstrap brokers (not yet connected). Requires: @lock or
 * before the thread starts. Errors: ST_ENOMEM. */
int cl_brokers_init(strata_t *rk);
/* Find or add the broker @id at host:port. Requires: @lock. NULL: ENOMEM. */
struct cl_broker *cl_broker_learn(strata_t *rk, int32_t id, const char *host,
                                  uint16_t port);
struct cl_broker *cl_broker_find(strata_t *rk, int32_t id);
/* A broker to ask anything (metadata, admin): a connected learned broker,
 * else a connected bootstrap one, else any (requests wait in its backlog).
 * Requires: @lock. */
struct cl_broker *cl_broker_any(strata_t *rk);
/* Connect every broker that has no RPC client yet. Runs on: loop. */
void cl_brokers_connect(strata_t *rk);
/* Free every RPC client (pending callbacks run with ST_ECANCELED). Runs
 * on: loop; @lock NOT held. */
void cl_brokers_disconnect(strata_t *rk);
void cl_brokers_free(strata_t *rk);
/* "host:port: reason; host:port: reason" for every broker that is down.
 * Requires: @lock. */
void cl_brokers_describe_down(strata_t *rk, char *out, size_t cap);
bool cl_brokers_any_up(strata_t *rk);

/* Send an encoded request over @b. Runs on: loop. Same contract as
 * st_rpc_client_send (the callback runs later, on the loop). */
int cl_broker_send(struct cl_broker *b, uint32_t api, const void *body,
                   size_t body_len, const void *payload, size_t payload_len,
                   uint32_t timeout_ms,
                   void (*cb)(void *, int, const struct st_rpc_response *),
                   void *arg);

/* Synchronous request from an application thread: hand @body to the loop,
 * wait up to @timeout_ms. Returns 0 with *out (caller releases with
 * cl_req_release) whether or not the broker reported an error, or a
 * strata error: __TIMED_OUT, __TRANSPORT, __ALL_BROKERS_DOWN, __NOMEM.
 * @errstr gets the reason on error. */
strata_resp_err_t cl_req_sync(strata_t *rk, uint32_t api,
                              const uint8_t *body, size_t len,
                              int32_t broker_id, int timeout_ms,
                              struct cl_req **out, char *errstr,
                              size_t errstr_size);
void cl_req_release(strata_t *rk, struct cl_req *r);
/* Send queued requests. Runs on: loop; @lock held. */
void cl_reqs_send(strata_t *rk);

/* ---- metadata.c ---- */

/* Ask for a metadata refresh soon. Requires: @lock. */
void cl_md_want(strata_t *rk);
/* Send a metadata request when wanted or stale. Runs on: loop, @lock. */
void cl_md_tick(strata_t *rk, uint64_t now_ms);
struct cl_topic_md *cl_md_topic(strata_t *rk, const char *topic);
/* The leader of @topic/@partition: broker id, or -1 (unknown / none). */
int32_t cl_md_leader(strata_t *rk, const char *topic, int32_t partition,
                     int32_t *epoch);
/* Record a leader hint from a NOT_LEADER answer. Requires: @lock. */
void cl_md_leader_hint(strata_t *rk, const char *topic, int32_t partition,
                       int32_t leader, int32_t epoch);
void cl_md_free(strata_t *rk);

/* ---- producer.c ---- */

/* Producer work of one loop pass: expire, partition, send. Lowers *@wake
 * to the next time the producer needs the loop. Runs on: loop, @lock. */
void cl_producer_tick(strata_t *rk, uint64_t now_ms, uint64_t *wake_ms);
/* Metadata arrived for @t: place records waiting for a partition count.
 * Requires: @lock. */
void cl_producer_md_updated(strata_t *rk);
/* Hand every record still held to strata_poll() as @err. Requires:
 * @lock. */
void cl_producer_purge(strata_t *rk, strata_resp_err_t err,
                       const char *why);
void cl_producer_free(strata_t *rk);

/* ---- fetcher.c ---- */

/* Consumer work of one loop pass: resolve offsets, send fetches. Runs on:
 * loop, @lock. */
void cl_fetcher_tick(strata_t *rk, uint64_t now_ms, uint64_t *wake_ms);
void cl_consumer_free(strata_t *rk);
/* Free a consumed record. */
void cl_cmsg_free(struct cl_cmsg *m);

/* ---- list offsets (consumer.c) ---- */
strata_resp_err_t cl_list_offsets(strata_t *rk,
                                  strata_topic_partition_list_t *p,
                                  int timeout_ms);

#endif
