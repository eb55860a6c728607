/* Preferred-leader election (Kafka's auto.leader.rebalance.enable): give
 * each partition back to its first replica (replicas[0], where placement
 * spread the leaders evenly) once that broker is live and in the ISR
 * again, e.g. after it restarted and caught up.
 * Runs on: the controller's loop thread. Pure: no I/O. */
#ifndef ST_META_DECIDE_PREFERRED_H
#define ST_META_DECIDE_PREFERRED_H

#include "controller/decide.h"

/* One PartitionChange (leader = replicas[0]; the leader epoch is bumped by
 * the apply) for every partition whose preferred replica is registered,
 * unfenced and in the ISR but does not lead; at most @max_moves of them
 * per call so a restart does not move everything at once.
 * Errors: ST_ENOMEM. */
int st_meta_decide_preferred_leaders(const struct st_meta *m, int max_moves,
                                     struct st_meta_recs *out);

#endif
