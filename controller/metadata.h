/* The cluster metadata state machine (DESIGN.md sections 1 and 5).
 *
 * The controllers' Raft log holds MetadataRecords (proto/metadata.proto). Every
 * voter, and every broker that follows the log, feeds the committed records
 * in log order to st_meta_apply(); the result is the same st_meta everywhere:
 * brokers (listeners, rack, incarnation, epoch, fenced), topics (name, id,
 * partitions with replicas, ISR, leader, leader and partition epochs),
 * configs (topic, cluster and broker overrides) and the next producer id.
 *
 * This module is pure: no I/O, no clock, no entropy, no logging. Deciding
 * what to append is a separate module (controller/decide.h); applying never
 * decides. Snapshots (st_meta_snapshot_write/load) are canonical: the same
 * state always gives the same bytes.
 *
 * Runs on: whichever single thread owns the st_meta (the controller's loop
 * thread); no internal locking.
 */
#ifndef ST_META_H
#define ST_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

#define ST_META_UUID_LEN 16
/* How many replaced incarnations of a broker are remembered, so that a
 * broker process from before a restart cannot register again. */
#define ST_META_RETIRED_MAX 4

/* Config resources; the values equal proto ConfigResource. */
enum st_meta_resource {
    ST_META_RES_TOPIC = 1,
    ST_META_RES_CLUSTER = 2,  /* cluster-wide defaults; name "" */
    ST_META_RES_BROKER = 3,   /* name is the decimal broker id */
};

struct st_meta_listener {
    char *name;
    char *host;
    uint16_t port;
};

struct st_meta_broker {
    int32_t id;
    struct st_meta_listener *listeners;
    size_t n_listeners;
    char *rack;                              /* "" when none */
    uint8_t incarnation[ST_META_UUID_LEN];
    int64_t epoch;          /* offset of the RegisterBroker record */
    bool fenced;
    uint8_t retired[ST_META_RETIRED_MAX][ST_META_UUID_LEN]; /* oldest first */
    unsigned n_retired;
    /* Derived load, not part of records or snapshots: how many partitions
     * list this broker as a replica, and how many it leads. Kept up to date
     * by every apply and recomputed by snapshot load, so that placement
     * reads them in O(brokers) instead of rescanning every partition. */
    uint32_t n_replicas;
    uint32_t n_leading;
};

struct st_meta_partition {
    int32_t *replicas;      /* preferred order: replicas[0] leads by choice */
    int n_replicas;
    int32_t *isr;           /* never empty */
    int n_isr;
    int32_t leader;         /* an ISR member, or -1 when none can lead */
    int32_t leader_epoch;
    int32_t partition_epoch;
};

struct st_meta_topic {
    char *name;
    uint8_t id[ST_META_UUID_LEN];
    struct st_meta_partition *parts;
    int32_t n_parts;
};

struct st_meta_config {
    enum st_meta_resource resource;
    char *name;
    char *key;
    char *value;
};

struct st_meta;

/* An empty state at offset -1. Errors: ST_ENOMEM.
 * Ownership: *out belongs to the caller; st_meta_free() it. */
int st_meta_new(struct st_meta **out);
/* NULL-safe. Invalidates every view returned by the queries below. */
void st_meta_free(struct st_meta *m);

/* Apply the encoded MetadataRecord @rec (@len bytes, borrowed) found at
 * @offset of the metadata log. Offsets must increase strictly.
 * A record is consumed (the last offset becomes @offset) whether it changed
 * the state or was refused; a refused record leaves the state unchanged, and
 * every replica refuses it alike, so replicas stay identical.
 * Errors, state unchanged:
 *   ST_ERANGE   @offset <= the last applied offset (not consumed);
 *   ST_ENOMEM   (not consumed: apply it again);
 *   ST_ECORRUPT the bytes do not decode, no body is set, or a field is
 *               impossible (bad uuid length, empty ISR, leader outside ISR,
 *               duplicate replicas, wrong producer-id block start...);
 *   ST_ENOENT   the record names an unknown broker, topic or partition;
 *   ST_EEXIST   a topic name or id that already exists;
 *   ST_ESTALE   a broker epoch that is not the broker's current one.
 * Never crashes on any input. Views from the queries become invalid. */
