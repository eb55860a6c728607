/* The group coordinator: drives the membership core (broker/group/group.h)
 * for every group whose __consumer_offsets partition this broker leads.
 *
 *   coordinator.c      shards (one per led offsets partition): loading by
 *                      replay, appending the core's records, releasing
 *                      responses once durable, timers
 *   coordinator_api.c  the RPCs of proto/group.proto
 *
 * Placement: group G lives in partition abs(javaHash(G)) % N of
 * __consumer_offsets (Kafka's rule), N the topic's partition count. The
 * topic is created on first FindCoordinator with offsets.topic.num.
 * partitions partitions, replication factor min(offsets.topic.replication.
 * factor, registered brokers) and cleanup.policy=compact.
 *
 * Shard life: when this broker becomes leader of an offsets partition (or
 * its leader epoch changes) the shard is rebuilt by replaying the whole log
 * (LOAD... LOAD_DONE, then METADATA); when it stops leading, the shard and
 * its groups are freed and waiting responses get NOT_COORDINATOR. Replay
 * runs on the loop thread, synchronously (the offsets topic is compacted,
 * so small).
 *
 * Durability (group.h's driver contract): each step's records are appended
 * as one batch; every response of a shard (with or without records) waits
 * until the partition's HW covers everything the shard appended before it
 * was answered, so responses leave in step order and never before their
 * records are durable (acks=all). A failed append frees the shard; it is
 * rebuilt from the log at the next check.
 *
 * Runs on: the broker's loop thread.
 */
#ifndef ST_BROKER_COORDINATOR_H
#define ST_BROKER_COORDINATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/group/group.h"
#include "common/bytes.h"

struct st_broker;
struct st_coord;
struct st_rpc_reply;

#define ST_COORD_TOPIC "__consumer_offsets"

/* Make the coordinator of @b and register its RPCs on b->server.
 * Errors: ST_ENOMEM, registration errors.
 * Ownership: *out is the caller's; st_coord_free() it. */
int st_coord_new(struct st_broker *b, struct st_coord **out);
/* Free every shard; waiting responses are answered NOT_COORDINATOR.
 * NULL-safe; before the server is freed. */
void st_coord_free(struct st_coord *c);
/* The metadata changed: take or drop shards, feed topic changes to the
 * groups. */
void st_coord_meta_changed(struct st_coord *c);

/* The offsets partition of @group_id among @n_parts. */
int32_t st_coord_partition_for(const char *group_id, int32_t n_parts);

/* ---- for coordinator_api.c ---- */

struct st_coord_shard;

/* The loaded shard that owns @group_id, or NULL with *@err set to
 * NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE (errors.proto). */
struct st_coord_shard *st_coord_shard_for(struct st_coord *c,
                                          const char *group_id,
                                          int32_t *err);
/* The core of @group_id in @s, or NULL; with @create a new empty one
 * (NULL only when out of memory). */
struct st_group *st_coord_group(struct st_coord_shard *s,
                                const char *group_id, bool create);
/* Step @ev on @group_id's core, append its records and arm its timer.
 * Returns 0 (protocol refusals are in @up), or an ST_E* error after which
 * the shard is gone: answer COORDINATOR_NOT_AVAILABLE. @up is valid until
 * st_coord_step_done(). */
int st_coord_step(struct st_coord *c, struct st_coord_shard *s,
                  const char *group_id, const struct st_group_event *ev,
                  struct st_group_update *up);
/* Free the group when the last step said deleted (call once the response
 * was built from @up). */
void st_coord_step_done(struct st_coord_shard *s, const char *group_id,
                        const struct st_group_update *up);
/* Answer @reply with @body (copied) once everything @s appended so far is
 * durable; at once when it already is. */
void st_coord_reply(struct st_coord *c, struct st_coord_shard *s,
                    struct st_rpc_reply *reply, struct st_bytes body);

/* Every loaded group: @fn(@arg, group id, core, coordinator id). */
void st_coord_foreach_group(struct st_coord *c,
                            void (*fn)(void *arg, const char *group_id,
                                       const struct st_group *g),
                            void *arg);
struct st_broker *st_coord_broker(struct st_coord *c);
uint64_t st_coord_now_ms(void);

/* errors.proto code of a core error. */
int32_t st_coord_error_code(enum st_group_error e);

/* coordinator_api.c: register the RPCs. */
int st_coord_api_register(struct st_coord *c);

#endif
