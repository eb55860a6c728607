/* The deciding side: each request gives the right records or the right
 * typed error, and leader elections keep acknowledged data. */
#include <string.h>

#include "common/err.h"
#include "controller/decide.h"
#include "controller/metadata.h"
#include "errors.pb-c.h"
#include "test_util.h"

static struct {
    struct st_meta *m;
    struct st_meta_recs r;
    struct st_meta_err err;
    uint64_t rng;
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(st_meta_new(&f.m), 0);
    st_meta_recs_init(&f.r);
    f.rng = 11;
}

static void teardown(void)
{
    st_meta_recs_close(&f.r);
    st_meta_free(f.m);
}

/* Apply every record of f.r (each must be accepted), then empty f.r. */
static void commit(void)
{
    for (size_t i = 0; i < f.r.n; i++) {
        ck_assert_int_eq(st_meta_apply(f.m, st_meta_last_offset(f.m) + 1,
                                       f.r.v[i].base, f.r.v[i].len),
                         0);
    }
    st_meta_recs_close(&f.r);
}

static int64_t epoch_of(int32_t id)
{
    return st_meta_broker_find(f.m, id)->epoch;
}

static int register_broker(int32_t id, uint8_t incarnation, bool alive,
                           int64_t *epoch)
{
    struct st_meta_listener l = {"PLAINTEXT", "localhost", 9092};
    struct st_meta_register req = {.broker_id = id, .listeners = &l,
                                   .n_listeners = 1, .rack = "",
                                   .session_alive = alive};
    req.incarnation[0] = incarnation;
    return st_meta_decide_register_broker(f.m, &req, &f.r, epoch, &f.err);
}

static void add_broker(int32_t id)
{
    int64_t epoch;
    bool fenced;
    ck_assert_int_eq(register_broker(id, (uint8_t)(id + 100), false, &epoch),
                     0);
    commit();
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, id, epoch_of(id), false,
                                              true, &f.r, &fenced, &f.err),
                     0);
    ck_assert(!fenced);
    commit();
}

static int create(const char *name, int32_t parts, int32_t rf)
{
    struct st_meta_create_topic req = {.name = name, .partitions = parts,
                                       .replication_factor = rf};
    return st_meta_decide_create_topic(f.m, &req, &f.rng, &f.r, &f.err);
}

/* A topic "t" with one partition on replicas {1,2,3}, leader 1. */
static const struct st_meta_partition *three_replica_topic(void)
{
    static const int32_t reps[3] = {1, 2, 3};
    struct st_meta_assignment a = {reps, 3};
    struct st_meta_create_topic req = {.name = "t", .partitions = -1,
                                       .replication_factor = -1,
                                       .assignments = &a, .n_assignments = 1};
    add_broker(1);
    add_broker(2);
    add_broker(3);
    ck_assert_int_eq(st_meta_decide_create_topic(f.m, &req, &f.rng, &f.r,
                                                 &f.err),
                     0);
    commit();
    return &st_meta_topic_by_name(f.m, "t")->parts[0];
}

static const struct st_meta_partition *part_t(void)
{
    return &st_meta_topic_by_name(f.m, "t")->parts[0];
}

static void fence_by_timeout(int32_t id)
{
    struct st_meta_heartbeat_time hb = {id, 1000};
    ck_assert_int_eq(
        st_meta_decide_session_timeouts(f.m, 20000, 9000, &hb, 1, &f.r), 0);
    commit();
}

/* ---- create / delete topics ---- */

START_TEST(test_create_topic_refuses_bad_names)
{
    add_broker(1);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *bad[] = {"", ".", "..", "a b", "a/b", "ü", longname, "__x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(create(bad[i], 1, 1), ST_EINVAL);
        ck_assert_int_eq(f.err.code, STRATA__ERROR_CODE__INVALID_TOPIC);
        ck_assert_uint_eq(f.r.n, 0);
    }
    ck_assert_ptr_nonnull(strstr(f.err.msg, "reserved for internal"));
    /* An internal topic may use the reserved prefix. */
    struct st_meta_create_topic req = {.name = "__offsets", .partitions = 1,
                                       .replication_factor = 1,
                                       .internal = true};
    ck_assert_int_eq(st_meta_decide_create_topic(f.m, &req, &f.rng, &f.r,
                                                 &f.err),
                     0);
    ck_assert_uint_eq(f.r.n, 1);
}
END_TEST

