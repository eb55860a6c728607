/* The replica core learns from the metadata log: a partition change (new
 * leader, leader epoch, partition epoch, replicas, ISR) decides whether this
 * broker leads, follows or does nothing; a broker change updates what the
 * leader knows of a replica's registration (KIP-903). Stale changes (an
 * older leader epoch, or an older partition epoch within the same leader
 * epoch) are ignored: the metadata log is ordered, so they can only come
 * from a replay. */
#include <string.h>

#include "broker/replica/replica_int.h"
#include "common/err.h"

static bool partition_valid(const struct st_replica_partition *p)
{
    if (p->n_replicas > ST_REPLICA_MAX || p->n_isr > ST_REPLICA_MAX ||
        p->leader_epoch < 0 || p->partition_epoch < 0) {
        return false;
    }
    for (unsigned i = 0; i < p->n_isr; i++) {
        bool found = false;
        for (unsigned j = 0; j < p->n_replicas; j++) {
            found = found || p->replicas[j].id == p->isr[i];
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

/* Adopt the replica set, keeping what the leader knows of the replicas
 * that stay. */
static void set_members(struct st_replica *r,
                        const struct st_replica_partition *p)
{
    struct follower kept[ST_REPLICA_MAX];

    for (unsigned i = 0; i < p->n_replicas; i++) {
        int j = member_index(r, p->replicas[i].id);
        if (j >= 0) {
            kept[i] = r->followers[j];
        } else {
            memset(&kept[i], 0, sizeof kept[i]);
            kept[i].caught_up_ms = r->now_ms;
            kept[i].last_fetch_ms = r->now_ms;
            kept[i].leo_at_last_fetch = r->log_end;
        }
    }
    memcpy(r->members, p->replicas, p->n_replicas * sizeof *p->replicas);
    memcpy(r->followers, kept, p->n_replicas * sizeof *kept);
    r->n_members = p->n_replicas;
    memcpy(r->isr, p->isr, p->n_isr * sizeof *p->isr);
    r->n_isr = p->n_isr;
}

int partition_changed(struct st_replica *r,
                      const struct st_replica_partition *p,
                      struct st_replica_update *out)
{
    bool new_epoch;
    int rv;

    if (!partition_valid(p)) {
        return ST_EINVAL;
    }
    if (p->leader_epoch < r->leader_epoch ||
        (p->leader_epoch == r->leader_epoch &&
         p->partition_epoch <= r->partition_epoch)) {
        replica_trace(r,
                      "stale partition change leader_epoch=%d "
                      "partition_epoch=%d",
                      p->leader_epoch, p->partition_epoch);
        return 0;
    }
    new_epoch = p->leader_epoch > r->leader_epoch;
    set_members(r, p);
    r->partition_epoch = p->partition_epoch;
    r->leader_epoch = p->leader_epoch;
    r->alter_wait_metadata = false;
    if (r->alter_inflight && r->partition_epoch > r->alter.partition_epoch) {
        r->alter_inflight = false; /* its fate is in this change */
    }

    if (p->leader == r->cfg.broker_id && member_index(r, p->leader) >= 0) {
        r->leader = p->leader;
        if (new_epoch || r->role != ST_REPLICA_LEADER) {
            leader_become(r);
        }
        replica_trace(r,
                      "partition change role=leader partition_epoch=%d "
                      "isr=%u",
                      r->partition_epoch, r->n_isr);
        return 0;
    }

    if (r->role == ST_REPLICA_LEADER) {
        rv = acks_fail_all(r, ST_REPLICA_ACK_NOT_LEADER);
        if (rv != 0) {
            return rv;
        }
        r->alter_inflight = false;
    }
    if (p->leader >= 0 && member_index(r, r->cfg.broker_id) >= 0) {
        if (new_epoch || r->role != ST_REPLICA_FOLLOWER ||
            r->leader != p->leader) {
            r->leader = p->leader;
            follower_become(r);
        }
    } else {
        r->leader = p->leader;
        r->role = ST_REPLICA_NONE;
        r->fetch_inflight = false;
    }
    replica_trace(r, "partition change role=%s leader=%d partition_epoch=%d",
                  st_replica_role_name(r->role), r->leader, r->partition_epoch);
    (void)out;
    return 0;
}

void broker_changed(struct st_replica *r, const struct st_replica_member *b)
{
    int i = member_index(r, b->id);

    if (i < 0) {
        return;
    }
    r->members[i] = *b;
    replica_trace(r, "broker change id=%d broker_epoch=%lld fenced=%d", b->id,
                  (long long)b->broker_epoch, b->fenced);
}
