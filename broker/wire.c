/* Protobuf helpers (see wire.h). */
#include "broker/wire.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "controller.pb-c.h"

int st_pb_pack(const ProtobufCMessage *msg, struct st_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    st_buf_reset(out);
    int rv = st_buf_reserve(out, n + 1);
    if (rv != 0) {
        return rv;
    }
    out->len = protobuf_c_message_pack(msg, out->base);
    return 0;
}

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) {
            return ST_ECORRUPT;
        }
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return ST_ECORRUPT;
}

int st_pb_controller_info(struct st_bytes body, struct st_ctl_leader *out)
{
    memset(out, 0, sizeof *out);
    out->leader_id = -1;
    const uint8_t *p = body.base, *end = body.base + body.len;
    while (p < end) {
        uint64_t tag, len;
        if (varint(&p, end, &tag) != 0) {
            return ST_ECORRUPT;
        }
        switch (tag & 7) {
        case 0:
            if (varint(&p, end, &len) != 0) {
                return ST_ECORRUPT;
            }
            break;
        case 1:
        case 5: {
            size_t w = (tag & 7) == 1 ? 8 : 4;
            if ((size_t)(end - p) < w) {
                return ST_ECORRUPT;
            }
            p += w;
            break;
        }
        case 2:
            if (varint(&p, end, &len) != 0 || len > (uint64_t)(end - p)) {
                return ST_ECORRUPT;
            }
            if (tag >> 3 == 1) {
                Strata__Ctl__ControllerInfo *ci =
                    strata__ctl__controller_info__unpack(NULL, (size_t)len,
                                                         p);
                if (ci == NULL) {
                    return ST_ECORRUPT;
                }
                out->leader_id = ci->leader_id;
                snprintf(out->host, sizeof out->host, "%s",
                         ci->host ? ci->host : "");
                out->port = (uint16_t)ci->port;
                strata__ctl__controller_info__free_unpacked(ci, NULL);
                return 0;
            }
            p += len;
            break;
        default:
            return ST_ECORRUPT;
        }
    }
    return 0;
}
