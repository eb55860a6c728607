/* The deciding side of the metadata log: pure functions that take the
 * current state and one request and return either the records to append
 * (encoded MetadataRecords, one per Raft entry, in order) or a typed error.
 *
 * Only the active controller decides, against the state that includes every
 * record it has already proposed (its applied state plus its own uncommitted
 * proposals: keep a second st_meta for that, cloned with st_meta_snapshot_*
 * when leadership is won). Deciding never changes the state: the records do,
 * once applied. Each record is a valid change on its own, so if a leader dies
 * after only a prefix of a decision was committed, the state is still
 * consistent, and st_meta_decide_elect_leaders() finishes any leader moves.
 *
 * Leader election rules (Kafka's ISR rules, with KIP-966's spirit):
 *  - a leader is chosen only from the ISR, preferring replica order;
 *  - a fenced or unregistered broker is removed from the ISR, except that
 *    the ISR never becomes empty: when no live ISR member remains, the ISR is
 *    kept as it was (every member holds every acknowledged record) and the
 *    leader is -1; the first of them to come back (unfenced) is elected;
 *  - only when the topic's unclean.leader.election.enable is true may a live
 *    replica outside the ISR become leader (ISR = {it}), accepting loss.
 *
 * Errors: functions return 0, or a negative ST_E* code and fill @err with the
 * wire ErrorCode (proto/errors.proto) and a sentence for the client.
 * ST_ENOMEM is the only error that does not describe the request.
 * Runs on: the thread owning the st_meta. No clock, no entropy: "now" and a
 * PRNG state (splitmix64, seeded by the caller) come in as arguments.
 */
#ifndef ST_DECIDE_H
#define ST_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "controller/metadata.h"

/* The records a decision produced; each v[i] is one encoded MetadataRecord. */
struct st_meta_recs {
    struct st_buf *v;
    size_t n, cap;
};
void st_meta_recs_init(struct st_meta_recs *r);
/* Free every record. NULL-safe. */
void st_meta_recs_close(struct st_meta_recs *r);

struct st_meta_err {
    int code;           /* Strata__ErrorCode (errors.proto); 0 on success */
    char msg[256];
};

/* splitmix64 step; the deciding side's only source of randomness. */
uint64_t st_meta_rand(uint64_t *state);

/* ---- topics ---- */

struct st_meta_kv {
    const char *key;
    const char *value;  /* NULL: delete the override (alter configs only) */
};

struct st_meta_assignment {
    const int32_t *replicas;  /* replicas[0] is the preferred leader */
    int n_replicas;
};

struct st_meta_create_topic {
    const char *name;
    int32_t partitions;          /* -1: the cluster's num.partitions */
    int32_t replication_factor;  /* -1: default.replication.factor */
    const struct st_meta_kv *configs;
    size_t n_configs;
    /* NULL: placement chooses. Else n_assignments partitions with explicit
     * replicas (partitions and replication_factor must then be -1 or
     * agree). */
    const struct st_meta_assignment *assignments;
    size_t n_assignments;
    bool validate_only;          /* check everything, produce no record */
    bool internal;               /* may use a reserved "__" name */
};

/* One CreateTopic record with every partition: ISR = replicas, leader =
 * replicas[0] (with explicit assignments: the unfenced replicas, in order).
 * A fresh topic id comes from @rng. Errors (code): ST_EINVAL
 * (INVALID_TOPIC: bad name or '.'/'_' clash; INVALID_PARTITIONS;
 * INVALID_REPLICATION_FACTOR: < 1 or more than the unfenced brokers;
 * INVALID_REQUEST: bad assignment), ST_EEXIST (TOPIC_ALREADY_EXISTS),
 * ST_ECONFIG (INVALID_CONFIG), ST_ENOMEM. */
int st_meta_decide_create_topic(const struct st_meta *m,
                                const struct st_meta_create_topic *req,
                                uint64_t *rng, struct st_meta_recs *out,
                                struct st_meta_err *err);

/* Add partitions to @topic until it has @total, placed like new topics.
 * Errors: ST_ENOENT (UNKNOWN_TOPIC_OR_PARTITION), ST_EINVAL
 * (INVALID_PARTITIONS: @total not above the current count), ST_ENOMEM. */
int st_meta_decide_create_partitions(const struct st_meta *m,
                                     const char *topic, int32_t total,
                                     uint64_t *rng, struct st_meta_recs *out,
                                     struct st_meta_err *err);

/* Errors: ST_ENOENT (UNKNOWN_TOPIC_OR_PARTITION), ST_ENOMEM. */
int st_meta_decide_delete_topic(const struct st_meta *m, const char *name,
                                struct st_meta_recs *out,
                                struct st_meta_err *err);

/* One ConfigChange per key, after validating every key and value against
 * controller/metadata_config.h (all or none). Enabling
 * unclean.leader.election.enable on a topic also elects its leaderless
 * partitions; after enabling it as a cluster or broker default, call
 * st_meta_decide_elect_leaders() once the change is committed. @name: topic name, "" for the
 * cluster, or a decimal broker id. Errors: ST_ENOENT (unknown topic),
 * ST_ECONFIG (INVALID_CONFIG: unknown key, wrong scope, bad value),
 * ST_EINVAL (INVALID_REQUEST: bad name or a key twice), ST_ENOMEM. */
int st_meta_decide_alter_configs(const struct st_meta *m,
                                 enum st_meta_resource resource,
                                 const char *name,
                                 const struct st_meta_kv *kvs, size_t n,
                                 bool validate_only, struct st_meta_recs *out,
                                 struct st_meta_err *err);

/* ---- brokers ---- */

