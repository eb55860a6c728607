/* The partition replica core: a pure state machine for one partition's
 * replica on one broker (Kafka's Partition.scala + the follower fetcher's
 * truncation logic, shaped like controller/raft/raft.h).
 *
 * It knows: this broker's role for the partition (leader, follower, none),
 * the leader epoch and partition epoch from the metadata log, the replica
 * set and the ISR, the local log's start, end and durable end, its own
 * leader-epoch cache (epoch -> start offset), and on a leader every
 * follower's fetch position. From those it decides the high watermark
 * (HW), what a diverging follower must truncate, when to ask the controller
 * to shrink or expand the ISR, and which acks=all produces are complete.
 *
 * Rules (each learnt by Kafka from a data-loss bug; we start with all):
 * - Leader-epoch based truncation, never HW based (KIP-101, KIP-279): a
 *   follower fetches with (fetch offset, epoch of its last record); the
 *   leader answers with the end offset of that epoch when the follower's
 *   log diverges, and the follower truncates to it before fetching again.
 *   Fetches carry the fetcher's view of the current leader epoch (KIP-320):
 *   a stale or future epoch is refused.
 * - HW = minimum over the ISR of each member's log end; with durable_hw
 *   (log.flush.policy=batch) of each member's *durable* log end, the leader
 *   counting its own durable end, so that an acknowledged record survives
 *   a simultaneous power loss of every replica. The HW never decreases on
 *   a leader. A follower's HW = min(leader's HW, own log end).
 * - A new leader forgets every follower position: a follower counts towards
 *   the HW only after a fetch validated in the new leader epoch. Until its
 *   HW reaches the start of its epoch the HW is not "settled" (KIP-207).
 * - Until the outcome of an AlterPartition is known (accepted, or the
 *   partition epoch it was based on superseded) the HW is computed over
 *   the union of the committed and every proposed ISR (KIP-497's "maximal
 *   ISR"), so a shrink takes effect only once the controller committed it
 *   and a timed-out expansion still counts its new members.
 * - ISR shrink: a member whose fetch has not reached the leader's log end
 *   within replica_lag_time_max_ms (Kafka's last-caught-up-time rule).
 *   ISR expand: a replica whose end (durable end with durable_hw) reached
 *   the HW and the leader epoch's start offset, whose broker is not fenced
 *   and whose fetch carried the broker epoch the metadata log knows
 *   (KIP-903: a restarted broker's old incarnation cannot rejoin).
 *   AlterPartition names the partition epoch it is based on (the controller
 *   refuses stale ones) and at most one is in flight.
 * - A follower whose fetch offset is below the leader's log start deletes
 *   its log and restarts empty at the leader's log start.
 * - acks=all completes when the HW passes the append; if the committed ISR
 *   is then smaller than min_insync_replicas the produce is answered
 *   NOT_ENOUGH_REPLICAS_AFTER_APPEND (outcome unknown, never "failed").
 *
 * DRIVER CONTRACT. After each st_replica_step() that returned 0, and before
 * the next st_replica_step(), the driver does, in this order:
 *   1. If reset_to >= 0: delete the whole local log and restart it empty at
 *      offset reset_to (log start = log end = reset_to). Else if
 *      truncate_to >= 0: truncate the local log to end at truncate_to. A
 *      truncation is made durable before anything is appended after it.
 *   2. If append_fetched: append the batches of the FETCH_REPLY just stepped
 *      (follower mode: the leader's offsets and epochs) at the log end.
 *      The core already counts them in its log end; their durability is
 *      reported later with APPENDED.
 *   3. Send fetch_reply (leader; answers the FOLLOWER_FETCH just stepped):
 *      read whole batches from fetch_reply.offset below fetch_reply.max_offset
 *      (at most the driver's byte limit) unless it carries an error or a
 *      diverging epoch. A driver that long-polls may hold an empty reply and
 *      step the same FOLLOWER_FETCH again later; repeats are harmless.
 *   4. Send fetch (follower) to the leader; send alter_isr to the
 *      controller. Either may be lost: the core resends after a timeout.
 *   5. Answer the produces in completions[] (by token).
 *   6. Expose hw_offset to consumers; checkpoint it lazily.
 *   7. Step ST_REPLICA_EV_TICK at next_tick_ms (absolute) or earlier.
 * The local log is appended to only by the driver: on a leader for a
 * produce (then it steps APPENDED, and ACK_WAIT for acks=all), on a
 * follower as in step 2. Whenever the durable end grows (a flush), the
 * driver steps APPENDED with it: the durable HW moves only on those.
 * At start, st_replica_new() takes the log as recovered (start, end,
 * durable end, checkpointed HW and the leader-epoch cache).
 *
 * All arrays in a struct st_replica_update belong to the core and stay valid
 * until the next st_replica_step() or st_replica_free(). All pointers in an
 * event are borrowed for the call; the core copies what it keeps.
 * Runs on: one thread at a time (the partition's loop thread, or a test).
 */
