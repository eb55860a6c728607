/* Quarter 2 of test_sim_raft's seeds (see the top of that file). */
#define SIM_SHARD 2
#include "test_sim_raft.c"
