/* A log-bucketed latency histogram in the manner of HdrHistogram: values
 * below 256 are counted exactly; above, each power of two is split into
 * 128 linear sub-buckets, so a reported percentile is within 1/128 (0.8%)
 * of the true value, in fixed memory (7424 counters, 58 KiB), without
 * keeping samples. Not thread-safe: one recorder at a time.
 * Runs on: whoever owns it. */
#ifndef STRATA_CLI_HISTOGRAM_H
#define STRATA_CLI_HISTOGRAM_H

#include <stdint.h>

#define CLI_HIST_SUB_BITS 7
#define CLI_HIST_BUCKETS (2 * (1 << CLI_HIST_SUB_BITS) + \
                          (63 - CLI_HIST_SUB_BITS) * (1 << CLI_HIST_SUB_BITS))

struct cli_hist {
    uint64_t counts[CLI_HIST_BUCKETS];
    uint64_t n;
    uint64_t min, max;
    double sum;
};

/* Empty @h (the caller's memory). */
void cli_hist_init(struct cli_hist *h);
/* Count one value. */
void cli_hist_record(struct cli_hist *h, uint64_t value);
/* Add every count of @from into @into. */
void cli_hist_merge(struct cli_hist *into, const struct cli_hist *from);
/* The smallest value v with at least @pct percent (0..100] of the values
 * at or below v, as the upper end of its bucket (never above the max).
 * 0 when empty. */
uint64_t cli_hist_percentile(const struct cli_hist *h, double pct);
/* Mean of the recorded values; 0 when empty. */
double cli_hist_mean(const struct cli_hist *h);

#endif
