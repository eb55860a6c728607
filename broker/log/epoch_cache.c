/* Leader epoch -> start offset, with truncation from either end. */
#include "broker/log/epoch_cache.h"

#include <string.h>

#include "common/alloc.h"
#include "common/err.h"

void st_epoch_cache_init(struct st_epoch_cache *c)
{
    memset(c, 0, sizeof *c);
}

void st_epoch_cache_close(struct st_epoch_cache *c)
{
    st_free(c->e);
    st_epoch_cache_init(c);
}

static int reserve(struct st_epoch_cache *c, size_t n)
{
    if (n <= c->cap) {
        return 0;
    }
    size_t cap = c->cap ? c->cap * 2 : 8;
    while (cap < n) {
        cap *= 2;
    }
    struct st_epoch_entry *e = st_realloc(c->e, cap * sizeof *e);
    if (e == NULL) {
        return ST_ENOMEM;
    }
    c->e = e;
    c->cap = cap;
    return 0;
}

int st_epoch_cache_assign(struct st_epoch_cache *c, int32_t epoch,
                          int64_t start_offset)
{
    if (epoch < 0 || (c->n > 0 && epoch <= c->e[c->n - 1].epoch)) {
        return 0;
    }
    st_epoch_cache_truncate_end(c, start_offset);
    int rv = reserve(c, c->n + 1);
    if (rv != 0) {
        return rv;
    }
    c->e[c->n].epoch = epoch;
    c->e[c->n].start_offset = start_offset;
    c->n++;
    c->dirty = true;
    return 0;
}

int32_t st_epoch_cache_latest(const struct st_epoch_cache *c)
{
    return c->n == 0 ? -1 : c->e[c->n - 1].epoch;
}

void st_epoch_cache_end_offset(const struct st_epoch_cache *c, int32_t epoch,
                               int64_t log_end, int32_t *out_epoch,
                               int64_t *out_end)
{
    *out_epoch = -1;
    *out_end = -1;
    for (size_t i = c->n; i-- > 0;) {
        if (c->e[i].epoch <= epoch) {
            *out_epoch = c->e[i].epoch;
            *out_end = i + 1 < c->n ? c->e[i + 1].start_offset : log_end;
            return;
        }
    }
}

void st_epoch_cache_truncate_end(struct st_epoch_cache *c, int64_t end_offset)
{
    while (c->n > 0 && c->e[c->n - 1].start_offset >= end_offset) {
        c->n--;
        c->dirty = true;
    }
}

void st_epoch_cache_truncate_start(struct st_epoch_cache *c, int64_t start)
{
    size_t drop = 0;
    while (drop + 1 < c->n && c->e[drop + 1].start_offset <= start) {
        drop++;
    }
    if (drop > 0) {
        memmove(c->e, c->e + drop, (c->n - drop) * sizeof *c->e);
        c->n -= drop;
        c->dirty = true;
    }
    if (c->n > 0 && c->e[0].start_offset < start) {
        c->e[0].start_offset = start;
        c->dirty = true;
    }
}

void st_epoch_cache_clear(struct st_epoch_cache *c)
{
    if (c->n > 0) {
        c->dirty = true;
    }
    c->n = 0;
}

int st_epoch_cache_encode(const struct st_epoch_cache *c, struct st_buf *out)
{
    st_buf_reset(out);
    int rv = st_buf_reserve(out, 4 + c->n * 12);
    if (rv != 0) {
        return rv;
    }
    st_put_be32(out->base, (uint32_t)c->n);
    for (size_t i = 0; i < c->n; i++) {
        st_put_be32(out->base + 4 + i * 12, (uint32_t)c->e[i].epoch);
        st_put_be64(out->base + 8 + i * 12, (uint64_t)c->e[i].start_offset);
    }
    out->len = 4 + c->n * 12;
    return 0;
}

int st_epoch_cache_decode(struct st_epoch_cache *c, const uint8_t *p,
                          size_t len)
{
    if (len < 4) {
        return ST_ECORRUPT;
    }
    size_t n = st_get_be32(p);
    if (len != 4 + n * 12) {
        return ST_ECORRUPT;
    }
    c->n = 0;
    int rv = reserve(c, n);
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t epoch = (int32_t)st_get_be32(p + 4 + i * 12);
        int64_t start = (int64_t)st_get_be64(p + 8 + i * 12);
        if (epoch < 0 || (i > 0 && (epoch <= c->e[i - 1].epoch ||
                                    start <= c->e[i - 1].start_offset))) {
            c->n = 0;
            return ST_ECORRUPT;
        }
        c->e[i].epoch = epoch;
        c->e[i].start_offset = start;
        c->n = i + 1;
    }
    c->dirty = false;
    return 0;
}
