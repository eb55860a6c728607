/* The Raft simulator: real cores, simulated clock, network and disks.
 *
 * One event heap ordered by (time, sequence) holds message deliveries, disk
 * syncs and restarts; node timers, proposals and fault changes are checked
 * beside it. Each node's driver follows raft.h's contract: term/vote made
 * durable before messages leave, snapshots installed durably, entries
 * written at once but durable only when a later sync completes (then
 * RAFT_EV_PERSISTED), messages sent, committed entries applied.
 *
 * The disk of a node is either a model kept here (durable image + written
 * image; a crash reverts to the durable one) or, with opts.use_store, the
 * real raft_store on a per-node in-memory vfs that loses power with
 * st_vfs_mem_crash(ST_VFS_CRASH_RANDOM).
 */
#include "sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "sim_disk.h"

#define NEVER UINT64_MAX
#define SNAP_BYTES 200 /* app snapshot size: 16-byte header + padding */

enum { SEV_DELIVER = 1, SEV_SYNC, SEV_RESTART };

struct netmsg {
    struct raft_msg m; /* entries and chunk point into this allocation */
};

struct sev {
    uint64_t t;
    uint64_t seq;
    unsigned kind;
    unsigned node;        /* index into nodes[] */
    unsigned incarnation; /* SYNC/RESTART: ignored if the node moved on */
    struct netmsg *msg;
};

struct node {
    raft_id id;
    struct raft *r; /* NULL while down */
    unsigned incarnation;
    struct sim_disk *disk;
    uint64_t timer_at;
    bool sync_pending;
    int group;            /* partition side */
    raft_index applied;
    uint64_t app_hash;    /* hash chain of the applied sequence */
    raft_index last_commit;
    raft_index snap_index;
    /* term/vote written lazily (unsafe mode) and not yet synced */
    bool lazy_tv;
    raft_term lazy_term;
    raft_id lazy_vote;
    uint64_t installs;    /* InstallSnapshot completions */
    raft_term max_term;   /* highest term this disk's owner reached */
    /* sim_wipe(): the term reached before the last wipe, and the terms
     * <= it in which the re-formatted incarnation granted a vote. */
    raft_term wiped_term;
    raft_term *dv_terms;
    size_t dv_n, dv_cap;
};

/* Every (index, term) ever written on any node, with what it held. */
struct lm_slot {
    raft_index index; /* 0: empty */
    raft_term term;
    uint64_t hash;
    raft_term prev_term;
};

struct sim {
    struct sim_opts o;
    struct sim_faults f;
    uint64_t rng;
    uint64_t now;
    uint64_t seq;
    struct node nodes[RAFT_VOTERS_MAX];
    unsigned n;

    struct sev *heap;
    size_t heap_n, heap_cap;

    uint64_t next_propose;
    uint64_t propose_every;
    uint64_t next_partition;
    uint64_t next_crash;
    uint64_t next_transfer;
    uint64_t next_value;

    /* checkers */
    raft_id *leader_of_term;
    size_t leader_cap;
    raft_term *g_term;   /* committed sequence, by index */
    uint64_t *g_hash;    /* entry hash */
    uint64_t *g_prefix;  /* hash chain up to index */
    uint64_t *g_value;   /* command value (0 for no-op) */
    size_t g_len, g_cap;
    struct lm_slot *lm;
    size_t lm_n, lm_cap;
    char failure[600];
    bool failed;

    uint64_t acked;
    uint64_t events;
    uint64_t elections;
    uint64_t live_value; /* liveness: a value >= this must commit */
    bool live_ok;

    sim_filter_fn filter;
    void *filter_arg;
    uint64_t double_votes;
};

/* ---- helpers ---- */

static uint64_t rnd(struct sim *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rnd_range(struct sim *s, uint64_t lo, uint64_t hi)
{
    return hi <= lo ? lo : lo + rnd(s) % (hi - lo + 1);
}

static uint64_t hash_bytes(const uint8_t *p, size_t n, uint64_t h)
{
    h ^= 0xcbf29ce484222325ull;
    for (size_t k = 0; k < n; k++) {
        h = (h ^ p[k]) * 0x100000001b3ull;
    }
    return h;
}

static uint64_t entry_hash(const struct raft_entry *e)
{
    uint64_t h = hash_bytes(e->data.base, e->data.len, e->type);
    return h ^ (e->term * 0x9e3779b97f4a7c15ull);
}

static void fail(struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(struct sim *s, const char *fmt, ...)
{
    if (s->failed) {
        return;
    }
    s->failed = true;
    int k = snprintf(s->failure, sizeof s->failure,
                     "seed=%" PRIu64 " t=%" PRIu64 ": ", s->o.seed, s->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->failure + k, sizeof s->failure - (size_t)k, fmt, ap);
    va_end(ap);
}

static void *xgrow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return p;
    }
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        c *= 2;
    }
    uint8_t *q = realloc(p, c * elem);
    if (q == NULL) {
        abort();
    }
    memset(q + *cap * elem, 0, (c - *cap) * elem);
    *cap = c;
    return q;
}

/* ---- event heap ---- */

