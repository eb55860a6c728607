/* Time as an interface, so tests can control it.
 *
 * Production uses st_clock_real(); tests use a manual clock they advance by
 * hand. Pure cores never read a clock: time arrives in their events, taken by
 * the driver from one of these.
 */
#ifndef ST_CLOCK_H
#define ST_CLOCK_H

#include <stdint.h>

struct st_clock {
    /* Milliseconds on a monotonic clock (arbitrary origin). */
    uint64_t (*mono_ms)(struct st_clock *c);
    /* Milliseconds since the Unix epoch (wall time; may jump). */
    int64_t (*wall_ms)(struct st_clock *c);
};

/* The process-wide real clock (CLOCK_MONOTONIC, CLOCK_REALTIME). */
struct st_clock *st_clock_real(void);

/* A clock that moves only when told. Caller's memory; no allocation. */
struct st_clock_manual {
    struct st_clock base;
    uint64_t mono_ms;
    int64_t wall_ms;
};
void st_clock_manual_init(struct st_clock_manual *c, uint64_t mono_ms,
                          int64_t wall_ms);
void st_clock_manual_advance(struct st_clock_manual *c, uint64_t ms);

static inline uint64_t st_mono_ms(struct st_clock *c)
{
    return c->mono_ms(c);
}
static inline int64_t st_wall_ms(struct st_clock *c)
{
    return c->wall_ms(c);
}

#endif
