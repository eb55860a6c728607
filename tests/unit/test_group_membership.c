/* Consumer-group membership: joins, incremental rebalancing, timeouts,
 * static membership and epoch fencing (KIP-848 model). */
#include <string.h>

#include "test_group_util.h"

static struct {
    struct st_group_config cfg;
    struct st_group *g;
    struct tg_log log;
    struct tg_client c[8];
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    f.cfg.group_id = "g1";
    f.cfg.session_timeout_ms = 45000;
    f.cfg.heartbeat_interval_ms = 3000;
    f.cfg.seed = 7;
    ck_assert_int_eq(st_group_new(&f.cfg, &f.g), 0);
    tg_metadata(f.g, &f.log, 1000, "orders", 6);
    for (int i = 0; i < 8; i++) {
        tg_client_init(&f.c[i], "orders");
    }
}

static void teardown(void)
{
    st_group_free(f.g);
    tg_log_free(&f.log);
}

/* Heartbeat every client in turn @rounds times at @now. */
static void beat_all(unsigned n, unsigned rounds, uint64_t now)
{
    for (unsigned r = 0; r < rounds; r++) {
        for (unsigned i = 0; i < n; i++) {
            tg_beat(f.g, &f.log, &f.c[i], now);
        }
    }
}

/* No partition is held by two clients. */
static void assert_exclusive(unsigned n)
{
    for (int p = 0; p < 6; p++) {
        unsigned owners = 0;
        for (unsigned i = 0; i < n; i++) {
            owners += tg_client_owns(&f.c[i], "orders", p);
        }
        ck_assert_uint_le(owners, 1);
    }
}

START_TEST(test_three_members_on_six_partitions_get_two_each)
{
    /* Given three consumers joining a group on a 6-partition topic, */
    beat_all(3, 3, 2000);
    /* each ends with two partitions, all six covered, group stable. */
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(f.c[i].n_owned, 2);
        ck_assert_int_eq(f.c[i].epoch, st_group_epoch(f.g));
    }
    assert_exclusive(3);
    ck_assert_int_eq(st_group_state(f.g), ST_GROUP_STABLE);
}
END_TEST

START_TEST(test_fourth_member_takes_only_revoked_partitions_and_others_keep)
{
    /* Given three consumers with two partitions each, */
    beat_all(3, 3, 2000);
    struct tg_client before[3];
    memcpy(before, f.c, sizeof before);
    /* when a fourth joins, */
    tg_beat(f.g, &f.log, &f.c[3], 3000);
    /* it gets nothing yet: every partition is still owned by someone. */
    ck_assert_uint_eq(f.c[3].n_owned, 0);
    for (unsigned r = 0; r < 3; r++) {
        for (unsigned i = 0; i < 4; i++) {
            tg_beat(f.g, &f.log, &f.c[i], 4000 + r * 1000);
            assert_exclusive(4);
        }
    }
    /* Then the newcomer has one or two, nobody was told to stop a partition
     * it kept, and only the moved partitions changed hands. */
    ck_assert_uint_ge(f.c[3].n_owned, 1);
    unsigned total = 0, moved = 0;
    for (unsigned i = 0; i < 4; i++) {
        total += f.c[i].n_owned;
    }
    ck_assert_uint_eq(total, 6);
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_uint_ge(f.c[i].n_owned, 1);
        for (unsigned k = 0; k < before[i].n_owned; k++) {
            moved += !tg_client_owns(&f.c[i], "orders",
                                     before[i].owned[k].partition);
        }
        /* What it owns now it owned before: no new partitions for them. */
        for (unsigned k = 0; k < f.c[i].n_owned; k++) {
            ck_assert(tg_client_owns(&before[i], "orders",
                                     f.c[i].owned[k].partition));
        }
    }
    ck_assert_uint_eq(moved, f.c[3].n_owned);
    ck_assert_int_eq(st_group_state(f.g), ST_GROUP_STABLE);
}
END_TEST

