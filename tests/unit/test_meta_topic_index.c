/* The metadata state's derived indexes: the colliding-name lookup that
 * replaced a scan of every topic per creation (st_meta_topic_colliding) and
 * the per-broker load that placement reads (st_meta_broker.n_replicas and
 * n_leading) stay right through creates, deletes and snapshot loads. */
#include <stdio.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "controller/decide.h"
#include "controller/metadata.h"
#include "controller/topic_name.h"
#include "test_util.h"

static void apply_all(struct st_meta *m, struct st_meta_recs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ck_assert_int_eq(st_meta_apply(m, st_meta_last_offset(m) + 1,
                                       r->v[i].base, r->v[i].len),
                         0);
    }
    st_meta_recs_close(r);
}

/* Register broker @id with incarnation @inc and unfence it. */
static void join(struct st_meta *m, int32_t id, uint8_t inc)
{
    struct st_meta_recs r;
    struct st_meta_err err;
    struct st_meta_register req = {.broker_id = id, .rack = ""};
    int64_t epoch;
    bool fenced;
    st_meta_recs_init(&r);
    req.incarnation[0] = inc;
    ck_assert_int_eq(st_meta_decide_register_broker(m, &req, &r, &epoch, &err),
                     0);
    apply_all(m, &r);
    epoch = st_meta_broker_find(m, id)->epoch;
    ck_assert_int_eq(st_meta_decide_heartbeat(m, id, epoch, false, true, &r,
                                              &fenced, &err),
                     0);
    apply_all(m, &r);
}

static struct st_meta *new_cluster(int n)
{
    struct st_meta *m;
    ck_assert_int_eq(st_meta_new(&m), 0);
    for (int id = 1; id <= n; id++) {
        join(m, id, (uint8_t)id);
    }
    return m;
}

/* Create @name (2 partitions, rf 2); returns the decision's result. */
static int create(struct st_meta *m, const char *name, uint64_t *rng)
{
    struct st_meta_recs r;
    struct st_meta_err err;
    struct st_meta_create_topic req = {.name = name, .partitions = 2,
                                       .replication_factor = 2};
    st_meta_recs_init(&r);
    int rv = st_meta_decide_create_topic(m, &req, rng, &r, &err);
    if (rv == 0) {
        apply_all(m, &r);
    }
    st_meta_recs_close(&r);
    return rv;
}

static void delete(struct st_meta *m, const char *name)
{
    struct st_meta_recs r;
    struct st_meta_err err;
    st_meta_recs_init(&r);
    ck_assert_int_eq(st_meta_decide_delete_topic(m, name, &r, &err), 0);
    apply_all(m, &r);
}

static struct st_meta *reload(const struct st_meta *m)
{
    struct st_meta *c;
    ck_assert_int_eq(st_meta_clone(m, &c), 0);
    return c;
}

/* The brute-force answer st_meta_topic_colliding() replaced. */
static const char *scan_colliding(const struct st_meta *m, const char *name)
{
    for (size_t i = 0; i < st_meta_topic_count(m); i++) {
        const char *other = st_meta_topic_at(m, i)->name;
        if (st_topic_name_collides(name, other)) {
            return other;
        }
    }
    return NULL;
}

static const char *colliding(const struct st_meta *m, const char *name)
{
    const struct st_meta_topic *t = st_meta_topic_colliding(m, name);
    return t != NULL ? t->name : NULL;
}

START_TEST(test_colliding_name_is_found_and_forgotten_on_delete)
{
    /* Given topics a.b, a-b, ab and x_y.z, */
    struct st_meta *m = new_cluster(3);
    uint64_t rng = 1;
    const char *names[] = {"a.b", "a-b", "ab", "x_y.z"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(create(m, names[i], &rng), 0);
    }
    /* a name differing only by '.' versus '_' collides, others do not, */
    ck_assert_str_eq(colliding(m, "a_b"), "a.b");
    ck_assert_str_eq(colliding(m, "x.y_z"), "x_y.z");
    ck_assert_ptr_null(colliding(m, "a.b"));
    ck_assert_ptr_null(colliding(m, "a-b"));
    ck_assert_ptr_null(colliding(m, "a.c"));
    ck_assert_int_eq(create(m, "a_b", &rng), ST_EINVAL);
    /* the same holds in a state loaded from a snapshot, */
    struct st_meta *c = reload(m);
    ck_assert_str_eq(colliding(c, "a_b"), "a.b");
    st_meta_free(c);
    /* and once a.b is deleted, a_b is free. */
    delete(m, "a.b");
    ck_assert_ptr_null(colliding(m, "a_b"));
    ck_assert_int_eq(create(m, "a_b", &rng), 0);
    ck_assert_str_eq(colliding(m, "a.b"), "a_b");
    st_meta_free(m);
}
END_TEST

