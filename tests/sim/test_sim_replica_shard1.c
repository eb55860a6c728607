/* The second half of test_sim_replica's seeds (see the top of that file). */
#define SIM_SHARD 1
#include "test_sim_replica.c"
