/* One partition replica hosted by this broker: it owns the partition's log
 * (broker/log/log.h) and its flusher, the leadership state the metadata
 * gives it (leader, leader epoch, replicas, ISR), the high watermark, and
 * the produce requests waiting for the high watermark (acks=all).
 *
 * High watermark: the minimum log end of the ISR where each end counts
 * only what is durable under log.flush.policy (so a consumer never reads a
 * record that a crash could take back). With replication factor 1 the ISR
 * is the leader alone and the HW is the log's durable offset. With other
 * ISR members the replica core (broker/replica, driven by
 * broker/replica_driver.h) owns the HW, the ISR rules and acks=all; this
 * object then only applies what the driver decides (st_partition_set_hw,
 * st_partition_ack, follower appends and truncation).
 *
 * Runs on: the broker's loop thread (every function and callback).
 */
#ifndef ST_BROKER_PARTITION_H
#define ST_BROKER_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/log/log.h"

struct event_base;
struct st_jobq;
struct st_vfs;
struct st_meta_partition;
struct st_partition;
struct st_repl;
struct st_repl_part;

/* Waits for the high watermark to reach @offset. Caller's memory; it must
 * stay valid until done() runs. done(w, 0) once HW >= offset (w->durable
 * says whether every ISR member had fsynced it), done(w, ST_ERANGE) when
 * the HW passed it but the ISR was below min.insync.replicas (outcome
 * unknown: NOT_ENOUGH_REPLICAS_AFTER_APPEND), or done(w, ST_ENOTLEADER)
 * when the partition stops leading or closes (outcome unknown). */
struct st_partition_waiter {
    int64_t offset;
    bool durable;                                    /* out, with 0 */
    void (*done)(struct st_partition_waiter *w, int status);
    struct st_partition_waiter *prev, *next; /* private */
};

struct st_partition_config {
    struct event_base *base;
    struct st_jobq *jobq;
    struct st_vfs *vfs;
    const char *dir;            /* copied */
    const char *topic;          /* copied */
    const uint8_t *topic_id;    /* 16 bytes, copied */
    int32_t index;
    int32_t node_id;            /* this broker */
    uint64_t lane;              /* jobq lane for its flushes */
    struct st_log_config log;   /* copied */
    struct st_repl *repl;       /* replica driver; NULL: RF-1 rules only */
    /* Called when the HW grew (fetch long polls re-check). */
    void (*hw_advanced)(void *arg, struct st_partition *p);
    void *arg;
};

/* Open (recovering) or create the partition's log in cfg->dir.
 * Errors: as st_log_open, ST_ENOMEM.
 * Ownership: *out is the caller's; st_partition_close() it. */
int st_partition_open(const struct st_partition_config *cfg, int64_t now_ms,
                      struct st_partition **out);

/* Stop leading, fail waiters, drain the flusher, close the log (flush +
 * clean-shutdown marker) and free; with @remove also delete the directory.
 * Returns the first error; @p is freed anyway. NULL-safe. */
int st_partition_close(struct st_partition *p, bool remove);

/* Take the leadership state from the metadata (@mp borrowed) and the
 * topic's min.insync.replicas. Losing leadership fails the waiters with
 * ST_ENOTLEADER at once. */
void st_partition_update(struct st_partition *p,
                         const struct st_meta_partition *mp, int64_t min_isr);

/* Leader-side append of the whole batches in @buf (modified in place:
 * offsets and epoch). Kicks the group commit. Errors: ST_ENOTLEADER, and
 * st_log_append's. */
int st_partition_append(struct st_partition *p, uint8_t *buf, size_t len,
                        int64_t now_ms, struct st_log_append_info *out);

/* Queue @w until HW >= w->offset. Requires st_partition_hw() < w->offset
 * and a leader (check both first). With a replica driver, done() may run
 * inside this call (the caller must be ready for that); ST_ENOTLEADER when
 * the replica core does not lead (w is then not queued, done not called). */
int st_partition_wait(struct st_partition *p, struct st_partition_waiter *w);
/* Remove @w without calling done() (e.g. its request timed out). */
void st_partition_unwait(struct st_partition *p,
                         struct st_partition_waiter *w);

/* ---- for the replica driver (broker/replica_*.c) ---- */

/* Follower-side append of whole batches fetched from the leader (offsets
 * and epochs kept); kicks the group commit. Errors: st_log_append's. */
int st_partition_append_follower(struct st_partition *p, uint8_t *buf,
                                 size_t len, int64_t now_ms);
/* Cut the log to end at @offset (at a batch boundary), waiting for a
 * running flush job first. Errors: st_log_truncate_to's. */
int st_partition_truncate(struct st_partition *p, int64_t offset);
/* Delete the log and restart it empty at @offset. Errors: as above. */
int st_partition_reset(struct st_partition *p, int64_t offset,
                       int64_t now_ms);
/* The HW the core decided; checkpointed lazily; fetch waits re-checked
 * when it grew. */
void st_partition_set_hw(struct st_partition *p, int64_t hw);
/* Complete the waiter whose address is @token, if still waiting, with
 * @status (see st_partition_waiter). */
void st_partition_ack(struct st_partition *p, uint64_t token, int status,
                      bool durable);
struct st_repl_part *st_partition_repl(struct st_partition *p);

/* Retention and idle file closing; call periodically. */
void st_partition_housekeeping(struct st_partition *p, int64_t now_ms,
                               uint64_t now_mono_ms);

bool st_partition_is_leader(const struct st_partition *p);
int32_t st_partition_leader(const struct st_partition *p);
int32_t st_partition_leader_epoch(const struct st_partition *p);
int st_partition_isr_size(const struct st_partition *p);
int64_t st_partition_min_isr(const struct st_partition *p);
int64_t st_partition_hw(const struct st_partition *p);
const char *st_partition_topic(const struct st_partition *p);
const uint8_t *st_partition_topic_id(const struct st_partition *p);
int32_t st_partition_index(const struct st_partition *p);
const char *st_partition_dir(const struct st_partition *p);
/* The log; borrowed, valid until close. */
struct st_log *st_partition_log(struct st_partition *p);

#endif
