/* zstd compression of whole buffers, with bounded output.
 *
 * The record section of a batch is compressed as one zstd frame
 * (proto/RECORD_FORMAT.md). This is the only file that calls libzstd and the
 * only place ZSTD_isError() is translated (to ST_ECOMPRESS).
 *
 * Runs on: any thread. A context is not shared between threads; it caches
 * zstd's (de)compression state so hot paths do not allocate per batch.
 */
#ifndef ST_COMPRESS_H
#define ST_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

struct st_zstd; /* opaque compression + decompression state */

/* Ownership: *out is the caller's; st_zstd_free() it. Errors: ST_ENOMEM. */
int st_zstd_new(struct st_zstd **out);
/* NULL-safe. */
void st_zstd_free(struct st_zstd *z);

/* Worst-case compressed size of @n input bytes. */
size_t st_zstd_bound(size_t n);

/* Compress @n bytes at @src as one zstd frame (with the content size in
 * its header), appending to @dst (grown as needed). @level 0 means zstd's
 * default. @z may be NULL (a temporary context is used).
 * Errors: ST_ENOMEM, ST_ECOMPRESS. On error @dst->len is unchanged. */
int st_zstd_compress(struct st_zstd *z, int level, const void *src, size_t n,
                     struct st_buf *dst);

/* Decompress the zstd frame(s) in @n bytes at @src, replacing @dst's
 * contents. Refuses to produce more than @max_out bytes (ST_ETOOBIG), also
 * when the frame header lies about its size. @z may be NULL.
 * Errors: ST_ETOOBIG, ST_ECOMPRESS (not valid zstd, truncated), ST_ENOMEM. */
int st_zstd_decompress(struct st_zstd *z, const void *src, size_t n,
                       size_t max_out, struct st_buf *dst);

#endif
