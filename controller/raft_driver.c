/* The Raft driver (see raft_driver.h for the contract it carries out).
 *
 * Storage batches:
 *
 *   update ──ops──> next batch ──submit (when none runs)──> running batch
 *                                                   │ worker: ops, fsync
 *                                                   ▼
 *                    done(): SNAPSHOT_TAKEN, PERSISTED, release held
 *                    messages when no barrier remains, submit next
 *
 * Runs on: the loop thread, except batch_work() (the storage worker).
 */
#include "controller/raft_driver.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/jobq.h"
#include "common/rpc_client.h"
#include "common/rpc_server.h"
#include "common/vfs.h"
#include "controller/raft/raft_store.h"
#include "controller/raft_wire.h"
#include "errors.pb-c.h"

#define PEER_PENDING_MAX 1024 /* messages queued per peer before dropping */

enum op_kind { OP_TERM_VOTE, OP_INSTALL, OP_TRUNCATE, OP_APPEND, OP_TAKE };

struct io_op {
    enum op_kind kind;
    raft_term term;
    raft_id vote;
    raft_index index;         /* OP_INSTALL, OP_TAKE: snapshot index */
    raft_index truncate_from; /* OP_TRUNCATE, OP_INSTALL */
    struct raft_entry *entries; /* OP_APPEND: one block with the data */
    size_t n;
    uint8_t *data;            /* OP_INSTALL, OP_TAKE: owned */
    size_t len;
};

struct io_batch {
    struct st_job job;
    struct st_raft_driver *d;
    struct io_op *ops;
    size_t n, cap;
    bool barrier;   /* holds term/vote or a snapshot install */
    bool log_changed;
    /* Results, written by the worker. */
    int rv;
    const char *what;
    raft_index durable_index;
    raft_term durable_term;
};

struct held_msg {
    raft_id to;
    struct st_buf buf;
    struct held_msg *next;
};

struct peer {
    struct st_raft_peer_addr addr;
    struct st_rpc_client *client; /* NULL for self */
    raft_index match;
};

struct st_raft_driver {
    struct event_base *base;
    struct raft *r;
    struct raft_store *store;
    struct st_jobq *q;
    struct event *timer;
    struct st_raft_driver_cbs cbs;
    raft_id id;
    char cluster_id[80];
    struct peer peers[RAFT_VOTERS_MAX];
    unsigned n_peers;
    uint64_t election_timeout_ms;
    raft_index applied;
    raft_index snap_requested;
    struct io_batch *running;
    struct io_batch *next;
    struct held_msg *held_head, *held_tail;
    struct st_buf enc;
    struct st_raft_driver_stats stats;
    bool stepping;
    bool closing;
    bool failed;
};

/* ---- storage batches ---- */

static struct io_batch *batch_get(struct st_raft_driver *d)
{
    if (d->next == NULL) {
        d->next = st_calloc(1, sizeof *d->next);
        if (d->next != NULL) {
            d->next->d = d;
        }
    }
    return d->next;
}

static struct io_op *batch_add(struct st_raft_driver *d, enum op_kind kind)
{
    struct io_batch *b = batch_get(d);
    if (b == NULL) {
        return NULL;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        struct io_op *ops = st_realloc(b->ops, cap * sizeof *ops);
        if (ops == NULL) {
            return NULL;
        }
        b->ops = ops;
        b->cap = cap;
    }
    struct io_op *op = &b->ops[b->n++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    return op;
}

static void batch_free(struct io_batch *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        st_free(b->ops[i].entries);
        st_free(b->ops[i].data);
    }
    st_free(b->ops);
    st_free(b);
}

static int op_run(struct raft_store *s, struct io_op *op, const char **what)
{
    int rv = 0;
    switch (op->kind) {
    case OP_TERM_VOTE:
        *what = "save term and vote";
        return raft_store_save_term_vote(s, op->term, op->vote);
    case OP_INSTALL:
        *what = "install snapshot";
        rv = raft_store_snapshot_save(s, op->index, op->term, op->data,
                                      op->len);
        if (rv == ST_ESTALE) {
            rv = 0;
        }
        if (rv == 0 && op->truncate_from > op->index) {
            rv = raft_store_truncate_from(s, op->truncate_from);
        }
        return rv;
    case OP_TAKE:
        *what = "save snapshot";
        rv = raft_store_snapshot_save(s, op->index, op->term, op->data,
                                      op->len);
        return rv == ST_ESTALE ? 0 : rv;
    case OP_TRUNCATE:
        *what = "truncate log";
        rv = raft_store_truncate_from(s, op->truncate_from);
        return rv == ST_ERANGE ? 0 : rv;
    case OP_APPEND:
        *what = "append entries";
        return raft_store_append(s, op->entries, op->n);
    }
    return ST_EINVAL;
}