START_TEST(test_create_topic_refuses_duplicates_and_dot_underscore_clash)
{
    add_broker(1);
    ck_assert_int_eq(create("a.b", 1, 1), 0);
    commit();
    ck_assert_int_eq(create("a.b", 1, 1), ST_EEXIST);
    ck_assert_int_eq(f.err.code, STRATA__ERROR_CODE__TOPIC_ALREADY_EXISTS);
    ck_assert_int_eq(create("a_b", 1, 1), ST_EINVAL);
    ck_assert_int_eq(f.err.code, STRATA__ERROR_CODE__INVALID_TOPIC);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "collides"));
    ck_assert_uint_eq(f.r.n, 0);
}
END_TEST

START_TEST(test_create_topic_refuses_rf_above_unfenced_brokers)
{
    /* Given 3 brokers, one of them fenced, */
    add_broker(1);
    add_broker(2);
    add_broker(3);
    fence_by_timeout(3);
    /* RF 3 is refused with a message naming the count, */
    ck_assert_int_eq(create("t", 1, 3), ST_EINVAL);
    ck_assert_int_eq(f.err.code,
                     STRATA__ERROR_CODE__INVALID_REPLICATION_FACTOR);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "2 available"));
    /* as are RF 0 and 0 partitions, */
    ck_assert_int_eq(create("t", 1, 0), ST_EINVAL);
    ck_assert_int_eq(create("t", 0, 1), ST_EINVAL);
    ck_assert_int_eq(f.err.code, STRATA__ERROR_CODE__INVALID_PARTITIONS);
    /* and RF 2 places replicas on the unfenced brokers only. */
    ck_assert_int_eq(create("t", 4, 2), 0);
    commit();
    const struct st_meta_topic *t = st_meta_topic_by_name(f.m, "t");
    for (int p = 0; p < 4; p++) {
        ck_assert_int_ne(t->parts[p].replicas[0], 3);
        ck_assert_int_ne(t->parts[p].replicas[1], 3);
        ck_assert_int_eq(t->parts[p].leader, t->parts[p].replicas[0]);
        ck_assert_int_eq(t->parts[p].n_isr, 2);
    }
}
END_TEST

START_TEST(test_create_topic_validates_configs)
{
    add_broker(1);
    struct {
        const char *key, *value, *msg;
    } bad[] = {
        {"no.such.key", "1", "unknown config key"},
        {"retention.ms", "abc", "not an integer"},
        {"min.insync.replicas", "0", "outside"},
        {"cleanup.policy", "shred", "not a valid value"},
        {"cleanup.policy", "compact,", "not a valid value"},
        {"unclean.leader.election.enable", "yes", "true or false"},
        {"num.partitions", "3", "cannot be set on a topic"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct st_meta_kv kv = {bad[i].key, bad[i].value};
        struct st_meta_create_topic req = {.name = "t", .partitions = 1,
                                           .replication_factor = 1,
                                           .configs = &kv, .n_configs = 1};
        ck_assert_int_eq(
            st_meta_decide_create_topic(f.m, &req, &f.rng, &f.r, &f.err),
            ST_ECONFIG);
        ck_assert_int_eq(f.err.code, STRATA__ERROR_CODE__INVALID_CONFIG);
        ck_assert_msg(strstr(f.err.msg, bad[i].msg) != NULL, "%s",
                      f.err.msg);
    }
    struct st_meta_kv ok[2] = {{"cleanup.policy", "compact,delete"},
                               {"segment.bytes", "1048576"}};
    struct st_meta_create_topic req = {.name = "t", .partitions = 1,
                                       .replication_factor = 1,
                                       .configs = ok, .n_configs = 2};
    ck_assert_int_eq(
        st_meta_decide_create_topic(f.m, &req, &f.rng, &f.r, &f.err), 0);
    commit();
    ck_assert_str_eq(st_meta_topic_config(f.m, "t", "segment.bytes"),
                     "1048576");
}
END_TEST

START_TEST(test_create_topic_validate_only_and_defaults)
{
    add_broker(1);
    /* Given the cluster default num.partitions = 5, */
    struct st_meta_kv kv = {"num.partitions", "5"};
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_CLUSTER, "",
                                                  &kv, 1, false, &f.r, &f.err),
                     0);
    commit();
    /* validate_only produces no record, */
    struct st_meta_create_topic req = {.name = "t", .partitions = -1,
                                       .replication_factor = -1,
                                       .validate_only = true};
    ck_assert_int_eq(
        st_meta_decide_create_topic(f.m, &req, &f.rng, &f.r, &f.err), 0);
    ck_assert_uint_eq(f.r.n, 0);
    /* and a real create takes 5 partitions of RF 1. */
    req.validate_only = false;
    ck_assert_int_eq(
        st_meta_decide_create_topic(f.m, &req, &f.rng, &f.r, &f.err), 0);
    commit();
    const struct st_meta_topic *t = st_meta_topic_by_name(f.m, "t");
    ck_assert_int_eq(t->n_parts, 5);
    ck_assert_int_eq(t->parts[4].n_replicas, 1);
}
END_TEST

