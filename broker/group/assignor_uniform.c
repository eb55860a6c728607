/* The "uniform" assignor (the default): balanced and sticky, after Kafka's
 * UniformAssignor (KIP-848).
 *
 * Three passes over a per-partition owner table:
 *   1. retain: each member keeps the partitions of its previous target that
 *      still exist and that it still subscribes to;
 *   2. fill: each unowned partition goes to the least-loaded member
 *      subscribed to its topic (topics with fewer subscribers first, so the
 *      constrained ones pick before the flexible ones);
 *   3. balance: a partition moves from its owner A to the least-loaded
 *      subscriber B of its topic only while count(B) + 1 < count(A),
 *      repeated until nothing moves.
 * Moves only ever go to a member at least two below the giver. So when a
 * member joins a balanced group only the joiner receives partitions, and
 * when one leaves only its partitions move; with everyone subscribed to the
 * same topics the counts end within 1 of each other. Ties go to the lower
 * member index (members arrive sorted by id), so the result is
 * deterministic. Cost: O(P x subscribers-per-topic) per pass. */
#include <stdlib.h>
#include <string.h>

#include "broker/group/group.h"
#include "common/alloc.h"
#include "common/err.h"

struct ctx {
    const struct st_assign_input *in;
    int32_t **owner;       /* [topic][partition] -> member index or -1 */
    unsigned **subs;       /* [topic] -> subscriber member indexes */
    unsigned *n_subs;
    unsigned *count;       /* partitions per member */
    uint32_t *topic_order; /* fewest subscribers first */
};

static const unsigned *order_n_subs;

static int cmp_topic(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (order_n_subs[x] != order_n_subs[y]) {
        return order_n_subs[x] < order_n_subs[y] ? -1 : 1;
    }
    return x < y ? -1 : x > y;
}

