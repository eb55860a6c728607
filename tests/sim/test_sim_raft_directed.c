/* Directed Raft simulations: histories the random scenario rarely builds,
 * staged step by step with the real core (tests/sim/sim.h).
 *
 * Figure 8 of the Raft paper (§5.4.2). Five voters S1..S5:
 *   (a) S1 leads term T1 and replicates entry 2 to S2 only;
 *   (b) S1 crashes; S5 wins term T2 with the votes of S3 and S4 and
 *       writes a different entry 2 (its no-op) that reaches nobody;
 *   (c) S5 crashes, S1 restarts and wins T3; it replicates its entry 2
 *       (of T1) to S3, so a majority holds it, while its own T3 no-op
 *       reaches nobody;
 *   (d) S1 crashes, S5 restarts and wins T4 (S2, S3 and S4 find its log,
 *       ending in T2, more up to date), and overwrites entry 2 everywhere.
 * Entry 2 of T1 was on a majority in (c) but must not count as committed:
 * only an entry of the leader's own term commits by counting replicas. The
 * test stages the history with a message filter (who may campaign, and up
 * to which index each follower may receive entries) and planned crashes;
 * everything else is the seeded simulator. With the test-only switch
 * unsafe_commit_previous_terms, S1 commits entry 2 in (c) and the
 * simulator's "committed entry changed" checker fires in (d).
 *
 * Wiped voter: one voter loses all its storage and restarts empty (term 0,
 * no vote); it must catch up, by InstallSnapshot when the log was
 * compacted, and the checkers must hold when the wipe happens while the
 * other voters hold every committed entry (see raft.h, "KNOWN HAZARD", and
 * sim_wipe() for the one tolerance). A wipe in the middle of faults can
 * lose a commit the wiped voter counted for; a test shows the checkers
 * catching that.
 *
 * Golden trace (STYLE.md §5): one fixed seed's short fault run, traced
 * line by line (core trace lines and simulator events), must equal the
 * checked-in tests/sim/golden/raft_seed3.trace. Any change in what the core
 * does on that seed shows up as a reviewable diff.
 *
 *   STRATA_SIM_TRACE=1       print the core's trace lines
 *   STRATA_GOLDEN_UPDATE=1   rewrite the golden trace from this build (after
 *                            a deliberate behaviour change; review the diff)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"
#include "test_util.h"

#define NO_LIMIT UINT64_MAX
#define FIG8_SEEDS 20

static bool tracing(void)
{
    const char *t = getenv("STRATA_SIM_TRACE");
    return t != NULL && t[0] == '1';
}

/* The stage directions: only @candidate may ask for (pre-)votes (0: any
 * node), and node k receives entries up to index limit[k] at most. */
struct stage {
    raft_id candidate;
    raft_index limit[RAFT_VOTERS_MAX + 1];
};

static bool stage_filter(void *arg, struct raft_msg *m)
{
    struct stage *st = arg;
    if (m->type == RAFT_MSG_VOTE) {
        return st->candidate == 0 || m->from == st->candidate;
    }
    if (m->type == RAFT_MSG_APPEND && m->append.n_entries > 0) {
        raft_index limit = st->limit[m->to];
        raft_index last = m->append.prev_index + m->append.n_entries;
        if (last > limit) {
            m->append.n_entries = limit > m->append.prev_index
                                      ? (unsigned)(limit -
                                                   m->append.prev_index)
                                      : 0;
        }
    }
    return true;
}

static void stage_limits(struct stage *st, raft_index l1, raft_index l2,
                         raft_index l3, raft_index l4, raft_index l5)
{
    st->limit[1] = l1;
    st->limit[2] = l2;
    st->limit[3] = l3;
    st->limit[4] = l4;
    st->limit[5] = l5;
}

static raft_term term_at(const struct sim *s, raft_id id, raft_index i)
{
    const struct raft_entry *e = raft_entry_at(sim_node(s, id), i);
    return e == NULL ? 0 : e->term;
}

/* The history's terms, for the assertions of a later step. */
struct fig8 {
    struct sim *s;
    struct stage st;
    uint64_t seed;
    raft_term t1, t2, t3;
};