START_TEST(test_create_topic_checks_explicit_assignments)
{
    add_broker(1);
    add_broker(2);
    const int32_t unknown[2] = {1, 9}, dup[2] = {2, 2}, ok[2] = {2, 1};
    struct st_meta_assignment a = {unknown, 2};
    struct st_meta_create_topic req = {.name = "t", .partitions = -1,
                                       .replication_factor = -1,
                                       .assignments = &a, .n_assignments = 1};
    ck_assert_int_eq(
        st_meta_decide_create_topic(f.m, &req, &f.rng, &f.r, &f.err),
        ST_EINVAL);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "not registered"));
    a.replicas = dup;
    ck_assert_int_eq(
        st_meta_decide_create_topic(f.m, &req, &f.rng, &f.r, &f.err),
        ST_EINVAL);
    a.replicas = ok;
    req.replication_factor = 3;
    ck_assert_int_eq(
        st_meta_decide_create_topic(f.m, &req, &f.rng, &f.r, &f.err),
        ST_EINVAL);
    req.replication_factor = 2;
    ck_assert_int_eq(
        st_meta_decide_create_topic(f.m, &req, &f.rng, &f.r, &f.err), 0);
    commit();
    ck_assert_int_eq(part_t()->leader, 2);
}
END_TEST

START_TEST(test_delete_and_grow_topics)
{
    add_broker(1);
    ck_assert_int_eq(st_meta_decide_delete_topic(f.m, "t", &f.r, &f.err),
                     ST_ENOENT);
    ck_assert_int_eq(f.err.code,
                     STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION);
    ck_assert_int_eq(create("t", 2, 1), 0);
    commit();
    /* Growing to 2 is refused; to 4 adds partitions 2 and 3. */
    ck_assert_int_eq(st_meta_decide_create_partitions(f.m, "t", 2, &f.rng,
                                                      &f.r, &f.err),
                     ST_EINVAL);
    ck_assert_int_eq(st_meta_decide_create_partitions(f.m, "t", 4, &f.rng,
                                                      &f.r, &f.err),
                     0);
    ck_assert_uint_eq(f.r.n, 2);
    commit();
    ck_assert_int_eq(st_meta_topic_by_name(f.m, "t")->n_parts, 4);
    ck_assert_int_eq(st_meta_decide_delete_topic(f.m, "t", &f.r, &f.err), 0);
    commit();
    ck_assert_uint_eq(st_meta_topic_count(f.m), 0);
}
END_TEST

/* ---- configs ---- */

