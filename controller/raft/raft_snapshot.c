/* Raft snapshot files.
 *
 * Layout (36 + n bytes, big-endian), installed whole by
 * st_vfs_write_atomic() (write .tmp, fsync, rename, fsync dir):
 *   off    size field
 *     0       4 magic    "RSNP" (0x52534e50)
 *     4       4 version  1
 *     8       8 index    last log index the snapshot covers (= file name)
 *    16       8 term     term of that entry
 *    24       8 n        payload bytes
 *    32       n data     the state machine's snapshot, opaque here
 *    32+n     4 crc      CRC32C of bytes [0, 32 + n)
 */
#include "controller/raft/raft_snapshot.h"

#include <inttypes.h>

#include "common/alloc.h"
#include "common/crc32c.h"
#include "common/diag.h"
#include "common/err.h"

#define SNAP_MAGIC 0x52534e50u /* "RSNP" */
#define SNAP_VERSION 1u
#define SNAP_HEADER 32

int raft_snap_encode(struct st_buf *out, raft_index index, raft_term term,
                     const void *data, size_t len)
{
    uint8_t hdr[SNAP_HEADER];
    uint8_t crc_be[4];

    st_buf_reset(out);
    int rv = st_buf_reserve(out, len + RAFT_SNAP_OVERHEAD);
    if (rv != 0) {
        return rv;
    }
    st_put_be32(hdr, SNAP_MAGIC);
    st_put_be32(hdr + 4, SNAP_VERSION);
    st_put_be64(hdr + 8, index);
    st_put_be64(hdr + 16, term);
    st_put_be64(hdr + 24, len);
    uint32_t crc = st_crc32c(st_crc32c(0, hdr, sizeof hdr), data, len);
    st_put_be32(crc_be, crc);
    /* Cannot fail: the room was reserved above. */
    (void)st_buf_append(out, hdr, sizeof hdr);
    (void)st_buf_append(out, data, len);
    (void)st_buf_append(out, crc_be, sizeof crc_be);
    return 0;
}

int raft_snap_decode(const char *path, const uint8_t *buf, size_t len,
                     raft_index index, raft_term *term,
                     struct st_bytes *data)
{
    if (len < RAFT_SNAP_OVERHEAD) {
        return ST_CORRUPT(path, len, "snapshot file too short (%zu bytes)",
                          len);
    }
    uint32_t want = st_get_be32(buf + len - 4);
    uint32_t got = st_crc32c(0, buf, len - 4);
    if (got != want) {
        return ST_CORRUPT(path, len - 4, "snapshot crc %08x != %08x", got,
                          want);
    }
    if (st_get_be32(buf) != SNAP_MAGIC) {
        return ST_CORRUPT(path, 0, "bad snapshot magic %08x",
                          st_get_be32(buf));
    }
    if (st_get_be32(buf + 4) != SNAP_VERSION) {
        return ST_CORRUPT(path, 4, "unsupported snapshot version %u",
                          st_get_be32(buf + 4));
    }
    if (st_get_be64(buf + 8) != index) {
        return ST_CORRUPT(path, 8, "snapshot index %" PRIu64
                          " differs from its name (%" PRIu64 ")",
                          st_get_be64(buf + 8), index);
    }
    if (st_get_be64(buf + 24) != len - RAFT_SNAP_OVERHEAD) {
        return ST_CORRUPT(path, 24, "snapshot length %" PRIu64
                          " differs from the file (%zu)",
                          st_get_be64(buf + 24), len - RAFT_SNAP_OVERHEAD);
    }
    *term = st_get_be64(buf + 16);
    if (index == 0 || *term == 0) {
        return ST_CORRUPT(path, 8, "snapshot index or term is 0");
    }
    data->base = buf + SNAP_HEADER;
    data->len = len - RAFT_SNAP_OVERHEAD;
    return 0;
}

int raft_snap_read(struct st_vfs *vfs, const char *path, raft_index index,
                   raft_term *term, uint8_t **buf, struct st_bytes *data)
{
    uint8_t *b = NULL;
    size_t len = 0;
    int rv = st_vfs_read_all(vfs, path, &b, &len);
    if (rv != 0) {
        return rv;
    }
    rv = raft_snap_decode(path, b, len, index, term, data);
    if (rv != 0) {
        st_free(b);
        return rv;
    }
    *buf = b;
    return 0;
}
