/* The replica core's leader-epoch cache: for each leader epoch in the local
 * log, the offset of its first record (KIP-101, KIP-279). It answers
 * OffsetsForLeaderEpoch on a leader and finds the truncation point on a
 * follower. An epoch may be empty (a leader that appended nothing): its end
 * is the next epoch's start. Kept in memory only: the driver's log keeps
 * the durable copy (broker/log/epoch_cache.h) and hands it over at
 * st_replica_new(). */
#include "broker/replica/replica_int.h"
#include "common/alloc.h"
#include "common/err.h"

int epochs_assign(struct st_replica *r, int32_t epoch, int64_t start)
{
    if (r->n_epochs > 0 && epoch <= r->epochs[r->n_epochs - 1].epoch) {
        return 0; /* appends within an epoch, or stale epochs */
    }
    /* A new epoch starting at or before an existing entry's start
     * supersedes it (only after a truncation we did not see). */
    while (r->n_epochs > 0 &&
           r->epochs[r->n_epochs - 1].start_offset >= start) {
        r->n_epochs--;
    }
    if (r->n_epochs == r->cap_epochs) {
        unsigned cap = r->cap_epochs == 0 ? 8 : r->cap_epochs * 2;
        struct st_replica_epoch *e =
            st_realloc(r->epochs, cap * sizeof *r->epochs);
        if (e == NULL) {
            return ST_ENOMEM;
        }
        r->epochs = e;
        r->cap_epochs = cap;
    }
    r->epochs[r->n_epochs].epoch = epoch;
    r->epochs[r->n_epochs].start_offset = start;
    r->n_epochs++;
    return 0;
}

int32_t epochs_latest(const struct st_replica *r)
{
    return r->n_epochs == 0 ? -1 : r->epochs[r->n_epochs - 1].epoch;
}

void epochs_end(const struct st_replica *r, int32_t epoch, int32_t *out_epoch,
                int64_t *out_end)
{
    *out_epoch = -1;
    *out_end = -1;
    for (unsigned i = r->n_epochs; i-- > 0;) {
        if (r->epochs[i].epoch <= epoch) {
            *out_epoch = r->epochs[i].epoch;
            *out_end = i + 1 < r->n_epochs ? r->epochs[i + 1].start_offset
                                           : r->log_end;
            return;
        }
    }
}

void epochs_truncate_end(struct st_replica *r, int64_t end)
{
    while (r->n_epochs > 0 && r->epochs[r->n_epochs - 1].start_offset >= end) {
        r->n_epochs--;
    }
}

void epochs_truncate_start(struct st_replica *r, int64_t start)
{
    unsigned drop = 0;

    /* Drop entries wholly before @start: those followed by another entry
     * that also starts at or before it. */
    while (drop + 1 < r->n_epochs &&
           r->epochs[drop + 1].start_offset <= start) {
        drop++;
    }
    for (unsigned i = drop; i < r->n_epochs; i++) {
        r->epochs[i - drop] = r->epochs[i];
    }
    r->n_epochs -= drop;
    if (r->n_epochs > 0 && r->epochs[0].start_offset < start) {
        r->epochs[0].start_offset = start;
    }
}
