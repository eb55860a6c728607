/* Per-broker load: how many partitions list each registered broker as a
 * replica (st_meta_broker.n_replicas) and how many it leads (n_leading).
 *
 * Placement needs these counts for every topic it creates; counting them by
 * scanning every partition made topic creation O(partitions) and slowed it
 * down as topics accumulated. They are derived state, so they are never
 * encoded: every apply that changes replicas or leaders adjusts them here,
 * a newly registered broker id is counted once by a scan (rare), and a
 * snapshot load recounts everything, so a voter that loaded a snapshot and
 * one that applied the records hold the same counts. Updates never
 * allocate, so they cannot fail half-way through an apply.
 */
#include "controller/metadata_int.h"

static struct st_meta_broker *broker(struct st_meta *m, int32_t id)
{
    bool found;
    size_t pos = stmeta_broker_pos(m, id, &found);
    return found ? m->brokers[pos] : NULL;
}

static void adjust(uint32_t *count, int sign)
{
    *count = sign > 0 ? *count + 1 : *count - 1;
}

void stmeta_load_partition(struct st_meta *m,
                           const struct st_meta_partition *p, int sign)
{
    for (int r = 0; r < p->n_replicas; r++) {
        struct st_meta_broker *b = broker(m, p->replicas[r]);
        if (b != NULL) {
            adjust(&b->n_replicas, sign);
        }
    }
    struct st_meta_broker *l = p->leader >= 0 ? broker(m, p->leader) : NULL;
    if (l != NULL) {
        adjust(&l->n_leading, sign);
    }
}

void stmeta_load_leader(struct st_meta *m, int32_t from, int32_t to)
{
    struct st_meta_broker *b = from >= 0 ? broker(m, from) : NULL;
    if (b != NULL) {
        adjust(&b->n_leading, -1);
    }
    b = to >= 0 ? broker(m, to) : NULL;
    if (b != NULL) {
        adjust(&b->n_leading, 1);
    }
}

void stmeta_load_count(const struct st_meta *m, struct st_meta_broker *b)
{
    b->n_replicas = 0;
    b->n_leading = 0;
    for (size_t i = 0; i < m->n_topics; i++) {
        const struct st_meta_topic *t = m->by_name[i];
        for (int32_t p = 0; p < t->n_parts; p++) {
            const struct st_meta_partition *pp = &t->parts[p];
            for (int r = 0; r < pp->n_replicas; r++) {
                b->n_replicas += pp->replicas[r] == b->id;
            }
            b->n_leading += pp->leader == b->id;
        }
    }
}