#ifndef ST_REPLICA_H
#define ST_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_REPLICA_MAX 16 /* replicas per partition */

/* A tracer receives one key=value line per state change (cores never
 * print). @line is valid for the call only. */
typedef void (*st_replica_trace_fn)(void *arg, const char *line);

struct st_replica_config {
    int32_t broker_id;                /* this broker */
    int64_t broker_epoch;             /* this broker's incarnation */
    uint64_t replica_lag_time_max_ms; /* replica.lag.time.max.ms: 30000 */
    unsigned min_insync_replicas;     /* min.insync.replicas: 1 */
    bool durable_hw;                  /* log.flush.policy=batch: true */
    uint64_t fetch_timeout_ms;        /* resend a fetch unanswered: 2000 */
    uint64_t fetch_backoff_ms;        /* after an empty or failed fetch: 50 */
    uint64_t alter_timeout_ms;        /* resend an unanswered alter: 5000 */
    uint64_t alter_backoff_ms;        /* after a refused alter: 100 */
    st_replica_trace_fn trace;        /* may be NULL */
    void *trace_arg;
};

/* Sets the defaults shown above; broker_id and broker_epoch are 0. */
void st_replica_config_init(struct st_replica_config *c);

/* One leader-epoch cache entry: @epoch's first offset. */
struct st_replica_epoch {
    int32_t epoch;
    int64_t start_offset;
};

/* The local log as found at start (from broker/log). */
struct st_replica_log_state {
    int64_t log_start;
    int64_t log_end;
    int64_t durable_end; /* <= log_end */
    int64_t hw;          /* checkpointed HW; clamped to log_end */
    const struct st_replica_epoch *epochs; /* ascending in both fields */
    unsigned n_epochs;
};

enum st_replica_role {
    ST_REPLICA_NONE = 0, /* not a replica, or no leader known yet */
    ST_REPLICA_LEADER,
    ST_REPLICA_FOLLOWER,
};

/* A broker as the metadata log knows it. */
struct st_replica_member {
    int32_t id;
    int64_t broker_epoch; /* registered incarnation; -1 unknown */
    bool fenced;
};

/* ---- events ---- */

enum st_replica_event_type {
    ST_REPLICA_EV_PARTITION_CHANGED = 1, /* metadata log: leader/ISR/epochs */
    ST_REPLICA_EV_BROKER_CHANGED, /* metadata log: registration/fencing */
    ST_REPLICA_EV_APPENDED,       /* local log end or durable end moved */
    ST_REPLICA_EV_ACK_WAIT,       /* leader: an acks=all produce waits */
    ST_REPLICA_EV_FOLLOWER_FETCH, /* leader: a follower's fetch arrived */
    ST_REPLICA_EV_FETCH_REPLY,    /* follower: the leader answered */
    ST_REPLICA_EV_ALTER_RESULT,   /* leader: AlterPartition answered */
    ST_REPLICA_EV_TICK,           /* time passed */
};

