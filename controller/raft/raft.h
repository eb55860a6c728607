/* The Raft core: a pure consensus state machine (Raft paper and Ongaro's
 * thesis; shape after cowsql/raft's raft_step and etcd/raft).
 *
 * The core performs no I/O, reads no clock and no entropy of its own (a PRNG
 * seeded from the config), and never blocks. A driver feeds it one event at
 * a time with raft_step() and carries out the returned struct raft_update.
 * The same core runs in strata-controller and in tests/sim/.
 *
 * Features: randomized election timeouts, pre-vote (thesis §9.6),
 * check-quorum and leader stickiness (§6.2, §4.2.3), pipelined and batched
 * AppendEntries with fast back-tracking (conflict term/index hint), commit
 * by counting replicas of current-term entries only (§5.4.2) with a no-op at
 * leader start, chunked InstallSnapshot (§7), leadership transfer with
 * TimeoutNow (§3.10). The voter set is static (struct raft_voters); it is
 * kept in one struct so membership change can be added later.
 *
 * DRIVER CONTRACT. After each raft_step() that returned 0, and before the
 * next raft_step(), the driver does, in this order:
 *   1. If RAFT_UPD_TERM_VOTE is set: make term and vote durable (fsync).
 *      No message of this update may leave before that. (If
 *      RAFT_UPD_TERM_VOTE_LAZY is set instead, which only the test switch
 *      unsafe_send_before_persist produces, the write may be delayed.)
 *   2. If RAFT_UPD_SNAPSHOT is set: durably save the snapshot, drop every
 *      stored log entry at or below snapshot.index and restore the state
 *      machine from snapshot.data. Done before any message is sent.
 *   3. If truncate_from != 0: drop stored entries with index >= it. Then
 *      write entries[] (ascending, contiguous) after the stored log. The
 *      writes may complete later: when a prefix up to index I (whose entry
 *      has term T) is durable, step RAFT_EV_PERSISTED{I, T}. A PERSISTED
 *      whose (I, T) no longer matches the log is ignored, so a completion
 *      racing a truncation is harmless.
 *   4. Send msgs[] (best effort; loss is tolerated).
 *   5. Apply entries up to commit_index (raft_entry_at() reads them) to the
 *      state machine, in order, each once.
 *   6. Arm a timer: step RAFT_EV_TICK at next_timeout_ms (absolute) or
 *      earlier; any event may be stepped at any time.
 * Thus a vote or an append acknowledgement is never sent for state that is
 * not yet durable: the core emits a vote only with its term/vote in the same
 * update (step 1 precedes step 4), and emits an AppendEntries success for an
 * entry only after a PERSISTED event covered it. The leader counts itself
 * towards a commit quorum only for entries it has persisted.
 *
 * KNOWN HAZARD: a voter that loses ALL its storage. Raft assumes a vote
 * and an acknowledged entry survive any crash. A voter whose data directory
 * is wiped and re-formatted restarts with term 0, no vote and no log, and
 * can grant a second vote in a term in which it had already voted: two
 * leaders may then win that term, and an entry committed with its help may
 * be lost (it counted towards a majority it no longer belongs to). The
 * core only makes such a voter catch up again (recv_append_result.c
 * re-probes a peer whose log ends before what it acknowledged). Nothing
 * here detects the re-formatted incarnation: Kafka's KIP-853 gives each
 * voter a directory id stored beside its log, so that a voter with a new
 * directory rejoins as a new (non-voting) member until it is added back.
 * Until then, re-format a voter only while the others hold every committed
 * entry and have a leader; tests/sim treats the wipe as an explicit fault
 * (sim_wipe(); test_sim_raft_directed shows both the safe case and a
 * commit lost when a wipe ignores that precondition).
 *
 * All arrays and views in a struct raft_update belong to the core and stay
 * valid until the next raft_step() or raft_free().
 * Runs on: one thread at a time (the controller loop thread, or a test).
 */
#ifndef RAFT_H
#define RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/raft/raft_types.h"

#define RAFT_VOTERS_MAX 9

/* The voter set. Static for now; a config entry would replace it. */
struct raft_voters {
    raft_id ids[RAFT_VOTERS_MAX];
    unsigned n;
};

/* A tracer receives one key=value line per state change (cores never
 * print). @line is valid for the call only. */
typedef void (*raft_trace_fn)(void *arg, const char *line);

