/* libstrata's pure parts: configuration errors, error text, murmur2 test
 * vectors from the Java client, partitioner stickiness, sequences. */
#include <stdlib.h>
#include <string.h>

#include "client/lib/conf.h"
#include "client/lib/idempotence.h"
#include "client/lib/murmur2.h"
#include "client/lib/partitioner.h"
#include "common/err.h"
#include "strata.h"
#include "test_util.h"

START_TEST(test_conf_refuses_an_unknown_key_naming_it)
{
    strata_conf_t *c = strata_conf_new();
    char err[256];
    /* Given a misspelt key, */
    strata_conf_res_t r = strata_conf_set(c, "linger.msec", "5", err,
                                          sizeof err);
    /* it is refused as unknown and the message names it. */
    ck_assert_int_eq(r, STRATA_CONF_UNKNOWN);
    ck_assert_ptr_nonnull(strstr(err, "'linger.msec'"));
    strata_conf_destroy(c);
}
END_TEST

START_TEST(test_conf_refuses_a_bad_value_naming_key_and_choices)
{
    strata_conf_t *c = strata_conf_new();
    char err[256];
    ck_assert_int_eq(strata_conf_set(c, "acks", "fast", err, sizeof err),
                     STRATA_CONF_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "'acks'"));
    ck_assert_ptr_nonnull(strstr(err, "all"));
    ck_assert_int_eq(strata_conf_set(c, "linger.ms", "-3", err, sizeof err),
                     STRATA_CONF_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "'linger.ms'"));
    ck_assert_int_eq(strata_conf_set(c, "compression.type", "gzip", err,
                                     sizeof err),
                     STRATA_CONF_INVALID);
    ck_assert_int_eq(strata_conf_set(c, "bootstrap.servers", "nohostport",
                                     err, sizeof err),
                     STRATA_CONF_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "'bootstrap.servers'"));
    strata_conf_destroy(c);
}
END_TEST

START_TEST(test_conf_defaults_idempotence_on_and_murmur2)
{
    strata_conf_t *c = strata_conf_new();
    char buf[64];
    size_t n = sizeof buf;
    ck_assert_int_eq(strata_conf_get(c, "enable.idempotence", buf, &n), 0);
    ck_assert_str_eq(buf, "true");
    n = sizeof buf;
    ck_assert_int_eq(strata_conf_get(c, "partitioner", buf, &n), 0);
    ck_assert_str_eq(buf, "murmur2");
    n = sizeof buf;
    ck_assert_int_eq(strata_conf_get(c, "nope", buf, &n),
                     STRATA_CONF_UNKNOWN);
    strata_conf_destroy(c);
}
END_TEST

START_TEST(test_conf_resolve_requires_bootstrap_and_ca)
{
    strata_conf_t *c = strata_conf_new();
    struct cl_conf cc;
    char err[256];
    ck_assert_int_eq(cl_conf_resolve(c, &cc, err, sizeof err), ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "bootstrap.servers"));
    ck_assert_int_eq(strata_conf_set(c, "bootstrap.servers",
                                     "127.0.0.1:9092,localhost:9093", err,
                                     sizeof err),
                     STRATA_CONF_OK);
    ck_assert_int_eq(cl_conf_resolve(c, &cc, err, sizeof err), ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "ssl.ca.location"));
    ck_assert_int_eq(strata_conf_set(c, "ssl.ca.location", "/x/ca.pem", err,
                                     sizeof err),
                     STRATA_CONF_OK);
    ck_assert_int_eq(strata_conf_set(c, "acks", "1", err, sizeof err), 0);
    ck_assert_int_eq(strata_conf_set(c, "linger.ms", "2s", err, sizeof err),
                     0);
    /* A copy carries every key that was set. */
    strata_conf_t *d = strata_conf_dup(c);
    ck_assert_int_eq(cl_conf_resolve(d, &cc, err, sizeof err), 0);
    ck_assert_uint_eq(cc.bootstrap->n, 2);
    ck_assert_uint_eq(cc.bootstrap->v[1].port, 9093);
    ck_assert_int_eq(cc.acks, 1);
    ck_assert_uint_eq(cc.linger_ms, 2000);
    ck_assert(cc.idempotence);
    strata_conf_destroy(d);
    strata_conf_destroy(c);
}
END_TEST

START_TEST(test_err2str_tells_local_from_broker_errors)
{
    ck_assert_str_eq(strata_err2str(STRATA_ERR__QUEUE_FULL),
                     "Local: Queue full");
    ck_assert_str_eq(strata_err2str(STRATA_ERR_NOT_LEADER),
                     "Broker: Not leader for partition");
    ck_assert_str_eq(strata_err2name(STRATA_ERR__TIMED_OUT), "_TIMED_OUT");
    ck_assert_str_eq(strata_err2str((strata_resp_err_t)-17),
                     "Unknown error -17");
}
END_TEST

START_TEST(test_murmur2_matches_the_java_client_vectors)
{
    /* From Kafka's UtilsTest.testMurmur2. */
    static const struct {
        const char *in;
        int32_t want;
    } v[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ck_assert_int_eq((int32_t)cl_murmur2(v[i].in, strlen(v[i].in)),
                         v[i].want);
    }
}
END_TEST