int st_meta_apply(struct st_meta *m, int64_t offset, const uint8_t *rec,
                  size_t len);

/* ---- queries: views are borrowed, valid until the next apply, load or
 * free; the caller must not modify them ---- */

/* Offset of the last consumed record, or -1. */
int64_t st_meta_last_offset(const struct st_meta *m);

size_t st_meta_broker_count(const struct st_meta *m);
/* Brokers in increasing id order; @i < st_meta_broker_count(). */
const struct st_meta_broker *st_meta_broker_at(const struct st_meta *m,
                                               size_t i);
/* NULL when @id is not registered. */
const struct st_meta_broker *st_meta_broker_find(const struct st_meta *m,
                                                 int32_t id);

size_t st_meta_topic_count(const struct st_meta *m);
/* Topics in name order (strcmp); @i < st_meta_topic_count(). */
const struct st_meta_topic *st_meta_topic_at(const struct st_meta *m,
                                             size_t i);
/* NULL when unknown. */
const struct st_meta_topic *st_meta_topic_by_name(const struct st_meta *m,
                                                  const char *name);
/* A topic whose name differs from @name but collides with it ('.' and '_'
 * read alike, topic_name.h), or NULL. O(log topics). */
const struct st_meta_topic *st_meta_topic_colliding(const struct st_meta *m,
                                                    const char *name);
const struct st_meta_topic *
st_meta_topic_by_id(const struct st_meta *m,
                    const uint8_t id[ST_META_UUID_LEN]);
/* NULL when the topic or partition is unknown. */
const struct st_meta_partition *
st_meta_partition_find(const struct st_meta *m,
                       const uint8_t topic_id[ST_META_UUID_LEN],
                       int32_t partition);

/* The override stored for (@resource, @name, @key), or NULL. */
const char *st_meta_config_get(const struct st_meta *m,
                               enum st_meta_resource resource,
                               const char *name, const char *key);
/* The value in force for @key of topic @topic: the topic's override, else
 * the cluster default, else the schema default (controller/metadata_config.h),
 * else NULL for an unknown key. */
const char *st_meta_topic_config(const struct st_meta *m, const char *topic,
                                 const char *key);
size_t st_meta_config_count(const struct st_meta *m);
/* Configs ordered by (resource, name, key). */
const struct st_meta_config *st_meta_config_at(const struct st_meta *m,
                                               size_t i);

/* The first producer id not yet handed out (starts at 0). */
int64_t st_meta_next_producer_id(const struct st_meta *m);

/* ---- snapshots ---- */

/* Append the canonical encoding (a MetadataSnapshot) of the whole state to
 * @out, and restart the count behind st_meta_snapshot_due(). Equal states
 * give equal bytes. Errors: ST_ENOMEM (@out may hold a partial append). */
int st_meta_snapshot_write(struct st_meta *m, struct st_buf *out);
/* Replace the whole state of @m by the snapshot @snap (@len bytes,
 * borrowed). Errors, state unchanged: ST_ECORRUPT (does not decode or is
 * inconsistent: unsorted, duplicates, bad sizes), ST_EUNSUPPORTED (unknown
 * format_version), ST_ENOMEM. */
int st_meta_snapshot_load(struct st_meta *m, const uint8_t *snap, size_t len);
/* True when at least @max_records records were consumed since the last
 * snapshot written or loaded (or since st_meta_new) — the driver's cue for
 * `metadata.snapshot.max.records`. @max_records <= 0 means never. */
bool st_meta_snapshot_due(const struct st_meta *m, int64_t max_records);
/* Records consumed since the last snapshot written or loaded. */
int64_t st_meta_records_since_snapshot(const struct st_meta *m);

/* A deep copy of @m (through its snapshot encoding), e.g. the active
 * controller's speculative state that also holds its uncommitted
 * proposals. Errors: ST_ENOMEM.
 * Ownership: *out belongs to the caller; st_meta_free() it. */
int st_meta_clone(const struct st_meta *m, struct st_meta **out);

#endif
