/* Idempotent producer sequences (KIP-98): with a producer id, every batch
 * of a partition carries base_sequence = the count of records sent to that
 * partition before it, so the broker can drop a resent duplicate and
 * refuse a gap. A batch keeps its sequence across retries (it is assigned
 * once, at the first send); sequences wrap from INT32_MAX to 0.
 *
 * Pure; the producer calls it under its lock.
 */
#ifndef ST_CLIENT_IDEMPOTENCE_H
#define ST_CLIENT_IDEMPOTENCE_H

#include <stdint.h>

#include "client/lib/accumulator.h"

/* Per partition; zero-initialised means sequence 0 next. */
struct cl_idem_part {
    int32_t next_seq;
    int32_t acked_seq; /* last sequence acknowledged; -1 none */
};

void cl_idem_part_init(struct cl_idem_part *s);
/* Give @b its base sequence if it has none (first send). */
void cl_idem_assign(struct cl_idem_part *s, struct cl_batch *b);
/* @b was acknowledged. Returns 0, or ST_ESTALE when it does not follow
 * the last acknowledged batch (an acknowledgement out of order: a bug or
 * a broker that lost state). */
int cl_idem_acked(struct cl_idem_part *s, const struct cl_batch *b);

#endif
