/* Sparse offset index: rel_offset -> position, binary searched. */
#include "broker/log/index.h"

#include <assert.h>

#include "common/alloc.h"
#include "common/bytes.h"
#include "common/err.h"

void st_offset_index_init(struct st_offset_index *ix)
{
    ix->e = NULL;
    ix->n = 0;
    ix->cap = 0;
}

void st_offset_index_close(struct st_offset_index *ix)
{
    st_free(ix->e);
    st_offset_index_init(ix);
}

static int reserve(struct st_offset_index *ix, size_t n)
{
    if (n <= ix->cap) {
        return 0;
    }
    size_t cap = ix->cap ? ix->cap * 2 : 64;
    while (cap < n) {
        cap *= 2;
    }
    struct st_index_entry *e = st_realloc(ix->e, cap * sizeof *e);
    if (e == NULL) {
        return ST_ENOMEM;
    }
    ix->e = e;
    ix->cap = cap;
    return 0;
}

int st_offset_index_add(struct st_offset_index *ix, uint32_t rel_offset,
                        uint32_t pos)
{
    assert(ix->n == 0 || (ix->e[ix->n - 1].rel_offset < rel_offset &&
                          ix->e[ix->n - 1].pos < pos));
    int rv = reserve(ix, ix->n + 1);
    if (rv != 0) {
        return rv;
    }
    ix->e[ix->n].rel_offset = rel_offset;
    ix->e[ix->n].pos = pos;
    ix->n++;
    return 0;
}

/* Number of entries with rel_offset <= @rel. */
static size_t count_le(const struct st_offset_index *ix, uint32_t rel)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->e[mid].rel_offset <= rel) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

uint32_t st_offset_index_lookup(const struct st_offset_index *ix,
                                uint32_t rel, uint32_t *entry_rel)
{
    size_t k = count_le(ix, rel);
    if (k == 0) {
        if (entry_rel != NULL) {
            *entry_rel = 0;
        }
        return 0;
    }
    if (entry_rel != NULL) {
        *entry_rel = ix->e[k - 1].rel_offset;
    }
    return ix->e[k - 1].pos;
}

void st_offset_index_truncate(struct st_offset_index *ix, uint32_t rel)
{
    if (rel == 0) {
        ix->n = 0;
        return;
    }
    ix->n = count_le(ix, rel - 1);
}

void st_offset_index_encode(const struct st_offset_index *ix, uint8_t *out)
{
    for (size_t i = 0; i < ix->n; i++) {
        st_put_be32(out + i * 8, ix->e[i].rel_offset);
        st_put_be32(out + i * 8 + 4, ix->e[i].pos);
    }
}

int st_offset_index_decode(struct st_offset_index *ix, const uint8_t *p,
                           size_t len, uint64_t log_size)
{
    if (len % ST_INDEX_ENTRY_BYTES != 0) {
        return ST_ECORRUPT;
    }
    size_t n = len / ST_INDEX_ENTRY_BYTES;
    ix->n = 0;
    int rv = reserve(ix, n);
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t rel = st_get_be32(p + i * 8);
        uint32_t pos = st_get_be32(p + i * 8 + 4);
        if (pos >= log_size ||
            (i > 0 && (rel <= ix->e[i - 1].rel_offset ||
                       pos <= ix->e[i - 1].pos))) {
            ix->n = 0;
            return ST_ECORRUPT;
        }
        ix->e[i].rel_offset = rel;
        ix->e[i].pos = pos;
        ix->n = i + 1;
    }
    return 0;
}