static void fig8_new(struct fig8 *f, uint64_t seed, bool unsafe)
{
    memset(f, 0, sizeof *f);
    f->seed = seed;
    /* One entry per AppendEntries, so that the filter decides entry by
     * entry; no application snapshots, so the log holds every entry. */
    struct sim_opts o = {.n_voters = 5, .seed = seed,
                         .append_entries_max = 1,
                         .unsafe_commit_previous_terms = unsafe,
                         .use_store = true, .trace = tracing()};
    ck_assert_int_eq(sim_new(&o, &f->s), 0);
    sim_set_filter(f->s, stage_filter, &f->st);
}

/* (a) S1 leads T1; its entry 2 reaches S2 only. */
static void fig8_a(struct fig8 *f)
{
    struct sim *s = f->s;
    f->st.candidate = 1;
    stage_limits(&f->st, NO_LIMIT, NO_LIMIT, NO_LIMIT, NO_LIMIT, NO_LIMIT);
    ck_assert(sim_run_for(s, 2000, 0));
    ck_assert_uint_eq(sim_leader(s), 1);
    f->t1 = raft_current_term(sim_node(s, 1));
    /* Everyone holds the T1 no-op at index 1 and it is committed. */
    ck_assert_uint_eq(sim_committed_len(s), 1);
    stage_limits(&f->st, NO_LIMIT, NO_LIMIT, 1, 1, 1);
    ck_assert_uint_ne(sim_propose(s), 0);
    ck_assert(sim_run_for(s, 500, 0));
    for (raft_id id = 1; id <= 5; id++) {
        raft_index want = id <= 2 ? 2 : 1;
        ck_assert_msg(raft_last_index(sim_node(s, id)) == want,
                      "seed=%" PRIu64 " (a) S%u last=%" PRIu64, f->seed, id,
                      raft_last_index(sim_node(s, id)));
        ck_assert_uint_eq(term_at(s, id, want), f->t1);
    }
    ck_assert_uint_eq(sim_committed_len(s), 1);
}

/* (b) S1 crashes; S5 wins T2 with S3 and S4 and keeps its entry 2. */
static void fig8_b(struct fig8 *f)
{
    struct sim *s = f->s;
    sim_crash(s, 1);
    f->st.candidate = 5;
    stage_limits(&f->st, 1, 1, 1, 1, 1);
    ck_assert(sim_run_for(s, 3000, 0));
    ck_assert_msg(sim_leader(s) == 5, "seed=%" PRIu64 " (b) leader=%u",
                  f->seed, sim_leader(s));
    f->t2 = raft_current_term(sim_node(s, 5));
    ck_assert_uint_gt(f->t2, f->t1);
    ck_assert_uint_eq(raft_last_index(sim_node(s, 5)), 2);
    ck_assert_uint_eq(term_at(s, 5, 2), f->t2);
    ck_assert_uint_eq(term_at(s, 2, 2), f->t1);
    ck_assert_uint_eq(raft_last_index(sim_node(s, 3)), 1);
    ck_assert_uint_eq(raft_last_index(sim_node(s, 4)), 1);
}

/* (c) S5 crashes; S1 restarts, wins T3 and gets its entry 2 of T1 onto
 * S3 (a majority: S1, S2, S3) while its T3 no-op reaches nobody. */
static void fig8_c(struct fig8 *f, raft_index s2_s3_limit)
{
    struct sim *s = f->s;
    sim_crash(s, 5);
    sim_restart(s, 1);
    f->st.candidate = 1;
    stage_limits(&f->st, NO_LIMIT, s2_s3_limit, s2_s3_limit, 1, 1);
    ck_assert(sim_run_for(s, 3000, 0));
    ck_assert_msg(sim_leader(s) == 1, "seed=%" PRIu64 " (c) leader=%u",
                  f->seed, sim_leader(s));
    f->t3 = raft_current_term(sim_node(s, 1));
    ck_assert_uint_gt(f->t3, f->t2);
    ck_assert_uint_eq(term_at(s, 1, 2), f->t1);
    ck_assert_uint_eq(term_at(s, 1, 3), f->t3); /* its leader no-op */
    ck_assert_uint_eq(term_at(s, 3, 2), f->t1);
    ck_assert_uint_eq(raft_last_index(sim_node(s, 4)), 1);
}

