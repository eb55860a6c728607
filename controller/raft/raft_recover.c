/* Raft store recovery: turn whatever a crash left in the directory into a
 * valid store, or refuse with the file and byte position of the damage.
 *
 * Steps, in order (each documented at raft_store_open()):
 *   1. list the directory; delete *.tmp leftovers of atomic replaces;
 *   2. meta: term and vote (absent = fresh node);
 *   3. snapshots, newest first, until one checks;
 *   4. segments, oldest first: skip those the snapshot covers, scan the
 *      rest (raft_segment.c), truncate a torn tail of the last one;
 *   5. drop what the snapshot makes obsolete, check the log starts right
 *      after the snapshot.
 * Files are only deleted or truncated in steps that can be repeated: a
 * crash during recovery leaves a directory that recovers the same way.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "controller/raft/raft_meta.h"
#include "controller/raft/raft_segment.h"
#include "controller/raft/raft_snapshot.h"
#include "controller/raft/raft_store_int.h"

struct listing {
    char **names;
    size_t n;
    raft_index *snaps; /* ascending */
    size_t n_snaps;
    raft_index *segs;  /* ascending */
    size_t n_segs;
};

static void listing_free(struct listing *l)
{
    st_vfs_names_free(l->names, l->n);
    st_free(l->snaps);
    st_free(l->segs);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int remove_name(struct raft_store *s, const char *name,
                       const char *why)
{
    char *path = raft_store_path(s, name);
    if (path == NULL) {
        return ST_ENOMEM;
    }
    int rv = st_vfs_unlink(s->vfs, path);
    if (rv == 0) {
        ST_WARN("raft_store", "path=%s removed: %s", path, why);
    }
    st_free(path);
    return rv == ST_ENOENT ? 0 : rv;
}

/* Step 1. The vfs lists names sorted bytewise, and the 20-digit names sort
 * like their numbers, so both arrays come out ascending. */
static int list_dir(struct raft_store *s, struct listing *l)
{
    memset(l, 0, sizeof *l);
    int rv = st_vfs_list(s->vfs, s->dir, &l->names, &l->n);
    if (rv != 0) {
        return rv;
    }
    l->snaps = st_calloc(l->n + 1, sizeof *l->snaps);
    l->segs = st_calloc(l->n + 1, sizeof *l->segs);
    if (l->snaps == NULL || l->segs == NULL) {
        return ST_ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++) {
        const char *name = l->names[i];
        uint64_t v;
        if (ends_with(name, ".tmp")) {
            rv = remove_name(s, name, "leftover of an interrupted write");
            if (rv != 0) {
                return rv;
            }
        } else if (raft_store_name_parse(name, "snapshot-", ".snap", &v) &&
                   v > 0) {
            l->snaps[l->n_snaps++] = v;
        } else if (raft_store_name_parse(name, "log-", ".seg", &v) && v > 0) {
            l->segs[l->n_segs++] = v;
        }
    }
    return 0;
}

/* Step 2. */
static int load_meta(struct raft_store *s)
{
    char *path = raft_store_path(s, "meta");
    if (path == NULL) {
        return ST_ENOMEM;
    }
    int rv = raft_meta_load(s->vfs, path, &s->st.term, &s->st.voted_for);
    if (rv == ST_ENOENT) {
        s->st.term = 0;
        s->st.voted_for = 0;
        rv = 0;
    }
    st_free(path);
    return rv;
}

/* Step 3. */
static int pick_snapshot(struct raft_store *s, const struct listing *l)
{
    for (size_t k = l->n_snaps; k-- > 0;) {
        char *path = raft_store_snap_path(s, l->snaps[k]);
        if (path == NULL) {
            return ST_ENOMEM;
        }
        uint8_t *buf = NULL;
        struct st_bytes data;
        raft_term term = 0;
        int rv = raft_snap_read(s->vfs, path, l->snaps[k], &term, &buf,
                                &data);
        st_free(buf);
        if (rv == 0) {
            s->st.snapshot_index = l->snaps[k];
            s->st.snapshot_term = term;
            st_free(path);
            return 0;
        }
        if (rv != ST_ECORRUPT) {
            st_free(path);
            return rv;
        }
        ST_WARN("raft_store", "path=%s snapshot corrupt, %s", path,
                k > 0 ? "falling back to an older one" : "none left");
        st_free(path);
    }
    return l->n_snaps > 0 ? ST_ECORRUPT : 0;
}

/* Step 4, per segment. */
struct scan_ctx {
    struct raft_store *s;
    const char *path;
    bool have_snap_entry;  /* the log holds the snapshot's index */
    raft_term snap_entry_term;
};

static int scan_record(void *arg, const struct raft_entry *e, uint64_t off,
                       uint32_t len)
{
    struct scan_ctx *c = arg;
    struct raft_store *s = c->s;
    raft_index snap = s->st.snapshot_index;

    if (e->index <= snap) {
        if (e->index == snap) {
            c->have_snap_entry = true;
            c->snap_entry_term = e->term;
        }
        return 0;
    }
    if (e->index != snap + 1 + s->n_locs) {
        return ST_CORRUPT(c->path, off, "log resumes at %" PRIu64
                          ", expected %" PRIu64 " after snapshot %" PRIu64,
                          e->index, snap + 1 + s->n_locs, snap);
    }
    int rv = raft_store_locs_reserve(s, 1);
    if (rv != 0) {
        return rv;
    }
    s->locs[s->n_locs++] = (struct raft_loc){
        .off = off, .term = e->term, .len = len};
    return 0;
}

/* Scan the segment starting at @first; keep it in s->segs unless it turned
 * out to be an empty torn file. @next and @term carry the sequence across. */
static int scan_segment(struct raft_store *s, raft_index first, bool is_last,
                        struct scan_ctx *c, raft_index *next,
                        raft_term *term)
{
    int rv = raft_store_segs_reserve(s, 1);
    if (rv != 0) {
        return rv;
    }
    char *path = raft_store_seg_path(s, first);
    if (path == NULL) {
        return ST_ENOMEM;
    }
    struct st_file *f = NULL;
    rv = st_vfs_open(s->vfs, path, 0, &f);
    if (rv != 0) {
        goto err_after_path;
    }
    if (*next != 0 && first != *next) {
        rv = ST_CORRUPT(path, 0, "gap in the log: segment starts at %" PRIu64
                        ", previous one ended at %" PRIu64, first, *next - 1);
        goto err_after_open;
    }
    rv = raft_store_read_file(s, f);
    if (rv != 0) {
        goto err_after_open;
    }
    struct raft_seg_scan sc;
    c->path = path;
    size_t len = s->buf.len;
    rv = raft_seg_scan(s->buf.base, len, first, *term, scan_record, c, &sc);
    if (rv != 0) {
        goto err_after_open;
    }
    if (sc.damaged && !(is_last && sc.torn_tail)) {
        rv = ST_CORRUPT(path, sc.good_bytes, "%s%s", sc.why,
                        is_last ? " (intact records follow)"
                                : " (before the last segment)");
        goto err_after_open;
    }
    if (!is_last && sc.n_records == 0) {
        rv = ST_CORRUPT(path, RAFT_SEG_HEADER_BYTES,
                        "empty segment before the last one");
        goto err_after_open;
    }
    if (sc.damaged) {
        ST_WARN("raft_store", "path=%s pos=%" PRIu64 " torn tail "
                "truncated: %s (dropped %zu bytes after %zu records)",
                path, sc.good_bytes, sc.why, len - (size_t)sc.good_bytes,
                sc.n_records);
        if (sc.good_bytes < RAFT_SEG_HEADER_BYTES) {
            (void)st_vfs_close(f);
            rv = st_vfs_unlink(s->vfs, path);
            st_free(path);
            return rv;
        }
        if ((rv = st_vfs_truncate(f, sc.good_bytes)) != 0 ||
            (rv = st_vfs_fsync(f)) != 0) {
            goto err_after_open;
        }
    }
    s->segs[s->n_segs++] = (struct raft_seg){
        .first = first, .size = sc.good_bytes, .f = f, .path = path};
    *next = first + sc.n_records;
    if (sc.n_records > 0) {
        *term = sc.last_term;
    }
    return 0;
err_after_open:
    (void)st_vfs_close(f);
err_after_path:
    st_free(path);
    return rv;
}

/* Step 5: segments that hold no entry after the snapshot go; if the log's
 * entry at the snapshot index has another term, the whole log goes
 * (Raft §7: the snapshot replaced a divergent log). */
static int drop_obsolete(struct raft_store *s, const struct scan_ctx *c)
{
    raft_index snap = s->st.snapshot_index;
    int rv;

    if (snap > 0 && c->have_snap_entry &&
        c->snap_entry_term != s->st.snapshot_term) {
        ST_WARN("raft_store", "dir=%s log entry %" PRIu64 " has term %"
                PRIu64 ", snapshot has %" PRIu64 ": discarding the log",
                s->dir, snap, c->snap_entry_term, s->st.snapshot_term);
        /* Newest first, as raft_store_snapshot_save() does. */
        while (s->n_segs > 0) {
            if ((rv = raft_store_seg_remove(s, s->n_segs - 1)) != 0) {
                return rv;
            }
        }
        s->n_locs = 0;
        return 0;
    }
    /* A segment whose successor starts at or before snap + 1, or a last
     * segment that starts at or before the snapshot and holds nothing
     * after it, holds no entry after the snapshot. */
    while (s->n_segs > 0) {
        bool covered = s->n_segs > 1 ? s->segs[1].first <= snap + 1
                                     : s->segs[0].first <= snap &&
                                           s->n_locs == 0;
        if (!covered) {
            break;
        }
        if ((rv = raft_store_seg_remove(s, 0)) != 0) {
            return rv;
        }
    }
    if (s->n_segs > 0 && s->segs[0].first > snap + 1) {
        return ST_CORRUPT(s->segs[0].path, 0, "log starts at %" PRIu64
                          " but the snapshot ends at %" PRIu64,
                          s->segs[0].first, snap);
    }
    /* Terms never decrease along the kept log (raft_seg_scan checks it),
     * so checking its first entry against the snapshot suffices. */
    if (s->n_locs > 0 && s->locs[0].term < s->st.snapshot_term) {
        struct raft_seg *g = &s->segs[0];
        return ST_CORRUPT(g->path, s->locs[0].off, "entry %" PRIu64
                          " has term %" PRIu64 ", below the snapshot's %"
                          PRIu64, snap + 1, s->locs[0].term,
                          s->st.snapshot_term);
    }
    return 0;
}

int raft_store_recover(struct raft_store *s)
{
    struct listing l;
    int rv = list_dir(s, &l);
    if (rv != 0 || (rv = load_meta(s)) != 0 ||
        (rv = pick_snapshot(s, &l)) != 0) {
        goto out;
    }
    raft_index snap = s->st.snapshot_index;
    struct scan_ctx c = {.s = s};
    raft_index next = 0;
    raft_term term = 0;
    for (size_t k = 0; k < l.n_segs; k++) {
        if (k + 1 < l.n_segs && l.segs[k + 1] <= snap) {
            /* Wholly below the snapshot: not even read. The segment that
             * holds the snapshot's own index is always read, to compare
             * its term (step 5). */
            char name[64];
            snprintf(name, sizeof name, "log-%020" PRIu64 ".seg", l.segs[k]);
            rv = remove_name(s, name, "covered by the snapshot");
            if (rv != 0) {
                goto out;
            }
            continue;
        }
        rv = scan_segment(s, l.segs[k], k + 1 == l.n_segs, &c, &next, &term);
        if (rv != 0) {
            goto out;
        }
    }
    rv = drop_obsolete(s, &c);
    if (rv != 0) {
        goto out;
    }
    s->st.first_index = snap + 1;
    s->st.last_index = snap + s->n_locs;
out:
    listing_free(&l);
    return rv;
}
