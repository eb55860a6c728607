/* The in-memory Raft log: the entries since the last snapshot.
 *
 * The core keeps the whole log since the snapshot in memory (it is the
 * controller's metadata log; snapshots bound it). Entries sit in one
 * contiguous array so that an AppendEntries message can point at a run of
 * them without copying. Each entry owns a copy of its data.
 */
#include <assert.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/raft/raft_impl.h"

void log_init(struct raft_log *l)
{
    memset(l, 0, sizeof *l);
}

static void entry_free(struct raft_entry *e)
{
    st_free((void *)e->data.base);
    e->data.base = NULL;
    e->data.len = 0;
}

void log_close(struct raft_log *l)
{
    for (size_t k = 0; k < l->n; k++) {
        entry_free(&l->e[k]);
    }
    st_free(l->e);
    memset(l, 0, sizeof *l);
}

raft_index log_last_index(const struct raft_log *l)
{
    return l->offset + l->n;
}

raft_term log_last_term(const struct raft_log *l)
{
    return l->n ? l->e[l->n - 1].term : l->offset_term;
}

raft_term log_term_at(const struct raft_log *l, raft_index i)
{
    if (i == l->offset) {
        return l->offset_term;
    }
    if (i < l->offset || i > l->offset + l->n) {
        return 0;
    }
    return l->e[i - l->offset - 1].term;
}

const struct raft_entry *log_get(const struct raft_log *l, raft_index i)
{
    if (i <= l->offset || i > l->offset + l->n) {
        return NULL;
    }
    return &l->e[i - l->offset - 1];
}

int log_append(struct raft_log *l, raft_term term, uint8_t type,
               struct st_bytes data)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct raft_entry *e = st_realloc(l->e, cap * sizeof *e);
        if (e == NULL) {
            return ST_ENOMEM;
        }
        l->e = e;
        l->cap = cap;
    }
    uint8_t *copy = NULL;
    if (data.len > 0) {
        copy = st_malloc(data.len);
        if (copy == NULL) {
            return ST_ENOMEM;
        }
        memcpy(copy, data.base, data.len);
    }
    struct raft_entry *e = &l->e[l->n];
    e->term = term;
    e->index = log_last_index(l) + 1;
    e->type = type;
    e->data.base = copy;
    e->data.len = data.len;
    l->n++;
    return 0;
}

void log_truncate_from(struct raft_log *l, raft_index i)
{
    assert(i > l->offset);
    while (log_last_index(l) >= i && l->n > 0) {
        entry_free(&l->e[--l->n]);
    }
}

void log_compact_to(struct raft_log *l, raft_index i, raft_term term)
{
    if (i <= l->offset) {
        return;
    }
    size_t drop = i - l->offset;
    if (drop >= l->n) {
        for (size_t k = 0; k < l->n; k++) {
            entry_free(&l->e[k]);
        }
        l->n = 0;
    } else {
        for (size_t k = 0; k < drop; k++) {
            entry_free(&l->e[k]);
        }
        memmove(l->e, l->e + drop, (l->n - drop) * sizeof *l->e);
        l->n -= drop;
    }
    l->offset = i;
    l->offset_term = term;
}
