/* The strata-broker process object: one libevent loop that owns the RPC
 * server for clients, the controller link (metadata_follower.h), the hosted
 * partitions (partition_manager.h) and the client API handlers:
 *
 *   metadata_api.c   Metadata, DescribeCluster
 *   produce.c        Produce (acks 0/1/all)
 *   fetch.c          Fetch (long poll)
 *   list_offsets.c   ListOffsets
 *   admin_forward.c  topic and config admin, forwarded to the controller
 *
 * This header is shared by those files only (the broker's inside).
 * Runs on: the loop thread.
 */
#ifndef ST_BROKER_H
#define ST_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/bytes.h"

struct event;
struct event_base;
struct st_conf;
struct st_jobq;
struct st_meta_follower;
struct st_partition;
struct st_pm;
struct st_rpc_reply;
struct st_rpc_server;
struct st_tls_ctx;
struct st_fetch_waits;
struct st_coord;
struct st_pid_alloc;
struct st_repl;
struct st_vfs;

/* Counters kept for /metrics (a later issue). */
struct st_broker_stats {
    uint64_t produce_requests, produce_records_bytes, produce_errors;
    uint64_t fetch_requests, fetch_bytes, fetch_errors;
    uint64_t list_offsets_requests, metadata_requests, admin_requests;
};

struct st_broker {
    struct event_base *base;
    const struct st_conf *conf;
    int32_t node_id;
    char cluster_id[65];
    char host[256];                 /* advertised listener */
    uint16_t port;
    struct st_tls_ctx *tls_server, *tls_client;
    struct st_rpc_server *server;
    struct st_jobq *jobq;
    struct st_meta_follower *follower;
    struct st_pm *pm;
    struct st_repl *repl;           /* replica driver (replica_driver.h) */
    struct st_pid_alloc *pids;      /* producer ids (producer_ids.c) */
    struct st_fetch_waits *fetches;
    struct st_coord *coord;         /* group coordinator (coordinator.h) */
    struct event *housekeeping_ev;
    struct event *stop_ev;          /* controlled-shutdown deadline */
    bool stopping;
    struct st_buf produce_buf;      /* reused copy of produce payloads */
    struct st_broker_stats stats;
    int exit_code;                  /* set by a fatal condition */
};

/* Build the whole broker from its config (server listening, controller
 * link started). Errors: ST_ETLS, ST_ECONFIG, bind errors, ST_ENOMEM; a
 * line saying what failed is logged.
 * Ownership: *out is the caller's; st_broker_free() it. */
int st_broker_new(struct event_base *base, const struct st_conf *conf,
                  const char *cluster_id, struct st_broker **out);
/* Stop serving, close every partition cleanly (flush, clean-shutdown
 * marker) and free. NULL-safe. */
void st_broker_free(struct st_broker *b);

/* Stop (SIGTERM): a controlled shutdown through the controller, bounded
 * by STOP_TIMEOUT_MS, then the loop is broken; a second call breaks it at
 * once. The caller then st_broker_free()s. */
void st_broker_stop(struct st_broker *b);

/* Whether this broker must refuse writes now (see metadata_follower.h). */
bool st_broker_fenced(const struct st_broker *b);

/* Handler registration, one per API file. Errors: as
 * st_rpc_server_register. */
int st_broker_metadata_register(struct st_broker *b);
int st_broker_produce_register(struct st_broker *b);
int st_broker_list_offsets_register(struct st_broker *b);
int st_broker_admin_register(struct st_broker *b);

/* fetch.c: the waiting long polls. */
int st_fetch_waits_new(struct st_broker *b, struct st_fetch_waits **out);
/* Answers every waiting fetch; the object itself goes once the payloads
 * it handed to the server are done (free the server first). */
void st_fetch_waits_free(struct st_fetch_waits *w);
int st_broker_fetch_register(struct st_broker *b);
/* A partition's HW grew: re-check the waiting fetches (deferred to one
 * pass per loop turn). */
void st_fetch_waits_kick(struct st_fetch_waits *w);

/* producer_ids.c: InitProducerId from controller-allocated blocks. */
int st_broker_producer_ids_register(struct st_broker *b);
void st_broker_producer_ids_free(struct st_broker *b);

/* The vfs the logs use: posix, or with test.vfs=crashable a posix vfs
 * that drops un-fsynced writes and exits on SIGUSR1 (crash_vfs.c). */
struct st_vfs *st_broker_vfs(const struct st_conf *conf);
/* Arm SIGUSR1 (the crash) when test.vfs=crashable. Errors: ST_ENOMEM. */
int st_broker_crash_arm(struct event_base *base, const struct st_conf *conf);
void st_broker_crash_disarm(void);

/* Answer @reply with error @code (errors.proto) and @msg, no body. */
void st_broker_reply_error(struct st_rpc_reply *reply, int32_t code,
                           const char *msg);

/* The errors.proto code for an ST_E* value from the log. */
int32_t st_broker_error_code(int rv);

#endif
