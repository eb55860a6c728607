/* CRC32C: the hardware and table implementations agree with the standard
 * vectors and with each other. */
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "test_util.h"

/* Known answers (RFC 3720 appendix B.4 and the usual "check" value). */
static const struct {
    const char *name;
    size_t len;
    uint8_t fill; /* every byte, unless @ascending */
    int ascending;
    uint32_t crc;
} vectors[] = {
    {"empty", 0, 0, 0, 0x00000000},
    {"32 zeros", 32, 0x00, 0, 0x8A9136AA},
    {"32 0xff", 32, 0xff, 0, 0x62A8AB43},
    {"0..31", 32, 0, 1, 0x46DD794E},
};

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static const struct {
    const char *name;
    crc_fn fn;
} impls[] = {
    {"sw", st_crc32c_sw},
    {"hw", st_crc32c_hw},
    {"dispatch", st_crc32c},
};
#define N_IMPLS (sizeof impls / sizeof impls[0])

START_TEST(test_check_value_of_123456789_is_e3069283)
{
    /* Given the standard check input, every implementation gives the
     * standard check value (_i picks the implementation). */
    uint32_t c = impls[_i].fn(0, "123456789", 9);
    ck_assert_msg(c == 0xE3069283u, "%s: %08x", impls[_i].name, c);
}
END_TEST

START_TEST(test_known_vectors_match_rfc3720)
{
    for (size_t v = 0; v < sizeof vectors / sizeof vectors[0]; v++) {
        uint8_t buf[32];
        for (size_t i = 0; i < vectors[v].len; i++) {
            buf[i] = vectors[v].ascending ? (uint8_t)i : vectors[v].fill;
        }
        uint32_t c = impls[_i].fn(0, buf, vectors[v].len);
        ck_assert_msg(c == vectors[v].crc, "%s %s: %08x != %08x",
                      impls[_i].name, vectors[v].name, c, vectors[v].crc);
    }
    /* A NULL pointer with length 0 is allowed and changes nothing. */
    ck_assert_uint_eq(impls[_i].fn(0x1234, NULL, 0), 0x1234);
}
END_TEST

START_TEST(test_crc_extends_piece_by_piece)
{
    /* Given a CRC computed in two pieces at every split point, */
    const char *s = "123456789";
    for (size_t cut = 0; cut <= 9; cut++) {
        uint32_t c = impls[_i].fn(0, s, cut);
        c = impls[_i].fn(c, s + cut, 9 - cut);
        /* it equals the CRC of the whole. */
        ck_assert_uint_eq(c, 0xE3069283u);
    }
}
END_TEST

START_TEST(test_hw_and_sw_agree_on_every_length_and_alignment)
{
    /* Given random buffers of lengths 0..100 at each of 8 start offsets,
     * in exact-size heap copies so ASan catches any overread, */
    uint64_t seed = 42;
    for (size_t len = 0; len <= 100; len++) {
        for (size_t shift = 0; shift < 8; shift++) {
            uint8_t *raw = malloc(len + shift + 1);
            ck_assert_ptr_nonnull(raw);
            for (size_t i = 0; i < len + shift; i++) {
                raw[i] = (uint8_t)st_test_rand(&seed);
            }
            const uint8_t *p = raw + shift;
            /* the table and hardware versions give the same CRC. */
            uint32_t sw = st_crc32c_sw(0, p, len);
            ck_assert_uint_eq(st_crc32c_hw(0, p, len), sw);
            ck_assert_uint_eq(st_crc32c(0, p, len), sw);
            free(raw);
        }
    }
}
END_TEST

START_TEST(test_hw_and_sw_agree_on_large_random_buffers)
{
    uint64_t seed = 7;
    for (int round = 0; round < 20; round++) {
        size_t len = (size_t)(st_test_rand(&seed) % 70000);
        uint8_t *p = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(p);
        for (size_t i = 0; i < len; i++) {
            p[i] = (uint8_t)st_test_rand(&seed);
        }
        uint32_t init = (uint32_t)st_test_rand(&seed);
        ck_assert_uint_eq(st_crc32c_hw(init, p, len),
                          st_crc32c_sw(init, p, len));
        free(p);
    }
}
END_TEST

START_TEST(test_hw_is_available_on_x86_with_sse42)
{
#if defined(__x86_64__)
    /* Not an assertion of speed, only that detection works where the CPU
     * flag is known: a mismatch here means the fast path is never used. */
    __builtin_cpu_init();
    ck_assert_int_eq(st_crc32c_hw_available(),
                     __builtin_cpu_supports("sse4.2") != 0);
#endif
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("crc32c");
    tcase_add_loop_test(tc, test_check_value_of_123456789_is_e3069283, 0,
                        N_IMPLS);
    tcase_add_loop_test(tc, test_known_vectors_match_rfc3720, 0, N_IMPLS);
    tcase_add_loop_test(tc, test_crc_extends_piece_by_piece, 0, N_IMPLS);
    tcase_add_test(tc, test_hw_and_sw_agree_on_every_length_and_alignment);
    tcase_add_test(tc, test_hw_and_sw_agree_on_large_random_buffers);
    tcase_add_test(tc, test_hw_is_available_on_x86_with_sse42);
    suite_add_tcase(s, tc);
    return s;
}
