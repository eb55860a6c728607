/* Seeded simulation of the partition replica core (replica_sim.h): three
 * replicas, a controller, producers and faults; checkers after every event.
 *
 *   STRATA_SIM_SEED=<n>   replay seed n alone (STRATA_SIM_TRACE=1 to trace;
 *                         STRATA_SIM_CHURN=1 for a churn seed)
 *   STRATA_LONG=1         100,000 seeds instead of 1,000 (and 20,000
 *                         churn seeds instead of 200)
 *   STRATA_SIM_VERBOSE=1  print each seed's figures
 *
 * The seeds are split in two shards so that meson runs them on both cores
 * and a long shard stays inside the meson timeout: this file runs the
 * first half of each seed range and the mechanism tests;
 * test_sim_replica_shard1.c includes it with SIM_SHARD 1 for the second.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replica_sim.h"
#include "test_util.h"

#ifndef SIM_SHARD
#define SIM_SHARD 0
#endif
#define SIM_SHARDS 2

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

/* STRATA_SIM_CHURN=1 with STRATA_SIM_SEED replays a churn seed. */
static bool churn_only(void)
{
    const char *c = getenv("STRATA_SIM_CHURN");
    return st_test_seed_override() >= 0 && c != NULL && c[0] == '1';
}

static int n_seeds(void)
{
    const char *l = getenv("STRATA_LONG");

    if (st_test_seed_override() >= 0) {
        return 1;
    }
    return l != NULL && l[0] == '1' ? 100000 : 1000;
}

/* Seeds run by one loop iteration: 100 with STRATA_LONG, since Check forks
 * (and LeakSanitizer checks) per iteration and that, not the seeds, would
 * otherwise take most of the time. */
static int per_iteration(void)
{
    const char *l = getenv("STRATA_LONG");

    if (st_test_seed_override() >= 0) {
        return 1;
    }
    return l != NULL && l[0] == '1' ? 100 : 1;
}

/* Loop iterations of this shard for a range of @total seeds. */
static int iterations(int total)
{
    if (st_test_seed_override() >= 0) {
        return 1; /* either shard's binary replays any seed */
    }
    return total / SIM_SHARDS / per_iteration();
}

/* The seed of run @k of loop iteration @i in a range of @total seeds. */
static uint64_t shard_seed(int total, int i, int k)
{
    return seed_of(SIM_SHARD * (total / SIM_SHARDS) + i * per_iteration() +
                   k);
}

#define REPLAY_FMT "%s\nreplay: STRATA_SIM_SEED=%" PRIu64 " %s%s"

START_TEST(test_replicas_keep_acked_records_under_faults_and_converge)
{
    /* Given three replicas under loss, delay, partitions, slow followers,
     * crashes and power losses (some of every broker at once) while
     * producers write with acks=all and acks=1, no checker fires, and once
     * faults stop the logs converge record for record and a new acks=all
     * record is acknowledged. */
    for (int k = 0; k < per_iteration(); k++) {
        uint64_t seed = shard_seed(n_seeds(), _i, k);
        char why[800];
        bool ok = rsim_fault_scenario(seed, false, tracing(), why, sizeof why);

        ck_assert_msg(ok, REPLAY_FMT, why, seed, "", self_path());
        if (getenv("STRATA_SIM_VERBOSE") != NULL) {
            fprintf(stderr, "%s\n", why);
        }
    }
}
END_TEST

/* Seeds outside 0..999 that once found a bug; each names its fix. */
static const uint64_t regression_seeds[] = {
    1229, /* HW counted the committed ISR only after an alter timed out */
};

START_TEST(test_regression_seeds_keep_passing)
{
    char why[800];
    size_t n = sizeof regression_seeds / sizeof regression_seeds[0];

    for (size_t i = 0; i < n; i++) {
        bool ok = rsim_fault_scenario(regression_seeds[i], false, tracing(),
                                      why, sizeof why);
        ck_assert_msg(ok, REPLAY_FMT, why, regression_seeds[i], "",
                      self_path());
    }
}
END_TEST

/* ---- scripted divergence ---- */

static struct rsim *steady_cluster(uint64_t seed)
{
    struct rsim_opts o = {
        .seed = seed, .durable_hw = true, .min_insync = 2, .trace = tracing()};
    struct rsim *s;

    ck_assert_int_eq(rsim_new(&o, &s), 0);
    ck_assert_msg(rsim_run_for(s, 1000, 3), "%s", rsim_failure(s));
    ck_assert_uint_gt(rsim_acked(s), 0);
    ck_assert_int_ne(rsim_leader(s), 0);
    return s;
}

/* Step 1 ms at a time until broker @id leads (bounded). */
static void run_until_leader(struct rsim *s, int id)
{
    for (int i = 0; i < 3000 && rsim_leader(s) != id; i++) {
        ck_assert_msg(rsim_run_for(s, 1, 0), "%s", rsim_failure(s));
    }
    ck_assert_int_eq(rsim_leader(s), id);
}

static void heal_and_converge(struct rsim *s)
{
    rsim_reconnect(s);
    rsim_heal(s);
    ck_assert_msg(rsim_converge_within(s, 10000), "%s", rsim_failure(s));
}

