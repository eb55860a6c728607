/* Replica placement spreads leaders and replicas evenly, across racks, and
 * deterministically; topic names follow Kafka's rules. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "controller/decide.h"
#include "controller/metadata.h"
#include "controller/placement.h"
#include "controller/topic_name.h"
#include "test_util.h"

static struct st_meta *new_cluster(int n, const char *const *racks)
{
    struct st_meta *m;
    struct st_meta_recs r;
    struct st_meta_err err;
    ck_assert_int_eq(st_meta_new(&m), 0);
    st_meta_recs_init(&r);
    for (int id = 1; id <= n; id++) {
        struct st_meta_register req = {.broker_id = id,
                                       .rack = racks ? racks[id - 1] : ""};
        int64_t epoch;
        bool fenced;
        req.incarnation[0] = (uint8_t)id;
        ck_assert_int_eq(
            st_meta_decide_register_broker(m, &req, &r, &epoch, &err), 0);
        ck_assert_int_eq(st_meta_apply(m, st_meta_last_offset(m) + 1,
                                       r.v[0].base, r.v[0].len),
                         0);
        st_meta_recs_close(&r);
        epoch = st_meta_broker_find(m, id)->epoch;
        ck_assert_int_eq(st_meta_decide_heartbeat(m, id, epoch, false, true,
                                                  &r, &fenced, &err),
                         0);
        ck_assert_int_eq(st_meta_apply(m, st_meta_last_offset(m) + 1,
                                       r.v[0].base, r.v[0].len),
                         0);
        st_meta_recs_close(&r);
    }
    return m;
}

static void create(struct st_meta *m, const char *name, int parts, int rf,
                   uint64_t *rng)
{
    struct st_meta_recs r;
    struct st_meta_err err;
    struct st_meta_create_topic req = {.name = name, .partitions = parts,
                                       .replication_factor = rf};
    st_meta_recs_init(&r);
    ck_assert_int_eq(st_meta_decide_create_topic(m, &req, rng, &r, &err), 0);
    ck_assert_int_eq(
        st_meta_apply(m, st_meta_last_offset(m) + 1, r.v[0].base, r.v[0].len),
        0);
    st_meta_recs_close(&r);
}

/* Count leaders and replicas per broker id (1..n). */
static void loads(const struct st_meta *m, int *leaders, int *replicas)
{
    for (size_t i = 0; i < st_meta_topic_count(m); i++) {
        const struct st_meta_topic *t = st_meta_topic_at(m, i);
        for (int32_t p = 0; p < t->n_parts; p++) {
            leaders[t->parts[p].leader]++;
            for (int j = 0; j < t->parts[p].n_replicas; j++) {
                replicas[t->parts[p].replicas[j]]++;
            }
        }
    }
}

static void assert_within_one(const int *v, int n, int even, const char *what)
{
    for (int id = 1; id <= n; id++) {
        ck_assert_msg(v[id] >= even - 1 && v[id] <= even + 1,
                      "broker %d has %d %s, even is %d", id, v[id], what,
                      even);
    }
}

START_TEST(test_placement_balances_100_topics_over_6_brokers_in_3_racks)
{
    /* Given 6 brokers in 3 racks, */
    static const char *const racks[6] = {"a", "a", "b", "b", "c", "c"};
    struct st_meta *m = new_cluster(6, racks);
    uint64_t rng = 2026;
    /* when 100 topics of 6 partitions with RF 3 are created, */
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof name, "topic-%03d", i);
        create(m, name, 6, 3, &rng);
    }
    /* leaders and replicas per broker are within one of even, */
    int leaders[7] = {0}, replicas[7] = {0};
    loads(m, leaders, replicas);
    assert_within_one(leaders, 6, 100, "leaders");
    assert_within_one(replicas, 6, 300, "replicas");
    /* and every partition sits on 3 brokers in 3 racks. */
    for (size_t i = 0; i < st_meta_topic_count(m); i++) {
        const struct st_meta_topic *t = st_meta_topic_at(m, i);
        for (int32_t p = 0; p < t->n_parts; p++) {
            const int32_t *rep = t->parts[p].replicas;
            const char *r0 = st_meta_broker_find(m, rep[0])->rack;
            const char *r1 = st_meta_broker_find(m, rep[1])->rack;
            const char *r2 = st_meta_broker_find(m, rep[2])->rack;
            ck_assert(rep[0] != rep[1] && rep[1] != rep[2] && rep[0] != rep[2]);
            ck_assert(strcmp(r0, r1) && strcmp(r1, r2) && strcmp(r0, r2));
        }
    }
    st_meta_free(m);
}
END_TEST

