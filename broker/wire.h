/* Small protobuf helpers shared by the broker's RPC code: pack any
 * protobuf-c message into a reused buffer, and find the ControllerInfo that
 * every controller-family response carries as field 1 (so a NOT_CONTROLLER
 * answer of any API can be redirected without knowing its type).
 * Runs on: any thread (pure).
 */
#ifndef ST_BROKER_WIRE_H
#define ST_BROKER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "common/bytes.h"

/* Pack @msg into @out (reset first). Errors: ST_ENOMEM.
 * Ownership: @out is the caller's; its bytes are valid until reused. */
int st_pb_pack(const ProtobufCMessage *msg, struct st_buf *out);

/* The view of a packed @out. */
static inline struct st_bytes st_pb_view(const struct st_buf *out)
{
    struct st_bytes v = {out->base, out->len};
    return v;
}

struct st_ctl_leader {
    int32_t leader_id;   /* -1 unknown */
    char host[256];
    uint16_t port;
};

/* Decode field 1 (strata.ctl.ControllerInfo) of the controller response
 * @body. Returns 0 with *out filled (leader_id -1 when absent), or
 * ST_ECORRUPT when @body is not protobuf. */
int st_pb_controller_info(struct st_bytes body, struct st_ctl_leader *out);

#endif
