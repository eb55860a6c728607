/* The CLI's log-bucketed latency histogram (client/cli/histogram.h). */
#include <stdlib.h>

#include "client/cli/histogram.h"
#include "test_util.h"

static struct cli_hist *h;

static void setup(void)
{
    h = malloc(sizeof *h);
    ck_assert_ptr_nonnull(h);
    cli_hist_init(h);
}

static void teardown(void)
{
    free(h);
}

START_TEST(test_small_values_are_exact)
{
    /* Given the values 1..100, */
    for (uint64_t v = 1; v <= 100; v++) {
        cli_hist_record(h, v);
    }
    /* the percentiles are the values themselves. */
    ck_assert_uint_eq(cli_hist_percentile(h, 50), 50);
    ck_assert_uint_eq(cli_hist_percentile(h, 99), 99);
    ck_assert_uint_eq(cli_hist_percentile(h, 100), 100);
    ck_assert_uint_eq(h->n, 100);
    ck_assert(cli_hist_mean(h) == 50.5);
}
END_TEST

START_TEST(test_large_values_are_within_one_percent)
{
    /* Given values spread over six decades, */
    uint64_t state = 7;
    struct cli_hist *one = malloc(sizeof *one);
    ck_assert_ptr_nonnull(one);
    for (int i = 0; i < 100000; i++) {
        uint64_t v = 1 + st_test_rand(&state) % 1000000000ull;
        cli_hist_record(h, v);
        /* a histogram of one value reports that value (the bucket's upper
         * end clamped to the max). */
        if (i % 1000 == 0) {
            cli_hist_init(one);
            cli_hist_record(one, v);
            uint64_t got = cli_hist_percentile(one, 50);
            ck_assert_uint_eq(got, v);
        }
    }
    free(one);
    /* and the median of a uniform spread is near the middle. */
    uint64_t p50 = cli_hist_percentile(h, 50);
    ck_assert_uint_gt(p50, 490000000ull);
    ck_assert_uint_lt(p50, 510000000ull);
    ck_assert_uint_le(cli_hist_percentile(h, 99.9), h->max);
}
END_TEST

START_TEST(test_bucket_bound_is_within_precision)
{
    /* Given two values in one bucket far above the exact range, */
    cli_hist_record(h, 1000000);
    cli_hist_record(h, 1000000000000ull);
    /* the 50th percentile is reported no lower than the value and at
     * most 1/128 above it. */
    uint64_t p = cli_hist_percentile(h, 50);
    ck_assert_uint_ge(p, 1000000);
    ck_assert_uint_le(p, 1000000 + 1000000 / 128);
    ck_assert_uint_eq(cli_hist_percentile(h, 100), 1000000000000ull);
}
END_TEST

START_TEST(test_merge_adds_counts_and_extremes)
{
    struct cli_hist *b = malloc(sizeof *b);
    cli_hist_init(b);
    cli_hist_record(h, 10);
    cli_hist_record(b, 5000);
    cli_hist_merge(h, b);
    ck_assert_uint_eq(h->n, 2);
    ck_assert_uint_eq(h->min, 10);
    ck_assert_uint_eq(h->max, 5000);
    ck_assert_uint_eq(cli_hist_percentile(h, 50), 10);
    free(b);
}
END_TEST

START_TEST(test_empty_histogram_reports_zero)
{
    ck_assert_uint_eq(cli_hist_percentile(h, 99), 0);
    ck_assert(cli_hist_mean(h) == 0.0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("cli_histogram");
    TCase *tc = tcase_create("histogram");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_small_values_are_exact);
    tcase_add_test(tc, test_large_values_are_within_one_percent);
    tcase_add_test(tc, test_bucket_bound_is_within_precision);
    tcase_add_test(tc, test_merge_adds_counts_and_extremes);
    tcase_add_test(tc, test_empty_histogram_reports_zero);
    suite_add_tcase(s, tc);
    return s;
}
