/* Random decision streams keep the partition invariants: ISR never empty
 * and inside the replicas, the leader in the ISR, no fenced leader, clean
 * elections pick only previous ISR members, epochs only grow; and a replica
 * replaying the log ends with the same snapshot. One seed per loop index;
 * STRATA_SIM_SEED=<n> replays one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "controller/decide.h"
#include "controller/metadata.h"
#include "test_util.h"

#define BROKERS 5
#define STEPS 300

struct part_view {
    int32_t isr[16];
    int n_isr;
    int32_t leader, leader_epoch, partition_epoch;
    bool unclean;
};

static struct {
    struct st_meta *m;
    struct st_buf *log;
    size_t n_log, cap_log;
    uint64_t rng;
    long seed;
} f;

static void keep(const struct st_buf *b)
{
    if (f.n_log == f.cap_log) {
        f.cap_log = f.cap_log ? f.cap_log * 2 : 256;
        f.log = realloc(f.log, f.cap_log * sizeof *f.log);
        ck_assert_ptr_nonnull(f.log);
    }
    st_buf_init(&f.log[f.n_log]);
    ck_assert_int_eq(st_buf_append(&f.log[f.n_log], b->base, b->len), 0);
    f.n_log++;
}

static bool unclean_on(const char *topic)
{
    const char *v =
        st_meta_topic_config(f.m, topic, "unclean.leader.election.enable");
    return strcmp(v, "true") == 0;
}

/* Views of every partition of topic @t (at most 8). */
static void view(const struct st_meta_topic *t, struct part_view *v)
{
    for (int32_t p = 0; p < t->n_parts && p < 8; p++) {
        const struct st_meta_partition *pp = &t->parts[p];
        memcpy(v[p].isr, pp->isr, (size_t)pp->n_isr * sizeof(int32_t));
        v[p].n_isr = pp->n_isr;
        v[p].leader = pp->leader;
        v[p].leader_epoch = pp->leader_epoch;
        v[p].partition_epoch = pp->partition_epoch;
        v[p].unclean = unclean_on(t->name);
    }
}

static bool has(const int32_t *v, int n, int32_t x)
{
    for (int i = 0; i < n; i++) {
        if (v[i] == x) {
            return true;
        }
    }
    return false;
}

/* Apply @r, checking each topic's partitions against their views before. */
static void commit(struct st_meta_recs *r, bool isr_may_grow)
{
    struct part_view before[4][8];
    char names[4][16];
    size_t n_topics = st_meta_topic_count(f.m);
    for (size_t i = 0; i < n_topics && i < 4; i++) {
        const struct st_meta_topic *t = st_meta_topic_at(f.m, i);
        snprintf(names[i], sizeof names[i], "%s", t->name);
        view(t, before[i]);
    }
    for (size_t i = 0; i < r->n; i++) {
        keep(&r->v[i]);
        ck_assert_msg(st_meta_apply(f.m, (int64_t)f.n_log, r->v[i].base,
                                    r->v[i].len) == 0,
                      "seed=%ld: a decided record was refused", f.seed);
    }
    st_meta_recs_close(r);
    for (size_t i = 0; i < n_topics && i < 4; i++) {
        const struct st_meta_topic *t = st_meta_topic_by_name(f.m, names[i]);
        if (t == NULL) {
            continue; /* deleted */
        }
        for (int32_t p = 0; p < t->n_parts && p < 8; p++) {
            const struct st_meta_partition *pp = &t->parts[p];
            const struct part_view *b = &before[i][p];
            ck_assert_msg(pp->leader_epoch >= b->leader_epoch &&
                              pp->partition_epoch >= b->partition_epoch,
                          "seed=%ld: epoch went back", f.seed);
            bool unclean = b->unclean || unclean_on(t->name);
            if (pp->leader != b->leader && pp->leader != -1 && !unclean) {
                ck_assert_msg(has(b->isr, b->n_isr, pp->leader),
                              "seed=%ld: %s-%d elected %d outside ISR",
                              f.seed, t->name, (int)p, (int)pp->leader);
            }
            for (int j = 0; j < pp->n_isr && !isr_may_grow && !unclean;
                 j++) {
                ck_assert_msg(has(b->isr, b->n_isr, pp->isr[j]),
                              "seed=%ld: ISR grew without AlterPartition",
                              f.seed);
            }
        }
    }
}