/* Runs on: the storage worker. */
static void batch_work(struct st_job *job)
{
    struct io_batch *b = ST_JOB_CONTAINER(job, struct io_batch, job);
    struct raft_store *s = b->d->store;
    for (size_t i = 0; i < b->n && b->rv == 0; i++) {
        b->rv = op_run(s, &b->ops[i], &b->what);
    }
    if (b->rv == 0 && b->log_changed) {
        b->what = "fsync log";
        b->rv = raft_store_sync(s);
        struct raft_store_state st;
        raft_store_state(s, &st);
        b->durable_index = st.last_index;
        if (raft_store_term_at(s, st.last_index, &b->durable_term) != 0) {
            b->durable_term = 0;
        }
    }
}

static void batch_done(struct st_job *job, int status);
static int drv_step(struct st_raft_driver *d, struct raft_event *ev);
static void peer_send(struct st_raft_driver *d, raft_id to,
                      const struct st_buf *buf);

static bool barrier_pending(const struct st_raft_driver *d)
{
    return (d->running != NULL && d->running->barrier) ||
           (d->next != NULL && d->next->barrier);
}

static void held_release(struct st_raft_driver *d)
{
    while (d->held_head != NULL && !barrier_pending(d)) {
        struct held_msg *h = d->held_head;
        d->held_head = h->next;
        if (d->held_head == NULL) {
            d->held_tail = NULL;
        }
        peer_send(d, h->to, &h->buf);
        st_buf_close(&h->buf);
        st_free(h);
    }
}

static void batch_submit(struct st_raft_driver *d)
{
    if (d->running != NULL || d->next == NULL || d->closing || d->failed) {
        return;
    }
    d->running = d->next;
    d->next = NULL;
    d->running->job.work = batch_work;
    d->running->job.done = batch_done;
    if (st_jobq_submit_lane(d->q, &d->running->job, 0) != 0) {
        /* Only while closing; st_raft_driver_close runs it itself. */
        d->next = d->running;
        d->running = NULL;
    }
}

static void fail(struct st_raft_driver *d, int rv, const char *what)
{
    if (d->failed) {
        return;
    }
    d->failed = true;
    ST_ERROR("raft", "node=%" PRIu32 " storage failed: %s: %s", d->id, what,
             st_strerror(rv));
    if (d->cbs.fatal != NULL) {
        d->cbs.fatal(d->cbs.arg, rv, what);
    }
}

static void batch_done(struct st_job *job, int status)
{
    struct io_batch *b = ST_JOB_CONTAINER(job, struct io_batch, job);
    struct st_raft_driver *d = b->d;
    (void)status;
    d->running = NULL;
    d->stats.batches++;
    d->stats.log_syncs += b->log_changed;
    for (size_t i = 0; i < b->n; i++) {
        d->stats.entries_written += b->ops[i].kind == OP_APPEND ? b->ops[i].n
                                                                : 0;
        d->stats.term_vote_saves += b->ops[i].kind == OP_TERM_VOTE;
        d->stats.snapshots_saved += b->ops[i].kind == OP_TAKE ||
                                    b->ops[i].kind == OP_INSTALL;
    }
    if (b->rv != 0) {
        fail(d, b->rv, b->what);
        batch_free(b);
        return;
    }
    if (d->closing) {
        batch_free(b);
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        struct io_op *op = &b->ops[i];
        if (op->kind == OP_TAKE && op->index > raft_snapshot(d->r).index &&
            op->index <= d->applied) {
            struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
            ev.snapshot_taken.index = op->index;
            ev.snapshot_taken.data = (struct st_bytes){op->data, op->len};
            int rv = drv_step(d, &ev);
            if (rv != 0) {
                ST_WARN("raft", "node=%" PRIu32 " snapshot at %" PRIu64
                        " not taken by the core: %s", d->id, op->index,
                        st_strerror(rv));
            } else {
                ST_INFO("raft", "node=%" PRIu32 " snapshot index=%" PRIu64
                        " bytes=%zu", d->id, op->index, op->len);
            }
        }
    }
    if (b->log_changed && b->durable_term != 0) {
        struct raft_event ev = {.type = RAFT_EV_PERSISTED};
        ev.persisted.index = b->durable_index;
        ev.persisted.term = b->durable_term;
        drv_step(d, &ev);
    }
    batch_free(b);
    held_release(d);
    batch_submit(d);
}

