/* Preferred-leader election (see decide_preferred.h). */
#include "controller/decide_preferred.h"

#include "common/err.h"
#include "controller/decide_int.h"

static bool in_isr(const struct st_meta_partition *p, int32_t id)
{
    for (int i = 0; i < p->n_isr; i++) {
        if (p->isr[i] == id) {
            return true;
        }
    }
    return false;
}

int st_meta_decide_preferred_leaders(const struct st_meta *m, int max_moves,
                                     struct st_meta_recs *out)
{
    int moves = 0;
    for (size_t ti = 0; ti < st_meta_topic_count(m) && moves < max_moves;
         ti++) {
        const struct st_meta_topic *t = st_meta_topic_at(m, ti);
        for (int32_t pi = 0; pi < t->n_parts && moves < max_moves; pi++) {
            const struct st_meta_partition *p = &t->parts[pi];
            if (p->n_replicas == 0 || p->leader == p->replicas[0] ||
                p->leader_epoch == INT32_MAX ||
                p->partition_epoch == INT32_MAX) {
                continue;
            }
            int32_t want = p->replicas[0];
            const struct st_meta_broker *b = st_meta_broker_find(m, want);
            if (b == NULL || b->fenced || !in_isr(p, want)) {
                continue;
            }
            Strata__Meta__PartitionChange pc =
                STRATA__META__PARTITION_CHANGE__INIT;
            pc.topic_id.data = (uint8_t *)t->id;
            pc.topic_id.len = ST_META_UUID_LEN;
            pc.partition = pi;
            pc.has_leader = true;
            pc.leader = want;
            Strata__Meta__MetadataRecord r =
                STRATA__META__METADATA_RECORD__INIT;
            r.body_case = STRATA__META__METADATA_RECORD__BODY_PARTITION_CHANGE;
            r.partition_change = &pc;
            int rv = stdec_push(out, &r);
            if (rv != 0) {
                return rv;
            }
            moves++;
        }
    }
    return 0;
}
