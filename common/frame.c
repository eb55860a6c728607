/* The RPC frame codec: see frame.h for the byte layout. */
#include "common/frame.h"

#include <protobuf-c/protobuf-c.h>

#include "common/alloc.h"
#include "common/err.h"

int st_frame_peek(const uint8_t *p, size_t len, size_t frame_bytes_max,
                  struct st_frame *out)
{
    out->total_bytes = ST_FRAME_PREFIX_BYTES;
    out->header = (struct st_bytes){NULL, 0};
    out->payload = (struct st_bytes){NULL, 0};
    if (len < 4) {
        return ST_EAGAIN;
    }
    uint32_t frame_len = st_get_be32(p);
    /* Decide on the size from the first four bytes, before anyone buffers
     * the rest of the frame. */
    if (frame_len > frame_bytes_max) {
        out->total_bytes = 4 + (size_t)frame_len;
        return ST_ETOOBIG;
    }
    if (frame_len < 4) {
        return ST_EPROTO;
    }
    if (len < ST_FRAME_PREFIX_BYTES) {
        return ST_EAGAIN;
    }
    uint32_t header_len = st_get_be32(p + 4);
    if (header_len > frame_len - 4) {
        return ST_EPROTO;
    }
    out->total_bytes = 4 + (size_t)frame_len;
    if (len < out->total_bytes) {
        return ST_EAGAIN;
    }
    out->header = (struct st_bytes){p + ST_FRAME_PREFIX_BYTES, header_len};
    out->payload = (struct st_bytes){p + ST_FRAME_PREFIX_BYTES + header_len,
                                     (size_t)frame_len - 4 - header_len};
    return 0;
}

int st_frame_header_decode(const struct st_frame *frame, Strata__Header **out)
{
    /* protobuf-c needs a non-NULL pointer even for an empty message. */
    static const uint8_t empty[1];
    const uint8_t *base = frame->header.len > 0 ? frame->header.base : empty;
    Strata__Header *hdr = strata__header__unpack(NULL, frame->header.len, base);
    if (hdr == NULL) {
        /* protobuf-c does not tell a parse error from a failed allocation;
         * both mean the frame is unusable, and the peer's bytes are the
         * likelier culprit. */
        return ST_EPROTO;
    }
    *out = hdr;
    return 0;
}

void st_frame_header_free(Strata__Header *hdr)
{
    if (hdr != NULL) {
        strata__header__free_unpacked(hdr, NULL);
    }
}

size_t st_frame_head_bytes(const Strata__Header *hdr)
{
    return ST_FRAME_PREFIX_BYTES + strata__header__get_packed_size(hdr);
}

int st_frame_encode_head(const Strata__Header *hdr, size_t payload_len,
                         uint8_t *out)
{
    size_t header_len = strata__header__get_packed_size(hdr);
    size_t frame_len = 4 + header_len + payload_len;
    if (frame_len > UINT32_MAX || frame_len < payload_len) {
        return ST_ETOOBIG;
    }
    st_put_be32(out, (uint32_t)frame_len);
    st_put_be32(out + 4, (uint32_t)header_len);
    size_t packed = strata__header__pack(hdr, out + ST_FRAME_PREFIX_BYTES);
    (void)packed;
    return 0;
}

int st_frame_encode(struct st_buf *out, const Strata__Header *hdr,
                    struct st_bytes payload)
{
    size_t head = st_frame_head_bytes(hdr);
    int rv = st_buf_reserve(out, head + payload.len);
    if (rv != 0) {
        return rv;
    }
    rv = st_frame_encode_head(hdr, payload.len, out->base + out->len);
    if (rv != 0) {
        return rv;
    }
    out->len += head;
    if (payload.len > 0) {
        return st_buf_append(out, payload.base, payload.len);
    }
    return 0;
}