/* Error codes carried in fetch replies and alter results (wire values). */
enum st_replica_error {
    ST_REPLICA_OK = 0,
    ST_REPLICA_ERR_NOT_LEADER,            /* not the leader of that epoch */
    ST_REPLICA_ERR_FENCED_EPOCH,          /* requester's leader epoch is old */
    ST_REPLICA_ERR_UNKNOWN_EPOCH,         /* requester's epoch is newer */
    ST_REPLICA_ERR_OUT_OF_RANGE,          /* fetch offset below log start */
    ST_REPLICA_ERR_STALE_PARTITION_EPOCH, /* alter based on an old epoch */
    ST_REPLICA_ERR_INELIGIBLE_REPLICA,    /* alter adds a fenced/stale broker */
    ST_REPLICA_ERR_TIMEOUT,               /* the driver gave up waiting */
};

struct st_replica_partition {
    int32_t leader; /* -1: no leader */
    int32_t leader_epoch;
    int32_t partition_epoch;
    const struct st_replica_member *replicas; /* with registration state */
    unsigned n_replicas;
    const int32_t *isr;
    unsigned n_isr;
};

struct st_replica_follower_fetch {
    int32_t replica_id;
    int64_t broker_epoch;         /* the follower's incarnation */
    int32_t current_leader_epoch; /* the follower's view (KIP-320) */
    int64_t fetch_offset;         /* the follower's log end */
    int32_t last_fetched_epoch;   /* epoch of its last record; -1 empty */
    int64_t durable_end;          /* the follower's durable log end */
};

struct st_replica_fetch_reply {
    int32_t to;           /* follower id (in replies the core makes) */
    int32_t leader_epoch; /* echo of the fetch's current_leader_epoch */
    int64_t fetch_offset; /* echo of the fetch's offset */
    enum st_replica_error error;
    int64_t hw;
    int64_t log_start;
    /* Diverging answer: epoch -1 when the follower's log matches. Else the
     * largest epoch <= last_fetched_epoch the leader has (-1 with end -1 if
     * none) and the offset where it ends in the leader's log. */
    int32_t diverging_epoch;
    int64_t diverging_end_offset;
    bool diverging;
    /* Data: the driver reads [offset, max_offset) on the leader; on the
     * follower it reports what arrived as [offset, data_end) with the
     * epoch runs (each run's first offset and epoch, ascending). */
    int64_t offset;
    int64_t max_offset;
    int64_t data_end;
    const struct st_replica_epoch *runs;
    unsigned n_runs;
};

struct st_replica_alter_result {
    enum st_replica_error error;
    int32_t leader_epoch;         /* echo of the request's */
    int32_t base_partition_epoch; /* echo: the epoch it was based on */
    int32_t partition_epoch;      /* on OK: the new partition epoch */
    const int32_t *isr;           /* on OK: the committed ISR */
    unsigned n_isr;
};

struct st_replica_event {
    enum st_replica_event_type type;
    uint64_t now_ms; /* monotonic; never goes backwards */
    union {
        struct st_replica_partition partition;
        struct st_replica_member broker;
        struct {
            /* The local log now is [log_start, log_end); records in
             * [previous log end, log_end) carry leader epoch @epoch (step
             * once per epoch run). A log_end below the known one means the
             * log was cut (a failed append): the core follows it. */
            int64_t log_start;
            int64_t log_end;
            int64_t durable_end;
            int32_t epoch;
        } appended;
        struct {
            uint64_t token;     /* the driver's produce id */
            int64_t end_offset; /* done when the HW reaches it */
        } ack_wait;
        struct st_replica_follower_fetch fetch;
        struct st_replica_fetch_reply fetch_reply;
        struct st_replica_alter_result alter_result;
    };
};

/* ---- the update ---- */

struct st_replica_fetch_request {
    int32_t to;         /* the leader */
    int32_t replica_id; /* this broker */
    int64_t broker_epoch;
    int32_t current_leader_epoch;
    int64_t fetch_offset;
    int32_t last_fetched_epoch;
    int64_t durable_end;
};

struct st_replica_alter_request {
    int32_t leader_id;
    int32_t leader_epoch;
    int32_t partition_epoch;                      /* the epoch it is based on */
    struct st_replica_member isr[ST_REPLICA_MAX]; /* proposed, with the
                                                   * epochs seen in fetches */
    unsigned n_isr;
};

