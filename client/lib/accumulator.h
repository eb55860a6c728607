/* Per-partition record accumulation for the producer: queues of records
 * cut into batches by batch.size or linger.ms, the in-flight limit per
 * partition, ordered retries, delivery timeouts, and the memory budget.
 *
 * A record (struct cl_msg) is counted against three limits from the moment
 * cl_acc_reserve() admits it until cl_acc_release() (after its delivery
 * outcome is known): queue.buffering.max.messages, .kbytes, and the shared
 * memory.limit.bytes budget (struct cl_budget, which the consumer's fetch
 * buffers also draw from). Past any of them, reserve says ST_EAGAIN and the
 * producer returns STRATA_ERR__QUEUE_FULL.
 *
 * Ordering: a partition's records leave in the order they were appended; a
 * batch that must be resent goes back in front of everything not yet sent,
 * in its original order, and keeps its batch number (idempotence.c gives it
 * the same sequence), so retries never reorder. Resends wait until no
 * batch of the partition is in flight, then go before anything else.
 *
 * Pure: time comes in as @now_ms, no locks (the producer holds its lock),
 * no I/O. Runs on: whichever thread holds the producer's lock.
 */
#ifndef ST_CLIENT_ACCUMULATOR_H
#define ST_CLIENT_ACCUMULATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/batch.h"
#include "strata.h"

/* One memory budget shared by produce and fetch buffers. */
struct cl_budget {
    size_t used;
    size_t limit;
};

/* A queued record. Key, headers and (with COPY) value live in the same
 * allocation; with FREE the value is the application's, free()d at the
 * end. */
struct cl_msg {
    struct cl_msg *next;
    int32_t partition;
    const uint8_t *key;        /* NULL: null key */
    size_t key_len;
    uint8_t *value;            /* NULL: null value */
    size_t value_len;
    bool value_owned_by_app;   /* FREE: free() it */
    struct st_record_header *hdrs;
    size_t n_hdrs;
    int64_t timestamp_ms;
    uint64_t enq_ms;
    void *opaque;
    size_t bytes;              /* what it counts against the limits */
    /* outcome, filled by the producer */
    int64_t offset;
    strata_resp_err_t err;
    char *errstr;              /* st_strdup'ed or NULL */
};

/* A batch: records of one partition sent together. */
struct cl_batch {
    struct cl_batch *next;
    struct cl_msg *msgs, *msgs_tail;
    size_t n;
    size_t bytes;
    uint64_t number;      /* per partition, in send order */
    int32_t base_seq;     /* idempotence: -1 none */
    int attempts;
    bool sent_once;       /* was in flight at least once */
    bool maybe_written;   /* an attempt ended with an unknown outcome */
};

struct cl_acc_part {
    struct cl_msg *head, *tail;   /* not yet batched */
    size_t n, bytes;
    struct cl_batch *retry;       /* to resend first, by number */
    unsigned in_flight;
    uint64_t backoff_until_ms;
    uint64_t next_number;
};

struct cl_acc_opts {
    size_t batch_bytes;
    uint64_t linger_ms;
    size_t queue_bytes_max;
    int64_t queue_msgs_max;
    unsigned max_in_flight;     /* per partition, >= 1 */
};

struct cl_acc {
    struct cl_acc_opts opts;
    struct cl_budget *budget;   /* borrowed; shared with the consumer */
    size_t bytes;
    int64_t msgs;
};

void cl_acc_init(struct cl_acc *acc, const struct cl_acc_opts *opts,
                 struct cl_budget *budget);
void cl_acc_part_init(struct cl_acc_part *p);

/* Make a record (copies @key, @headers; copies @value with COPY, else
 * takes it). Errors: ST_ENOMEM. Ownership: *out is the caller's until
 * appended; cl_msg_free() it. */
int cl_msg_new(const void *key, size_t key_len, const void *value,
               size_t value_len, bool copy_value,
               const strata_header_t *headers, size_t n_headers,
               int64_t timestamp_ms, uint64_t now_ms, void *opaque,
               struct cl_msg **out);
/* Frees the record (and an app-owned value with free()). NULL-safe. */
void cl_msg_free(struct cl_msg *m);

/* Admit @m against the limits. Errors: ST_EAGAIN (a limit is reached),
 * ST_ETOOBIG (@m alone exceeds batch.size or a limit). */
int cl_acc_reserve(struct cl_acc *acc, const struct cl_msg *m);
/* Give back what @m reserved. */
void cl_acc_release(struct cl_acc *acc, const struct cl_msg *m);

/* Append an admitted record to partition @p's queue. */
void cl_acc_append(struct cl_acc_part *p, struct cl_msg *m);

/* Whether @p has a batch to send at @now_ms (a retry past its backoff,
 * or a full batch, or records older than linger.ms, or @flush), with room
 * in flight. Otherwise lowers *@wake_ms to when it will be (unchanged if
 * it is waiting on something other than time). */
bool cl_acc_ready(const struct cl_acc *acc, const struct cl_acc_part *p,
                  uint64_t now_ms, bool flush, uint64_t *wake_ms);

/* Take the next batch of @p (a retry first, else up to batch.size of
 * queued records, at least one) and count it in flight. NULL if none.
 * Ownership: the batch is the caller's until cl_acc_done/_retry. */
struct cl_batch *cl_acc_drain(struct cl_acc *acc, struct cl_acc_part *p);

/* The batch left flight for good: the caller delivers its records and
 * frees it with cl_batch_free(). */
void cl_acc_done(struct cl_acc_part *p, struct cl_batch *b);
/* The batch must be sent again after @backoff_ms: back in front, in
 * order. */
void cl_acc_retry(struct cl_acc_part *p, struct cl_batch *b, uint64_t now_ms,
                  uint64_t backoff_ms);

/* Unlink queued (never sent) records older than @timeout_ms, oldest first,
 * and return them as a list (through ->next). Retry batches are left to
 * the producer, which knows whether they were in flight. */
struct cl_msg *cl_acc_expire(struct cl_acc_part *p, uint64_t now_ms,
                             uint64_t timeout_ms);

/* Unlink every queued record and retry batch's records (for close);
 * returns them as a list. */
struct cl_msg *cl_acc_purge(struct cl_acc_part *p);

/* Free a batch struct, not its records. NULL-safe. */
void cl_batch_free(struct cl_batch *b);

#endif