START_TEST(test_alter_configs_validates_resource_key_and_value)
{
    add_broker(1);
    ck_assert_int_eq(create("t", 1, 1), 0);
    commit();
    struct st_meta_kv kv = {"retention.ms", "100"};
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_TOPIC, "x",
                                                  &kv, 1, false, &f.r, &f.err),
                     ST_ENOENT);
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_CLUSTER,
                                                  "x", &kv, 1, false, &f.r,
                                                  &f.err),
                     ST_EINVAL);
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_BROKER,
                                                  "b1", &kv, 1, false, &f.r,
                                                  &f.err),
                     ST_EINVAL);
    struct st_meta_kv two[2] = {{"retention.ms", "1"}, {"retention.ms", "2"}};
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_TOPIC, "t",
                                                  two, 2, false, &f.r, &f.err),
                     ST_EINVAL);
    struct st_meta_kv badv[2] = {{"retention.ms", "1"},
                                 {"segment.bytes", "-5"}};
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_TOPIC, "t",
                                                  badv, 2, false, &f.r,
                                                  &f.err),
                     ST_ECONFIG);
    ck_assert_uint_eq(f.r.n, 0); /* all or nothing */
    /* validate_only writes nothing; a real change writes one per key, */
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_TOPIC, "t",
                                                  &kv, 1, true, &f.r, &f.err),
                     0);
    ck_assert_uint_eq(f.r.n, 0);
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_TOPIC, "t",
                                                  &kv, 1, false, &f.r, &f.err),
                     0);
    commit();
    ck_assert_str_eq(st_meta_topic_config(f.m, "t", "retention.ms"), "100");
    /* and a NULL value deletes the override. */
    struct st_meta_kv del = {"retention.ms", NULL};
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_TOPIC, "t",
                                                  &del, 1, false, &f.r,
                                                  &f.err),
                     0);
    commit();
    ck_assert_str_eq(st_meta_topic_config(f.m, "t", "retention.ms"),
                     "604800000");
}
END_TEST

/* ---- brokers ---- */

START_TEST(test_register_retry_stale_and_duplicate_incarnations)
{
    int64_t epoch;
    add_broker(1);
    int64_t first = epoch_of(1);
    /* The same incarnation again is a retry: no record, same epoch. */
    ck_assert_int_eq(register_broker(1, 101, true, &epoch), 0);
    ck_assert_uint_eq(f.r.n, 0);
    ck_assert_int_eq(epoch, first);
    /* Another incarnation while the first is alive is a duplicate id. */
    ck_assert_int_eq(register_broker(1, 7, true, &epoch), ST_EEXIST);
    /* Once the session is gone it registers with a new epoch, */
    ck_assert_int_eq(register_broker(1, 7, false, &epoch), 0);
    ck_assert_int_eq(epoch, -1);
    commit();
    ck_assert_int_gt(epoch_of(1), first);
    ck_assert(st_meta_broker_find(f.m, 1)->fenced);
    /* and the old incarnation coming back is stale. */
    ck_assert_int_eq(register_broker(1, 101, false, &epoch), ST_ESTALE);
    ck_assert_int_eq(f.err.code, STRATA__ERROR_CODE__STALE_BROKER_EPOCH);
}
END_TEST

START_TEST(test_heartbeat_unfences_only_when_caught_up)
{
    int64_t epoch;
    bool fenced;
    ck_assert_int_eq(register_broker(1, 5, false, &epoch), 0);
    commit();
    /* A stale epoch is refused, */
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, 1, 999, false, true, &f.r,
                                              &fenced, &f.err),
                     ST_ESTALE);
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, 2, 1, false, true, &f.r,
                                              &fenced, &f.err),
                     ST_ENOENT);
    /* a broker not caught up stays fenced, */
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, 1, epoch_of(1), false,
                                              false, &f.r, &fenced, &f.err),
                     0);
    ck_assert(fenced);
    ck_assert_uint_eq(f.r.n, 0);
    /* and a caught-up one is unfenced. */
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, 1, epoch_of(1), false,
                                              true, &f.r, &fenced, &f.err),
                     0);
    ck_assert(!fenced);
    commit();
    ck_assert(!st_meta_broker_find(f.m, 1)->fenced);
}
END_TEST

