/* The "uniform" assignor (the default): balanced and sticky, after Kafka's
 * UniformAssignor (KIP-848).
 *
 * Three passes over a per-partition owner table:
 *   1. retain: each member keeps the partitions of its previous target that
 *      still exist and that it still subscribes to;
 *   2. fill: each unowned partition goes to the least-loaded member
 *      subscribed to its topic (topics with fewer subscribers first, so the
 *      constrained ones pick before the flexible ones);
 *   3. balance: one partition at a time moves from the most loaded member
 *      A that owns one the least loaded member B may take, while
 *      count(B) + 2 <= count(A).
 * Givers are always the most loaded, so none sinks below the others: when
 * a member joins a balanced group only the joiner receives partitions, and
 * when one leaves only its partitions move (fill spreads them). With
 * everyone subscribed to the same topics the counts end within 1 of each
 * other. Ties go to the lower member index (members arrive sorted by id),
 * so the result is deterministic. Cost: fill O(P x subscribers); each move
 * O(N log N + P), and a join or leave needs about P/N of them. */
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

static const unsigned *sort_count;

static int cmp_by_count(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    if (sort_count[x] != sort_count[y]) {
        return sort_count[x] < sort_count[y] ? -1 : 1;
    }
    return x < y ? -1 : x > y;
}

/* The last partition owned by @a in a topic @b subscribes to, or -1. */
static int64_t movable(const struct ctx *c, unsigned a, unsigned b)
{
    const struct st_assign_input *in = c->in;
    const struct st_assign_member *mb = &in->members[b];
    for (unsigned i = mb->n_topics; i-- > 0;) {
        uint32_t t = mb->topics[i];
        if (t >= in->n_topics) {
            continue;
        }
        for (int32_t p = in->topics[t].partitions; p-- > 0;) {
            if (c->owner[t][p] == (int32_t)a) {
                return (int64_t)st_assign_key(t, p);
            }
        }
    }
    return -1;
}

/* Move one partition at a time from the most loaded member that has one
 * the least loaded can take, while their counts differ by 2 or more.
 * Taking from the top keeps givers from sinking below anyone, so in a
 * balanced group a joiner is the only receiver. */
static int balance(struct ctx *c)
{
    unsigned n = c->in->n_members;
    unsigned *order = st_malloc((n ? n : 1) * sizeof *order);
    if (order == NULL) {
        return ST_ENOMEM;
    }
    bool moved = n > 1;
    while (moved) {
        moved = false;
        for (unsigned i = 0; i < n; i++) {
            order[i] = i;
        }
        sort_count = c->count;
        qsort(order, n, sizeof *order, cmp_by_count);
        for (unsigned lo = 0; lo < n && !moved; lo++) {
            unsigned b = order[lo];
            for (unsigned hi = n; hi-- > lo + 1 && !moved;) {
                unsigned a = order[hi];
                if (c->count[a] < c->count[b] + 2) {
                    break; /* the rest are lighter still */
                }
                int64_t k = movable(c, a, b);
                if (k >= 0) {
                    uint32_t t = st_assign_key_topic((uint64_t)k);
                    int32_t p = st_assign_key_partition((uint64_t)k);
                    c->owner[t][p] = (int32_t)b;
                    c->count[a]--;
                    c->count[b]++;
                    moved = true;
                }
            }
        }
    }
    st_free(order);
    return 0;
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
        rv = balance(&c);
    }
    if (rv == 0) {
        rv = collect(&c, out);
    }
    ctx_free(&c);
    return rv;
}

const struct st_group_assignor st_group_assignor_uniform = {
    .name = "uniform",
    .assign = uniform_assign,
};
