/* A seeded simulation of one consumer group: the real group core behind a
 * simulated coordinator, simulated consumers, a lossy and delaying
 * network, and a coordinator that fails over by replaying its records.
 *
 * Checkers run after every event:
 *   - no partition is owned by two consumers at once (a consumer owns a
 *     partition from the reply that gives it until it drops it; a consumer
 *     that has not heard from the coordinator for min(session, rebalance)
 *     timeout counts as having dropped everything, as it fences itself);
 *   - the core's own invariants (st_group_check);
 *   - an accepted commit never moves a partition's offset backwards;
 *   - member epochs seen by consumers never decrease;
 *   - a failed-over coordinator rebuilds exactly the state it had.
 * After the fault phase the network heals and faults stop; the group must
 * then settle: every partition owned by exactly one live consumer, the
 * group Stable. Tests: tests/sim/test_sim_group.c. */
#ifndef GROUP_SIM_H
#define GROUP_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gsim_stats {
    uint64_t events;
    uint64_t joins;
    uint64_t crashes;
    uint64_t leaves;
    uint64_t failovers;
    uint64_t commits_ok;
    uint64_t commits_refused;
    uint64_t group_epoch; /* at the end */
    uint64_t sim_ms;
};

/* Run seed @seed. Returns true when every checker held; else false with
 * the reason in @why. @trace prints every event to stderr. */
bool gsim_run(uint64_t seed, bool trace, char *why, size_t cap,
              struct gsim_stats *st);

/* The rebalance figure: @n members settled on @parts partitions, then one
 * joins with no faults. Reports the heartbeat round trips (requests sent
 * by all members), simulated ms until every member is reconciled, the
 * longest a moved partition went unconsumed, how many partitions members
 * stopped consuming, and how many the joiner owns at the end (equal when
 * no member paused a partition it kept). */
bool gsim_join_figure(unsigned n, unsigned parts, uint64_t hb_ms,
                      uint64_t delay_ms, uint64_t *round_trips,
                      uint64_t *settle_ms, uint64_t *max_pause_ms,
                      uint64_t *dropped, uint64_t *joiner_owns);

#endif
