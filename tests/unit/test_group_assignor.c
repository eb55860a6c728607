/* The assignors: uniform (balanced and sticky, randomized with seeds) and
 * range (Kafka's RangeAssignor layout on fixed examples). */
#include <stdio.h>
#include <string.h>

#include "test_group_util.h"

#define MEMBERS_MAX 64
#define TOPICS_MAX 8

/* An assignor input built by hand; current = the previous output. */
struct scene {
    struct st_assign_topic topics[TOPICS_MAX];
    unsigned n_topics;
    struct st_assign_member members[MEMBERS_MAX];
    char ids[MEMBERS_MAX][16];
    uint32_t subs[MEMBERS_MAX][TOPICS_MAX];
    uint64_t *cur[MEMBERS_MAX];
    unsigned n_members;
};

static void scene_add_member(struct scene *s, const char *id, unsigned n_sub)
{
    unsigned m = s->n_members++;
    snprintf(s->ids[m], sizeof s->ids[m], "%s", id);
    s->members[m] = (struct st_assign_member){.member_id = s->ids[m]};
    for (unsigned t = 0; t < n_sub; t++) {
        s->subs[m][t] = t;
    }
    s->members[m].topics = s->subs[m];
    s->members[m].n_topics = n_sub;
    s->cur[m] = NULL;
}

static void scene_remove_member(struct scene *s, unsigned m)
{
    free(s->cur[m]);
    for (unsigned i = m; i + 1 < s->n_members; i++) {
        memcpy(s->ids[i], s->ids[i + 1], sizeof s->ids[i]);
        memcpy(s->subs[i], s->subs[i + 1], sizeof s->subs[i]);
        s->members[i] = s->members[i + 1];
        s->cur[i] = s->cur[i + 1];
        s->members[i].member_id = s->ids[i];
        s->members[i].topics = s->subs[i];
    }
    s->n_members--;
}

static void scene_free(struct scene *s)
{
    for (unsigned m = 0; m < s->n_members; m++) {
        free(s->cur[m]);
    }
}

/* Run @a and make the result every member's current assignment. */
static void run(struct scene *s, const struct st_group_assignor *a,
                struct st_assign_output *out)
{
    struct st_assign_input in = {s->topics, s->n_topics, s->members,
                                 s->n_members};
    ck_assert_int_eq(st_group_assign(a, &in, out), 0);
    ck_assert_uint_eq(out->n_members, s->n_members);
    /* Every partition of a subscribed topic has exactly one owner. */
    for (unsigned t = 0; t < s->n_topics; t++) {
        for (int32_t p = 0; p < s->topics[t].partitions; p++) {
            unsigned owners = 0;
            for (unsigned m = 0; m < s->n_members; m++) {
                for (unsigned k = 0; k < out->n_parts[m]; k++) {
                    owners += out->parts[m][k] == st_assign_key(t, p);
                }
            }
            ck_assert_uint_eq(owners, 1);
        }
    }
}

static void adopt(struct scene *s, const struct st_assign_output *out)
{
    for (unsigned m = 0; m < s->n_members; m++) {
        free(s->cur[m]);
        s->cur[m] = malloc((out->n_parts[m] + 1) * sizeof(uint64_t));
        memcpy(s->cur[m], out->parts[m], out->n_parts[m] * sizeof(uint64_t));
        s->members[m].current = s->cur[m];
        s->members[m].n_current = out->n_parts[m];
    }
}

static bool had(const struct scene *s, unsigned m, uint64_t key)
{
    for (unsigned k = 0; k < s->members[m].n_current; k++) {
        if (s->members[m].current[k] == key) {
            return true;
        }
    }
    return false;
}

static void assert_balanced(const struct st_assign_output *out)
{
    unsigned lo = ~0u, hi = 0;
    for (unsigned m = 0; m < out->n_members; m++) {
        lo = out->n_parts[m] < lo ? out->n_parts[m] : lo;
        hi = out->n_parts[m] > hi ? out->n_parts[m] : hi;
    }
    ck_assert_msg(hi - lo <= 1, "counts %u..%u", lo, hi);
}

