/* Idempotent producer state of one partition: for each producer id, its
 * epoch and the sequence and offset ranges of its last 5 batches (Kafka's
 * ProducerStateManager), so a retried batch is answered with the offsets
 * of the original append instead of being written twice.
 *
 * The log updates it on every append of a producer batch, rebuilds it at
 * open by scanning batch headers from its checkpoint, and checkpoints it in
 * flush jobs. Payload: i64 upto_offset, u32 n, then per producer i64 pid,
 * i16 epoch, u8 count, count x (i32 first_seq, i32 last_seq, i64
 * first_offset, i64 last_offset).
 * Runs on: the log's owner thread. Pure; no I/O.
 */
#ifndef ST_LOG_PRODUCER_STATE_H
#define ST_LOG_PRODUCER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

struct st_batch_header;

#define ST_PRODUCER_BATCHES_KEPT 5

struct st_producer_batch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t first_offset;
    int64_t last_offset;
};

struct st_producer_entry {
    int64_t pid; /* -1: free slot */
    int16_t epoch;
    uint8_t count; /* batches kept, oldest first */
    struct st_producer_batch b[ST_PRODUCER_BATCHES_KEPT];
};

struct st_producer_state {
    struct st_producer_entry *slots; /* open addressing, power of 2 */
    size_t cap;
    size_t n;    /* live producers */
    size_t used; /* slots not free (live + tombstones) */
    bool dirty;
};

void st_producer_state_init(struct st_producer_state *ps);
void st_producer_state_close(struct st_producer_state *ps);

/* Check producer batch @h (producer_id >= 0) before it is appended.
 * Returns 0 when it may be appended, 1 when it duplicates one of the last
 * batches of that producer (then *dup_first and *dup_last are the offsets
 * it was written at), ST_EFENCED when its producer epoch is older than the
 * known one, ST_ERANGE when its sequence does not follow the last one
 * (a new epoch must start at sequence 0; an unknown producer may start
 * anywhere, since its earlier batches may have been removed). */
int st_producer_state_check(const struct st_producer_state *ps,
                            const struct st_batch_header *h,
                            int64_t *dup_first, int64_t *dup_last);
/* Record appended producer batch @h (its base_offset final). Batches
 * without a producer id or a sequence are ignored. Errors: ST_ENOMEM. */
int st_producer_state_update(struct st_producer_state *ps,
                             const struct st_batch_header *h);
/* Forget batches at or past @end_offset (log truncated there); producers
 * left with no batch are removed. */
void st_producer_state_truncate(struct st_producer_state *ps,
                                int64_t end_offset);
void st_producer_state_clear(struct st_producer_state *ps);
/* The entry of @pid, or NULL. Borrowed until the next change. */
const struct st_producer_entry *
st_producer_state_find(const struct st_producer_state *ps, int64_t pid);

int st_producer_state_encode(const struct st_producer_state *ps,
                             int64_t upto_offset, struct st_buf *out);
/* Replaces @ps's contents. Errors: ST_ECORRUPT, ST_ENOMEM. */
int st_producer_state_decode(struct st_producer_state *ps, const uint8_t *p,
                             size_t len, int64_t *upto_offset);

#endif
