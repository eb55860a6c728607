/* strata-controller's configuration checks and data directory stamp. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "controller/controller_config.h"
#include "test_util.h"

static struct {
    char dir[256];
    char path[300];
    char err[1024];
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    st_test_tmpdir(f.dir, sizeof f.dir);
    snprintf(f.path, sizeof f.path, "%s/c.properties", f.dir);
}

static void teardown(void)
{
    st_test_rmdir(f.dir);
}

/* Write a valid config for node 1 plus @extra lines. */
static void write_conf(const char *extra)
{
    const char *certs = st_test_certs_dir();
    FILE *out = fopen(f.path, "w");
    ck_assert_ptr_nonnull(out);
    fprintf(out, "node.id=1\ncontroller.quorum.voters=1@127.0.0.1:1,"
            "2@127.0.0.1:2\nlisteners=127.0.0.1:1\ndata.dir=%s/data\n"
            "tls.ca.file=%s/ca.pem\ntls.cert.file=%s/node1.pem\n"
            "tls.key.file=%s/node1.key\n%s", f.dir, certs, certs, certs,
            extra);
    fclose(out);
}

static int load(const char *extra, char **sets, size_t n)
{
    struct st_conf *c = NULL;
    write_conf(extra);
    int rv = st_ctl_config_load(f.path, sets, n, &c, f.err, sizeof f.err);
    st_conf_free(c);
    return rv;
}

START_TEST(test_valid_config_loads_with_documented_defaults)
{
    struct st_conf *c;
    write_conf("");
    ck_assert_int_eq(st_ctl_config_load(f.path, NULL, 0, &c, f.err,
                                        sizeof f.err), 0);
    ck_assert_uint_eq(st_conf_ms(c, "broker.session.timeout.ms"), 1500);
    ck_assert_uint_eq(st_conf_ms(c, "controller.election.timeout.ms"), 300);
    st_conf_free(c);
}
END_TEST

START_TEST(test_bad_configs_are_refused_naming_the_problem)
{
    ck_assert_int_eq(load("log.flush.polcy=1\n", NULL, 0), ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "unknown key 'log.flush.polcy'"));
    ck_assert_int_eq(load("metadata.snapshot.max.records=lots\n", NULL, 0),
                     ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "metadata.snapshot.max.records"));
    char *set[] = {"node.id=3"};
    ck_assert_int_eq(load("", set, 1), ST_ECONFIG);
    ck_assert_str_eq(f.err, "node.id 3 is not in controller.quorum.voters");
    ck_assert_int_eq(load("tls.ca.file=/nonexistent/ca.pem\n", NULL, 0),
                     ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "tls.ca.file: cannot read"));
    ck_assert_int_eq(load("controller.heartbeat.interval.ms=200ms\n", NULL,
                          0), ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "controller.heartbeat.interval.ms"));
}
END_TEST

START_TEST(test_format_stamps_an_empty_dir_and_refuses_others)
{
    char data[300];
    snprintf(data, sizeof data, "%s/data", f.dir);
    struct st_ctl_stamp st;
    /* Not formatted yet: */
    ck_assert_int_eq(st_ctl_stamp_read(data, 1, "", &st, f.err,
                                       sizeof f.err), ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "is not formatted"));
    /* formatted for cluster A, node 1: */
    ck_assert_int_eq(st_ctl_format(data, "A", 1, f.err, sizeof f.err), 0);
    ck_assert_int_eq(st_ctl_stamp_read(data, 1, "A", &st, f.err,
                                       sizeof f.err), 0);
    ck_assert_str_eq(st.cluster_id, "A");
    /* another cluster or node id is refused, */
    ck_assert_int_eq(st_ctl_stamp_read(data, 1, "B", &st, f.err,
                                       sizeof f.err), ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "belongs to cluster 'A'"));
    ck_assert_int_eq(st_ctl_stamp_read(data, 2, "", &st, f.err,
                                       sizeof f.err), ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "formatted for node.id 1"));
    /* and formatting again, for any cluster, is refused. */
    ck_assert_int_eq(st_ctl_format(data, "B", 1, f.err, sizeof f.err),
                     ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "belongs to cluster 'A'"));
    ck_assert_int_eq(st_ctl_format(data, "A", 1, f.err, sizeof f.err),
                     ST_ECONFIG);
    ck_assert_ptr_nonnull(strstr(f.err, "not empty"));
    ck_assert_int_eq(st_ctl_format(data, "bad id!", 1, f.err, sizeof f.err),
                     ST_ECONFIG);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("ctl_config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_valid_config_loads_with_documented_defaults);
    tcase_add_test(tc, test_bad_configs_are_refused_naming_the_problem);
    tcase_add_test(tc, test_format_stamps_an_empty_dir_and_refuses_others);
    suite_add_tcase(s, tc);
    return s;
}
