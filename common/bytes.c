/* Growable byte buffers. */
#include "bytes.h"

#include <string.h>

#include "alloc.h"
#include "err.h"

void st_buf_init(struct st_buf *b)
{
    b->base = NULL;
    b->len = 0;
    b->cap = 0;
}

void st_buf_close(struct st_buf *b)
{
    if (b == NULL) {
        return;
    }
    st_free(b->base);
    st_buf_init(b);
}

int st_buf_reserve(struct st_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len) {
        return 0;
    }
    size_t need = b->len + extra;
    if (need < b->len) {
        return ST_ENOMEM;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *p = st_realloc(b->base, cap);
    if (p == NULL) {
        return ST_ENOMEM;
    }
    b->base = p;
    b->cap = cap;
    return 0;
}

int st_buf_append(struct st_buf *b, const void *p, size_t len)
{
    int rv = st_buf_reserve(b, len);
    if (rv != 0) {
        return rv;
    }
    if (len > 0) {
        memcpy(b->base + b->len, p, len);
    }
    b->len += len;
    return 0;
}

void st_buf_reset(struct st_buf *b)
{
    b->len = 0;
}