START_TEST(test_kept_partitions_are_never_dropped_during_rebalance)
{
    /* Given three consumers settled, */
    beat_all(3, 3, 2000);
    tg_beat(f.g, &f.log, &f.c[3], 3000);
    /* when they heartbeat through the rebalance one by one, a reply only
     * ever drops partitions that end up with the newcomer. */
    for (unsigned r = 0; r < 3; r++) {
        for (unsigned i = 0; i < 3; i++) {
            struct tg_client prev = f.c[i];
            tg_beat(f.g, &f.log, &f.c[i], 4000 + r);
            for (unsigned k = 0; k < prev.n_owned; k++) {
                int32_t p = prev.owned[k].partition;
                if (!tg_client_owns(&f.c[i], "orders", p)) {
                    /* dropped: must not be anyone else's yet */
                    for (unsigned j = 0; j < 4; j++) {
                        ck_assert(j == i ||
                                  !tg_client_owns(&f.c[j], "orders", p));
                    }
                }
            }
        }
        tg_beat(f.g, &f.log, &f.c[3], 4000 + r);
    }
    ck_assert_uint_ge(f.c[3].n_owned, 1);
}
END_TEST

START_TEST(test_new_owner_waits_until_previous_owner_revoked)
{
    /* Given three settled consumers and a fourth that joined, */
    beat_all(3, 3, 2000);
    tg_beat(f.g, &f.log, &f.c[3], 3000);
    /* when only the newcomer heartbeats, it never gets a partition, */
    for (int r = 0; r < 5; r++) {
        tg_beat(f.g, &f.log, &f.c[3], 3100 + (uint64_t)r);
        ck_assert_uint_eq(f.c[3].n_owned, 0);
    }
    /* and once the others were told and confirmed their revocations, it
     * does. */
    beat_all(3, 2, 3200);
    tg_beat(f.g, &f.log, &f.c[3], 3300);
    ck_assert_uint_ge(f.c[3].n_owned, 1);
    assert_exclusive(4);
}
END_TEST

START_TEST(test_session_timeout_removes_silent_member_and_moves_partitions)
{
    /* Given three settled consumers, */
    beat_all(3, 3, 2000);
    int32_t epoch = st_group_epoch(f.g);
    /* when consumer 2 stops heartbeating past the session timeout, */
    tg_beat(f.g, &f.log, &f.c[0], 40000);
    tg_beat(f.g, &f.log, &f.c[1], 40000);
    tg_tick(f.g, &f.log, 2000 + 45000);
    /* it is removed, the epoch moves, and the two others take all six. */
    ck_assert_uint_eq(st_group_member_count(f.g), 2);
    ck_assert_int_gt(st_group_epoch(f.g), epoch);
    beat_all(2, 2, 47001);
    ck_assert_uint_eq(f.c[0].n_owned + f.c[1].n_owned, 6);
    ck_assert_uint_eq(f.c[0].n_owned, 3);
    /* Its next heartbeat is answered UNKNOWN_MEMBER_ID. */
    tg_beat(f.g, &f.log, &f.c[2], 47002);
    ck_assert_int_eq(f.c[2].error, ST_GROUP_UNKNOWN_MEMBER_ID);
}
END_TEST

