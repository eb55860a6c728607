/* Idempotent producer (KIP-98): a producer id and epoch from any broker
 * (InitProducerId), and per partition sequences. Every batch of a
 * partition carries base_sequence = the count of records sent to that
 * partition before it in this epoch, so the leader drops a resent
 * duplicate (answering with the original offsets) and refuses a gap
 * (OUT_OF_ORDER_SEQUENCE). A batch keeps its sequence across retries (it is
 * assigned once, at the first send); sequences wrap from INT32_MAX to 0.
 *
 * Failure policy (what producer.c does with these helpers):
 *  - retriable errors (NOT_LEADER, timeouts, connection loss): the SAME
 *    batches are resent with the SAME sequences, in order, once every
 *    batch of the partition still in flight has come back;
 *  - OUT_OF_ORDER_SEQUENCE for a batch that is not the next one expected
 *    (an earlier batch is still unacknowledged): retried like the above;
 *  - a sequenced batch that fails for good (OUT_OF_ORDER_SEQUENCE on the
 *    next expected batch, UNKNOWN_PRODUCER_ID, INVALID_PRODUCER_EPOCH, a
 *    delivery timeout, any non-retriable error) leaves a hole in the
 *    sequence: the producer then stops sending, waits until nothing is in
 *    flight, bumps its epoch (InitProducerId with its current id) and
 *    restarts sequences at 0. Batches waiting for a resend that were
 *    certainly never written (every attempt refused before the append,
 *    cl_idem_err_not_written) are resent in order under the new epoch
 *    with new sequences; the others (outcome unknown: resending them could
 *    duplicate) fail with a clear error. Records are failed rather than
 *    duplicated or reordered.
 *
 * Pure; the producer calls it under its lock.
 */
#ifndef ST_CLIENT_IDEMPOTENCE_H
#define ST_CLIENT_IDEMPOTENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "client/lib/accumulator.h"
#include "strata.h"

/* Batches in flight per partition once a producer id is held (Kafka's
 * limit for idempotent producers; the broker keeps the last 5 batches of
 * a producer, so more could not be deduplicated). Overridable at build
 * time only to measure (tests/cluster/idem_figures.sh). */
#ifndef CL_IDEM_MAX_IN_FLIGHT
#define CL_IDEM_MAX_IN_FLIGHT 5
#endif

/* Per partition; zero-initialised means sequence 0 next. */
struct cl_idem_part {
    int32_t next_seq;
    int32_t acked_seq; /* last sequence acknowledged; -1 none */
};

/* Producer-wide: the id and epoch, and getting them. Zero-initialised
 * means no id yet (the handle is calloc'ed). */
struct cl_idem {
    bool have_id;
    int64_t pid;              /* with have_id */
    int16_t epoch;
    bool init_in_flight;      /* an InitProducerId is out */
    bool bump_needed;         /* a sequenced batch failed for good */
    uint64_t retry_at_ms;     /* next InitProducerId not before */
    unsigned failures;        /* InitProducerId failures in a row */
};

void cl_idem_part_init(struct cl_idem_part *s);
/* Give @b its base sequence if it has none (first send). */
void cl_idem_assign(struct cl_idem_part *s, struct cl_batch *b);
/* @b was acknowledged. Returns 0, or ST_ESTALE when it does not follow
 * the last acknowledged batch (an acknowledgement out of order: a later
 * batch acknowledged before an earlier one was resent; nothing changes). */
int cl_idem_acked(struct cl_idem_part *s, const struct cl_batch *b);
/* Whether OUT_OF_ORDER_SEQUENCE for @b is a consequence of an earlier
 * batch of the partition still unacknowledged (so @b must just be resent
 * after it), rather than a hole. */
bool cl_idem_out_of_order_retriable(const struct cl_idem_part *s,
                                    const struct cl_batch *b);
/* Whether a produce answer @err says for sure that the batch was not
 * written (refused before the append: sequence or epoch refused,
 * NOT_ENOUGH_REPLICAS, too large, corrupt, unknown partition, fenced
 * broker). Timeouts, lost connections, NOT_LEADER (may come after the
 * append) and NOT_ENOUGH_REPLICAS_AFTER_APPEND leave it unknown. */
bool cl_idem_err_not_written(strata_resp_err_t err);
/* How many batches of the partition may be in flight: 1 until the first
 * batch of the epoch is acknowledged (a leader that does not know the
 * producer yet accepts any first sequence, so a later batch must not
 * overtake the first), then @max. */
unsigned cl_idem_in_flight_limit(const struct cl_idem_part *s, unsigned max);

void cl_idem_init(struct cl_idem *s);
/* Whether batches may be sent: an id is held and no bump is pending. */
bool cl_idem_ready(const struct cl_idem *s);
/* Whether to send InitProducerId now: none out, past the backoff, and
 * either no id yet or a bump pending with @in_flight (batches of every
 * partition in flight) zero. */
bool cl_idem_want_init(const struct cl_idem *s, uint64_t now_ms,
                       uint64_t in_flight);
/* A sequenced batch failed for good: a bump is needed. */
void cl_idem_hole(struct cl_idem *s);
/* InitProducerId answered @pid/@epoch: clears failures and the bump.
 * Returns whether this was a bump (the caller then resets every
 * partition's sequences and fails the batches waiting for a resend). */
bool cl_idem_init_done(struct cl_idem *s, int64_t pid, int16_t epoch);
/* InitProducerId failed at @now_ms: back off @base_ms doubled per failure
 * in a row, at most 1 s. Returns the count of failures in a row. */
unsigned cl_idem_init_failed(struct cl_idem *s, uint64_t now_ms,
                             uint64_t base_ms);

#endif