/* ---- network ---- */

static void peer_sent_cb(void *arg, int status,
                         const struct st_rpc_response *resp)
{
    (void)arg;
    (void)status;
    (void)resp;
}

static struct peer *peer_find(struct st_raft_driver *d, raft_id id)
{
    for (unsigned i = 0; i < d->n_peers; i++) {
        if (d->peers[i].addr.id == id) {
            return &d->peers[i];
        }
    }
    return NULL;
}

static void peer_send(struct st_raft_driver *d, raft_id to,
                      const struct st_buf *buf)
{
    struct peer *p = peer_find(d, to);
    if (p == NULL || p->client == NULL) {
        return;
    }
    if (st_rpc_client_pending(p->client) >= PEER_PENDING_MAX) {
        d->stats.msgs_dropped++;
        return; /* best effort: the core retries */
    }
    d->stats.msgs_sent++;
    struct st_rpc_call call = {0};
    call.api = STRATA__RAFT__API__RAFT_MESSAGE;
    call.body = (struct st_bytes){buf->base, buf->len};
    call.timeout_ms = (uint32_t)(d->election_timeout_ms * 2);
    st_rpc_client_send(p->client, &call, peer_sent_cb, NULL, NULL);
}

static int msg_out(struct st_raft_driver *d, const struct raft_msg *m)
{
    st_buf_reset(&d->enc);
    int rv = st_raft_wire_encode(m, d->cluster_id, &d->enc);
    if (rv != 0) {
        return rv;
    }
    if (!barrier_pending(d) && d->held_head == NULL) {
        peer_send(d, m->to, &d->enc);
        return 0;
    }
    struct held_msg *h = st_calloc(1, sizeof *h);
    if (h == NULL) {
        return ST_ENOMEM;
    }
    d->stats.msgs_held++;
    h->to = m->to;
    st_buf_init(&h->buf);
    if (st_buf_append(&h->buf, d->enc.base, d->enc.len) != 0) {
        st_free(h);
        return ST_ENOMEM;
    }
    if (d->held_tail != NULL) {
        d->held_tail->next = h;
    } else {
        d->held_head = h;
    }
    d->held_tail = h;
    return 0;
}

static void raft_message_handler(void *arg, const struct st_rpc_request *req,
                                 struct st_rpc_reply *reply)
{
    struct st_raft_driver *d = arg;
    struct raft_msg m;
    const char *cid;
    Strata__Raft__RaftMessage *pb;
    struct raft_entry *entries;
    int rv = st_raft_wire_decode(req->body.base, req->body.len, &m, &cid,
                                 &pb, &entries);
    if (rv != 0) {
        st_rpc_reply_send(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                          "bad RaftMessage", (struct st_bytes){0},
                          (struct st_bytes){0});
        return;
    }
    if (strcmp(cid, d->cluster_id) != 0 || m.to != d->id ||
        peer_find(d, m.from) == NULL) {
        ST_WARN("raft", "node=%" PRIu32 " refused message from=%" PRIu32
                " to=%" PRIu32 " cluster=%s peer=%s", d->id, m.from, m.to,
                cid, req->peer_addr);
        st_raft_wire_free(pb, entries);
        st_rpc_reply_send(reply, STRATA__ERROR_CODE__INVALID_REQUEST,
                          "wrong cluster or node id", (struct st_bytes){0},
                          (struct st_bytes){0});
        return;
    }
    st_rpc_reply_send(reply, 0, NULL, (struct st_bytes){0},
                      (struct st_bytes){0});
    if (m.type == RAFT_MSG_APPEND_RESULT && m.append_result.success) {
        struct peer *p = peer_find(d, m.from);
        if (m.append_result.last_index > p->match) {
            p->match = m.append_result.last_index;
        }
    }
    if (!d->closing && !d->failed) {
        struct raft_event ev = {.type = RAFT_EV_RECEIVE};
        ev.receive = &m;
        drv_step(d, &ev);
    }
    st_raft_wire_free(pb, entries);
}

