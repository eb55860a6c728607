/* The Raft term-and-vote file.
 *
 * Layout (24 bytes, big-endian), replaced whole by st_vfs_write_atomic():
 *   off size field
 *     0    4 magic      "RMET" (0x524d4554)
 *     4    4 version    1
 *     8    8 term       current term
 *    16    4 voted_for  raft_id voted for in term, 0 for none
 *    20    4 crc        CRC32C of bytes [0, 20)
 *
 * A missing file is a fresh node (term 0, no vote). A file of any other
 * size or with a bad CRC is corruption: the rename that installs it is
 * atomic, so a torn meta file cannot come from a crash.
 */
#include "controller/raft/raft_meta.h"

#include "common/alloc.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/diag.h"
#include "common/err.h"

#define META_MAGIC 0x524d4554u /* "RMET" */
#define META_VERSION 1u

void raft_meta_encode(uint8_t out[RAFT_META_BYTES], raft_term term,
                      raft_id vote)
{
    st_put_be32(out, META_MAGIC);
    st_put_be32(out + 4, META_VERSION);
    st_put_be64(out + 8, term);
    st_put_be32(out + 16, vote);
    st_put_be32(out + 20, st_crc32c(0, out, 20));
}

int raft_meta_decode(const char *path, const uint8_t *buf, size_t len,
                     raft_term *term, raft_id *vote)
{
    if (len != RAFT_META_BYTES) {
        return ST_CORRUPT(path, len < RAFT_META_BYTES ? len : RAFT_META_BYTES,
                          "meta file is %zu bytes, want %d", len,
                          RAFT_META_BYTES);
    }
    uint32_t want = st_get_be32(buf + 20);
    uint32_t got = st_crc32c(0, buf, 20);
    if (got != want) {
        return ST_CORRUPT(path, 20, "meta crc %08x != %08x", got, want);
    }
    if (st_get_be32(buf) != META_MAGIC) {
        return ST_CORRUPT(path, 0, "bad meta magic %08x", st_get_be32(buf));
    }
    if (st_get_be32(buf + 4) != META_VERSION) {
        return ST_CORRUPT(path, 4, "unsupported meta version %u",
                          st_get_be32(buf + 4));
    }
    *term = st_get_be64(buf + 8);
    *vote = st_get_be32(buf + 16);
    return 0;
}

int raft_meta_load(struct st_vfs *vfs, const char *path, raft_term *term,
                   raft_id *vote)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rv = st_vfs_read_all(vfs, path, &buf, &len);
    if (rv != 0) {
        return rv;
    }
    rv = raft_meta_decode(path, buf, len, term, vote);
    st_free(buf);
    return rv;
}

int raft_meta_save(struct st_vfs *vfs, const char *path, raft_term term,
                   raft_id vote)
{
    uint8_t buf[RAFT_META_BYTES];
    raft_meta_encode(buf, term, vote);
    return st_vfs_write_atomic(vfs, path, buf, sizeof buf);
}