static bool sev_less(const struct sev *a, const struct sev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(struct sim *s, struct sev ev)
{
    ev.seq = s->seq++;
    s->heap = xgrow(s->heap, &s->heap_cap, s->heap_n + 1, sizeof ev);
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!sev_less(&ev, &s->heap[p])) {
            break;
        }
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = ev;
}

static struct sev heap_pop(struct sim *s)
{
    struct sev top = s->heap[0];
    struct sev last = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n) {
            break;
        }
        if (c + 1 < s->heap_n && sev_less(&s->heap[c + 1], &s->heap[c])) {
            c++;
        }
        if (!sev_less(&s->heap[c], &last)) {
            break;
        }
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_n > 0) {
        s->heap[i] = last;
    }
    return top;
}

/* ---- checkers ---- */

/* True if a wiped node granted a vote in term @t after its wipe while it
 * may already have voted in @t before (t <= the term it had reached). */
static bool double_vote_in(const struct sim *s, raft_term t)
{
    for (unsigned k = 0; k < s->n; k++) {
        const struct node *nd = &s->nodes[k];
        for (size_t j = 0; j < nd->dv_n; j++) {
            if (nd->dv_terms[j] == t) {
                return true;
            }
        }
    }
    return false;
}

static void check_leader(struct sim *s, struct node *nd)
{
    if (raft_role(nd->r) != RAFT_LEADER) {
        return;
    }
    raft_term t = raft_current_term(nd->r);
    s->leader_of_term = xgrow(s->leader_of_term, &s->leader_cap, t + 1,
                              sizeof(raft_id));
    raft_id *slot = &s->leader_of_term[t];
    if (*slot == 0) {
        *slot = nd->id;
        s->elections++;
    } else if (*slot != nd->id && double_vote_in(s, t)) {
        /* The known hazard of a re-formatted voter (raft.h): tolerated,
         * counted, and the second leader recorded so it counts once. */
        *slot = nd->id;
        s->double_votes++;
    } else if (*slot != nd->id) {
        fail(s, "election safety: nodes %" PRIu32 " and %" PRIu32
             " both lead term %" PRIu64, *slot, nd->id, t);
    }
}

static void lm_insert(struct sim *s, struct lm_slot v);

static void lm_grow(struct sim *s)
{
    struct lm_slot *old = s->lm;
    size_t old_cap = s->lm_cap;
    s->lm_cap = old_cap ? old_cap * 2 : 1024;
    s->lm = calloc(s->lm_cap, sizeof *s->lm);
    if (s->lm == NULL) {
        abort();
    }
    s->lm_n = 0;
    for (size_t k = 0; k < old_cap; k++) {
        if (old[k].index != 0) {
            lm_insert(s, old[k]);
        }
    }
    free(old);
}

static void lm_insert(struct sim *s, struct lm_slot v)
{
    if ((s->lm_n + 1) * 2 > s->lm_cap) {
        lm_grow(s);
    }
    size_t mask = s->lm_cap - 1;
    size_t h = (size_t)((v.index * 0x9e3779b97f4a7c15ull) ^
                        (v.term * 0xc2b2ae3d27d4eb4full)) & mask;
    while (s->lm[h].index != 0) {
        struct lm_slot *x = &s->lm[h];
        if (x->index == v.index && x->term == v.term) {
            if (x->hash != v.hash || x->prev_term != v.prev_term) {
                fail(s, "log matching: index %" PRIu64 " term %" PRIu64
                     " holds two different entries or histories", v.index,
                     v.term);
            }
            return;
        }
        h = (h + 1) & mask;
    }
    s->lm[h] = v;
    s->lm_n++;
}

static void check_written(struct sim *s, const struct raft_entry *e,
                          raft_term prev_term)
{
    struct lm_slot v = {e->index, e->term, entry_hash(e), prev_term};
    lm_insert(s, v);
}

static uint64_t entry_value(const struct raft_entry *e)
{
    uint64_t v = 0;
    if (e->type == RAFT_ENTRY_COMMAND && e->data.len == 8) {
        memcpy(&v, e->data.base, 8);
    }
    return v;
}

