/* Per-partition sequence numbers for the idempotent producer. */
#include "client/lib/idempotence.h"

#include "common/err.h"

static int32_t seq_add(int32_t seq, size_t n)
{
    return (int32_t)(((int64_t)seq + (int64_t)n) % ((int64_t)INT32_MAX + 1));
}

void cl_idem_part_init(struct cl_idem_part *s)
{
    s->next_seq = 0;
    s->acked_seq = -1;
}

void cl_idem_assign(struct cl_idem_part *s, struct cl_batch *b)
{
    if (b->base_seq >= 0) {
        return;
    }
    b->base_seq = s->next_seq;
    s->next_seq = seq_add(s->next_seq, b->n);
}

int cl_idem_acked(struct cl_idem_part *s, const struct cl_batch *b)
{
    int32_t expect = s->acked_seq < 0 ? 0 : seq_add(s->acked_seq, 1);
    if (b->base_seq != expect) {
        return ST_ESTALE;
    }
    s->acked_seq = seq_add(b->base_seq, b->n - 1);
    return 0;
}
