/* Ghosts: the partitions of a member removed at its rebalance timeout.
 *
 * A member told to revoke that does not confirm within its rebalance
 * timeout leaves the group (epoch bump, new target), but its client may be
 * alive and still consuming what it was told to keep: it only learns of
 * the removal from its next heartbeat, which may be lost. What bounds that
 * is the session: a client that has not had a heartbeat answered for a
 * session timeout drops everything. So the removed member's assigned and
 * revoking partitions stay in the ownership index under a ghost until the
 * member's session deadline, or until its client shows it holds nothing
 * (it rejoins with epoch 0 or leaves). Only then can they move, which
 * keeps "no partition has two owners" true even against a live zombie.
 *
 * A ghost is persisted as the member's CURRENT record with the ghost flag
 * and no MEMBER or TARGET record; a tombstone of CURRENT releases it. */
#include <string.h>

#include "broker/group/group_int.h"
#include "common/alloc.h"
#include "common/err.h"

struct member *ghost_find(const struct st_group *g, const char *id)
{
    for (unsigned i = 0; i < g->n_ghosts; i++) {
        if (strcmp(g->ghosts[i]->id, id) == 0) {
            return g->ghosts[i];
        }
    }
    return NULL;
}

static int ghost_push(struct st_group *g, struct member *m)
{
    if (g->n_ghosts == g->cap_ghosts) {
        unsigned cap = g->cap_ghosts ? g->cap_ghosts * 2 : 4;
        struct member **v = st_realloc(g->ghosts, cap * sizeof *v);
        if (v == NULL) {
            return ST_ENOMEM;
        }
        g->ghosts = v;
        g->cap_ghosts = cap;
    }
    /* Kept sorted by id, as members are: a replay rebuilds the ghosts in
     * id order, so any other order would make the state (and its dump)
     * depend on the history rather than the log. */
    unsigned at = g->n_ghosts;
    while (at > 0 && strcmp(g->ghosts[at - 1]->id, m->id) > 0) {
        at--;
    }
    memmove(&g->ghosts[at + 1], &g->ghosts[at],
            (g->n_ghosts - at) * sizeof *g->ghosts);
    g->ghosts[at] = m;
    g->n_ghosts++;
    return 0;
}

int ghost_make(struct st_group *g, struct member *m, const char *why)
{
    if (m->assigned.n + m->revoking.n == 0) {
        return group_member_remove(g, m, why);
    }
    /* A ghost with the same id (a client that rejoined under it and was
     * removed again) is superseded: its partitions pass to the new one. */
    struct member *old = ghost_find(g, m->id);
    if (old != NULL) {
        int rv = ghost_release(g, old, "superseded");
        if (rv != 0) {
            return rv;
        }
        for (unsigned i = 0; i < m->assigned.n; i++) {
            pmap_put(&g->owners, m->assigned.v[i], m);
        }
        for (unsigned i = 0; i < m->revoking.n; i++) {
            pmap_put(&g->owners, m->revoking.v[i], m);
        }
    }
    int rv = ghost_push(g, m);
    if (rv != 0) {
        return rv;
    }
    group_trace(g, "member=%s removed reason=%s; ghost holds %u partitions "
                "until its session ends", m->id, why,
                m->assigned.n + m->revoking.n);
    group_member_unlink(g, m);
    m->ghost = true;
    m->target.n = 0;
    m->dirty_meta = m->dirty_target = false;
    m->dirty_current = false;
    g->bump = true;
    /* Order matters for replay: a MEMBER tombstone drops the whole member,
     * so the ghost's CURRENT record must come after it. */
    rv = rec_emit_member_tombstones(g, m->id);
    return rv ? rv : rec_emit_current(g, m);
}

int ghost_release(struct st_group *g, struct member *m, const char *why)
{
    for (unsigned i = 0; i < m->assigned.n; i++) {
        if (pmap_get(&g->owners, m->assigned.v[i]) == m) {
            pmap_del(&g->owners, m->assigned.v[i]);
        }
    }
    for (unsigned i = 0; i < m->revoking.n; i++) {
        if (pmap_get(&g->owners, m->revoking.v[i]) == m) {
            pmap_del(&g->owners, m->revoking.v[i]);
        }
    }
    for (unsigned i = 0; i < g->n_ghosts; i++) {
        if (g->ghosts[i] == m) {
            memmove(&g->ghosts[i], &g->ghosts[i + 1],
                    (g->n_ghosts - i - 1) * sizeof *g->ghosts);
            g->n_ghosts--;
            break;
        }
    }
    group_trace(g, "ghost=%s released reason=%s", m->id, why);
    int rv = rec_emit_member_tombstones(g, m->id);
    member_free(m);
    return rv;
}

int ghost_tick(struct st_group *g)
{
    unsigned i = 0;
    while (i < g->n_ghosts) {
        struct member *m = g->ghosts[i];
        if (m->session_deadline_ms > g->now_ms) {
            i++;
            continue;
        }
        int rv = ghost_release(g, m, "session_timeout");
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

/* Replay: a member loaded with only a ghost CURRENT record. */
int ghost_adopt(struct st_group *g, struct member *m)
{
    int rv = ghost_push(g, m);
    if (rv == 0) {
        group_member_unlink(g, m);
    }
    return rv;
}