START_TEST(test_member_not_revoking_in_time_is_removed_and_its_partitions_held_until_session_end)
{
    /* Given three settled consumers and a fourth joining, */
    beat_all(3, 3, 2000);
    tg_beat(f.g, &f.log, &f.c[3], 3000);
    /* one consumer is told to revoke but keeps reporting the partition, */
    unsigned k = 3;
    struct tg_client stuck;
    for (unsigned i = 0; i < 3; i++) {
        struct tg_client prev = f.c[i];
        tg_beat(f.g, &f.log, &f.c[i], 3001);
        if (k == 3 && f.c[i].n_owned < prev.n_owned) {
            k = i;
            stuck = prev;
        }
    }
    ck_assert_uint_lt(k, 3);
    for (uint64_t t = 4000; t < 60000; t += 3000) {
        struct tg_client s = stuck;
        tg_beat(f.g, &f.log, &s, t);
        ck_assert_int_eq(s.error, ST_GROUP_OK);
        for (unsigned i = 0; i < 4; i++) {
            if (i != k) {
                tg_beat(f.g, &f.log, &f.c[i], t);
            }
        }
    }
    /* then at its rebalance timeout (60 s) it is removed, */
    tg_tick(f.g, &f.log, 3001 + 60000);
    ck_assert_uint_eq(st_group_member_count(f.g), 3);
    /* but what it holds stays held until its session ends (it may still be
     * consuming: only its session bounds that), also across a failover, */
    struct st_group *g2 = tg_replay(&f.cfg, &f.log, true, 63002);
    st_group_free(f.g);
    f.g = g2;
    for (unsigned r = 0; r < 3; r++) {
        for (unsigned i = 0; i < 4; i++) {
            if (i != k) {
                tg_beat(f.g, NULL, &f.c[i], 64000 + r);
                for (unsigned q = 0; q < stuck.n_owned; q++) {
                    ck_assert(!tg_client_owns(&f.c[i], "orders",
                                              stuck.owned[q].partition));
                }
            }
        }
    }
    /* and then moves to the others. */
    tg_tick(f.g, NULL, 63002 + 45000);
    unsigned total = 0;
    for (unsigned r = 0; r < 2; r++) {
        total = 0;
        for (unsigned i = 0; i < 4; i++) {
            if (i != k) {
                tg_beat(f.g, NULL, &f.c[i], 108100 + r);
                total += f.c[i].n_owned;
            }
        }
    }
    ck_assert_uint_eq(total, 6);
}
END_TEST

START_TEST(test_poll_timeout_leave_removes_member)
{
    beat_all(3, 3, 2000);
    struct st_group_event ev = {.type = ST_GROUP_EV_LEAVE, .now_ms = 5000};
    ev.leave.member_id = f.c[1].id;
    ev.leave.member_epoch = ST_GROUP_EPOCH_LEAVE;
    ev.leave.reason = ST_GROUP_LEAVE_POLL_TIMEOUT;
    struct st_group_update up;
    tg_step(f.g, &f.log, &ev, &up);
    ck_assert_int_eq(up.hb.error, ST_GROUP_OK);
    ck_assert_int_eq(up.hb.member_epoch, -1);
    ck_assert_uint_eq(st_group_member_count(f.g), 2);
}
END_TEST

START_TEST(test_static_member_restart_gets_same_partitions_no_movement)
{
    /* Given three static consumers settled, */
    const char *inst[3] = {"i-a", "i-b", "i-c"};
    for (int i = 0; i < 3; i++) {
        f.c[i].instance = inst[i];
    }
    beat_all(3, 3, 2000);
    struct tg_client before[3];
    memcpy(before, f.c, sizeof before);
    int32_t epoch = st_group_epoch(f.g);
    /* when consumer 1 shuts down with epoch -2 and restarts within the
     * session timeout (a new process: no member id), */
    struct st_group_event ev = {.type = ST_GROUP_EV_LEAVE, .now_ms = 5000};
    ev.leave.member_id = f.c[1].id;
    ev.leave.instance_id = "i-b";
    ev.leave.member_epoch = ST_GROUP_EPOCH_STATIC_LEAVE;
    struct st_group_update up;
    tg_step(f.g, &f.log, &ev, &up);
    ck_assert_int_eq(up.hb.member_epoch, ST_GROUP_EPOCH_STATIC_LEAVE);
    tg_beat(f.g, &f.log, &f.c[0], 20000);
    tg_client_init(&f.c[1], "orders");
    f.c[1].instance = "i-b";
    tg_beat(f.g, &f.log, &f.c[1], 30000);
    /* it gets the same two partitions back at once, no epoch bump, */
    ck_assert_int_eq(f.c[1].error, ST_GROUP_OK);
    ck_assert_uint_eq(f.c[1].n_owned, 2);
    for (unsigned k = 0; k < 2; k++) {
        ck_assert(tg_client_owns(&before[1], "orders",
                                 f.c[1].owned[k].partition));
    }
    ck_assert_int_eq(st_group_epoch(f.g), epoch);
    ck_assert_str_ne(f.c[1].id, before[1].id);
    /* and the others keep theirs. */
    beat_all(3, 2, 31000);
    for (int i = 0; i < 3; i += 2) {
        ck_assert_uint_eq(f.c[i].n_owned, 2);
        ck_assert_int_eq(f.c[i].n_dropped, 0);
    }
    ck_assert_uint_eq(st_group_member_count(f.g), 3);
}
END_TEST