/* ---- stepping ---- */

static uint64_t now_ms(void)
{
    return st_mono_ms(st_clock_real());
}

static int copy_entries(struct io_op *op, const struct raft_entry *es,
                        unsigned n)
{
    size_t bytes = n * sizeof *es;
    for (unsigned i = 0; i < n; i++) {
        bytes += es[i].data.len;
    }
    op->entries = st_malloc(bytes ? bytes : 1);
    if (op->entries == NULL) {
        return ST_ENOMEM;
    }
    uint8_t *p = (uint8_t *)(op->entries + n);
    for (unsigned i = 0; i < n; i++) {
        op->entries[i] = es[i];
        if (es[i].data.len > 0) {
            memcpy(p, es[i].data.base, es[i].data.len);
        }
        op->entries[i].data.base = p;
        p += es[i].data.len;
    }
    op->n = n;
    return 0;
}

static int copy_data(struct io_op *op, struct st_bytes data)
{
    op->data = st_malloc(data.len ? data.len : 1);
    if (op->data == NULL) {
        return ST_ENOMEM;
    }
    if (data.len > 0) {
        memcpy(op->data, data.base, data.len);
    }
    op->len = data.len;
    return 0;
}

static int queue_storage(struct st_raft_driver *d,
                         const struct raft_update *u)
{
    struct io_op *op;
    if (u->flags & (RAFT_UPD_TERM_VOTE | RAFT_UPD_TERM_VOTE_LAZY)) {
        if ((op = batch_add(d, OP_TERM_VOTE)) == NULL) {
            return ST_ENOMEM;
        }
        op->term = u->term;
        op->vote = u->vote;
        d->next->barrier = d->next->barrier ||
                           (u->flags & RAFT_UPD_TERM_VOTE);
    }
    if (u->flags & RAFT_UPD_SNAPSHOT) {
        if ((op = batch_add(d, OP_INSTALL)) == NULL ||
            copy_data(op, u->snapshot_data) != 0) {
            return ST_ENOMEM;
        }
        op->index = u->snapshot.index;
        op->term = u->snapshot.term;
        op->truncate_from = u->truncate_from;
        d->next->barrier = true;
        d->next->log_changed = true;
    } else if (u->truncate_from != 0) {
        if ((op = batch_add(d, OP_TRUNCATE)) == NULL) {
            return ST_ENOMEM;
        }
        op->truncate_from = u->truncate_from;
        d->next->log_changed = true;
    }
    if (u->n_entries > 0) {
        if ((op = batch_add(d, OP_APPEND)) == NULL ||
            copy_entries(op, u->entries, u->n_entries) != 0) {
            return ST_ENOMEM;
        }
        d->next->log_changed = true;
    }
    return 0;
}

static void apply_committed(struct st_raft_driver *d, raft_index commit)
{
    while (d->applied < commit && !d->failed) {
        const struct raft_entry *e = raft_entry_at(d->r, d->applied + 1);
        if (e == NULL) {
            ST_ERROR("raft", "node=%" PRIu32 " committed entry %" PRIu64
                     " is not readable", d->id, d->applied + 1);
            return;
        }
        d->applied++;
        d->cbs.apply(d->cbs.arg, e);
    }
}

