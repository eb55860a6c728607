/* The RPC frame codec on contiguous bytes (DESIGN.md section 3).
 *
 *   offset  size  field
 *   0       4     frame_length   big-endian; bytes after this field
 *   4       4     header_length  big-endian; bytes of the protobuf Header
 *   8       H     header         strata.Header (proto/header.proto)
 *   8+H     P     payload        raw bytes, P = frame_length - 4 - H
 *
 * frame_length is checked against the reader's cap from the first four bytes,
 * before anything is allocated, so a peer cannot make us buffer a frame we
 * would refuse. This file knows nothing of sockets or libevent: the fuzzer
 * and the transport share it. Runs on: any thread (no shared state).
 */
#ifndef ST_FRAME_H
#define ST_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "header.pb-c.h"

/* frame_length + header_length. */
#define ST_FRAME_PREFIX_BYTES 8u

/* A frame found in a byte range. The views point into the caller's bytes
 * and are valid as long as those bytes are. */
struct st_frame {
    size_t total_bytes;     /* 4 + frame_length: what to consume */
    struct st_bytes header; /* the encoded protobuf Header */
    struct st_bytes payload;
};

/* Find the frame at the start of @p (@len bytes available), with frame_length
 * capped at @frame_bytes_max.
 * Returns 0 with *out filled when the whole frame is in @p.
 * Errors: ST_EAGAIN: more bytes are needed; out->total_bytes then says how
 *           many the frame needs in all (ST_FRAME_PREFIX_BYTES while the
 *           frame_length is not yet known), so a reader can wait for exactly
 *           that many;
 *         ST_ETOOBIG: frame_length > @frame_bytes_max (known from 4 bytes);
 *           out->total_bytes holds the announced size;
 *         ST_EPROTO: frame_length < 4 or header_length > frame_length - 4. */
int st_frame_peek(const uint8_t *p, size_t len, size_t frame_bytes_max,
                  struct st_frame *out);

/* Decode the protobuf Header of @frame.
 * Errors: ST_EPROTO (not a valid Header), ST_ENOMEM.
 * Ownership: on success *out is the caller's; st_frame_header_free() it
 * (in the same function: keep no pointers into it, copy what you keep). */
int st_frame_header_decode(const struct st_frame *frame,
                           Strata__Header **out);
/* NULL-safe. */
void st_frame_header_free(Strata__Header *hdr);

/* Bytes st_frame_encode_head() writes for @hdr: prefix + packed header. */
size_t st_frame_head_bytes(const Strata__Header *hdr);

/* Write the prefix and the packed @hdr for a frame whose payload will be
 * @payload_len bytes into @out, which has room for st_frame_head_bytes(@hdr).
 * The payload itself is appended by the caller (it may be sent by reference).
 * Errors: ST_ETOOBIG when the frame would not fit in a u32 frame_length. */
int st_frame_encode_head(const Strata__Header *hdr, size_t payload_len,
                         uint8_t *out);

/* Append one whole frame (prefix, @hdr, @payload) to @out.
 * Errors: ST_ETOOBIG (see above), ST_ENOMEM. @payload is copied. */
int st_frame_encode(struct st_buf *out, const Strata__Header *hdr,
                    struct st_bytes payload);

#endif