START_TEST(test_session_timeout_moves_leadership_within_isr)
{
    /* Given partition t-0 on {1,2,3} led by 1, */
    const struct st_meta_partition *p = three_replica_topic();
    ck_assert_int_eq(p->leader, 1);
    /* a broker still within its session is not fenced, */
    struct st_meta_heartbeat_time hb = {1, 15000};
    ck_assert_int_eq(
        st_meta_decide_session_timeouts(f.m, 20000, 9000, &hb, 1, &f.r), 0);
    ck_assert_uint_eq(f.r.n, 0);
    /* when broker 1 misses its session, */
    fence_by_timeout(1);
    /* it is fenced, leaves the ISR, and 2 leads at a new leader epoch. */
    p = part_t();
    ck_assert(st_meta_broker_find(f.m, 1)->fenced);
    ck_assert_int_eq(p->leader, 2);
    ck_assert_int_eq(p->leader_epoch, 1);
    ck_assert_int_eq(p->n_isr, 2);
    ck_assert_int_eq(p->isr[0], 2);
    ck_assert_int_eq(p->isr[1], 3);
}
END_TEST

START_TEST(test_last_isr_member_is_kept_and_re_elected)
{
    three_replica_topic();
    /* Given 1, 2 and then 3 fenced, */
    fence_by_timeout(1);
    fence_by_timeout(2);
    fence_by_timeout(3);
    /* the partition has no leader but keeps 3, the last ISR member, */
    const struct st_meta_partition *p = part_t();
    ck_assert_int_eq(p->leader, -1);
    ck_assert_int_eq(p->n_isr, 1);
    ck_assert_int_eq(p->isr[0], 3);
    /* broker 1 coming back cannot lead (unclean election is off), */
    bool fenced;
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, 1, epoch_of(1), false,
                                              true, &f.r, &fenced, &f.err),
                     0);
    commit();
    ck_assert_int_eq(part_t()->leader, -1);
    /* but broker 3 coming back leads again. */
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, 3, epoch_of(3), false,
                                              true, &f.r, &fenced, &f.err),
                     0);
    commit();
    ck_assert_int_eq(part_t()->leader, 3);
}
END_TEST

START_TEST(test_unclean_election_picks_a_live_replica_outside_isr)
{
    three_replica_topic();
    struct st_meta_kv kv = {"unclean.leader.election.enable", "true"};
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_TOPIC, "t",
                                                  &kv, 1, false, &f.r, &f.err),
                     0);
    commit();
    fence_by_timeout(1);
    fence_by_timeout(2);
    fence_by_timeout(3);
    ck_assert_int_eq(part_t()->leader, -1);
    /* With unclean election on, broker 1 (out of the ISR) may lead. */
    bool fenced;
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, 1, epoch_of(1), false,
                                              true, &f.r, &fenced, &f.err),
                     0);
    commit();
    ck_assert_int_eq(part_t()->leader, 1);
    ck_assert_int_eq(part_t()->n_isr, 1);
    ck_assert_int_eq(part_t()->isr[0], 1);
}
END_TEST

START_TEST(test_enabling_unclean_election_elects_at_once)
{
    /* Given t-0 leaderless with its ISR {3} fenced and broker 1 live, */
    three_replica_topic();
    fence_by_timeout(1);
    fence_by_timeout(2);
    fence_by_timeout(3);
    bool fenced;
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, 1, epoch_of(1), false,
                                              true, &f.r, &fenced, &f.err),
                     0);
    commit();
    ck_assert_int_eq(part_t()->leader, -1);
    /* when unclean election is enabled on the topic, */
    struct st_meta_kv kv = {"unclean.leader.election.enable", "true"};
    ck_assert_int_eq(st_meta_decide_alter_configs(f.m, ST_META_RES_TOPIC, "t",
                                                  &kv, 1, false, &f.r, &f.err),
                     0);
    commit();
    /* broker 1 leads in the same decision. */
    ck_assert_int_eq(part_t()->leader, 1);
}
END_TEST

