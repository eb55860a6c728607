/* The replica simulator: three real replica cores, a simulated controller,
 * producers, logs and network on a 1 ms clock.
 *
 * Each broker's driver follows replica.h's contract: truncate or reset the
 * log first, append fetched records, send the fetch reply, the fetch and
 * the AlterPartition, then hand completions to the producer. A broker's log
 * is an array of (epoch, value) records with a durable prefix: a flush makes
 * everything durable at once; a power loss drops what is past the durable
 * prefix, a process crash keeps it (the page cache survives) and restart
 * recovery fsyncs it. Truncations are durable at once.
 *
 * The controller stands for the metadata quorum: it sees a broker while the
 * broker is up and not cut off from it, fences a broker not seen for
 * session_ms (removing it from the ISR unless it is the last member, and
 * electing a new leader from the unfenced ISR when it led, bumping the
 * leader epoch), treats a restarted broker's registration (a new
 * incarnation) as the end of the old one, applies AlterPartition with
 * leader-epoch, partition-epoch and broker-epoch checks, and publishes the
 * partition and broker states to every broker it can reach.
 */
#include "replica_sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/replica/replica.h"
#include "common/alloc.h"
#include "common/err.h"

#define NB 3 /* brokers, ids 1..NB; node 0 is the controller */
#define NN (NB + 1)
#define TICK_MS 10
#define REPLY_RECS_MAX 64

struct rrec {
    int32_t epoch;
    uint64_t value;
};

struct slog {
    struct rrec *r;
    int64_t len;
    int64_t cap;
    int64_t durable;
};

enum { M_FETCH = 1, M_REPLY, M_ALTER, M_ALTER_RESULT };

struct msg {
    uint64_t t;
    uint64_t seq;
    int kind;
    int from;
    int to;
    unsigned from_inc;
    unsigned to_inc;
    struct st_replica_follower_fetch fetch;
    struct st_replica_fetch_reply reply;
    struct rrec *recs; /* owned: the reply's records */
    struct st_replica_epoch runs[REPLY_RECS_MAX];
    struct st_replica_alter_request alter;
    struct st_replica_alter_result ares;
    int32_t ares_isr[ST_REPLICA_MAX];
};

struct bnode {
    int id;
    bool alive;
    unsigned inc;
    struct st_replica *core;
    struct slog log;
    int64_t hw_ckpt;
    uint64_t restart_at;
    uint64_t next_tick;
    uint64_t next_flush;
    uint64_t slow_until;
    uint64_t meta_seen;
    bool need_register;
    /* checkers */
    int32_t chk_epoch;
    int64_t chk_hw;
    int32_t led_epoch;
    int64_t oracle_ok; /* log agrees with the acked oracle below this */
};

struct ctrl {
    int32_t leader;
    int32_t leader_epoch;
    int32_t partition_epoch;
    int32_t isr[NB];
    unsigned n_isr;
    int64_t reg_epoch[NN];
    bool fenced[NN];
    uint64_t last_hb[NN];
    uint64_t version;
};

struct rsim {
    struct rsim_opts o;
    struct rsim_faults f;
    uint64_t rng;
    uint64_t now;
    uint64_t seq;
    struct msg **heap;
    size_t n_heap;
    size_t cap_heap;
    struct bnode nodes[NN];
    struct ctrl c;
    bool cut[NN][NN];
    int64_t pair_ok[NN][NN];
    /* acked oracle: value acknowledged at each offset (0: none) */
    uint64_t *oracle;
    int64_t oracle_cap;
    int64_t oracle_len;
    /* offset each produced value was appended at */
    int64_t *off_of;
    uint64_t off_cap;
    uint64_t next_value;
    uint64_t next_produce;
    uint64_t next_crash;
    uint64_t next_part;
    uint64_t part_heal_at;
    uint64_t next_slow;
    uint64_t next_allpower;
    bool healed;
    int prefer;
    uint64_t probe_value;
    bool probe_acked;
    uint64_t acked;
    uint64_t elections;
    uint64_t truncations;
    uint64_t crashes;
    uint64_t isr_changes;
    bool failed;
    char fail[600];
};

/* ---- helpers ---- */

