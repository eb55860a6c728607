/* libstrata handles without a cluster: creation errors, wrong-handle
 * calls, QUEUE_FULL, delivery reports that say why when no broker answers,
 * and close/destroy within their deadline. Real threads and a real
 * (refused) TCP connection on 127.0.0.1, so waits are bounded, short. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata.h"
#include "test_util.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static strata_conf_t *conf_unreachable(void)
{
    char p[512], err[256];
    strata_conf_t *c = strata_conf_new();
    /* Port 1 on loopback: nothing listens, connections are refused. */
    ck_assert_int_eq(strata_conf_set(c, "bootstrap.servers", "127.0.0.1:1",
                                     err, sizeof err),
                     0);
    snprintf(p, sizeof p, "%s/ca.pem", st_test_certs_dir());
    ck_assert_int_eq(strata_conf_set(c, "ssl.ca.location", p, err,
                                     sizeof err),
                     0);
    return c;
}

static struct {
    int reports;
    strata_resp_err_t err;
    char errstr[512];
} dr;

static void on_dr(strata_t *rk, const strata_message_t *m, void *opaque)
{
    dr.reports++;
    dr.err = m->err;
    snprintf(dr.errstr, sizeof dr.errstr, "%s", m->errstr);
}

START_TEST(test_new_names_a_missing_ca_file)
{
    char err[512];
    strata_conf_t *c = conf_unreachable();
    ck_assert_int_eq(strata_conf_set(c, "ssl.ca.location", "/nope/ca.pem",
                                     err, sizeof err),
                     0);
    /* Given a CA path that does not exist, creation fails naming it, */
    ck_assert_ptr_null(strata_new(STRATA_PRODUCER, c, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "/nope/ca.pem"));
    /* and the caller still owns the configuration. */
    strata_conf_destroy(c);
}
END_TEST

START_TEST(test_consumer_calls_on_a_producer_are_refused)
{
    char err[512];
    strata_t *rk = strata_new(STRATA_PRODUCER, conf_unreachable(), err,
                              sizeof err);
    ck_assert_ptr_nonnull(rk);
    strata_topic_partition_list_t *l = strata_topic_partition_list_new(1);
    strata_topic_partition_list_add(l, "t", 0);
    ck_assert_int_eq(strata_assign(rk, l), STRATA_ERR__STATE);
    ck_assert_ptr_null(strata_consumer_poll(rk, 0));
    strata_topic_partition_list_destroy(l);
    strata_destroy(rk);

    rk = strata_new(STRATA_CONSUMER, conf_unreachable(), err, sizeof err);
    ck_assert_int_eq(strata_produce(rk, "t", 0, NULL, 0, "v", 1, NULL, 0,
                                    STRATA_MSG_F_COPY, NULL),
                     STRATA_ERR__STATE);
    ck_assert_int_eq(strata_subscribe(rk, NULL), STRATA_ERR__INVALID_ARG);
    /* no group.id: nothing to commit to */
    ck_assert_int_eq(strata_commit(rk, NULL, 0), STRATA_ERR__STATE);
    strata_destroy(rk);
}
END_TEST

START_TEST(test_queue_full_when_the_message_limit_is_reached)
{
    char err[512];
    strata_conf_t *c = conf_unreachable();
    ck_assert_int_eq(strata_conf_set(c, "queue.buffering.max.messages", "5",
                                     err, sizeof err),
                     0);
    strata_t *rk = strata_new(STRATA_PRODUCER, c, err, sizeof err);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(strata_produce(rk, "t", STRATA_PARTITION_ANY, "k", 1,
                                        "v", 1, NULL, 0, STRATA_MSG_F_COPY,
                                        NULL),
                         0);
    }
    ck_assert_int_eq(strata_produce(rk, "t", STRATA_PARTITION_ANY, "k", 1,
                                    "v", 1, NULL, 0, STRATA_MSG_F_COPY, NULL),
                     STRATA_ERR__QUEUE_FULL);
    ck_assert_int_eq(strata_outq_len(rk), 5);
    strata_destroy(rk);
}
END_TEST