START_TEST(test_controlled_shutdown_and_reregistration_move_leaders)
{
    three_replica_topic();
    bool fenced;
    /* A broker that wants to be fenced hands its leadership over, */
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, 1, epoch_of(1), true, true,
                                              &f.r, &fenced, &f.err),
                     0);
    ck_assert(fenced);
    commit();
    ck_assert_int_eq(part_t()->leader, 2);
    /* and a new incarnation of the leader 2 moves leadership on to 3. */
    int64_t epoch;
    ck_assert_int_eq(register_broker(2, 55, false, &epoch), 0);
    commit();
    ck_assert_int_eq(part_t()->leader, 3);
    /* elect_leaders then has nothing left to do. */
    ck_assert_int_eq(st_meta_decide_elect_leaders(f.m, &f.r), 0);
    ck_assert_uint_eq(f.r.n, 0);
}
END_TEST

START_TEST(test_unregister_needs_a_fenced_broker)
{
    add_broker(1);
    ck_assert_int_eq(
        st_meta_decide_unregister_broker(f.m, 1, epoch_of(1), &f.r, &f.err),
        ST_EINVAL);
    fence_by_timeout(1);
    ck_assert_int_eq(
        st_meta_decide_unregister_broker(f.m, 1, epoch_of(1), &f.r, &f.err),
        0);
    commit();
    ck_assert_uint_eq(st_meta_broker_count(f.m), 0);
}
END_TEST

/* ---- alter partition ---- */

static struct st_meta_alter_partition alter_req(const int32_t *isr, int n)
{
    const struct st_meta_partition *p = part_t();
    struct st_meta_alter_partition req = {
        .broker_id = p->leader, .broker_epoch = epoch_of(p->leader),
        .partition = 0, .leader_epoch = p->leader_epoch,
        .partition_epoch = p->partition_epoch, .new_isr = isr,
        .n_new_isr = n};
    memcpy(req.topic_id, st_meta_topic_by_name(f.m, "t")->id, 16);
    return req;
}

START_TEST(test_alter_partition_shrinks_and_expands_isr)
{
    three_replica_topic();
    int32_t epoch;
    const int32_t shrink[2] = {1, 2}, full[3] = {1, 2, 3};
    struct st_meta_alter_partition req = alter_req(shrink, 2);
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err), 0);
    ck_assert_int_eq(epoch, 1);
    commit();
    ck_assert_int_eq(part_t()->n_isr, 2);
    ck_assert_int_eq(part_t()->partition_epoch, 1);
    req = alter_req(full, 3);
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err), 0);
    commit();
    ck_assert_int_eq(part_t()->n_isr, 3);
    ck_assert_int_eq(epoch, 2);
}
END_TEST

START_TEST(test_alter_partition_refuses_stale_or_wrong_requests)
{
    three_replica_topic();
    int32_t epoch;
    const int32_t shrink[2] = {1, 2}, noleader[2] = {2, 3},
                  outsider[2] = {1, 7}, twice[2] = {1, 1};
    struct st_meta_alter_partition req = alter_req(shrink, 2);
    req.partition_epoch = 5;
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err),
        ST_ESTALE);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "stale partition epoch"));
    req = alter_req(shrink, 2);
    req.leader_epoch = -1;
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err),
        ST_EFENCED);
    ck_assert_int_eq(f.err.code, STRATA__ERROR_CODE__FENCED_LEADER_EPOCH);
    req = alter_req(shrink, 2);
    req.broker_epoch = 12345;
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err),
        ST_ESTALE);
    ck_assert_int_eq(f.err.code, STRATA__ERROR_CODE__STALE_BROKER_EPOCH);
    req = alter_req(shrink, 2);
    req.broker_id = 2;
    req.broker_epoch = epoch_of(2);
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err),
        ST_ENOTLEADER);
    req = alter_req(noleader, 2);
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err),
        ST_EINVAL);
    req = alter_req(outsider, 2);
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err),
        ST_EINVAL);
    req = alter_req(twice, 2);
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err),
        ST_EINVAL);
    req = alter_req(shrink, 0);
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err),
        ST_EINVAL);
    req = alter_req(shrink, 2);
    req.partition = 3;
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err),
        ST_ENOENT);
    ck_assert_uint_eq(f.r.n, 0);
}
END_TEST

