/* The consumer-group simulation (see group_sim.h). One world per seed:
 * an event heap ordered by (time, sequence), a coordinator that steps the
 * real core and "persists" its records in an in-memory log before it
 * answers, consumers that obey the KIP-848 client rules, and a network
 * that drops and delays. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/group/group.h"
#include "common/bytes.h"
#include "group_sim.h"

#define CLIENTS_MAX 12 /* the figure runs 10 + 1 */
#define SIM_CLIENTS_MAX 8
#define TOPICS_MAX 2
#define PARTS_MAX 32
#define ITEMS_MAX (TOPICS_MAX * PARTS_MAX)

static const char *const topic_names[TOPICS_MAX] = {"orders", "payments"};

/* ---- the world ---- */

enum msg_kind { M_HB = 1, M_LEAVE, M_COMMIT, M_FETCH };

struct item {
    uint8_t t;
    int32_t p;
    int64_t off;
    enum st_group_error err;
};

struct msg {
    enum msg_kind kind;
    int client;
    uint32_t inc;  /* the client's incarnation that sent it */
    uint64_t corr;
    char member_id[64];
    bool has_instance;
    int32_t epoch;
    bool poll_timeout;
    struct item items[ITEMS_MAX];
    unsigned n_items;
    enum st_group_error err; /* response */
};

enum ev_kind { E_TO_COORD = 1, E_TO_CLIENT, E_CLIENT_TIMER, E_COORD_TICK,
               E_FAULT, E_COORD_UP };

struct ev {
    uint64_t t, seq;
    enum ev_kind kind;
    int client;
    uint32_t inc;
    struct msg *msg;
};

struct own {
    uint8_t t;
    int32_t p;
    bool started;      /* committed offset fetched */
    int64_t base;      /* position at start_ms */
    uint64_t start_ms;
    uint64_t fetch_corr;
    uint64_t commit_until; /* a commit of it may be in flight until then */
};

struct client {
    bool alive;
    uint32_t inc;
    bool is_static;
    char instance[16];
    char member_id[64];
    int32_t epoch;
    struct own owned[ITEMS_MAX];
    unsigned n_owned;
    uint64_t last_ok_send_ms;
    uint64_t hb_corr, hb_sent_ms;
    bool ack_needed;
    uint64_t next_hb_ms;
    uint64_t commit_corr, commit_sent_ms, next_commit_ms;
    uint32_t rto_ms;
    uint64_t mute_until;  /* one-way partition: its requests are lost */
    /* epoch monotonicity per member id */
    char seen_id[64];
    int32_t seen_epoch;
    uint32_t seen_group_inc;
};

struct rec {
    uint8_t *key, *val;
    size_t key_len, val_len;
    bool tomb;
};

struct world {
    uint64_t seed, rng, now, seq;
    bool trace, failed;
    char *why;
    size_t why_cap;
    struct gsim_stats *st;
    /* parameters */
    unsigned drop_pct;
    uint64_t delay_max;     /* usual delays: 1..delay_max */
    unsigned tail_pct;      /* this many messages are slow, */
    uint64_t tail_max;      /* up to tail_max (a GC pause, a retransmit) */
    uint32_t session_ms, hb_ms, fence_margin;
    uint64_t fault_end, end;
    bool faults_on;
    /* topics */
    unsigned n_topics;
    int32_t parts[TOPICS_MAX];
    /* the event heap */
    struct ev *heap;
    unsigned n_heap, cap_heap;
    /* coordinator */
    struct st_group *g;
    bool up;
    uint64_t tick_at;
    uint32_t generation;  /* coordinator incarnations (member-id seed) */
    uint32_t group_inc;   /* group deleted and recreated */
    struct rec *log;
    unsigned n_log, cap_log;
    int64_t committed[TOPICS_MAX][PARTS_MAX];
    /* clients */
    struct client c[CLIENTS_MAX];
    unsigned n_clients;
    uint64_t corr;
    /* figure mode */
    uint64_t requests;
    uint64_t gap_start[TOPICS_MAX][PARTS_MAX];
    uint64_t max_gap;
    uint64_t drops; /* partitions a consumer stopped consuming */
};

static uint64_t rnd(struct world *w)
{
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]; lo <= hi (a reversed range used to wrap its size,
 * giving absurd values, or 0 and a division by zero when lo == hi + 1).
 * The whole 64-bit range has no size that fits in 64 bits. */
static uint64_t rnd_in(struct world *w, uint64_t lo, uint64_t hi)
{
    assert(lo <= hi);
    uint64_t span = hi - lo;
    if (span == UINT64_MAX) {
        return rnd(w);
    }
    return lo + rnd(w) % (span + 1);
}

