/* Byte views and growable buffers.
 *
 * struct st_bytes is a borrowed view: it never owns its memory. struct st_buf
 * owns a heap buffer that grows by doubling; hot paths reuse one st_buf
 * (st_buf_reset) rather than allocate per record.
 */
#ifndef ST_BYTES_H
#define ST_BYTES_H

#include <stddef.h>
#include <stdint.h>

struct st_bytes {
    const uint8_t *base;
    size_t len;
};

struct st_buf {
    uint8_t *base;
    size_t len;
    size_t cap;
};

/* Initialise an empty buffer in caller's memory. No allocation. */
void st_buf_init(struct st_buf *b);
/* Free the buffer's memory; the struct may be re-initialised. NULL-safe. */
void st_buf_close(struct st_buf *b);
/* Make room for @extra more bytes. Errors: ST_ENOMEM. */
int st_buf_reserve(struct st_buf *b, size_t extra);
/* Append @len bytes from @p. Errors: ST_ENOMEM. */
int st_buf_append(struct st_buf *b, const void *p, size_t len);
/* Forget the contents, keep the memory. */
void st_buf_reset(struct st_buf *b);

/* Big-endian and little-endian fixed-width helpers; @p must have room. */
static inline void st_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}
static inline uint32_t st_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline void st_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v;
}
static inline uint16_t st_get_be16(const uint8_t *p)
{
    return (uint16_t)(((uint16_t)p[0] << 8) | p[1]);
}
static inline void st_put_be64(uint8_t *p, uint64_t v)
{
    st_put_be32(p, (uint32_t)(v >> 32));
    st_put_be32(p + 4, (uint32_t)v);
}
static inline uint64_t st_get_be64(const uint8_t *p)
{
    return ((uint64_t)st_get_be32(p) << 32) | st_get_be32(p + 4);
}

#endif
