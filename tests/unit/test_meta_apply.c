/* The metadata state machine applies each record kind, refuses impossible
 * ones without changing state, and never crashes on garbage. */
#include <string.h>

#include "common/alloc.h"
#include "common/bytes.h"
#include "common/err.h"
#include "controller/metadata.h"
#include "metadata.pb-c.h"
#include "test_util.h"

static struct {
    struct st_meta *m;
    int64_t offset;
    struct st_buf buf;
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(st_meta_new(&f.m), 0);
    st_buf_init(&f.buf);
    ck_assert_int_eq(st_buf_reserve(&f.buf, 4096), 0);
}

static void teardown(void)
{
    st_meta_free(f.m);
    st_buf_close(&f.buf);
}

/* Encode @r into f.buf and apply it at the next offset. */
static int apply(Strata__Meta__MetadataRecord *r)
{
    st_buf_reset(&f.buf);
    size_t n = strata__meta__metadata_record__get_packed_size(r);
    ck_assert_int_eq(st_buf_reserve(&f.buf, n), 0);
    f.buf.len = strata__meta__metadata_record__pack(r, f.buf.base);
    return st_meta_apply(f.m, ++f.offset, f.buf.base, f.buf.len);
}

static uint8_t uuid_a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static uint8_t uuid_b[16] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
static uint8_t topic_x[16] = {0xaa, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

static int register_broker(int32_t id, uint8_t *incarnation, char *rack)
{
    Strata__Meta__Listener l = STRATA__META__LISTENER__INIT;
    Strata__Meta__Listener *lp = &l;
    l.name = "PLAINTEXT";
    l.host = "127.0.0.1";
    l.port = (uint32_t)(9092 + id);
    Strata__Meta__RegisterBroker rb = STRATA__META__REGISTER_BROKER__INIT;
    rb.broker_id = id;
    rb.listeners = &lp;
    rb.n_listeners = 1;
    rb.rack = rack;
    rb.incarnation_id.data = incarnation;
    rb.incarnation_id.len = 16;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_REGISTER_BROKER;
    r.register_broker = &rb;
    return apply(&r);
}

static int fence(int32_t id, int64_t epoch, bool on)
{
    Strata__Meta__FenceBroker fb = STRATA__META__FENCE_BROKER__INIT;
    Strata__Meta__UnfenceBroker ub = STRATA__META__UNFENCE_BROKER__INIT;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    fb.broker_id = ub.broker_id = id;
    fb.broker_epoch = ub.broker_epoch = epoch;
    if (on) {
        r.body_case = STRATA__META__METADATA_RECORD__BODY_FENCE_BROKER;
        r.fence_broker = &fb;
    } else {
        r.body_case = STRATA__META__METADATA_RECORD__BODY_UNFENCE_BROKER;
        r.unfence_broker = &ub;
    }
    return apply(&r);
}

/* A topic "x" with @np partitions over replicas {1,2,3}, leader 1. */
static int create_topic(const char *name, uint8_t *id, int np, int32_t leader)
{
    static int32_t reps[3] = {1, 2, 3};
    Strata__Meta__CreatePartition cp[8], *cpp[8];
    for (int i = 0; i < np; i++) {
        strata__meta__create_partition__init(&cp[i]);
        cp[i].partition = i;
        cp[i].replicas = reps;
        cp[i].n_replicas = 3;
        cp[i].isr = reps;
        cp[i].n_isr = 3;
        cp[i].leader = leader;
        cpp[i] = &cp[i];
    }
    Strata__Meta__TopicConfig c = STRATA__META__TOPIC_CONFIG__INIT;
    Strata__Meta__TopicConfig *cpc = &c;
    c.key = "retention.ms";
    c.value = "1000";
    Strata__Meta__CreateTopic ct = STRATA__META__CREATE_TOPIC__INIT;
    ct.name = (char *)name;
    ct.topic_id.data = id;
    ct.topic_id.len = 16;
    ct.configs = &cpc;
    ct.n_configs = 1;
    ct.partitions = cpp;
    ct.n_partitions = (size_t)np;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_CREATE_TOPIC;
    r.create_topic = &ct;
    return apply(&r);
}

static int partition_change(uint8_t *id, int32_t part, int32_t *leader,
                            int32_t *isr, size_t n_isr)
{
    Strata__Meta__PartitionChange pc = STRATA__META__PARTITION_CHANGE__INIT;
    pc.topic_id.data = id;
    pc.topic_id.len = 16;
    pc.partition = part;
    pc.has_leader = leader != NULL;
    pc.leader = leader ? *leader : 0;
    pc.has_isr = isr != NULL;
    pc.isr = isr;
    pc.n_isr = n_isr;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_PARTITION_CHANGE;
    r.partition_change = &pc;
    return apply(&r);
}

static int config_change(int res, char *name, char *key, char *value,
                         bool remove)
{
    Strata__Meta__ConfigChange cc = STRATA__META__CONFIG_CHANGE__INIT;
    cc.resource = (Strata__Meta__ConfigResource)res;
    cc.name = name;
    cc.key = key;
    cc.value = value;
    cc.remove = remove;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_CONFIG_CHANGE;
    r.config_change = &cc;
    return apply(&r);
}

START_TEST(test_register_sets_epoch_to_offset_and_starts_fenced)
{
    /* Given an empty state, when broker 1 registers at offset 1, */
    ck_assert_int_eq(register_broker(1, uuid_a, "r1"), 0);
    /* it is known, fenced, with epoch 1 and its listener. */
    const struct st_meta_broker *b = st_meta_broker_find(f.m, 1);
    ck_assert_ptr_nonnull(b);
    ck_assert(b->fenced);
    ck_assert_int_eq(b->epoch, 1);
    ck_assert_str_eq(b->rack, "r1");
    ck_assert_uint_eq(b->n_listeners, 1);
    ck_assert_uint_eq(b->listeners[0].port, 9093);
    ck_assert_int_eq(st_meta_last_offset(f.m), 1);
}
END_TEST

START_TEST(test_new_incarnation_gets_new_epoch_and_retires_old)
{
    /* Given broker 1 registered, */
    ck_assert_int_eq(register_broker(1, uuid_a, ""), 0);
    /* when a new incarnation registers at offset 2, */
    ck_assert_int_eq(register_broker(1, uuid_b, ""), 0);
    /* its epoch is 2 and the old incarnation is retired. */
    const struct st_meta_broker *b = st_meta_broker_find(f.m, 1);
    ck_assert_int_eq(b->epoch, 2);
    ck_assert_uint_eq(b->n_retired, 1);
    ck_assert_mem_eq(b->retired[0], uuid_a, 16);
    ck_assert_mem_eq(b->incarnation, uuid_b, 16);
    ck_assert_uint_eq(st_meta_broker_count(f.m), 1);
}
END_TEST

START_TEST(test_fence_and_unfence_need_the_current_epoch)
{
    /* Given broker 1 registered at offset 1, */
    ck_assert_int_eq(register_broker(1, uuid_a, ""), 0);
    /* an unfence at a wrong epoch is stale, */
    ck_assert_int_eq(fence(1, 7, false), ST_ESTALE);
    ck_assert(st_meta_broker_find(f.m, 1)->fenced);
    /* one for an unknown broker is unknown, */
    ck_assert_int_eq(fence(5, 1, false), ST_ENOENT);
    /* and at epoch 1 unfence then fence work. */
    ck_assert_int_eq(fence(1, 1, false), 0);
    ck_assert(!st_meta_broker_find(f.m, 1)->fenced);
    ck_assert_int_eq(fence(1, 1, true), 0);
    ck_assert(st_meta_broker_find(f.m, 1)->fenced);
}
END_TEST

START_TEST(test_unregister_removes_the_broker)
{
    ck_assert_int_eq(register_broker(1, uuid_a, ""), 0);
    ck_assert_int_eq(register_broker(2, uuid_b, ""), 0);
    Strata__Meta__UnregisterBroker u = STRATA__META__UNREGISTER_BROKER__INIT;
    u.broker_id = 1;
    u.broker_epoch = 1;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_UNREGISTER_BROKER;
    r.unregister_broker = &u;
    ck_assert_int_eq(apply(&r), 0);
    ck_assert_ptr_null(st_meta_broker_find(f.m, 1));
    ck_assert_ptr_nonnull(st_meta_broker_find(f.m, 2));
}
END_TEST

START_TEST(test_create_topic_is_found_by_name_and_id_with_configs)
{
    /* When topic "orders" with 2 partitions is created, */
    ck_assert_int_eq(create_topic("orders", topic_x, 2, 1), 0);
    /* it is found by name and id, with its partitions and override. */
    const struct st_meta_topic *t = st_meta_topic_by_name(f.m, "orders");
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_eq(t, st_meta_topic_by_id(f.m, topic_x));
    ck_assert_int_eq(t->n_parts, 2);
    const struct st_meta_partition *p = st_meta_partition_find(f.m, topic_x, 1);
    ck_assert_int_eq(p->leader, 1);
    ck_assert_int_eq(p->n_isr, 3);
    ck_assert_ptr_null(st_meta_partition_find(f.m, topic_x, 2));
    ck_assert_str_eq(st_meta_topic_config(f.m, "orders", "retention.ms"),
                     "1000");
    /* A second topic with the same name or id already exists. */
    ck_assert_int_eq(create_topic("orders", uuid_a, 1, 1), ST_EEXIST);
    ck_assert_int_eq(create_topic("other", topic_x, 1, 1), ST_EEXIST);
    ck_assert_uint_eq(st_meta_topic_count(f.m), 1);
}
END_TEST

START_TEST(test_create_topic_with_leader_outside_isr_is_corrupt)
{
    ck_assert_int_eq(create_topic("orders", topic_x, 1, 9), ST_ECORRUPT);
    ck_assert_uint_eq(st_meta_topic_count(f.m), 0);
    /* The refused record was still consumed. */
    ck_assert_int_eq(st_meta_last_offset(f.m), 1);
}
END_TEST

START_TEST(test_create_partition_appends_the_next_index)
{
    ck_assert_int_eq(create_topic("orders", topic_x, 1, 1), 0);
    int32_t reps[2] = {2, 3};
    Strata__Meta__CreatePartition cp = STRATA__META__CREATE_PARTITION__INIT;
    cp.topic_id.data = topic_x;
    cp.topic_id.len = 16;
    cp.partition = 1;
    cp.replicas = reps;
    cp.n_replicas = 2;
    cp.isr = reps;
    cp.n_isr = 2;
    cp.leader = 2;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_CREATE_PARTITION;
    r.create_partition = &cp;
    ck_assert_int_eq(apply(&r), 0);
    ck_assert_int_eq(st_meta_topic_by_id(f.m, topic_x)->n_parts, 2);
    /* The same index again is not the next one. */
    ck_assert_int_eq(apply(&r), ST_ECORRUPT);
}
END_TEST

START_TEST(test_partition_change_bumps_epochs)
{
    ck_assert_int_eq(create_topic("orders", topic_x, 1, 1), 0);
    const struct st_meta_partition *p = st_meta_partition_find(f.m, topic_x, 0);
    /* An ISR shrink bumps only the partition epoch, */
    int32_t isr[2] = {1, 2};
    ck_assert_int_eq(partition_change(topic_x, 0, NULL, isr, 2), 0);
    p = st_meta_partition_find(f.m, topic_x, 0);
    ck_assert_int_eq(p->n_isr, 2);
    ck_assert_int_eq(p->leader_epoch, 0);
    ck_assert_int_eq(p->partition_epoch, 1);
    /* a leader change bumps both, */
    int32_t leader = 2;
    ck_assert_int_eq(partition_change(topic_x, 0, &leader, NULL, 0), 0);
    p = st_meta_partition_find(f.m, topic_x, 0);
    ck_assert_int_eq(p->leader, 2);
    ck_assert_int_eq(p->leader_epoch, 1);
    ck_assert_int_eq(p->partition_epoch, 2);
    /* a leader outside the ISR, an empty ISR or no change at all are
     * corrupt, and unknown partitions unknown; none changes anything. */
    leader = 3;
    ck_assert_int_eq(partition_change(topic_x, 0, &leader, NULL, 0),
                     ST_ECORRUPT);
    ck_assert_int_eq(partition_change(topic_x, 0, NULL, isr, 0), ST_ECORRUPT);
    ck_assert_int_eq(partition_change(topic_x, 0, NULL, NULL, 0), ST_ECORRUPT);
    ck_assert_int_eq(partition_change(topic_x, 5, &leader, NULL, 0),
                     ST_ENOENT);
    ck_assert_int_eq(partition_change(uuid_a, 0, &leader, NULL, 0), ST_ENOENT);
    p = st_meta_partition_find(f.m, topic_x, 0);
    ck_assert_int_eq(p->partition_epoch, 2);
}
END_TEST

START_TEST(test_delete_topic_removes_it_and_its_configs)
{
    ck_assert_int_eq(create_topic("orders", topic_x, 1, 1), 0);
    ck_assert_int_eq(create_topic("zebra", uuid_a, 1, 1), 0);
    Strata__Meta__DeleteTopic dt = STRATA__META__DELETE_TOPIC__INIT;
    dt.topic_id.data = topic_x;
    dt.topic_id.len = 16;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_DELETE_TOPIC;
    r.delete_topic = &dt;
    ck_assert_int_eq(apply(&r), 0);
    ck_assert_ptr_null(st_meta_topic_by_name(f.m, "orders"));
    ck_assert_ptr_null(st_meta_topic_by_id(f.m, topic_x));
    ck_assert_ptr_nonnull(st_meta_topic_by_name(f.m, "zebra"));
    ck_assert_ptr_null(
        st_meta_config_get(f.m, ST_META_RES_TOPIC, "orders", "retention.ms"));
    ck_assert_uint_eq(st_meta_config_count(f.m), 1);
    ck_assert_int_eq(apply(&r), ST_ENOENT);
}
END_TEST

START_TEST(test_topic_override_wins_over_cluster_default)
{
    ck_assert_int_eq(create_topic("orders", topic_x, 1, 1), 0);
    /* Given a cluster default for retention.bytes and segment.ms, */
    ck_assert_int_eq(config_change(2, "", "retention.bytes", "500", false), 0);
    ck_assert_int_eq(config_change(2, "", "retention.ms", "9", false), 0);
    /* the topic's override wins, the default fills the rest, */
    ck_assert_str_eq(st_meta_topic_config(f.m, "orders", "retention.ms"),
                     "1000");
    ck_assert_str_eq(st_meta_topic_config(f.m, "orders", "retention.bytes"),
                     "500");
    ck_assert_str_eq(st_meta_topic_config(f.m, "orders", "cleanup.policy"),
                     "delete");
    /* and removing the override falls back to the cluster default. */
    ck_assert_int_eq(config_change(1, "orders", "retention.ms", "", true), 0);
    ck_assert_str_eq(st_meta_topic_config(f.m, "orders", "retention.ms"), "9");
    /* Changing an unknown topic's config is refused. */
    ck_assert_int_eq(config_change(1, "nope", "retention.ms", "1", false),
                     ST_ENOENT);
    ck_assert_int_eq(config_change(7, "x", "k", "v", false), ST_ECORRUPT);
}
END_TEST

START_TEST(test_producer_id_blocks_advance_in_order)
{
    Strata__Meta__ProducerIdBlock pb = STRATA__META__PRODUCER_ID_BLOCK__INIT;
    pb.start = 0;
    pb.size = 1000;
    pb.broker_id = 1;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_PRODUCER_ID_BLOCK;
    r.producer_id_block = &pb;
    ck_assert_int_eq(apply(&r), 0);
    ck_assert_int_eq(st_meta_next_producer_id(f.m), 1000);
    /* A block that does not start at the next id is refused. */
    ck_assert_int_eq(apply(&r), ST_ECORRUPT);
    ck_assert_int_eq(st_meta_next_producer_id(f.m), 1000);
}
END_TEST

START_TEST(test_offsets_must_increase)
{
    ck_assert_int_eq(register_broker(1, uuid_a, ""), 0);
    ck_assert_int_eq(st_meta_apply(f.m, 1, f.buf.base, f.buf.len), ST_ERANGE);
    ck_assert_int_eq(st_meta_last_offset(f.m), 1);
}
END_TEST

START_TEST(test_garbage_bytes_are_corrupt_not_a_crash)
{
    /* Given random byte strings (and an empty record), */
    uint64_t seed = 42;
    uint8_t junk[64];
    ck_assert_int_eq(st_meta_apply(f.m, 1, NULL, 0), ST_ECORRUPT);
    for (int i = 0; i < 2000; i++) {
        size_t len = st_test_rand(&seed) % sizeof junk;
        for (size_t j = 0; j < len; j++) {
            junk[j] = (uint8_t)st_test_rand(&seed);
        }
        /* each is refused or (rarely) a harmless valid record. */
        int rv = st_meta_apply(f.m, i + 2, junk, len);
        ck_assert(rv == 0 || rv == ST_ECORRUPT || rv == ST_ENOENT ||
                  rv == ST_EEXIST || rv == ST_ESTALE);
    }
    ck_assert_int_eq(st_meta_last_offset(f.m), 2001);
}
END_TEST

START_TEST(test_failed_allocation_leaves_state_unchanged)
{
    /* Given some state and its snapshot, */
    ck_assert_int_eq(register_broker(1, uuid_a, "r"), 0);
    ck_assert_int_eq(create_topic("orders", topic_x, 3, 1), 0);
    struct st_buf before, after;
    st_buf_init(&before);
    st_buf_init(&after);
    ck_assert_int_eq(st_meta_snapshot_write(f.m, &before), 0);
    /* when applying a topic fails at every possible allocation, */
    for (long n = 0; n < 200; n++) {
        f.offset = 10;
        st_alloc_fail_after(n, 1);
        int rv = create_topic("zzz", uuid_b, 3, 2);
        st_alloc_fail_after(0, 0);
        if (rv == 0) {
            break;
        }
        /* the error is ENOMEM, nothing was consumed and nothing changed. */
        ck_assert_int_eq(rv, ST_ENOMEM);
        st_buf_reset(&after);
        ck_assert_int_eq(st_meta_snapshot_write(f.m, &after), 0);
        ck_assert_uint_eq(after.len, before.len);
        ck_assert_mem_eq(after.base, before.base, before.len);
    }
    ck_assert_ptr_nonnull(st_meta_topic_by_name(f.m, "zzz"));
    st_buf_close(&before);
    st_buf_close(&after);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("meta_apply");
    TCase *tc = tcase_create("apply");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_register_sets_epoch_to_offset_and_starts_fenced);
    tcase_add_test(tc, test_new_incarnation_gets_new_epoch_and_retires_old);
    tcase_add_test(tc, test_fence_and_unfence_need_the_current_epoch);
    tcase_add_test(tc, test_unregister_removes_the_broker);
    tcase_add_test(tc, test_create_topic_is_found_by_name_and_id_with_configs);
    tcase_add_test(tc, test_create_topic_with_leader_outside_isr_is_corrupt);
    tcase_add_test(tc, test_create_partition_appends_the_next_index);
    tcase_add_test(tc, test_partition_change_bumps_epochs);
    tcase_add_test(tc, test_delete_topic_removes_it_and_its_configs);
    tcase_add_test(tc, test_topic_override_wins_over_cluster_default);
    tcase_add_test(tc, test_producer_id_blocks_advance_in_order);
    tcase_add_test(tc, test_offsets_must_increase);
    tcase_add_test(tc, test_garbage_bytes_are_corrupt_not_a_crash);
    tcase_add_test(tc, test_failed_allocation_leaves_state_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
