/* Regression tests for records the fuzz target
 * tests/fuzz/fuzz_group_records.c replayed into a group core: records that
 * decode but describe a state no live group writes must stop the rebuild
 * (ST_ECORRUPT) instead of leaving broken invariants or overflowing an
 * epoch later. */
#include "test_group_util.h"

/* A GROUP_META record for group "g": key u16 type 2 | str "g"; value
 * u16 version 0 | i32 group epoch | i32 target epoch | str "uniform". */
static void group_meta(int32_t group_epoch, int32_t target_epoch,
                       uint8_t key[5], uint8_t val[19])
{
    st_put_be16(key, 2);
    st_put_be16(key + 2, 1);
    key[4] = 'g';
    st_put_be16(val, 0);
    st_put_be32(val + 2, (uint32_t)group_epoch);
    st_put_be32(val + 6, (uint32_t)target_epoch);
    st_put_be16(val + 10, 7);
    memcpy(val + 12, "uniform", 7);
}

/* Replay one GROUP_META record and finish the load; the first error. */
static int replay_meta(int32_t group_epoch, int32_t target_epoch)
{
    struct st_group_config cfg = {.group_id = "g", .seed = 1};
    struct st_group *g;
    struct st_group_update up;
    uint8_t key[5], val[19];
    ck_assert_int_eq(st_group_new(&cfg, &g), 0);
    group_meta(group_epoch, target_epoch, key, val);
    struct st_group_event ev = {.type = ST_GROUP_EV_LOAD, .now_ms = 1000};
    ev.load.key = (struct st_bytes){key, sizeof key};
    ev.load.value = (struct st_bytes){val, sizeof val};
    int rv = st_group_step(g, &ev, &up);
    if (rv == 0) {
        struct st_group_event done = {.type = ST_GROUP_EV_LOAD_DONE,
                                      .now_ms = 1000};
        rv = st_group_step(g, &done, &up);
    }
    if (rv == 0) {
        char why[128];
        ck_assert_msg(st_group_check(g, why, sizeof why), "%s", why);
    }
    st_group_free(g);
    return rv;
}

START_TEST(test_replay_refuses_target_epoch_above_group_epoch)
{
    /* Given a GROUP_META record whose target epoch is above its group
     * epoch (fuzz_group_records: "target epoch 1056964609 > group epoch
     * 1"), when it is replayed, the rebuild stops. */
    ck_assert_int_eq(replay_meta(1, 1056964609), ST_ECORRUPT);
}
END_TEST

START_TEST(test_replay_refuses_epoch_near_int32_overflow)
{
    /* Given GROUP_META records with an epoch the next bump would overflow
     * (fuzz_group_records: UBSan in apply_bump and finish_step) or a
     * negative one, when they are replayed, the rebuild stops. */
    ck_assert_int_eq(replay_meta(INT32_MAX, 5), ST_ECORRUPT);
    ck_assert_int_eq(replay_meta(INT32_MAX - 1, 5), ST_ECORRUPT);
    ck_assert_int_eq(replay_meta(-3, -3), ST_ECORRUPT);
}
END_TEST

START_TEST(test_replay_accepts_ordinary_epochs)
{
    /* Given a GROUP_META record as a live group writes it, the replay
     * succeeds. */
    ck_assert_int_eq(replay_meta(7, 7), 0);
    ck_assert_int_eq(replay_meta(8, 7), 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("group_replay_damage");
    TCase *tc = tcase_create("fuzzed");
    tcase_add_test(tc, test_replay_refuses_target_epoch_above_group_epoch);
    tcase_add_test(tc, test_replay_refuses_epoch_near_int32_overflow);
    tcase_add_test(tc, test_replay_accepts_ordinary_epochs);
    suite_add_tcase(s, tc);
    return s;
}
