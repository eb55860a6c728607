/* Internals of the replica core shared by its files; not an API. */
#ifndef ST_REPLICA_INT_H
#define ST_REPLICA_INT_H

#include "broker/replica/replica.h"

/* What the leader knows of one replica (itself included, unused). */
struct follower {
    bool known;           /* fetched in this leader epoch, validated */
    int64_t broker_epoch; /* as carried by its last fetch */
    int64_t fetch_offset; /* its log end: its log matches ours below */
    int64_t durable_end;  /* <= fetch_offset */
    uint64_t last_fetch_ms;
    int64_t leo_at_last_fetch; /* our log end at its previous fetch */
    uint64_t caught_up_ms;     /* last time it had reached our log end */
};

struct pending_ack {
    uint64_t token;
    int64_t end_offset;
};

struct st_replica {
    struct st_replica_config cfg;
    uint64_t now_ms;

    /* Metadata log view. */
    enum st_replica_role role;
    int32_t leader;
    int32_t leader_epoch; /* -1 before the first PARTITION_CHANGED */
    int32_t partition_epoch;
    struct st_replica_member members[ST_REPLICA_MAX];
    struct follower followers[ST_REPLICA_MAX]; /* same index as members */
    unsigned n_members;
    int32_t isr[ST_REPLICA_MAX]; /* committed */
    unsigned n_isr;

    /* Local log. */
    int64_t log_start;
    int64_t log_end;
    int64_t durable_end;
    int64_t hw;
    struct st_replica_epoch *epochs; /* owned; the leader-epoch cache */
    unsigned n_epochs;
    unsigned cap_epochs;
    int64_t epoch_start_offset; /* leader: where our leader epoch began */

    /* Leader: AlterPartition. */
    bool alter_inflight;
    bool alter_wait_metadata; /* refused as stale: wait for new metadata */
    uint64_t alter_sent_ms;
    uint64_t alter_retry_ms; /* no new alter before this */
    struct st_replica_alter_request alter;
    /* Every member proposed in an alter based on partition epoch
     * pending_base, until that epoch is superseded: any copy may still be
     * applied by the controller, so all of them count in the HW. */
    int32_t pending_isr[ST_REPLICA_MAX];
    unsigned n_pending_isr;
    int32_t pending_base;
    unsigned pending_copies; /* requests sent on pending_base */

    /* Leader: acks=all produces waiting for the HW. */
    struct pending_ack *pending; /* owned, ascending end_offset */
    unsigned n_pending;
    unsigned cap_pending;
    struct st_replica_completion *done; /* owned; output buffer */
    unsigned n_done;
    unsigned cap_done;

    /* Follower: the fetch in flight. */
    bool fetch_inflight;
    uint64_t fetch_sent_ms;
    uint64_t next_fetch_ms;
    struct st_replica_fetch_request fetch;
};

/* replica.c */
void replica_trace(struct st_replica *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int member_index(const struct st_replica *r, int32_t id);
bool isr_contains(const int32_t *isr, unsigned n, int32_t id);

/* epochs.c: the in-memory leader-epoch cache (KIP-101). */
int epochs_assign(struct st_replica *r, int32_t epoch, int64_t start);
int32_t epochs_latest(const struct st_replica *r);
void epochs_end(const struct st_replica *r, int32_t epoch, int32_t *out_epoch,
                int64_t *out_end);
void epochs_truncate_end(struct st_replica *r, int64_t end);
void epochs_truncate_start(struct st_replica *r, int64_t start);

/* partition.c */
int partition_changed(struct st_replica *r,
                      const struct st_replica_partition *p,
                      struct st_replica_update *out);
void broker_changed(struct st_replica *r, const struct st_replica_member *b);

/* leader.c */
int leader_on_fetch(struct st_replica *r,
                    const struct st_replica_follower_fetch *f,
                    struct st_replica_update *out);
void leader_become(struct st_replica *r);

/* follower.c */
int follower_on_reply(struct st_replica *r,
                      const struct st_replica_fetch_reply *rep,
                      struct st_replica_update *out);
void follower_maybe_fetch(struct st_replica *r, struct st_replica_update *out);
void follower_become(struct st_replica *r);

/* hw.c */
void hw_advance(struct st_replica *r);
int acks_add(struct st_replica *r, uint64_t token, int64_t end_offset);
int acks_complete(struct st_replica *r);
int acks_fail_all(struct st_replica *r, enum st_replica_ack_status status);

/* isr.c */
void isr_maybe_alter(struct st_replica *r, struct st_replica_update *out);
void isr_on_result(struct st_replica *r,
                   const struct st_replica_alter_result *res);
bool isr_in_maximal(const struct st_replica *r, int32_t id);
void isr_pending_clear(struct st_replica *r);
uint64_t isr_next_check_ms(const struct st_replica *r);

#endif
