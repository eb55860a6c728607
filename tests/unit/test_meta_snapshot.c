/* Snapshots restore the whole state, are byte-deterministic, and replicas
 * that replay the same records end identical. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/bytes.h"
#include "common/err.h"
#include "controller/decide.h"
#include "controller/metadata.h"
#include "test_util.h"

/* Every record applied to the leader's state, kept for replays. */
static struct {
    struct st_meta *m;
    struct st_buf log[4096];
    size_t n_log;
    uint64_t rng;
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(st_meta_new(&f.m), 0);
    f.rng = 7;
}

static void teardown(void)
{
    st_meta_free(f.m);
    for (size_t i = 0; i < f.n_log; i++) {
        st_buf_close(&f.log[i]);
    }
}

/* Apply @r to f.m (each must be accepted) and keep a copy in f.log. */
static void commit(struct st_meta_recs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ck_assert_uint_lt(f.n_log, 4096);
        struct st_buf *b = &f.log[f.n_log++];
        st_buf_init(b);
        ck_assert_int_eq(st_buf_append(b, r->v[i].base, r->v[i].len), 0);
        ck_assert_int_eq(st_meta_apply(f.m, (int64_t)f.n_log, b->base, b->len),
                         0);
    }
    st_meta_recs_close(r);
}

static void add_broker(int32_t id, const char *rack)
{
    struct st_meta_recs r;
    struct st_meta_err err;
    struct st_meta_listener l = {"PLAINTEXT", "127.0.0.1", (uint16_t)(9000 + id)};
    struct st_meta_register req = {.broker_id = id, .listeners = &l,
                                   .n_listeners = 1, .rack = rack};
    int64_t epoch;
    bool fenced;
    req.incarnation[0] = (uint8_t)id;
    req.incarnation[15] = 0x77;
    st_meta_recs_init(&r);
    ck_assert_int_eq(st_meta_decide_register_broker(f.m, &req, &r, &epoch, &err),
                     0);
    commit(&r);
    epoch = st_meta_broker_find(f.m, id)->epoch;
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, id, epoch, false, true, &r,
                                              &fenced, &err),
                     0);
    commit(&r);
    ck_assert(!st_meta_broker_find(f.m, id)->fenced);
}

static void add_topic(const char *name, int parts, int rf)
{
    struct st_meta_recs r;
    struct st_meta_err err;
    struct st_meta_kv kv = {"cleanup.policy", "compact"};
    struct st_meta_create_topic req = {.name = name, .partitions = parts,
                                       .replication_factor = rf,
                                       .configs = &kv, .n_configs = 1};
    st_meta_recs_init(&r);
    ck_assert_int_eq(st_meta_decide_create_topic(f.m, &req, &f.rng, &r, &err),
                     0);
    commit(&r);
}

/* A state with every kind of object: racks, a fenced broker whose
 * partitions moved, configs at three levels, producer ids. */
static void build_state(void)
{
    struct st_meta_recs r;
    struct st_meta_err err;
    bool fenced;
    int64_t start;
    add_broker(1, "a");
    add_broker(2, "b");
    add_broker(3, "c");
    add_broker(4, "a");
    add_topic("orders", 6, 3);
    add_topic("payments", 3, 2);
    st_meta_recs_init(&r);
    struct st_meta_kv cluster = {"retention.ms", "3600000"};
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_CLUSTER, "",
                                                  &cluster, 1, false, &r, &err),
                     0);
    struct st_meta_kv broker = {"num.partitions", "4"};
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_BROKER, "2",
                                                  &broker, 1, false, &r, &err),
                     0);
    commit(&r);
    ck_assert_int_eq(st_meta_decide_alloc_producer_ids(
                         f.m, 1, st_meta_broker_find(f.m, 1)->epoch, 1000, &r,
                         &start, &err),
                     0);
    commit(&r);
    ck_assert_int_eq(st_meta_decide_heartbeat(
                         f.m, 2, st_meta_broker_find(f.m, 2)->epoch, true,
                         true, &r, &fenced, &err),
                     0);
    commit(&r);
}

static void snapshot(struct st_meta *m, struct st_buf *out)
{
    st_buf_init(out);
    ck_assert_int_eq(st_meta_snapshot_write(m, out), 0);
}

