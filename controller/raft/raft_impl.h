/* Internal state of the Raft core, shared by its files. Not part of the API:
 * only the files in controller/raft/ include it (and white-box unit tests). */
#ifndef RAFT_IMPL_H
#define RAFT_IMPL_H

#include <stdarg.h>

#include "common/bytes.h"
#include "controller/raft/raft.h"

#define RAFT_INFLIGHT_CAP 64

/* ---- log.c: the in-memory log since the last snapshot ---- */

/* e[k] holds index offset + 1 + k; each entry owns its data (st_malloc). */
struct raft_log {
    struct raft_entry *e;
    size_t n;
    size_t cap;
    raft_index offset;    /* snapshot index: last compacted entry */
    raft_term offset_term;
};

void log_init(struct raft_log *l);
void log_close(struct raft_log *l);
raft_index log_last_index(const struct raft_log *l);
raft_term log_last_term(const struct raft_log *l);
/* Term of @i: the snapshot term at offset, 0 when unknown (compacted past
 * or beyond the end). */
raft_term log_term_at(const struct raft_log *l, raft_index i);
/* NULL when @i is compacted or beyond the end. */
const struct raft_entry *log_get(const struct raft_log *l, raft_index i);
/* Append a copy of @data at last + 1. Errors: ST_ENOMEM. */
int log_append(struct raft_log *l, raft_term term, uint8_t type,
               struct st_bytes data);
/* Drop entries with index >= @i. */
void log_truncate_from(struct raft_log *l, raft_index i);
/* Drop entries up to @i (term @term) and make @i the snapshot point. When
 * @i is beyond the last entry the whole log goes. */
void log_compact_to(struct raft_log *l, raft_index i, raft_term term);

/* ---- progress.c: what the leader knows of each peer ---- */

enum progress_state { PROGRESS_PROBE, PROGRESS_PIPELINE, PROGRESS_SNAPSHOT };

struct raft_progress {
    raft_id id;
    enum progress_state state;
    raft_index next;
    raft_index match;
    bool probe_sent;       /* PROBE: one append out, wait for its answer */
    bool recent_active;    /* heard from it since the last quorum check */
    bool acked_since_hb;   /* made progress since the last heartbeat */
    raft_index inflight[RAFT_INFLIGHT_CAP]; /* last index per append out */
    unsigned n_inflight;
    raft_index snap_index; /* SNAPSHOT: which snapshot, next byte to send */
    uint64_t snap_offset;
};

void progress_reset(struct raft_progress *p, raft_id id, raft_index next);
void progress_to_probe(struct raft_progress *p, raft_index next);
void progress_to_pipeline(struct raft_progress *p);
void progress_to_snapshot(struct raft_progress *p, raft_index snap_index);
/* Record the acknowledgement of everything up to @last. True if match moved. */
bool progress_ack(struct raft_progress *p, raft_index last);
bool progress_inflight_full(const struct raft_progress *p, unsigned max);
void progress_inflight_add(struct raft_progress *p, raft_index last);

/* ---- the core ---- */

struct raft {
    struct raft_config cfg;
    bool started;
    enum raft_role role;
    raft_term term;
    raft_id vote;
    raft_id leader;
    struct raft_log log;
    raft_index commit;
    raft_index persisted;     /* highest durable index of this log */
    struct st_buf snap_data;  /* the snapshot at log.offset */
    uint64_t prng;
    uint64_t now;

    /* follower / candidate */
    uint64_t election_deadline;
    uint64_t last_leader_contact;
    bool granted[RAFT_VOTERS_MAX];
    bool answered[RAFT_VOTERS_MAX];
    bool ack_pending;         /* append acknowledgement waiting for disk */
    raft_id ack_to;
    raft_index ack_index;
    raft_index rsnap_index;   /* InstallSnapshot being received */
    raft_term rsnap_term;
    struct st_buf rsnap_buf;

    /* leader */
    struct raft_progress progress[RAFT_VOTERS_MAX];
    uint64_t heartbeat_deadline;
    uint64_t quorum_deadline;
    raft_id transferee;
    uint64_t transfer_deadline;

    /* the update being assembled by the current raft_step() */
    unsigned upd_flags;
    raft_index upd_write_from; /* lowest index appended; 0 none */
    raft_index upd_truncate_from;
    struct raft_msg *msgs;
    unsigned n_msgs;
    unsigned cap_msgs;
    int oom;                   /* error from a helper: ST_ENOMEM, or
                                * ST_ECORRUPT from recv_append */
};

/* raft.c */
void raft_trace(struct raft *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
uint64_t raft_rand(struct raft *r);
/* Queue a message; its from/term are filled in. Returns NULL on ENOMEM
 * (and marks r->oom). */
struct raft_msg *raft_send(struct raft *r, enum raft_msg_type type,
                           raft_id to);
void raft_mark_term_vote(struct raft *r);
unsigned raft_quorum(const struct raft *r);
int raft_voter_pos(const struct raft *r, raft_id id); /* -1 if not a voter */
/* Append at last+1 and note it for the update. */
int raft_log_append(struct raft *r, raft_term term, uint8_t type,
                    struct st_bytes data);
void raft_log_truncate(struct raft *r, raft_index from);
raft_index raft_self_match(const struct raft *r);

/* election.c */
void election_reset_timer(struct raft *r);
bool election_in_lease(const struct raft *r);
void become_follower(struct raft *r, raft_term term, raft_id leader);
void become_leader(struct raft *r);
void election_start(struct raft *r, bool pre_vote, bool transfer);
void election_tick(struct raft *r);
/* Record one (pre)vote answer and act when the round is decided. */
void election_tally(struct raft *r, raft_id from, bool granted);
bool log_up_to_date(const struct raft *r, raft_index last_index,
                    raft_term last_term);

/* replication.c */
void replication_send(struct raft *r, struct raft_progress *p,
                      bool heartbeat);
void replication_broadcast(struct raft *r, bool heartbeat);
void replication_maybe_commit(struct raft *r);
void replication_tick(struct raft *r);
int replication_propose(struct raft *r, const struct st_bytes *data,
                        unsigned n);
void replication_persisted(struct raft *r, raft_index index, raft_term term);
struct raft_progress *progress_of(struct raft *r, raft_id id);

/* snapshot.c */
void snapshot_send_chunk(struct raft *r, struct raft_progress *p);
int snapshot_taken(struct raft *r, raft_index index, struct st_bytes data);

/* transfer.c */
int transfer_start(struct raft *r, raft_id to);
void transfer_maybe_send(struct raft *r, struct raft_progress *p);
void transfer_tick(struct raft *r);

/* recv*.c */
void recv_message(struct raft *r, const struct raft_msg *m);
void recv_append(struct raft *r, const struct raft_msg *m);
void recv_append_result(struct raft *r, const struct raft_msg *m);
void recv_vote(struct raft *r, const struct raft_msg *m);
void recv_vote_result(struct raft *r, const struct raft_msg *m);
void recv_snapshot(struct raft *r, const struct raft_msg *m);
void recv_snapshot_result(struct raft *r, const struct raft_msg *m);
void recv_timeout_now(struct raft *r, const struct raft_msg *m);

#endif