static bool member_subscribes(const struct st_assign_member *m, uint32_t t)
{
    unsigned lo = 0, hi = m->n_topics;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (m->topics[mid] == t) {
            return true;
        }
        if (m->topics[mid] < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

static unsigned least_loaded(const struct ctx *c, uint32_t t)
{
    unsigned best = c->subs[t][0];
    for (unsigned i = 1; i < c->n_subs[t]; i++) {
        unsigned m = c->subs[t][i];
        if (c->count[m] < c->count[best]) {
            best = m;
        }
    }
    return best;
}

static void ctx_free(struct ctx *c)
{
    const struct st_assign_input *in = c->in;
    for (unsigned t = 0; c->owner != NULL && t < in->n_topics; t++) {
        st_free(c->owner[t]);
    }
    for (unsigned t = 0; c->subs != NULL && t < in->n_topics; t++) {
        st_free(c->subs[t]);
    }
    st_free(c->owner);
    st_free(c->subs);
    st_free(c->n_subs);
    st_free(c->count);
    st_free(c->topic_order);
}

static int ctx_init(struct ctx *c, const struct st_assign_input *in)
{
    unsigned nt = in->n_topics ? in->n_topics : 1;
    unsigned nm = in->n_members ? in->n_members : 1;
    memset(c, 0, sizeof *c);
    c->in = in;
    c->owner = st_calloc(nt, sizeof *c->owner);
    c->subs = st_calloc(nt, sizeof *c->subs);
    c->n_subs = st_calloc(nt, sizeof *c->n_subs);
    c->count = st_calloc(nm, sizeof *c->count);
    c->topic_order = st_calloc(nt, sizeof *c->topic_order);
    if (c->owner == NULL || c->subs == NULL || c->n_subs == NULL ||
        c->count == NULL || c->topic_order == NULL) {
        return ST_ENOMEM;
    }
    for (uint32_t t = 0; t < in->n_topics; t++) {
        int32_t np = in->topics[t].partitions > 0 ? in->topics[t].partitions
                                                  : 0;
        c->owner[t] = st_malloc((size_t)(np ? np : 1) * sizeof(int32_t));
        c->subs[t] = st_malloc(nm * sizeof(unsigned));
        if (c->owner[t] == NULL || c->subs[t] == NULL) {
            return ST_ENOMEM;
        }
        for (int32_t p = 0; p < np; p++) {
            c->owner[t][p] = -1;
        }
        c->topic_order[t] = t;
    }
    for (unsigned m = 0; m < in->n_members; m++) {
        const struct st_assign_member *mb = &in->members[m];
        for (unsigned i = 0; i < mb->n_topics; i++) {
            uint32_t t = mb->topics[i];
            if (t < in->n_topics) {
                c->subs[t][c->n_subs[t]++] = m;
            }
        }
    }
    order_n_subs = c->n_subs;
    qsort(c->topic_order, in->n_topics, sizeof *c->topic_order, cmp_topic);
    return 0;
}

static void retain(struct ctx *c)
{
    const struct st_assign_input *in = c->in;
    for (unsigned m = 0; m < in->n_members; m++) {
        const struct st_assign_member *mb = &in->members[m];
        for (unsigned i = 0; i < mb->n_current; i++) {
            uint32_t t = st_assign_key_topic(mb->current[i]);
            int32_t p = st_assign_key_partition(mb->current[i]);
            if (t >= in->n_topics || p < 0 ||
                p >= in->topics[t].partitions || c->owner[t][p] != -1 ||
                !member_subscribes(mb, t)) {
                continue;
            }
            c->owner[t][p] = (int32_t)m;
            c->count[m]++;
        }
    }
}

static void fill(struct ctx *c)
{
    for (unsigned i = 0; i < c->in->n_topics; i++) {
        uint32_t t = c->topic_order[i];
        if (c->n_subs[t] == 0) {
            continue;
        }
        for (int32_t p = 0; p < c->in->topics[t].partitions; p++) {
            if (c->owner[t][p] == -1) {
                unsigned m = least_loaded(c, t);
                c->owner[t][p] = (int32_t)m;
                c->count[m]++;
            }
        }
    }
}

static void balance(struct ctx *c)
{
    bool moved = true;
    while (moved) {
        moved = false;
        for (unsigned i = 0; i < c->in->n_topics; i++) {
            uint32_t t = c->topic_order[i];
            if (c->n_subs[t] < 2) {
                continue;
            }
            for (int32_t p = 0; p < c->in->topics[t].partitions; p++) {
                unsigned a = (unsigned)c->owner[t][p];
                unsigned b = least_loaded(c, t);
                if (c->count[b] + 1 < c->count[a]) {
                    c->owner[t][p] = (int32_t)b;
                    c->count[a]--;
                    c->count[b]++;
                    moved = true;
                }
            }
        }
    }
}

static int collect(struct ctx *c, struct st_assign_output *out)
{
    const struct st_assign_input *in = c->in;
    unsigned nm = in->n_members ? in->n_members : 1;
    out->n_members = in->n_members;
    out->parts = st_calloc(nm, sizeof *out->parts);
    out->n_parts = st_calloc(nm, sizeof *out->n_parts);
    if (out->parts == NULL || out->n_parts == NULL) {
        return ST_ENOMEM;
    }
    for (unsigned m = 0; m < in->n_members; m++) {
        out->parts[m] = st_malloc((c->count[m] ? c->count[m] : 1) *
                                  sizeof(uint64_t));
        if (out->parts[m] == NULL) {
            return ST_ENOMEM;
        }
    }
    /* Topic-major, partition-minor: each member's list comes out sorted. */
    for (uint32_t t = 0; t < in->n_topics; t++) {
        for (int32_t p = 0; p < in->topics[t].partitions; p++) {
            int32_t m = c->owner[t][p];
            if (m >= 0) {
                out->parts[m][out->n_parts[m]++] = st_assign_key(t, p);
            }
        }
    }
    return 0;
}

static int uniform_assign(const struct st_assign_input *in,
                          struct st_assign_output *out)
{
    struct ctx c;
    int rv = ctx_init(&c, in);
    if (rv == 0) {
        retain(&c);
        fill(&c);
        balance(&c);
        rv = collect(&c, out);
    }
    ctx_free(&c);
    return rv;
}

const struct st_group_assignor st_group_assignor_uniform = {
    .name = "uniform",
    .assign = uniform_assign,
};