/* A node applies entry @e; the committed sequence must agree. */
static void check_apply(struct sim *s, struct node *nd,
                        const struct raft_entry *e)
{
    raft_index i = e->index;
    uint64_t h = entry_hash(e);
    if (i <= s->g_len) {
        if (s->g_term[i] != e->term || s->g_hash[i] != h) {
            fail(s, "committed entry changed: node %" PRIu32 " applies index %"
                 PRIu64 " term %" PRIu64 " value %" PRIu64 " but %" PRIu64
                 " term %" PRIu64 " value %" PRIu64 " was committed", nd->id,
                 i, e->term, entry_value(e), i, s->g_term[i],
                 s->g_value[i]);
            return;
        }
    } else if (i == s->g_len + 1) {
        size_t need = i + 1;
        size_t cap = s->g_cap;
        s->g_term = xgrow(s->g_term, &cap, need, sizeof *s->g_term);
        cap = s->g_cap;
        s->g_hash = xgrow(s->g_hash, &cap, need, sizeof *s->g_hash);
        cap = s->g_cap;
        s->g_prefix = xgrow(s->g_prefix, &cap, need, sizeof *s->g_prefix);
        cap = s->g_cap;
        s->g_value = xgrow(s->g_value, &cap, need, sizeof *s->g_value);
        s->g_cap = cap;
        s->g_term[i] = e->term;
        s->g_hash[i] = h;
        s->g_prefix[i] = s->g_prefix[i - 1] * 31 + h;
        s->g_value[i] = entry_value(e);
        s->g_len = i;
        if (e->type == RAFT_ENTRY_COMMAND) {
            s->acked++;
            if (s->live_value != 0 && entry_value(e) >= s->live_value) {
                s->live_ok = true;
            }
        }
    } else {
        fail(s, "node %" PRIu32 " applies index %" PRIu64
             " beyond the committed sequence %zu", nd->id, i, s->g_len);
        return;
    }
    nd->app_hash = nd->app_hash * 31 + h;
    if (nd->app_hash != s->g_prefix[i]) {
        fail(s, "node %" PRIu32 " applied a different sequence up to %" PRIu64,
             nd->id, i);
    }
}

/* ---- network ---- */

static struct netmsg *msg_copy(const struct raft_msg *m)
{
    size_t size = sizeof(struct netmsg);
    if (m->type == RAFT_MSG_APPEND) {
        size += m->append.n_entries * sizeof(struct raft_entry);
        for (unsigned k = 0; k < m->append.n_entries; k++) {
            size += m->append.entries[k].data.len;
        }
    } else if (m->type == RAFT_MSG_SNAPSHOT) {
        size += m->snapshot.chunk.len;
    }
    struct netmsg *c = malloc(size);
    if (c == NULL) {
        abort();
    }
    c->m = *m;
    uint8_t *p = (uint8_t *)(c + 1);
    if (m->type == RAFT_MSG_APPEND) {
        struct raft_entry *ents = (struct raft_entry *)(void *)p;
        p += m->append.n_entries * sizeof(struct raft_entry);
        for (unsigned k = 0; k < m->append.n_entries; k++) {
            ents[k] = m->append.entries[k];
            if (ents[k].data.len > 0) {
                memcpy(p, ents[k].data.base, ents[k].data.len);
            }
            ents[k].data.base = p;
            p += ents[k].data.len;
        }
        c->m.append.entries = ents;
    } else if (m->type == RAFT_MSG_SNAPSHOT) {
        if (m->snapshot.chunk.len > 0) {
            memcpy(p, m->snapshot.chunk.base, m->snapshot.chunk.len);
        }
        c->m.snapshot.chunk.base = p;
    }
    return c;
}

static struct node *node_of(struct sim *s, raft_id id)
{
    return id >= 1 && id <= s->n ? &s->nodes[id - 1] : NULL;
}

static void note_wiped_vote(struct node *from, const struct raft_msg *m)
{
    if (m->type != RAFT_MSG_VOTE_RESULT || !m->vote_result.granted ||
        m->vote_result.pre_vote || m->term > from->wiped_term) {
        return;
    }
    for (size_t j = 0; j < from->dv_n; j++) {
        if (from->dv_terms[j] == m->term) {
            return;
        }
    }
    from->dv_terms = xgrow(from->dv_terms, &from->dv_cap, from->dv_n + 1,
                           sizeof *from->dv_terms);
    from->dv_terms[from->dv_n++] = m->term;
}

static void net_send(struct sim *s, const struct raft_msg *m)
{
    struct node *from = node_of(s, m->from), *to = node_of(s, m->to);
    if (from->wiped_term != 0) {
        note_wiped_vote(from, m); /* the vote was cast even if lost */
    }
    if (to == NULL || from->group != to->group) {
        return;
    }
    struct raft_msg filtered;
    if (s->filter != NULL) {
        filtered = *m;
        if (!s->filter(s->filter_arg, &filtered)) {
            return;
        }
        if (filtered.type == RAFT_MSG_APPEND &&
            filtered.append.n_entries > m->append.n_entries) {
            abort(); /* a filter may only shorten a batch */
        }
        m = &filtered;
    }
    if (s->f.drop_pct && rnd(s) % 100 < s->f.drop_pct) {
        return;
    }
    unsigned copies = s->f.dup_pct && rnd(s) % 100 < s->f.dup_pct ? 2 : 1;
    for (unsigned k = 0; k < copies; k++) {
        struct sev ev = {0};
        ev.t = s->now + rnd_range(s, s->f.delay_ms_min, s->f.delay_ms_max);
        ev.kind = SEV_DELIVER;
        ev.node = m->to - 1;
        ev.msg = msg_copy(m);
        heap_push(s, ev);
    }
}

/* ---- a node's driver ---- */

static void trace_cb(void *arg, const char *line)
{
    struct sim *s = arg;
    if (s->o.trace_sink != NULL) {
        s->o.trace_sink(s->o.trace_sink_arg, line);
    } else {
        fprintf(stderr, "  raft %s\n", line);
    }
}

