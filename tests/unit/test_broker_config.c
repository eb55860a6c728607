/* strata-broker's configuration: schema checks, log-config mapping, the
 * log-dir stamp; and the ControllerInfo finder used for redirects. */
#include <stdio.h>
#include <string.h>

#include "broker/broker_config.h"
#include "broker/log/log.h"
#include "broker/wire.h"
#include "common/err.h"
#include "controller.pb-c.h"
#include "test_util.h"

static struct {
    char dir[256];
    char path[512];
    struct st_conf *conf;
    char err[512];
} f;

/* A config file with every required key, plus @extra lines. */
static void write_conf(const char *extra)
{
    char pem[600];
    snprintf(pem, sizeof pem, "%s/x.pem", f.dir);
    FILE *p = fopen(pem, "w");
    ck_assert_ptr_nonnull(p);
    fputs("not read here\n", p);
    fclose(p);
    snprintf(f.path, sizeof f.path, "%s/b.properties", f.dir);
    FILE *c = fopen(f.path, "w");
    ck_assert_ptr_nonnull(c);
    fprintf(c, "node.id=4\nlisteners=127.0.0.1:9092\n"
               "controller.quorum.voters=1@127.0.0.1:9093\n"
               "log.dirs=%s/d1, %s/d2\n"
               "tls.ca.file=%s\ntls.cert.file=%s\ntls.key.file=%s\n%s",
            f.dir, f.dir, pem, pem, pem, extra);
    fclose(c);
}

static void setup(void)
{
    memset(&f, 0, sizeof f);
    st_test_tmpdir(f.dir, sizeof f.dir);
}

static void teardown(void)
{
    st_conf_free(f.conf);
    st_test_rmdir(f.dir);
}

START_TEST(test_load_refuses_an_unknown_key_naming_it)
{
    /* Given a file with a misspelt key, */
    write_conf("log.flush.polcy=batch\n");
    /* loading refuses it and names the key and line. */
    ck_assert_int_eq(st_broker_config_load(f.path, NULL, 0, &f.conf, f.err,
                                           sizeof f.err), ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "log.flush.polcy"));
    ck_assert_ptr_nonnull(strstr(f.err, ":8"));
}
END_TEST

START_TEST(test_set_overrides_win_and_bad_values_are_named)
{
    write_conf("");
    char *sets[] = {"num.partitions=7"};
    ck_assert_int_eq(st_broker_config_load(f.path, sets, 1, &f.conf, f.err,
                                           sizeof f.err), 0);
    ck_assert_int_eq(st_conf_int(f.conf, "num.partitions"), 7);
    st_conf_free(f.conf);
    f.conf = NULL;
    char *bad[] = {"log.flush.policy=sometimes"};
    ck_assert_int_eq(st_broker_config_load(f.path, bad, 1, &f.conf, f.err,
                                           sizeof f.err), ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "log.flush.policy"));
}
END_TEST

START_TEST(test_heartbeat_must_be_below_half_the_session_timeout)
{
    write_conf("broker.heartbeat.interval.ms=5s\n"
               "broker.session.timeout.ms=9s\n");
    ck_assert_int_eq(st_broker_config_load(f.path, NULL, 0, &f.conf, f.err,
                                           sizeof f.err), ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "broker.heartbeat.interval.ms"));
}
END_TEST

START_TEST(test_log_config_maps_broker_keys_and_topic_overrides)
{
    /* Given broker defaults, */
    write_conf("segment.bytes=64MiB\nlog.flush.policy=none\n"
               "retention.ms=-1\nmax.message.bytes=2048\n");
    ck_assert_int_eq(st_broker_config_load(f.path, NULL, 0, &f.conf, f.err,
                                           sizeof f.err), 0);
    struct st_log_config lc;
    st_broker_log_config(f.conf, &lc);
    ck_assert_uint_eq(lc.segment_bytes, 64u << 20);
    ck_assert_int_eq(lc.flush_policy, ST_LOG_FLUSH_NONE);
    ck_assert_int_eq(lc.retention_ms, -1);
    ck_assert_uint_eq(lc.max_message_bytes, 2048);
    /* topic overrides apply on top, bad values are refused, unknown keys
     * are left to others. */
    ck_assert_int_eq(st_broker_log_config_set(&lc, "segment.bytes", "4096"),
                     0);
    ck_assert_uint_eq(lc.segment_bytes, 4096);
    ck_assert_int_eq(st_broker_log_config_set(&lc, "cleanup.policy",
                                              "compact"), 0);
    ck_assert_uint_eq(lc.cleanup_policy, ST_LOG_CLEANUP_COMPACT);
    ck_assert_int_eq(st_broker_log_config_set(&lc, "retention.ms", "x"),
                     ST_ECONFIG);
    ck_assert_int_eq(st_broker_log_config_set(&lc, "compression.type",
                                              "zstd"), 1);
}
END_TEST