START_TEST(test_static_instance_held_by_live_member_is_refused)
{
    f.c[0].instance = "i-a";
    beat_all(1, 2, 2000);
    f.c[1].instance = "i-a";
    tg_beat(f.g, &f.log, &f.c[1], 3000);
    ck_assert_int_eq(f.c[1].error, ST_GROUP_UNRELEASED_INSTANCE_ID);
}
END_TEST

START_TEST(test_static_member_gone_past_session_timeout_is_removed)
{
    f.c[0].instance = "i-a";
    f.c[1].instance = "i-b";
    beat_all(2, 3, 2000);
    struct st_group_event ev = {.type = ST_GROUP_EV_LEAVE, .now_ms = 5000};
    ev.leave.member_id = f.c[1].id;
    ev.leave.instance_id = "i-b";
    ev.leave.member_epoch = ST_GROUP_EPOCH_STATIC_LEAVE;
    struct st_group_update up;
    tg_step(f.g, &f.log, &ev, &up);
    tg_beat(f.g, &f.log, &f.c[0], 40000);
    tg_tick(f.g, &f.log, 2000 + 45000);
    ck_assert_uint_eq(st_group_member_count(f.g), 1);
    tg_beat(f.g, &f.log, &f.c[0], 48000);
    tg_beat(f.g, &f.log, &f.c[0], 48001);
    ck_assert_uint_eq(f.c[0].n_owned, 6);
}
END_TEST

START_TEST(test_heartbeat_with_future_or_stale_epoch_is_fenced)
{
    beat_all(2, 3, 2000);
    struct tg_client c = f.c[0];
    c.epoch += 5;
    tg_beat(f.g, &f.log, &c, 3000);
    ck_assert_int_eq(c.error, ST_GROUP_FENCED_MEMBER_EPOCH);
    /* A third joins: epochs move; an epoch two behind is fenced. */
    tg_beat(f.g, &f.log, &f.c[2], 3000);
    beat_all(3, 3, 3001);
    c = f.c[0];
    c.epoch = 1;
    ck_assert_int_gt(f.c[0].epoch, 2);
    tg_beat(f.g, &f.log, &c, 3002);
    ck_assert_int_eq(c.error, ST_GROUP_FENCED_MEMBER_EPOCH);
    /* The fenced client rejoins with epoch 0 and the same member id and
     * gets its partitions back. */
    c.epoch = 0;
    c.n_owned = 0;
    tg_beat(f.g, &f.log, &c, 3003);
    ck_assert_int_eq(c.error, ST_GROUP_OK);
    ck_assert_uint_eq(c.n_owned, f.c[0].n_owned);
}
END_TEST

START_TEST(test_lost_response_with_previous_epoch_is_accepted)
{
    /* Given two settled consumers (three partitions each) and a third
     * joining, consumer 0 is told to revoke one partition, */
    beat_all(2, 3, 2000);
    tg_beat(f.g, &f.log, &f.c[2], 3000);
    tg_beat(f.g, &f.log, &f.c[0], 3001);
    ck_assert_uint_eq(f.c[0].n_owned, 2);
    /* when its confirming heartbeat's response (the new epoch) is lost, */
    struct tg_client lost = f.c[0];
    tg_beat(f.g, &f.log, &f.c[0], 3002);
    ck_assert_int_gt(f.c[0].epoch, lost.epoch);
    /* its next heartbeat at the previous epoch, owning a subset of its
     * assignment, is accepted and brings it to the new epoch. */
    tg_beat(f.g, &f.log, &lost, 3003);
    ck_assert_int_eq(lost.error, ST_GROUP_OK);
    ck_assert_int_eq(lost.epoch, f.c[0].epoch);
}
END_TEST

