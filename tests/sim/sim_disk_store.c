/* The simulated disk through the real raft_store on a per-node in-memory
 * vfs: a crash is st_vfs_mem_crash(ST_VFS_CRASH_RANDOM), which keeps what
 * was fsynced plus a random, possibly torn, prefix of later writes; the
 * restart re-opens the store, whose recovery must cope. */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/vfs.h"
#include "controller/raft/raft_store.h"
#include "sim_disk_int.h"

#define DIR "/raft"

static int store_open(struct sim_disk *d)
{
    if (d->store != NULL) {
        return 0;
    }
    return raft_store_open(d->vfs, DIR, NULL, &d->store, NULL);
}

int store_new(struct sim_disk *d, uint64_t seed)
{
    int rv = st_vfs_mem_new(seed, &d->vfs);
    if (rv != 0) {
        return rv;
    }
    rv = store_open(d);
    if (rv != 0) {
        st_vfs_mem_free(d->vfs);
        d->vfs = NULL;
    }
    return rv;
}

void store_free(struct sim_disk *d)
{
    raft_store_close(d->store);
    d->store = NULL;
    st_vfs_mem_free(d->vfs);
    d->vfs = NULL;
}

static int load_cb(void *arg, const struct raft_entry *e)
{
    sim_disk_loaded_add(arg, e);
    return 0;
}

int store_load(struct sim_disk *d, struct sim_disk_loaded *out)
{
    int rv = store_open(d);
    if (rv != 0) {
        return rv;
    }
    struct raft_store_state st;
    raft_store_state(d->store, &st);
    out->term = st.term;
    out->vote = st.voted_for;
    out->snapshot.index = st.snapshot_index;
    out->snapshot.term = st.snapshot_term;
    if (st.snapshot_index > 0) {
        raft_index idx;
        raft_term term;
        uint8_t *data;
        size_t len;
        rv = raft_store_snapshot_load(d->store, &idx, &term, &data, &len);
        if (rv != 0) {
            return rv;
        }
        if (idx != st.snapshot_index || term != st.snapshot_term) {
            st_free(data);
            return ST_ECORRUPT;
        }
        /* Keep it in a malloc'd copy so _loaded_free() can free() it. */
        out->snap_owned = malloc(len ? len : 1);
        if (out->snap_owned == NULL) {
            abort();
        }
        memcpy(out->snap_owned, data, len);
        st_free(data);
        out->snapshot_data.base = out->snap_owned;
        out->snapshot_data.len = len;
    }
    rv = raft_store_load(d->store, st.first_index, load_cb, out);
    sim_disk_loaded_finish(out);
    return rv;
}

int store_save_term_vote(struct sim_disk *d, raft_term term, raft_id vote)
{
    return raft_store_save_term_vote(d->store, term, vote);
}

int store_append(struct sim_disk *d, const struct raft_entry *e, unsigned n)
{
    return raft_store_append(d->store, e, n);
}

void store_truncate(struct sim_disk *d, raft_index from)
{
    /* An error is sticky in the store and fails the next append or sync. */
    (void)raft_store_truncate_from(d->store, from);
}

int store_sync(struct sim_disk *d)
{
    return raft_store_sync(d->store);
}

int store_install_snapshot(struct sim_disk *d, raft_index index,
                           raft_term term, struct st_bytes data,
                           raft_index truncate_from)
{
    int rv = raft_store_snapshot_save(d->store, index, term, data.base,
                                      data.len);
    if (rv == 0 && truncate_from != 0) {
        rv = raft_store_truncate_from(d->store, truncate_from);
    }
    return rv;
}

int store_take_snapshot(struct sim_disk *d, raft_index index, raft_term term,
                        struct st_bytes data)
{
    return raft_store_snapshot_save(d->store, index, term, data.base,
                                    data.len);
}

raft_term store_term_at(struct sim_disk *d, raft_index index)
{
    raft_term t = 0;
    if (raft_store_term_at(d->store, index, &t) != 0) {
        return 0;
    }
    return t;
}

raft_index store_last_index(struct sim_disk *d)
{
    struct raft_store_state st;
    raft_store_state(d->store, &st);
    return st.last_index;
}

void store_crash(struct sim_disk *d)
{
    st_vfs_mem_crash(d->vfs, ST_VFS_CRASH_RANDOM);
    raft_store_close(d->store);
    d->store = NULL;
}
