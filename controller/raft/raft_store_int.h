/* Internals of the Raft store shared by raft_store.c (log writes and
 * reads), raft_recover.c (open-time recovery) and raft_store_snapshot.c
 * (snapshots and compaction). Not for use outside controller/raft/.
 */
#ifndef RAFT_STORE_INT_H
#define RAFT_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "common/vfs.h"
#include "controller/raft/raft_store.h"

/* One segment file. Only the last one takes appends. */
struct raft_seg {
    raft_index first; /* index of its first record (its name) */
    uint64_t size;    /* bytes in use: the next record goes here */
    struct st_file *f;
    char *path;
};

/* Where entry i of the logical log lies (segment found by index). */
struct raft_loc {
    uint64_t off;
    raft_term term;
    uint32_t len; /* whole record */
};

struct raft_store {
    struct st_vfs *vfs;
    char *dir;
    uint64_t segment_bytes;
    struct raft_store_state st;
    /* Segments by ascending first index; the first may start before
     * st.first_index (its head is covered by the snapshot). */
    struct raft_seg *segs;
    size_t n_segs, cap_segs;
    /* Entry i (st.first_index <= i <= st.last_index) is locs[i - first]. */
    struct raft_loc *locs;
    size_t n_locs, cap_locs;
    bool seg_dirty; /* the last segment has writes not yet fsynced */
    bool dir_dirty; /* a segment was created since the last dir fsync */
    int failed;     /* sticky first write error, 0 if none */
    struct st_buf buf; /* scratch: encoded appends, segment reads */
};

enum { RAFT_STORE_DIR_MAX = 3900 }; /* leaves room for names in PATH_MAX */

/* Record @rv as the sticky error (the first one wins), log it, return it. */
int raft_store_fail(struct raft_store *s, int rv, const char *what,
                    const char *path);

/* "@dir/@name" on the heap (st_malloc), or NULL. */
char *raft_store_path(const struct raft_store *s, const char *name);
/* "@dir/log-<20 digits>.seg" / "@dir/snapshot-<20 digits>.snap". */
char *raft_store_seg_path(const struct raft_store *s, raft_index first);
char *raft_store_snap_path(const struct raft_store *s, raft_index index);

/* Parse "<prefix><20 digits><suffix>" into *v; false if @name is not. */
bool raft_store_name_parse(const char *name, const char *prefix,
                           const char *suffix, uint64_t *v);

/* Grow segs / locs to hold @extra more. Errors: ST_ENOMEM. */
int raft_store_segs_reserve(struct raft_store *s, size_t extra);
int raft_store_locs_reserve(struct raft_store *s, size_t extra);

/* Close the file of segs[@i], unlink it, and drop it from segs. A failed
 * unlink is sticky. */
int raft_store_seg_remove(struct raft_store *s, size_t i);

/* Read all of @f into s->buf. Errors: vfs errors, ST_ENOMEM. */
int raft_store_read_file(struct raft_store *s, struct st_file *f);

/* Recover the directory's contents into @s (see raft_store_open()).
 * Runs inside open, on an @s with vfs, dir and options set. */
int raft_store_recover(struct raft_store *s);

#endif