static void trace(struct world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void trace(struct world *w, const char *fmt, ...)
{
    if (!w->trace) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%8" PRIu64 " ", w->now);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void core_trace(void *arg, const char *line)
{
    struct world *w = arg;
    trace(w, "  core: %s", line);
}

static void fail(struct world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(struct world *w, const char *fmt, ...)
{
    if (w->failed) {
        return;
    }
    w->failed = true;
    int n = snprintf(w->why, w->why_cap, "t=%" PRIu64 "ms: ", w->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->why + n, w->why_cap - (size_t)n, fmt, ap);
    va_end(ap);
    trace(w, "FAIL %s", w->why);
}

/* ---- event heap ---- */

static bool ev_less(const struct ev *a, const struct ev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push(struct world *w, uint64_t t, enum ev_kind kind, int client,
                 struct msg *m)
{
    if (w->n_heap == w->cap_heap) {
        w->cap_heap = w->cap_heap ? w->cap_heap * 2 : 256;
        w->heap = realloc(w->heap, w->cap_heap * sizeof *w->heap);
    }
    struct ev e = {t, w->seq++, kind, client,
                   client >= 0 ? w->c[client].inc : 0, m};
    unsigned i = w->n_heap++;
    while (i > 0 && ev_less(&e, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = e;
}

static struct ev pop(struct world *w)
{
    struct ev top = w->heap[0];
    struct ev last = w->heap[--w->n_heap];
    unsigned i = 0;
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        const struct ev *best = &last;
        if (l < w->n_heap && ev_less(&w->heap[l], best)) {
            m = l;
            best = &w->heap[l];
        }
        if (r < w->n_heap && ev_less(&w->heap[r], best)) {
            m = r;
        }
        if (m == i) {
            break;
        }
        w->heap[i] = w->heap[m];
        i = m;
    }
    if (w->n_heap > 0) {
        w->heap[i] = last;
    }
    return top;
}

/* Send over the network: maybe dropped, else delayed. */
static void send(struct world *w, enum ev_kind kind, int client,
                 struct msg *m)
{
    bool muted = kind == E_TO_COORD && w->now < w->c[client].mute_until;
    if (muted || (w->faults_on && rnd(w) % 100 < w->drop_pct)) {
        trace(w, "net: drop %s kind=%d client=%d",
              kind == E_TO_COORD ? "request" : "response", m->kind, client);
        free(m);
        return;
    }
    uint64_t d = rnd_in(w, 1, w->delay_max);
    if (w->faults_on && rnd(w) % 100 < w->tail_pct) {
        d = rnd_in(w, w->delay_max, w->tail_max);
    }
    push(w, w->now + d, kind, client, m);
}

/* After this long, a request or its reply can no longer arrive. */
static uint64_t reply_deadline(const struct world *w)
{
    uint64_t d = w->tail_max > w->delay_max ? w->tail_max : w->delay_max;
    return 2 * d + 1;
}

/* ---- the coordinator ---- */

static void log_append(struct world *w, const struct st_group_update *u)
{
    for (unsigned i = 0; i < u->n_records; i++) {
        if (w->n_log == w->cap_log) {
            w->cap_log = w->cap_log ? w->cap_log * 2 : 256;
            w->log = realloc(w->log, w->cap_log * sizeof *w->log);
        }
        const struct st_group_record *s = &u->records[i];
        struct rec *r = &w->log[w->n_log++];
        r->key = malloc(s->key.len);
        memcpy(r->key, s->key.base, s->key.len);
        r->key_len = s->key.len;
        r->val = malloc(s->value.len + 1);
        if (s->value.len) {
            memcpy(r->val, s->value.base, s->value.len);
        }
        r->val_len = s->value.len;
        r->tomb = s->tombstone;
    }
}

static void log_clear(struct world *w)
{
    for (unsigned i = 0; i < w->n_log; i++) {
        free(w->log[i].key);
        free(w->log[i].val);
    }
    w->n_log = 0;
}

static const struct rec *cmp_base;

static int cmp_rec_idx(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    const struct rec *rx = &cmp_base[x], *ry = &cmp_base[y];
    size_t n = rx->key_len < ry->key_len ? rx->key_len : ry->key_len;
    int c = memcmp(rx->key, ry->key, n);
    if (c == 0 && rx->key_len != ry->key_len) {
        c = rx->key_len < ry->key_len ? -1 : 1;
    }
    return c != 0 ? c : (x < y ? -1 : x > y);
}

/* Compaction: keep the last record per key, drop tombstones. */
static void log_compact(struct world *w)
{
    unsigned n = w->n_log;
    unsigned *idx = malloc((n + 1) * sizeof *idx);
    bool *keep = calloc(n + 1, sizeof *keep);
    for (unsigned i = 0; i < n; i++) {
        idx[i] = i;
    }
    cmp_base = w->log;
    qsort(idx, n, sizeof *idx, cmp_rec_idx);
    for (unsigned i = 0; i < n; i++) {
        bool last = i + 1 == n || w->log[idx[i]].key_len !=
                                      w->log[idx[i + 1]].key_len ||
                    memcmp(w->log[idx[i]].key, w->log[idx[i + 1]].key,
                           w->log[idx[i]].key_len) != 0;
        keep[idx[i]] = last && !w->log[idx[i]].tomb;
    }
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (keep[i]) {
            w->log[k++] = w->log[i];
        } else {
            free(w->log[i].key);
            free(w->log[i].val);
        }
    }
    w->n_log = k;
    free(idx);
    free(keep);
}

static struct st_group_config coord_config(struct world *w)
{
    struct st_group_config cfg = {
        .group_id = "sim-group",
        .session_timeout_ms = w->session_ms,
        .heartbeat_interval_ms = w->hb_ms,
        .offsets_retention_ms = 3600000,
        .seed = w->seed * 1000 + w->generation,
        .trace = w->trace ? core_trace : NULL,
        .trace_arg = w,
    };
    return cfg;
}

static void coord_tick_at(struct world *w, uint64_t deadline)
{
    if (deadline != 0 && (w->tick_at == 0 || deadline < w->tick_at ||
                          w->tick_at <= w->now)) {
        w->tick_at = deadline < w->now ? w->now : deadline;
        push(w, w->tick_at, E_COORD_TICK, -1, NULL);
    }
}

static void coord_metadata(struct world *w);

/* Step the core; persist, check, and handle deletion. */
static bool coord_step(struct world *w, struct st_group_event *ev,
                       struct st_group_update *up)
{
    ev->now_ms = w->now;
    int rv = st_group_step(w->g, ev, up);
    w->st->events++;
    if (rv != 0) {
        fail(w, "st_group_step(type %d) = %d", ev->type, rv);
        return false;
    }
    char why[256];
    if (!st_group_check(w->g, why, sizeof why)) {
        fail(w, "core invariant: %s", why);
        return false;
    }
    log_append(w, up);
    coord_tick_at(w, up->next_deadline_ms);
    return true;
}

static void coord_recreate_if_deleted(struct world *w, bool deleted)
{
    if (!deleted) {
        return;
    }
    trace(w, "coord: group deleted; a fresh core takes over");
    st_group_free(w->g);
    struct st_group_config cfg = coord_config(w);
    st_group_new(&cfg, &w->g);
    w->group_inc++;
    log_clear(w);
    memset(w->committed, 0xff, sizeof w->committed); /* -1 */
    coord_metadata(w);
}

static void coord_metadata(struct world *w)
{
    struct st_group_topic_meta tm[TOPICS_MAX];
    memset(tm, 0, sizeof tm);
    for (unsigned t = 0; t < w->n_topics; t++) {
        tm[t].name = topic_names[t];
        tm[t].id[0] = (uint8_t)(t + 1);
        tm[t].partitions = w->parts[t];
    }
    struct st_group_event ev = {.type = ST_GROUP_EV_METADATA};
    ev.metadata.topics = tm;
    ev.metadata.n_topics = w->n_topics;
    struct st_group_update up;
    if (coord_step(w, &ev, &up)) {
        coord_recreate_if_deleted(w, up.deleted);
    }
}

static int topic_index(const char *name)
{
    for (int t = 0; t < TOPICS_MAX; t++) {
        if (strcmp(topic_names[t], name) == 0) {
            return t;
        }
    }
    return -1;
}

static void coord_request(struct world *w, struct msg *m)
{
    struct st_group_event ev;
    memset(&ev, 0, sizeof ev);
    struct st_group_tp tps[ITEMS_MAX];
    struct st_group_offset offs[ITEMS_MAX];
    const char *subs[TOPICS_MAX];
    for (unsigned i = 0; i < m->n_items; i++) {
        tps[i].topic = topic_names[m->items[i].t];
        tps[i].partition = m->items[i].p;
        offs[i] = (struct st_group_offset){tps[i], m->items[i].off, 0, "sim"};
    }
    for (unsigned t = 0; t < TOPICS_MAX; t++) {
        subs[t] = topic_names[t];
    }
    const struct client *c = &w->c[m->client];
    switch (m->kind) {
    case M_HB:
        ev.type = ST_GROUP_EV_HEARTBEAT;
        ev.heartbeat.member_id = m->member_id;
        ev.heartbeat.instance_id = m->has_instance ? c->instance : NULL;
        ev.heartbeat.member_epoch = m->epoch;
        ev.heartbeat.has_subscription = true;
        ev.heartbeat.topics = subs;
        ev.heartbeat.n_topics = TOPICS_MAX;
        ev.heartbeat.has_owned = true;
        ev.heartbeat.owned = tps;
        ev.heartbeat.n_owned = m->n_items;
        ev.heartbeat.rebalance_timeout_ms = c->rto_ms;
        ev.heartbeat.client_id = "sim";
        ev.heartbeat.client_host = "/127.0.0.1";
        break;
    case M_LEAVE:
        ev.type = ST_GROUP_EV_LEAVE;
        ev.leave.member_id = m->member_id;
        ev.leave.instance_id = m->has_instance ? c->instance : NULL;
        ev.leave.member_epoch = m->epoch;
        ev.leave.reason = m->poll_timeout ? ST_GROUP_LEAVE_POLL_TIMEOUT
                                          : ST_GROUP_LEAVE_CLOSE;
        break;
    case M_COMMIT:
        ev.type = ST_GROUP_EV_OFFSET_COMMIT;
        ev.commit.member_id = m->member_id;
        ev.commit.member_epoch = m->epoch;
        ev.commit.offsets = offs;
        ev.commit.n_offsets = m->n_items;
        break;
    case M_FETCH:
        ev.type = ST_GROUP_EV_OFFSET_FETCH;
        ev.fetch.tps = tps;
        ev.fetch.n_tps = m->n_items;
        break;
    }
    struct st_group_update up;
    if (!coord_step(w, &ev, &up)) {
        free(m);
        return;
    }
    w->requests += m->kind == M_HB;
    /* The response reuses the request's memory. */
    if (m->kind == M_HB || m->kind == M_LEAVE) {
        m->err = up.hb.error;
        m->epoch = up.hb.member_epoch;
        snprintf(m->member_id, sizeof m->member_id, "%s",
                 up.hb.member_id ? up.hb.member_id : "");
        m->n_items = 0;
        for (unsigned i = 0; m->kind == M_HB && i < up.hb.n_assignment; i++) {
            int t = topic_index(up.hb.assignment[i].topic);
            m->items[m->n_items++] = (struct item){
                (uint8_t)t, up.hb.assignment[i].partition, 0, 0};
        }
    } else {
        m->err = up.error;
        for (unsigned i = 0; i < up.n_offsets && i < m->n_items; i++) {
            m->items[i].err = up.offsets[i].error;
            m->items[i].off = up.offsets[i].offset;
            if (m->kind == M_COMMIT && up.error == ST_GROUP_OK &&
                up.offsets[i].error == ST_GROUP_OK) {
                int64_t *last = &w->committed[m->items[i].t][m->items[i].p];
                if (up.offsets[i].offset < *last) {
                    fail(w, "committed offset of %s-%d went back %" PRId64
                         " -> %" PRId64 " (client %d)",
                         topic_names[m->items[i].t], m->items[i].p, *last,
                         up.offsets[i].offset, m->client);
                }
                *last = up.offsets[i].offset;
                w->st->commits_ok++;
            } else if (m->kind == M_COMMIT) {
                w->st->commits_refused++;
            }
        }
    }
    bool deleted = up.deleted;
    send(w, E_TO_CLIENT, m->client, m);
    coord_recreate_if_deleted(w, deleted);
}

/* Fail over: a new core replays the (maybe compacted) log and must hold
 * exactly the old state. */
static void coord_failover(struct world *w)
{
    w->st->failovers++;
    bool compact = rnd(w) % 2;
    if (compact) {
        log_compact(w);
    }
    w->generation++;
    struct st_group_config cfg = coord_config(w);
    struct st_group *g2;
    if (st_group_new(&cfg, &g2) != 0) {
        fail(w, "st_group_new");
        return;
    }
    struct st_group_update up;
    for (unsigned i = 0; i < w->n_log && !w->failed; i++) {
        struct st_group_event ev = {.type = ST_GROUP_EV_LOAD, .now_ms = w->now};
        ev.load.key = (struct st_bytes){w->log[i].key, w->log[i].key_len};
        ev.load.value = (struct st_bytes){w->log[i].val, w->log[i].val_len};
        ev.load.tombstone = w->log[i].tomb;
        int rv = st_group_step(g2, &ev, &up);
        if (rv != 0) {
            fail(w, "replay record %u: %d", i, rv);
        }
    }
    struct st_group_event done = {.type = ST_GROUP_EV_LOAD_DONE,
                                  .now_ms = w->now};
    if (!w->failed && st_group_step(g2, &done, &up) != 0) {
        fail(w, "LOAD_DONE failed");
    }
    struct st_buf a, b;
    st_buf_init(&a);
    st_buf_init(&b);
    st_group_dump(w->g, &a);
    st_group_dump(g2, &b);
    if (!w->failed && (a.len != b.len || memcmp(a.base, b.base, a.len))) {
        st_buf_append(&a, "", 1);
        st_buf_append(&b, "", 1);
        fail(w, "replay (%s) differs:\n--- before\n%s--- after\n%s",
             compact ? "compacted" : "whole", (char *)a.base,
             (char *)b.base);
    }
    st_buf_close(&a);
    st_buf_close(&b);
    st_group_free(w->g);
    w->g = g2;
    w->up = false;
    w->tick_at = 0;
    uint64_t down = rnd_in(w, 10, w->session_ms / 2);
    trace(w, "coord: failover (%s log, %u records), down %" PRIu64 "ms",
          compact ? "compacted" : "whole", w->n_log, down);
    push(w, w->now + down, E_COORD_UP, -1, NULL);
    coord_tick_at(w, up.next_deadline_ms);
}

/* ---- consumers ---- */

static uint64_t fence_deadline(const struct world *w, const struct client *c)
{
    uint32_t t = w->session_ms < c->rto_ms ? w->session_ms : c->rto_ms;
    return c->last_ok_send_ms + t - w->fence_margin;
}

/* Does @c own partition (t, p) right now, as far as the checker counts? */
static bool client_owns(const struct world *w, const struct client *c,
                        unsigned t, int32_t p)
{
    if (!c->alive || w->now >= fence_deadline(w, c)) {
        return false;
    }
    for (unsigned i = 0; i < c->n_owned; i++) {
        if (c->owned[i].t == t && c->owned[i].p == p) {
            return true;
        }
    }
    return false;
}

static int64_t position(const struct world *w, const struct own *o)
{
    return o->base + (int64_t)((w->now - o->start_ms) / 10);
}

static struct msg *new_msg(struct world *w, int ci, enum msg_kind kind)
{
    struct client *c = &w->c[ci];
    struct msg *m = calloc(1, sizeof *m);
    m->kind = kind;
    m->client = ci;
    m->inc = c->inc;
    m->corr = ++w->corr;
    snprintf(m->member_id, sizeof m->member_id, "%s", c->member_id);
    m->has_instance = c->is_static;
    m->epoch = c->epoch;
    return m;
}

static void mark_gap_start(struct world *w, unsigned t, int32_t p)
{
    w->drops++;
    w->gap_start[t][p] = w->now;
}

static void mark_gap_end(struct world *w, unsigned t, int32_t p)
{
    if (w->gap_start[t][p] != UINT64_MAX) {
        uint64_t gap = w->now - w->gap_start[t][p];
        if (gap > w->max_gap) {
            w->max_gap = gap;
        }
        w->gap_start[t][p] = UINT64_MAX;
    }
}

/* Commit the positions of @which (NULL: every started partition). */
static void client_commit(struct world *w, int ci, const bool *which)
{
    struct client *c = &w->c[ci];
    struct own *o;
    if (c->epoch <= 0 || c->member_id[0] == '\0') {
        return;
    }
    struct msg *m = new_msg(w, ci, M_COMMIT);
    for (unsigned i = 0; i < c->n_owned; i++) {
        o = &c->owned[i];
        /* One commit per partition in flight: two could be reordered by
         * the network and land backwards (a real client orders them). */
        if (o->started && (which == NULL || which[i]) &&
            w->now >= o->commit_until) {
            c->owned[i].commit_until = w->now + reply_deadline(w);
            m->items[m->n_items++] = (struct item){o->t, o->p,
                                                   position(w, o), 0};
        }
    }
    if (m->n_items == 0) {
        free(m);
        return;
    }
    if (which == NULL) {
        c->commit_corr = m->corr;
        c->commit_sent_ms = w->now;
    }
    send(w, E_TO_COORD, ci, m);
}

static void client_drop_all(struct world *w, struct client *c,
                            const char *why)
{
    if (c->n_owned > 0) {
        trace(w, "client %s drops %u partitions (%s)", c->member_id,
              c->n_owned, why);
    }
    for (unsigned i = 0; i < c->n_owned; i++) {
        mark_gap_start(w, c->owned[i].t, c->owned[i].p);
    }
    c->n_owned = 0;
}

static void client_send_hb(struct world *w, int ci)
{
    struct client *c = &w->c[ci];
    struct msg *m = new_msg(w, ci, M_HB);
    for (unsigned i = 0; i < c->n_owned; i++) {
        m->items[m->n_items++] = (struct item){c->owned[i].t, c->owned[i].p,
                                               0, 0};
    }
    c->hb_corr = m->corr;
    c->hb_sent_ms = w->now;
    c->ack_needed = false;
    c->next_hb_ms = w->now + w->hb_ms;
    send(w, E_TO_COORD, ci, m);
}

static void client_timer(struct world *w, int ci)
{
    struct client *c = &w->c[ci];
    uint64_t rt = reply_deadline(w);
    if ((c->epoch > 0 || c->n_owned > 0) && w->now >= fence_deadline(w, c)) {
        /* Nothing heard for the fence timeout: assume removed. */
        client_drop_all(w, c, "self-fence");
        c->epoch = 0;
        c->hb_corr = 0; /* a reply to what we sent before is void */
    }
    if (c->hb_corr != 0 && w->now >= c->hb_sent_ms + rt) {
        c->hb_corr = 0;
    }
    if (c->commit_corr != 0 && w->now >= c->commit_sent_ms + rt) {
        c->commit_corr = 0;
    }
    if (c->hb_corr == 0 && (w->now >= c->next_hb_ms || c->ack_needed)) {
        client_send_hb(w, ci);
    }
    if (c->commit_corr == 0 && w->now >= c->next_commit_ms) {
        client_commit(w, ci, NULL);
        c->next_commit_ms = w->now + 3 * w->hb_ms;
    }
    push(w, w->now + w->hb_ms / 4 + 1, E_CLIENT_TIMER, ci, NULL);
}

static void client_hb_reply(struct world *w, int ci, struct msg *m)
{
    struct client *c = &w->c[ci];
    if (m->corr != c->hb_corr) {
        return; /* a reply to a request we gave up on */
    }
    c->hb_corr = 0;
    uint32_t t = w->session_ms < c->rto_ms ? w->session_ms : c->rto_ms;
    if (w->now >= c->hb_sent_ms + t - w->fence_margin) {
        /* So late that the member may have been removed since: void. */
        client_drop_all(w, c, "reply too late");
        c->epoch = 0;
        return;
    }
    switch (m->err) {
    case ST_GROUP_OK:
        break;
    case ST_GROUP_UNKNOWN_MEMBER_ID:
        client_drop_all(w, c, "unknown member");
        c->member_id[0] = '\0';
        c->epoch = 0;
        c->ack_needed = true;
        return;
    case ST_GROUP_FENCED_MEMBER_EPOCH:
        client_drop_all(w, c, "fenced");
        c->epoch = 0;
        c->ack_needed = true;
        return;
    case ST_GROUP_UNRELEASED_INSTANCE_ID:
        return; /* the old instance has not timed out yet: retry later */
    default:
        fail(w, "client %d: unexpected heartbeat error %s", ci,
             st_group_error_name(m->err));
        return;
    }
    c->last_ok_send_ms = c->hb_sent_ms;
    if (strcmp(c->seen_id, m->member_id) == 0 &&
        c->seen_group_inc == w->group_inc && m->epoch < c->seen_epoch) {
        fail(w, "member %s epoch went back %d -> %d", m->member_id,
             c->seen_epoch, m->epoch);
    }
    snprintf(c->seen_id, sizeof c->seen_id, "%s", m->member_id);
    c->seen_epoch = m->epoch;
    c->seen_group_inc = w->group_inc;
    snprintf(c->member_id, sizeof c->member_id, "%s", m->member_id);
    c->epoch = m->epoch;
    /* Revoke what is no longer listed (commit it first), start the new. */
    bool gone[ITEMS_MAX] = {false};
    unsigned n_gone = 0;
    for (unsigned i = 0; i < c->n_owned; i++) {
        bool kept = false;
        for (unsigned j = 0; j < m->n_items && !kept; j++) {
            kept = m->items[j].t == c->owned[i].t &&
                   m->items[j].p == c->owned[i].p;
        }
        gone[i] = !kept;
        n_gone += !kept;
    }
    if (n_gone > 0) {
        client_commit(w, ci, gone);
        unsigned k = 0;
        for (unsigned i = 0; i < c->n_owned; i++) {
            if (gone[i]) {
                mark_gap_start(w, c->owned[i].t, c->owned[i].p);
            } else {
                c->owned[k++] = c->owned[i];
            }
        }
        trace(w, "client %s revoked %u", c->member_id, n_gone);
        c->n_owned = k;
        c->ack_needed = true;
        if (w->faults_on && rnd(w) % 8 == 0) {
            /* The hard case: its confirmation never arrives, while it keeps
             * consuming what it kept. */
            uint64_t lo = c->rto_ms / 2, hi = 2 * (uint64_t)w->session_ms;
            c->mute_until = w->now + rnd_in(w, lo, hi > lo ? hi : lo);
            trace(w, "client %d muted until %" PRIu64, ci, c->mute_until);
        }
    }
    struct msg *f = NULL;
    for (unsigned j = 0; j < m->n_items; j++) {
        bool have = false;
        for (unsigned i = 0; i < c->n_owned && !have; i++) {
            have = m->items[j].t == c->owned[i].t &&
                   m->items[j].p == c->owned[i].p;
        }
        if (have) {
            continue;
        }
        if (f == NULL) {
            f = new_msg(w, ci, M_FETCH);
        }
        struct own *o = &c->owned[c->n_owned++];
        *o = (struct own){m->items[j].t, m->items[j].p, false, 0, w->now,
                          f->corr, 0};
        f->items[f->n_items++] = (struct item){o->t, o->p, 0, 0};
        trace(w, "client %s starts %s-%d", c->member_id, topic_names[o->t],
              o->p);
        /* The checker: nobody else may hold it now. */
        for (unsigned k = 0; k < w->n_clients; k++) {
            if (&w->c[k] != c && client_owns(w, &w->c[k], o->t, o->p)) {
                fail(w, "%s-%d given to %s while %s still owns it",
                     topic_names[o->t], o->p, c->member_id,
                     w->c[k].member_id);
            }
        }
    }
    if (f != NULL) {
        send(w, E_TO_COORD, ci, f);
    }
}

static void client_fetch_reply(struct world *w, int ci, const struct msg *m)
{
    struct client *c = &w->c[ci];
    for (unsigned j = 0; j < m->n_items; j++) {
        for (unsigned i = 0; i < c->n_owned; i++) {
            struct own *o = &c->owned[i];
            if (o->t == m->items[j].t && o->p == m->items[j].p &&
                o->fetch_corr == m->corr && !o->started) {
                o->started = true;
                o->base = m->items[j].off < 0 ? 0 : m->items[j].off;
                o->start_ms = w->now;
                mark_gap_end(w, o->t, o->p);
            }
        }
    }
}

static void client_reply(struct world *w, int ci, struct msg *m)
{
    struct client *c = &w->c[ci];
    if (!c->alive || m->inc != c->inc) {
        return; /* for a previous process */
    }
    if (m->kind == M_HB) {
        client_hb_reply(w, ci, m);
    } else if (m->kind == M_FETCH) {
        client_fetch_reply(w, ci, m);
    } else if (m->kind == M_COMMIT && m->corr == c->commit_corr) {
        c->commit_corr = 0;
    }
}

static void client_start(struct world *w, int ci)
{
    struct client *c = &w->c[ci];
    c->alive = true;
    c->inc++;
    c->member_id[0] = '\0';
    c->epoch = 0;
    c->n_owned = 0;
    c->hb_corr = c->commit_corr = 0;
    c->next_hb_ms = w->now;
    c->next_commit_ms = w->now + w->hb_ms;
    c->last_ok_send_ms = w->now;
    c->ack_needed = false;
    w->st->joins++;
    trace(w, "client %d starts (%s)", ci, c->is_static ? c->instance : "dynamic");
    push(w, w->now, E_CLIENT_TIMER, ci, NULL);
}

static void client_stop(struct world *w, int ci, bool crash, bool poll)
{
    struct client *c = &w->c[ci];
    if (!crash) {
        client_commit(w, ci, NULL);
        struct msg *m = new_msg(w, ci, M_LEAVE);
        m->epoch = c->is_static && !poll ? ST_GROUP_EPOCH_STATIC_LEAVE
                                         : ST_GROUP_EPOCH_LEAVE;
        m->poll_timeout = poll;
        if (c->member_id[0] != '\0') {
            send(w, E_TO_COORD, ci, m);
        } else {
            free(m);
        }
        w->st->leaves++;
    } else {
        w->st->crashes++;
    }
    trace(w, "client %d (%s) %s", ci, c->member_id,
          crash ? "crashes" : poll ? "leaves (poll timeout)" : "leaves");
    client_drop_all(w, c, crash ? "crash" : "leave");
    c->alive = false;
    c->inc++;
}

/* ---- faults ---- */

static void fault(struct world *w)
{
    unsigned k = (unsigned)(rnd(w) % 100);
    int ci = (int)(rnd(w) % w->n_clients);
    struct client *c = &w->c[ci];
    if (k < 20) {
        if (c->alive) {
            client_stop(w, ci, true, false);
        }
    } else if (k < 45) {
        if (!c->alive) {
            client_start(w, ci);
        } else if (w->n_clients < SIM_CLIENTS_MAX) {
            int n = (int)w->n_clients++;
            w->c[n].is_static = rnd(w) % 3 == 0;
            snprintf(w->c[n].instance, sizeof w->c[n].instance, "inst-%d", n);
            w->c[n].rto_ms = c->rto_ms;
            client_start(w, n);
        }
    } else if (k < 60) {
        if (c->alive) {
            client_stop(w, ci, false, rnd(w) % 4 == 0);
        }
    } else if (k < 70) {
        unsigned t = (unsigned)(rnd(w) % w->n_topics);
        if (w->parts[t] < PARTS_MAX) {
            w->parts[t] += (int32_t)rnd_in(w, 1, 3);
            if (w->parts[t] > PARTS_MAX) {
                w->parts[t] = PARTS_MAX;
            }
            trace(w, "topic %s grows to %d", topic_names[t], w->parts[t]);
            if (w->up) {
                coord_metadata(w);
            }
        }
    } else if (k < 78) {
        if (w->up) {
            coord_failover(w);
        }
    } else if (k < 88) {
        /* One-way partition: it hears replies to what got out before,
         * then nothing it sends arrives (its acks are lost). */
        c->mute_until = w->now + rnd_in(w, 100, 2 * w->session_ms);
        trace(w, "client %d muted until %" PRIu64, ci, c->mute_until);
    }
    /* else: quiet */
}

/* ---- checks ---- */

/* How many consumers own each partition now (as the checker counts). */
static void count_owners(struct world *w, uint8_t cnt[TOPICS_MAX][PARTS_MAX],
                         int owner[TOPICS_MAX][PARTS_MAX], int *dup_a,
                         int *dup_b, unsigned *dup_t, int32_t *dup_p)
{
    memset(cnt, 0, sizeof(uint8_t) * TOPICS_MAX * PARTS_MAX);
    *dup_a = -1;
    for (unsigned i = 0; i < w->n_clients; i++) {
        const struct client *c = &w->c[i];
        if (!c->alive || w->now >= fence_deadline(w, c)) {
            continue;
        }
        for (unsigned k = 0; k < c->n_owned; k++) {
            unsigned t = c->owned[k].t;
            int32_t p = c->owned[k].p;
            if (cnt[t][p]++ > 0 && *dup_a < 0) {
                *dup_a = owner[t][p];
                *dup_b = (int)i;
                *dup_t = t;
                *dup_p = p;
            }
            owner[t][p] = (int)i;
        }
    }
}

static void check_exclusive(struct world *w)
{
    uint8_t cnt[TOPICS_MAX][PARTS_MAX];
    int owner[TOPICS_MAX][PARTS_MAX];
    int a, b;
    unsigned t;
    int32_t p;
    count_owners(w, cnt, owner, &a, &b, &t, &p);
    if (a >= 0) {
        fail(w, "%s-%d owned by clients %d (%s) and %d (%s)", topic_names[t],
             p, a, w->c[a].member_id, b, w->c[b].member_id);
    }
}

static bool settled(struct world *w, char *why, size_t cap)
{
    if (st_group_state(w->g) != ST_GROUP_STABLE) {
        snprintf(why, cap, "group is %s",
                 st_group_state_name(st_group_state(w->g)));
        return false;
    }
    unsigned live = 0;
    for (unsigned i = 0; i < w->n_clients; i++) {
        live += w->c[i].alive;
    }
    if (st_group_member_count(w->g) != live) {
        snprintf(why, cap, "%u members, %u live consumers",
                 st_group_member_count(w->g), live);
        return false;
    }
    uint8_t cnt[TOPICS_MAX][PARTS_MAX];
    int owner[TOPICS_MAX][PARTS_MAX];
    int a, b;
    unsigned dt;
    int32_t dp;
    count_owners(w, cnt, owner, &a, &b, &dt, &dp);
    for (unsigned t = 0; t < w->n_topics; t++) {
        for (int32_t p = 0; p < w->parts[t]; p++) {
            if (cnt[t][p] != (live > 0)) {
                snprintf(why, cap, "%s-%d has %u owners", topic_names[t], p,
                         cnt[t][p]);
                return false;
            }
        }
    }
    return true;
}

/* ---- the loop ---- */

static void dispatch(struct world *w, struct ev *e)
{
    switch (e->kind) {
    case E_TO_COORD:
        if (!w->up) {
            trace(w, "net: coordinator down, request dropped");
            free(e->msg);
            return;
        }
        coord_request(w, e->msg);
        return;
    case E_TO_CLIENT:
        client_reply(w, e->client, e->msg);
        free(e->msg);
        return;
    case E_CLIENT_TIMER:
        if (w->c[e->client].alive && e->inc == w->c[e->client].inc) {
            client_timer(w, e->client);
        }
        return;
    case E_COORD_TICK:
        if (w->up && e->t == w->tick_at) {
            struct st_group_event ev = {.type = ST_GROUP_EV_TICK};
            struct st_group_update up;
            w->tick_at = 0;
            if (coord_step(w, &ev, &up)) {
                coord_recreate_if_deleted(w, up.deleted);
            }
        }
        return;
    case E_FAULT:
        if (w->faults_on) {
            fault(w);
            push(w, w->now + rnd_in(w, 50, 1500), E_FAULT, -1, NULL);
        }
        return;
    case E_COORD_UP:
        w->up = true;
        coord_metadata(w);
        return;
    }
}

static void world_init(struct world *w, uint64_t seed, bool tr, char *why,
                       size_t cap, struct gsim_stats *st)
{
    memset(w, 0, sizeof *w);
    memset(st, 0, sizeof *st);
    w->seed = seed;
    w->rng = seed * 0x2545f4914f6cdd1dull + 17;
    w->trace = tr;
    w->why = why;
    w->why_cap = cap;
    w->st = st;
    memset(w->committed, 0xff, sizeof w->committed);
    memset(w->gap_start, 0xff, sizeof w->gap_start);
    w->fence_margin = 1;
}

static bool world_run(struct world *w)
{
    char why[256];
    struct gsim_stats *st = w->st;
    bool settled_ok = false;
    while (w->n_heap > 0 && !w->failed) {
        struct ev e = pop(w);
        if (e.t > w->end) {
            free(e.msg);
            continue;
        }
        w->now = e.t;
        if (w->faults_on && w->now >= w->fault_end) {
            w->faults_on = false;
            trace(w, "faults stop; network heals; stopped consumers restart");
            for (unsigned i = 0; i < w->n_clients; i++) {
                w->c[i].mute_until = 0;
                if (!w->c[i].alive) {
                    client_start(w, (int)i);
                }
            }
            if (!w->up) {
                w->up = true;
                coord_metadata(w);
            }
        }
        dispatch(w, &e);
        st->events++;
        check_exclusive(w);
        if (!w->faults_on && !w->failed && w->now > w->fault_end &&
            settled(w, why, sizeof why)) {
            settled_ok = true;
            break;
        }
    }
    if (!w->failed && !settled_ok && !settled(w, why, sizeof why)) {
        fail(w, "did not settle after faults stopped: %s", why);
    }
    st->group_epoch = (uint64_t)st_group_epoch(w->g);
    st->sim_ms = w->now;
    return !w->failed;
}

static void world_free(struct world *w)
{
    while (w->n_heap > 0) {
        struct ev e = pop(w);
        free(e.msg);
    }
    free(w->heap);
    log_clear(w);
    free(w->log);
    st_group_free(w->g);
}

bool gsim_run(uint64_t seed, bool tr, char *why, size_t cap,
              struct gsim_stats *st)
{
    struct world *w = calloc(1, sizeof *w);
    world_init(w, seed, tr, why, cap, st);
    w->drop_pct = (unsigned)(rnd(w) % 11);
    w->delay_max = rnd_in(w, 1, 40);
    w->tail_pct = (unsigned)(rnd(w) % 6);
    w->tail_max = rnd_in(w, w->delay_max, 800);
    w->hb_ms = 100;
    w->session_ms = (uint32_t)rnd_in(w, 600, 1500);
    w->fault_end = rnd_in(w, 5000, 20000);
    w->end = w->fault_end + 20 * w->session_ms + 10000;
    w->faults_on = true;
    w->n_topics = 1 + (unsigned)(rnd(w) % TOPICS_MAX);
    for (unsigned t = 0; t < w->n_topics; t++) {
        w->parts[t] = (int32_t)rnd_in(w, 1, 12);
    }
    struct st_group_config cfg = coord_config(w);
    st_group_new(&cfg, &w->g);
    w->up = true;
    coord_metadata(w);
    w->n_clients = 2 + (unsigned)(rnd(w) % 4);
    uint32_t rto = (uint32_t)rnd_in(w, 500, 3000);
    for (unsigned i = 0; i < w->n_clients; i++) {
        struct client *c = &w->c[i];
        c->is_static = rnd(w) % 3 == 0;
        snprintf(c->instance, sizeof c->instance, "inst-%u", i);
        c->rto_ms = rto;
    }
    for (unsigned i = 0; i < w->n_clients; i++) {
        w->now = rnd_in(w, 0, 300);
        client_start(w, (int)i);
    }
    w->now = 0;
    push(w, rnd_in(w, 100, 1000), E_FAULT, -1, NULL);
    trace(w, "seed=%" PRIu64 " clients=%u topics=%u parts=%d,%d drop=%u%% "
          "delay<=%" PRIu64 " session=%u rto=%u faults until %" PRIu64,
          seed, w->n_clients, w->n_topics, w->parts[0], w->parts[1],
          w->drop_pct, w->delay_max, w->session_ms, rto, w->fault_end);
    bool ok = world_run(w);
    world_free(w);
    free(w);
    return ok;
}

bool gsim_join_figure(unsigned n, unsigned parts, uint64_t hb_ms,
                      uint64_t delay_ms, uint64_t *round_trips,
                      uint64_t *settle_ms, uint64_t *max_pause_ms,
                      uint64_t *dropped, uint64_t *joiner_owns)
{
    static char why[512];
    struct gsim_stats st;
    struct world *w = calloc(1, sizeof *w);
    world_init(w, 1, getenv("STRATA_SIM_TRACE") != NULL, why, sizeof why, &st);
    w->delay_max = delay_ms;
    w->hb_ms = (uint32_t)hb_ms;
    w->session_ms = 45000;
    w->n_topics = 2;
    w->parts[0] = (int32_t)(parts / 2);
    w->parts[1] = (int32_t)(parts - parts / 2);
    w->fault_end = 0;
    w->end = 600000;
    struct st_group_config cfg = coord_config(w);
    st_group_new(&cfg, &w->g);
    w->up = true;
    coord_metadata(w);
    w->n_clients = n;
    for (unsigned i = 0; i < n + 1; i++) {
        w->c[i].rto_ms = 300000;
    }
    for (unsigned i = 0; i < n; i++) {
        client_start(w, (int)i);
    }
    bool ok = world_run(w) && w->n_clients < CLIENTS_MAX + 1;
    /* Then one joins; count requests and time until settled again. */
    if (ok) {
        w->failed = false;
        w->requests = 0;
        w->max_gap = 0;
        w->drops = 0;
        uint64_t t0 = w->now;
        w->n_clients = n + 1;
        client_start(w, (int)n);
        ok = world_run(w);
        *round_trips = w->requests;
        *settle_ms = w->now - t0;
        *max_pause_ms = w->max_gap;
        *dropped = w->drops;
        *joiner_owns = w->c[n].n_owned;
    }
    world_free(w);
    free(w);
    return ok;
}
