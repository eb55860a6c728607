/* The simulated disk without raft_store: use_store is refused. Linked when
 * the store library is not part of the build. */
#include <stdlib.h>

#include "common/err.h"
#include "sim_disk_int.h"

int store_new(struct sim_disk *d, uint64_t seed)
{
    (void)d;
    (void)seed;
    return ST_EUNSUPPORTED;
}

void store_free(struct sim_disk *d) { (void)d; }
int store_load(struct sim_disk *d, struct sim_disk_loaded *o) { abort(); }
int store_save_term_vote(struct sim_disk *d, raft_term t, raft_id v)
{
    abort();
}
int store_append(struct sim_disk *d, const struct raft_entry *e, unsigned n)
{
    abort();
}
void store_truncate(struct sim_disk *d, raft_index from) { abort(); }
int store_sync(struct sim_disk *d) { abort(); }
int store_install_snapshot(struct sim_disk *d, raft_index i, raft_term t,
                           struct st_bytes data, raft_index tf)
{
    abort();
}
int store_take_snapshot(struct sim_disk *d, raft_index i, raft_term t,
                        struct st_bytes data)
{
    abort();
}
raft_term store_term_at(struct sim_disk *d, raft_index i) { abort(); }
raft_index store_last_index(struct sim_disk *d) { abort(); }
void store_crash(struct sim_disk *d) { abort(); }
