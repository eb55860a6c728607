/* libFuzzer target for the RPC frame decoder (common/frame.h).
 *
 * The input is read as a byte stream the way the transport reads a
 * connection: frame after frame with st_frame_peek() under a 64 KiB cap,
 * each header decoded with st_frame_header_decode(). Every header that
 * decodes is encoded again with its payload, and the copy must peek and
 * decode to the same fields (round trip). libFuzzer hands us an exact-size
 * buffer, so ASan reports any read past the input. No libevent here: the
 * target links frame.c alone.
 *
 * With STRATA_FUZZ_SEED_DIR=<dir> set, the program writes a few valid
 * streams there as seeds and exits (tests/fuzz/run-fuzz.sh does this once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/frame.h"

#define CAP (64u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct st_buf copy;

static void check_round_trip(const Strata__Header *h, struct st_bytes payload)
{
    st_buf_reset(&copy);
    if (st_frame_encode(&copy, h, payload) != 0) {
        abort(); /* it came from a frame under the cap: it must fit */
    }
    struct st_frame f;
    Strata__Header *again = NULL;
    if (st_frame_peek(copy.base, copy.len, CAP + 64, &f) != 0 ||
        f.total_bytes != copy.len || st_frame_header_decode(&f, &again) != 0) {
        abort();
    }
    if (again->kind != h->kind || again->api != h->api ||
        again->version != h->version ||
        again->correlation_id != h->correlation_id ||
        again->error != h->error ||
        strcmp(again->error_message, h->error_message) != 0 ||
        again->body.len != h->body.len ||
        (h->body.len && memcmp(again->body.data, h->body.data,
                               h->body.len) != 0) ||
        f.payload.len != payload.len ||
        (payload.len && memcmp(f.payload.base, payload.base,
                               payload.len) != 0)) {
        abort();
    }
    st_frame_header_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        struct st_frame f;
        int rv = st_frame_peek(data + off, size - off, CAP, &f);
        if (rv != 0) {
            if (rv != ST_EAGAIN && rv != ST_ETOOBIG && rv != ST_EPROTO) {
                abort();
            }
            break;
        }
        if (f.total_bytes > size - off || f.total_bytes < 8 ||
            f.header.len + f.payload.len + 8 != f.total_bytes) {
            abort();
        }
        Strata__Header *h = NULL;
        if (st_frame_header_decode(&f, &h) == 0) {
            check_round_trip(h, f.payload);
            st_frame_header_free(h);
        }
        off += f.total_bytes;
    }
    return 0;
}

static void write_seed(const char *dir, const char *name, struct st_buf *b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (fp != NULL) {
        fwrite(b->base, 1, b->len, fp);
        fclose(fp);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("STRATA_FUZZ_SEED_DIR");
    if (dir == NULL || dir[0] == '\0') {
        return 0;
    }
    struct st_buf b;
    st_buf_init(&b);
    Strata__Header h = STRATA__HEADER__INIT;
    h.api = 1;
    h.version = 1;
    h.correlation_id = 7;
    h.body.data = (uint8_t *)"\x0a\x03" "abc";
    h.body.len = 5;
    st_frame_encode(&b, &h, (struct st_bytes){(const uint8_t *)"payload", 7});
    write_seed(dir, "request", &b);
    h.kind = STRATA__FRAME_KIND__FRAME_RESPONSE;
    h.error = 4;
    h.error_message = "unknown api 1";
    st_frame_encode(&b, &h, (struct st_bytes){NULL, 0});
    write_seed(dir, "two-frames", &b);
    st_buf_close(&b);
    exit(0);
}
