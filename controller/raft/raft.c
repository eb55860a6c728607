/* The Raft core's entry points: raft_new/raft_free, raft_step (one event in,
 * one update out) and the helpers every other file of the core shares
 * (tracer, PRNG, message queue, term/vote bookkeeping). */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/raft/raft_impl.h"

static void config_defaults(struct raft_config *c)
{
    if (c->election_timeout_ms == 0) {
        c->election_timeout_ms = 1000;
    }
    if (c->heartbeat_ms == 0) {
        c->heartbeat_ms = 100;
    }
    if (c->append_entries_max == 0) {
        c->append_entries_max = 64;
    }
    if (c->append_bytes_max == 0) {
        c->append_bytes_max = 1 << 20;
    }
    if (c->inflight_max == 0) {
        c->inflight_max = 8;
    }
    if (c->inflight_max > RAFT_INFLIGHT_CAP) {
        c->inflight_max = RAFT_INFLIGHT_CAP;
    }
    if (c->snapshot_chunk_bytes == 0) {
        c->snapshot_chunk_bytes = 64 * 1024;
    }
}

int raft_new(const struct raft_config *cfg, struct raft **out)
{
    if (cfg->voters.n == 0 || cfg->voters.n > RAFT_VOTERS_MAX ||
        cfg->id == 0) {
        return ST_EINVAL;
    }
    bool member = false;
    for (unsigned k = 0; k < cfg->voters.n; k++) {
        if (cfg->voters.ids[k] == 0) {
            return ST_EINVAL;
        }
        for (unsigned j = 0; j < k; j++) {
            if (cfg->voters.ids[j] == cfg->voters.ids[k]) {
                return ST_EINVAL;
            }
        }
        member |= cfg->voters.ids[k] == cfg->id;
    }
    if (!member) {
        return ST_EINVAL;
    }
    struct raft *r = st_calloc(1, sizeof *r);
    if (r == NULL) {
        return ST_ENOMEM;
    }
    r->cfg = *cfg;
    config_defaults(&r->cfg);
    r->role = RAFT_FOLLOWER;
    r->prng = cfg->seed ^ ((uint64_t)cfg->id << 32);
    log_init(&r->log);
    st_buf_init(&r->snap_data);
    st_buf_init(&r->rsnap_buf);
    *out = r;
    return 0;
}

void raft_free(struct raft *r)
{
    if (r == NULL) {
        return;
    }
    log_close(&r->log);
    st_buf_close(&r->snap_data);
    st_buf_close(&r->rsnap_buf);
    st_free(r->msgs);
    st_free(r);
}

/* ---- helpers shared by the core's files ---- */