START_TEST(test_format_stamps_every_log_dir_once)
{
    write_conf("");
    ck_assert_int_eq(st_broker_config_load(f.path, NULL, 0, &f.conf, f.err,
                                           sizeof f.err), 0);
    char cid[ST_BROKER_CLUSTER_ID_MAX + 1];
    /* Unformatted dirs are refused, */
    ck_assert_int_eq(st_broker_stamp_check(f.conf, cid, f.err, sizeof f.err),
                     ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "not formatted"));
    /* formatting stamps both, and is idempotent for the same cluster, */
    ck_assert_int_eq(st_broker_format(f.conf, "c-1", f.err, sizeof f.err), 0);
    ck_assert_int_eq(st_broker_format(f.conf, "c-1", f.err, sizeof f.err), 0);
    ck_assert_int_eq(st_broker_stamp_check(f.conf, cid, f.err, sizeof f.err),
                     0);
    ck_assert_str_eq(cid, "c-1");
    /* but another cluster id is refused, naming the owner. */
    ck_assert_int_eq(st_broker_format(f.conf, "c-2", f.err, sizeof f.err),
                     ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "c-1"));
    ck_assert_int_eq(st_broker_format(f.conf, "bad id!", f.err, sizeof f.err),
                     ST_ECONFIG);
}
END_TEST

START_TEST(test_controller_info_is_found_in_any_controller_response)
{
    /* Given a CreateTopicsResponse naming the leader, */
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    ci.leader_id = 2;
    ci.host = "10.0.0.2";
    ci.port = 9093;
    Strata__Ctl__CreateTopicResult tr = STRATA__CTL__CREATE_TOPIC_RESULT__INIT;
    Strata__Ctl__CreateTopicResult *trs[1] = {&tr};
    tr.name = "t";
    Strata__Ctl__CreateTopicsResponse m =
        STRATA__CTL__CREATE_TOPICS_RESPONSE__INIT;
    m.topics = trs;
    m.n_topics = 1;
    m.controller = &ci;
    uint8_t buf[256];
    size_t n = strata__ctl__create_topics_response__pack(&m, buf);
    /* the redirect finder reads it without knowing the type, */
    struct st_ctl_leader l;
    ck_assert_int_eq(st_pb_controller_info((struct st_bytes){buf, n}, &l), 0);
    ck_assert_int_eq(l.leader_id, 2);
    ck_assert_str_eq(l.host, "10.0.0.2");
    ck_assert_uint_eq(l.port, 9093);
    /* an empty body means "unknown", and garbage is refused. */
    ck_assert_int_eq(st_pb_controller_info((struct st_bytes){buf, 0}, &l), 0);
    ck_assert_int_eq(l.leader_id, -1);
    uint8_t junk[] = {0x0a, 0x7f, 0x01};
    ck_assert_int_eq(st_pb_controller_info((struct st_bytes){junk, 3}, &l),
                     ST_ECORRUPT);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("broker_config");
    TCase *tc = tcase_create("broker_config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_load_refuses_an_unknown_key_naming_it);
    tcase_add_test(tc, test_set_overrides_win_and_bad_values_are_named);
    tcase_add_test(tc, test_heartbeat_must_be_below_half_the_session_timeout);
    tcase_add_test(tc, test_log_config_maps_broker_keys_and_topic_overrides);
    tcase_add_test(tc, test_format_stamps_every_log_dir_once);
    tcase_add_test(tc, test_controller_info_is_found_in_any_controller_response);
    suite_add_tcase(s, tc);
    return s;
}