/* (d) S1 crashes; S5 restarts and campaigns. */
static void fig8_d(struct fig8 *f)
{
    struct sim *s = f->s;
    sim_crash(s, 1);
    sim_restart(s, 5);
    f->st.candidate = 5;
    stage_limits(&f->st, NO_LIMIT, NO_LIMIT, NO_LIMIT, NO_LIMIT, NO_LIMIT);
    sim_run_for(s, 3000, 0);
}

/* Runs the Figure 8 history; returns true if no checker fired, else @why
 * gets the failure. @committed_c gets the committed length after (c). */
static bool fig8_run(uint64_t seed, bool unsafe, raft_index *committed_c,
                     char *why, size_t cap)
{
    struct fig8 f;
    fig8_new(&f, seed, unsafe);
    fig8_a(&f);
    fig8_b(&f);
    fig8_c(&f, 2);
    *committed_c = sim_committed_len(f.s);
    fig8_d(&f);
    bool ok = sim_failure(f.s) == NULL;
    snprintf(why, cap, "%s", ok ? "" : sim_failure(f.s));
    if (ok) {
        /* S5 won T4 and its entry 2 (of T2) is the one committed. */
        ck_assert_msg(sim_leader(f.s) == 5, "seed=%" PRIu64 " (d) leader=%u",
                      seed, sim_leader(f.s));
        ck_assert_uint_gt(raft_current_term(sim_node(f.s, 5)), f.t3);
        ck_assert_uint_ge(sim_committed_len(f.s), 3);
        ck_assert_uint_eq(sim_committed_term(f.s, 2), f.t2);
        /* and once S1 is back, everyone converges and commits again. */
        sim_set_filter(f.s, NULL, NULL);
        sim_heal(f.s);
        ck_assert_msg(sim_live_within(f.s, 5000), "seed=%" PRIu64 ": %s",
                      seed, sim_failure(f.s) ? sim_failure(f.s) : "no commit");
        ck_assert(sim_run_for(f.s, 1000, 0));
        ck_assert_uint_eq(term_at(f.s, 1, 2), f.t2);
    }
    sim_free(f.s);
    return ok;
}

START_TEST(test_figure8_entry_of_older_term_on_majority_is_not_committed)
{
    /* Given the Figure 8 history (a)-(c) with the §5.4.2 commit rule, S1
     * does not commit its T1 entry that a majority holds, so when S5 wins
     * and overwrites it in (d), no committed entry is lost. */
    for (uint64_t seed = 0; seed < FIG8_SEEDS; seed++) {
        char why[700];
        raft_index committed_c;
        ck_assert_msg(fig8_run(seed, false, &committed_c, why, sizeof why),
                      "seed=%" PRIu64 ": %s", seed, why);
        /* (Checked after the checkers, so that a core without the rule
         * fails on the lost entry itself.) */
        ck_assert_uint_eq(committed_c, 1);
    }
}
END_TEST

START_TEST(test_figure8_checker_fires_when_older_terms_commit_by_count)
{
    /* Given the same history with unsafe_commit_previous_terms, S1 commits
     * entry 2 of T1 in (c), and when S5 overwrites it in (d) the checker
     * reports a committed entry changed (S5 applies another entry 2) or
     * overwritten (a follower that applied it is asked to replace it), in
     * every seed. */
    for (uint64_t seed = 0; seed < FIG8_SEEDS; seed++) {
        char why[700];
        raft_index committed_c;
        ck_assert_msg(!fig8_run(seed, true, &committed_c, why, sizeof why),
                      "seed=%" PRIu64 ": no checker fired", seed);
        /* Entry 2 of T1 sat on S1, S2 and S3: the unsafe rule counted it. */
        ck_assert_uint_eq(committed_c, 2);
        ck_assert_msg(strstr(why, "committed entry changed") != NULL ||
                          strstr(why, "overwrite a committed entry") != NULL,
                      "seed=%" PRIu64 ": %s", seed, why);
    }
}
END_TEST

