/* Producer id -> epoch and last batch sequences, for idempotent dedup. */
#include "broker/log/producer_state.h"

#include <string.h>

#include "common/alloc.h"
#include "common/batch.h"
#include "common/err.h"

void st_producer_state_init(struct st_producer_state *ps)
{
    memset(ps, 0, sizeof *ps);
}

void st_producer_state_close(struct st_producer_state *ps)
{
    st_free(ps->slots);
    st_producer_state_init(ps);
}

static size_t slot_of(int64_t pid, size_t cap)
{
    uint64_t h = (uint64_t)pid * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

static struct st_producer_entry *lookup(const struct st_producer_state *ps,
                                        int64_t pid)
{
    if (ps->cap == 0) {
        return NULL;
    }
    for (size_t i = slot_of(pid, ps->cap);; i = (i + 1) & (ps->cap - 1)) {
        if (ps->slots[i].pid == pid) {
            return &ps->slots[i];
        }
        if (ps->slots[i].pid == -1) {
            return NULL;
        }
    }
}

static struct st_producer_entry *insert_slot(struct st_producer_entry *slots,
                                             size_t cap, int64_t pid)
{
    size_t i = slot_of(pid, cap);
    while (slots[i].pid != -1) {
        i = (i + 1) & (cap - 1);
    }
    return &slots[i];
}

/* Move the live entries into a fresh table of @cap slots (dropping the
 * tombstones, pid -2, left by truncation). */
static int rebuild(struct st_producer_state *ps, size_t cap)
{
    struct st_producer_entry *slots = st_malloc(cap * sizeof *slots);
    if (slots == NULL) {
        return ST_ENOMEM;
    }
    for (size_t i = 0; i < cap; i++) {
        slots[i].pid = -1;
    }
    for (size_t i = 0; i < ps->cap; i++) {
        if (ps->slots[i].pid >= 0) {
            *insert_slot(slots, cap, ps->slots[i].pid) = ps->slots[i];
        }
    }
    st_free(ps->slots);
    ps->slots = slots;
    ps->cap = cap;
    ps->used = ps->n;
    return 0;
}

static int grow(struct st_producer_state *ps)
{
    size_t cap = ps->cap ? ps->cap : 16;
    while ((ps->n + 1) * 2 > cap) {
        cap *= 2;
    }
    return rebuild(ps, cap);
}

const struct st_producer_entry *
st_producer_state_find(const struct st_producer_state *ps, int64_t pid)
{
    return lookup(ps, pid);
}

static int32_t last_seq_of(const struct st_batch_header *h)
{
    int64_t s = (int64_t)h->base_sequence + h->last_offset_delta;
    return (int32_t)(s > INT32_MAX ? s - INT32_MAX - 1 : s);
}

int st_producer_state_check(const struct st_producer_state *ps,
                            const struct st_batch_header *h,
                            int64_t *dup_first, int64_t *dup_last)
{
    const struct st_producer_entry *e = lookup(ps, h->producer_id);
    if (e == NULL || h->base_sequence < 0) {
        return 0;
    }
    if (h->producer_epoch < e->epoch) {
        return ST_EFENCED;
    }
    if (h->producer_epoch > e->epoch) {
        return h->base_sequence == 0 ? 0 : ST_ERANGE;
    }
    int32_t last = last_seq_of(h);
    for (unsigned i = 0; i < e->count; i++) {
        if (e->b[i].first_seq == h->base_sequence &&
            e->b[i].last_seq == last) {
            *dup_first = e->b[i].first_offset;
            *dup_last = e->b[i].last_offset;
            return 1;
        }
    }
    if (e->count == 0) {
        return 0;
    }
    int32_t prev = e->b[e->count - 1].last_seq;
    int32_t want = prev == INT32_MAX ? 0 : prev + 1;
    return h->base_sequence == want ? 0 : ST_ERANGE;
}

int st_producer_state_update(struct st_producer_state *ps,
                             const struct st_batch_header *h)
{
    if (h->producer_id < 0 || h->base_sequence < 0) {
        return 0;
    }
    struct st_producer_entry *e = lookup(ps, h->producer_id);
    if (e == NULL) {
        if ((ps->used + 1) * 4 > ps->cap * 3) {
            int rv = grow(ps);
            if (rv != 0) {
                return rv;
            }
        }
        e = insert_slot(ps->slots, ps->cap, h->producer_id);
        memset(e, 0, sizeof *e);
        e->pid = h->producer_id;
        e->epoch = h->producer_epoch;
        ps->n++;
        ps->used++;
    }
    if (h->producer_epoch != e->epoch) {
        e->epoch = h->producer_epoch;
        e->count = 0;
    }
    if (e->count == ST_PRODUCER_BATCHES_KEPT) {
        memmove(e->b, e->b + 1, (ST_PRODUCER_BATCHES_KEPT - 1) * sizeof e->b[0]);
        e->count--;
    }
    struct st_producer_batch *b = &e->b[e->count++];
    b->first_seq = h->base_sequence;
    b->last_seq = last_seq_of(h);
    b->first_offset = h->base_offset;
    b->last_offset = st_batch_last_offset(h);
    ps->dirty = true;
    return 0;
}

void st_producer_state_truncate(struct st_producer_state *ps,
                                int64_t end_offset)
{
    bool removed = false;
    for (size_t i = 0; i < ps->cap; i++) {
        struct st_producer_entry *e = &ps->slots[i];
        if (e->pid < 0) {
            continue;
        }
        while (e->count > 0 && e->b[e->count - 1].last_offset >= end_offset) {
            e->count--;
            ps->dirty = true;
        }
        if (e->count == 0) {
            e->pid = -2;
            ps->n--;
            removed = true;
        }
    }
    if (removed) {
        ps->dirty = true;
        (void)rebuild(ps, ps->cap); /* on ENOMEM the tombstones stay */
    }
}

void st_producer_state_clear(struct st_producer_state *ps)
{
    for (size_t i = 0; i < ps->cap; i++) {
        ps->slots[i].pid = -1;
    }
    if (ps->n > 0) {
        ps->dirty = true;
    }
    ps->n = 0;
    ps->used = 0;
}

int st_producer_state_encode(const struct st_producer_state *ps,
                             int64_t upto_offset, struct st_buf *out)
{
    st_buf_reset(out);
    size_t need = 12 + ps->n * (11 + ST_PRODUCER_BATCHES_KEPT * 24);
    int rv = st_buf_reserve(out, need);
    if (rv != 0) {
        return rv;
    }
    uint8_t *p = out->base;
    st_put_be64(p, (uint64_t)upto_offset);
    st_put_be32(p + 8, (uint32_t)ps->n);
    p += 12;
    for (size_t i = 0; i < ps->cap; i++) {
        const struct st_producer_entry *e = &ps->slots[i];
        if (e->pid < 0) {
            continue;
        }
        st_put_be64(p, (uint64_t)e->pid);
        st_put_be16(p + 8, (uint16_t)e->epoch);
        p[10] = e->count;
        p += 11;
        for (unsigned j = 0; j < e->count; j++) {
            st_put_be32(p, (uint32_t)e->b[j].first_seq);
            st_put_be32(p + 4, (uint32_t)e->b[j].last_seq);
            st_put_be64(p + 8, (uint64_t)e->b[j].first_offset);
            st_put_be64(p + 16, (uint64_t)e->b[j].last_offset);
            p += 24;
        }
    }
    out->len = (size_t)(p - out->base);
    return 0;
}

int st_producer_state_decode(struct st_producer_state *ps, const uint8_t *p,
                             size_t len, int64_t *upto_offset)
{
    st_producer_state_clear(ps);
    if (len < 12) {
        return ST_ECORRUPT;
    }
    *upto_offset = (int64_t)st_get_be64(p);
    size_t n = st_get_be32(p + 8);
    size_t at = 12;
    for (size_t i = 0; i < n; i++) {
        if (len - at < 11) {
            goto corrupt;
        }
        int64_t pid = (int64_t)st_get_be64(p + at);
        unsigned count = p[at + 10];
        if (pid < 0 || count > ST_PRODUCER_BATCHES_KEPT ||
            len - at - 11 < count * 24u || lookup(ps, pid) != NULL) {
            goto corrupt;
        }
        if ((ps->used + 1) * 4 > ps->cap * 3 && grow(ps) != 0) {
            st_producer_state_clear(ps);
            return ST_ENOMEM;
        }
        struct st_producer_entry *e = insert_slot(ps->slots, ps->cap, pid);
        e->pid = pid;
        e->epoch = (int16_t)st_get_be16(p + at + 8);
        e->count = (uint8_t)count;
        ps->n++;
        ps->used++;
        at += 11;
        for (unsigned j = 0; j < count; j++) {
            e->b[j].first_seq = (int32_t)st_get_be32(p + at);
            e->b[j].last_seq = (int32_t)st_get_be32(p + at + 4);
            e->b[j].first_offset = (int64_t)st_get_be64(p + at + 8);
            e->b[j].last_offset = (int64_t)st_get_be64(p + at + 16);
            at += 24;
        }
    }
    if (at != len) {
        goto corrupt;
    }
    ps->dirty = false;
    return 0;
corrupt:
    st_producer_state_clear(ps);
    return ST_ECORRUPT;
}