/* A simulator event, for the trace (sink or stderr) when tracing. */
static void note(struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(struct sim *s, const char *fmt, ...)
{
    if (!s->o.trace && s->o.trace_sink == NULL) {
        return;
    }
    char line[256];
    int k = snprintf(line, sizeof line, "sim t=%" PRIu64 " ", s->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
    va_end(ap);
    if (s->o.trace_sink != NULL) {
        s->o.trace_sink(s->o.trace_sink_arg, line);
    } else {
        fprintf(stderr, "  %s\n", line);
    }
}

static int node_step(struct sim *s, struct node *nd, struct raft_event *ev);

static void schedule_sync(struct sim *s, struct node *nd)
{
    if (nd->sync_pending) {
        return;
    }
    nd->sync_pending = true;
    struct sev ev = {0};
    ev.t = s->now + rnd_range(s, 1, s->f.disk_ms_max ? s->f.disk_ms_max : 1);
    ev.kind = SEV_SYNC;
    ev.node = nd->id - 1;
    ev.incarnation = nd->incarnation;
    heap_push(s, ev);
}

static void snap_encode(uint8_t *buf, raft_index index, uint64_t hash)
{
    memcpy(buf, &index, 8);
    memcpy(buf + 8, &hash, 8);
    for (size_t k = 16; k < SNAP_BYTES; k++) {
        buf[k] = (uint8_t)(index + k);
    }
}

static void restore_app(struct sim *s, struct node *nd, raft_index index,
                        struct st_bytes data)
{
    raft_index got = 0;
    uint64_t hash = 0;
    if (data.len >= 16) {
        memcpy(&got, data.base, 8);
        memcpy(&hash, data.base + 8, 8);
    }
    if (index == 0) {
        nd->applied = 0;
        nd->app_hash = 0;
        return;
    }
    if (data.len != SNAP_BYTES || got != index) {
        fail(s, "node %" PRIu32 " snapshot %" PRIu64 " has bad contents",
             nd->id, index);
        return;
    }
    if (index > s->g_len || s->g_prefix[index] != hash) {
        fail(s, "node %" PRIu32 " snapshot %" PRIu64
             " is not the committed sequence", nd->id, index);
        return;
    }
    nd->applied = index;
    nd->app_hash = hash;
    nd->snap_index = index;
}

static void process_update(struct sim *s, struct node *nd,
                           const struct raft_update *u)
{
    if (u->term > nd->max_term) {
        nd->max_term = u->term;
    }
    /* 1. term and vote, durable before any message leaves */
    if (u->flags & RAFT_UPD_TERM_VOTE) {
        if (sim_disk_save_term_vote(nd->disk, u->term, u->vote) != 0) {
            fail(s, "disk: save term/vote failed");
        }
        nd->lazy_tv = false;
    } else if (u->flags & RAFT_UPD_TERM_VOTE_LAZY) {
        nd->lazy_tv = true; /* unsafe: written at the next sync */
        nd->lazy_term = u->term;
        nd->lazy_vote = u->vote;
        schedule_sync(s, nd);
    }
    /* 2. snapshot install, durable */
    if (u->flags & RAFT_UPD_SNAPSHOT) {
        if (sim_disk_install_snapshot(nd->disk, u->snapshot.index,
                                      u->snapshot.term, u->snapshot_data,
                                      u->truncate_from) != 0) {
            fail(s, "disk: install snapshot failed");
        }
        restore_app(s, nd, u->snapshot.index, u->snapshot_data);
        nd->installs++;
    } else if (u->truncate_from != 0) {
        sim_disk_truncate(nd->disk, u->truncate_from);
    }
    /* 3. entries: written now, durable at a later sync */
    if (u->n_entries > 0) {
        raft_term prev = sim_disk_term_at(nd->disk, u->entries[0].index - 1);
        for (unsigned k = 0; k < u->n_entries; k++) {
            check_written(s, &u->entries[k], prev);
            prev = u->entries[k].term;
        }
        if (sim_disk_append(nd->disk, u->entries, u->n_entries) != 0) {
            fail(s, "disk: append at %" PRIu64 " failed (contract?)",
                 u->entries[0].index);
        }
        schedule_sync(s, nd);
    }
    /* 4. messages */
    for (unsigned k = 0; k < u->n_msgs; k++) {
        net_send(s, &u->msgs[k]);
    }
    /* 5. commit and apply */
    if (u->commit_index < nd->last_commit) {
        fail(s, "node %" PRIu32 " commit went back %" PRIu64 " -> %" PRIu64,
             nd->id, nd->last_commit, u->commit_index);
    }
    nd->last_commit = u->commit_index;
    while (nd->applied < u->commit_index && !s->failed) {
        const struct raft_entry *e = raft_entry_at(nd->r, nd->applied + 1);
        if (e == NULL) {
            fail(s, "node %" PRIu32 " cannot read committed entry %" PRIu64,
                 nd->id, nd->applied + 1);
            return;
        }
        check_apply(s, nd, e);
        nd->applied++;
    }
    /* 6. timer */
    nd->timer_at = u->next_timeout_ms;
    check_leader(s, nd);
}

static void maybe_take_snapshot(struct sim *s, struct node *nd)
{
    if (s->o.snapshot_every == 0 || nd->r == NULL || s->failed ||
        nd->applied < nd->snap_index + s->o.snapshot_every) {
        return;
    }
    uint8_t buf[SNAP_BYTES];
    snap_encode(buf, nd->applied, nd->app_hash);
    const struct raft_entry *e = raft_entry_at(nd->r, nd->applied);
    struct st_bytes data = {buf, sizeof buf};
    if (e == NULL || sim_disk_take_snapshot(nd->disk, nd->applied, e->term,
                                            data) != 0) {
        fail(s, "node %" PRIu32 " could not snapshot at %" PRIu64, nd->id,
             nd->applied);
        return;
    }
    nd->snap_index = nd->applied;
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
    ev.snapshot_taken.index = nd->applied;
    ev.snapshot_taken.data = data;
    node_step(s, nd, &ev);
}

static int node_step(struct sim *s, struct node *nd, struct raft_event *ev)
{
    struct raft_update u;
    ev->now_ms = s->now;
    int rv = raft_step(nd->r, ev, &u);
    s->events++;
    if (rv == ST_ECORRUPT) {
        fail(s, "node %" PRIu32 " was asked to overwrite a committed entry",
             nd->id);
    } else if (rv != 0) {
        return rv;
    }
    process_update(s, nd, &u);
    maybe_take_snapshot(s, nd);
    return 0;
}

static void node_start(struct sim *s, struct node *nd)
{
    struct raft_config cfg = {0};
    cfg.id = nd->id;
    cfg.voters.n = s->n;
    for (unsigned k = 0; k < s->n; k++) {
        cfg.voters.ids[k] = k + 1;
    }
    cfg.election_timeout_ms = s->o.election_timeout_ms;
    cfg.heartbeat_ms = s->o.heartbeat_ms;
    cfg.snapshot_chunk_bytes = s->o.snapshot_chunk_bytes;
    cfg.append_entries_max = s->o.append_entries_max;
    cfg.inflight_max = 4;
    cfg.seed = rnd(s);
    cfg.disable_pre_vote = s->o.disable_pre_vote;
    cfg.disable_check_quorum = s->o.disable_check_quorum;
    cfg.unsafe_send_before_persist = s->o.unsafe_send_before_persist;
    cfg.unsafe_commit_previous_terms = s->o.unsafe_commit_previous_terms;
    if (s->o.trace || s->o.trace_sink != NULL) {
        cfg.trace = trace_cb;
        cfg.trace_arg = s;
    }
    if (raft_new(&cfg, &nd->r) != 0) {
        abort();
    }
    struct sim_disk_loaded ld;
    if (sim_disk_load(nd->disk, &ld) != 0) {
        fail(s, "node %" PRIu32 " cannot load its disk", nd->id);
        raft_free(nd->r);
        nd->r = NULL;
        return;
    }
    note(s, "start node=%" PRIu32 " term=%" PRIu64 " vote=%" PRIu32
         " snapshot=%" PRIu64 " entries=%u", nd->id, ld.term, ld.vote,
         ld.snapshot.index, ld.n_entries);
    nd->incarnation++;
    nd->sync_pending = false;
    nd->lazy_tv = false;
    nd->last_commit = 0;
    nd->snap_index = 0;
    restore_app(s, nd, ld.snapshot.index, ld.snapshot_data);
    struct raft_event ev = {.type = RAFT_EV_START};
    ev.start.term = ld.term;
    ev.start.vote = ld.vote;
    ev.start.snapshot = ld.snapshot;
    ev.start.snapshot_data = ld.snapshot_data;
    ev.start.entries = ld.entries;
    ev.start.n_entries = ld.n_entries;
    if (node_step(s, nd, &ev) != 0) {
        fail(s, "node %" PRIu32 " START refused", nd->id);
    }
    sim_disk_loaded_free(&ld);
}

/* Crash @nd; it restarts by itself within down_ms_max if @auto_restart. */
static void node_crash(struct sim *s, struct node *nd, bool auto_restart)
{
    note(s, "crash node=%" PRIu32, nd->id);
    raft_free(nd->r);
    nd->r = NULL;
    nd->incarnation++;
    sim_disk_crash(nd->disk);
    if (!auto_restart) {
        return;
    }
    struct sev ev = {0};
    ev.t = s->now + rnd_range(s, 1, s->f.down_ms_max ? s->f.down_ms_max : 1);
    ev.kind = SEV_RESTART;
    ev.node = nd->id - 1;
    ev.incarnation = nd->incarnation;
    heap_push(s, ev);
}

static void on_sync(struct sim *s, struct node *nd)
{
    nd->sync_pending = false;
    if (nd->lazy_tv) {
        nd->lazy_tv = false;
        sim_disk_save_term_vote(nd->disk, nd->lazy_term, nd->lazy_vote);
    }
    if (sim_disk_sync(nd->disk) != 0) {
        fail(s, "disk: sync failed");
        return;
    }
    struct raft_event ev = {.type = RAFT_EV_PERSISTED};
    ev.persisted.index = sim_disk_last_index(nd->disk);
    ev.persisted.term = sim_disk_term_at(nd->disk, ev.persisted.index);
    node_step(s, nd, &ev);
}

/* ---- public ---- */

int sim_new(const struct sim_opts *opts, struct sim **out)
{
    if (opts->n_voters == 0 || opts->n_voters > RAFT_VOTERS_MAX) {
        return ST_EINVAL;
    }
    struct sim *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return ST_ENOMEM;
    }
    s->o = *opts;
    if (s->o.election_timeout_ms == 0) {
        s->o.election_timeout_ms = 200;
    }
    if (s->o.heartbeat_ms == 0) {
        s->o.heartbeat_ms = 20;
    }
    if (s->o.snapshot_chunk_bytes == 0) {
        s->o.snapshot_chunk_bytes = 64;
    }
    if (s->o.append_entries_max == 0) {
        s->o.append_entries_max = 16;
    }
    /* raft_store logs opens, snapshots and torn tails at INFO/WARN; the
     * checkers judge the run, so keep stderr for failures and traces. */
    st_diag_set_level(opts->trace ? ST_LEVEL_DEBUG : ST_LEVEL_ERROR);
    s->rng = opts->seed * 0x2545f4914f6cdd1dull + 1;
    s->n = opts->n_voters;
    s->f.delay_ms_min = 1;
    s->f.delay_ms_max = 5;
    s->f.disk_ms_max = 3;
    s->next_partition = NEVER;
    s->next_crash = NEVER;
    s->next_transfer = NEVER;
    s->next_propose = NEVER;
    s->next_value = 1;
    s->g_cap = 0;
    for (unsigned k = 0; k < s->n; k++) {
        struct node *nd = &s->nodes[k];
        nd->id = k + 1;
        int rv = sim_disk_new(opts->use_store, rnd(s), &nd->disk);
        if (rv != 0) {
            sim_free(s);
            return rv;
        }
    }
    for (unsigned k = 0; k < s->n; k++) {
        node_start(s, &s->nodes[k]);
    }
    *out = s;
    return 0;
}

void sim_free(struct sim *s)
{
    if (s == NULL) {
        return;
    }
    for (unsigned k = 0; k < s->n; k++) {
        raft_free(s->nodes[k].r);
        sim_disk_free(s->nodes[k].disk);
        free(s->nodes[k].dv_terms);
    }
    for (size_t k = 0; k < s->heap_n; k++) {
        free(s->heap[k].msg);
    }
    free(s->heap);
    free(s->leader_of_term);
    free(s->g_term);
    free(s->g_hash);
    free(s->g_prefix);
    free(s->g_value);
    free(s->lm);
    free(s);
}

void sim_set_faults(struct sim *s, const struct sim_faults *f)
{
    s->f = *f;
    if (s->f.delay_ms_max < s->f.delay_ms_min) {
        s->f.delay_ms_max = s->f.delay_ms_min;
    }
    s->next_partition = f->partition_every_ms
                            ? s->now + rnd_range(s, 1, 2 * f->partition_every_ms)
                            : NEVER;
    s->next_crash = f->crash_every_ms
                        ? s->now + rnd_range(s, 1, 2 * f->crash_every_ms)
                        : NEVER;
    s->next_transfer = f->transfer_every_ms
                           ? s->now + rnd_range(s, 1, 2 * f->transfer_every_ms)
                           : NEVER;
}

static bool partitioned(const struct sim *s)
{
    for (unsigned k = 0; k < s->n; k++) {
        if (s->nodes[k].group != 0) {
            return true;
        }
    }
    return false;
}

/* Trace the partition sides as "groups=0101..." (one digit per node). */
static void note_groups(struct sim *s)
{
    char g[RAFT_VOTERS_MAX + 1];
    for (unsigned k = 0; k < s->n; k++) {
        g[k] = (char)('0' + s->nodes[k].group);
    }
    g[s->n] = '\0';
    note(s, "partition groups=%s", g);
}

static void fault_partition(struct sim *s)
{
    if (partitioned(s)) {
        for (unsigned k = 0; k < s->n; k++) {
            s->nodes[k].group = 0;
        }
    } else {
        for (unsigned k = 0; k < s->n; k++) {
            s->nodes[k].group = (int)(rnd(s) % 2);
        }
    }
    note_groups(s);
    s->next_partition = s->now + rnd_range(s, 1, 2 * s->f.partition_every_ms);
}

static void fault_crash(struct sim *s)
{
    unsigned k = (unsigned)(rnd(s) % s->n);
    if (s->nodes[k].r != NULL) {
        node_crash(s, &s->nodes[k], true);
    }
    s->next_crash = s->now + rnd_range(s, 1, 2 * s->f.crash_every_ms);
}

/* Ask the leader to hand over to a random other voter (rolling restart). */
static void fault_transfer(struct sim *s)
{
    s->next_transfer = s->now + rnd_range(s, 1, 2 * s->f.transfer_every_ms);
    raft_id id = sim_leader(s);
    if (id == 0 || s->n < 2) {
        return;
    }
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.to = (raft_id)(rnd(s) % s->n) + 1;
    if (ev.transfer.to == id) {
        ev.transfer.to = 0; /* the most up-to-date other voter */
    }
    int rv = node_step(s, node_of(s, id), &ev);
    if (rv != 0 && rv != ST_ENOTLEADER) {
        fail(s, "node %" PRIu32 " refused a transfer: %d", id, rv);
    }
}

static void propose(struct sim *s)
{
    raft_id id = sim_leader(s);
    s->next_propose = s->now + s->propose_every;
    if (id == 0) {
        return;
    }
    uint64_t v = s->next_value++;
    struct st_bytes data = {(const uint8_t *)&v, sizeof v};
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.data = &data;
    ev.propose.n = 1;
    node_step(s, node_of(s, id), &ev);
}

static void handle(struct sim *s, struct sev *ev)
{
    struct node *nd = &s->nodes[ev->node];
    switch (ev->kind) {
    case SEV_DELIVER:
        if (nd->r != NULL && node_of(s, ev->msg->m.from)->group == nd->group) {
            struct raft_event rev = {.type = RAFT_EV_RECEIVE};
            rev.receive = &ev->msg->m;
            node_step(s, nd, &rev);
        }
        free(ev->msg);
        break;
    case SEV_SYNC:
        if (nd->r != NULL && ev->incarnation == nd->incarnation) {
            on_sync(s, nd);
        }
        break;
    case SEV_RESTART:
        if (nd->r == NULL && ev->incarnation == nd->incarnation) {
            node_start(s, nd);
        }
        break;
    }
}

bool sim_run_for(struct sim *s, uint64_t ms, uint64_t propose_every_ms)
{
    uint64_t end = s->now + ms;
    s->propose_every = propose_every_ms;
    s->next_propose = propose_every_ms ? s->now + propose_every_ms : NEVER;
    while (!s->failed && !(s->live_value != 0 && s->live_ok)) {
        uint64_t t = end + 1;
        int what = 0; /* 1 heap, 2 timer, 3 propose, 4 partition, 5 crash */
        unsigned who = 0;
        if (s->heap_n > 0 && s->heap[0].t < t) {
            t = s->heap[0].t;
            what = 1;
        }
        for (unsigned k = 0; k < s->n; k++) {
            if (s->nodes[k].r != NULL && s->nodes[k].timer_at < t) {
                t = s->nodes[k].timer_at;
                what = 2;
                who = k;
            }
        }
        if (s->next_propose < t) {
            t = s->next_propose;
            what = 3;
        }
        if (s->next_partition < t) {
            t = s->next_partition;
            what = 4;
        }
        if (s->next_crash < t) {
            t = s->next_crash;
            what = 5;
        }
        if (s->next_transfer < t) {
            t = s->next_transfer;
            what = 6;
        }
        if (what == 0) {
            s->now = end;
            break;
        }
        if (t > s->now) {
            s->now = t;
        }
        if (what == 1) {
            struct sev ev = heap_pop(s);
            handle(s, &ev);
        } else if (what == 2) {
            struct raft_event ev = {.type = RAFT_EV_TICK};
            node_step(s, &s->nodes[who], &ev);
        } else if (what == 3) {
            propose(s);
        } else if (what == 4) {
            fault_partition(s);
        } else if (what == 5) {
            fault_crash(s);
        } else {
            fault_transfer(s);
        }
    }
    s->next_propose = NEVER;
    return !s->failed;
}

void sim_heal(struct sim *s)
{
    s->f.drop_pct = 0;
    s->f.dup_pct = 0;
    s->next_partition = NEVER;
    s->next_crash = NEVER;
    s->next_transfer = NEVER;
    for (unsigned k = 0; k < s->n; k++) {
        s->nodes[k].group = 0;
        if (s->nodes[k].r == NULL) {
            node_start(s, &s->nodes[k]);
        }
    }
}

bool sim_live_within(struct sim *s, uint64_t bound_ms)
{
    s->live_value = s->next_value;
    s->live_ok = false;
    sim_run_for(s, bound_ms, 10);
    bool ok = s->live_ok;
    s->live_value = 0;
    return ok && !s->failed;
}

int sim_transfer(struct sim *s, raft_id to)
{
    raft_id id = sim_leader(s);
    if (id == 0) {
        return ST_ENOTLEADER;
    }
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.to = to;
    return node_step(s, node_of(s, id), &ev);
}

void sim_partition(struct sim *s, const raft_id *ids, unsigned n)
{
    for (unsigned k = 0; k < s->n; k++) {
        s->nodes[k].group = 0;
    }
    for (unsigned k = 0; k < n; k++) {
        struct node *nd = node_of(s, ids[k]);
        if (nd != NULL) {
            nd->group = 1;
        }
    }
    note_groups(s);
}

void sim_set_filter(struct sim *s, sim_filter_fn fn, void *arg)
{
    s->filter = fn;
    s->filter_arg = arg;
}

uint64_t sim_propose(struct sim *s)
{
    raft_id id = sim_leader(s);
    if (id == 0) {
        return 0;
    }
    uint64_t v = s->next_value++;
    struct st_bytes data = {(const uint8_t *)&v, sizeof v};
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.data = &data;
    ev.propose.n = 1;
    return node_step(s, node_of(s, id), &ev) == 0 ? v : 0;
}

void sim_crash(struct sim *s, raft_id id)
{
    struct node *nd = node_of(s, id);
    if (nd != NULL && nd->r != NULL) {
        node_crash(s, nd, false);
    }
}

void sim_restart(struct sim *s, raft_id id)
{
    struct node *nd = node_of(s, id);
    if (nd != NULL && nd->r == NULL) {
        node_start(s, nd);
    }
}

void sim_wipe(struct sim *s, raft_id id)
{
    struct node *nd = node_of(s, id);
    if (nd == NULL) {
        return;
    }
    note(s, "wipe node=%" PRIu32, nd->id);
    sim_crash(s, id);
    sim_disk_free(nd->disk);
    nd->disk = NULL;
    if (sim_disk_new(s->o.use_store, rnd(s), &nd->disk) != 0) {
        abort();
    }
    /* Votes of the new incarnation in terms up to this one may repeat
     * votes of the old; its later terms are new to it. */
    if (nd->max_term > nd->wiped_term) {
        nd->wiped_term = nd->max_term;
    }
    nd->max_term = 0;
}

uint64_t sim_double_votes(const struct sim *s)
{
    return s->double_votes;
}

uint64_t sim_snapshots_installed(const struct sim *s, raft_id id)
{
    return id >= 1 && id <= s->n ? s->nodes[id - 1].installs : 0;
}

raft_index sim_applied(const struct sim *s, raft_id id)
{
    return id >= 1 && id <= s->n ? s->nodes[id - 1].applied : 0;
}

raft_index sim_committed_len(const struct sim *s)
{
    return s->g_len;
}

raft_term sim_committed_term(const struct sim *s, raft_index index)
{
    return index >= 1 && index <= s->g_len ? s->g_term[index] : 0;
}

const char *sim_failure(const struct sim *s)
{
    return s->failed ? s->failure : NULL;
}

uint64_t sim_now(const struct sim *s)
{
    return s->now;
}

uint64_t sim_acked(const struct sim *s)
{
    return s->acked;
}

uint64_t sim_events(const struct sim *s)
{
    return s->events;
}

uint64_t sim_elections(const struct sim *s)
{
    return s->elections;
}

raft_id sim_leader(const struct sim *s)
{
    raft_id best = 0;
    raft_term term = 0;
    for (unsigned k = 0; k < s->n; k++) {
        const struct raft *r = s->nodes[k].r;
        if (r != NULL && raft_role(r) == RAFT_LEADER &&
            raft_current_term(r) >= term) {
            best = s->nodes[k].id;
            term = raft_current_term(r);
        }
    }
    return best;
}

const struct raft *sim_node(const struct sim *s, raft_id id)
{
    return id >= 1 && id <= s->n ? s->nodes[id - 1].r : NULL;
}

uint64_t sim_max_term(const struct sim *s)
{
    raft_term t = 0;
    for (unsigned k = 0; k < s->n; k++) {
        const struct raft *r = s->nodes[k].r;
        if (r != NULL && raft_current_term(r) > t) {
            t = raft_current_term(r);
        }
    }
    return t;
}

bool sim_fault_scenario(uint64_t seed, bool use_store, bool harsh, bool trace,
                        char *why, size_t cap, uint64_t stats[4])
{
    struct sim_opts o = {.n_voters = seed % 2 ? 5 : 3,
                         .seed = seed,
                         .snapshot_every = harsh ? 5 : 30,
                         .snapshot_chunk_bytes = harsh ? 7 : 64,
                         .use_store = use_store,
                         .trace = trace};
    struct sim *s;
    if (sim_new(&o, &s) != 0) {
        snprintf(why, cap, "sim_new failed");
        return false;
    }
    struct sim_faults f = {.drop_pct = 5, .dup_pct = 2, .delay_ms_min = 1,
                           .delay_ms_max = 30, .disk_ms_max = 8,
                           .partition_every_ms = 1500,
                           .crash_every_ms = 1500, .down_ms_max = 1000,
                           .transfer_every_ms = 2000};
    if (harsh) {
        f = (struct sim_faults){.drop_pct = 15, .dup_pct = 10,
                                .delay_ms_min = 1, .delay_ms_max = 150,
                                .disk_ms_max = 40, .partition_every_ms = 700,
                                .crash_every_ms = 700, .down_ms_max = 400,
                                .transfer_every_ms = 500};
    }
    sim_set_faults(s, &f);
    bool ok = sim_run_for(s, 6000, 10);
    if (ok) {
        sim_heal(s);
        ok = sim_live_within(s, harsh ? 10000 : 5000);
    }
    if (!ok) {
        snprintf(why, cap, "%s",
                 sim_failure(s) ? sim_failure(s)
                                : "liveness: no commit within 5 s of healing");
    }
    if (stats != NULL) {
        stats[0] = sim_acked(s);
        stats[1] = sim_events(s);
        stats[2] = sim_elections(s);
        stats[3] = sim_max_term(s);
    }
    sim_free(s);
    return ok;
}
