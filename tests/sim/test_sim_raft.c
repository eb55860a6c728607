/* The Raft core under simulated faults, one seed per loop iteration (100
 * per iteration with STRATA_LONG, to spare 100,000 forks).
 *
 * The seeds are split in four shards so that meson runs them on both cores
 * and each long shard (25,000 seeds, about 190 s under ASan on a loaded
 * 2-core machine) stays well inside the 600 s meson timeout: this file runs
 * shard 0 (seeds [0, N/4)) and the mechanism tests; test_sim_raft_shard1.c
 * .. _shard3.c include it with SIM_SHARD 1..3 for the other quarters.
 *
 * Each seed runs a 3- or 5-voter group for a while under message loss,
 * duplication, delay (reordering), random partitions and crashes that lose
 * unsynced writes, with application snapshots and chunked InstallSnapshot;
 * the simulator's checkers run after every event. Then faults stop and a
 * leader must be elected and a new proposal commit within a bound.
 *
 *   STRATA_SIM_SEED=<n>   replay seed n alone (STRATA_SIM_TRACE=1 to trace)
 *   STRATA_LONG=1         100,000 seeds instead of 1,000
 *   STRATA_SIM_DISK=model the simulator's own disk model instead of
 *                         raft_store on a power-losing mem vfs
 *   STRATA_SIM_HARSH=1    every fault turned up (as bench_raft explore-harsh)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"
#include "test_util.h"

#ifndef SIM_SHARD
#define SIM_SHARD 0
#endif
#define SIM_SHARDS 4

static const char *self_path(void)
{
    static char path[512];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    return path;
}

static bool tracing(void)
{
    const char *t = getenv("STRATA_SIM_TRACE");
    return t != NULL && t[0] == '1';
}

static bool use_store(void)
{
    const char *d = getenv("STRATA_SIM_DISK");
    return d == NULL || strcmp(d, "model") != 0;
}

static bool harsh(void)
{
    return getenv("STRATA_SIM_HARSH") != NULL;
}

static bool long_run(void)
{
    const char *l = getenv("STRATA_LONG");
    return l != NULL && l[0] == '1';
}

static int seeds_per_iteration(void)
{
    return st_test_seed_override() < 0 && long_run() ? 100 : 1;
}

static int n_iterations(void)
{
    if (st_test_seed_override() >= 0) {
        return 1; /* either shard's binary replays any seed */
    }
    int total = long_run() ? 100000 : 1000;
    return total / SIM_SHARDS / seeds_per_iteration();
}

/* The seed of run @k of loop iteration @i. */
static uint64_t seed_of(int i, int k)
{
    long o = st_test_seed_override();
    if (o >= 0) {
        return (uint64_t)o;
    }
    int total = long_run() ? 100000 : 1000;
    return (uint64_t)(SIM_SHARD * (total / SIM_SHARDS) +
                      i * seeds_per_iteration() + k);
}

/* The replay line repeats the settings that change a seed's run. */
static const char *replay_env(void)
{
    static char env[96];
    snprintf(env, sizeof env, "%s%s", harsh() ? "STRATA_SIM_HARSH=1 " : "",
             use_store() ? "" : "STRATA_SIM_DISK=model ");
    return env;
}

#define REPLAY_FMT "%s\nreplay: %sSTRATA_SIM_SEED=%" PRIu64 " %s"

START_TEST(test_raft_keeps_committed_entries_under_faults_and_recovers)
{
    /* Given a 3- or 5-voter group under loss, duplication, reordering,
     * partitions, crashes and leadership transfers while clients propose
     * (sim_fault_scenario), no checker fires, and once faults stop a leader
     * commits a new proposal within a bounded time. */
    for (int k = 0; k < seeds_per_iteration(); k++) {
        uint64_t seed = seed_of(_i, k);
        char why[700];
        uint64_t st[4];
        bool ok = sim_fault_scenario(seed, use_store(), harsh(), tracing(),
                                     why, sizeof why, st);
        ck_assert_msg(ok, REPLAY_FMT, why, replay_env(), seed, self_path());
        if (getenv("STRATA_SIM_VERBOSE") != NULL) {
            fprintf(stderr, "seed=%" PRIu64 " acked=%" PRIu64 " events=%"
                    PRIu64 " leaders=%" PRIu64 " term=%" PRIu64 "\n", seed,
                    st[0], st[1], st[2], st[3]);
        }
    }
}
END_TEST

/* ---- each safety mechanism matters ---- */

static struct sim *quiet_group(unsigned n, uint64_t seed, bool pre_vote,
                               bool check_quorum)
{
    struct sim_opts o = {.n_voters = n, .seed = seed,
                         .disable_pre_vote = !pre_vote,
                         .disable_check_quorum = !check_quorum,
                         .use_store = use_store(),
                         .trace = tracing()};
    struct sim *s;
    ck_assert_int_eq(sim_new(&o, &s), 0);
    ck_assert(sim_run_for(s, 2000, 10));
    ck_assert_uint_ne(sim_leader(s), 0);
    return s;
}

/* A follower cut off for many election timeouts rejoins; returns true if
 * the leader or its term changed. */
static bool rejoin_disrupts(bool pre_vote, uint64_t seed)
{
    struct sim *s = quiet_group(3, seed, pre_vote, true);
    raft_id leader = sim_leader(s);
    raft_term term = raft_current_term(sim_node(s, leader));
    raft_id lone = leader % 3 + 1;
    sim_partition(s, &lone, 1);
    ck_assert(sim_run_for(s, 3000, 10));
    sim_heal(s);
    ck_assert(sim_run_for(s, 3000, 10));
    bool disrupted = sim_leader(s) != leader ||
                     raft_current_term(sim_node(s, leader)) != term;
    ck_assert_msg(sim_failure(s) == NULL, "%s", sim_failure(s));
    sim_free(s);
    return disrupted;
}

