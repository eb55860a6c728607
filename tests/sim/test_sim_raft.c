/* The Raft core under simulated faults, one seed per loop iteration.
 *
 * Each seed runs a 3- or 5-voter group for a while under message loss,
 * duplication, delay (reordering), random partitions and crashes that lose
 * unsynced writes, with application snapshots and chunked InstallSnapshot;
 * the simulator's checkers run after every event. Then faults stop and a
 * leader must be elected and a new proposal commit within a bound.
 *
 *   STRATA_SIM_SEED=<n>   replay seed n alone (STRATA_SIM_TRACE=1 to trace)
 *   STRATA_LONG=1         100,000 seeds instead of 1,000
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sim.h"
#include "test_util.h"

static const char *self_path(void)
{
    static char path[512];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    return path;
}

static uint64_t seed_of(int i)
{
    long o = st_test_seed_override();
    return o >= 0 ? (uint64_t)o : (uint64_t)i;
}

static bool tracing(void)
{
    const char *t = getenv("STRATA_SIM_TRACE");
    return t != NULL && t[0] == '1';
}

static int n_seeds(void)
{
    if (st_test_seed_override() >= 0) {
        return 1;
    }
    const char *l = getenv("STRATA_LONG");
    return l != NULL && l[0] == '1' ? 100000 : 1000;
}

#define REPLAY_FMT "%s\nreplay: STRATA_SIM_SEED=%" PRIu64 " %s"

START_TEST(test_raft_keeps_committed_entries_under_faults_and_recovers)
{
    uint64_t seed = seed_of(_i);
    struct sim_opts o = {.n_voters = seed % 2 ? 5 : 3,
                         .seed = seed,
                         .snapshot_every = 30,
                         .use_store = getenv("STRATA_SIM_STORE") != NULL,
                         .trace = tracing()};
    struct sim *s;
    ck_assert_int_eq(sim_new(&o, &s), 0);
    /* Given a group under loss, duplication, reordering, partitions and
     * crashes, */
    sim_set_faults(s, &(struct sim_faults){
                          .drop_pct = 5, .dup_pct = 2, .delay_ms_min = 1,
                          .delay_ms_max = 30, .disk_ms_max = 8,
                          .partition_every_ms = 1500,
                          .crash_every_ms = 1500, .down_ms_max = 1000});
    /* when clients propose all along, */
    bool ok = sim_run_for(s, 6000, 10);
    /* no checker fires, */
    ck_assert_msg(ok, REPLAY_FMT, sim_failure(s), seed, self_path());
    /* and once faults stop, a leader commits a new proposal within a
     * bounded time (25 election timeouts). */
    sim_heal(s);
    ok = sim_live_within(s, 5000);
    ck_assert_msg(ok, REPLAY_FMT, sim_failure(s) ? sim_failure(s)
                                                 : "no progress after heal",
                  seed, self_path());
    if (getenv("STRATA_SIM_VERBOSE") != NULL) {
        fprintf(stderr, "seed=%" PRIu64 " t=%" PRIu64 " acked=%" PRIu64
                " events=%" PRIu64 " leaders=%" PRIu64 " term=%" PRIu64 "\n",
                seed, sim_now(s), sim_acked(s), sim_events(s),
                sim_elections(s), sim_max_term(s));
    }
    sim_free(s);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("sim_raft");
    TCase *tc = tcase_create("seeds");
    tcase_set_timeout(tc, 0);
    tcase_add_loop_test(
        tc, test_raft_keeps_committed_entries_under_faults_and_recovers, 0,
        n_seeds());
    suite_add_tcase(s, tc);
    return s;
}