START_TEST(test_placement_balances_without_racks)
{
    struct st_meta *m = new_cluster(5, NULL);
    uint64_t rng = 1;
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        create(m, name, 7, 2, &rng);
    }
    int leaders[6] = {0}, replicas[6] = {0};
    loads(m, leaders, replicas);
    assert_within_one(leaders, 5, 14, "leaders");
    assert_within_one(replicas, 5, 28, "replicas");
    st_meta_free(m);
}
END_TEST

START_TEST(test_placement_spans_both_racks_when_racks_are_uneven)
{
    /* Given three brokers in rack a and one in rack b, */
    static const char *const racks[4] = {"a", "a", "a", "b"};
    struct st_meta *m = new_cluster(4, racks);
    uint64_t rng = 5;
    create(m, "t", 12, 2, &rng);
    /* each RF-2 partition has one replica in rack b. */
    const struct st_meta_topic *t = st_meta_topic_by_name(m, "t");
    for (int32_t p = 0; p < t->n_parts; p++) {
        ck_assert(t->parts[p].replicas[0] == 4 ||
                  t->parts[p].replicas[1] == 4);
    }
    st_meta_free(m);
}
END_TEST

START_TEST(test_placement_is_deterministic_given_the_seed)
{
    /* Two controllers with the same state and seed place alike. */
    struct st_meta *a = new_cluster(6, NULL), *b = new_cluster(6, NULL);
    uint64_t ra = 99, rb = 99;
    create(a, "t", 8, 3, &ra);
    create(b, "t", 8, 3, &rb);
    const struct st_meta_topic *ta = st_meta_topic_by_name(a, "t");
    const struct st_meta_topic *tb = st_meta_topic_by_name(b, "t");
    ck_assert_mem_eq(ta->id, tb->id, 16);
    for (int32_t p = 0; p < 8; p++) {
        ck_assert_mem_eq(ta->parts[p].replicas, tb->parts[p].replicas,
                         3 * sizeof(int32_t));
    }
    st_meta_free(a);
    st_meta_free(b);
}
END_TEST

START_TEST(test_place_refuses_rf_above_broker_count)
{
    struct st_place_broker b[2] = {{1, "", 0, 0}, {2, "", 0, 0}};
    int32_t out[6];
    char err[200];
    uint64_t rng = 0;
    ck_assert_int_eq(st_place(b, 2, 2, 3, &rng, out, err, sizeof err),
                     ST_EINVAL);
    ck_assert_str_eq(err, "replication factor 3 is larger than the 2 "
                          "available (unfenced) brokers");
    ck_assert_int_eq(st_place(b, 2, 3, 2, &rng, out, err, sizeof err), 0);
    ck_assert_uint_eq(b[0].replicas + b[1].replicas, 6);
}
END_TEST

START_TEST(test_topic_names_follow_kafka_rules)
{
    char err[200], name[260];
    memset(name, 'x', 249);
    name[249] = '\0';
    ck_assert_int_eq(st_topic_name_validate(name, false, err, sizeof err), 0);
    name[249] = 'x';
    name[250] = '\0';
    ck_assert_int_eq(st_topic_name_validate(name, false, err, sizeof err),
                     ST_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "longer than 249"));
    ck_assert_int_eq(
        st_topic_name_validate("Orders.v2_x-1", false, err, sizeof err), 0);
    ck_assert_int_eq(st_topic_name_validate("a:b", false, err, sizeof err),
                     ST_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "illegal character at 1"));
    ck_assert_int_eq(st_topic_name_validate("..", true, err, sizeof err),
                     ST_EINVAL);
    ck_assert_int_eq(st_topic_name_validate("__c", true, err, sizeof err), 0);
    ck_assert(st_topic_name_collides("a.b", "a_b"));
    ck_assert(st_topic_name_collides("a_b", "a.b"));
    ck_assert(!st_topic_name_collides("a.b", "a.b"));
    ck_assert(!st_topic_name_collides("a.b", "a.bc"));
    ck_assert(!st_topic_name_collides("a-b", "a_b"));
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("meta_placement");
    TCase *tc = tcase_create("placement");
    tcase_add_test(tc,
                   test_placement_balances_100_topics_over_6_brokers_in_3_racks);
    tcase_add_test(tc, test_placement_balances_without_racks);
    tcase_add_test(tc, test_placement_spans_both_racks_when_racks_are_uneven);
    tcase_add_test(tc, test_placement_is_deterministic_given_the_seed);
    tcase_add_test(tc, test_place_refuses_rf_above_broker_count);
    tcase_add_test(tc, test_topic_names_follow_kafka_rules);
    suite_add_tcase(s, tc);
    return s;
}
