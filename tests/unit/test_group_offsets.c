/* Committed offsets: member-epoch fencing, simple commits, expiry, and
 * rebuilding a group from the records it emitted. */
#include <string.h>

#include "test_group_util.h"

static struct {
    struct st_group_config cfg;
    struct st_group *g;
    struct tg_log log;
    struct tg_client c[4];
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    f.cfg.group_id = "g1";
    f.cfg.session_timeout_ms = 45000;
    f.cfg.heartbeat_interval_ms = 3000;
    f.cfg.offsets_retention_ms = 3600000;
    f.cfg.seed = 11;
    ck_assert_int_eq(st_group_new(&f.cfg, &f.g), 0);
    tg_metadata(f.g, &f.log, 1000, "orders", 6);
    for (int i = 0; i < 4; i++) {
        tg_client_init(&f.c[i], "orders");
    }
}

static void teardown(void)
{
    st_group_free(f.g);
    tg_log_free(&f.log);
}

static void settle(unsigned n, uint64_t now)
{
    for (int r = 0; r < 3; r++) {
        for (unsigned i = 0; i < n; i++) {
            tg_beat(f.g, &f.log, &f.c[i], now);
        }
    }
}

/* Commit one offset; returns the partition's error (or the group's). */
static enum st_group_error commit(const char *member, int32_t epoch,
                                  int32_t p, int64_t off, uint64_t now)
{
    struct st_group_offset o = {{"orders", p}, off, 3, "meta"};
    struct st_group_event ev = {.type = ST_GROUP_EV_OFFSET_COMMIT,
                                .now_ms = now};
    ev.commit.member_id = member;
    ev.commit.member_epoch = epoch;
    ev.commit.offsets = &o;
    ev.commit.n_offsets = 1;
    struct st_group_update up;
    tg_step(f.g, &f.log, &ev, &up);
    if (up.error != ST_GROUP_OK) {
        return up.error;
    }
    ck_assert_uint_eq(up.n_offsets, 1);
    if (up.offsets[0].error == ST_GROUP_OK) {
        ck_assert_uint_eq(up.n_records, 1);
    }
    return up.offsets[0].error;
}

static int64_t fetch(struct st_group *g, int32_t p)
{
    struct st_group_tp tp = {"orders", p};
    struct st_group_event ev = {.type = ST_GROUP_EV_OFFSET_FETCH,
                                .now_ms = 1};
    ev.fetch.tps = &tp;
    ev.fetch.n_tps = 1;
    struct st_group_update up;
    ck_assert_int_eq(st_group_step(g, &ev, &up), 0);
    ck_assert_uint_eq(up.n_offsets, 1);
    return up.offsets[0].offset;
}

START_TEST(test_owner_at_current_epoch_commits)
{
    settle(2, 2000);
    int32_t p = f.c[0].owned[0].partition;
    ck_assert_int_eq(commit(f.c[0].id, f.c[0].epoch, p, 42, 2500),
                     ST_GROUP_OK);
    ck_assert_int_eq(fetch(f.g, p), 42);
    ck_assert_int_eq(fetch(f.g, 5 - 0 == p ? 4 : 5), -1);
}
END_TEST

START_TEST(test_commit_with_stale_epoch_is_refused)
{
    settle(2, 2000);
    int32_t old = f.c[0].epoch;
    tg_beat(f.g, &f.log, &f.c[2], 3000);
    settle(3, 3001);
    ck_assert_int_gt(f.c[0].epoch, old);
    int32_t p = f.c[0].owned[0].partition;
    ck_assert_int_eq(commit(f.c[0].id, old, p, 7, 3500),
                     ST_GROUP_STALE_MEMBER_EPOCH);
    ck_assert_int_eq(fetch(f.g, p), -1);
}
END_TEST

START_TEST(test_commit_for_partition_owned_by_another_is_refused)
{
    settle(2, 2000);
    int32_t p = f.c[1].owned[0].partition;
    ck_assert_int_eq(commit(f.c[0].id, f.c[0].epoch, p, 9, 2500),
                     ST_GROUP_NOT_OWNER);
    ck_assert_int_eq(fetch(f.g, p), -1);
}
END_TEST