START_TEST(test_figure8_entry_of_current_term_on_majority_protects_older)
{
    /* Given (a)-(b) and then (c) where S1's T3 no-op also reaches S2 and
     * S3, S1 commits entries 2 and 3; */
    for (uint64_t seed = 0; seed < FIG8_SEEDS; seed++) {
        struct fig8 f;
        fig8_new(&f, seed, false);
        fig8_a(&f);
        fig8_b(&f);
        fig8_c(&f, NO_LIMIT);
        ck_assert_uint_eq(sim_committed_len(f.s), 3);
        /* when S1 crashes and S5 campaigns, S5 cannot win (S2 and S3 hold
         * a log ending in T3), */
        fig8_d(&f);
        ck_assert_msg(sim_failure(f.s) == NULL, "%s", sim_failure(f.s));
        ck_assert_msg(sim_leader(f.s) != 5, "seed=%" PRIu64, seed);
        /* and once anyone may campaign, entry 2 of T1 stays committed. */
        sim_set_filter(f.s, NULL, NULL);
        sim_heal(f.s);
        ck_assert_msg(sim_live_within(f.s, 5000), "seed=%" PRIu64 ": %s",
                      seed, sim_failure(f.s) ? sim_failure(f.s) : "no commit");
        ck_assert_uint_eq(sim_committed_term(f.s, 2), f.t1);
        sim_free(f.s);
    }
}
END_TEST

/* ---- a voter re-formatted with an empty data directory ---- */

/* A group of @n under light load (no partitions, no crashes) where node
 * @victim (0: the leader) is wiped, then restarts empty. With @quiesce the
 * wipe waits until every other voter holds every committed entry (the
 * precondition raft.h gives operators); without it, the wipe lands in the
 * middle of loss, delays and partitions. Returns false with @why if a
 * checker fired or the node did not catch up. */
static bool wipe_run(unsigned n, uint64_t seed, raft_id victim, bool quiesce,
                     uint64_t snapshot_every, uint64_t *installs,
                     uint64_t *double_votes, char *why, size_t cap)
{
    struct sim_opts o = {.n_voters = n, .seed = seed,
                         .snapshot_every = snapshot_every,
                         .use_store = true, .trace = tracing()};
    struct sim *s;
    ck_assert_int_eq(sim_new(&o, &s), 0);
    sim_set_faults(s, &(struct sim_faults){.drop_pct = 2, .dup_pct = 1,
                                           .delay_ms_min = 1,
                                           .delay_ms_max = 15,
                                           .disk_ms_max = 5});
    bool ok = sim_run_for(s, 1500 + seed % 500, 5);
    if (quiesce) {
        /* The survivors must hold every committed entry (raft.h). */
        ok = ok && sim_run_for(s, 500, 0);
    } else {
        sim_set_faults(s, &(struct sim_faults){.drop_pct = 10, .dup_pct = 1,
                                               .delay_ms_min = 1,
                                               .delay_ms_max = 60,
                                               .disk_ms_max = 20,
                                               .partition_every_ms = 300});
    }
    raft_id id = victim != 0 ? victim : sim_leader(s);
    if (ok && id != 0) {
        sim_wipe(s, id);
        ok = sim_run_for(s, 300 + seed % 400, 5);
        sim_restart(s, id);
        ok = ok && sim_run_for(s, 3000, 5);
    }
    if (ok) {
        sim_heal(s);
        ok = sim_live_within(s, 5000) && sim_run_for(s, 1000, 0);
    }
    const struct raft *r = id != 0 ? sim_node(s, id) : NULL;
    if (!ok) {
        snprintf(why, cap, "%s", sim_failure(s) ? sim_failure(s)
                                                : "no commit after healing");
    } else if (id == 0 || r == NULL ||
               sim_applied(s, id) != sim_committed_len(s) ||
               raft_commit_index(r) != sim_committed_len(s)) {
        ok = false;
        snprintf(why, cap, "wiped node %u did not catch up: applied %" PRIu64
                 " of %" PRIu64, id, sim_applied(s, id),
                 sim_committed_len(s));
    }
    *installs = id != 0 ? sim_snapshots_installed(s, id) : 0;
    *double_votes = sim_double_votes(s);
    sim_free(s);
    return ok;
}

