/* The Raft term-and-vote file ("meta" in the store's directory).
 *
 * Internal to raft_store. The byte table is at the top of raft_meta.c.
 * Runs on: the store's thread.
 */
#ifndef RAFT_META_H
#define RAFT_META_H

#include <stddef.h>
#include <stdint.h>

#include "common/vfs.h"
#include "controller/raft/raft_types.h"

enum { RAFT_META_BYTES = 24 };

/* Encode @term and @vote into @out. */
void raft_meta_encode(uint8_t out[RAFT_META_BYTES], raft_term term,
                      raft_id vote);

/* Decode the @len bytes of @path read into @buf.
 * Errors: ST_ECORRUPT (logged with @path and the byte position) when the
 * size, magic, version or CRC is wrong. */
int raft_meta_decode(const char *path, const uint8_t *buf, size_t len,
                     raft_term *term, raft_id *vote);

/* Read @path. Errors: ST_ENOENT (no file: a fresh node), ST_ECORRUPT,
 * ST_EIO, ST_ENOMEM. */
int raft_meta_load(struct st_vfs *vfs, const char *path, raft_term *term,
                   raft_id *vote);

/* Replace @path atomically and durably (st_vfs_write_atomic): on return
 * the new term and vote survive a power loss; a crash before the return
 * leaves either the old or the new file. Errors: from the vfs. */
int raft_meta_save(struct st_vfs *vfs, const char *path, raft_term term,
                   raft_id vote);

#endif
