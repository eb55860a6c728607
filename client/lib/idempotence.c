/* Producer id, epoch and per-partition sequences for the idempotent
 * producer. */
#include "client/lib/idempotence.h"

#include "common/err.h"

#define INIT_BACKOFF_MAX_MS 1000

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

static int32_t expected(const struct cl_idem_part *s)
{
    return s->acked_seq < 0 ? 0 : seq_add(s->acked_seq, 1);
}

int cl_idem_acked(struct cl_idem_part *s, const struct cl_batch *b)
{
    if (b->base_seq != expected(s)) {
        return ST_ESTALE;
    }
    s->acked_seq = seq_add(b->base_seq, b->n - 1);
    return 0;
}

bool cl_idem_out_of_order_retriable(const struct cl_idem_part *s,
                                    const struct cl_batch *b)
{
    return b->base_seq >= 0 && b->base_seq != expected(s);
}

bool cl_idem_err_not_written(strata_resp_err_t err)
{
    switch (err) {
    case STRATA_ERR_OUT_OF_ORDER_SEQUENCE:
    case STRATA_ERR_UNKNOWN_PRODUCER_ID:
    case STRATA_ERR_INVALID_PRODUCER_EPOCH:
    case STRATA_ERR_NOT_ENOUGH_REPLICAS:
    case STRATA_ERR_MESSAGE_TOO_LARGE:
    case STRATA_ERR_CORRUPT_RECORD:
    case STRATA_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case STRATA_ERR_BROKER_FENCED:
    case STRATA_ERR_INVALID_REQUEST:
        return true;
    default:
        return false;
    }
}

unsigned cl_idem_in_flight_limit(const struct cl_idem_part *s, unsigned max)
{
    return s->acked_seq < 0 ? 1 : max;
}

void cl_idem_init(struct cl_idem *s)
{
    *s = (struct cl_idem){.pid = -1, .epoch = -1, .have_id = false};
}

bool cl_idem_ready(const struct cl_idem *s)
{
    return s->have_id && !s->bump_needed;
}

bool cl_idem_want_init(const struct cl_idem *s, uint64_t now_ms,
                       uint64_t in_flight)
{
    if (s->init_in_flight || now_ms < s->retry_at_ms) {
        return false;
    }
    return !s->have_id || (s->bump_needed && in_flight == 0);
}

void cl_idem_hole(struct cl_idem *s)
{
    s->bump_needed = true;
}

bool cl_idem_init_done(struct cl_idem *s, int64_t pid, int16_t epoch)
{
    bool bump = s->bump_needed;
    s->have_id = true;
    s->pid = pid;
    s->epoch = epoch;
    s->bump_needed = false;
    s->init_in_flight = false;
    s->failures = 0;
    s->retry_at_ms = 0;
    return bump;
}

unsigned cl_idem_init_failed(struct cl_idem *s, uint64_t now_ms,
                             uint64_t base_ms)
{
    s->init_in_flight = false;
    s->failures++;
    uint64_t backoff = base_ms;
    for (unsigned i = 1; i < s->failures && backoff < INIT_BACKOFF_MAX_MS;
         i++) {
        backoff *= 2;
    }
    if (backoff > INIT_BACKOFF_MAX_MS) {
        backoff = INIT_BACKOFF_MAX_MS;
    }
    s->retry_at_ms = now_ms + backoff;
    return s->failures;
}