/* The per-broker load the state keeps for placement (n_replicas,
 * n_leading) equals a recount over every partition. */
static void check_load(const struct st_meta *m, const char *where)
{
    for (size_t i = 0; i < st_meta_broker_count(m); i++) {
        const struct st_meta_broker *b = st_meta_broker_at(m, i);
        uint32_t reps = 0, leads = 0;
        for (size_t k = 0; k < st_meta_topic_count(m); k++) {
            const struct st_meta_topic *t = st_meta_topic_at(m, k);
            for (int32_t p = 0; p < t->n_parts; p++) {
                leads += t->parts[p].leader == b->id;
                reps += has(t->parts[p].replicas, t->parts[p].n_replicas,
                            b->id);
            }
        }
        ck_assert_msg(b->n_replicas == reps && b->n_leading == leads,
                      "seed=%ld %s: broker %d keeps %u/%u replicas/leaders, "
                      "recount %u/%u", f.seed, where, (int)b->id,
                      b->n_replicas, b->n_leading, reps, leads);
    }
}

static void check_invariants(void)
{
    check_load(f.m, "after apply");
    for (size_t i = 0; i < st_meta_topic_count(f.m); i++) {
        const struct st_meta_topic *t = st_meta_topic_at(f.m, i);
        for (int32_t p = 0; p < t->n_parts; p++) {
            const struct st_meta_partition *pp = &t->parts[p];
            ck_assert_msg(pp->n_isr >= 1, "seed=%ld: empty ISR", f.seed);
            for (int j = 0; j < pp->n_isr; j++) {
                ck_assert(has(pp->replicas, pp->n_replicas, pp->isr[j]));
            }
            if (pp->leader != -1) {
                const struct st_meta_broker *b =
                    st_meta_broker_find(f.m, pp->leader);
                ck_assert(has(pp->isr, pp->n_isr, pp->leader));
                ck_assert_msg(b != NULL && !b->fenced,
                              "seed=%ld: %s-%d led by fenced broker %d",
                              f.seed, t->name, (int)p, (int)pp->leader);
            }
        }
    }
}

static uint64_t pick(uint64_t n)
{
    return st_meta_rand(&f.rng) % n;
}

static void step_broker(struct st_meta_recs *r, struct st_meta_err *err)
{
    int32_t id = (int32_t)pick(BROKERS) + 1;
    const struct st_meta_broker *b = st_meta_broker_find(f.m, id);
    bool fenced;
    switch (pick(4)) {
    case 0: { /* (re-)register with a fresh incarnation */
        struct st_meta_register req = {.broker_id = id, .rack = ""};
        int64_t epoch;
        uint64_t x = st_meta_rand(&f.rng) | 1;
        memcpy(req.incarnation, &x, sizeof x);
        st_meta_decide_register_broker(f.m, &req, r, &epoch, err);
        break;
    }
    case 1: /* heartbeat, caught up */
        if (b != NULL) {
            st_meta_decide_heartbeat(f.m, id, b->epoch, false, true, r,
                                     &fenced, err);
        }
        break;
    case 2: /* controlled shutdown */
        if (b != NULL) {
            st_meta_decide_heartbeat(f.m, id, b->epoch, true, true, r,
                                     &fenced, err);
        }
        break;
    default: { /* session timeout */
        struct st_meta_heartbeat_time hb = {id, 0};
        st_meta_decide_session_timeouts(f.m, 10000, 5000, &hb, 1, r);
        break;
    }
    }
    commit(r, false);
}

static void step_isr(struct st_meta_recs *r, struct st_meta_err *err)
{
    if (st_meta_topic_count(f.m) == 0) {
        return;
    }
    const struct st_meta_topic *t =
        st_meta_topic_at(f.m, pick(st_meta_topic_count(f.m)));
    int32_t pi = (int32_t)pick((uint64_t)t->n_parts);
    const struct st_meta_partition *p = &t->parts[pi];
    if (p->leader == -1) {
        return;
    }
    int32_t isr[16];
    int n = 0;
    bool grow = pick(2) == 0;
    for (int i = 0; i < p->n_replicas; i++) {
        int32_t x = p->replicas[i];
        bool in = has(p->isr, p->n_isr, x);
        if (x == p->leader || (in && (grow || pick(2))) ||
            (!in && grow && pick(2))) {
            isr[n++] = x;
        }
    }
    struct st_meta_alter_partition req = {
        .broker_id = p->leader,
        .broker_epoch = st_meta_broker_find(f.m, p->leader)->epoch,
        .partition = pi, .leader_epoch = p->leader_epoch,
        .partition_epoch = p->partition_epoch, .new_isr = isr, .n_new_isr = n};
    memcpy(req.topic_id, t->id, 16);
    int32_t epoch;
    int rv = st_meta_decide_alter_partition(f.m, &req, r, &epoch, err);
    ck_assert(rv == 0 || rv == ST_EFENCED);
    commit(r, true);
}

