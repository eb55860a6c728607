/* Time index: increasing maximum timestamps -> rel_offset. */
#include "broker/log/index.h"

#include "common/alloc.h"
#include "common/bytes.h"
#include "common/err.h"

void st_time_index_init(struct st_time_index *tx)
{
    tx->e = NULL;
    tx->n = 0;
    tx->cap = 0;
}

void st_time_index_close(struct st_time_index *tx)
{
    st_free(tx->e);
    st_time_index_init(tx);
}

static int reserve(struct st_time_index *tx, size_t n)
{
    if (n <= tx->cap) {
        return 0;
    }
    size_t cap = tx->cap ? tx->cap * 2 : 32;
    while (cap < n) {
        cap *= 2;
    }
    struct st_time_entry *e = st_realloc(tx->e, cap * sizeof *e);
    if (e == NULL) {
        return ST_ENOMEM;
    }
    tx->e = e;
    tx->cap = cap;
    return 0;
}

int st_time_index_add(struct st_time_index *tx, int64_t ts, uint32_t rel)
{
    if (tx->n > 0 && (ts <= tx->e[tx->n - 1].timestamp_ms ||
                      rel <= tx->e[tx->n - 1].rel_offset)) {
        return 0;
    }
    int rv = reserve(tx, tx->n + 1);
    if (rv != 0) {
        return rv;
    }
    tx->e[tx->n].timestamp_ms = ts;
    tx->e[tx->n].rel_offset = rel;
    tx->n++;
    return 0;
}

uint32_t st_time_index_lookup(const struct st_time_index *tx, int64_t ts)
{
    size_t lo = 0, hi = tx->n; /* count of entries with timestamp < ts */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tx->e[mid].timestamp_ms < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? 0 : tx->e[lo - 1].rel_offset;
}

void st_time_index_truncate(struct st_time_index *tx, uint32_t rel)
{
    while (tx->n > 0 && tx->e[tx->n - 1].rel_offset >= rel) {
        tx->n--;
    }
}

int64_t st_time_index_max(const struct st_time_index *tx)
{
    return tx->n == 0 ? -1 : tx->e[tx->n - 1].timestamp_ms;
}

void st_time_index_encode(const struct st_time_index *tx, uint8_t *out)
{
    for (size_t i = 0; i < tx->n; i++) {
        st_put_be64(out + i * 12, (uint64_t)tx->e[i].timestamp_ms);
        st_put_be32(out + i * 12 + 8, tx->e[i].rel_offset);
    }
}

int st_time_index_decode(struct st_time_index *tx, const uint8_t *p,
                         size_t len, uint64_t rel_limit)
{
    if (len % ST_TIMEINDEX_ENTRY_BYTES != 0) {
        return ST_ECORRUPT;
    }
    size_t n = len / ST_TIMEINDEX_ENTRY_BYTES;
    tx->n = 0;
    int rv = reserve(tx, n);
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t ts = (int64_t)st_get_be64(p + i * 12);
        uint32_t rel = st_get_be32(p + i * 12 + 8);
        if (rel >= rel_limit ||
            (i > 0 && (ts <= tx->e[i - 1].timestamp_ms ||
                       rel <= tx->e[i - 1].rel_offset))) {
            tx->n = 0;
            return ST_ECORRUPT;
        }
        tx->e[i].timestamp_ms = ts;
        tx->e[i].rel_offset = rel;
        tx->n = i + 1;
    }
    return 0;
}
