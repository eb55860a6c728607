/* Helpers for the Raft core unit tests: drive one core by hand, message by
 * message, and look at what it asks the driver to do. */
#ifndef ST_TEST_RAFT_UTIL_H
#define ST_TEST_RAFT_UTIL_H

#include <string.h>

#include "common/err.h"
#include "controller/raft/raft.h"
#include "test_util.h"

#define ET 100 /* election timeout of the tests' cores (ms) */

struct rt {
    raft_id id;
    struct raft *r;
    struct raft_update u;
    uint64_t now;
    int rv;
    struct raft_entry ents[64]; /* entries of the next rt_append() */
};

static inline void rt_init(struct rt *t, raft_id id, unsigned n_voters,
                           const struct raft_config *tweak)
{
    memset(t, 0, sizeof *t);
    t->id = id;
    struct raft_config c = {0};
    if (tweak != NULL) {
        c = *tweak;
    }
    c.id = id;
    c.voters.n = n_voters;
    for (unsigned k = 0; k < n_voters; k++) {
        c.voters.ids[k] = k + 1;
    }
    c.election_timeout_ms = ET;
    c.heartbeat_ms = 10;
    c.seed = 7;
    ck_assert_int_eq(raft_new(&c, &t->r), 0);
}

static inline int rt_step(struct rt *t, struct raft_event ev)
{
    ev.now_ms = t->now;
    t->rv = raft_step(t->r, &ev, &t->u);
    return t->rv;
}

/* Start with @term/@vote and a log whose entry k+1 has term terms[k]. */
static inline void rt_start(struct rt *t, raft_term term, raft_id vote,
                            const raft_term *terms, unsigned n)
{
    struct raft_entry e[64];
    for (unsigned k = 0; k < n; k++) {
        e[k] = (struct raft_entry){.term = terms[k], .index = k + 1,
                                   .type = RAFT_ENTRY_COMMAND};
    }
    struct raft_event ev = {.type = RAFT_EV_START};
    ev.start.term = term;
    ev.start.vote = vote;
    ev.start.entries = e;
    ev.start.n_entries = n;
    ck_assert_int_eq(rt_step(t, ev), 0);
}

static inline int rt_recv(struct rt *t, struct raft_msg m)
{
    struct raft_event ev = {.type = RAFT_EV_RECEIVE};
    ev.receive = &m;
    return rt_step(t, ev);
}

static inline int rt_tick(struct rt *t, uint64_t advance_ms)
{
    t->now += advance_ms;
    struct raft_event ev = {.type = RAFT_EV_TICK};
    return rt_step(t, ev);
}

static inline int rt_persisted(struct rt *t, raft_index index, raft_term term)
{
    struct raft_event ev = {.type = RAFT_EV_PERSISTED};
    ev.persisted.index = index;
    ev.persisted.term = term;
    return rt_step(t, ev);
}

/* Persist everything the core has. */
static inline int rt_persist_all(struct rt *t)
{
    raft_index last = raft_last_index(t->r);
    const struct raft_entry *e = raft_entry_at(t->r, last);
    return rt_persisted(t, last, e ? e->term : raft_snapshot(t->r).term);
}

static inline int rt_propose(struct rt *t, unsigned n)
{
    struct st_bytes d[16];
    static const uint8_t x[1] = {42};
    for (unsigned k = 0; k < n; k++) {
        d[k] = (struct st_bytes){x, 1};
    }
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.data = d;
    ev.propose.n = n;
    return rt_step(t, ev);
}

/* The first message of @type to @to in the last update, or NULL. */
static inline const struct raft_msg *rt_msg(const struct rt *t,
                                            enum raft_msg_type type,
                                            raft_id to)
{
    for (unsigned k = 0; k < t->u.n_msgs; k++) {
        if (t->u.msgs[k].type == type && t->u.msgs[k].to == to) {
            return &t->u.msgs[k];
        }
    }
    return NULL;
}

static inline unsigned rt_count(const struct rt *t, enum raft_msg_type type)
{
    unsigned c = 0;
    for (unsigned k = 0; k < t->u.n_msgs; k++) {
        c += t->u.msgs[k].type == type;
    }
    return c;
}

/* An AppendEntries from @from at @term carrying entries with @terms from
 * prev + 1 on; the entries live in @t until the next rt_append(). */
static inline struct raft_msg rt_append(struct rt *t, raft_id from,
                                        raft_term term, raft_index prev,
                                        raft_term prev_term,
                                        raft_index commit,
                                        const raft_term *terms, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        t->ents[k] = (struct raft_entry){.term = terms[k],
                                         .index = prev + 1 + k,
                                         .type = RAFT_ENTRY_COMMAND};
    }
    struct raft_msg m = {.type = RAFT_MSG_APPEND, .from = from,
                         .to = t->id, .term = term};
    m.append.prev_index = prev;
    m.append.prev_term = prev_term;
    m.append.commit = commit;
    m.append.entries = t->ents;
    m.append.n_entries = n;
    return m;
}

static inline struct raft_msg rt_vote_result(raft_id from, raft_id to,
                                             raft_term term, bool granted,
                                             bool pre_vote)
{
    struct raft_msg m = {.type = RAFT_MSG_VOTE_RESULT, .from = from,
                         .to = to, .term = term};
    m.vote_result.granted = granted;
    m.vote_result.pre_vote = pre_vote;
    return m;
}

/* Make node @t (id @self) leader: time out, win the pre-vote and the vote
 * with grants from @grants[] (ids), persist everything. */
static inline void rt_elect(struct rt *t, raft_id self, const raft_id *grants,
                            unsigned n)
{
    ck_assert_int_eq(rt_tick(t, 2 * ET), 0);
    ck_assert_int_eq(raft_role(t->r), RAFT_PRE_CANDIDATE);
    raft_term next = raft_current_term(t->r) + 1;
    for (unsigned k = 0; k < n; k++) {
        ck_assert_int_eq(
            rt_recv(t, rt_vote_result(grants[k], self, next, true, true)), 0);
    }
    ck_assert_int_eq(raft_role(t->r), RAFT_CANDIDATE);
    for (unsigned k = 0; k < n && raft_role(t->r) != RAFT_LEADER; k++) {
        ck_assert_int_eq(
            rt_recv(t, rt_vote_result(grants[k], self, next, true, false)),
            0);
    }
    ck_assert_int_eq(raft_role(t->r), RAFT_LEADER);
    ck_assert_int_eq(rt_persist_all(t), 0);
}

static inline struct raft_msg rt_ack(raft_id from, raft_id to, raft_term term,
                                     raft_index last)
{
    struct raft_msg m = {.type = RAFT_MSG_APPEND_RESULT, .from = from,
                         .to = to, .term = term};
    m.append_result.success = true;
    m.append_result.last_index = last;
    return m;
}

#endif
