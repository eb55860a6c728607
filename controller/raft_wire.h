/* The wire form of Raft messages (proto/raft.proto) <-> struct raft_msg.
 * Pure: no I/O. Runs on: any thread. */
#ifndef ST_RAFT_WIRE_H
#define ST_RAFT_WIRE_H

#include "common/bytes.h"
#include "controller/raft/raft.h"
#include "raft.pb-c.h"

/* Append the encoded RaftMessage for @m (tagged with @cluster_id) to @out.
 * Errors: ST_ENOMEM. */
int st_raft_wire_encode(const struct raft_msg *m, const char *cluster_id,
                        struct st_buf *out);

/* Decode @len bytes at @buf. On success *msg is filled with views into
 * *pb and *entries (both the caller's: free with st_raft_wire_free()), and
 * *cluster_id points into *pb.
 * Errors: ST_ECORRUPT (does not decode, unknown type or no body),
 * ST_ENOMEM. */
int st_raft_wire_decode(const uint8_t *buf, size_t len, struct raft_msg *msg,
                        const char **cluster_id,
                        Strata__Raft__RaftMessage **pb,
                        struct raft_entry **entries);

/* NULL-safe. */
void st_raft_wire_free(Strata__Raft__RaftMessage *pb,
                       struct raft_entry *entries);

#endif
