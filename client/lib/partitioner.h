/* Choosing a partition for a record sent to STRATA_PARTITION_ANY.
 *
 * Keyed records: murmur2 (the Java client's) of the key modulo the
 * partition count, so a key always lands on the same partition while the
 * count stays; `random` ignores the key. Null keys: sticky batches (KIP-480)
 * - every null-key record goes to the topic's current sticky partition
 * until the producer reports that the partition's batch was sent
 * (cl_partitioner_batch_sent), then a new partition is picked, never the
 * same one twice in a row when there are two or more.
 *
 * Pure: the PRNG is seeded at init; no clock, no I/O. Not thread-safe:
 * the producer calls it under its lock.
 */
#ifndef ST_CLIENT_PARTITIONER_H
#define ST_CLIENT_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

#include "client/lib/conf.h"

/* Per-topic sticky state; caller's memory, zero it then _init. */
struct cl_sticky {
    int32_t partition; /* -1: pick on next null-key record */
};

struct cl_partitioner {
    enum cl_part_kind kind;
    uint64_t rng;
};

void cl_partitioner_init(struct cl_partitioner *p, enum cl_part_kind kind,
                         uint64_t seed);
void cl_sticky_init(struct cl_sticky *s);

/* The partition for a record with @key (NULL: null key) in a topic of
 * @n_partitions (> 0) partitions, using and updating @s for null keys. */
int32_t cl_partitioner_pick(struct cl_partitioner *p, struct cl_sticky *s,
                            const void *key, size_t key_len,
                            int32_t n_partitions);

/* The batch of @partition of the topic owning @s was closed (sent): the
 * next null-key record moves to another partition. */
void cl_partitioner_batch_sent(struct cl_sticky *s, int32_t partition);

#endif
