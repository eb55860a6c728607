/* The disk of one simulated Raft node (tests only): what survives a crash.
 *
 * Two backends behind one interface: a model kept in memory here (a durable
 * image and a written image; a crash reverts to the durable one), and the
 * real raft_store on a per-node in-memory vfs that loses power with
 * st_vfs_mem_crash(ST_VFS_CRASH_RANDOM). Entries written by append are not
 * durable until sync; term/vote, truncation and snapshots are durable on
 * return (the model makes truncation durable only at the next sync, which
 * a real disk may also do).
 */
#ifndef ST_SIM_DISK_H
#define ST_SIM_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "controller/raft/raft.h"

struct sim_disk;

struct sim_disk_loaded {
    raft_term term;
    raft_id vote;
    struct raft_snapshot_meta snapshot;
    struct st_bytes snapshot_data;
    struct raft_entry *entries;
    unsigned n_entries;
    uint8_t *owned; /* internal */
    uint8_t *snap_owned;
    size_t owned_len, owned_cap;
};

/* @use_store picks raft_store on a mem vfs seeded with @seed. */
int sim_disk_new(bool use_store, uint64_t seed, struct sim_disk **out);
void sim_disk_free(struct sim_disk *d);
/* What a restarting node finds. Ownership: free with _loaded_free(). */
int sim_disk_load(struct sim_disk *d, struct sim_disk_loaded *out);
void sim_disk_loaded_free(struct sim_disk_loaded *ld);
int sim_disk_save_term_vote(struct sim_disk *d, raft_term term, raft_id vote);
int sim_disk_append(struct sim_disk *d, const struct raft_entry *e,
                    unsigned n);
void sim_disk_truncate(struct sim_disk *d, raft_index from);
int sim_disk_sync(struct sim_disk *d);
/* A leader's snapshot (Raft §7): keep the suffix after @index if our entry
 * at @index has @term, else drop the whole log; then also drop entries
 * >= @truncate_from when not 0. */
int sim_disk_install_snapshot(struct sim_disk *d, raft_index index,
                              raft_term term, struct st_bytes data,
                              raft_index truncate_from);
/* The application's own snapshot: compact up to @index. */
int sim_disk_take_snapshot(struct sim_disk *d, raft_index index,
                           raft_term term, struct st_bytes data);
raft_term sim_disk_term_at(struct sim_disk *d, raft_index index);
raft_index sim_disk_last_index(struct sim_disk *d);
/* Lose power: unsynced writes are gone (store: a random prefix survives). */
void sim_disk_crash(struct sim_disk *d);

#endif