struct raft_config {
    raft_id id;                 /* this node; must be in voters */
    struct raft_voters voters;
    uint64_t election_timeout_ms; /* randomized in [T, 2T) (default 1000) */
    uint64_t heartbeat_ms;        /* leader idle send period (default 100) */
    unsigned append_entries_max;  /* entries per AppendEntries (default 64) */
    size_t append_bytes_max;      /* payload bytes per AppendEntries (1 MiB) */
    unsigned inflight_max;        /* pipelined appends per peer (default 8) */
    size_t snapshot_chunk_bytes;  /* InstallSnapshot chunk size (64 KiB) */
    uint64_t seed;                /* PRNG seed for election jitter */
    raft_trace_fn trace;          /* may be NULL */
    void *trace_arg;
    /* Test-only switches, each disabling one mechanism so that a test can
     * show what breaks without it. Never set in production. */
    bool disable_pre_vote;
    bool disable_check_quorum;
    bool unsafe_send_before_persist; /* ack and vote before durable */
    /* Commit an index once a majority holds it, whatever its term: the
     * rule Raft §5.4.2 (Figure 8) forbids. */
    bool unsafe_commit_previous_terms;
};

enum raft_role {
    RAFT_FOLLOWER = 1,
    RAFT_PRE_CANDIDATE,
    RAFT_CANDIDATE,
    RAFT_LEADER,
};

/* ---- messages: plain structs; wire encoding is the driver's job ---- */

enum raft_msg_type {
    RAFT_MSG_APPEND = 1,       /* AppendEntries (also the heartbeat) */
    RAFT_MSG_APPEND_RESULT,
    RAFT_MSG_VOTE,             /* RequestVote, or pre-vote */
    RAFT_MSG_VOTE_RESULT,
    RAFT_MSG_SNAPSHOT,         /* InstallSnapshot chunk */
    RAFT_MSG_SNAPSHOT_RESULT,
    RAFT_MSG_TIMEOUT_NOW,      /* leadership transfer: start election now */
};

struct raft_msg_append {
    raft_index prev_index;
    raft_term prev_term;
    raft_index commit;
    const struct raft_entry *entries; /* n_entries, ascending from prev+1 */
    unsigned n_entries;
};

struct raft_msg_append_result {
    bool success;
    /* success: the follower's log matches the leader's up to @last_index and
     * that prefix is durable. failure: @rejected_index is the prev_index
     * that did not match; the hint is the first index of @conflict_term in
     * the follower's log (conflict_term 0: the follower's log ends before
     * prev_index and conflict_index is its last index + 1). */
    raft_index last_index;
    raft_index rejected_index;
    raft_term conflict_term;
    raft_index conflict_index;
};

struct raft_msg_vote {
    raft_index last_index;
    raft_term last_term;
    bool pre_vote;   /* term is the term the candidate would use */
    bool transfer;   /* after TimeoutNow: ignore leader stickiness */
};

struct raft_msg_vote_result {
    bool granted;
    bool pre_vote;
};

struct raft_msg_snapshot {
    raft_index last_index; /* snapshot covers entries up to this index */
    raft_term last_term;
    uint64_t offset;       /* of this chunk in the snapshot data */
    uint64_t total_bytes;
    struct st_bytes chunk;
};

struct raft_msg_snapshot_result {
    raft_index last_index; /* the snapshot this answers */
    uint64_t next_offset;  /* bytes received so far */
    bool done;             /* installed and durable */
};

struct raft_msg_timeout_now {
    raft_index last_index;
    raft_term last_term;
};

struct raft_msg {
    enum raft_msg_type type;
    raft_id from;
    raft_id to;
    raft_term term;
    union {
        struct raft_msg_append append;
        struct raft_msg_append_result append_result;
        struct raft_msg_vote vote;
        struct raft_msg_vote_result vote_result;
        struct raft_msg_snapshot snapshot;
        struct raft_msg_snapshot_result snapshot_result;
        struct raft_msg_timeout_now timeout_now;
    };
};

/* ---- events ---- */

/* START: once, first; the durable state loaded from storage (everything
 *   loaded counts as persisted).
 * RECEIVE: a message addressed to this node arrived (from a voter).
 * PERSISTED: every entry up to (index, term) is durable.
 * TICK: time passed (the timer armed from next_timeout_ms fired).
 * PROPOSE: leader only; the entries are appended at raft_last_index()-n+1
 *   .. raft_last_index() (read it after the step) and committed when
 *   commit_index reaches them with the same term (raft_entry_at()).
 * SNAPSHOT_TAKEN: the application has DURABLY saved a snapshot of its
 *   state up to @index (<= commit index, applied); the core compacts its
 *   log up to it and keeps @data to send to lagging peers. The driver may
 *   then drop stored entries <= index (raft_store_snapshot_save does).
 * TRANSFER: leader only; hand leadership to @to (0: the most up to date
 *   other voter); proposals are refused until it ends (an election timeout
 *   at most). */
