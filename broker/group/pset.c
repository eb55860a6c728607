/* Sorted sets of partition keys: the assigned, revoking and target sets of
 * a member. Small (a member's share of the group's partitions), so sorted
 * arrays with binary search beat anything cleverer. */
#include <stdlib.h>
#include <string.h>

#include "broker/group/group_int.h"
#include "common/alloc.h"
#include "common/err.h"

void pset_init(struct pset *s)
{
    memset(s, 0, sizeof *s);
}

void pset_close(struct pset *s)
{
    st_free(s->v);
    memset(s, 0, sizeof *s);
}

int pset_reserve(struct pset *s, unsigned n)
{
    if (n <= s->cap) {
        return 0;
    }
    unsigned cap = s->cap ? s->cap : 8;
    while (cap < n) {
        cap *= 2;
    }
    uint64_t *v = st_realloc(s->v, (size_t)cap * sizeof *v);
    if (v == NULL) {
        return ST_ENOMEM;
    }
    s->v = v;
    s->cap = cap;
    return 0;
}

/* Index of the first element >= @key. */
static unsigned lower_bound(const struct pset *s, uint64_t key)
{
    unsigned lo = 0, hi = s->n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (s->v[mid] < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

bool pset_has(const struct pset *s, uint64_t key)
{
    unsigned i = lower_bound(s, key);
    return i < s->n && s->v[i] == key;
}

int pset_add(struct pset *s, uint64_t key)
{
    unsigned i = lower_bound(s, key);
    if (i < s->n && s->v[i] == key) {
        return 0;
    }
    int rv = pset_reserve(s, s->n + 1);
    if (rv != 0) {
        return rv;
    }
    memmove(&s->v[i + 1], &s->v[i], (size_t)(s->n - i) * sizeof *s->v);
    s->v[i] = key;
    s->n++;
    return 0;
}

void pset_remove(struct pset *s, uint64_t key)
{
    unsigned i = lower_bound(s, key);
    if (i < s->n && s->v[i] == key) {
        memmove(&s->v[i], &s->v[i + 1],
                (size_t)(s->n - i - 1) * sizeof *s->v);
        s->n--;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int pset_assign(struct pset *s, const uint64_t *keys, unsigned n)
{
    int rv = pset_reserve(s, n);
    if (rv != 0) {
        return rv;
    }
    if (n == 0) {
        s->n = 0;
        return 0;
    }
    memmove(s->v, keys, (size_t)n * sizeof *keys);
    qsort(s->v, n, sizeof *s->v, cmp_u64);
    unsigned w = 0;
    for (unsigned i = 0; i < n; i++) {
        if (w == 0 || s->v[w - 1] != s->v[i]) {
            s->v[w++] = s->v[i];
        }
    }
    s->n = w;
    return 0;
}

int pset_copy(struct pset *dst, const struct pset *src)
{
    int rv = pset_reserve(dst, src->n);
    if (rv != 0) {
        return rv;
    }
    if (src->n > 0) {
        memcpy(dst->v, src->v, (size_t)src->n * sizeof *src->v);
    }
    dst->n = src->n;
    return 0;
}

bool pset_equal(const struct pset *a, const struct pset *b)
{
    return a->n == b->n &&
           (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof *a->v) == 0);
}

bool pset_intersects(const struct pset *a, const struct pset *b)
{
    unsigned i = 0, j = 0;
    while (i < a->n && j < b->n) {
        if (a->v[i] == b->v[j]) {
            return true;
        }
        if (a->v[i] < b->v[j]) {
            i++;
        } else {
            j++;
        }
    }
    return false;
}

bool pset_subset(const struct pset *a, const struct pset *b)
{
    unsigned j = 0;
    for (unsigned i = 0; i < a->n; i++) {
        while (j < b->n && b->v[j] < a->v[i]) {
            j++;
        }
        if (j == b->n || b->v[j] != a->v[i]) {
            return false;
        }
    }
    return true;
}