enum st_replica_ack_status {
    ST_REPLICA_ACKED = 1, /* replicated to the ISR (and durable
                           * on it with durable_hw) */
    ST_REPLICA_NOT_ENOUGH_REPLICAS_AFTER_APPEND, /* outcome unknown */
    ST_REPLICA_ACK_NOT_LEADER, /* leadership lost: outcome unknown */
};

struct st_replica_completion {
    uint64_t token;
    int64_t end_offset;
    enum st_replica_ack_status status;
    bool durable; /* ACKED: also fsynced on every ISR member (durable_hw),
                   * else replicated to their page caches only */
};

struct st_replica_update {
    enum st_replica_role role;
    int32_t leader_epoch;
    int64_t hw_offset;   /* never decreases while leader of an epoch */
    bool hw_settled;     /* leader: the HW reached the start of our
                          * epoch. Until then ListOffsets(latest)
                          * answers OFFSET_NOT_AVAILABLE, so offsets
                          * seen by clients never go back across a
                          * leader change (KIP-207). */
    int64_t truncate_to; /* -1: none (contract step 1) */
    int64_t reset_to;    /* -1: none (contract step 1) */
    bool append_fetched; /* contract step 2 */
    bool has_fetch_reply;
    struct st_replica_fetch_reply fetch_reply;
    bool has_fetch;
    struct st_replica_fetch_request fetch;
    bool has_alter;
    struct st_replica_alter_request alter;
    const struct st_replica_completion *completions;
    unsigned n_completions;
    uint64_t next_tick_ms; /* absolute; UINT64_MAX: no timer needed */
};

struct st_replica;

/* Allocate a core for @cfg (copied) over the local log @log (copied). It
 * starts with role NONE until a PARTITION_CHANGED names it.
 * Errors: ST_EINVAL (negative offsets, durable_end > log_end, epochs not
 * ascending), ST_ENOMEM. Ownership: *out is the caller's; free it. */
int st_replica_new(const struct st_replica_config *cfg,
                   const struct st_replica_log_state *log,
                   struct st_replica **out);
/* NULL-safe. Pending acks are dropped without completions. */
void st_replica_free(struct st_replica *r);

/* Feed one event and fill @out (see the driver contract above).
 * Errors (the state is unchanged and @out only reports the current state):
 *   ST_ENOTLEADER  ACK_WAIT on a non-leader (nothing is kept: answer the
 *                  produce NOT_LEADER); FOLLOWER_FETCH on a non-leader or
 *                  from a non-replica (@out holds the NOT_LEADER reply to
 *                  send);
 *   ST_EINVAL      bad event fields (too many replicas, an ISR member that
 *                  is not a replica, negative offsets, durable end past log
 *                  end, fetched data not at our log end or with bad epoch
 *                  runs, unknown type);
 *   ST_ENOMEM      (the core must then be freed). */
int st_replica_step(struct st_replica *r, const struct st_replica_event *ev,
                    struct st_replica_update *out);

/* Read-only accessors (valid at any time after st_replica_new). */
enum st_replica_role st_replica_role(const struct st_replica *r);
int32_t st_replica_leader_epoch(const struct st_replica *r);
int32_t st_replica_partition_epoch(const struct st_replica *r);
int64_t st_replica_hw(const struct st_replica *r);
int64_t st_replica_log_end(const struct st_replica *r);
int64_t st_replica_durable_end(const struct st_replica *r);
/* The committed ISR as last learnt; *n set. Valid until the next step. */
const int32_t *st_replica_isr(const struct st_replica *r, unsigned *n);
/* Leader: the committed ISR is below min_insync_replicas, so a produce
 * with acks=all must be refused before it is appended (NOT_ENOUGH_REPLICAS). */
bool st_replica_isr_under_min(const struct st_replica *r);
/* Whether an AlterPartition is in flight. */
bool st_replica_alter_inflight(const struct st_replica *r);
/* OffsetsForLeaderEpoch on the local cache: the largest epoch <= @epoch
 * and its end offset (the next epoch's start, or the log end); both -1
 * when none. */
void st_replica_epoch_end(const struct st_replica *r, int32_t epoch,
                          int32_t *out_epoch, int64_t *out_end);

const char *st_replica_role_name(enum st_replica_role role);
const char *st_replica_error_name(enum st_replica_error e);

#endif