enum raft_event_type {
    RAFT_EV_START = 1,
    RAFT_EV_RECEIVE,
    RAFT_EV_PERSISTED,
    RAFT_EV_TICK,
    RAFT_EV_PROPOSE,
    RAFT_EV_SNAPSHOT_TAKEN,
    RAFT_EV_TRANSFER,
};

struct raft_snapshot_meta {
    raft_index index; /* 0: no snapshot */
    raft_term term;
};

/* All pointers in an event are borrowed for the call; the core copies what
 * it keeps. */
struct raft_event {
    enum raft_event_type type;
    uint64_t now_ms; /* monotonic; never goes backwards */
    union {
        struct {
            raft_term term;
            raft_id vote;
            struct raft_snapshot_meta snapshot;
            struct st_bytes snapshot_data;
            const struct raft_entry *entries; /* ascending from snap+1 */
            unsigned n_entries;
        } start;
        const struct raft_msg *receive;
        struct {
            raft_index index;
            raft_term term;
        } persisted;
        struct {
            const struct st_bytes *data; /* one RAFT_ENTRY_COMMAND each */
            unsigned n;
        } propose;
        struct {
            raft_index index; /* <= commit index and applied */
            struct st_bytes data;
        } snapshot_taken;
        struct {
            raft_id to; /* 0: the most up-to-date other voter */
        } transfer;
    };
};

/* ---- the update ---- */

enum {
    RAFT_UPD_TERM_VOTE = 1 << 0,      /* persist term+vote before sending */
    RAFT_UPD_TERM_VOTE_LAZY = 1 << 1, /* unsafe test mode: may be delayed */
    RAFT_UPD_SNAPSHOT = 1 << 2,       /* install snapshot (driver step 2) */
    RAFT_UPD_ROLE = 1 << 3,           /* role or leader changed */
};

struct raft_update {
    unsigned flags;
    raft_term term; /* current term and vote (always filled) */
    raft_id vote;
    struct raft_snapshot_meta snapshot; /* with RAFT_UPD_SNAPSHOT */
    struct st_bytes snapshot_data;
    raft_index truncate_from;           /* 0: no truncation */
    const struct raft_entry *entries;   /* to write, ascending */
    unsigned n_entries;
    const struct raft_msg *msgs;
    unsigned n_msgs;
    raft_index commit_index;            /* never decreases */
    uint64_t next_timeout_ms;           /* absolute */
};

struct raft;

/* Allocate a core for @cfg (copied). It does nothing until RAFT_EV_START.
 * Errors: ST_EINVAL (id not a voter, no voters, too many), ST_ENOMEM.
 * Ownership: *out is the caller's; raft_free() it. */
int raft_new(const struct raft_config *cfg, struct raft **out);
/* NULL-safe. */
void raft_free(struct raft *r);

/* Feed one event and fill @out (see the driver contract above).
 * Errors (the state is unchanged and @out is empty, except ST_ENOMEM,
 * after which the core must be freed):
 *   ST_ENOTLEADER  PROPOSE or TRANSFER on a non-leader, or a transfer is
 *                  in progress;
 *   ST_EINVAL      an event before START, START twice, a bad snapshot
 *                  index, a message not addressed to this node;
 *   ST_ECORRUPT    a leader asked to overwrite a committed entry (some
 *                  node lost durable state); the message was ignored
 *                  but @out is filled and must be carried out as usual;
 *   ST_ENOMEM. */
int raft_step(struct raft *r, const struct raft_event *ev,
              struct raft_update *out);

/* Read-only accessors (valid at any time after raft_new). */
enum raft_role raft_role(const struct raft *r);
raft_term raft_current_term(const struct raft *r);
raft_id raft_leader(const struct raft *r); /* 0 when unknown */
raft_index raft_commit_index(const struct raft *r);
raft_index raft_last_index(const struct raft *r);
raft_index raft_persisted_index(const struct raft *r);
struct raft_snapshot_meta raft_snapshot(const struct raft *r);
/* The entry at @index, or NULL if it is compacted or beyond the log. The
 * pointer is valid until the next raft_step(). */
const struct raft_entry *raft_entry_at(const struct raft *r, raft_index index);
/* The current snapshot bytes (empty if none); valid until next step. */
struct st_bytes raft_snapshot_data(const struct raft *r);

const char *raft_role_name(enum raft_role role);

#endif