START_TEST(test_undeliverable_records_are_reported_with_a_reason)
{
    char err[512];
    strata_conf_t *c = conf_unreachable();
    ck_assert_int_eq(strata_conf_set(c, "delivery.timeout.ms", "300", err,
                                     sizeof err),
                     0);
    strata_conf_set_dr_msg_cb(c, on_dr);
    memset(&dr, 0, sizeof dr);
    strata_t *rk = strata_new(STRATA_PRODUCER, c, err, sizeof err);
    /* Given records for a cluster nobody answers for, */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(strata_produce(rk, "t", STRATA_PARTITION_ANY, NULL,
                                        0, "v", 1, NULL, 0,
                                        STRATA_MSG_F_COPY, NULL),
                         0);
    }
    /* when delivery.timeout.ms passes, flush sees every report, */
    ck_assert_int_eq(strata_flush(rk, 5000), 0);
    ck_assert_int_eq(dr.reports, 3);
    /* each saying what went wrong. */
    ck_assert_int_eq(dr.err, STRATA_ERR__MSG_TIMED_OUT);
    ck_assert_ptr_nonnull(strstr(dr.errstr, "no metadata"));
    ck_assert_ptr_nonnull(strstr(dr.errstr, "127.0.0.1:1"));
    strata_destroy(rk);
}
END_TEST

START_TEST(test_close_returns_by_its_deadline_and_reports_the_rest)
{
    char err[512];
    strata_conf_t *c = conf_unreachable();
    strata_conf_set_dr_msg_cb(c, on_dr);
    memset(&dr, 0, sizeof dr);
    strata_t *rk = strata_new(STRATA_PRODUCER, c, err, sizeof err);
    char *owned = malloc(4);
    memcpy(owned, "free", 4);
    ck_assert_int_eq(strata_produce(rk, "t", 0, NULL, 0, owned, 4, NULL, 0,
                                    STRATA_MSG_F_FREE, NULL),
                     0);
    int64_t t0 = now_ms();
    ck_assert_int_eq(strata_close(rk, 200), STRATA_ERR__TIMED_OUT);
    int64_t took = now_ms() - t0;
    ck_assert_int_ge(took, 190);
    ck_assert_int_lt(took, 1000);
    /* The record got its __DESTROY report (and its value was freed). */
    ck_assert_int_eq(dr.reports, 1);
    ck_assert_int_eq(dr.err, STRATA_ERR__DESTROY);
    ck_assert_int_eq(strata_produce(rk, "t", 0, NULL, 0, "v", 1, NULL, 0,
                                    STRATA_MSG_F_COPY, NULL),
                     STRATA_ERR__STATE);
    strata_destroy(rk);
}
END_TEST

START_TEST(test_wait_ready_fails_clearly_without_a_broker)
{
    char err[512];
    strata_t *rk = strata_new(STRATA_ADMIN, conf_unreachable(), err,
                              sizeof err);
    int64_t t0 = now_ms();
    ck_assert_int_eq(strata_wait_ready(rk, 300, err, sizeof err),
                     STRATA_ERR__ALL_BROKERS_DOWN);
    ck_assert_int_lt(now_ms() - t0, 800);
    ck_assert_ptr_nonnull(strstr(err, "127.0.0.1:1"));
    /* Admin calls give up by their timeout too. */
    strata_metadata_t *md = NULL;
    t0 = now_ms();
    ck_assert_int_eq(strata_admin_list_topics(rk, &md, 200, err, sizeof err),
                     STRATA_ERR__ALL_BROKERS_DOWN);
    ck_assert_int_lt(now_ms() - t0, 700);
    ck_assert_ptr_null(md);
    strata_destroy(rk);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("client_handle");
    TCase *tc = tcase_create("client_handle");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_new_names_a_missing_ca_file);
    tcase_add_test(tc, test_consumer_calls_on_a_producer_are_refused);
    tcase_add_test(tc, test_queue_full_when_the_message_limit_is_reached);
    tcase_add_test(tc, test_undeliverable_records_are_reported_with_a_reason);
    tcase_add_test(tc,
        test_close_returns_by_its_deadline_and_reports_the_rest);
    tcase_add_test(tc, test_wait_ready_fails_clearly_without_a_broker);
    suite_add_tcase(s, tc);
    return s;
}
