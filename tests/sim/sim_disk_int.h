/* Internals of the simulated disk shared by sim_disk.c (model) and
 * sim_disk_store.c (raft_store on a mem vfs). */
#ifndef ST_SIM_DISK_INT_H
#define ST_SIM_DISK_INT_H

#include "sim_disk.h"

struct elog {
    struct raft_entry *e;
    size_t n, cap;
    raft_index offset;
    raft_term offset_term;
};

struct sim_disk {
    bool use_store;
    /* model */
    raft_term term;
    raft_id vote;
    raft_index snap_index;
    raft_term snap_term;
    uint8_t *snap_data;
    size_t snap_len;
    struct elog durable;
    struct elog written;
    raft_index dirty_from; /* lowest index changed since the last sync */
    /* store */
    struct st_vfs *vfs;
    struct raft_store *store;
};

void sim_disk_loaded_add(struct sim_disk_loaded *ld,
                         const struct raft_entry *e);
void sim_disk_loaded_finish(struct sim_disk_loaded *ld);

int store_new(struct sim_disk *d, uint64_t seed);
void store_free(struct sim_disk *d);
int store_load(struct sim_disk *d, struct sim_disk_loaded *out);
int store_save_term_vote(struct sim_disk *d, raft_term term, raft_id vote);
int store_append(struct sim_disk *d, const struct raft_entry *e, unsigned n);
void store_truncate(struct sim_disk *d, raft_index from);
int store_sync(struct sim_disk *d);
int store_install_snapshot(struct sim_disk *d, raft_index index,
                           raft_term term, struct st_bytes data,
                           raft_index truncate_from);
int store_take_snapshot(struct sim_disk *d, raft_index index, raft_term term,
                        struct st_bytes data);
raft_term store_term_at(struct sim_disk *d, raft_index index);
raft_index store_last_index(struct sim_disk *d);
void store_crash(struct sim_disk *d);

#endif