static void process(struct st_raft_driver *d, const struct raft_update *u)
{
    int rv = queue_storage(d, u);
    if (rv != 0) {
        fail(d, rv, "queue storage");
        return;
    }
    if (u->flags & RAFT_UPD_SNAPSHOT) {
        rv = d->cbs.restore(d->cbs.arg, u->snapshot.index, u->snapshot_data);
        if (rv != 0) {
            fail(d, rv, "restore snapshot");
            return;
        }
        d->applied = u->snapshot.index;
        ST_INFO("raft", "node=%" PRIu32 " installed snapshot index=%" PRIu64
                " term=%" PRIu64 " bytes=%zu", d->id, u->snapshot.index,
                u->snapshot.term, u->snapshot_data.len);
    }
    for (unsigned i = 0; i < u->n_msgs; i++) {
        if (msg_out(d, &u->msgs[i]) != 0) {
            ST_WARN("raft", "node=%" PRIu32 " dropped a message: no memory",
                    d->id);
        }
    }
    apply_committed(d, u->commit_index);
    uint64_t now = now_ms();
    uint64_t delay = u->next_timeout_ms > now ? u->next_timeout_ms - now : 0;
    struct timeval tv = {(time_t)(delay / 1000),
                         (suseconds_t)((delay % 1000) * 1000)};
    evtimer_add(d->timer, &tv);
}

static int drv_step(struct st_raft_driver *d, struct raft_event *ev)
{
    struct raft_update u;
    ev->now_ms = now_ms();
    bool was_leader = raft_role(d->r) == RAFT_LEADER;
    d->stepping = true;
    int rv = raft_step(d->r, ev, &u);
    if (rv == ST_ECORRUPT) {
        ST_ERROR("raft", "node=%" PRIu32 " a leader asked to overwrite a "
                 "committed entry: some voter lost durable state", d->id);
    } else if (rv != 0) {
        d->stepping = false;
        if (rv == ST_ENOMEM) {
            fail(d, rv, "raft core out of memory");
        }
        return rv;
    }
    process(d, &u);
    d->stepping = false;
    batch_submit(d);
    if (u.flags & RAFT_UPD_ROLE) {
        if (!was_leader && raft_role(d->r) == RAFT_LEADER) {
            for (unsigned i = 0; i < d->n_peers; i++) {
                d->peers[i].match = 0;
            }
        }
        if (d->cbs.role_changed != NULL) {
            d->cbs.role_changed(d->cbs.arg);
        }
    }
    return rv == ST_ECORRUPT ? 0 : rv;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_raft_driver *d = arg;
    (void)fd;
    (void)what;
    if (d->closing || d->failed) {
        return;
    }
    struct raft_event ev = {.type = RAFT_EV_TICK};
    drv_step(d, &ev);
}

/* ---- start and stop ---- */

struct loaded {
    struct raft_entry *v;
    size_t n, cap;
};

static int load_cb(void *arg, const struct raft_entry *e)
{
    struct loaded *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct raft_entry *v = st_realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            return ST_ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    uint8_t *data = st_malloc(e->data.len ? e->data.len : 1);
    if (data == NULL) {
        return ST_ENOMEM;
    }
    if (e->data.len > 0) {
        memcpy(data, e->data.base, e->data.len);
    }
    l->v[l->n] = *e;
    l->v[l->n].data.base = data;
    l->n++;
    return 0;
}

static void loaded_free(struct loaded *l)
{
    for (size_t i = 0; i < l->n; i++) {
        st_free((void *)l->v[i].data.base);
    }
    st_free(l->v);
}

static void trace_cb(void *arg, const char *line)
{
    (void)arg;
    ST_INFO("raft", "%s", line);
}