START_TEST(test_heartbeat_from_before_a_rejoin_is_fenced_and_frees_nothing)
{
    /* Given a consumer that joined alone (owns all six) and sent a
     * heartbeat at that epoch which the network holds back, */
    beat_all(1, 2, 2000);
    ck_assert_uint_eq(f.c[0].n_owned, 6);
    struct tg_client held = f.c[0];
    held.n_owned = 0; /* sent before its assignment reached it */
    /* when it fences itself, rejoins with epoch 0 under the same id and
     * gets its six back, and a second consumer joins, */
    f.c[0].epoch = 0;
    f.c[0].n_owned = 0;
    tg_beat(f.g, &f.log, &f.c[0], 3000);
    ck_assert_uint_eq(f.c[0].n_owned, 6);
    tg_beat(f.g, &f.log, &f.c[1], 3001);
    /* the held-back heartbeat of its previous tenure is fenced rather
     * than taken as "the new epoch was lost", */
    tg_beat(f.g, &f.log, &held, 3002);
    ck_assert_int_eq(held.error, ST_GROUP_FENCED_MEMBER_EPOCH);
    /* so its empty owned list frees nothing: the second consumer gets
     * only what the first has revoked. */
    tg_beat(f.g, &f.log, &f.c[1], 3003);
    assert_exclusive(2);
    beat_all(2, 3, 3004);
    assert_exclusive(2);
    ck_assert_uint_eq(f.c[0].n_owned + f.c[1].n_owned, 6);
    ck_assert_uint_eq(f.c[1].n_owned, 3);
}
END_TEST

START_TEST(test_ghosts_rebuilt_from_the_log_match_after_one_is_released)
{
    /* Given a group whose session outlasts the rebalance timeout (60 s),
     * three consumers settled on six partitions and three more joining, */
    st_group_free(f.g);
    f.cfg.session_timeout_ms = 120000;
    ck_assert_int_eq(st_group_new(&f.cfg, &f.g), 0);
    tg_metadata(f.g, &f.log, 1000, "orders", 6);
    beat_all(3, 3, 1000);
    for (int i = 3; i < 6; i++) {
        tg_beat(f.g, &f.log, &f.c[i], 2000);
    }
    /* when each of the first three is told to revoke one and never
     * confirms, they become ghosts at their rebalance timeout, */
    beat_all(3, 1, 2001);
    for (int i = 3; i < 6; i++) {
        tg_beat(f.g, &f.log, &f.c[i], 60000);
    }
    tg_tick(f.g, &f.log, 2001 + 60000);
    ck_assert_uint_eq(st_group_member_count(f.g), 3);
    /* and the one with the lowest member id rejoins (releasing its
     * ghost), */
    int low = 0;
    for (int i = 1; i < 3; i++) {
        if (strcmp(f.c[i].id, f.c[low].id) < 0) {
            low = i;
        }
    }
    f.c[low].epoch = 0;
    f.c[low].n_owned = 0;
    tg_beat(f.g, &f.log, &f.c[low], 62002);
    ck_assert_int_eq(f.c[low].error, ST_GROUP_OK);
    /* a coordinator rebuilding from the log holds the same state. */
    struct st_group *r = tg_replay(&f.cfg, &f.log, false, 62003);
    struct st_buf da, db;
    st_buf_init(&da);
    st_buf_init(&db);
    ck_assert_int_eq(st_group_dump(f.g, &da), 0);
    ck_assert_int_eq(st_group_dump(r, &db), 0);
    ck_assert_int_eq(st_buf_append(&da, "", 1), 0);
    ck_assert_int_eq(st_buf_append(&db, "", 1), 0);
    ck_assert_ptr_nonnull(strstr((char *)da.base, "ghost "));
    ck_assert_str_eq((char *)da.base, (char *)db.base);
    st_buf_close(&da);
    st_buf_close(&db);
    st_group_free(r);
}
END_TEST

START_TEST(test_unknown_member_and_bad_requests_are_answered)
{
    struct tg_client c;
    tg_client_init(&c, "orders");
    snprintf(c.id, sizeof c.id, "nobody");
    c.epoch = 3;
    tg_beat(f.g, &f.log, &c, 2000);
    ck_assert_int_eq(c.error, ST_GROUP_UNKNOWN_MEMBER_ID);
    tg_client_init(&c, "orders");
    c.n_topics = 0;
    tg_beat(f.g, &f.log, &c, 2000);
    ck_assert_int_eq(c.error, ST_GROUP_INVALID_REQUEST);
    ck_assert_uint_eq(st_group_member_count(f.g), 0);
}
END_TEST

