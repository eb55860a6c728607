/* Real and manual clocks. */
#include "clock.h"

#include <time.h>

static uint64_t real_mono_ms(struct st_clock *c)
{
    (void)c;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t real_wall_ms(struct st_clock *c)
{
    (void)c;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct st_clock real_clock = {real_mono_ms, real_wall_ms};

struct st_clock *st_clock_real(void)
{
    return &real_clock;
}

static uint64_t manual_mono_ms(struct st_clock *c)
{
    return ((struct st_clock_manual *)c)->mono_ms;
}

static int64_t manual_wall_ms(struct st_clock *c)
{
    return ((struct st_clock_manual *)c)->wall_ms;
}

void st_clock_manual_init(struct st_clock_manual *c, uint64_t mono_ms,
                          int64_t wall_ms)
{
    c->base.mono_ms = manual_mono_ms;
    c->base.wall_ms = manual_wall_ms;
    c->mono_ms = mono_ms;
    c->wall_ms = wall_ms;
}

void st_clock_manual_advance(struct st_clock_manual *c, uint64_t ms)
{
    c->mono_ms += ms;
    c->wall_ms += (int64_t)ms;
}