START_TEST(test_old_leader_truncates_its_acks1_suffix_and_converges)
{
    /* Given a leader cut off from everyone that takes 20 acks=1 writes no
     * follower has, */
    struct rsim *s = steady_cluster(11);
    int old = rsim_leader(s);
    uint64_t lost[20];
    rsim_isolate(s, old);
    for (int i = 0; i < 20; i++) {
        lost[i] = rsim_produce(s, old, false);
        ck_assert_uint_ne(lost[i], 0);
    }
    /* when the controller fences it, a new leader takes other writes, */
    int next = old % 3 + 1;
    rsim_prefer_leader(s, next);
    run_until_leader(s, next);
    for (int i = 0; i < 50; i++) {
        rsim_produce(s, next, true);
        ck_assert_msg(rsim_run_for(s, 2, 0), "%s", rsim_failure(s));
    }
    /* and the old leader dies and comes back, */
    rsim_crash(s, old, false, 200);
    heal_and_converge(s);
    /* it truncated its divergent suffix and all logs are equal: the acks=1
     * records are gone everywhere, no acked record was lost. */
    ck_assert_uint_ge(rsim_truncations(s), 1);
    for (int b = 1; b <= 3; b++) {
        for (int i = 0; i < 20; i++) {
            ck_assert(!rsim_log_has(s, b, lost[i]));
        }
    }
    rsim_free(s);
}
END_TEST

START_TEST(test_follower_truncates_to_its_own_epoch_end_kip279)
{
    /* Given leader L whose last 5 acks=1 records reached G but not F, */
    struct rsim *s = steady_cluster(12);
    int l = rsim_leader(s), f = l % 3 + 1, g = f % 3 + 1;
    uint64_t kept[5], gone[3];
    rsim_cut_link(s, l, f);
    for (int i = 0; i < 5; i++) {
        kept[i] = rsim_produce(s, l, false);
        ck_assert_uint_ne(kept[i], 0);
        ck_assert(rsim_run_for(s, 5, 0));
    }
    ck_assert(rsim_run_for(s, 30, 0));
    ck_assert(rsim_log_has(s, g, kept[4]) && !rsim_log_has(s, f, kept[0]));
    /* when F leads the next epoch without them, writes 3 records of its
     * own that G never sees, and dies, */
    rsim_prefer_leader(s, f);
    rsim_isolate(s, l);
    rsim_cut_link(s, f, g);
    run_until_leader(s, f);
    for (int i = 0; i < 3; i++) {
        gone[i] = rsim_produce(s, f, false);
        ck_assert_uint_ne(gone[i], 0);
    }
    rsim_prefer_leader(s, g);
    rsim_crash(s, f, false, 800);
    /* and G, which has no record of F's epoch, leads the one after, */
    run_until_leader(s, g);
    heal_and_converge(s);
    /* F truncated to the end of its own older epoch (not to G's end of
     * it, KIP-279) and every log holds G's records, none of F's. */
    ck_assert_uint_ge(rsim_truncations(s), 1);
    for (int b = 1; b <= 3; b++) {
        for (int i = 0; i < 5; i++) {
            ck_assert(rsim_log_has(s, b, kept[i]));
        }
        for (int i = 0; i < 3; i++) {
            ck_assert(!rsim_log_has(s, b, gone[i]));
        }
    }
    rsim_free(s);
}
END_TEST

START_TEST(test_replicas_stay_safe_under_isr_and_leader_churn)
{
    /* Given short lag and session timeouts and heavy loss, so that the ISR
     * and the leadership change all the time, the same checkers hold. */
    for (int k = 0; k < per_iteration(); k++) {
        uint64_t seed = shard_seed(n_seeds() / 5, _i, k);
        char why[800];
        bool ok = rsim_fault_scenario(seed, true, tracing(), why, sizeof why);

        ck_assert_msg(ok, REPLAY_FMT, why, seed, "STRATA_SIM_CHURN=1 ",
                      self_path());
        if (getenv("STRATA_SIM_VERBOSE") != NULL) {
            fprintf(stderr, "churn %s\n", why);
        }
    }
}
END_TEST

/* ---- the durable-HW rule matters ---- */

/* One run where every broker loses power at once, repeatedly, while
 * producers write acks=all; returns the checker's verdict. */
static bool all_power_loss_run(uint64_t seed, bool durable_hw, char *why,
                               size_t len)
{
    struct rsim_opts o = {.seed = seed,
                          .durable_hw = durable_hw,
                          .min_insync = 2,
                          .flush_ms_max = 80,
                          .trace = tracing()};
    struct rsim_faults f = {
        .delay_ms_max = 3, .down_ms_max = 200, .all_power_loss_every_ms = 700};
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
    if (!churn_only()) {
        tcase_add_loop_test(
            tc, test_replicas_keep_acked_records_under_faults_and_converge, 0,
            iterations(n_seeds()));
    }
    if (churn_only() || st_test_seed_override() < 0) {
        tcase_add_loop_test(tc,
                            test_replicas_stay_safe_under_isr_and_leader_churn,
                            0,
                            churn_only() ? 1 : iterations(n_seeds() / 5));
    }
    suite_add_tcase(s, tc);
    if (st_test_seed_override() < 0 && SIM_SHARD == 0) {
        tc = tcase_create("mechanisms");
        tcase_set_timeout(tc, 0);
        tcase_add_test(tc, test_regression_seeds_keep_passing);
        tcase_add_test(
            tc, test_old_leader_truncates_its_acks1_suffix_and_converges);
        tcase_add_test(tc, test_follower_truncates_to_its_own_epoch_end_kip279);
        tcase_add_test(
            tc, test_page_cache_hw_loses_acked_records_on_total_power_loss);
        tcase_add_test(tc,
                       test_durable_hw_keeps_acked_records_on_total_power_loss);
        suite_add_tcase(s, tc);
    }
    return s;
}