START_TEST(test_regex_subscription_follows_new_topics)
{
    /* Given a member subscribed by regex "^or.*", */
    struct st_group_event ev = {.type = ST_GROUP_EV_HEARTBEAT, .now_ms = 2000};
    ev.heartbeat.member_epoch = 0;
    ev.heartbeat.has_subscription = true;
    ev.heartbeat.regex = "^or.*";
    ev.heartbeat.has_owned = true;
    struct st_group_update up;
    tg_step(f.g, &f.log, &ev, &up);
    ck_assert_uint_eq(up.hb.n_assignment, 6);
    char id[64];
    snprintf(id, sizeof id, "%s", up.hb.member_id);
    /* when a matching topic appears, the member gets its partitions too. */
    struct st_group_topic_meta tm[2] = {{.name = "orders", .partitions = 6},
                                        {.name = "ore", .partitions = 2}};
    tm[0].id[0] = 'o';
    tm[1].id[0] = 'x';
    struct st_group_event md = {.type = ST_GROUP_EV_METADATA, .now_ms = 2100};
    md.metadata.topics = tm;
    md.metadata.n_topics = 2;
    tg_step(f.g, &f.log, &md, &up);
    struct st_group_event hb = {.type = ST_GROUP_EV_HEARTBEAT, .now_ms = 2200};
    hb.heartbeat.member_id = id;
    hb.heartbeat.member_epoch = st_group_epoch(f.g) - 1;
    tg_step(f.g, &f.log, &hb, &up);
    ck_assert_int_eq(up.hb.error, ST_GROUP_OK);
    ck_assert_uint_eq(up.hb.n_assignment, 8);
}
END_TEST

START_TEST(test_topic_growing_partitions_bumps_epoch_and_assigns_them)
{
    beat_all(2, 3, 2000);
    int32_t e = st_group_epoch(f.g);
    tg_metadata(f.g, &f.log, 3000, "orders", 10);
    ck_assert_int_eq(st_group_epoch(f.g), e + 1);
    beat_all(2, 2, 3001);
    ck_assert_uint_eq(f.c[0].n_owned + f.c[1].n_owned, 10);
    ck_assert_uint_eq(f.c[0].n_owned, 5);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("group_membership");
    TCase *tc = tcase_create("membership");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_three_members_on_six_partitions_get_two_each);
    tcase_add_test(tc,
        test_fourth_member_takes_only_revoked_partitions_and_others_keep);
    tcase_add_test(tc, test_kept_partitions_are_never_dropped_during_rebalance);
    tcase_add_test(tc, test_new_owner_waits_until_previous_owner_revoked);
    tcase_add_test(tc,
        test_session_timeout_removes_silent_member_and_moves_partitions);
    tcase_add_test(tc,
        test_member_not_revoking_in_time_is_removed_and_its_partitions_held_until_session_end);
    tcase_add_test(tc, test_poll_timeout_leave_removes_member);
    tcase_add_test(tc,
        test_static_member_restart_gets_same_partitions_no_movement);
    tcase_add_test(tc, test_static_instance_held_by_live_member_is_refused);
    tcase_add_test(tc, test_static_member_gone_past_session_timeout_is_removed);
    tcase_add_test(tc, test_heartbeat_with_future_or_stale_epoch_is_fenced);
    tcase_add_test(tc, test_lost_response_with_previous_epoch_is_accepted);
    tcase_add_test(tc,
        test_heartbeat_from_before_a_rejoin_is_fenced_and_frees_nothing);
    tcase_add_test(tc,
        test_ghosts_rebuilt_from_the_log_match_after_one_is_released);
    tcase_add_test(tc, test_unknown_member_and_bad_requests_are_answered);
    tcase_add_test(tc, test_regex_subscription_follows_new_topics);
    tcase_add_test(tc,
        test_topic_growing_partitions_bumps_epoch_and_assigns_them);
    suite_add_tcase(s, tc);
    return s;
}