void raft_trace(struct raft *r, const char *fmt, ...)
{
    if (r->cfg.trace == NULL) {
        return;
    }
    char line[512];
    int n = snprintf(line, sizeof line, "node=%" PRIu32 " term=%" PRIu64
                     " t=%" PRIu64 " ", r->cfg.id, r->term, r->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    r->cfg.trace(r->cfg.trace_arg, line);
}

uint64_t raft_rand(struct raft *r)
{
    uint64_t z = (r->prng += 0x9e3779b97f4a7c15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct raft_msg *raft_send(struct raft *r, enum raft_msg_type type,
                           raft_id to)
{
    if (r->n_msgs == r->cap_msgs) {
        unsigned cap = r->cap_msgs ? r->cap_msgs * 2 : 16;
        struct raft_msg *m = st_realloc(r->msgs, cap * sizeof *m);
        if (m == NULL) {
            r->oom = ST_ENOMEM;
            return NULL;
        }
        r->msgs = m;
        r->cap_msgs = cap;
    }
    struct raft_msg *m = &r->msgs[r->n_msgs++];
    memset(m, 0, sizeof *m);
    m->type = type;
    m->from = r->cfg.id;
    m->to = to;
    m->term = r->term;
    return m;
}

void raft_mark_term_vote(struct raft *r)
{
    r->upd_flags |= r->cfg.unsafe_send_before_persist
                        ? RAFT_UPD_TERM_VOTE_LAZY
                        : RAFT_UPD_TERM_VOTE;
}

unsigned raft_quorum(const struct raft *r)
{
    return r->cfg.voters.n / 2 + 1;
}

int raft_voter_pos(const struct raft *r, raft_id id)
{
    for (unsigned k = 0; k < r->cfg.voters.n; k++) {
        if (r->cfg.voters.ids[k] == id) {
            return (int)k;
        }
    }
    return -1;
}

int raft_log_append(struct raft *r, raft_term term, uint8_t type,
                    struct st_bytes data)
{
    int rv = log_append(&r->log, term, type, data);
    if (rv != 0) {
        r->oom = rv;
        return rv;
    }
    raft_index i = log_last_index(&r->log);
    if (r->upd_write_from == 0 || i < r->upd_write_from) {
        r->upd_write_from = i;
    }
    return 0;
}

void raft_log_truncate(struct raft *r, raft_index from)
{
    /* Committed entries are never truncated (Raft §5.4 / Leader
     * Completeness); if this fires, the core has a safety bug. */
    assert(from > r->commit);
    log_truncate_from(&r->log, from);
    if (r->upd_truncate_from == 0 || from < r->upd_truncate_from) {
        r->upd_truncate_from = from;
    }
    if (r->persisted >= from) {
        r->persisted = from - 1;
    }
    if (r->upd_write_from >= from) {
        r->upd_write_from = 0;
    }
}

raft_index raft_self_match(const struct raft *r)
{
    return r->cfg.unsafe_send_before_persist ? log_last_index(&r->log)
                                             : r->persisted;
}

/* ---- raft_step ---- */

static int on_start(struct raft *r, const struct raft_event *ev)
{
    if (r->started) {
        return ST_EINVAL;
    }
    r->started = true;
    r->term = ev->start.term;
    r->vote = ev->start.vote;
    r->log.offset = ev->start.snapshot.index;
    r->log.offset_term = ev->start.snapshot.term;
    r->commit = ev->start.snapshot.index;
    if (ev->start.snapshot.index > 0 &&
        st_buf_append(&r->snap_data, ev->start.snapshot_data.base,
                      ev->start.snapshot_data.len) != 0) {
        return ST_ENOMEM;
    }
    for (unsigned k = 0; k < ev->start.n_entries; k++) {
        const struct raft_entry *e = &ev->start.entries[k];
        if (e->index != log_last_index(&r->log) + 1) {
            return ST_EINVAL;
        }
        int rv = log_append(&r->log, e->term, e->type, e->data);
        if (rv != 0) {
            return rv;
        }
    }
    r->persisted = log_last_index(&r->log);
    r->role = RAFT_FOLLOWER;
    r->leader = 0;
    election_reset_timer(r);
    raft_trace(r, "start vote=%" PRIu32 " snapshot=%" PRIu64
               " last=%" PRIu64, r->vote, r->log.offset,
               log_last_index(&r->log));
    return 0;
}

static uint64_t next_timeout(const struct raft *r)
{
    if (r->role != RAFT_LEADER) {
        return r->election_deadline;
    }
    uint64_t t = r->heartbeat_deadline;
    if (!r->cfg.disable_check_quorum && r->quorum_deadline < t) {
        t = r->quorum_deadline;
    }
    if (r->transferee != 0 && r->transfer_deadline < t) {
        t = r->transfer_deadline;
    }
    return t;
}

static void fill_update(struct raft *r, struct raft_update *out)
{
    /* Resolve the entry runs of AppendEntries messages now that the log
     * will not change until the next step. */
    for (unsigned k = 0; k < r->n_msgs; k++) {
        struct raft_msg *m = &r->msgs[k];
        if (m->type == RAFT_MSG_APPEND && m->append.n_entries > 0) {
            m->append.entries = log_get(&r->log, m->append.prev_index + 1);
            assert(m->append.entries != NULL);
            assert(log_get(&r->log, m->append.prev_index +
                                        m->append.n_entries) != NULL);
        }
    }
    out->flags = r->upd_flags;
    out->term = r->term;
    out->vote = r->vote;
    if (r->upd_flags & RAFT_UPD_SNAPSHOT) {
        out->snapshot.index = r->log.offset;
        out->snapshot.term = r->log.offset_term;
        out->snapshot_data.base = r->snap_data.base;
        out->snapshot_data.len = r->snap_data.len;
    }
    out->truncate_from = r->upd_truncate_from;
    raft_index last = log_last_index(&r->log);
    if (r->upd_write_from != 0 && r->upd_write_from <= last) {
        out->entries = log_get(&r->log, r->upd_write_from);
        out->n_entries = (unsigned)(last - r->upd_write_from + 1);
    }
    out->msgs = r->msgs;
    out->n_msgs = r->n_msgs;
    out->commit_index = r->commit;
    out->next_timeout_ms = next_timeout(r);
}

int raft_step(struct raft *r, const struct raft_event *ev,
              struct raft_update *out)
{
    memset(out, 0, sizeof *out);
    if (!r->started && ev->type != RAFT_EV_START) {
        return ST_EINVAL;
    }
    if (ev->now_ms > r->now) {
        r->now = ev->now_ms;
    }
    r->upd_flags = 0;
    r->upd_write_from = 0;
    r->upd_truncate_from = 0;
    r->n_msgs = 0;
    r->oom = 0;
    enum raft_role role = r->role;
    raft_id leader = r->leader;
    int rv = 0;

    switch (ev->type) {
    case RAFT_EV_START:
        rv = on_start(r, ev);
        break;
    case RAFT_EV_RECEIVE:
        if (ev->receive->to != r->cfg.id ||
            raft_voter_pos(r, ev->receive->from) < 0 ||
            ev->receive->from == r->cfg.id) {
            return ST_EINVAL;
        }
        recv_message(r, ev->receive);
        break;
    case RAFT_EV_PERSISTED:
        replication_persisted(r, ev->persisted.index, ev->persisted.term);
        break;
    case RAFT_EV_TICK:
        election_tick(r);
        break;
    case RAFT_EV_PROPOSE:
        rv = replication_propose(r, ev->propose.data, ev->propose.n);
        break;
    case RAFT_EV_SNAPSHOT_TAKEN:
        rv = snapshot_taken(r, ev->snapshot_taken.index,
                            ev->snapshot_taken.data);
        break;
    case RAFT_EV_TRANSFER:
        rv = transfer_start(r, ev->transfer.to);
        break;
    default:
        return ST_EINVAL;
    }
    if (rv == 0 && r->oom != 0) {
        rv = r->oom;
    }
    if (rv != 0 && rv != ST_ECORRUPT) {
        r->n_msgs = 0;
        return rv;
    }
    if (role != r->role || leader != r->leader) {
        r->upd_flags |= RAFT_UPD_ROLE;
    }
    fill_update(r, out);
    return rv;
}

/* ---- accessors ---- */

enum raft_role raft_role(const struct raft *r)
{
    return r->role;
}

raft_term raft_current_term(const struct raft *r)
{
    return r->term;
}

raft_id raft_leader(const struct raft *r)
{
    return r->leader;
}

raft_index raft_commit_index(const struct raft *r)
{
    return r->commit;
}

raft_index raft_last_index(const struct raft *r)
{
    return log_last_index(&r->log);
}

raft_index raft_persisted_index(const struct raft *r)
{
    return r->persisted;
}

struct raft_snapshot_meta raft_snapshot(const struct raft *r)
{
    struct raft_snapshot_meta m = {r->log.offset, r->log.offset_term};
    return m;
}

const struct raft_entry *raft_entry_at(const struct raft *r, raft_index index)
{
    return log_get(&r->log, index);
}

struct st_bytes raft_snapshot_data(const struct raft *r)
{
    struct st_bytes b = {r->snap_data.base, r->snap_data.len};
    return b;
}

const char *raft_role_name(enum raft_role role)
{
    switch (role) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_PRE_CANDIDATE:
        return "pre-candidate";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    }
    return "?";
}