static uint64_t rnd(struct rsim *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint64_t rr(struct rsim *s, uint64_t lo, uint64_t hi)
{
    return hi <= lo ? lo : lo + rnd(s) % (hi - lo + 1);
}

static void trace(struct rsim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void trace(struct rsim *s, const char *fmt, ...)
{
    va_list ap;

    if (!s->o.trace) {
        return;
    }
    fprintf(stderr, "t=%" PRIu64 " sim ", s->now);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void core_trace(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "%s\n", line);
}

static void failf(struct rsim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void failf(struct rsim *s, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (s->failed) {
        return;
    }
    s->failed = true;
    n = snprintf(s->fail, sizeof s->fail, "t=%" PRIu64 ": ", s->now);
    va_start(ap, fmt);
    vsnprintf(s->fail + n, sizeof s->fail - (size_t)n, fmt, ap);
    va_end(ap);
    trace(s, "CHECKER FAILED: %s", s->fail);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        abort(); /* test harness: out of memory is fatal */
    }
    return q;
}

/* ---- logs ---- */

static void log_reserve(struct slog *l, int64_t n)
{
    if (n > l->cap) {
        int64_t cap = l->cap == 0 ? 256 : l->cap;
        while (cap < n) {
            cap *= 2;
        }
        l->r = xrealloc(l->r, (size_t)cap * sizeof *l->r);
        l->cap = cap;
    }
}

static void mark_changed(struct rsim *s, struct bnode *n, int64_t from)
{
    for (int m = 1; m <= NB; m++) {
        if (s->pair_ok[n->id][m] > from) {
            s->pair_ok[n->id][m] = from;
            s->pair_ok[m][n->id] = from;
        }
    }
    if (n->oracle_ok > from) {
        n->oracle_ok = from;
    }
}

static void log_cut(struct rsim *s, struct bnode *n, int64_t to)
{
    if (to < n->log.len) {
        n->log.len = to;
        mark_changed(s, n, to);
    }
    if (n->log.durable > to) {
        n->log.durable = to;
    }
}

/* ---- network ---- */

static bool heap_less(const struct msg *a, const struct msg *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(struct rsim *s, struct msg *m)
{
    size_t i;

    if (s->n_heap == s->cap_heap) {
        s->cap_heap = s->cap_heap == 0 ? 64 : s->cap_heap * 2;
        s->heap = xrealloc(s->heap, s->cap_heap * sizeof *s->heap);
    }
    i = s->n_heap++;
    while (i > 0 && heap_less(m, s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = m;
}

static struct msg *heap_pop(struct rsim *s)
{
    struct msg *top = s->heap[0];
    struct msg *last = s->heap[--s->n_heap];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n_heap) {
            break;
        }
        if (c + 1 < s->n_heap && heap_less(s->heap[c + 1], s->heap[c])) {
            c++;
        }
        if (!heap_less(s->heap[c], last)) {
            break;
        }
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->n_heap > 0) {
        s->heap[i] = last;
    }
    return top;
}

static void msg_free(struct msg *m)
{
    if (m != NULL) {
        free(m->recs);
        free(m);
    }
}

static bool slow(const struct rsim *s, int id)
{
    return id > 0 && s->nodes[id].slow_until > s->now;
}

static void send(struct rsim *s, struct msg *m)
{
    uint64_t d = rr(s, 1, s->f.delay_ms_max > 0 ? s->f.delay_ms_max : 1);

    if (s->cut[m->from][m->to] ||
        (!s->healed && s->f.drop_pct > 0 && rr(s, 0, 99) < s->f.drop_pct)) {
        msg_free(m);
        return;
    }
    if (slow(s, m->from) || slow(s, m->to)) {
        d += rr(s, 50, 250);
    }
    m->t = s->now + d;
    m->seq = s->seq++;
    m->to_inc = m->to > 0 ? s->nodes[m->to].inc : 0;
    heap_push(s, m);
}

static struct msg *msg_new(int kind, int from, int to, unsigned from_inc)
{
    struct msg *m = calloc(1, sizeof *m);
    if (m == NULL) {
        abort();
    }
    m->kind = kind;
    m->from = from;
    m->to = to;
    m->from_inc = from_inc;
    return m;
}

/* ---- checkers ---- */

static void check_oracle_at(struct rsim *s, struct bnode *n, int64_t off,
                            int64_t hw)
{
    if (off < hw && off < n->log.len && s->oracle[off] != 0 &&
        n->log.r[off].value != s->oracle[off]) {
        failf(s,
              "broker %d holds value %" PRIu64 " at acked offset %" PRId64
              " (acked %" PRIu64 ") below its hw %" PRId64,
              n->id, n->log.r[off].value, off, s->oracle[off], hw);
    }
}

static void check_node(struct rsim *s, struct bnode *n)
{
    enum st_replica_role role = st_replica_role(n->core);
    int32_t epoch = st_replica_leader_epoch(n->core);
    int64_t hw = st_replica_hw(n->core);
    int64_t bound;

    if (st_replica_log_end(n->core) != n->log.len) {
        failf(s, "broker %d core log end %" PRId64 " != log %" PRId64, n->id,
              st_replica_log_end(n->core), n->log.len);
        return;
    }
    if (hw > n->log.len) {
        failf(s, "broker %d hw %" PRId64 " past its log end %" PRId64, n->id,
              hw, n->log.len);
        return;
    }
    if (role == ST_REPLICA_LEADER) {
        if (n->chk_epoch == epoch && hw < n->chk_hw) {
            failf(s, "leader %d epoch %d hw went back %" PRId64 " -> %" PRId64,
                  n->id, epoch, n->chk_hw, hw);
            return;
        }
        n->chk_epoch = epoch;
        n->chk_hw = hw;
        if (n->led_epoch != epoch) {
            /* A new leader must hold every acknowledged record. */
            n->led_epoch = epoch;
            s->elections++;
            trace(s, "broker %d leads epoch %d len=%" PRId64 " hw=%" PRId64,
                  n->id, epoch, n->log.len, hw);
            for (int64_t o = 0; o < s->oracle_len; o++) {
                if (s->oracle[o] != 0 &&
                    (o >= n->log.len || n->log.r[o].value != s->oracle[o])) {
                    failf(s,
                          "new leader %d (epoch %d, log end %" PRId64
                          ") lacks acked record offset %" PRId64
                          " value %" PRIu64,
                          n->id, epoch, n->log.len, o, s->oracle[o]);
                    return;
                }
            }
        }
    }
    /* The log agrees with the acked oracle below the HW. */
    bound = hw < s->oracle_len ? hw : s->oracle_len;
    for (; n->oracle_ok < bound && !s->failed; n->oracle_ok++) {
        check_oracle_at(s, n, n->oracle_ok, hw);
    }
    /* Any two live replicas agree below the smaller of their HWs. */
    for (int m = 1; m <= NB && !s->failed; m++) {
        struct bnode *o = &s->nodes[m];
        int64_t b, ohw;
        if (m == n->id || !o->alive) {
            continue;
        }
        ohw = st_replica_hw(o->core);
        b = hw < ohw ? hw : ohw;
        b = b < n->log.len ? b : n->log.len;
        b = b < o->log.len ? b : o->log.len;
        for (int64_t i = s->pair_ok[n->id][m]; i < b; i++) {
            if (n->log.r[i].value != o->log.r[i].value ||
                n->log.r[i].epoch != o->log.r[i].epoch) {
                failf(s,
                      "brokers %d and %d diverge at offset %" PRId64
                      " below hws %" PRId64 "/%" PRId64 ": (%d,%" PRIu64
                      ") vs (%d,%" PRIu64 ")",
                      n->id, m, i, hw, ohw, n->log.r[i].epoch,
                      n->log.r[i].value, o->log.r[i].epoch, o->log.r[i].value);
                return;
            }
        }
        if (b > s->pair_ok[n->id][m]) {
            s->pair_ok[n->id][m] = b;
            s->pair_ok[m][n->id] = b;
        }
    }
}

static void on_acked(struct rsim *s, uint64_t value, int64_t end_offset)
{
    int64_t off = end_offset - 1;

    if (value == 0 || value > s->next_value || s->off_of[value] != off) {
        failf(s,
              "ack for value %" PRIu64 " at offset %" PRId64
              " it was not appended at",
              value, off);
        return;
    }
    if (off >= s->oracle_cap) {
        int64_t cap = s->oracle_cap == 0 ? 1024 : s->oracle_cap;
        while (cap <= off) {
            cap *= 2;
        }
        s->oracle = xrealloc(s->oracle, (size_t)cap * sizeof *s->oracle);
        memset(s->oracle + s->oracle_cap, 0,
               (size_t)(cap - s->oracle_cap) * sizeof *s->oracle);
        s->oracle_cap = cap;
    }
    if (s->oracle[off] != 0 && s->oracle[off] != value) {
        failf(s, "offset %" PRId64 " acked twice: %" PRIu64 " then %" PRIu64,
              off, s->oracle[off], value);
        return;
    }
    s->oracle[off] = value;
    if (off + 1 > s->oracle_len) {
        s->oracle_len = off + 1;
    }
    s->acked++;
    if (value == s->probe_value) {
        s->probe_acked = true;
    }
    for (int m = 1; m <= NB; m++) {
        if (s->nodes[m].alive) {
            check_oracle_at(s, &s->nodes[m], off,
                            st_replica_hw(s->nodes[m].core));
        }
    }
}

/* ---- driving a core ---- */

static void send_reply(struct rsim *s, struct bnode *n,
                       const struct st_replica_fetch_reply *rep)
{
    struct msg *m = msg_new(M_REPLY, n->id, rep->to, n->inc);
    int64_t count = 0;

    m->reply = *rep;
    m->reply.data_end = rep->offset;
    m->reply.runs = NULL;
    m->reply.n_runs = 0;
    if (rep->error == ST_REPLICA_OK && !rep->diverging) {
        count = rep->max_offset - rep->offset;
        if (count > (int64_t)rr(s, 1, REPLY_RECS_MAX)) {
            count = (int64_t)rr(s, 1, REPLY_RECS_MAX);
        }
        if (count > n->log.len - rep->offset) {
            count = n->log.len - rep->offset;
        }
    }
    if (count > 0) {
        m->recs = malloc((size_t)count * sizeof *m->recs);
        if (m->recs == NULL) {
            abort();
        }
        memcpy(m->recs, n->log.r + rep->offset,
               (size_t)count * sizeof *m->recs);
        for (int64_t i = 0; i < count; i++) {
            if (i == 0 || m->recs[i].epoch != m->recs[i - 1].epoch) {
                m->runs[m->reply.n_runs].epoch = m->recs[i].epoch;
                m->runs[m->reply.n_runs].start_offset = rep->offset + i;
                m->reply.n_runs++;
            }
        }
        m->reply.data_end = rep->offset + count;
    }
    send(s, m);
}

/* Carry out an update (replica.h's driver contract). @recs are the records
 * of the FETCH_REPLY just stepped, if any. */
static void apply(struct rsim *s, struct bnode *n,
                  const struct st_replica_update *u,
                  const struct st_replica_fetch_reply *rep,
                  const struct rrec *recs)
{
    if (u->reset_to >= 0) {
        trace(s, "broker %d resets log to %" PRId64, n->id, u->reset_to);
        s->truncations++;
        log_cut(s, n, 0);
        log_reserve(&n->log, u->reset_to);
        for (int64_t i = 0; i < u->reset_to; i++) {
            n->log.r[i].epoch = -1; /* below the log start: never read */
            n->log.r[i].value = 0;
        }
        n->log.len = u->reset_to;
        n->log.durable = u->reset_to;
    } else if (u->truncate_to >= 0) {
        if (u->truncate_to < n->log.len) {
            s->truncations++;
            trace(s, "broker %d truncates %" PRId64 " -> %" PRId64, n->id,
                  n->log.len, u->truncate_to);
        }
        log_cut(s, n, u->truncate_to);
    }
    if (u->append_fetched) {
        int64_t count = rep->data_end - rep->offset;
        if (rep->offset != n->log.len) {
            failf(s,
                  "broker %d told to append at %" PRId64 " but log ends "
                  "at %" PRId64,
                  n->id, rep->offset, n->log.len);
            return;
        }
        log_reserve(&n->log, n->log.len + count);
        memcpy(n->log.r + n->log.len, recs, (size_t)count * sizeof *recs);
        n->log.len += count;
    }
    if (u->has_fetch_reply) {
        send_reply(s, n, &u->fetch_reply);
    }
    if (u->has_fetch) {
        struct msg *m = msg_new(M_FETCH, n->id, u->fetch.to, n->inc);
        m->fetch.replica_id = u->fetch.replica_id;
        m->fetch.broker_epoch = u->fetch.broker_epoch;
        m->fetch.current_leader_epoch = u->fetch.current_leader_epoch;
        m->fetch.fetch_offset = u->fetch.fetch_offset;
        m->fetch.last_fetched_epoch = u->fetch.last_fetched_epoch;
        m->fetch.durable_end = u->fetch.durable_end;
        if (u->fetch.to >= 1 && u->fetch.to <= NB) {
            send(s, m);
        } else {
            msg_free(m);
        }
    }
    if (u->has_alter) {
        struct msg *m = msg_new(M_ALTER, n->id, 0, n->inc);
        m->alter = u->alter;
        send(s, m);
    }
    for (unsigned i = 0; i < u->n_completions; i++) {
        const struct st_replica_completion *c = &u->completions[i];
        if (c->status == ST_REPLICA_ACKED) {
            on_acked(s, c->token, c->end_offset);
        } else if (c->token == s->probe_value) {
            s->probe_value = 0; /* the probe must be produced again */
        }
    }
    if (!s->failed) {
        check_node(s, n);
    }
}

static void step_full(struct rsim *s, struct bnode *n,
                      struct st_replica_event *ev,
                      const struct st_replica_fetch_reply *rep,
                      const struct rrec *recs)
{
    struct st_replica_update u;
    int rv;

    ev->now_ms = s->now;
    rv = st_replica_step(n->core, ev, &u);
    if (rv != 0 && rv != ST_ENOTLEADER) {
        failf(s, "broker %d step type %d: %s", n->id, ev->type, st_errname(rv));
        return;
    }
    apply(s, n, &u, rep, recs);
}

static void step(struct rsim *s, struct bnode *n, struct st_replica_event *ev)
{
    step_full(s, n, ev, NULL, NULL);
}

static void step_appended(struct rsim *s, struct bnode *n, int32_t epoch)
{
    struct st_replica_event ev = {.type = ST_REPLICA_EV_APPENDED};
    ev.appended.log_start = 0;
    ev.appended.log_end = n->log.len;
    ev.appended.durable_end = n->log.durable;
    ev.appended.epoch = epoch;
    step(s, n, &ev);
}

/* ---- brokers ---- */

static void node_start(struct rsim *s, struct bnode *n)
{
    struct st_replica_config cfg;
    struct st_replica_log_state ls = {0};
    struct st_replica_epoch *ep;
    unsigned n_ep = 0;
    int rv;

    st_replica_config_init(&cfg);
    cfg.broker_id = n->id;
    cfg.broker_epoch = n->inc;
    cfg.replica_lag_time_max_ms = s->o.lag_max_ms;
    cfg.min_insync_replicas = s->o.min_insync;
    cfg.durable_hw = s->o.durable_hw;
    cfg.fetch_timeout_ms = 200;
    cfg.fetch_backoff_ms = 10;
    cfg.alter_timeout_ms = 300;
    cfg.alter_backoff_ms = 50;
    if (s->o.trace) {
        cfg.trace = core_trace;
    }
    ep = malloc(((size_t)n->log.len + 1) * sizeof *ep);
    if (ep == NULL) {
        abort();
    }
    for (int64_t i = 0; i < n->log.len; i++) {
        if (n->log.r[i].epoch < 0) {
            continue; /* below a reset log start */
        }
        if (n_ep == 0 || ep[n_ep - 1].epoch != n->log.r[i].epoch) {
            ep[n_ep].epoch = n->log.r[i].epoch;
            ep[n_ep].start_offset = i;
            n_ep++;
        }
    }
    /* Recovery fsyncs what the page cache kept. */
    n->log.durable = n->log.len;
    ls.log_start = 0;
    while (ls.log_start < n->log.len && n->log.r[ls.log_start].epoch < 0) {
        ls.log_start++;
    }
    ls.log_end = n->log.len;
    ls.durable_end = n->log.durable;
    ls.hw = n->hw_ckpt < n->log.len ? n->hw_ckpt : n->log.len;
    ls.epochs = ep;
    ls.n_epochs = n_ep;
    rv = st_replica_new(&cfg, &ls, &n->core);
    free(ep);
    if (rv != 0) {
        failf(s, "broker %d: st_replica_new: %s", n->id, st_errname(rv));
        return;
    }
    n->alive = true;
    n->meta_seen = 0;
    n->chk_epoch = -1;
    n->chk_hw = -1;
    n->led_epoch = -1;
    n->next_tick = s->now + rr(s, 1, TICK_MS);
    n->next_flush = s->now + rr(s, 5, s->o.flush_ms_max);
}

static void node_crash(struct rsim *s, struct bnode *n, bool power)
{
    trace(s, "broker %d crashes%s len=%" PRId64 " durable=%" PRId64, n->id,
          power ? " with power loss" : "", n->log.len, n->log.durable);
    st_replica_free(n->core);
    n->core = NULL;
    n->alive = false;
    if (power) {
        log_cut(s, n, n->log.durable);
    }
    n->restart_at =
        s->now + rr(s, 50, s->f.down_ms_max > 50 ? s->f.down_ms_max : 50);
    s->crashes++;
}

static void node_restart(struct rsim *s, struct bnode *n)
{
    n->inc++;
    n->need_register = true;
    trace(s, "broker %d restarts incarnation=%u len=%" PRId64, n->id, n->inc,
          n->log.len);
    node_start(s, n);
}

/* ---- the controller ---- */

static bool in_isr(const struct ctrl *c, int id)
{
    for (unsigned i = 0; i < c->n_isr; i++) {
        if (c->isr[i] == id) {
            return true;
        }
    }
    return false;
}

static bool isr_remove(struct ctrl *c, int id)
{
    if (!in_isr(c, id) || c->n_isr <= 1) {
        return false;
    }
    for (unsigned i = 0, j = 0; i < c->n_isr; i++) {
        if (c->isr[i] != id) {
            c->isr[j++] = c->isr[i];
        }
    }
    c->n_isr--;
    return true;
}

static int pick_leader(struct rsim *s)
{
    int cand[NB];
    unsigned n = 0;

    for (unsigned i = 0; i < s->c.n_isr; i++) {
        if (!s->c.fenced[s->c.isr[i]]) {
            cand[n++] = s->c.isr[i];
        }
    }
    for (unsigned i = 0; i < n; i++) {
        if (cand[i] == s->prefer) {
            return s->prefer;
        }
    }
    return n == 0 ? -1 : cand[rr(s, 0, n - 1)];
}

static void elect(struct rsim *s)
{
    s->c.leader = pick_leader(s);
    s->c.leader_epoch++;
    s->c.partition_epoch++;
    s->c.version++;
    trace(s, "controller elects leader=%d leader_epoch=%d", s->c.leader,
          s->c.leader_epoch);
}

static void ctrl_fence(struct rsim *s, int b)
{
    bool changed;

    s->c.fenced[b] = true;
    s->c.version++;
    changed = isr_remove(&s->c, b);
    trace(s, "controller fences broker %d", b);
    if (s->c.leader == b) {
        elect(s);
    } else if (changed) {
        s->c.partition_epoch++;
    }
}

static void ctrl_register(struct rsim *s, int b)
{
    bool changed;

    s->nodes[b].need_register = false;
    s->c.reg_epoch[b] = s->nodes[b].inc;
    s->c.fenced[b] = false;
    s->c.version++;
    /* The old incarnation is gone (KIP-966): out of the ISR unless last. */
    changed = isr_remove(&s->c, b);
    trace(s, "controller registers broker %d epoch %u", b, s->nodes[b].inc);
    if (s->c.leader == b) {
        elect(s);
    } else if (changed) {
        s->c.partition_epoch++;
    }
}

static void ctrl_alter(struct rsim *s, const struct msg *m)
{
    struct ctrl *c = &s->c;
    const struct st_replica_alter_request *a = &m->alter;
    struct msg *r = msg_new(M_ALTER_RESULT, 0, m->from, 0);
    enum st_replica_error err = ST_REPLICA_OK;

    if (a->leader_epoch != c->leader_epoch || a->leader_id != c->leader) {
        err = ST_REPLICA_ERR_FENCED_EPOCH;
    } else if (a->partition_epoch != c->partition_epoch) {
        err = ST_REPLICA_ERR_STALE_PARTITION_EPOCH;
    } else {
        bool has_leader = false;
        for (unsigned i = 0; i < a->n_isr; i++) {
            int id = a->isr[i].id;
            has_leader = has_leader || id == c->leader;
            if (!in_isr(c, id) &&
                (c->fenced[id] || c->reg_epoch[id] != a->isr[i].broker_epoch)) {
                err = ST_REPLICA_ERR_INELIGIBLE_REPLICA;
            }
        }
        if (!has_leader || a->n_isr == 0) {
            err = ST_REPLICA_ERR_INELIGIBLE_REPLICA;
        }
    }
    if (err == ST_REPLICA_OK) {
        c->n_isr = a->n_isr;
        for (unsigned i = 0; i < a->n_isr; i++) {
            c->isr[i] = a->isr[i].id;
        }
        c->partition_epoch++;
        c->version++;
        s->isr_changes++;
        trace(s, "controller alters isr n=%u partition_epoch=%d", c->n_isr,
              c->partition_epoch);
    }
    r->to_inc = m->from_inc;
    r->ares.error = err;
    r->ares.leader_epoch = a->leader_epoch;
    r->ares.base_partition_epoch = a->partition_epoch;
    r->ares.partition_epoch = c->partition_epoch;
    memcpy(r->ares_isr, c->isr, c->n_isr * sizeof *c->isr);
    r->ares.n_isr = c->n_isr;
    /* send() stamps the destination's current incarnation; a reply to an
     * older one is dropped at delivery instead. */
    if (s->nodes[m->from].inc == m->from_inc) {
        send(s, r);
    } else {
        msg_free(r);
    }
}

static void publish_to(struct rsim *s, struct bnode *n)
{
    struct st_replica_member members[NB];
    struct st_replica_event ev;

    for (int b = 1; b <= NB; b++) {
        members[b - 1].id = b;
        members[b - 1].broker_epoch = s->c.reg_epoch[b];
        members[b - 1].fenced = s->c.fenced[b];
        memset(&ev, 0, sizeof ev);
        ev.type = ST_REPLICA_EV_BROKER_CHANGED;
        ev.broker = members[b - 1];
        step(s, n, &ev);
        if (s->failed) {
            return;
        }
    }
    memset(&ev, 0, sizeof ev);
    ev.type = ST_REPLICA_EV_PARTITION_CHANGED;
    ev.partition.leader = s->c.leader;
    ev.partition.leader_epoch = s->c.leader_epoch;
    ev.partition.partition_epoch = s->c.partition_epoch;
    ev.partition.replicas = members;
    ev.partition.n_replicas = NB;
    ev.partition.isr = s->c.isr;
    ev.partition.n_isr = s->c.n_isr;
    step(s, n, &ev);
    n->meta_seen = s->c.version;
}

static void ctrl_tick(struct rsim *s)
{
    for (int b = 1; b <= NB; b++) {
        struct bnode *n = &s->nodes[b];
        bool reach = n->alive && !s->cut[0][b];
        if (reach) {
            s->c.last_hb[b] = s->now;
        }
        if (reach && n->need_register) {
            ctrl_register(s, b);
        } else if (!s->c.fenced[b] &&
                   s->now > s->c.last_hb[b] + s->o.session_ms) {
            ctrl_fence(s, b);
        } else if (s->c.fenced[b] && reach &&
                   s->c.reg_epoch[b] == (int64_t)n->inc) {
            s->c.fenced[b] = false;
            s->c.version++;
            trace(s, "controller unfences broker %d", b);
        }
    }
    if (s->c.leader < 0 && pick_leader(s) >= 0) {
        elect(s);
    }
    for (int b = 1; b <= NB && !s->failed; b++) {
        struct bnode *n = &s->nodes[b];
        if (n->alive && !s->cut[0][b] && n->meta_seen < s->c.version) {
            publish_to(s, n);
        }
    }
}

/* ---- messages ---- */

static void deliver(struct rsim *s, struct msg *m)
{
    struct bnode *n = m->to > 0 ? &s->nodes[m->to] : NULL;
    struct st_replica_event ev;

    if (s->cut[m->from][m->to] ||
        (n != NULL && (!n->alive || n->inc != m->to_inc))) {
        return;
    }
    memset(&ev, 0, sizeof ev);
    switch (m->kind) {
    case M_FETCH:
        ev.type = ST_REPLICA_EV_FOLLOWER_FETCH;
        ev.fetch = m->fetch;
        step(s, n, &ev);
        break;
    case M_REPLY:
        ev.type = ST_REPLICA_EV_FETCH_REPLY;
        ev.fetch_reply = m->reply;
        ev.fetch_reply.runs = m->runs;
        step_full(s, n, &ev, &m->reply, m->recs);
        break;
    case M_ALTER:
        ctrl_alter(s, m);
        break;
    case M_ALTER_RESULT:
        ev.type = ST_REPLICA_EV_ALTER_RESULT;
        ev.alter_result = m->ares;
        ev.alter_result.isr = m->ares_isr;
        step(s, n, &ev);
        break;
    }
}

/* ---- producers ---- */

static struct bnode *pick_producer_target(struct rsim *s, bool newest)
{
    struct bnode *cand[NB];
    unsigned n = 0;
    struct bnode *best = NULL;

    for (int b = 1; b <= NB; b++) {
        struct bnode *x = &s->nodes[b];
        if (!x->alive || st_replica_role(x->core) != ST_REPLICA_LEADER) {
            continue;
        }
        cand[n++] = x;
        if (best == NULL || st_replica_leader_epoch(x->core) >
                                st_replica_leader_epoch(best->core)) {
            best = x;
        }
    }
    if (n == 0) {
        return NULL;
    }
    return newest ? best : cand[rr(s, 0, n - 1)];
}

/* Append one record on @n; returns its value, or 0 when refused. */
static uint64_t produce_on(struct rsim *s, struct bnode *n, bool acks_all)
{
    struct st_replica_event ev = {.type = ST_REPLICA_EV_ACK_WAIT};
    int32_t epoch = st_replica_leader_epoch(n->core);
    uint64_t value;

    if (acks_all && st_replica_isr_under_min(n->core)) {
        return 0; /* NOT_ENOUGH_REPLICAS before the append */
    }
    value = ++s->next_value;
    if (value >= s->off_cap) {
        s->off_cap = s->off_cap == 0 ? 1024 : s->off_cap * 2;
        s->off_of = xrealloc(s->off_of, s->off_cap * sizeof *s->off_of);
    }
    s->off_of[value] = n->log.len;
    log_reserve(&n->log, n->log.len + 1);
    n->log.r[n->log.len].epoch = epoch;
    n->log.r[n->log.len].value = value;
    n->log.len++;
    step_appended(s, n, epoch);
    if (acks_all && !s->failed) {
        ev.ack_wait.token = value;
        ev.ack_wait.end_offset = n->log.len;
        step(s, n, &ev);
    }
    return value;
}

/* ---- faults ---- */

static void faults_tick(struct rsim *s)
{
    const struct rsim_faults *f = &s->f;

    if (f->crash_every_ms > 0 && s->now >= s->next_crash) {
        int b = (int)rr(s, 1, NB);
        if (s->nodes[b].alive) {
            node_crash(s, &s->nodes[b], rr(s, 0, 99) < f->power_loss_pct);
        }
        s->next_crash = s->now + rr(s, 1, 2 * f->crash_every_ms);
    }
    if (f->all_power_loss_every_ms > 0 && s->now >= s->next_allpower) {
        trace(s, "every broker loses power");
        for (int b = 1; b <= NB; b++) {
            if (s->nodes[b].alive) {
                node_crash(s, &s->nodes[b], true);
            }
        }
        s->next_allpower = s->now + rr(s, 1, 2 * f->all_power_loss_every_ms);
    }
    if (s->part_heal_at != 0 && s->now >= s->part_heal_at) {
        memset(s->cut, 0, sizeof s->cut);
        s->part_heal_at = 0;
        trace(s, "partition healed");
    }
    if (f->partition_every_ms > 0 && s->now >= s->next_part) {
        memset(s->cut, 0, sizeof s->cut);
        if (rr(s, 0, 1) == 0) {
            int x = (int)rr(s, 0, NB);
            for (int y = 0; y < NN; y++) {
                s->cut[x][y] = s->cut[y][x] = y != x;
            }
            trace(s, "node %d isolated", x);
        } else {
            int x = (int)rr(s, 1, NB);
            int y = x % NB + 1;
            s->cut[x][y] = s->cut[y][x] = true;
            trace(s, "link %d-%d cut", x, y);
        }
        s->part_heal_at = s->now + rr(s, 100, 2000);
        s->next_part = s->now + rr(s, 1, 2 * f->partition_every_ms);
    }
    if (f->slow_every_ms > 0 && s->now >= s->next_slow) {
        int b = (int)rr(s, 1, NB);
        s->nodes[b].slow_until = s->now + rr(s, 300, 3000);
        trace(s, "broker %d slow until %" PRIu64, b, s->nodes[b].slow_until);
        s->next_slow = s->now + rr(s, 1, 2 * f->slow_every_ms);
    }
}

/* ---- the clock ---- */

static void one_ms(struct rsim *s, uint64_t produce_every_ms)
{
    s->now++;
    while (s->n_heap > 0 && s->heap[0]->t <= s->now && !s->failed) {
        struct msg *m = heap_pop(s);
        deliver(s, m);
        msg_free(m);
    }
    if (!s->healed) {
        faults_tick(s);
    }
    for (int b = 1; b <= NB && !s->failed; b++) {
        struct bnode *n = &s->nodes[b];
        if (!n->alive && s->now >= n->restart_at) {
            node_restart(s, n);
        }
    }
    if (s->now % TICK_MS == 0 && !s->failed) {
        ctrl_tick(s);
    }
    for (int b = 1; b <= NB && !s->failed; b++) {
        struct bnode *n = &s->nodes[b];
        if (!n->alive) {
            continue;
        }
        if (s->now >= n->next_flush) {
            if (n->log.durable < n->log.len) {
                n->log.durable = n->log.len;
                step_appended(s, n, st_replica_leader_epoch(n->core));
            }
            n->hw_ckpt = st_replica_hw(n->core);
            n->next_flush =
                s->now + (slow(s, b) ? 200 : rr(s, 5, s->o.flush_ms_max));
        }
        if (s->now >= n->next_tick && !s->failed) {
            struct st_replica_event ev = {.type = ST_REPLICA_EV_TICK};
            step(s, n, &ev);
            n->next_tick = s->now + TICK_MS;
        }
    }
    if (produce_every_ms > 0 && s->now >= s->next_produce && !s->failed) {
        struct bnode *n = pick_producer_target(s, false);
        if (n != NULL) {
            produce_on(s, n, rr(s, 0, 99) >= s->f.acks1_pct);
        }
        s->next_produce = s->now + rr(s, 1, 2 * produce_every_ms);
    }
}

/* ---- API ---- */

int rsim_new(const struct rsim_opts *opts, struct rsim **out)
{
    struct rsim *s = calloc(1, sizeof *s);

    if (s == NULL) {
        return ST_ENOMEM;
    }
    s->o = *opts;
    if (s->o.min_insync == 0) {
        s->o.min_insync = 2;
    }
    if (s->o.lag_max_ms == 0) {
        s->o.lag_max_ms = 400;
    }
    if (s->o.session_ms == 0) {
        s->o.session_ms = 300;
    }
    if (s->o.flush_ms_max < 5) {
        s->o.flush_ms_max = 30;
    }
    s->rng = opts->seed * 0x2545f4914f6cdd1dULL + 1;
    s->f.delay_ms_max = 5;
    s->c.leader = 1;
    s->c.leader_epoch = 1;
    s->c.partition_epoch = 1;
    s->c.version = 1;
    for (int b = 1; b <= NB; b++) {
        s->c.isr[s->c.n_isr++] = b;
        s->c.reg_epoch[b] = 1;
        s->nodes[b].id = b;
        s->nodes[b].inc = 1;
        node_start(s, &s->nodes[b]);
    }
    *out = s;
    return 0;
}

void rsim_free(struct rsim *s)
{
    if (s == NULL) {
        return;
    }
    while (s->n_heap > 0) {
        msg_free(heap_pop(s));
    }
    free(s->heap);
    for (int b = 1; b <= NB; b++) {
        st_replica_free(s->nodes[b].core);
        free(s->nodes[b].log.r);
    }
    free(s->oracle);
    free(s->off_of);
    free(s);
}

void rsim_set_faults(struct rsim *s, const struct rsim_faults *f)
{
    s->f = *f;
    if (s->f.delay_ms_max == 0) {
        s->f.delay_ms_max = 1;
    }
    if (s->f.down_ms_max == 0) {
        s->f.down_ms_max = 1000;
    }
    s->next_crash =
        s->now + (f->crash_every_ms ? rr(s, 1, 2 * f->crash_every_ms) : 0);
    s->next_part =
        s->now +
        (f->partition_every_ms ? rr(s, 1, 2 * f->partition_every_ms) : 0);
    s->next_slow =
        s->now + (f->slow_every_ms ? rr(s, 1, 2 * f->slow_every_ms) : 0);
    s->next_allpower = s->now + (f->all_power_loss_every_ms
                                     ? rr(s, 1, 2 * f->all_power_loss_every_ms)
                                     : 0);
}

bool rsim_run_for(struct rsim *s, uint64_t ms, uint64_t produce_every_ms)
{
    uint64_t end = s->now + ms;

    while (s->now < end && !s->failed) {
        one_ms(s, produce_every_ms);
    }
    return !s->failed;
}

void rsim_heal(struct rsim *s)
{
    s->healed = true;
    memset(s->cut, 0, sizeof s->cut);
    s->part_heal_at = 0;
    for (int b = 1; b <= NB; b++) {
        s->nodes[b].slow_until = 0;
        if (!s->nodes[b].alive) {
            s->nodes[b].restart_at = s->now;
        }
    }
    trace(s, "heal");
}

static bool logs_identical(const struct rsim *s)
{
    const struct bnode *a = &s->nodes[1];

    for (int b = 1; b <= NB; b++) {
        const struct bnode *x = &s->nodes[b];
        if (!x->alive || x->log.len != a->log.len ||
            memcmp(x->log.r, a->log.r, (size_t)a->log.len * sizeof *a->log.r) !=
                0) {
            return false;
        }
    }
    return true;
}

bool rsim_converge_within(struct rsim *s, uint64_t bound_ms)
{
    uint64_t end = s->now + bound_ms;

    s->probe_value = 0;
    s->probe_acked = false;
    while (s->now < end && !s->failed) {
        one_ms(s, 0);
        if (s->probe_value == 0 && !s->probe_acked && s->now % 50 == 0) {
            struct bnode *n = pick_producer_target(s, true);
            if (n != NULL) {
                s->probe_value = produce_on(s, n, true);
            }
        }
        if (s->probe_acked && logs_identical(s)) {
            return true;
        }
    }
    if (!s->failed) {
        failf(s,
              "no convergence within %" PRIu64 " ms after healing "
              "(probe acked=%d, lens %" PRId64 "/%" PRId64 "/%" PRId64 ")",
              bound_ms, s->probe_acked, s->nodes[1].log.len,
              s->nodes[2].log.len, s->nodes[3].log.len);
    }
    return false;
}

const char *rsim_failure(const struct rsim *s)
{
    return s->failed ? s->fail : NULL;
}

uint64_t rsim_now(const struct rsim *s)
{
    return s->now;
}
uint64_t rsim_acked(const struct rsim *s)
{
    return s->acked;
}
uint64_t rsim_elections(const struct rsim *s)
{
    return s->elections;
}
uint64_t rsim_truncations(const struct rsim *s)
{
    return s->truncations;
}
uint64_t rsim_crashes(const struct rsim *s)
{
    return s->crashes;
}
uint64_t rsim_isr_changes(const struct rsim *s)
{
    return s->isr_changes;
}

int rsim_leader(const struct rsim *s)
{
    int best = 0;

    for (int b = 1; b <= NB; b++) {
        const struct bnode *x = &s->nodes[b];
        if (x->alive && st_replica_role(x->core) == ST_REPLICA_LEADER &&
            (best == 0 || st_replica_leader_epoch(x->core) >
                              st_replica_leader_epoch(s->nodes[best].core))) {
            best = b;
        }
    }
    return best;
}

void rsim_prefer_leader(struct rsim *s, int id)
{
    s->prefer = id;
}

void rsim_isolate(struct rsim *s, int id)
{
    for (int y = 0; y < NN; y++) {
        s->cut[id][y] = s->cut[y][id] = y != id;
    }
    trace(s, "node %d isolated", id);
}

void rsim_cut_link(struct rsim *s, int a, int b)
{
    s->cut[a][b] = s->cut[b][a] = true;
    trace(s, "link %d-%d cut", a, b);
}

void rsim_reconnect(struct rsim *s)
{
    memset(s->cut, 0, sizeof s->cut);
    s->part_heal_at = 0;
    trace(s, "reconnected");
}

uint64_t rsim_produce(struct rsim *s, int id, bool acks_all)
{
    struct bnode *n = &s->nodes[id];

    if (!n->alive || st_replica_role(n->core) != ST_REPLICA_LEADER) {
        return 0;
    }
    return produce_on(s, n, acks_all);
}

void rsim_crash(struct rsim *s, int id, bool power_loss, uint64_t down_ms)
{
    if (s->nodes[id].alive) {
        node_crash(s, &s->nodes[id], power_loss);
        s->nodes[id].restart_at = s->now + down_ms;
    }
}

bool rsim_log_has(const struct rsim *s, int id, uint64_t value)
{
    const struct slog *l = &s->nodes[id].log;

    for (int64_t i = 0; i < l->len; i++) {
        if (l->r[i].value == value) {
            return true;
        }
    }
    return false;
}

bool rsim_fault_scenario(uint64_t seed, bool churn, bool trace_on, char *why,
                         size_t why_len)
{
    struct rsim_opts o = {.seed = seed, .durable_hw = true, .trace = trace_on};
    struct rsim_faults f = {0};
    struct rsim *s;
    uint64_t knobs = seed * 0x9e3779b97f4a7c15ULL + 7;
    bool ok;

#define KNOB(lo, hi)                                                           \
    ((lo) + (knobs = knobs * 6364136223846793005ULL + 1,                       \
             (knobs >> 33) % ((hi) - (lo) + 1)))
    o.min_insync = (unsigned)KNOB(1, 2);
    o.flush_ms_max = KNOB(5, 60);
    f.drop_pct = (unsigned)KNOB(0, 5);
    f.delay_ms_max = KNOB(1, 20);
    f.crash_every_ms = KNOB(500, 3000);
    f.power_loss_pct = (unsigned)KNOB(0, 100);
    f.down_ms_max = KNOB(100, 1500);
    f.partition_every_ms = KNOB(500, 3000);
    f.slow_every_ms = KNOB(500, 4000);
    f.all_power_loss_every_ms = KNOB(0, 3) == 0 ? KNOB(1000, 4000) : 0;
    f.acks1_pct = (unsigned)KNOB(0, 30);
    if (churn) {
        /* Short timeouts and heavy loss: ISR and leadership churn. */
        o.lag_max_ms = KNOB(60, 300);
        o.session_ms = KNOB(80, 250);
        f.drop_pct = (unsigned)KNOB(5, 20);
        f.delay_ms_max = KNOB(5, 60);
        f.crash_every_ms = KNOB(200, 1200);
        f.partition_every_ms = KNOB(200, 1200);
    }
#undef KNOB
    if (rsim_new(&o, &s) != 0) {
        snprintf(why, why_len, "rsim_new failed");
        return false;
    }
    rsim_set_faults(s, &f);
    ok = rsim_run_for(s, 6000, 4);
    if (ok) {
        rsim_heal(s);
        ok = rsim_converge_within(s, 15000);
    }
    if (!ok) {
        snprintf(why, why_len, "seed=%" PRIu64 "%s %s", seed,
                 churn ? " (churn)" : "", rsim_failure(s));
    } else {
        snprintf(why, why_len,
                 "seed=%" PRIu64 " acked=%" PRIu64 " elections=%" PRIu64
                 " truncations=%" PRIu64 " crashes=%" PRIu64
                 " isr_changes=%" PRIu64,
                 seed, s->acked, s->elections, s->truncations, s->crashes,
                 s->isr_changes);
    }
    rsim_free(s);
    return ok;
}