START_TEST(test_uniform_is_balanced_and_moves_only_to_a_joiner)
{
    /* For each seed: a random group on random topics, then a member joins:
     * counts stay within 1 and every moved partition went to the joiner. */
    uint64_t rng = (uint64_t)_i * 7919 + 1;
    struct scene s;
    memset(&s, 0, sizeof s);
    s.n_topics = 1 + st_test_rand(&rng) % 4;
    for (unsigned t = 0; t < s.n_topics; t++) {
        s.topics[t].name = "t";
        s.topics[t].partitions = (int32_t)(st_test_rand(&rng) % 40);
    }
    unsigned n = 1 + st_test_rand(&rng) % 20;
    char id[16];
    for (unsigned m = 0; m < n; m++) {
        snprintf(id, sizeof id, "m%03u", m * 2);
        scene_add_member(&s, id, s.n_topics);
    }
    struct st_assign_output out;
    run(&s, &st_group_assignor_uniform, &out);
    assert_balanced(&out);
    adopt(&s, &out);
    st_assign_output_free(&out);
    /* Then several members join one after another (sorting anywhere among
     * the ids); each time only the joiner receives. */
    unsigned joins = 1 + (unsigned)(st_test_rand(&rng) % 6);
    for (unsigned r = 0; r < joins && s.n_members < MEMBERS_MAX; r++) {
        snprintf(id, sizeof id, "m%03u",
                 (unsigned)(st_test_rand(&rng) % 500) * 2 + 1);
        bool dup = false;
        for (unsigned m = 0; m < s.n_members; m++) {
            dup |= strcmp(s.ids[m], id) == 0;
        }
        if (dup) {
            continue;
        }
        scene_add_member(&s, id, s.n_topics);
        unsigned j = s.n_members - 1;
        run(&s, &st_group_assignor_uniform, &out);
        assert_balanced(&out);
        unsigned moved = 0;
        for (unsigned m = 0; m < j; m++) {
            for (unsigned k = 0; k < s.members[m].n_current; k++) {
                bool kept = false;
                for (unsigned q = 0; q < out.n_parts[m]; q++) {
                    kept |= out.parts[m][q] == s.members[m].current[k];
                }
                moved += !kept;
            }
            for (unsigned q = 0; q < out.n_parts[m]; q++) {
                ck_assert_msg(had(&s, m, out.parts[m][q]),
                              "seed %d: member %u gained a partition", _i, m);
            }
        }
        ck_assert_uint_eq(moved, out.n_parts[j]);
        adopt(&s, &out);
        st_assign_output_free(&out);
    }
    scene_free(&s);
}
END_TEST

START_TEST(test_uniform_moves_only_a_leavers_partitions)
{
    uint64_t rng = (uint64_t)_i * 104729 + 3;
    struct scene s;
    memset(&s, 0, sizeof s);
    s.n_topics = 1 + st_test_rand(&rng) % 3;
    for (unsigned t = 0; t < s.n_topics; t++) {
        s.topics[t].name = "t";
        s.topics[t].partitions = (int32_t)(1 + st_test_rand(&rng) % 50);
    }
    unsigned n = 2 + st_test_rand(&rng) % 20;
    char id[16];
    for (unsigned m = 0; m < n; m++) {
        snprintf(id, sizeof id, "m%03u", m);
        scene_add_member(&s, id, s.n_topics);
    }
    struct st_assign_output out;
    run(&s, &st_group_assignor_uniform, &out);
    adopt(&s, &out);
    st_assign_output_free(&out);
    /* When one member leaves, everyone else keeps all they had. */
    scene_remove_member(&s, (unsigned)(st_test_rand(&rng) % n));
    run(&s, &st_group_assignor_uniform, &out);
    assert_balanced(&out);
    for (unsigned m = 0; m < s.n_members; m++) {
        for (unsigned k = 0; k < s.members[m].n_current; k++) {
            bool kept = false;
            for (unsigned q = 0; q < out.n_parts[m]; q++) {
                kept |= out.parts[m][q] == s.members[m].current[k];
            }
            ck_assert_msg(kept, "seed %d: member %u lost a partition", _i, m);
        }
    }
    st_assign_output_free(&out);
    scene_free(&s);
}
END_TEST