START_TEST(test_colliding_lookup_agrees_with_a_scan_of_every_topic)
{
    /* Given random short names over {a, b, ., _, -} created and deleted at
     * random, the index answers as a scan of every topic would, before and
     * after a snapshot load. */
    struct st_meta *m = new_cluster(3);
    uint64_t rng = 7;
    static const char alpha[] = "ab._-";
    for (int step = 0; step < 600; step++) {
        char name[8];
        size_t len = 1 + st_meta_rand(&rng) % 4;
        for (size_t k = 0; k < len; k++) {
            name[k] = alpha[st_meta_rand(&rng) % 5];
        }
        name[len] = '\0';
        char why[128];
        if (st_topic_name_validate(name, false, why, sizeof why) != 0) {
            continue;
        }
        const char *want = scan_colliding(m, name);
        const char *got = colliding(m, name);
        ck_assert_msg((want == NULL) == (got == NULL), "%s: %s vs %s", name,
                      want ? want : "-", got ? got : "-");
        if (st_meta_topic_by_name(m, name) != NULL) {
            if (st_meta_rand(&rng) % 2) {
                delete(m, name);
            }
        } else {
            ck_assert_int_eq(create(m, name, &rng),
                             want == NULL ? 0 : ST_EINVAL);
        }
    }
    ck_assert_uint_gt(st_meta_topic_count(m), 10);
    struct st_meta *c = reload(m);
    for (size_t i = 0; i < st_meta_topic_count(m); i++) {
        const char *name = st_meta_topic_at(m, i)->name;
        ck_assert_ptr_null(colliding(c, name));
    }
    st_meta_free(c);
    st_meta_free(m);
}
END_TEST

/* Placement's input, recounted the slow way. */
static void assert_load_matches_scan(const struct st_meta *m)
{
    for (size_t i = 0; i < st_meta_broker_count(m); i++) {
        const struct st_meta_broker *b = st_meta_broker_at(m, i);
        uint32_t reps = 0, leads = 0;
        for (size_t k = 0; k < st_meta_topic_count(m); k++) {
            const struct st_meta_topic *t = st_meta_topic_at(m, k);
            for (int32_t p = 0; p < t->n_parts; p++) {
                leads += t->parts[p].leader == b->id;
                for (int r = 0; r < t->parts[p].n_replicas; r++) {
                    reps += t->parts[p].replicas[r] == b->id;
                }
            }
        }
        ck_assert_uint_eq(b->n_replicas, reps);
        ck_assert_uint_eq(b->n_leading, leads);
    }
}

START_TEST(test_broker_load_follows_creates_deletes_and_late_registration)
{
    /* Given 3 brokers and 30 topics of 2 partitions and 2 replicas, */
    struct st_meta *m = new_cluster(3);
    uint64_t rng = 3;
    for (int i = 0; i < 30; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        ck_assert_int_eq(create(m, name, &rng), 0);
    }
    /* the kept load is the recount: 120 replicas, 60 leaders in all; */
    assert_load_matches_scan(m);
    uint32_t reps = 0, leads = 0;
    for (size_t i = 0; i < st_meta_broker_count(m); i++) {
        reps += st_meta_broker_at(m, i)->n_replicas;
        leads += st_meta_broker_at(m, i)->n_leading;
    }
    ck_assert_uint_eq(reps, 120);
    ck_assert_uint_eq(leads, 60);
    /* deleting topics, a 4th broker that then gets replicas, and broker 2
     * restarting with a new incarnation keep it so, */
    for (int i = 0; i < 30; i += 3) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        delete(m, name);
    }
    join(m, 4, 4);
    for (int i = 30; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        ck_assert_int_eq(create(m, name, &rng), 0);
    }
    ck_assert_uint_gt(st_meta_broker_find(m, 4)->n_replicas, 0);
    join(m, 2, 42);
    ck_assert_uint_gt(st_meta_broker_find(m, 2)->n_replicas, 0);
    assert_load_matches_scan(m);
    /* and a state loaded from a snapshot has the same counts. */
    struct st_meta *c = reload(m);
    assert_load_matches_scan(c);
    for (size_t i = 0; i < st_meta_broker_count(m); i++) {
        ck_assert_uint_eq(st_meta_broker_at(c, i)->n_replicas,
                          st_meta_broker_at(m, i)->n_replicas);
        ck_assert_uint_eq(st_meta_broker_at(c, i)->n_leading,
                          st_meta_broker_at(m, i)->n_leading);
    }
    st_meta_free(c);
    st_meta_free(m);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("meta_topic_index");
    TCase *tc = tcase_create("index");
    tcase_add_test(tc, test_colliding_name_is_found_and_forgotten_on_delete);
    tcase_add_test(tc,
                   test_colliding_lookup_agrees_with_a_scan_of_every_topic);
    tcase_add_test(
        tc, test_broker_load_follows_creates_deletes_and_late_registration);
    suite_add_tcase(s, tc);
    return s;
}