static int start_core(struct st_raft_driver *d,
                      const struct st_raft_driver_config *cfg, char *err,
                      size_t cap)
{
    struct raft_store_state st;
    int rv = raft_store_open(st_vfs_posix(), cfg->dir, NULL, &d->store, &st);
    if (rv != 0) {
        snprintf(err, cap, "raft log %s: %s", cfg->dir, st_strerror(rv));
        return rv;
    }
    uint8_t *snap = NULL;
    size_t snap_len = 0;
    raft_index snap_index = 0;
    raft_term snap_term = 0;
    if (st.snapshot_index > 0) {
        rv = raft_store_snapshot_load(d->store, &snap_index, &snap_term,
                                      &snap, &snap_len);
        if (rv == 0) {
            rv = d->cbs.restore(d->cbs.arg, snap_index,
                                (struct st_bytes){snap, snap_len});
        }
        if (rv != 0) {
            snprintf(err, cap, "raft snapshot in %s: %s", cfg->dir,
                     st_strerror(rv));
            st_free(snap);
            return rv;
        }
        d->applied = snap_index;
        d->snap_requested = snap_index;
    }
    struct loaded l = {0};
    rv = raft_store_load(d->store, st.first_index, load_cb, &l);
    if (rv != 0) {
        snprintf(err, cap, "raft log %s: %s", cfg->dir, st_strerror(rv));
        loaded_free(&l);
        st_free(snap);
        return rv;
    }
    struct raft_config rc = {0};
    rc.id = cfg->id;
    for (unsigned i = 0; i < cfg->n_voters; i++) {
        rc.voters.ids[rc.voters.n++] = cfg->voters[i].id;
    }
    rc.election_timeout_ms = cfg->election_timeout_ms;
    rc.heartbeat_ms = cfg->heartbeat_ms;
    rc.seed = now_ms() * 2654435761u ^ (uint64_t)getpid() ^
              ((uint64_t)cfg->id << 40);
    rc.trace = trace_cb;
    rv = raft_new(&rc, &d->r);
    if (rv == 0) {
        struct raft_event ev = {.type = RAFT_EV_START};
        ev.start.term = st.term;
        ev.start.vote = st.voted_for;
        ev.start.snapshot.index = snap_index;
        ev.start.snapshot.term = snap_term;
        ev.start.snapshot_data = (struct st_bytes){snap, snap_len};
        ev.start.entries = l.v;
        ev.start.n_entries = (unsigned)l.n;
        rv = drv_step(d, &ev);
    }
    ST_INFO("raft", "node=%" PRIu32 " started term=%" PRIu64 " vote=%" PRIu32
            " snapshot=%" PRIu64 " entries=%zu", cfg->id, st.term,
            st.voted_for, snap_index, l.n);
    loaded_free(&l);
    st_free(snap);
    if (rv != 0) {
        snprintf(err, cap, "raft core start: %s", st_strerror(rv));
    }
    return rv;
}

