/* Errors, byte buffers, allocation faults, clocks and log lines. */
#include <string.h>

#include "common/alloc.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/diag.h"
#include "common/err.h"
#include "test_util.h"

START_TEST(test_strerror_names_our_codes_and_errno)
{
    ck_assert_str_eq(st_strerror(ST_ECORRUPT), "data corrupt");
    ck_assert_str_eq(st_errname(ST_ECRC), "ST_ECRC");
    ck_assert_str_eq(st_strerror(ST_ENOENT), strerror(ENOENT));
    ck_assert_str_eq(st_strerror(-5000), "unknown error");
}
END_TEST

START_TEST(test_buf_grows_and_keeps_contents)
{
    struct st_buf b;
    st_buf_init(&b);
    for (int i = 0; i < 1000; i++) {
        uint8_t v = (uint8_t)i;
        ck_assert_int_eq(st_buf_append(&b, &v, 1), 0);
    }
    ck_assert_uint_eq(b.len, 1000);
    ck_assert_uint_eq(b.base[999], (uint8_t)999);
    st_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    st_buf_close(&b);
    st_buf_close(NULL);
}
END_TEST

START_TEST(test_alloc_fails_the_nth_call_then_recovers)
{
    /* Given the third allocation from now set to fail, */
    st_alloc_fail_after(2, 1);
    void *a = st_malloc(8), *b = st_malloc(8);
    /* when the third is made it fails, */
    void *c = st_malloc(8);
    /* and the fourth succeeds again. */
    void *d = st_malloc(8);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(d);
    st_free(a);
    st_free(b);
    st_free(d);
}
END_TEST

START_TEST(test_buf_reports_enomem)
{
    struct st_buf b;
    st_buf_init(&b);
    st_alloc_fail_after(0, 1);
    ck_assert_int_eq(st_buf_append(&b, "x", 1), ST_ENOMEM);
    ck_assert_int_eq(st_buf_append(&b, "x", 1), 0);
    st_buf_close(&b);
}
END_TEST

START_TEST(test_manual_clock_moves_only_when_told)
{
    struct st_clock_manual m;
    st_clock_manual_init(&m, 100, 5000);
    ck_assert_uint_eq(st_mono_ms(&m.base), 100);
    st_clock_manual_advance(&m, 50);
    ck_assert_uint_eq(st_mono_ms(&m.base), 150);
    ck_assert_int_eq(st_wall_ms(&m.base), 5050);
    uint64_t a = st_mono_ms(st_clock_real());
    ck_assert_uint_ge(st_mono_ms(st_clock_real()), a);
}
END_TEST

START_TEST(test_diag_parses_levels)
{
    enum st_level l;
    ck_assert_int_eq(st_diag_parse_level("warn", &l), 0);
    ck_assert_int_eq(l, ST_LEVEL_WARN);
    ck_assert_int_eq(st_diag_parse_level("loud", &l), ST_EINVAL);
    ck_assert_int_eq(ST_CORRUPT("/x/y.log", 42, "crc %08x", 7u), ST_ECORRUPT);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("base");
    TCase *tc = tcase_create("base");
    tcase_add_test(tc, test_strerror_names_our_codes_and_errno);
    tcase_add_test(tc, test_buf_grows_and_keeps_contents);
    tcase_add_test(tc, test_alloc_fails_the_nth_call_then_recovers);
    tcase_add_test(tc, test_buf_reports_enomem);
    tcase_add_test(tc, test_manual_clock_moves_only_when_told);
    tcase_add_test(tc, test_diag_parses_levels);
    suite_add_tcase(s, tc);
    return s;
}
