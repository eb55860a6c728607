/* Raft core figures from the deterministic simulator.
 *
 *   bench_raft                 commits per CPU second (3 and 5 voters, no
 *                              faults, raft_store on a mem vfs and the
 *                              simulator's disk model), then seeds per
 *                              minute of the standard fault scenario
 *   bench_raft explore A B     run fault-scenario seeds [A, B) in-process
 *                              and print every failing seed
 *   bench_raft explore-harsh A B   the same with every fault turned up
 *
 * Build it in a release (non-sanitizer) build dir for figures.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void commits_per_cpu_second(unsigned voters, bool store)
{
    struct sim_opts o = {.n_voters = voters, .seed = 1,
                         .snapshot_every = 1000, .use_store = store};
    struct sim *s;
    if (sim_new(&o, &s) != 0) {
        fprintf(stderr, "sim_new failed\n");
        exit(1);
    }
    sim_run_for(s, 1000, 0); /* elect a leader */
    uint64_t acked0 = sim_acked(s), events0 = sim_events(s);
    double t0 = cpu_seconds();
    /* One proposal per simulated ms; 1-5 ms links, fsync 1-3 ms. */
    bool ok = sim_run_for(s, 60000, 1);
    double cpu = cpu_seconds() - t0;
    uint64_t acked = sim_acked(s) - acked0;
    printf("voters=%u disk=%-5s commits=%" PRIu64 " in 60 s simulated, "
           "cpu=%.2f s: %.0f commits/cpu-s, %.0f raft_step/cpu-s%s\n",
           voters, store ? "store" : "model", acked, cpu,
           (double)acked / cpu, (double)(sim_events(s) - events0) / cpu,
           ok ? "" : " (CHECKER FAILED)");
    sim_free(s);
}

static unsigned explore(uint64_t from, uint64_t to, bool store, bool harsh,
                        bool quiet)
{
    unsigned failed = 0;
    char why[700];
    for (uint64_t seed = from; seed < to; seed++) {
        if (!sim_fault_scenario(seed, store, harsh, false, why, sizeof why,
                                NULL)) {
            failed++;
            printf("FAIL %s\n  replay: %sSTRATA_SIM_SEED=%" PRIu64
                   " tests/sim/test_sim_raft\n", why,
                   harsh ? "STRATA_SIM_HARSH=1 " : "", seed);
        }
    }
    if (!quiet) {
        printf("explored seeds [%" PRIu64 ", %" PRIu64 "): %u failed\n", from,
               to, failed);
    }
    return failed;
}

int main(int argc, char **argv)
{
    bool store = getenv("STRATA_SIM_DISK") == NULL ||
                 strcmp(getenv("STRATA_SIM_DISK"), "model") != 0;
    if (argc == 4 && strncmp(argv[1], "explore", 7) == 0) {
        bool harsh = strcmp(argv[1], "explore-harsh") == 0;
        return explore(strtoull(argv[2], NULL, 10),
                       strtoull(argv[3], NULL, 10), store, harsh, false) != 0;
    }
    commits_per_cpu_second(3, true);
    commits_per_cpu_second(5, true);
    commits_per_cpu_second(3, false);
    commits_per_cpu_second(5, false);
    unsigned n = 300;
    double t0 = cpu_seconds();
    unsigned failed = explore(0, n, store, false, true);
    double cpu = cpu_seconds() - t0;
    printf("fault scenario: %u seeds in %.2f cpu-s: %.0f seeds/cpu-minute "
           "(%u failed)\n", n, cpu, n * 60.0 / cpu, failed);
    return failed != 0;
}
