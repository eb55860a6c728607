/* Consumer-group figures:
 *   1. a member joins a settled group of 10 on 60 partitions (simulated,
 *      no faults): heartbeat round trips and simulated time until every
 *      member is reconciled, and the longest time a moved partition went
 *      unconsumed (kept partitions are never paused);
 *   2. the uniform and range assignors' wall time for 1,000 members on
 *      10,000 partitions: a fresh assignment, a join and a leave.
 * Run from a release build: ./build-rel/tests/bench/bench_group */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/group/group.h"
#include "group_sim.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void join_figure(uint64_t hb_ms, uint64_t delay_ms)
{
    uint64_t trips, ms, pause, dropped, joiner;
    if (!gsim_join_figure(10, 60, hb_ms, delay_ms, &trips, &ms, &pause,
                          &dropped, &joiner)) {
        printf("join figure failed (hb=%" PRIu64 ")\n", hb_ms);
        exit(1);
    }
    printf("join 10->11 members, 60 partitions, heartbeat %" PRIu64
           " ms, one-way delay <= %" PRIu64 " ms: %" PRIu64
           " heartbeats (all members), reconciled in %" PRIu64
           " ms simulated; moved partitions unconsumed <= %" PRIu64
           " ms; partitions stopped %" PRIu64 " = taken by joiner %" PRIu64
           " (kept ones never paused)\n", hb_ms, delay_ms, trips, ms, pause,
           dropped, joiner);
}

struct big {
    struct st_assign_topic topic;
    struct st_assign_member *m;
    char (*ids)[16];
    uint32_t zero;
    unsigned n;
};

static void big_init(struct big *b, unsigned members, int32_t parts)
{
    b->topic = (struct st_assign_topic){"t", parts};
    b->m = calloc(members + 1, sizeof *b->m);
    b->ids = calloc(members + 1, sizeof *b->ids);
    b->zero = 0;
    b->n = members;
    for (unsigned i = 0; i < members + 1; i++) {
        snprintf(b->ids[i], sizeof b->ids[i], "m%06u", i * 2);
        b->m[i].member_id = b->ids[i];
        b->m[i].topics = &b->zero;
        b->m[i].n_topics = 1;
    }
}

static double run(const struct st_group_assignor *a, struct big *b,
                  struct st_assign_output *out)
{
    struct st_assign_input in = {&b->topic, 1, b->m, b->n};
    double t0 = now_ms();
    if (st_group_assign(a, &in, out) != 0) {
        printf("assign failed\n");
        exit(1);
    }
    return now_ms() - t0;
}

/* Make @out the members' current assignment (the previous target). */
static void adopt(struct big *b, struct st_assign_output *out)
{
    for (unsigned i = 0; i < b->n; i++) {
        b->m[i].current = out->parts[i];
        b->m[i].n_current = out->n_parts[i];
    }
}

static void assignor_figure(const struct st_group_assignor *a)
{
    struct big b;
    big_init(&b, 1000, 10000);
    struct st_assign_output o1, o2, o3;
    double fresh = run(a, &b, &o1);
    adopt(&b, &o1);
    /* A joiner: id m000001 sorts second; shift it in at the end as the
     * 1001st member (ids need not be sorted for the assignor). */
    snprintf(b.ids[1000], sizeof b.ids[1000], "m000001");
    b.n = 1001;
    b.m[1000].current = NULL;
    b.m[1000].n_current = 0;
    double join = run(a, &b, &o2);
    unsigned moved = o2.n_parts[1000];
    adopt(&b, &o2);
    b.n = 1000; /* the joiner leaves again */
    double leave = run(a, &b, &o3);
    printf("assignor %-7s 1000 members x 10000 partitions: fresh %.1f ms, "
           "join %.1f ms (%u moved), leave %.1f ms\n", a->name, fresh, join,
           moved, leave);
    st_assign_output_free(&o1);
    st_assign_output_free(&o2);
    st_assign_output_free(&o3);
    free(b.m);
    free(b.ids);
}

int main(void)
{
    join_figure(100, 1);
    join_figure(3000, 1);
    join_figure(5000, 5);
    assignor_figure(&st_group_assignor_uniform);
    assignor_figure(&st_group_assignor_range);
    return 0;
}