START_TEST(test_wiped_follower_catches_up_by_snapshot)
{
    /* Given a 3- or 5-voter group with a compacted log, when a follower
     * loses all its storage and restarts with term 0, no vote and no log,
     * it catches up through InstallSnapshot and applies the whole
     * committed sequence; no checker fires. */
    for (uint64_t seed = 0; seed < 40; seed++) {
        unsigned n = seed % 2 ? 5 : 3;
        uint64_t installs, dv;
        char why[700];
        bool ok = wipe_run(n, seed, (raft_id)(seed % n) + 1, true, 20,
                           &installs, &dv, why, sizeof why);
        ck_assert_msg(ok, "seed=%" PRIu64 ": %s", seed, why);
        /* The victim may have been the leader; a follower at the wipe
         * catches up by snapshot (the log was compacted long before). */
        ck_assert_msg(installs > 0, "seed=%" PRIu64 ": no snapshot", seed);
    }
}
END_TEST

START_TEST(test_wiped_leader_rejoins_and_catches_up_from_the_log)
{
    /* Given a group without snapshots, when the leader is wiped and
     * restarts empty, a new leader takes over, re-probes it from index 1
     * (its log ends before what it acknowledged) and it catches up from the
     * log; no checker fires. */
    for (uint64_t seed = 0; seed < 40; seed++) {
        unsigned n = seed % 2 ? 5 : 3;
        uint64_t installs, dv;
        char why[700];
        bool ok =
            wipe_run(n, seed, 0, true, 0, &installs, &dv, why, sizeof why);
        ck_assert_msg(ok, "seed=%" PRIu64 ": %s", seed, why);
        ck_assert_uint_eq(installs, 0);
    }
}
END_TEST

/* ---- golden trace ---- */

#define GOLDEN_SEED 3
#define GOLDEN_FILE "tests/sim/golden/raft_seed3.trace"

static void sink_line(void *arg, const char *line)
{
    fprintf(arg, "%s\n", line);
}

/* Seed GOLDEN_SEED's run as text: 3 voters, 2 s of loss, duplicates,
 * delays, partitions, crashes, transfers and snapshots, then healing until
 * a new proposal commits. Ownership: the caller free()s *out. */
static void golden_run(char **out, size_t *len)
{
    FILE *mem = open_memstream(out, len);
    ck_assert_ptr_nonnull(mem);
    struct sim_opts o = {.n_voters = 3, .seed = GOLDEN_SEED,
                         .snapshot_every = 20, .use_store = true,
                         .trace_sink = sink_line, .trace_sink_arg = mem};
    struct sim *s;
    ck_assert_int_eq(sim_new(&o, &s), 0);
    sim_set_faults(s, &(struct sim_faults){.drop_pct = 5, .dup_pct = 2,
                                           .delay_ms_min = 1,
                                           .delay_ms_max = 30,
                                           .disk_ms_max = 8,
                                           .partition_every_ms = 500,
                                           .crash_every_ms = 700,
                                           .down_ms_max = 300,
                                           .transfer_every_ms = 800});
    ck_assert_msg(sim_run_for(s, 2000, 20), "%s", sim_failure(s));
    sim_heal(s);
    ck_assert_msg(sim_live_within(s, 3000), "%s",
                  sim_failure(s) ? sim_failure(s) : "no commit");
    fprintf(mem, "end t=%" PRIu64 " committed=%" PRIu64 " leader=%" PRIu32
            "\n", sim_now(s), sim_committed_len(s), sim_leader(s));
    sim_free(s);
    ck_assert_int_eq(fclose(mem), 0);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        size_t n = fread(buf + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0) {
            break;
        }
    }
    fclose(f);
    return buf;
}

/* 1-based number of the first line where @a and @b differ. */
static size_t first_diff_line(const char *a, size_t alen, const char *b,
                              size_t blen, size_t *at)
{
    size_t line = 1, i = 0;
    while (i < alen && i < blen && a[i] == b[i]) {
        line += a[i] == '\n';
        i++;
    }
    while (i > 0 && a[i - 1] != '\n') {
        i--;
    }
    *at = i;
    return line;
}

/* Length of the line at @p (@n bytes left), without its newline. */
static int line_len(const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n);
    return (int)(nl != NULL ? (size_t)(nl - p) : n);
}

