/* A deterministic simulation of a Raft group (tests only).
 *
 * N voters run the real Raft core (controller/raft/raft.h) in one process on
 * a simulated clock. The network can drop, delay (and so reorder), and
 * duplicate messages and partition any subset of nodes; nodes crash (losing
 * everything not fsynced) and restart from what their disk kept. Everything
 * random comes from one seed, so a seed replays exactly.
 *
 * Checkers run after every event and record the first violation (the run
 * then stops): at most one leader per term; two logs with an entry of the
 * same index and term hold the same entry and the same term before it (log
 * matching); every node applies the same sequence, so a committed entry is
 * never lost or changed; commit index never goes back on a node.
 */
#ifndef ST_SIM_H
#define ST_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/raft/raft.h"

struct sim;

struct sim_opts {
    unsigned n_voters;          /* 1..RAFT_VOTERS_MAX */
    uint64_t seed;
    uint64_t election_timeout_ms; /* default 200 */
    uint64_t heartbeat_ms;        /* default 20 */
    size_t snapshot_chunk_bytes;  /* default 64 */
    uint64_t snapshot_every;      /* app snapshots every N applied; 0 never */
    bool disable_pre_vote;        /* raft_config test switches */
    bool disable_check_quorum;
    bool unsafe_send_before_persist;
    bool unsafe_commit_previous_terms;
    unsigned append_entries_max; /* per AppendEntries (default 16) */
    bool use_store;  /* disk through raft_store on a mem vfs per node */
    bool trace;      /* print core trace lines to stderr */
    /* When set, every core trace line and every simulator event (node
     * start, crash, wipe, partition) goes here instead, one line per call,
     * in simulation order: a seed's run as text (golden traces). */
    void (*trace_sink)(void *arg, const char *line);
    void *trace_sink_arg;
};

struct sim_faults {
    unsigned drop_pct;        /* per message */
    unsigned dup_pct;
    uint64_t delay_ms_min;
    uint64_t delay_ms_max;
    uint64_t disk_ms_max;     /* fsync latency in [1, max] */
    uint64_t partition_every_ms; /* mean time between partition changes */
    uint64_t crash_every_ms;     /* mean time between crashes; 0 never */
    uint64_t down_ms_max;        /* a crashed node restarts within this */
    uint64_t transfer_every_ms;  /* mean time between leadership transfers */
};

/* Errors: ST_EINVAL, ST_ENOMEM. Ownership: sim_free(). */
int sim_new(const struct sim_opts *opts, struct sim **out);
void sim_free(struct sim *s);
void sim_set_faults(struct sim *s, const struct sim_faults *f);

/* Run for @ms simulated ms; a proposal every @propose_every_ms (0: none).
 * Returns false as soon as a checker fired (see sim_failure()). */
bool sim_run_for(struct sim *s, uint64_t ms, uint64_t propose_every_ms);

/* Stop faults: heal partitions, restart crashed nodes, no more drops,
 * duplicates or crashes (delays stay). */
void sim_heal(struct sim *s);
/* After sim_heal(): true if within @bound_ms a leader was elected and a
 * proposal made after the call committed. */
bool sim_live_within(struct sim *s, uint64_t bound_ms);

/* Ask the current leader to hand over to @to (0: best other voter).
 * Returns raft_step()'s result, or ST_ENOTLEADER when no leader exists. */
int sim_transfer(struct sim *s, raft_id to);

/* Isolate the nodes in @ids (ids 1..N) from the rest. */
void sim_partition(struct sim *s, const raft_id *ids, unsigned n);

/* Directed scenarios (test_sim_raft_directed.c) place faults by hand. */

/* A message filter, called at send time on the network's copy of @m:
 * return false to drop it. It may also lower m->append.n_entries, so that
 * the follower receives a shorter prefix of the batch (still a message a
 * leader could have sent). Replaces any previous filter; NULL removes it.
 * Runs before random faults. */
typedef bool (*sim_filter_fn)(void *arg, struct raft_msg *m);
void sim_set_filter(struct sim *s, sim_filter_fn fn, void *arg);

/* Propose one command to the current leader; returns its value (the
 * command's 8 bytes) or 0 when there is no leader or it refused. */
uint64_t sim_propose(struct sim *s);

/* Crash node @id now (losing what it had not synced); it stays down until
 * sim_restart() or sim_heal(). No-op if it is down. */
void sim_crash(struct sim *s, raft_id id);
/* Restart a crashed node from what its disk kept. No-op if it is up. */
void sim_restart(struct sim *s, raft_id id);

/* Wipe node @id: crash it if up and replace its disk by an empty one, as
 * when an operator re-formats a lost data directory. It restarts (at
 * sim_restart() or sim_heal()) with term 0, no vote and no log.
 *
 * This is an explicit fault outside Raft's model (see raft.h, "KNOWN
 * HAZARD"): the re-formatted incarnation may grant a second vote in a
 * term it had voted in. The election-safety checker therefore tolerates
 * two leaders in a term T only if some wiped node granted a vote in T
 * after its wipe and T is at most the term it had reached before the
 * wipe; such tolerated cases are counted by sim_double_votes(). Every
 * other checker still applies. */
void sim_wipe(struct sim *s, raft_id id);
/* Leaderships in one term explained (and tolerated) by a wiped voter's
 * second vote. */
uint64_t sim_double_votes(const struct sim *s);
/* Snapshots installed from a leader (InstallSnapshot) by node @id. */
uint64_t sim_snapshots_installed(const struct sim *s, raft_id id);
/* The entries node @id applied in its current incarnation, counted from
 * its last restart's snapshot. */
raft_index sim_applied(const struct sim *s, raft_id id);
/* The committed sequence as the checkers know it: its length, and the
 * term of the entry at @index (0 if not committed yet). */
raft_index sim_committed_len(const struct sim *s);
raft_term sim_committed_term(const struct sim *s, raft_index index);

/* The first checker violation, or NULL. */
const char *sim_failure(const struct sim *s);
uint64_t sim_now(const struct sim *s);
uint64_t sim_acked(const struct sim *s);      /* proposals committed */
uint64_t sim_events(const struct sim *s);     /* raft_step calls */
uint64_t sim_elections(const struct sim *s);  /* leaders elected */
/* The node with the highest term that believes it leads (0: none). */
raft_id sim_leader(const struct sim *s);
/* The core of node @id, NULL when it is down. */
const struct raft *sim_node(const struct sim *s, raft_id id);
uint64_t sim_max_term(const struct sim *s);

/* The standard fault scenario of one seed (test_sim_raft and bench_raft):
 * 3 voters for even seeds, 5 for odd; 6 s of drops, duplicates, delays,
 * partitions, crashes, snapshots and leadership transfers under load; then
 * faults stop and a proposal must commit within 5 s. Returns true if all
 * checkers passed; else @why gets the reason. @stats (may be NULL) gets
 * {acked, events, leaders, max term}. @harsh turns every fault up (15%
 * loss, 10% duplicates, delays near the election timeout, crashes every
 * ~700 ms, tiny snapshots and chunks) for exploration with bench_raft. */
bool sim_fault_scenario(uint64_t seed, bool use_store, bool harsh, bool trace,
                        char *why, size_t cap, uint64_t stats[4]);

#endif