START_TEST(test_snapshot_round_trip_restores_the_state)
{
    /* Given a state with brokers, topics, configs and producer ids, */
    build_state();
    struct st_buf a, b;
    snapshot(f.m, &a);
    /* when its snapshot is loaded into a fresh instance, */
    struct st_meta *copy;
    ck_assert_int_eq(st_meta_new(&copy), 0);
    ck_assert_int_eq(st_meta_snapshot_load(copy, a.base, a.len), 0);
    /* the copy answers the same queries, */
    ck_assert_int_eq(st_meta_last_offset(copy), st_meta_last_offset(f.m));
    ck_assert_uint_eq(st_meta_broker_count(copy), 4);
    ck_assert(st_meta_broker_find(copy, 2)->fenced);
    ck_assert_str_eq(st_meta_broker_find(copy, 4)->rack, "a");
    ck_assert_int_eq(st_meta_next_producer_id(copy), 1000);
    const struct st_meta_topic *t = st_meta_topic_by_name(copy, "orders");
    ck_assert_ptr_eq(t, st_meta_topic_by_id(copy, t->id));
    ck_assert_int_eq(t->n_parts, 6);
    ck_assert_str_eq(st_meta_topic_config(copy, "orders", "cleanup.policy"),
                     "compact");
    ck_assert_str_eq(st_meta_topic_config(copy, "orders", "retention.ms"),
                     "3600000");
    ck_assert_str_eq(
        st_meta_config_get(copy, ST_META_RES_BROKER, "2", "num.partitions"),
        "4");
    for (int32_t p = 0; p < t->n_parts; p++) {
        const struct st_meta_topic *o = st_meta_topic_by_name(f.m, "orders");
        ck_assert_int_eq(t->parts[p].leader, o->parts[p].leader);
        ck_assert_int_eq(t->parts[p].partition_epoch,
                         o->parts[p].partition_epoch);
    }
    /* and its own snapshot is byte for byte the same. */
    snapshot(copy, &b);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_mem_eq(a.base, b.base, a.len);
    st_meta_free(copy);
    st_buf_close(&a);
    st_buf_close(&b);
}
END_TEST

START_TEST(test_two_replicas_replaying_the_log_write_equal_snapshots)
{
    /* Given the record stream that built a state, */
    build_state();
    /* when two fresh replicas apply it, one of them starting from a
     * snapshot taken half way, */
    struct st_meta *r1, *r2;
    struct st_buf mid, s1, s2, s0;
    ck_assert_int_eq(st_meta_new(&r1), 0);
    ck_assert_int_eq(st_meta_new(&r2), 0);
    size_t half = f.n_log / 2;
    for (size_t i = 0; i < f.n_log; i++) {
        ck_assert_int_eq(
            st_meta_apply(r1, (int64_t)i + 1, f.log[i].base, f.log[i].len), 0);
        if (i + 1 == half) {
            snapshot(r1, &mid);
            ck_assert_int_eq(st_meta_snapshot_load(r2, mid.base, mid.len), 0);
        } else if (i + 1 > half) {
            ck_assert_int_eq(
                st_meta_apply(r2, (int64_t)i + 1, f.log[i].base, f.log[i].len),
                0);
        }
    }
    /* all three states write identical snapshots. */
    snapshot(r1, &s1);
    snapshot(r2, &s2);
    snapshot(f.m, &s0);
    ck_assert_uint_eq(s1.len, s0.len);
    ck_assert_uint_eq(s2.len, s0.len);
    ck_assert_mem_eq(s1.base, s0.base, s0.len);
    ck_assert_mem_eq(s2.base, s0.base, s0.len);
    st_meta_free(r1);
    st_meta_free(r2);
    st_buf_close(&mid);
    st_buf_close(&s0);
    st_buf_close(&s1);
    st_buf_close(&s2);
}
END_TEST

