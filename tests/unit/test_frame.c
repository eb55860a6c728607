/* The frame codec: u32 frame_length | u32 header_length | Header | payload. */
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/frame.h"
#include "test_util.h"

#define CAP (1u << 20)

static struct st_buf buf;

static void setup(void)
{
    st_buf_init(&buf);
}

static void teardown(void)
{
    st_buf_close(&buf);
}

static void encode_request(uint64_t corr, const char *body,
                           const char *payload)
{
    Strata__Header h = STRATA__HEADER__INIT;
    h.api = 7;
    h.version = 2;
    h.correlation_id = corr;
    h.body.data = (uint8_t *)body;
    h.body.len = strlen(body);
    struct st_bytes p = {(const uint8_t *)payload, strlen(payload)};
    ck_assert_int_eq(st_frame_encode(&buf, &h, p), 0);
}

START_TEST(test_encoded_frame_peeks_and_decodes_to_the_same_header)
{
    /* Given one encoded request with a body and a payload, */
    encode_request(42, "hello", "raw-bytes");
    /* when it is peeked and its header decoded, */
    struct st_frame f;
    Strata__Header *h = NULL;
    ck_assert_int_eq(st_frame_peek(buf.base, buf.len, CAP, &f), 0);
    ck_assert_int_eq(st_frame_header_decode(&f, &h), 0);
    /* then every field and the payload come back. */
    ck_assert_uint_eq(f.total_bytes, buf.len);
    ck_assert_uint_eq(h->api, 7);
    ck_assert_uint_eq(h->version, 2);
    ck_assert_uint_eq(h->correlation_id, 42);
    ck_assert_uint_eq(h->body.len, 5);
    ck_assert_mem_eq(h->body.data, "hello", 5);
    ck_assert_uint_eq(f.payload.len, 9);
    ck_assert_mem_eq(f.payload.base, "raw-bytes", 9);
    st_frame_header_free(h);
}
END_TEST

START_TEST(test_every_prefix_of_a_frame_asks_for_more_bytes)
{
    /* Given an encoded frame, */
    encode_request(1, "b", "payload");
    /* every strict prefix of it is ST_EAGAIN, and once the lengths are known
     * the peek says how many bytes the frame needs in all. */
    for (size_t n = 0; n < buf.len; n++) {
        struct st_frame f;
        ck_assert_int_eq(st_frame_peek(buf.base, n, CAP, &f), ST_EAGAIN);
        if (n >= ST_FRAME_PREFIX_BYTES) {
            ck_assert_uint_eq(f.total_bytes, buf.len);
        } else {
            ck_assert_uint_eq(f.total_bytes, ST_FRAME_PREFIX_BYTES);
        }
    }
}
END_TEST

START_TEST(test_two_frames_back_to_back_are_found_one_after_the_other)
{
    encode_request(1, "a", "");
    size_t first = buf.len;
    encode_request(2, "bb", "pp");
    struct st_frame f;
    ck_assert_int_eq(st_frame_peek(buf.base, buf.len, CAP, &f), 0);
    ck_assert_uint_eq(f.total_bytes, first);
    ck_assert_int_eq(st_frame_peek(buf.base + first, buf.len - first, CAP,
                                   &f), 0);
    ck_assert_uint_eq(f.payload.len, 2);
}
END_TEST

START_TEST(test_oversized_frame_is_refused_from_its_first_four_bytes)
{
    /* Given only the 4-byte length of a frame larger than the cap, */
    uint8_t p[4];
    st_put_be32(p, CAP + 1);
    /* when it is peeked, it is refused without waiting for the rest. */
    struct st_frame f;
    ck_assert_int_eq(st_frame_peek(p, sizeof p, CAP, &f), ST_ETOOBIG);
    ck_assert_uint_eq(f.total_bytes, 4 + (size_t)CAP + 1);
    /* A frame of exactly the cap is fine (more bytes needed). */
    st_put_be32(p, CAP);
    ck_assert_int_eq(st_frame_peek(p, sizeof p, CAP, &f), ST_EAGAIN);
}
END_TEST

START_TEST(test_header_length_past_the_frame_is_a_protocol_error)
{
    uint8_t p[16] = {0};
    st_put_be32(p, 12);      /* frame_length */
    st_put_be32(p + 4, 9);   /* header_length > 12 - 4 */
    struct st_frame f;
    ck_assert_int_eq(st_frame_peek(p, sizeof p, CAP, &f), ST_EPROTO);
    /* frame_length too small to hold header_length itself */
    st_put_be32(p, 3);
    ck_assert_int_eq(st_frame_peek(p, sizeof p, CAP, &f), ST_EPROTO);
}
END_TEST

START_TEST(test_header_that_is_not_protobuf_fails_to_decode)
{
    /* Given a frame whose header bytes are an invalid varint field, */
    uint8_t p[8 + 4] = {0};
    st_put_be32(p, 8);
    st_put_be32(p + 4, 4);
    memset(p + 8, 0xff, 4);
    struct st_frame f;
    ck_assert_int_eq(st_frame_peek(p, sizeof p, CAP, &f), 0);
    /* decoding it is ST_EPROTO and allocates nothing the caller must free. */
    Strata__Header *h = NULL;
    ck_assert_int_eq(st_frame_header_decode(&f, &h), ST_EPROTO);
    ck_assert_ptr_null(h);
}
END_TEST

START_TEST(test_empty_header_and_payload_decode_to_defaults)
{
    uint8_t p[8] = {0};
    st_put_be32(p, 4);
    struct st_frame f;
    Strata__Header *h = NULL;
    ck_assert_int_eq(st_frame_peek(p, sizeof p, CAP, &f), 0);
    ck_assert_int_eq(st_frame_header_decode(&f, &h), 0);
    ck_assert_uint_eq(h->api, 0);
    ck_assert_uint_eq(f.payload.len, 0);
    st_frame_header_free(h);
    st_frame_header_free(NULL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("codec");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_encoded_frame_peeks_and_decodes_to_the_same_header);
    tcase_add_test(tc, test_every_prefix_of_a_frame_asks_for_more_bytes);
    tcase_add_test(tc, test_two_frames_back_to_back_are_found_one_after_the_other);
    tcase_add_test(tc, test_oversized_frame_is_refused_from_its_first_four_bytes);
    tcase_add_test(tc, test_header_length_past_the_frame_is_a_protocol_error);
    tcase_add_test(tc, test_header_that_is_not_protobuf_fails_to_decode);
    tcase_add_test(tc, test_empty_header_and_payload_decode_to_defaults);
    suite_add_tcase(s, tc);
    return s;
}
