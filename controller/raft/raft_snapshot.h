/* Raft snapshot files ("snapshot-<20-digit index>.snap" in the store's
 * directory).
 *
 * Internal to raft_store. The byte table is at the top of raft_snapshot.c.
 * Runs on: the store's thread.
 */
#ifndef RAFT_SNAPSHOT_H
#define RAFT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "common/vfs.h"
#include "controller/raft/raft_types.h"

enum { RAFT_SNAP_OVERHEAD = 36 }; /* header + trailing crc */

/* Encode a snapshot of @len bytes at @data, taken at @index/@term, into
 * @out (reset first). Errors: ST_ENOMEM. */
int raft_snap_encode(struct st_buf *out, raft_index index, raft_term term,
                     const void *data, size_t len);

/* Check the @len bytes read from @path, which by its name holds the
 * snapshot at @index. On success *term is set and *data views the payload
 * inside @buf. Errors: ST_ECORRUPT (logged with @path and position). */
int raft_snap_decode(const char *path, const uint8_t *buf, size_t len,
                     raft_index index, raft_term *term,
                     struct st_bytes *data);

/* Read and check @path (snapshot at @index). On success *buf is a heap
 * buffer the caller frees with st_free(), and *data views into it.
 * Errors: ST_ENOENT, ST_ECORRUPT, ST_EIO, ST_ENOMEM. */
int raft_snap_read(struct st_vfs *vfs, const char *path, raft_index index,
                   raft_term *term, uint8_t **buf, struct st_bytes *data);

#endif
