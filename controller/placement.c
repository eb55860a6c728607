/* Greedy, rack-aware, seeded replica placement. */
#include "controller/placement.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/decide.h"

struct cand {
    size_t rank;     /* tie-break order, shuffled from the seed */
    size_t rack;     /* index of the broker's rack */
    bool chosen;     /* already a replica of the current partition */
};

static const char *rack_of(const struct st_place_broker *b)
{
    return b->rack != NULL ? b->rack : "";
}

/* Is (a) a better next pick than (b)? Keys in order, smallest first. */
static bool better(const uint64_t *ka, const uint64_t *kb, int nk)
{
    for (int i = 0; i < nk; i++) {
        if (ka[i] != kb[i]) {
            return ka[i] < kb[i];
        }
    }
    return false;
}

static void place_one(struct st_place_broker *b, struct cand *c, size_t n,
                      unsigned *rack_use, size_t n_racks, int rf,
                      int32_t *out)
{
    memset(rack_use, 0, n_racks * sizeof *rack_use);
    for (size_t i = 0; i < n; i++) {
        c[i].chosen = false;
    }
    for (int slot = 0; slot < rf; slot++) {
        size_t best = n;
        uint64_t best_key[4] = {0};
        for (size_t i = 0; i < n; i++) {
            if (c[i].chosen) {
                continue;
            }
            uint64_t key[4];
            key[0] = rack_use[c[i].rack];
            key[1] = slot == 0 ? b[i].leaders : b[i].replicas;
            key[2] = slot == 0 ? b[i].replicas : b[i].leaders;
            key[3] = c[i].rank;
            if (best == n || better(key, best_key, 4)) {
                best = i;
                memcpy(best_key, key, sizeof key);
            }
        }
        c[best].chosen = true;
        rack_use[c[best].rack]++;
        b[best].replicas++;
        if (slot == 0) {
            b[best].leaders++;
        }
        out[slot] = b[best].id;
    }
}

int st_place(struct st_place_broker *b, size_t n, int32_t n_parts, int rf,
             uint64_t *rng, int32_t *out, char *err, size_t cap)
{
    if (rf < 1) {
        snprintf(err, cap, "replication factor must be at least 1, not %d",
                 rf);
        return ST_EINVAL;
    }
    if (n_parts < 1) {
        snprintf(err, cap, "partition count must be at least 1, not %d",
                 (int)n_parts);
        return ST_EINVAL;
    }
    if ((size_t)rf > n) {
        snprintf(err, cap,
                 "replication factor %d is larger than the %zu available "
                 "(unfenced) brokers",
                 rf, n);
        return ST_EINVAL;
    }
    struct cand *c = st_calloc(n, sizeof *c);
    unsigned *rack_use = st_calloc(n, sizeof *rack_use);
    size_t *perm = st_calloc(n, sizeof *perm);
    if (c == NULL || rack_use == NULL || perm == NULL) {
        st_free(c);
        st_free(rack_use);
        st_free(perm);
        return ST_ENOMEM;
    }
    size_t n_racks = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = 0;
        while (r < i && strcmp(rack_of(&b[r]), rack_of(&b[i])) != 0) {
            r++;
        }
        c[i].rack = r < i ? c[r].rack : n_racks++;
        perm[i] = i;
    }
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)(st_meta_rand(rng) % i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        c[perm[i]].rank = i;
    }
    for (int32_t p = 0; p < n_parts; p++) {
        place_one(b, c, n, rack_use, n_racks, rf, &out[(size_t)p * rf]);
    }
    st_free(c);
    st_free(rack_use);
    st_free(perm);
    return 0;
}