START_TEST(test_uniform_is_stable_when_nothing_changes)
{
    struct scene s;
    memset(&s, 0, sizeof s);
    s.n_topics = 2;
    s.topics[0] = (struct st_assign_topic){"a", 7};
    s.topics[1] = (struct st_assign_topic){"b", 5};
    scene_add_member(&s, "x", 2);
    scene_add_member(&s, "y", 2);
    scene_add_member(&s, "z", 2);
    struct st_assign_output out;
    run(&s, &st_group_assignor_uniform, &out);
    adopt(&s, &out);
    st_assign_output_free(&out);
    run(&s, &st_group_assignor_uniform, &out);
    for (unsigned m = 0; m < 3; m++) {
        ck_assert_uint_eq(out.n_parts[m], s.members[m].n_current);
        ck_assert_mem_eq(out.parts[m], s.members[m].current,
                         out.n_parts[m] * sizeof(uint64_t));
    }
    st_assign_output_free(&out);
    scene_free(&s);
}
END_TEST

START_TEST(test_uniform_gives_a_topic_only_to_its_subscribers)
{
    struct scene s;
    memset(&s, 0, sizeof s);
    s.n_topics = 2;
    s.topics[0] = (struct st_assign_topic){"a", 4};
    s.topics[1] = (struct st_assign_topic){"b", 4};
    scene_add_member(&s, "x", 1); /* a only */
    scene_add_member(&s, "y", 2); /* a and b */
    struct st_assign_output out;
    run(&s, &st_group_assignor_uniform, &out);
    for (unsigned k = 0; k < out.n_parts[0]; k++) {
        ck_assert_uint_eq(st_assign_key_topic(out.parts[0][k]), 0);
    }
    /* y holds all of b, so x takes all of a: 4 and 4. */
    ck_assert_uint_eq(out.n_parts[0], 4);
    ck_assert_uint_eq(out.n_parts[1], 4);
    st_assign_output_free(&out);
    scene_free(&s);
}
END_TEST

/* "C0: t0p0, t0p1, t1p0, t1p1" style expectation, one member per line. */
static void expect_range(struct scene *s, const char *const *want)
{
    struct st_assign_output out;
    run(s, &st_group_assignor_range, &out);
    for (unsigned m = 0; m < s->n_members; m++) {
        char got[256] = "";
        for (unsigned k = 0; k < out.n_parts[m]; k++) {
            char one[32];
            snprintf(one, sizeof one, "%st%up%d", k ? " " : "",
                     st_assign_key_topic(out.parts[m][k]),
                     st_assign_key_partition(out.parts[m][k]));
            strncat(got, one, sizeof got - strlen(got) - 1);
        }
        ck_assert_str_eq(got, want[m]);
    }
    st_assign_output_free(&out);
}

START_TEST(test_range_matches_kafka_two_members_two_topics_of_three)
{
    /* Kafka's RangeAssignor javadoc: C0, C1; t0, t1 with 3 partitions each
     * gives C0: t0p0 t0p1 t1p0 t1p1, C1: t0p2 t1p2. */
    struct scene s;
    memset(&s, 0, sizeof s);
    s.n_topics = 2;
    s.topics[0] = (struct st_assign_topic){"t0", 3};
    s.topics[1] = (struct st_assign_topic){"t1", 3};
    scene_add_member(&s, "C0", 2);
    scene_add_member(&s, "C1", 2);
    const char *want[] = {"t0p0 t0p1 t1p0 t1p1", "t0p2 t1p2"};
    expect_range(&s, want);
    scene_free(&s);
}
END_TEST

