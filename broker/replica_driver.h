/* The replica driver: the I/O around the pure replica core
 * (broker/replica/replica.h) for every partition this broker hosts.
 *
 *   replica_driver.c   one core per partition: metadata -> PARTITION_CHANGED
 *                      and BROKER_CHANGED, log appends and flushes ->
 *                      APPENDED, acks=all -> ACK_WAIT, the tick timer,
 *                      AlterPartition through the controller link, and the
 *                      update applied in the order of the core's contract
 *                      (truncate/reset, append, HW, completions).
 *   replica_fetcher.c  follower side: one connection per leader broker,
 *                      long-polling ReplicaFetch for every partition
 *                      followed from it (proto/replication.proto).
 *   replica_serve.c    leader side: answers ReplicaFetch (held until data,
 *                      an HW change or max_wait_ms) and ReplicaRead.
 *
 * Durable acks: with log.flush.policy=batch a follower sends its next fetch
 * only once what it appended is fsynced, and reports that durable end in
 * it, so the leader's HW (the minimum durable end of the ISR) moves one
 * round trip after each group commit. A failed fetch (connection lost,
 * timeout) is answered to the core as NOT_LEADER so it retries after its
 * short backoff, not after its 2 s resend timeout.
 *
 * Runs on: the broker's loop thread (every function and callback).
 */
#ifndef ST_BROKER_REPLICA_DRIVER_H
#define ST_BROKER_REPLICA_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/replica/replica.h"
#include "common/bytes.h"

struct event_base;
struct st_conf;
struct st_meta_follower;
struct st_meta_partition;
struct st_partition;
struct st_partition_waiter;
struct st_rpc_server;
struct st_tls_ctx;
struct st_repl;
struct st_repl_part;

struct st_repl_config {
    struct event_base *base;
    struct st_tls_ctx *tls;              /* ST_TLS_CLIENT; borrowed */
    struct st_meta_follower *follower;   /* borrowed; or set later */
    const struct st_conf *conf;          /* borrowed */
    int32_t node_id;
    /* Partition lookup by name (the partition manager). */
    struct st_partition *(*find)(void *arg, const char *topic, int32_t index);
    void *find_arg;
};

/* Errors: ST_ENOMEM. Ownership: *out is the caller's; st_repl_free() it
 * after every partition was closed (their parts freed). */
int st_repl_new(const struct st_repl_config *cfg, struct st_repl **out);
/* The controller link, once made (before any partition opens). */
void st_repl_set_follower(struct st_repl *d, struct st_meta_follower *f);
void st_repl_free(struct st_repl *d);

/* Register ReplicaFetch and ReplicaRead on @srv. Errors: as
 * st_rpc_server_register. */
int st_repl_register(struct st_repl *d, struct st_rpc_server *srv);

/* Answer every held ReplicaFetch now and stop fetching (broker stopping). */
void st_repl_stop(struct st_repl *d);

/* ---- per partition (called by broker/partition.c) ---- */

/* Make the core of @p over its recovered log. Errors: ST_ENOMEM, ST_EINVAL.
 * Ownership: *out is @p's; st_repl_part_free() it before closing the log. */
int st_repl_part_new(struct st_repl *d, struct st_partition *p,
                     struct st_repl_part **out);
/* Pending acks are dropped (the partition fails its waiters itself). */
void st_repl_part_free(struct st_repl_part *rp);

/* The metadata changed: @mp (NULL: not placed here any more) and the
 * topic's min.insync.replicas. */
void st_repl_part_changed(struct st_repl_part *rp,
                          const struct st_meta_partition *mp, int64_t min_isr);
/* The local log's end or durable end moved (leader append, flush done). */
void st_repl_part_appended(struct st_repl_part *rp);
/* An acks=all produce waits for w->offset. Returns ST_ENOTLEADER when the
 * core does not lead (then w is not kept). */
int st_repl_part_ack_wait(struct st_repl_part *rp,
                          struct st_partition_waiter *w);

/* The rest is in broker/replica_driver_int.h (driver files only). */

#endif
