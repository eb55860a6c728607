/* The controller service: the controller RPC family (proto/controller.proto)
 * on top of the Raft driver and the metadata state machine.
 *
 * Writes (create/delete topics, create partitions, alter configs, broker
 * registration and heartbeats, alter partition, producer ids) are decided
 * by the active controller (controller/decide.h) against its "pending"
 * state — the applied state plus its own uncommitted proposals, rebuilt
 * from the log when it wins leadership — proposed as Raft entries (one
 * MetadataRecord each), and answered once the last of them is committed
 * and applied.
 * A voter that is not the active controller answers NOT_CONTROLLER with
 * the leader's id and address. Reads (describe quorum, list/describe
 * topics, describe configs) are answered by every voter from its applied
 * state, which on a follower may lag the leader by one commit round.
 * FetchMetadata (leader only) serves committed records from an offset,
 * a snapshot when the offset is below the log start, and long-polls.
 *
 * Soft state on the active controller: broker heartbeat times. They are
 * reset when leadership is won (every registered broker gets a grace of
 * one session timeout), and a timer fences brokers whose session expired.
 * Every `metadata.snapshot.max.records` applied records, the applied state
 * is snapshotted and handed to the driver (so the Raft log stays bounded).
 *
 * Runs on: the loop thread.
 */
#ifndef ST_CTL_SERVICE_H
#define ST_CTL_SERVICE_H

#include <stdint.h>
#include <stdio.h>

#include "common/bytes.h"
#include "controller/raft/raft.h"

struct event_base;
struct st_rpc_server;
struct st_raft_driver;
struct st_ctl_service;

struct st_ctl_service_config {
    struct event_base *base;
    struct st_rpc_server *server;  /* the controller APIs are registered */
    raft_id id;
    const char *cluster_id;
    uint64_t session_timeout_ms;
    uint64_t heartbeat_interval_ms;
    int64_t snapshot_max_records;
    bool auto_leader_rebalance;    /* preferred-leader election */
};

/* Make the service (the applied state is empty until the driver restores
 * and applies). Errors: ST_ENOMEM, server registration errors.
 * Ownership: *out is the caller's; st_ctl_service_free() it. */
int st_ctl_service_new(const struct st_ctl_service_config *cfg,
                       struct st_ctl_service **out);

/* Attach the driver (borrowed; must outlive the service's use of it) and
 * start the fencing timer. */
void st_ctl_service_attach(struct st_ctl_service *s,
                           struct st_raft_driver *d);

/* Fail every waiting request with NOT_CONTROLLER and free. NULL-safe. */
void st_ctl_service_free(struct st_ctl_service *s);

/* Driver callbacks (struct st_raft_driver_cbs); @arg is the service. */
void st_ctl_service_apply(void *arg, const struct raft_entry *e);
int st_ctl_service_restore(void *arg, raft_index index, struct st_bytes data);
void st_ctl_service_role_changed(void *arg);

/* Write Prometheus text metrics (requests by api, applied offset,
 * brokers, topics) to @out. */
void st_ctl_service_metrics(const struct st_ctl_service *s, FILE *out);

#endif
