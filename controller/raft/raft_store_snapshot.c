/* Raft store snapshots: install one durably, then compact the log behind
 * it (Raft §7); read the current one back.
 *
 * Order matters for crashes. The snapshot is made durable first (atomic
 * replace), and only then are segments and older snapshots unlinked, with
 * one directory fsync at the end. A crash in between leaves the new
 * snapshot plus files that recovery drops the same way (raft_recover.c).
 * When the whole log is discarded, segments go newest first, so a partial
 * set of unlinks never leaves a suffix of a divergent log without the
 * entry that shows it diverged.
 */
#include <inttypes.h>
#include <string.h>

#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "controller/raft/raft_snapshot.h"
#include "controller/raft/raft_store_int.h"

/* Unlink every snapshot file but the one at @keep. */
static int remove_other_snapshots(struct raft_store *s, raft_index keep)
{
    char **names = NULL;
    size_t n = 0;
    int rv = st_vfs_list(s->vfs, s->dir, &names, &n);
    if (rv != 0) {
        return raft_store_fail(s, rv, "list", s->dir);
    }
    for (size_t i = 0; i < n && rv == 0; i++) {
        uint64_t v;
        if (!raft_store_name_parse(names[i], "snapshot-", ".snap", &v) ||
            v == keep) {
            continue;
        }
        char *path = raft_store_path(s, names[i]);
        if (path == NULL) {
            rv = ST_ENOMEM;
            break;
        }
        rv = st_vfs_unlink(s->vfs, path);
        if (rv != 0 && rv != ST_ENOENT) {
            rv = raft_store_fail(s, rv, "unlink", path);
        } else {
            rv = 0;
        }
        st_free(path);
    }
    st_vfs_names_free(names, n);
    return rv;
}

/* Drop segments that hold no entry after @index (all of them unless
 * @keep_suffix). */
static int compact_segments(struct raft_store *s, raft_index index,
                            bool keep_suffix)
{
    int rv;
    if (!keep_suffix) {
        while (s->n_segs > 0) {
            if ((rv = raft_store_seg_remove(s, s->n_segs - 1)) != 0) {
                return rv;
            }
        }
        s->seg_dirty = false;
        return 0;
    }
    while (s->n_segs > 0) {
        raft_index seg_last = s->n_segs > 1 ? s->segs[1].first - 1
                                            : s->st.last_index;
        if (seg_last > index) {
            break;
        }
        if (s->n_segs == 1) {
            s->seg_dirty = false;
        }
        if ((rv = raft_store_seg_remove(s, 0)) != 0) {
            return rv;
        }
    }
    return 0;
}

int raft_store_snapshot_save(struct raft_store *s, raft_index index,
                             raft_term term, const void *data, size_t len)
{
    if (s->failed != 0) {
        return s->failed;
    }
    if (index == 0 || term == 0) {
        return ST_EINVAL;
    }
    if (index <= s->st.snapshot_index) {
        return ST_ESTALE;
    }
    raft_term have = 0;
    bool keep_suffix = raft_store_term_at(s, index, &have) == 0 &&
                       have == term;
    char *path = raft_store_snap_path(s, index);
    if (path == NULL) {
        return ST_ENOMEM;
    }
    int rv = raft_snap_encode(&s->buf, index, term, data, len);
    if (rv != 0) {
        goto out;
    }
    rv = st_vfs_write_atomic(s->vfs, path, s->buf.base, s->buf.len);
    st_buf_reset(&s->buf);
    if (rv != 0) {
        rv = raft_store_fail(s, rv, "snapshot_save", path);
        goto out;
    }
    /* The snapshot is durable: from here on the store state moves to it
     * even if a cleanup step fails (that failure is sticky). */
    raft_index old_last = s->st.last_index;
    if (keep_suffix) {
        size_t drop = (size_t)(index - s->st.first_index + 1);
        memmove(s->locs, s->locs + drop,
                (s->n_locs - drop) * sizeof s->locs[0]);
        s->n_locs -= drop;
    } else {
        s->n_locs = 0;
        s->st.last_index = index;
    }
    s->st.snapshot_index = index;
    s->st.snapshot_term = term;
    s->st.first_index = index + 1;
    if ((rv = compact_segments(s, index, keep_suffix)) != 0 ||
        (rv = remove_other_snapshots(s, index)) != 0) {
        goto out;
    }
    rv = st_vfs_fsync_dir(s->vfs, s->dir);
    if (rv != 0) {
        rv = raft_store_fail(s, rv, "fsync_dir", s->dir);
        goto out;
    }
    s->dir_dirty = false;
    ST_INFO("raft_store", "dir=%s snapshot index=%" PRIu64 " term=%" PRIu64
            " bytes=%zu log=%s last=%" PRIu64 " segments=%zu", s->dir,
            index, term, len, keep_suffix ? "kept" : "discarded", old_last,
            s->n_segs);
out:
    st_free(path);
    return rv;
}

int raft_store_snapshot_load(struct raft_store *s, raft_index *index,
                             raft_term *term, uint8_t **data, size_t *len)
{
    if (s->st.snapshot_index == 0) {
        return ST_ENOENT;
    }
    char *path = raft_store_snap_path(s, s->st.snapshot_index);
    if (path == NULL) {
        return ST_ENOMEM;
    }
    uint8_t *buf = NULL;
    struct st_bytes view;
    raft_term t = 0;
    int rv = raft_snap_read(s->vfs, path, s->st.snapshot_index, &t, &buf,
                            &view);
    if (rv == 0 && t != s->st.snapshot_term) {
        rv = ST_CORRUPT(path, 16, "snapshot term changed since open");
        st_free(buf);
    }
    st_free(path);
    if (rv != 0) {
        return rv;
    }
    /* Hand out the file buffer itself, payload moved to its start. */
    memmove(buf, view.base, view.len);
    *index = s->st.snapshot_index;
    *term = t;
    *data = buf;
    *len = view.len;
    return 0;
}