START_TEST(test_commit_while_revoking_is_accepted_then_refused_after)
{
    /* Given consumer 0 told to revoke a partition (it has not confirmed), */
    settle(2, 2000);
    struct tg_client before = f.c[0];
    tg_beat(f.g, &f.log, &f.c[2], 3000);
    tg_beat(f.g, &f.log, &f.c[0], 3001);
    ck_assert_uint_lt(f.c[0].n_owned, before.n_owned);
    int32_t gone = -1;
    for (unsigned k = 0; k < before.n_owned; k++) {
        if (!tg_client_owns(&f.c[0], "orders", before.owned[k].partition)) {
            gone = before.owned[k].partition;
        }
    }
    /* its commit in the revocation callback lands, */
    ck_assert_int_eq(commit(f.c[0].id, f.c[0].epoch, gone, 100, 3002),
                     ST_GROUP_OK);
    /* and once it confirmed, a late commit for it is refused. */
    int32_t e = f.c[0].epoch;
    tg_beat(f.g, &f.log, &f.c[0], 3003);
    ck_assert_int_ne(commit(f.c[0].id, e, gone, 50, 3004), ST_GROUP_OK);
    ck_assert_int_eq(fetch(f.g, gone), 100);
}
END_TEST

START_TEST(test_simple_commit_only_while_group_has_no_members)
{
    ck_assert_int_eq(st_group_can_reset_offsets(f.g), ST_GROUP_OK);
    ck_assert_int_eq(commit(NULL, -1, 0, 5, 1500), ST_GROUP_OK);
    settle(1, 2000);
    ck_assert_int_eq(st_group_can_reset_offsets(f.g), ST_GROUP_NOT_EMPTY);
    ck_assert_int_eq(commit(NULL, -1, 0, 1, 2500),
                     ST_GROUP_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(commit("ghost", 1, 0, 1, 2500),
                     ST_GROUP_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(fetch(f.g, 0), 5);
}
END_TEST

START_TEST(test_offsets_expire_after_retention_once_group_is_empty)
{
    /* Given a committed offset and the only member leaving at t=10s, */
    settle(1, 2000);
    ck_assert_int_eq(commit(f.c[0].id, f.c[0].epoch, 0, 5, 3000),
                     ST_GROUP_OK);
    struct st_group_event ev = {.type = ST_GROUP_EV_LEAVE, .now_ms = 10000};
    ev.leave.member_id = f.c[0].id;
    ev.leave.member_epoch = -1;
    struct st_group_update up;
    tg_step(f.g, &f.log, &ev, &up);
    ck_assert_uint_eq(up.next_deadline_ms, 10000 + 3600000);
    /* nothing expires before retention has passed since it became empty, */
    tg_tick(f.g, &f.log, 10000 + 3599999);
    ck_assert_int_eq(fetch(f.g, 0), 5);
    /* then the offset goes with a tombstone and the group is deleted. */
    struct st_group_event t = {.type = ST_GROUP_EV_TICK,
                               .now_ms = 10000 + 3600000};
    tg_step(f.g, &f.log, &t, &up);
    ck_assert(up.deleted);
    ck_assert_uint_ge(up.n_records, 1);
    ck_assert(up.records[0].tombstone);
    ck_assert_int_eq(st_group_state(f.g), ST_GROUP_DEAD);
}
END_TEST

START_TEST(test_delete_is_refused_while_members_exist)
{
    settle(1, 2000);
    struct st_group_event ev = {.type = ST_GROUP_EV_DELETE, .now_ms = 3000};
    struct st_group_update up;
    tg_step(f.g, &f.log, &ev, &up);
    ck_assert_int_eq(up.error, ST_GROUP_NOT_EMPTY);
    ck_assert(!up.deleted);
}
END_TEST

/* Drive a busy history: joins, commits, a rebalance mid-way, a static
 * leave, a session timeout. */
static void busy_history(void)
{
    f.c[3].instance = "static-3";
    settle(2, 2000);
    commit(f.c[0].id, f.c[0].epoch, f.c[0].owned[0].partition, 11, 2100);
    commit(f.c[1].id, f.c[1].epoch, f.c[1].owned[0].partition, 12, 2100);
    tg_beat(f.g, &f.log, &f.c[2], 3000);
    tg_beat(f.g, &f.log, &f.c[3], 3000);
    tg_beat(f.g, &f.log, &f.c[0], 3001); /* told to revoke */
    tg_metadata(f.g, &f.log, 3100, "orders", 8);
    tg_beat(f.g, &f.log, &f.c[1], 3200);
    struct st_group_event ev = {.type = ST_GROUP_EV_LEAVE, .now_ms = 3300};
    ev.leave.member_id = f.c[3].id;
    ev.leave.instance_id = "static-3";
    ev.leave.member_epoch = ST_GROUP_EPOCH_STATIC_LEAVE;
    struct st_group_update up;
    tg_step(f.g, &f.log, &ev, &up);
    tg_beat(f.g, &f.log, &f.c[2], 40000);
    tg_beat(f.g, &f.log, &f.c[0], 40000);
    tg_tick(f.g, &f.log, 47000); /* consumer 1 and static-3 time out */
    tg_beat(f.g, &f.log, &f.c[2], 47001);
    commit(f.c[2].id, f.c[2].epoch, f.c[2].owned[0].partition, 13, 47002);
}

static void assert_same_state(struct st_group *a, struct st_group *b)
{
    struct st_buf da, db;
    st_buf_init(&da);
    st_buf_init(&db);
    ck_assert_int_eq(st_group_dump(a, &da), 0);
    ck_assert_int_eq(st_group_dump(b, &db), 0);
    ck_assert_int_eq(st_buf_append(&da, "", 1), 0);
    ck_assert_int_eq(st_buf_append(&db, "", 1), 0);
    ck_assert_str_eq((char *)da.base, (char *)db.base);
    st_buf_close(&da);
    st_buf_close(&db);
}

START_TEST(test_replaying_emitted_records_rebuilds_identical_state)
{
    /* Given a group after a busy history, */
    busy_history();
    /* when a new coordinator replays every record it emitted, */
    struct st_group *g2 = tg_replay(&f.cfg, &f.log, false, 50000);
    /* the rebuilt state is identical, and it keeps working: */
    assert_same_state(f.g, g2);
    char why[256];
    ck_assert_msg(st_group_check(g2, why, sizeof why), "%s", why);
    struct st_group *old = f.g;
    f.g = g2;
    tg_metadata(f.g, NULL, 50001, "orders", 8);
    tg_beat(f.g, NULL, &f.c[0], 50002);
    ck_assert_int_eq(f.c[0].error, ST_GROUP_OK);
    st_group_free(old);
}
END_TEST

START_TEST(test_replaying_compacted_records_rebuilds_identical_state)
{
    busy_history();
    struct st_group *g2 = tg_replay(&f.cfg, &f.log, true, 50000);
    assert_same_state(f.g, g2);
    st_group_free(g2);
}
END_TEST

START_TEST(test_describe_lists_members_and_offsets)
{
    settle(2, 2000);
    commit(f.c[0].id, f.c[0].epoch, f.c[0].owned[0].partition, 11, 2100);
    struct st_group_desc *d;
    ck_assert_int_eq(st_group_describe(f.g, &d), 0);
    ck_assert_str_eq(d->group_id, "g1");
    ck_assert_int_eq(d->state, ST_GROUP_STABLE);
    ck_assert_str_eq(d->assignor, "uniform");
    ck_assert_uint_eq(d->n_members, 2);
    ck_assert_str_eq(d->members[0].client_id, "test-client");
    ck_assert_str_eq(d->members[0].client_host, "/127.0.0.1");
    ck_assert_uint_eq(d->members[0].n_assigned + d->members[1].n_assigned,
                      6);
    ck_assert_uint_eq(d->n_offsets, 1);
    ck_assert_int_eq(d->offsets[0].offset, 11);
    ck_assert_str_eq(d->offsets[0].metadata, "meta");
    ck_assert_int_eq(d->offsets[0].commit_ms, 2100);
    st_group_desc_free(d);
}
END_TEST

START_TEST(test_corrupt_record_is_refused_on_load)
{
    struct st_group *g;
    ck_assert_int_eq(st_group_new(&f.cfg, &g), 0);
    uint8_t key[] = {0, 9, 0, 2, 'g', '1'};
    struct st_group_event ev = {.type = ST_GROUP_EV_LOAD, .now_ms = 1};
    ev.load.key = (struct st_bytes){key, sizeof key};
    ev.load.tombstone = true;
    struct st_group_update up;
    ck_assert_int_eq(st_group_step(g, &ev, &up), ST_ECORRUPT);
    st_group_free(g);
}
END_TEST

START_TEST(test_damaged_records_are_refused_not_crashed_on)
{
    /* Given the records of a busy history, each replayed with random
     * damage (bytes flipped, cut short), loading answers 0 or an error
     * and never reads out of bounds (ASan watches). */
    busy_history();
    uint64_t rng = 99;
    for (int trial = 0; trial < 300; trial++) {
        struct st_group *g;
        ck_assert_int_eq(st_group_new(&f.cfg, &g), 0);
        int bad = 0;
        for (unsigned i = 0; i < f.log.n; i++) {
            struct tg_rec *r = &f.log.v[i];
            uint8_t key[512], val[4096];
            size_t kl = r->key_len < sizeof key ? r->key_len : sizeof key;
            size_t vl = r->val_len < sizeof val ? r->val_len : sizeof val;
            memcpy(key, r->key, kl);
            memcpy(val, r->val, vl);
            if (st_test_rand(&rng) % 4 == 0) {
                uint8_t *p = st_test_rand(&rng) % 2 ? key : val;
                size_t n = p == key ? kl : vl;
                if (n > 0) {
                    p[st_test_rand(&rng) % n] ^=
                        (uint8_t)(1 + st_test_rand(&rng) % 255);
                }
            }
            if (st_test_rand(&rng) % 8 == 0 && vl > 0) {
                vl = st_test_rand(&rng) % vl;
            }
            struct st_group_event ev = {.type = ST_GROUP_EV_LOAD, .now_ms = 1};
            ev.load.key = (struct st_bytes){key, kl};
            ev.load.value = (struct st_bytes){val, vl};
            ev.load.tombstone = r->tomb;
            struct st_group_update up;
            int rv = st_group_step(g, &ev, &up);
            ck_assert(rv == 0 || rv == ST_ECORRUPT || rv == ST_EINVAL);
            bad += rv != 0;
        }
        struct st_group_event done = {.type = ST_GROUP_EV_LOAD_DONE,
                                      .now_ms = 2};
        struct st_group_update up;
        int rv = st_group_step(g, &done, &up);
        ck_assert(rv == 0 || rv == ST_ECORRUPT);
        (void)bad;
        st_group_free(g);
    }
}
END_TEST

START_TEST(test_out_of_memory_during_steps_is_reported)
{
    /* Every allocation failing in turn gives ST_ENOMEM, never a crash. */
    for (long n = 0; n < 150; n++) {
        struct st_group *g;
        if (st_group_new(&f.cfg, &g) != 0) {
            continue;
        }
        st_alloc_fail_after(n, 1);
        struct tg_client c;
        tg_client_init(&c, "orders");
        struct st_group_topic_meta tm = {.name = "orders", .partitions = 6};
        struct st_group_event ev = {.type = ST_GROUP_EV_METADATA, .now_ms = 1};
        ev.metadata.topics = &tm;
        ev.metadata.n_topics = 1;
        struct st_group_update up;
        int rv = st_group_step(g, &ev, &up);
        if (rv == 0) {
            struct st_group_event hb = {.type = ST_GROUP_EV_HEARTBEAT,
                                        .now_ms = 2};
            hb.heartbeat.has_subscription = true;
            hb.heartbeat.topics = c.topics;
            hb.heartbeat.n_topics = 1;
            rv = st_group_step(g, &hb, &up);
        }
        st_alloc_fail_after(0, 0);
        ck_assert(rv == 0 || rv == ST_ENOMEM);
        st_group_free(g);
    }
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("group_offsets");
    TCase *tc = tcase_create("offsets");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_owner_at_current_epoch_commits);
    tcase_add_test(tc, test_commit_with_stale_epoch_is_refused);
    tcase_add_test(tc, test_commit_for_partition_owned_by_another_is_refused);
    tcase_add_test(tc,
        test_commit_while_revoking_is_accepted_then_refused_after);
    tcase_add_test(tc, test_simple_commit_only_while_group_has_no_members);
    tcase_add_test(tc,
        test_offsets_expire_after_retention_once_group_is_empty);
    tcase_add_test(tc, test_delete_is_refused_while_members_exist);
    tcase_add_test(tc,
        test_replaying_emitted_records_rebuilds_identical_state);
    tcase_add_test(tc,
        test_replaying_compacted_records_rebuilds_identical_state);
    tcase_add_test(tc, test_describe_lists_members_and_offsets);
    tcase_add_test(tc, test_corrupt_record_is_refused_on_load);
    tcase_add_test(tc, test_damaged_records_are_refused_not_crashed_on);
    tcase_add_test(tc, test_out_of_memory_during_steps_is_reported);
    suite_add_tcase(s, tc);
    return s;
}
