/* Quarter 3 of test_sim_raft's seeds (see the top of that file). */
#define SIM_SHARD 3
#include "test_sim_raft.c"