START_TEST(test_golden_trace_of_one_seed_matches_the_checked_in_file)
{
    /* Given seed 3's short fault run traced line by line, */
    char *got;
    size_t got_len;
    golden_run(&got, &got_len);
    /* when the core and the simulator behave as when the file was made,
     * the trace is byte for byte the checked-in one. */
    const char *path = STRATA_SOURCE_ROOT "/" GOLDEN_FILE;
    const char *update = getenv("STRATA_GOLDEN_UPDATE");
    if (update != NULL && update[0] == '1') {
        FILE *f = fopen(path, "wb");
        ck_assert_msg(f != NULL, "cannot write %s", path);
        ck_assert_uint_eq(fwrite(got, 1, got_len, f), got_len);
        ck_assert_int_eq(fclose(f), 0);
        fprintf(stderr, "golden trace rewritten: %s (%zu bytes)\n", path,
                got_len);
    }
    size_t want_len;
    char *want = read_all(path, &want_len);
    ck_assert_msg(want != NULL, "missing %s; make it with "
                  "STRATA_GOLDEN_UPDATE=1", path);
    if (want_len != got_len || memcmp(want, got, got_len) != 0) {
        size_t at;
        size_t line = first_diff_line(want, want_len, got, got_len, &at);
        const char *actual = "raft_seed3.trace.actual";
        FILE *f = fopen(actual, "wb");
        if (f != NULL) {
            fwrite(got, 1, got_len, f);
            fclose(f);
        }
        char cwd[512];
        if (getcwd(cwd, sizeof cwd) == NULL) {
            cwd[0] = '\0';
        }
        ck_abort_msg("golden trace differs from line %zu:\n  want: %.*s\n"
                     "  got:  %.*s\ndiff -u %s %s/%s\nif the change is "
                     "meant, rewrite it: STRATA_GOLDEN_UPDATE=1 and review "
                     "the diff", line, line_len(want + at, want_len - at),
                     want + at, line_len(got + at, got_len - at), got + at,
                     path, cwd, actual);
    }
    free(want);
    free(got);
}
END_TEST

START_TEST(test_wiping_a_voter_that_counted_for_a_commit_can_lose_it)
{
    /* Given wipes that land under loss, delays and partitions (so the
     * wiped voter may hold committed entries another survivor lacks), the
     * checkers report a lost committed entry in some seeds: the hazard
     * raft.h documents is real, and the simulator sees it. (1,000 seeds
     * lost one in 11, none through a double vote.) */
    unsigned lost = 0;
    for (uint64_t seed = 0; seed < 400; seed++) {
        unsigned n = seed % 2 ? 5 : 3;
        uint64_t installs, dv;
        char why[700];
        if (!wipe_run(n, seed, (raft_id)(seed % (n + 1)), false, 20,
                      &installs, &dv, why, sizeof why)) {
            ck_assert_msg(strstr(why, "committed entry") != NULL,
                          "seed=%" PRIu64 ": %s", seed, why);
            if (lost++ == 0) {
                fprintf(stderr, "wiped voter lost a commit: %s\n", why);
            }
        }
    }
    ck_assert_uint_gt(lost, 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("sim_raft_directed");
    TCase *tc = tcase_create("figure8");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc,
                   test_figure8_entry_of_older_term_on_majority_is_not_committed);
    tcase_add_test(tc,
                   test_figure8_checker_fires_when_older_terms_commit_by_count);
    tcase_add_test(
        tc, test_figure8_entry_of_current_term_on_majority_protects_older);
    suite_add_tcase(s, tc);
    tc = tcase_create("wiped_voter");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, test_wiped_follower_catches_up_by_snapshot);
    tcase_add_test(tc, test_wiped_leader_rejoins_and_catches_up_from_the_log);
    tcase_add_test(tc,
                   test_wiping_a_voter_that_counted_for_a_commit_can_lose_it);
    suite_add_tcase(s, tc);
    tc = tcase_create("golden");
    tcase_add_test(tc,
                   test_golden_trace_of_one_seed_matches_the_checked_in_file);
    suite_add_tcase(s, tc);
    return s;
}