static void step_topic(struct st_meta_recs *r, struct st_meta_err *err)
{
    char name[16];
    snprintf(name, sizeof name, "t%d", (int)pick(4));
    if (st_meta_topic_by_name(f.m, name) != NULL) {
        if (pick(3) == 0) {
            st_meta_decide_delete_topic(f.m, name, r, err);
        } else {
            struct st_meta_kv kv = {"unclean.leader.election.enable",
                                    pick(2) ? "true" : "false"};
            st_meta_decide_alter_configs(f.m, ST_META_RES_TOPIC, name, &kv, 1,
                                         false, r, err);
        }
    } else {
        struct st_meta_create_topic req = {
            .name = name, .partitions = (int32_t)pick(8) + 1,
            .replication_factor = (int32_t)pick(3) + 1};
        st_meta_decide_create_topic(f.m, &req, &f.rng, r, err);
    }
    commit(r, false);
}

START_TEST(test_random_decisions_keep_partition_invariants)
{
    memset(&f, 0, sizeof f);
    f.seed = st_test_seed_override() >= 0 ? st_test_seed_override() : _i;
    f.rng = (uint64_t)f.seed;
    ck_assert_int_eq(st_meta_new(&f.m), 0);
    struct st_meta_recs r;
    struct st_meta_err err;
    st_meta_recs_init(&r);
    for (int s = 0; s < STEPS; s++) {
        switch (pick(3)) {
        case 0: step_broker(&r, &err); break;
        case 1: step_isr(&r, &err); break;
        default: step_topic(&r, &err); break;
        }
        check_invariants();
        ck_assert_int_eq(st_meta_decide_elect_leaders(f.m, &r), 0);
        ck_assert_msg(r.n == 0, "seed=%ld: a decision left elections undone",
                      f.seed);
    }
    /* A replica replaying the log ends with the same snapshot. */
    struct st_meta *replica;
    struct st_buf a, b;
    st_buf_init(&a);
    st_buf_init(&b);
    ck_assert_int_eq(st_meta_new(&replica), 0);
    for (size_t i = 0; i < f.n_log; i++) {
        ck_assert_int_eq(st_meta_apply(replica, (int64_t)i + 1, f.log[i].base,
                                       f.log[i].len),
                         0);
        st_buf_close(&f.log[i]);
    }
    ck_assert_int_eq(st_meta_snapshot_write(f.m, &a), 0);
    ck_assert_int_eq(st_meta_snapshot_write(replica, &b), 0);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_msg(memcmp(a.base, b.base, a.len) == 0,
                  "seed=%ld: replica diverged", f.seed);
    check_load(replica, "replayed");
    /* A state loaded from the snapshot has the same load counts. */
    struct st_meta *loaded;
    ck_assert_int_eq(st_meta_new(&loaded), 0);
    ck_assert_int_eq(st_meta_snapshot_load(loaded, a.base, a.len), 0);
    check_load(loaded, "loaded");
    for (size_t i = 0; i < st_meta_broker_count(f.m); i++) {
        const struct st_meta_broker *x = st_meta_broker_at(f.m, i);
        const struct st_meta_broker *y = st_meta_broker_at(loaded, i);
        ck_assert(x->n_replicas == y->n_replicas &&
                  x->n_leading == y->n_leading);
    }
    st_meta_free(loaded);
    st_buf_close(&a);
    st_buf_close(&b);
    st_meta_free(replica);
    st_meta_free(f.m);
    free(f.log);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("meta_random");
    TCase *tc = tcase_create("random");
    long one = st_test_seed_override();
    tcase_add_loop_test(tc, test_random_decisions_keep_partition_invariants, 0,
                        one >= 0 ? 1 : 100);
    suite_add_tcase(s, tc);
    return s;
}
