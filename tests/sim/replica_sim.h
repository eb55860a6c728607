/* A deterministic simulation of one partition's replicas (tests only).
 *
 * Three brokers (ids 1..3) run the real replica core
 * (broker/replica/replica.h) on a simulated 1 ms clock, with in-memory logs
 * (records = (offset, leader epoch, value); a durable prefix survives power
 * loss, the rest only a process crash), a simulated controller (broker
 * registration with incarnations, session-timeout fencing, leader election
 * from the ISR with leader-epoch bumps, AlterPartition with partition-epoch
 * and broker-epoch checks), producers (acks=all, and acks=1 where asked) and
 * a network that drops, delays (so reorders) and partitions messages.
 * Everything random comes from one seed, so a seed replays exactly.
 *
 * Checkers run after every event and record the first violation (the run
 * then stops):
 *  - the HW never goes backwards on a leader within a leader epoch;
 *  - no acknowledged (acks=all) record is lost or changed: every broker that
 *    becomes leader holds all of them, and no replica holds another value
 *    at an acknowledged offset below its HW;
 *  - replicas never diverge below their HWs (any two logs agree below the
 *    smaller of the two HWs);
 *  - after rsim_heal(), all replicas converge record for record.
 */
#ifndef ST_REPLICA_SIM_H
#define ST_REPLICA_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rsim;

struct rsim_opts {
    uint64_t seed;
    bool durable_hw;       /* the core's durable_hw switch */
    unsigned min_insync;   /* default 2 */
    uint64_t lag_max_ms;   /* replica.lag.time.max.ms; default 400 */
    uint64_t session_ms;   /* broker session timeout; default 300 */
    uint64_t flush_ms_max; /* flush every [5, max] ms; default 30 */
    bool trace;            /* print core and sim trace to stderr */
};

struct rsim_faults {
    unsigned drop_pct;           /* per message */
    uint64_t delay_ms_max;       /* per message, in [1, max] */
    uint64_t crash_every_ms;     /* mean time between crashes; 0 never */
    unsigned power_loss_pct;     /* share of crashes that lose unsynced data */
    uint64_t down_ms_max;        /* a crashed broker restarts within this */
    uint64_t partition_every_ms; /* mean time between partitions */
    uint64_t slow_every_ms;      /* mean time between slow-follower spells */
    uint64_t all_power_loss_every_ms; /* every broker loses power at once */
    unsigned acks1_pct;               /* share of produces with acks=1 */
};

/* Errors: ST_ENOMEM. Ownership: rsim_free(). */
int rsim_new(const struct rsim_opts *opts, struct rsim **out);
void rsim_free(struct rsim *s);
void rsim_set_faults(struct rsim *s, const struct rsim_faults *f);

/* Run for @ms simulated ms, producing a record every @produce_every_ms
 * (0: none). Returns false as soon as a checker fired. */
bool rsim_run_for(struct rsim *s, uint64_t ms, uint64_t produce_every_ms);

/* Stop faults: restart crashed brokers, heal partitions and slowness, no
 * more drops or crashes (delays stay). */
void rsim_heal(struct rsim *s);
/* After rsim_heal(): true if within @bound_ms all logs became identical and
 * an acks=all record produced after the call was acknowledged. */
bool rsim_converge_within(struct rsim *s, uint64_t bound_ms);

/* The first checker violation, or NULL. */
const char *rsim_failure(const struct rsim *s);
uint64_t rsim_now(const struct rsim *s);
uint64_t rsim_acked(const struct rsim *s);       /* acks=all acknowledged */
uint64_t rsim_elections(const struct rsim *s);   /* leader epochs started */
uint64_t rsim_truncations(const struct rsim *s); /* follower truncations */
uint64_t rsim_crashes(const struct rsim *s);
uint64_t rsim_isr_changes(const struct rsim *s);

/* Direct control for scripted scenarios (ids 1..3; 0 is the controller). */
/* The broker whose core leads with the highest leader epoch; 0: none. */
int rsim_leader(const struct rsim *s);
/* Elections pick @id when it is a candidate (0: random, the default). */
void rsim_prefer_leader(struct rsim *s, int id);
/* Cut @id off from every other node, or one link; rsim_reconnect() heals
 * every cut. */
void rsim_isolate(struct rsim *s, int id);
void rsim_cut_link(struct rsim *s, int a, int b);
void rsim_reconnect(struct rsim *s);
/* Produce one record on broker @id if it leads; returns its value (0 when
 * refused). acks=all records are checked once acknowledged. */
uint64_t rsim_produce(struct rsim *s, int id, bool acks_all);
/* Crash broker @id (losing unsynced records with @power_loss); it restarts
 * after @down_ms. */
void rsim_crash(struct rsim *s, int id, bool power_loss, uint64_t down_ms);
/* Whether broker @id's log holds @value. */
bool rsim_log_has(const struct rsim *s, int id, uint64_t value);

/* One run of the standard fault scenario for @seed: faults for a while,
 * then heal and converge; @churn picks short lag and session timeouts and
 * heavy loss. Writes the reason (on failure) or figures into @why. */
bool rsim_fault_scenario(uint64_t seed, bool churn, bool trace, char *why,
                         size_t why_len);

#endif
