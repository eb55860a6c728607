/* CRC-framed checkpoint files, replaced atomically. */
#include "broker/log/checkpoint.h"

#include <string.h>

#include "common/alloc.h"
#include "common/crc32c.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"

#define MAGIC 0x5354434bu /* "STCK" */
#define VERSION 1

int st_checkpoint_encode(uint16_t kind, const void *payload, size_t len,
                         struct st_buf *out)
{
    uint8_t hdr[12];
    st_buf_reset(out);
    st_put_be32(hdr, MAGIC);
    st_put_be16(hdr + 4, VERSION);
    st_put_be16(hdr + 6, kind);
    st_put_be32(hdr + 8, (uint32_t)len);
    int rv = st_buf_reserve(out, len + ST_CHECKPOINT_OVERHEAD);
    if (rv != 0) {
        return rv;
    }
    st_buf_append(out, hdr, sizeof hdr);
    st_buf_append(out, payload, len);
    uint8_t crc[4];
    st_put_be32(crc, st_crc32c(0, out->base, out->len));
    st_buf_append(out, crc, sizeof crc);
    return 0;
}

int st_checkpoint_decode(uint16_t kind, const uint8_t *img, size_t len,
                         struct st_bytes *payload)
{
    if (len < ST_CHECKPOINT_OVERHEAD || st_get_be32(img) != MAGIC ||
        st_get_be16(img + 4) != VERSION || st_get_be16(img + 6) != kind) {
        return ST_ECORRUPT;
    }
    size_t plen = st_get_be32(img + 8);
    if (plen != len - ST_CHECKPOINT_OVERHEAD) {
        return ST_ECORRUPT;
    }
    if (st_crc32c(0, img, len - 4) != st_get_be32(img + len - 4)) {
        return ST_ECORRUPT;
    }
    payload->base = img + 12;
    payload->len = plen;
    return 0;
}

int st_checkpoint_write(struct st_vfs *v, const char *path, uint16_t kind,
                        const void *payload, size_t len)
{
    struct st_buf b;
    st_buf_init(&b);
    int rv = st_checkpoint_encode(kind, payload, len, &b);
    if (rv == 0) {
        rv = st_vfs_write_atomic(v, path, b.base, b.len);
    }
    st_buf_close(&b);
    return rv;
}

int st_checkpoint_read(struct st_vfs *v, const char *path, uint16_t kind,
                       uint8_t **img, struct st_bytes *payload)
{
    size_t len = 0;
    int rv = st_vfs_read_all(v, path, img, &len);
    if (rv != 0) {
        return rv;
    }
    rv = st_checkpoint_decode(kind, *img, len, payload);
    if (rv != 0) {
        st_free(*img);
        *img = NULL;
        return ST_CORRUPT(path, 0, "checkpoint kind %u unreadable (%zu bytes)",
                          kind, len);
    }
    return 0;
}

int st_checkpoint_write_i64(struct st_vfs *v, const char *path,
                            uint16_t kind, int64_t value)
{
    uint8_t p[8];
    st_put_be64(p, (uint64_t)value);
    return st_checkpoint_write(v, path, kind, p, sizeof p);
}

int st_checkpoint_read_i64(struct st_vfs *v, const char *path, uint16_t kind,
                           int64_t *value)
{
    uint8_t *img = NULL;
    struct st_bytes pl;
    int rv = st_checkpoint_read(v, path, kind, &img, &pl);
    if (rv != 0) {
        return rv;
    }
    if (pl.len != 8) {
        st_free(img);
        return ST_CORRUPT(path, 12, "payload %zu bytes, want 8", pl.len);
    }
    *value = (int64_t)st_get_be64(pl.base);
    st_free(img);
    return 0;
}
