/* Reconciliation: moving one member from its current assignment toward
 * its target, one heartbeat at a time (KIP-848's current assignment
 * builder, in our words).
 *
 *   STABLE ----(target epoch moved)----> next_assignment()
 *   next_assignment():
 *     keep   = assigned & target
 *     revoke = assigned - target
 *     if revoke is not empty and the client may still own some of it:
 *        assigned = keep, revoking = revoke, epoch unchanged,
 *        state UNREVOKED, rebalance timer armed.       (nothing new yet)
 *     else:
 *        add every partition of target - assigned that no member owns;
 *        epoch = target epoch; state UNRELEASED if some are still owned by
 *        others (they come on a later heartbeat, once released), else
 *        STABLE.
 *   UNREVOKED --(heartbeat whose owned list holds none of revoking)-->
 *        revoking released, then next_assignment() against the latest
 *        target.
 *   UNRELEASED --(any heartbeat)--> next_assignment().
 *
 * A kept partition is never dropped from the response, so its consumer
 * never pauses; a new owner is given a partition only once the index
 * (pmap) shows nobody else holding it. */
#include <string.h>

#include "broker/group/group_int.h"
#include "common/alloc.h"
#include "common/err.h"

void release_revoking(struct st_group *g, struct member *m)
{
    for (unsigned i = 0; i < m->revoking.n; i++) {
        pmap_del(&g->owners, m->revoking.v[i]);
    }
    if (m->revoking.n > 0) {
        m->dirty_current = true;
    }
    m->revoking.n = 0;
}

static int next_assignment(struct st_group *g, struct member *m,
                           const struct pset *owned)
{
    struct pset keep, revoke;
    pset_init(&keep);
    pset_init(&revoke);
    int rv = pset_reserve(&keep, m->assigned.n + m->target.n);
    if (rv == 0) {
        rv = pset_reserve(&revoke, m->assigned.n);
    }
    if (rv != 0) {
        goto done;
    }
    for (unsigned i = 0; i < m->assigned.n; i++) {
        uint64_t k = m->assigned.v[i];
        if (pset_has(&m->target, k)) {
            keep.v[keep.n++] = k;
        } else {
            revoke.v[revoke.n++] = k;
        }
    }
    bool must_wait = revoke.n > 0 &&
                     (owned == NULL || pset_intersects(owned, &revoke));
    if (must_wait) {
        /* Revoking stays in the index under this member until confirmed. */
        pset_close(&m->assigned);
        m->assigned = keep;
        pset_init(&keep);
        rv = pset_copy(&m->revoking, &revoke);
        if (rv != 0) {
            goto done;
        }
        m->state = ST_GROUP_MEMBER_UNREVOKED;
        m->rebalance_deadline_ms = g->now_ms + m->rebalance_timeout_ms;
        m->dirty_current = true;
        group_trace(g, "member=%s revoke=%u keep=%u member_epoch=%d",
                    m->id, revoke.n, m->assigned.n, m->epoch);
        goto done;
    }
    /* The client holds none of @revoke already: free it now. */
    for (unsigned i = 0; i < revoke.n; i++) {
        pmap_del(&g->owners, revoke.v[i]);
    }
    bool unreleased = false;
    for (unsigned i = 0; i < m->target.n; i++) {
        uint64_t k = m->target.v[i];
        if (pset_has(&m->assigned, k)) {
            continue;
        }
        struct member *o = pmap_get(&g->owners, k);
        if (o != NULL && o != m) {
            unreleased = true;
            continue;
        }
        rv = pmap_put(&g->owners, k, m);
        if (rv == 0) {
            keep.v[keep.n++] = k;
        } else {
            goto done;
        }
    }
    rv = pset_assign(&keep, keep.v, keep.n);
    if (rv != 0) {
        goto done;
    }
    enum st_group_member_state st =
        unreleased ? ST_GROUP_MEMBER_UNRELEASED : ST_GROUP_MEMBER_STABLE;
    if (m->epoch != g->target_epoch || st != m->state ||
        !pset_equal(&keep, &m->assigned)) {
        m->dirty_current = true;
    }
    if (m->epoch != g->target_epoch) {
        m->prev_epoch = m->epoch;
        m->epoch = g->target_epoch;
    }
    m->state = st;
    pset_close(&m->assigned);
    m->assigned = keep;
    pset_init(&keep);
    if (m->dirty_current) {
        group_trace(g, "member=%s member_epoch=%d state=%s assigned=%u",
                    m->id, m->epoch, st_group_member_state_name(st),
                    m->assigned.n);
    }
done:
    pset_close(&keep);
    pset_close(&revoke);
    return rv;
}

int reconcile(struct st_group *g, struct member *m, const struct pset *owned)
{
    switch (m->state) {
    case ST_GROUP_MEMBER_STABLE:
        if (m->epoch != g->target_epoch) {
            return next_assignment(g, m, owned);
        }
        return 0;
    case ST_GROUP_MEMBER_UNREVOKED:
        if (owned != NULL && !pset_intersects(owned, &m->revoking)) {
            group_trace(g, "member=%s revoked=%u", m->id, m->revoking.n);
            release_revoking(g, m);
            m->state = ST_GROUP_MEMBER_STABLE;
            m->dirty_current = true;
            return next_assignment(g, m, owned);
        }
        return 0;
    case ST_GROUP_MEMBER_UNRELEASED:
        return next_assignment(g, m, owned);
    }
    return 0;
}