struct st_meta_register {
    int32_t broker_id;
    uint8_t incarnation[ST_META_UUID_LEN];
    const struct st_meta_listener *listeners;
    size_t n_listeners;
    const char *rack;            /* NULL or "" for none */
    /* The caller's view: the current registration still heartbeats within
     * the session timeout (then another process uses this id). */
    bool session_alive;
};

/* Register a broker. Same incarnation as the current registration: a retry,
 * no record, *@epoch = the current epoch. New incarnation (or new broker): a
 * RegisterBroker record (the epoch will be its offset; *@epoch = -1), plus,
 * for a known broker, the leader moves of fencing its old incarnation.
 * Errors: ST_ESTALE (STALE_BROKER_EPOCH: a retired incarnation),
 * ST_EEXIST (INVALID_REQUEST: another live incarnation holds the id),
 * ST_EINVAL (INVALID_REQUEST: bad id, incarnation or port), ST_ENOMEM. */
int st_meta_decide_register_broker(const struct st_meta *m,
                                   const struct st_meta_register *req,
                                   struct st_meta_recs *out, int64_t *epoch,
                                   struct st_meta_err *err);

/* A heartbeat from @broker_id at @broker_epoch. A fenced broker that does not
 * @want_fence and is @caught_up (its metadata offset reached the
 * controller's) is unfenced, and leaderless partitions it can lead get it as
 * leader. An unfenced broker that @want_fence (controlled shutdown) is fenced
 * and its leaderships move. *@fenced is the state once @out is applied.
 * Errors: ST_ENOENT / ST_ESTALE (STALE_BROKER_EPOCH), ST_ENOMEM. */
int st_meta_decide_heartbeat(const struct st_meta *m, int32_t broker_id,
                             int64_t broker_epoch, bool want_fence,
                             bool caught_up, struct st_meta_recs *out,
                             bool *fenced, struct st_meta_err *err);

struct st_meta_heartbeat_time {
    int32_t broker_id;
    uint64_t last_ms;  /* caller's monotonic clock at the last heartbeat */
};

/* Fence every unfenced broker whose last heartbeat is at least
 * @session_timeout_ms before @now_ms, and move its leaderships. A broker
 * missing from @hb is not fenced (the caller starts every broker's timer when
 * it becomes the active controller). Errors: ST_ENOMEM. */
int st_meta_decide_session_timeouts(const struct st_meta *m, uint64_t now_ms,
                                    uint64_t session_timeout_ms,
                                    const struct st_meta_heartbeat_time *hb,
                                    size_t n_hb, struct st_meta_recs *out);

/* Remove a fenced broker's registration. Errors: ST_ENOENT / ST_ESTALE
 * (STALE_BROKER_EPOCH), ST_EINVAL (INVALID_REQUEST: not fenced), ST_ENOMEM. */
int st_meta_decide_unregister_broker(const struct st_meta *m,
                                     int32_t broker_id, int64_t broker_epoch,
                                     struct st_meta_recs *out,
                                     struct st_meta_err *err);

/* Bring every partition in line with the rules above given which brokers
 * are live now (registered and unfenced): drop dead ISR members, elect
 * leaders for leaderless partitions. Called when a controller becomes
 * active and after each decision that may have been cut short.
 * Errors: ST_ENOMEM. */
int st_meta_decide_elect_leaders(const struct st_meta *m,
                                 struct st_meta_recs *out);

/* ---- partitions ---- */

struct st_meta_alter_partition {
    int32_t broker_id;           /* the partition leader asking */
    int64_t broker_epoch;
    uint8_t topic_id[ST_META_UUID_LEN];
    int32_t partition;
    int32_t leader_epoch;        /* the leader's view */
    int32_t partition_epoch;     /* the leader's view */
    const int32_t *new_isr;
    int n_new_isr;
    /* NULL, or the broker epoch of each new_isr member (KIP-903), checked
     * for members joining the ISR. */
    const int64_t *new_isr_epochs;
};

/* An ISR change from the partition leader: one PartitionChange;
 * *@new_partition_epoch is the partition epoch once it is applied.
 * Errors: ST_ENOENT (STALE_BROKER_EPOCH: unknown broker;
 * UNKNOWN_TOPIC_OR_PARTITION), ST_ESTALE (STALE_BROKER_EPOCH; or
 * INVALID_REQUEST "stale partition epoch"), ST_EFENCED (BROKER_FENCED: the
 * sender or a joining member is fenced; FENCED_LEADER_EPOCH),
 * ST_ENOTLEADER (NOT_LEADER), ST_EINVAL (INVALID_REQUEST: ISR empty,
 * without the leader, outside the replicas, duplicated), ST_ENOMEM. */
int st_meta_decide_alter_partition(const struct st_meta *m,
                                   const struct st_meta_alter_partition *req,
                                   struct st_meta_recs *out,
                                   int32_t *new_partition_epoch,
                                   struct st_meta_err *err);

/* ---- producer ids ---- */

#define ST_META_PRODUCER_ID_BLOCK 1000

/* Hand the next @size producer ids to @broker_id; *@start is the first.
 * Errors: ST_ENOENT / ST_ESTALE (STALE_BROKER_EPOCH), ST_EFENCED
 * (BROKER_FENCED), ST_EINVAL (INVALID_REQUEST: size < 1), ST_ERANGE
 * (UNKNOWN: ids exhausted), ST_ENOMEM. */
int st_meta_decide_alloc_producer_ids(const struct st_meta *m,
                                      int32_t broker_id, int64_t broker_epoch,
                                      int32_t size, struct st_meta_recs *out,
                                      int64_t *start, struct st_meta_err *err);

#endif