static int start_peers(struct st_raft_driver *d,
                       const struct st_raft_driver_config *cfg)
{
    for (unsigned i = 0; i < cfg->n_voters; i++) {
        struct peer *p = &d->peers[d->n_peers++];
        p->addr = cfg->voters[i];
        if (p->addr.id == cfg->id) {
            continue;
        }
        struct st_rpc_client_config cc = {0};
        cc.host = p->addr.host;
        cc.port = p->addr.port;
        cc.tls = cfg->client_tls;
        cc.frame_bytes_max = cfg->frame_bytes_max;
        cc.connect_timeout_ms = 1000;
        cc.backoff_initial_ms = 20;
        cc.backoff_max_ms = (uint32_t)cfg->election_timeout_ms;
        int rv = st_rpc_client_new(d->base, &cc, &p->client);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

int st_raft_driver_new(const struct st_raft_driver_config *cfg,
                       struct st_raft_driver **out, char *err, size_t cap)
{
    if (cfg->n_voters == 0 || cfg->n_voters > RAFT_VOTERS_MAX) {
        snprintf(err, cap, "between 1 and %d voters", RAFT_VOTERS_MAX);
        return ST_EINVAL;
    }
    struct st_raft_driver *d = st_calloc(1, sizeof *d);
    if (d == NULL) {
        return ST_ENOMEM;
    }
    d->base = cfg->base;
    d->cbs = cfg->cbs;
    d->id = cfg->id;
    snprintf(d->cluster_id, sizeof d->cluster_id, "%s", cfg->cluster_id);
    d->election_timeout_ms = cfg->election_timeout_ms;
    st_buf_init(&d->enc);
    d->timer = evtimer_new(cfg->base, timer_cb, d);
    int rv = d->timer ? st_jobq_new(cfg->base, 1, &d->q) : ST_ENOMEM;
    if (rv == 0) {
        rv = start_peers(d, cfg);
    }
    if (rv == 0) {
        rv = start_core(d, cfg, err, cap);
    } else {
        snprintf(err, cap, "raft driver: %s", st_strerror(rv));
    }
    if (rv == 0) {
        rv = st_rpc_server_register(cfg->server,
                                    STRATA__RAFT__API__RAFT_MESSAGE, 0, 0, 0,
                                    raft_message_handler, d);
    }
    if (rv != 0) {
        st_raft_driver_close(d);
        return rv;
    }
    *out = d;
    return 0;
}

void st_raft_driver_close(struct st_raft_driver *d)
{
    if (d == NULL) {
        return;
    }
    d->closing = true;
    if (d->timer != NULL) {
        event_free(d->timer);
    }
    st_jobq_free(d->q); /* the running batch finishes; done() only frees */
    d->running = NULL;
    if (d->next != NULL && d->store != NULL && !d->failed) {
        batch_work(&d->next->job);
        if (d->next->rv != 0) {
            ST_ERROR("raft", "node=%" PRIu32 " final flush failed: %s: %s",
                     d->id, d->next->what, st_strerror(d->next->rv));
        }
    }
    batch_free(d->next);
    if (d->store != NULL) {
        raft_store_sync(d->store);
        raft_store_close(d->store);
    }
    while (d->held_head != NULL) {
        struct held_msg *h = d->held_head;
        d->held_head = h->next;
        st_buf_close(&h->buf);
        st_free(h);
    }
    for (unsigned i = 0; i < d->n_peers; i++) {
        st_rpc_client_free(d->peers[i].client);
    }
    raft_free(d->r);
    st_buf_close(&d->enc);
    st_free(d);
}

/* ---- requests from the owner ---- */

int st_raft_driver_propose(struct st_raft_driver *d,
                           const struct st_bytes *data, unsigned n,
                           raft_index *first, raft_term *term)
{
    if (d->stepping) {
        return ST_EAGAIN;
    }
    if (d->failed || d->closing || raft_role(d->r) != RAFT_LEADER) {
        return ST_ENOTLEADER;
    }
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.data = data;
    ev.propose.n = n;
    raft_index before = raft_last_index(d->r);
    int rv = drv_step(d, &ev);
    if (rv != 0) {
        return rv;
    }
    *first = before + 1;
    *term = raft_current_term(d->r);
    return 0;
}

int st_raft_driver_snapshot(struct st_raft_driver *d, raft_index index,
                            struct st_bytes data)
{
    const struct raft_entry *e = raft_entry_at(d->r, index);
    if (index <= d->snap_requested || e == NULL || d->failed) {
        return 0;
    }
    struct io_op *op = batch_add(d, OP_TAKE);
    if (op == NULL || copy_data(op, data) != 0) {
        return ST_ENOMEM;
    }
    op->index = index;
    op->term = e->term;
    d->snap_requested = index;
    if (!d->stepping) {
        batch_submit(d);
    }
    return 0;
}

int st_raft_driver_transfer(struct st_raft_driver *d)
{
    if (d->stepping) {
        return ST_EAGAIN;
    }
    if (raft_role(d->r) != RAFT_LEADER) {
        return ST_ENOTLEADER;
    }
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.to = 0;
    return drv_step(d, &ev);
}

const struct raft *st_raft_driver_core(const struct st_raft_driver *d)
{
    return d->r;
}

raft_index st_raft_driver_applied(const struct st_raft_driver *d)
{
    return d->applied;
}

raft_index st_raft_driver_match(const struct st_raft_driver *d, raft_id id)
{
    if (id == d->id) {
        return raft_last_index(d->r);
    }
    for (unsigned i = 0; i < d->n_peers; i++) {
        if (d->peers[i].addr.id == id) {
            return d->peers[i].match;
        }
    }
    return 0;
}

const struct st_raft_peer_addr *
st_raft_driver_addr(const struct st_raft_driver *d, raft_id id)
{
    for (unsigned i = 0; i < d->n_peers; i++) {
        if (d->peers[i].addr.id == id) {
            return &d->peers[i].addr;
        }
    }
    return NULL;
}

const struct st_raft_peer_addr *
st_raft_driver_addr_at(const struct st_raft_driver *d, unsigned i)
{
    return i < d->n_peers ? &d->peers[i].addr : NULL;
}

unsigned st_raft_driver_io_pending(const struct st_raft_driver *d)
{
    return (d->running != NULL) + (d->next != NULL);
}

void st_raft_driver_stats(const struct st_raft_driver *d,
                          struct st_raft_driver_stats *out)
{
    *out = d->stats;
}
