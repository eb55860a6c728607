/* Small state files written atomically with a CRC: high watermark, log
 * start offset, recovery point, leader-epoch cache, producer state.
 *
 * Layout (big-endian):
 *   0  4  magic "STCK"
 *   4  2  version (1)
 *   6  2  kind (enum st_checkpoint_kind; a file read as the wrong kind is
 *         corrupt)
 *   8  4  payload length
 *  12  .. payload
 *   .. 4  CRC32C of every byte before it
 * Files are replaced with st_vfs_write_atomic(), so a crash leaves the old
 * or the new contents, never a mix.
 * Runs on: any thread (no shared state).
 */
#ifndef ST_LOG_CHECKPOINT_H
#define ST_LOG_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

struct st_vfs;

enum st_checkpoint_kind {
    ST_CHECKPOINT_HW = 1,
    ST_CHECKPOINT_LOG_START = 2,
    ST_CHECKPOINT_RECOVERY_POINT = 3,
    ST_CHECKPOINT_EPOCHS = 4,
    ST_CHECKPOINT_PRODUCERS = 5,
};

#define ST_CHECKPOINT_OVERHEAD 16

/* Frame @len bytes of @payload as a checkpoint image into @out (reset
 * first). Errors: ST_ENOMEM. */
int st_checkpoint_encode(uint16_t kind, const void *payload, size_t len,
                         struct st_buf *out);
/* Check an image and point *payload into it. Errors: ST_ECORRUPT. */
int st_checkpoint_decode(uint16_t kind, const uint8_t *img, size_t len,
                         struct st_bytes *payload);
/* Write an encoded image durably and atomically to @path. */
int st_checkpoint_write(struct st_vfs *v, const char *path, uint16_t kind,
                        const void *payload, size_t len);
/* Read @path. Ownership: *img (st_free) holds the image, *payload points
 * into it. Errors: ST_ENOENT, ST_ECORRUPT (logged with the path), ST_EIO,
 * ST_ENOMEM. */
int st_checkpoint_read(struct st_vfs *v, const char *path, uint16_t kind,
                       uint8_t **img, struct st_bytes *payload);

/* One signed 64-bit value. */
int st_checkpoint_write_i64(struct st_vfs *v, const char *path,
                            uint16_t kind, int64_t value);
int st_checkpoint_read_i64(struct st_vfs *v, const char *path, uint16_t kind,
                           int64_t *value);

#endif
