/* The simulated disk: a model with durable and written images. The
 * raft_store backend lives in sim_disk_store.c. */
#include "sim_disk.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "sim_disk_int.h"

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        abort();
    }
    return q;
}

/* ---- a log image: entries after offset, each owning its data ---- */

static raft_index elog_last(const struct elog *l)
{
    return l->offset + l->n;
}

static raft_term elog_term_at(const struct elog *l, raft_index i)
{
    if (i == l->offset) {
        return l->offset_term;
    }
    if (i < l->offset || i > elog_last(l)) {
        return 0;
    }
    return l->e[i - l->offset - 1].term;
}

static void elog_push(struct elog *l, const struct raft_entry *e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->e = xrealloc(l->e, l->cap * sizeof *l->e);
    }
    struct raft_entry *c = &l->e[l->n++];
    *c = *e;
    uint8_t *p = NULL;
    if (e->data.len > 0) {
        p = xrealloc(NULL, e->data.len);
        memcpy(p, e->data.base, e->data.len);
    }
    c->data.base = p;
}

static void elog_truncate_from(struct elog *l, raft_index i)
{
    while (l->n > 0 && elog_last(l) >= i) {
        free((void *)l->e[--l->n].data.base);
    }
}

static void elog_compact_to(struct elog *l, raft_index i, raft_term t)
{
    size_t drop = i <= l->offset ? 0 : i - l->offset;
    if (drop > l->n) {
        drop = l->n;
    }
    for (size_t k = 0; k < drop; k++) {
        free((void *)l->e[k].data.base);
    }
    if (l->n > drop) {
        memmove(l->e, l->e + drop, (l->n - drop) * sizeof *l->e);
    }
    l->n -= drop;
    l->offset = i;
    l->offset_term = t;
}

static void elog_clear(struct elog *l, raft_index offset, raft_term t)
{
    elog_truncate_from(l, 0);
    l->offset = offset;
    l->offset_term = t;
}

static void elog_free(struct elog *l)
{
    elog_truncate_from(l, 0);
    free(l->e);
    memset(l, 0, sizeof *l);
}

static void elog_copy(struct elog *dst, const struct elog *src)
{
    elog_clear(dst, src->offset, src->offset_term);
    for (size_t k = 0; k < src->n; k++) {
        elog_push(dst, &src->e[k]);
    }
}

/* ---- the model ---- */

int sim_disk_new(bool use_store, uint64_t seed, struct sim_disk **out)
{
    struct sim_disk *d = calloc(1, sizeof *d);
    if (d == NULL) {
        return ST_ENOMEM;
    }
    d->use_store = use_store;
    d->dirty_from = UINT64_MAX;
    if (use_store) {
        int rv = store_new(d, seed);
        if (rv != 0) {
            free(d);
            return rv;
        }
    }
    *out = d;
    return 0;
}

void sim_disk_free(struct sim_disk *d)
{
    if (d == NULL) {
        return;
    }
    if (d->use_store) {
        store_free(d);
    }
    elog_free(&d->durable);
    elog_free(&d->written);
    free(d->snap_data);
    free(d);
}

static void loaded_reserve(struct sim_disk_loaded *ld, size_t extra)
{
    if (ld->owned_len + extra > ld->owned_cap) {
        size_t c = ld->owned_cap ? ld->owned_cap : 1024;
        while (c < ld->owned_len + extra) {
            c *= 2;
        }
        ld->owned = xrealloc(ld->owned, c);
        ld->owned_cap = c;
    }
}

void sim_disk_loaded_add(struct sim_disk_loaded *ld, const struct raft_entry *e)
{
    /* Data bytes go to ld->owned; pointers are fixed up by _finish. */
    ld->entries = xrealloc(ld->entries, (ld->n_entries + 1) * sizeof *e);
    struct raft_entry *c = &ld->entries[ld->n_entries++];
    *c = *e;
    loaded_reserve(ld, e->data.len);
    if (e->data.len > 0) {
        memcpy(ld->owned + ld->owned_len, e->data.base, e->data.len);
    }
    c->data.base = (const uint8_t *)(uintptr_t)ld->owned_len;
    ld->owned_len += e->data.len;
}

void sim_disk_loaded_finish(struct sim_disk_loaded *ld)
{
    for (unsigned k = 0; k < ld->n_entries; k++) {
        uintptr_t off = (uintptr_t)ld->entries[k].data.base;
        ld->entries[k].data.base = ld->owned + off;
    }
}

