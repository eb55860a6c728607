/* Seeded simulation of the partition replica core (replica_sim.h): three
 * replicas, a controller, producers and faults; checkers after every event.
 *
 *   STRATA_SIM_SEED=<n>   replay seed n alone (STRATA_SIM_TRACE=1 to trace)
 *   STRATA_LONG=1         100,000 seeds instead of 1,000
 *   STRATA_SIM_VERBOSE=1  print each seed's figures
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replica_sim.h"
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
    const char *l = getenv("STRATA_LONG");

    if (st_test_seed_override() >= 0) {
        return 1;
    }
    return l != NULL && l[0] == '1' ? 100000 : 1000;
}

#define REPLAY_FMT "%s\nreplay: STRATA_SIM_SEED=%" PRIu64 " %s"

START_TEST(test_replicas_keep_acked_records_under_faults_and_converge)
{
    /* Given three replicas under loss, delay, partitions, slow followers,
     * crashes and power losses (some of every broker at once) while
     * producers write with acks=all and acks=1, no checker fires, and once
     * faults stop the logs converge record for record and a new acks=all
     * record is acknowledged. */
    uint64_t seed = seed_of(_i);
    char why[800];
    bool ok = rsim_fault_scenario(seed, tracing(), why, sizeof why);

    ck_assert_msg(ok, REPLAY_FMT, why, seed, self_path());
    if (getenv("STRATA_SIM_VERBOSE") != NULL) {
        fprintf(stderr, "%s\n", why);
    }
}
END_TEST

/* ---- the durable-HW rule matters ---- */

/* One run where every broker loses power at once, repeatedly, while
 * producers write acks=all; returns the checker's verdict. */
static bool all_power_loss_run(uint64_t seed, bool durable_hw, char *why,
                               size_t len)
{
    struct rsim_opts o = {.seed = seed, .durable_hw = durable_hw,
                          .min_insync = 2, .flush_ms_max = 80,
                          .trace = tracing()};
    struct rsim_faults f = {.delay_ms_max = 3, .down_ms_max = 200,
                            .all_power_loss_every_ms = 700};
    struct rsim *s;
    bool ok;

    ck_assert_int_eq(rsim_new(&o, &s), 0);
    rsim_set_faults(s, &f);
    ok = rsim_run_for(s, 4000, 2);
    if (ok) {
        rsim_heal(s);
        ok = rsim_converge_within(s, 10000);
    }
    snprintf(why, len, "%s", ok ? "ok" : rsim_failure(s));
    rsim_free(s);
    return ok;
}

START_TEST(test_page_cache_hw_loses_acked_records_on_total_power_loss)
{
    /* Given the HW computed over log ends (durable_hw=false, Kafka's
     * default flush policy), when every replica loses power at once, some
     * seed loses an acknowledged record and the checker catches it. */
    char why[700];
    int caught = -1;

    for (int seed = 0; seed < 200 && caught < 0; seed++) {
        if (!all_power_loss_run((uint64_t)seed, false, why, sizeof why)) {
            caught = seed;
        }
    }
    ck_assert_msg(caught >= 0, "no seed in 0..199 lost an acked record");
    if (getenv("STRATA_SIM_VERBOSE") != NULL) {
        fprintf(stderr, "durable_hw=false caught at seed %d: %s\n", caught,
                why);
    }
}
END_TEST

START_TEST(test_durable_hw_keeps_acked_records_on_total_power_loss)
{
    /* Given the HW computed over durable log ends (durable_hw=true), the
     * same total power losses never lose an acknowledged record. */
    char why[700];

    for (int seed = 0; seed < 200; seed++) {
        bool ok = all_power_loss_run((uint64_t)seed, true, why, sizeof why);
        ck_assert_msg(ok, "durable_hw=true seed %d: %s", seed, why);
    }
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("sim_replica");
    TCase *tc = tcase_create("seeds");

    tcase_set_timeout(tc, 0);
    tcase_add_loop_test(
        tc, test_replicas_keep_acked_records_under_faults_and_converge, 0,
        n_seeds());
    suite_add_tcase(s, tc);
    if (st_test_seed_override() < 0) {
        tc = tcase_create("mechanisms");
        tcase_set_timeout(tc, 0);
        tcase_add_test(
            tc, test_page_cache_hw_loses_acked_records_on_total_power_loss);
        tcase_add_test(tc,
                       test_durable_hw_keeps_acked_records_on_total_power_loss);
        suite_add_tcase(s, tc);
    }
    return s;
}