START_TEST(test_same_key_always_maps_to_the_same_partition)
{
    struct cl_partitioner p;
    struct cl_sticky s;
    cl_partitioner_init(&p, CL_PART_MURMUR2, 7);
    cl_sticky_init(&s);
    int32_t first = cl_partitioner_pick(&p, &s, "user-42", 7, 12);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(cl_partitioner_pick(&p, &s, "user-42", 7, 12),
                         first);
    }
    /* Java: toPositive(murmur2("21")) % 12 */
    ck_assert_int_eq(cl_partitioner_pick(&p, &s, "21", 2, 12),
                     (int32_t)((uint32_t)-973932308 & 0x7fffffff) % 12);
}
END_TEST

START_TEST(test_null_keys_stick_until_the_batch_is_sent)
{
    struct cl_partitioner p;
    struct cl_sticky s;
    cl_partitioner_init(&p, CL_PART_MURMUR2, 1);
    cl_sticky_init(&s);
    /* Given null-key records, they all go to one partition, */
    int32_t a = cl_partitioner_pick(&p, &s, NULL, 0, 12);
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(cl_partitioner_pick(&p, &s, NULL, 0, 12), a);
    }
    /* when its batch is sent, the next record moves to another one, */
    for (int round = 0; round < 100; round++) {
        cl_partitioner_batch_sent(&s, a);
        int32_t b = cl_partitioner_pick(&p, &s, NULL, 0, 12);
        ck_assert_int_ne(b, a);
        ck_assert(b >= 0 && b < 12);
        a = b;
    }
    /* and another partition's batch leaving changes nothing. */
    cl_partitioner_batch_sent(&s, (a + 1) % 12);
    ck_assert_int_eq(cl_partitioner_pick(&p, &s, NULL, 0, 12), a);
}
END_TEST

START_TEST(test_sticky_rounds_cover_every_partition)
{
    struct cl_partitioner p;
    struct cl_sticky s;
    int seen[6] = {0};
    cl_partitioner_init(&p, CL_PART_MURMUR2, 3);
    cl_sticky_init(&s);
    for (int i = 0; i < 600; i++) {
        int32_t x = cl_partitioner_pick(&p, &s, NULL, 0, 6);
        seen[x]++;
        cl_partitioner_batch_sent(&s, x);
    }
    for (int i = 0; i < 6; i++) {
        ck_assert_int_gt(seen[i], 50);
    }
}
END_TEST

START_TEST(test_sequences_survive_retries_and_wrap)
{
    struct cl_idem_part s;
    struct cl_batch a = {.n = 3, .base_seq = -1};
    struct cl_batch b = {.n = 2, .base_seq = -1};
    cl_idem_part_init(&s);
    cl_idem_assign(&s, &a);
    cl_idem_assign(&s, &b);
    ck_assert_int_eq(a.base_seq, 0);
    ck_assert_int_eq(b.base_seq, 3);
    /* A resent batch keeps its sequence. */
    cl_idem_assign(&s, &a);
    ck_assert_int_eq(a.base_seq, 0);
    /* Acks must come in order. */
    ck_assert_int_eq(cl_idem_acked(&s, &b), ST_ESTALE);
    ck_assert_int_eq(cl_idem_acked(&s, &a), 0);
    ck_assert_int_eq(cl_idem_acked(&s, &b), 0);
    /* Sequences wrap past INT32_MAX to 0. */
    s.next_seq = INT32_MAX - 1;
    struct cl_batch c = {.n = 3, .base_seq = -1};
    cl_idem_assign(&s, &c);
    ck_assert_int_eq(c.base_seq, INT32_MAX - 1);
    ck_assert_int_eq(s.next_seq, 1);
}
END_TEST

START_TEST(test_topic_partition_list_grows_and_finds)
{
    strata_topic_partition_list_t *l = strata_topic_partition_list_new(1);
    for (int i = 0; i < 20; i++) {
        strata_topic_partition_list_add(l, "t", i)->offset = i * 10;
    }
    ck_assert_int_eq(l->cnt, 20);
    ck_assert_int_eq(strata_topic_partition_list_find(l, "t", 7)->offset, 70);
    ck_assert_ptr_null(strata_topic_partition_list_find(l, "u", 7));
    strata_topic_partition_list_destroy(l);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("client_pure");
    TCase *tc = tcase_create("client_pure");
    tcase_add_test(tc, test_conf_refuses_an_unknown_key_naming_it);
    tcase_add_test(tc, test_conf_refuses_a_bad_value_naming_key_and_choices);
    tcase_add_test(tc, test_conf_defaults_idempotence_on_and_murmur2);
    tcase_add_test(tc, test_conf_resolve_requires_bootstrap_and_ca);
    tcase_add_test(tc, test_err2str_tells_local_from_broker_errors);
    tcase_add_test(tc, test_murmur2_matches_the_java_client_vectors);
    tcase_add_test(tc, test_same_key_always_maps_to_the_same_partition);
    tcase_add_test(tc, test_null_keys_stick_until_the_batch_is_sent);
    tcase_add_test(tc, test_sticky_rounds_cover_every_partition);
    tcase_add_test(tc, test_sequences_survive_retries_and_wrap);
    tcase_add_test(tc, test_topic_partition_list_grows_and_finds);
    suite_add_tcase(s, tc);
    return s;
}