int sim_disk_load(struct sim_disk *d, struct sim_disk_loaded *out)
{
    memset(out, 0, sizeof *out);
    if (d->use_store) {
        return store_load(d, out);
    }
    out->term = d->term;
    out->vote = d->vote;
    out->snapshot.index = d->snap_index;
    out->snapshot.term = d->snap_term;
    out->snapshot_data.base = d->snap_data;
    out->snapshot_data.len = d->snap_len;
    for (size_t k = 0; k < d->durable.n; k++) {
        sim_disk_loaded_add(out, &d->durable.e[k]);
    }
    sim_disk_loaded_finish(out);
    return 0;
}

void sim_disk_loaded_free(struct sim_disk_loaded *ld)
{
    free(ld->entries);
    free(ld->owned);
    free(ld->snap_owned);
    memset(ld, 0, sizeof *ld);
}

int sim_disk_save_term_vote(struct sim_disk *d, raft_term term, raft_id vote)
{
    if (d->use_store) {
        return store_save_term_vote(d, term, vote);
    }
    d->term = term;
    d->vote = vote;
    return 0;
}

int sim_disk_append(struct sim_disk *d, const struct raft_entry *e,
                    unsigned n)
{
    if (n == 0) {
        return 0;
    }
    if (d->use_store) {
        return store_append(d, e, n);
    }
    if (e[0].index != elog_last(&d->written) + 1) {
        return ST_EINVAL;
    }
    if (e[0].index < d->dirty_from) {
        d->dirty_from = e[0].index;
    }
    for (unsigned k = 0; k < n; k++) {
        elog_push(&d->written, &e[k]);
    }
    return 0;
}

void sim_disk_truncate(struct sim_disk *d, raft_index from)
{
    if (d->use_store) {
        store_truncate(d, from);
        return;
    }
    elog_truncate_from(&d->written, from);
    if (from < d->dirty_from) {
        d->dirty_from = from;
    }
}

int sim_disk_sync(struct sim_disk *d)
{
    if (d->use_store) {
        return store_sync(d);
    }
    if (d->dirty_from == UINT64_MAX) {
        return 0;
    }
    elog_truncate_from(&d->durable, d->dirty_from);
    for (raft_index i = elog_last(&d->durable) + 1;
         i <= elog_last(&d->written); i++) {
        elog_push(&d->durable, &d->written.e[i - d->written.offset - 1]);
    }
    d->dirty_from = UINT64_MAX;
    return 0;
}

static void set_snapshot(struct sim_disk *d, raft_index index, raft_term term,
                         struct st_bytes data)
{
    d->snap_index = index;
    d->snap_term = term;
    d->snap_data = xrealloc(d->snap_data, data.len);
    if (data.len > 0) {
        memcpy(d->snap_data, data.base, data.len);
    }
    d->snap_len = data.len;
}

int sim_disk_install_snapshot(struct sim_disk *d, raft_index index,
                              raft_term term, struct st_bytes data,
                              raft_index truncate_from)
{
    if (d->use_store) {
        return store_install_snapshot(d, index, term, data, truncate_from);
    }
    set_snapshot(d, index, term, data);
    if (elog_term_at(&d->written, index) == term) {
        elog_compact_to(&d->written, index, term);
    } else {
        elog_clear(&d->written, index, term);
    }
    if (truncate_from != 0) {
        elog_truncate_from(&d->written, truncate_from);
    }
    /* Make the log change durable with the snapshot. */
    elog_copy(&d->durable, &d->written);
    d->dirty_from = UINT64_MAX;
    return 0;
}

int sim_disk_take_snapshot(struct sim_disk *d, raft_index index,
                           raft_term term, struct st_bytes data)
{
    if (d->use_store) {
        return store_take_snapshot(d, index, term, data);
    }
    set_snapshot(d, index, term, data);
    elog_compact_to(&d->written, index, term);
    if (elog_term_at(&d->durable, index) == term ||
        elog_last(&d->durable) < index) {
        elog_compact_to(&d->durable, index, term);
    } else {
        elog_clear(&d->durable, index, term);
    }
    return 0;
}

raft_term sim_disk_term_at(struct sim_disk *d, raft_index index)
{
    if (d->use_store) {
        return store_term_at(d, index);
    }
    return elog_term_at(&d->written, index);
}

raft_index sim_disk_last_index(struct sim_disk *d)
{
    if (d->use_store) {
        return store_last_index(d);
    }
    return elog_last(&d->written);
}

void sim_disk_crash(struct sim_disk *d)
{
    if (d->use_store) {
        store_crash(d);
        return;
    }
    elog_copy(&d->written, &d->durable);
    d->dirty_from = UINT64_MAX;
}
