/* Replica placement: choose the replicas (and so the preferred leader, the
 * first replica) of new partitions so that leaders and replicas spread
 * evenly over the given brokers, and each partition's replicas span as many
 * racks as possible.
 *
 * Greedy on the load so far: the leader of each partition is the broker with
 * the fewest leaders (then fewest replicas); each further replica is, among
 * brokers not yet chosen, one in the least-used rack of this partition with
 * the fewest replicas. Ties are broken by a broker order shuffled once from
 * the caller's PRNG, so placement is deterministic given the seed. Counting
 * the existing load keeps many topics balanced, not just one (Kafka's KRaft
 * StripedReplicaPlacer has the same aim).
 * Pure; runs on any thread.
 */
#ifndef ST_PLACEMENT_H
#define ST_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

struct st_place_broker {
    int32_t id;
    const char *rack;     /* "" or NULL: no rack (counts as one rack) */
    uint32_t leaders;     /* load so far; updated by st_place() */
    uint32_t replicas;
};

/* Choose @rf replicas for each of @n_parts partitions among the @n brokers
 * @b (the unfenced ones); partition p gets out[p * rf .. p * rf + rf - 1],
 * leader first. Updates the brokers' counts. @rng is a splitmix64 state.
 * Errors: ST_EINVAL with a sentence in @err (@cap bytes): @rf < 1, @n_parts
 * < 1, or @rf larger than @n. ST_ENOMEM. */
int st_place(struct st_place_broker *b, size_t n, int32_t n_parts, int rf,
             uint64_t *rng, int32_t *out, char *err, size_t cap);

#endif