START_TEST(test_fenced_or_stale_broker_cannot_join_isr)
{
    three_replica_topic();
    fence_by_timeout(3);            /* ISR {1,2} */
    int32_t epoch;
    const int32_t full[3] = {1, 2, 3};
    struct st_meta_alter_partition req = alter_req(full, 3);
    /* A fenced broker cannot join, */
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err),
        ST_EFENCED);
    ck_assert_int_eq(f.err.code, STRATA__ERROR_CODE__BROKER_FENCED);
    /* nor, once unfenced, at an old broker epoch. */
    bool fenced;
    ck_assert_int_eq(st_meta_decide_heartbeat(f.m, 3, epoch_of(3), false,
                                              true, &f.r, &fenced, &f.err),
                     0);
    commit();
    const int64_t epochs[3] = {epoch_of(1), epoch_of(2), epoch_of(3) - 1};
    req = alter_req(full, 3);
    req.new_isr_epochs = epochs;
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err),
        ST_ESTALE);
    const int64_t good[3] = {epoch_of(1), epoch_of(2), epoch_of(3)};
    req.new_isr_epochs = good;
    ck_assert_int_eq(
        st_meta_decide_alter_partition(f.m, &req, &f.r, &epoch, &f.err), 0);
    commit();
    ck_assert_int_eq(part_t()->n_isr, 3);
}
END_TEST

/* ---- producer ids ---- */

START_TEST(test_producer_id_blocks_are_disjoint)
{
    add_broker(1);
    add_broker(2);
    int64_t a, b;
    ck_assert_int_eq(st_meta_decide_alloc_producer_ids(
                         f.m, 1, epoch_of(1), 1000, &f.r, &a, &f.err),
                     0);
    commit();
    ck_assert_int_eq(st_meta_decide_alloc_producer_ids(
                         f.m, 2, epoch_of(2), 1000, &f.r, &b, &f.err),
                     0);
    commit();
    ck_assert_int_eq(a, 0);
    ck_assert_int_eq(b, 1000);
    ck_assert_int_eq(st_meta_next_producer_id(f.m), 2000);
    ck_assert_int_eq(st_meta_decide_alloc_producer_ids(f.m, 1, 999, 1000, &f.r,
                                                       &a, &f.err),
                     ST_ESTALE);
    fence_by_timeout(2);
    ck_assert_int_eq(st_meta_decide_alloc_producer_ids(
                         f.m, 2, epoch_of(2), 1000, &f.r, &a, &f.err),
                     ST_EFENCED);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("meta_decide");
    TCase *tc = tcase_create("decide");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_create_topic_refuses_bad_names);
    tcase_add_test(tc,
                   test_create_topic_refuses_duplicates_and_dot_underscore_clash);
    tcase_add_test(tc, test_create_topic_refuses_rf_above_unfenced_brokers);
    tcase_add_test(tc, test_create_topic_validates_configs);
    tcase_add_test(tc, test_create_topic_validate_only_and_defaults);
    tcase_add_test(tc, test_create_topic_checks_explicit_assignments);
    tcase_add_test(tc, test_delete_and_grow_topics);
    tcase_add_test(tc, test_alter_configs_validates_resource_key_and_value);
    tcase_add_test(tc, test_register_retry_stale_and_duplicate_incarnations);
    tcase_add_test(tc, test_heartbeat_unfences_only_when_caught_up);
    tcase_add_test(tc, test_session_timeout_moves_leadership_within_isr);
    tcase_add_test(tc, test_last_isr_member_is_kept_and_re_elected);
    tcase_add_test(tc, test_unclean_election_picks_a_live_replica_outside_isr);
    tcase_add_test(tc, test_enabling_unclean_election_elects_at_once);
    tcase_add_test(tc,
                   test_controlled_shutdown_and_reregistration_move_leaders);
    tcase_add_test(tc, test_unregister_needs_a_fenced_broker);
    tcase_add_test(tc, test_alter_partition_shrinks_and_expands_isr);
    tcase_add_test(tc, test_alter_partition_refuses_stale_or_wrong_requests);
    tcase_add_test(tc, test_fenced_or_stale_broker_cannot_join_isr);
    tcase_add_test(tc, test_producer_id_blocks_are_disjoint);
    suite_add_tcase(s, tc);
    return s;
}
