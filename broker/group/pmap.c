/* The ownership index: partition key -> the member that owns it (in its
 * assigned or revoking set). A partition is free for a new owner only when
 * it is absent here, which is how "given only after revoked" is enforced.
 * Open addressing, linear probing, backward-shift deletion. */
#include <string.h>

#include "broker/group/group_int.h"
#include "common/alloc.h"
#include "common/err.h"

static unsigned slot_of(uint64_t key, unsigned cap)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    return (unsigned)(h >> 32) & (cap - 1);
}

void pmap_close(struct pmap *p)
{
    st_free(p->slots);
    memset(p, 0, sizeof *p);
}

struct member *pmap_get(const struct pmap *p, uint64_t key)
{
    if (p->cap == 0) {
        return NULL;
    }
    for (unsigned i = slot_of(key, p->cap);; i = (i + 1) & (p->cap - 1)) {
        if (p->slots[i].m == NULL) {
            return NULL;
        }
        if (p->slots[i].key == key) {
            return p->slots[i].m;
        }
    }
}

static int grow(struct pmap *p)
{
    unsigned cap = p->cap ? p->cap * 2 : 64;
    struct pmap_slot *slots = st_calloc(cap, sizeof *slots);
    if (slots == NULL) {
        return ST_ENOMEM;
    }
    for (unsigned i = 0; i < p->cap; i++) {
        if (p->slots[i].m != NULL) {
            unsigned j = slot_of(p->slots[i].key, cap);
            while (slots[j].m != NULL) {
                j = (j + 1) & (cap - 1);
            }
            slots[j] = p->slots[i];
        }
    }
    st_free(p->slots);
    p->slots = slots;
    p->cap = cap;
    return 0;
}

int pmap_put(struct pmap *p, uint64_t key, struct member *m)
{
    if ((p->n + 1) * 4 > p->cap * 3) {
        int rv = grow(p);
        if (rv != 0) {
            return rv;
        }
    }
    unsigned i = slot_of(key, p->cap);
    while (p->slots[i].m != NULL && p->slots[i].key != key) {
        i = (i + 1) & (p->cap - 1);
    }
    if (p->slots[i].m == NULL) {
        p->n++;
    }
    p->slots[i].key = key;
    p->slots[i].m = m;
    return 0;
}

void pmap_del(struct pmap *p, uint64_t key)
{
    if (p->cap == 0) {
        return;
    }
    unsigned mask = p->cap - 1;
    unsigned i = slot_of(key, p->cap);
    while (p->slots[i].m != NULL && p->slots[i].key != key) {
        i = (i + 1) & mask;
    }
    if (p->slots[i].m == NULL) {
        return;
    }
    p->n--;
    /* Backward shift: pull later entries of the run into the hole when
     * their home slot does not lie strictly between the hole and them. */
    unsigned hole = i;
    for (unsigned j = (i + 1) & mask; p->slots[j].m != NULL;
         j = (j + 1) & mask) {
        unsigned home = slot_of(p->slots[j].key, p->cap);
        bool between = hole <= j ? (hole < home && home <= j)
                                 : (hole < home || home <= j);
        if (!between) {
            p->slots[hole] = p->slots[j];
            hole = j;
        }
    }
    p->slots[hole].m = NULL;
    p->slots[hole].key = 0;
}