START_TEST(test_bad_snapshots_are_refused_and_change_nothing)
{
    /* Given a state and its snapshot, */
    build_state();
    struct st_buf good, after;
    snapshot(f.m, &good);
    struct st_meta *m;
    ck_assert_int_eq(st_meta_new(&m), 0);
    ck_assert_int_eq(st_meta_snapshot_load(m, good.base, good.len), 0);
    /* every truncation and many single-byte flips are refused or load a
     * consistent state; refused ones leave the state as it was. */
    for (size_t cut = 0; cut < good.len; cut += 7) {
        int rv = st_meta_snapshot_load(m, good.base, cut);
        ck_assert(rv == 0 || rv == ST_ECORRUPT || rv == ST_EUNSUPPORTED);
        if (rv != 0) {
            snapshot(m, &after);
            ck_assert_uint_eq(after.len, good.len);
            st_buf_close(&after);
        }
        ck_assert_int_eq(st_meta_snapshot_load(m, good.base, good.len), 0);
    }
    uint64_t seed = 3;
    for (int i = 0; i < 500; i++) {
        size_t pos = st_test_rand(&seed) % good.len;
        uint8_t old = good.base[pos];
        good.base[pos] ^= (uint8_t)(1 + st_test_rand(&seed) % 255);
        int rv = st_meta_snapshot_load(m, good.base, good.len);
        ck_assert(rv == 0 || rv == ST_ECORRUPT || rv == ST_EUNSUPPORTED);
        good.base[pos] = old;
    }
    st_meta_free(m);
    st_buf_close(&good);
}
END_TEST

START_TEST(test_snapshot_load_survives_allocation_failures)
{
    build_state();
    struct st_buf good, after;
    snapshot(f.m, &good);
    struct st_meta *m;
    ck_assert_int_eq(st_meta_new(&m), 0);
    /* When load fails at each allocation, the empty state stays empty. */
    for (long n = 0; n < 2000; n++) {
        st_alloc_fail_after(n, 1);
        int rv = st_meta_snapshot_load(m, good.base, good.len);
        st_alloc_fail_after(0, 0);
        if (rv == 0) {
            break;
        }
        ck_assert_int_eq(rv, ST_ENOMEM);
        ck_assert_uint_eq(st_meta_topic_count(m), 0);
        ck_assert_int_eq(st_meta_last_offset(m), -1);
    }
    snapshot(m, &after);
    ck_assert_mem_eq(after.base, good.base, good.len);
    st_meta_free(m);
    st_buf_close(&good);
    st_buf_close(&after);
}
END_TEST

START_TEST(test_clone_is_an_independent_equal_copy)
{
    /* Given a state and its clone, */
    build_state();
    struct st_meta *c;
    ck_assert_int_eq(st_meta_clone(f.m, &c), 0);
    struct st_buf a, b;
    /* both write the same snapshot, */
    snapshot(f.m, &a);
    snapshot(c, &b);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_mem_eq(a.base, b.base, a.len);
    /* and a topic created in the clone is not in the original. */
    struct st_meta *orig = f.m;
    f.m = c;
    add_topic("only-in-clone", 1, 1);
    f.m = orig;
    ck_assert_ptr_nonnull(st_meta_topic_by_name(c, "only-in-clone"));
    ck_assert_ptr_null(st_meta_topic_by_name(f.m, "only-in-clone"));
    st_meta_free(c);
    st_buf_close(&a);
    st_buf_close(&b);
}
END_TEST

START_TEST(test_snapshot_is_due_every_max_records)
{
    struct st_buf s;
    /* Given 3 records applied, a snapshot is due at 3 but not at 4, */
    add_broker(1, "");   /* register + unfence: 2 records */
    add_topic("t", 1, 1);
    ck_assert(st_meta_snapshot_due(f.m, 3));
    ck_assert(!st_meta_snapshot_due(f.m, 4));
    ck_assert(!st_meta_snapshot_due(f.m, 0));
    /* and writing one restarts the count. */
    snapshot(f.m, &s);
    ck_assert_int_eq(st_meta_records_since_snapshot(f.m), 0);
    ck_assert(!st_meta_snapshot_due(f.m, 3));
    st_buf_close(&s);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("meta_snapshot");
    TCase *tc = tcase_create("snapshot");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_snapshot_round_trip_restores_the_state);
    tcase_add_test(tc, test_two_replicas_replaying_the_log_write_equal_snapshots);
    tcase_add_test(tc, test_bad_snapshots_are_refused_and_change_nothing);
    tcase_add_test(tc, test_snapshot_load_survives_allocation_failures);
    tcase_add_test(tc, test_clone_is_an_independent_equal_copy);
    tcase_add_test(tc, test_snapshot_is_due_every_max_records);
    suite_add_tcase(s, tc);
    return s;
}
