/* The log-bucketed histogram (histogram.h). Bucket layout, for S = 7 sub
 * bits and M = 128:
 *   v < 2M:              index v (exact)
 *   v >= 2M, msb(v) = b: shift = b - S, top = v >> shift in [M, 2M),
 *                        index 2M + (shift - 1) * M + (top - M)
 * so bucket width doubles each power of two and stays 1/M of its base
 * (HdrHistogram's sub-bucket scheme with one significant-bits setting). */
#include <string.h>

#include "client/cli/histogram.h"

#define M (1u << CLI_HIST_SUB_BITS)

static unsigned index_of(uint64_t v)
{
    if (v < 2 * M) {
        return (unsigned)v;
    }
    unsigned b = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = b - CLI_HIST_SUB_BITS;
    unsigned top = (unsigned)(v >> shift);
    return 2 * M + (shift - 1) * M + (top - M);
}

/* The largest value that falls in bucket @i. */
static uint64_t upper_of(unsigned i)
{
    if (i < 2 * M) {
        return i;
    }
    unsigned shift = (i - 2 * M) / M + 1;
    uint64_t top = M + (i - 2 * M) % M;
    return ((top + 1) << shift) - 1;
}

void cli_hist_init(struct cli_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void cli_hist_record(struct cli_hist *h, uint64_t value)
{
    h->counts[index_of(value)]++;
    h->n++;
    h->sum += (double)value;
    if (value < h->min) {
        h->min = value;
    }
    if (value > h->max) {
        h->max = value;
    }
}

void cli_hist_merge(struct cli_hist *into, const struct cli_hist *from)
{
    for (unsigned i = 0; i < CLI_HIST_BUCKETS; i++) {
        into->counts[i] += from->counts[i];
    }
    into->n += from->n;
    into->sum += from->sum;
    if (from->n > 0 && from->min < into->min) {
        into->min = from->min;
    }
    if (from->max > into->max) {
        into->max = from->max;
    }
}

uint64_t cli_hist_percentile(const struct cli_hist *h, double pct)
{
    if (h->n == 0) {
        return 0;
    }
    double want = pct / 100.0 * (double)h->n;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want || rank == 0) {
        rank++;
    }
    uint64_t seen = 0;
    for (unsigned i = 0; i < CLI_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = upper_of(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

double cli_hist_mean(const struct cli_hist *h)
{
    return h->n ? h->sum / (double)h->n : 0.0;
}