START_TEST(test_rejoining_node_disrupts_leader_only_without_pre_vote)
{
    /* Given a healthy 3-voter group and one follower partitioned away for
     * 15 election timeouts, when it rejoins: */
    for (uint64_t seed = 1; seed <= 5; seed++) {
        /* without pre-vote its inflated term deposes the leader, */
        ck_assert_msg(rejoin_disrupts(false, seed), "seed=%" PRIu64, seed);
        /* with pre-vote the leader and term stay. */
        ck_assert_msg(!rejoin_disrupts(true, seed), "seed=%" PRIu64, seed);
    }
}
END_TEST

/* The leader is partitioned alone for 15 election timeouts; returns true if
 * it still believes it leads. */
static bool isolated_leader_still_leads(bool check_quorum, uint64_t seed)
{
    struct sim *s = quiet_group(3, seed, true, check_quorum);
    raft_id leader = sim_leader(s);
    sim_partition(s, &leader, 1);
    ck_assert(sim_run_for(s, 3000, 0));
    bool leads = raft_role(sim_node(s, leader)) == RAFT_LEADER;
    ck_assert_msg(sim_failure(s) == NULL, "%s", sim_failure(s));
    sim_free(s);
    return leads;
}

START_TEST(test_partitioned_leader_steps_down_only_with_check_quorum)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        /* Given a leader cut off from both followers, without check-quorum
         * it keeps believing it leads, */
        ck_assert_msg(isolated_leader_still_leads(false, seed),
                      "seed=%" PRIu64, seed);
        /* with check-quorum it steps down within an election timeout. */
        ck_assert_msg(!isolated_leader_still_leads(true, seed),
                      "seed=%" PRIu64, seed);
    }
}
END_TEST

START_TEST(test_leadership_moves_to_the_transfer_target_quickly)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        /* Given a healthy 5-voter group under load, */
        struct sim *s = quiet_group(5, seed, true, true);
        raft_id from = sim_leader(s);
        raft_id to = from % 5 + 1;
        uint64_t acked = sim_acked(s);
        /* when the leader is asked to hand over to another voter, */
        ck_assert_int_eq(sim_transfer(s, to), 0);
        /* that voter leads within one election timeout (no pre-vote round,
         * no randomized wait), and commits go on. */
        ck_assert(sim_run_for(s, 200, 10));
        ck_assert_msg(sim_leader(s) == to, "seed=%" PRIu64 " leader=%u",
                      seed, sim_leader(s));
        ck_assert(sim_run_for(s, 500, 10));
        ck_assert_uint_gt(sim_acked(s), acked + 10);
        sim_free(s);
    }
}
END_TEST

/* Runs @n seeds with crash-heavy faults; returns how many seeds a checker
 * failed, and prints the first failure. */
static unsigned crash_seeds(bool unsafe, unsigned n)
{
    unsigned failed = 0;
    for (uint64_t seed = 0; seed < n; seed++) {
        struct sim_opts o = {.n_voters = 3, .seed = seed,
                             .unsafe_send_before_persist = unsafe,
                             .snapshot_every = 30,
                             .use_store = use_store()};
        struct sim *s;
        ck_assert_int_eq(sim_new(&o, &s), 0);
        sim_set_faults(s, &(struct sim_faults){
                              .drop_pct = 2, .delay_ms_min = 1,
                              .delay_ms_max = 10, .disk_ms_max = 40,
                              .partition_every_ms = 1000,
                              .crash_every_ms = 300, .down_ms_max = 300});
        if (!sim_run_for(s, 5000, 5)) {
            if (failed++ == 0) {
                fprintf(stderr, "unsafe_send_before_persist=%d caught: %s\n",
                        unsafe, sim_failure(s));
            }
        }
        sim_free(s);
    }
    return failed;
}

START_TEST(test_checkers_catch_acks_sent_before_persist)
{
    /* Given crash-heavy runs where a crash loses everything unsynced, when
     * nodes vote and acknowledge appends before their state is durable, a
     * checker fires in some seed; with the persist-before-send rule none
     * does. */
    unsigned unsafe = crash_seeds(true, 200);
    ck_assert_msg(unsafe > 0, "no checker fired in 200 unsafe seeds");
    ck_assert_uint_eq(crash_seeds(false, 200), 0);
    fprintf(stderr, "unsafe seeds caught: %u/200\n", unsafe);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("sim_raft");
    TCase *tc = tcase_create("seeds");
    tcase_set_timeout(tc, 0);
    tcase_add_loop_test(
        tc, test_raft_keeps_committed_entries_under_faults_and_recovers, 0,
        n_iterations());
    suite_add_tcase(s, tc);
    if (st_test_seed_override() < 0 && SIM_SHARD == 0) {
        tc = tcase_create("mechanisms");
        tcase_set_timeout(tc, 0);
        tcase_add_test(
            tc, test_rejoining_node_disrupts_leader_only_without_pre_vote);
        tcase_add_test(
            tc, test_partitioned_leader_steps_down_only_with_check_quorum);
        tcase_add_test(tc, test_checkers_catch_acks_sent_before_persist);
        tcase_add_test(tc,
                       test_leadership_moves_to_the_transfer_target_quickly);
        suite_add_tcase(s, tc);
    }
    return s;
}