START_TEST(test_range_matches_kafka_three_members_uneven_topics)
{
    /* t0 has 5 partitions (2,2,1), t1 has 2 (1,1,0). */
    struct scene s;
    memset(&s, 0, sizeof s);
    s.n_topics = 2;
    s.topics[0] = (struct st_assign_topic){"t0", 5};
    s.topics[1] = (struct st_assign_topic){"t1", 2};
    scene_add_member(&s, "a", 2);
    scene_add_member(&s, "b", 2);
    scene_add_member(&s, "c", 2);
    const char *want[] = {"t0p0 t0p1 t1p0", "t0p2 t0p3 t1p1", "t0p4"};
    expect_range(&s, want);
    scene_free(&s);
}
END_TEST

START_TEST(test_range_assigns_each_topic_among_its_subscribers_only)
{
    /* c subscribes to t0 only: t1's 4 partitions split between a and b;
     * t0's 3 partitions over a, b, c. */
    struct scene s;
    memset(&s, 0, sizeof s);
    s.n_topics = 2;
    s.topics[0] = (struct st_assign_topic){"t0", 3};
    s.topics[1] = (struct st_assign_topic){"t1", 4};
    scene_add_member(&s, "a", 2);
    scene_add_member(&s, "b", 2);
    scene_add_member(&s, "c", 1);
    const char *want[] = {"t0p0 t1p0 t1p1", "t0p1 t1p2 t1p3", "t0p2"};
    expect_range(&s, want);
    scene_free(&s);
}
END_TEST

START_TEST(test_range_orders_static_members_by_instance_id)
{
    struct scene s;
    memset(&s, 0, sizeof s);
    s.n_topics = 1;
    s.topics[0] = (struct st_assign_topic){"t0", 4};
    scene_add_member(&s, "aaa", 1);
    scene_add_member(&s, "bbb", 1);
    s.members[0].instance_id = "zz";
    s.members[1].instance_id = "yy";
    const char *want[] = {"t0p2 t0p3", "t0p0 t0p1"};
    expect_range(&s, want);
    scene_free(&s);
}
END_TEST

START_TEST(test_group_uses_range_when_members_ask_for_it)
{
    struct st_group_config cfg = {.group_id = "g", .seed = 1};
    struct st_group *g;
    ck_assert_int_eq(st_group_new(&cfg, &g), 0);
    tg_metadata(g, NULL, 1, "t", 3);
    struct st_group_event ev = {.type = ST_GROUP_EV_HEARTBEAT, .now_ms = 2};
    const char *topics[] = {"t"};
    ev.heartbeat.has_subscription = true;
    ev.heartbeat.topics = topics;
    ev.heartbeat.n_topics = 1;
    ev.heartbeat.assignor = "range";
    struct st_group_update up;
    tg_step(g, NULL, &ev, &up);
    struct st_group_desc *d;
    ck_assert_int_eq(st_group_describe(g, &d), 0);
    ck_assert_str_eq(d->assignor, "range");
    st_group_desc_free(d);
    ev.heartbeat.assignor = "nope";
    tg_step(g, NULL, &ev, &up);
    ck_assert_int_eq(up.hb.error, ST_GROUP_UNSUPPORTED_ASSIGNOR);
    st_group_free(g);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("group_assignor");
    TCase *tc = tcase_create("assignor");
    tcase_add_loop_test(tc, test_uniform_is_balanced_and_moves_only_to_a_joiner,
                        0, 500);
    tcase_add_loop_test(tc, test_uniform_moves_only_a_leavers_partitions, 0,
                        500);
    tcase_add_test(tc, test_uniform_is_stable_when_nothing_changes);
    tcase_add_test(tc, test_uniform_gives_a_topic_only_to_its_subscribers);
    tcase_add_test(tc, test_range_matches_kafka_two_members_two_topics_of_three);
    tcase_add_test(tc, test_range_matches_kafka_three_members_uneven_topics);
    tcase_add_test(tc, test_range_assigns_each_topic_among_its_subscribers_only);
    tcase_add_test(tc, test_range_orders_static_members_by_instance_id);
    tcase_add_test(tc, test_group_uses_range_when_members_ask_for_it);
    suite_add_tcase(s, tc);
    return s;
}
