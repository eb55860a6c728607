/* Raft store: open/close, term and vote, and the log's appends, syncs,
 * truncations and reads. Recovery is in raft_recover.c, snapshots in
 * raft_store_snapshot.c, byte formats in raft_segment.c and raft_meta.c.
 *
 * Durability order (what a power loss can leave, see common/vfs.h):
 * - appends extend only the last segment; when it is full it is fsynced
 *   ("sealed") before the next segment is created, so only the last
 *   segment can ever have a torn tail (raft_segment.c relies on it);
 * - raft_store_sync() fsyncs the last segment, then the directory when a
 *   segment was created, so every synced entry has a durable name;
 * - truncation unlinks whole later segments newest first and fsyncs the
 *   directory before it cuts the segment holding the index, so a crash in
 *   between leaves the old log (a prefix of it), never a log with a gap.
 */
#include "controller/raft/raft_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "controller/raft/raft_meta.h"
#include "controller/raft/raft_segment.h"
#include "controller/raft/raft_store_int.h"

#define SEGMENT_BYTES_DEFAULT ((uint64_t)8 << 20)

/* ---- helpers shared through raft_store_int.h ---- */

int raft_store_fail(struct raft_store *s, int rv, const char *what,
                    const char *path)
{
    if (s->failed == 0) {
        s->failed = rv;
        ST_ERROR("raft_store", "dir=%s op=%s path=%s err=%s: store refuses "
                 "writes until reopened", s->dir, what, path ? path : "-",
                 st_errname(rv));
    }
    return rv;
}

char *raft_store_path(const struct raft_store *s, const char *name)
{
    size_t n = strlen(s->dir) + 1 + strlen(name) + 1;
    char *p = st_malloc(n);
    if (p != NULL) {
        snprintf(p, n, "%s/%s", s->dir, name);
    }
    return p;
}

char *raft_store_seg_path(const struct raft_store *s, raft_index first)
{
    char name[64];
    snprintf(name, sizeof name, "log-%020" PRIu64 ".seg", first);
    return raft_store_path(s, name);
}

char *raft_store_snap_path(const struct raft_store *s, raft_index index)
{
    char name[64];
    snprintf(name, sizeof name, "snapshot-%020" PRIu64 ".snap", index);
    return raft_store_path(s, name);
}

bool raft_store_name_parse(const char *name, const char *prefix,
                           const char *suffix, uint64_t *v)
{
    size_t plen = strlen(prefix), slen = strlen(suffix);
    if (strlen(name) != plen + 20 + slen ||
        strncmp(name, prefix, plen) != 0 ||
        strcmp(name + plen + 20, suffix) != 0) {
        return false;
    }
    uint64_t x = 0;
    for (size_t i = plen; i < plen + 20; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(name[i] - '0');
        if (x > (UINT64_MAX - d) / 10) {
            return false;
        }
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

int raft_store_segs_reserve(struct raft_store *s, size_t extra)
{
    if (s->n_segs + extra <= s->cap_segs) {
        return 0;
    }
    size_t cap = s->cap_segs ? s->cap_segs * 2 : 8;
    while (cap < s->n_segs + extra) {
        cap *= 2;
    }
    struct raft_seg *p = st_realloc(s->segs, cap * sizeof *p);
    if (p == NULL) {
        return ST_ENOMEM;
    }
    s->segs = p;
    s->cap_segs = cap;
    return 0;
}

int raft_store_locs_reserve(struct raft_store *s, size_t extra)
{
    if (s->n_locs + extra <= s->cap_locs) {
        return 0;
    }
    size_t cap = s->cap_locs ? s->cap_locs * 2 : 256;
    while (cap < s->n_locs + extra) {
        cap *= 2;
    }
    struct raft_loc *p = st_realloc(s->locs, cap * sizeof *p);
    if (p == NULL) {
        return ST_ENOMEM;
    }
    s->locs = p;
    s->cap_locs = cap;
    return 0;
}

int raft_store_seg_remove(struct raft_store *s, size_t i)
{
    struct raft_seg *g = &s->segs[i];
    (void)st_vfs_close(g->f); /* nothing to lose: the file goes */
    int rv = st_vfs_unlink(s->vfs, g->path);
    if (rv != 0 && rv != ST_ENOENT) {
        rv = raft_store_fail(s, rv, "unlink", g->path);
    } else {
        rv = 0;
    }
    st_free(g->path);
    memmove(&s->segs[i], &s->segs[i + 1],
            (s->n_segs - i - 1) * sizeof s->segs[0]);
    s->n_segs--;
    return rv;
}

int raft_store_read_file(struct raft_store *s, struct st_file *f)
{
    uint64_t size;
    int rv = st_vfs_size(f, &size);
    if (rv != 0) {
        return rv;
    }
    st_buf_reset(&s->buf);
    if (size > SIZE_MAX / 2) {
        return ST_ENOMEM;
    }
    rv = st_buf_reserve(&s->buf, (size_t)size);
    if (rv != 0) {
        return rv;
    }
    size_t n_read = 0;
    rv = st_vfs_pread(f, s->buf.base, (size_t)size, 0, &n_read);
    if (rv != 0) {
        return rv;
    }
    s->buf.len = n_read;
    return 0;
}

/* ---- open and close ---- */

/* Create @dir when missing, and make its name durable. */
static int dir_prepare(struct raft_store *s)
{
    int is_dir = 0;
    int rv = st_vfs_stat(s->vfs, s->dir, &is_dir);
    if (rv == 0) {
        return is_dir ? 0 : ST_EINVAL;
    }
    if (rv != ST_ENOENT) {
        return rv;
    }
    rv = st_vfs_mkdir_p(s->vfs, s->dir);
    if (rv != 0) {
        return rv;
    }
    /* mkdir -p may have created several levels: make each name durable in
     * its parent, up to the root. */
    char parent[RAFT_STORE_DIR_MAX + 1];
    snprintf(parent, sizeof parent, "%s", s->dir);
    char *slash;
    while ((slash = strrchr(parent, '/')) != NULL && parent[1] != '\0') {
        slash[slash == parent ? 1 : 0] = '\0';
        rv = st_vfs_fsync_dir(s->vfs, parent);
        if (rv != 0) {
            return rv;
        }
    }
    ST_INFO("raft_store", "dir=%s created", s->dir);
    return 0;
}

int raft_store_open(struct st_vfs *vfs, const char *dir,
                    const struct raft_store_options *opts,
                    struct raft_store **out, struct raft_store_state *state)
{
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/') {
        dlen--;
    }
    if (dlen == 0 || dlen > RAFT_STORE_DIR_MAX) {
        return ST_EINVAL;
    }
    struct raft_store *s = st_calloc(1, sizeof *s);
    if (s == NULL) {
        return ST_ENOMEM;
    }
    s->vfs = vfs;
    s->segment_bytes = opts && opts->segment_bytes ? opts->segment_bytes
                                                   : SEGMENT_BYTES_DEFAULT;
    st_buf_init(&s->buf);
    int rv = ST_ENOMEM;
    s->dir = st_malloc(dlen + 1);
    if (s->dir == NULL) {
        goto err_after_alloc;
    }
    memcpy(s->dir, dir, dlen);
    s->dir[dlen] = '\0';
    rv = dir_prepare(s);
    if (rv != 0) {
        goto err_after_alloc;
    }
    rv = raft_store_recover(s);
    if (rv != 0) {
        goto err_after_alloc;
    }
    /* What open reports must be durable before the core acts on it. */
    if (s->n_segs > 0) {
        struct raft_seg *last = &s->segs[s->n_segs - 1];
        rv = st_vfs_fsync(last->f);
        if (rv != 0) {
            goto err_after_alloc;
        }
    }
    rv = st_vfs_fsync_dir(s->vfs, s->dir);
    if (rv != 0) {
        goto err_after_alloc;
    }
    ST_INFO("raft_store", "dir=%s opened term=%" PRIu64 " vote=%u "
            "snapshot=%" PRIu64 "/%" PRIu64 " first=%" PRIu64
            " last=%" PRIu64 " segments=%zu", s->dir, s->st.term,
            s->st.voted_for, s->st.snapshot_index, s->st.snapshot_term,
            s->st.first_index, s->st.last_index, s->n_segs);
    *out = s;
    if (state != NULL) {
        *state = s->st;
    }
    return 0;
err_after_alloc:
    (void)raft_store_close(s);
    return rv;
}

int raft_store_close(struct raft_store *s)
{
    if (s == NULL) {
        return 0;
    }
    int first = 0;
    for (size_t i = 0; i < s->n_segs; i++) {
        int rv = st_vfs_close(s->segs[i].f);
        if (rv != 0 && first == 0) {
            first = rv;
        }
        st_free(s->segs[i].path);
    }
    st_free(s->segs);
    st_free(s->locs);
    st_buf_close(&s->buf);
    st_free(s->dir);
    st_free(s);
    return first;
}

void raft_store_state(const struct raft_store *s,
                      struct raft_store_state *out)
{
    *out = s->st;
}

int raft_store_failed(const struct raft_store *s)
{
    return s->failed;
}

/* ---- term and vote ---- */

int raft_store_save_term_vote(struct raft_store *s, raft_term term,
                              raft_id vote)
{
    if (s->failed != 0) {
        return s->failed;
    }
    char *path = raft_store_path(s, "meta");
    if (path == NULL) {
        return ST_ENOMEM;
    }
    int rv = raft_meta_save(s->vfs, path, term, vote);
    if (rv != 0) {
        rv = raft_store_fail(s, rv, "save_term_vote", path);
    } else {
        s->st.term = term;
        s->st.voted_for = vote;
    }
    st_free(path);
    return rv;
}

/* ---- appends ---- */

static raft_term last_term(const struct raft_store *s)
{
    return s->n_locs ? s->locs[s->n_locs - 1].term : s->st.snapshot_term;
}

static int entries_check(const struct raft_store *s,
                         const struct raft_entry *entries, size_t n,
                         size_t *bytes)
{
    raft_term term = last_term(s);
    *bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const struct raft_entry *e = &entries[i];
        if (e->data.len > RAFT_SEG_DATA_MAX) {
            return ST_ETOOBIG;
        }
        if (e->index != s->st.last_index + 1 + i || e->term == 0 ||
            e->term < term || e->type < RAFT_ENTRY_COMMAND ||
            e->type > RAFT_ENTRY_CONFIG ||
            (e->data.len > 0 && e->data.base == NULL)) {
            return ST_EINVAL;
        }
        term = e->term;
        *bytes += raft_seg_record_size(e->data.len) + RAFT_SEG_HEADER_BYTES;
    }
    return 0;
}

/* Write s->buf at the end of the last segment and publish the @n_staged
 * locations prepared behind locs[n_locs]. */
static int flush(struct raft_store *s, size_t *n_staged)
{
    if (s->buf.len == 0) {
        return 0;
    }
    struct raft_seg *g = &s->segs[s->n_segs - 1];
    int rv = st_vfs_pwrite(g->f, s->buf.base, s->buf.len, g->size);
    if (rv != 0) {
        return raft_store_fail(s, rv, "append", g->path);
    }
    g->size += s->buf.len;
    s->n_locs += *n_staged;
    s->st.last_index += *n_staged;
    *n_staged = 0;
    s->seg_dirty = true;
    st_buf_reset(&s->buf);
    return 0;
}

/* Seal the last segment (fsync) and start a new one at @first, with its
 * header placed in s->buf. */
static int roll(struct raft_store *s, raft_index first)
{
    if (s->n_segs > 0 && s->seg_dirty) {
        struct raft_seg *g = &s->segs[s->n_segs - 1];
        int rv = st_vfs_fsync(g->f);
        if (rv != 0) {
            return raft_store_fail(s, rv, "fsync", g->path);
        }
        s->seg_dirty = false;
    }
    char *path = raft_store_seg_path(s, first);
    if (path == NULL) {
        return ST_ENOMEM;
    }
    struct st_file *f = NULL;
    int rv = st_vfs_open(s->vfs, path, ST_VFS_CREATE | ST_VFS_TRUNC, &f);
    if (rv != 0) {
        rv = raft_store_fail(s, rv, "create", path);
        st_free(path);
        return rv;
    }
    /* Room was reserved by the caller. */
    s->segs[s->n_segs++] = (struct raft_seg){
        .first = first, .size = 0, .f = f, .path = path};
    s->dir_dirty = true;
    s->seg_dirty = true;
    uint8_t hdr[RAFT_SEG_HEADER_BYTES];
    raft_seg_header_encode(hdr, first);
    (void)st_buf_append(&s->buf, hdr, sizeof hdr); /* reserved */
    return 0;
}

int raft_store_append(struct raft_store *s, const struct raft_entry *entries,
                      size_t n)
{
    if (s->failed != 0) {
        return s->failed;
    }
    if (n == 0) {
        return 0;
    }
    size_t bytes;
    int rv = entries_check(s, entries, n, &bytes);
    if (rv != 0) {
        return rv;
    }
    st_buf_reset(&s->buf);
    if ((rv = raft_store_locs_reserve(s, n)) != 0 ||
        (rv = raft_store_segs_reserve(s, n)) != 0 ||
        (rv = st_buf_reserve(&s->buf, bytes)) != 0) {
        return rv;
    }
    size_t staged = 0;
    for (size_t i = 0; i < n; i++) {
        const struct raft_entry *e = &entries[i];
        size_t rec = raft_seg_record_size(e->data.len);
        struct raft_seg *g = s->n_segs ? &s->segs[s->n_segs - 1] : NULL;
        uint64_t used = g ? g->size + s->buf.len : 0;
        if (g == NULL ||
            (used > RAFT_SEG_HEADER_BYTES && used + rec > s->segment_bytes)) {
            if ((rv = flush(s, &staged)) != 0 ||
                (rv = roll(s, e->index)) != 0) {
                return rv;
            }
            g = &s->segs[s->n_segs - 1];
        }
        s->locs[s->n_locs + staged] = (struct raft_loc){
            .off = g->size + s->buf.len, .term = e->term,
            .len = (uint32_t)rec};
        staged++;
        raft_seg_record_encode(s->buf.base + s->buf.len, e);
        s->buf.len += rec;
    }
    return flush(s, &staged);
}

int raft_store_sync(struct raft_store *s)
{
    if (s->failed != 0) {
        return s->failed;
    }
    if (s->seg_dirty && s->n_segs > 0) {
        struct raft_seg *g = &s->segs[s->n_segs - 1];
        int rv = st_vfs_fsync(g->f);
        if (rv != 0) {
            return raft_store_fail(s, rv, "fsync", g->path);
        }
    }
    s->seg_dirty = false;
    if (s->dir_dirty) {
        int rv = st_vfs_fsync_dir(s->vfs, s->dir);
        if (rv != 0) {
            return raft_store_fail(s, rv, "fsync_dir", s->dir);
        }
        s->dir_dirty = false;
    }
    return 0;
}

int raft_store_truncate_from(struct raft_store *s, raft_index index)
{
    if (s->failed != 0) {
        return s->failed;
    }
    if (index <= s->st.snapshot_index) {
        return ST_ERANGE;
    }
    if (index > s->st.last_index) {
        return 0;
    }
    int rv;
    bool unlinked = false;
    raft_index seg_end = s->st.last_index; /* last entry of the last seg */
    while (s->n_segs > 0 && s->segs[s->n_segs - 1].first >= index) {
        seg_end = s->segs[s->n_segs - 1].first - 1;
        if ((rv = raft_store_seg_remove(s, s->n_segs - 1)) != 0) {
            return rv;
        }
        unlinked = true;
        s->seg_dirty = false;
    }
    if (unlinked) {
        rv = st_vfs_fsync_dir(s->vfs, s->dir);
        if (rv != 0) {
            return raft_store_fail(s, rv, "fsync_dir", s->dir);
        }
        s->dir_dirty = false;
    }
    size_t keep = (size_t)(index - s->st.first_index);
    if (s->n_segs > 0 && seg_end >= index) {
        struct raft_seg *g = &s->segs[s->n_segs - 1];
        uint64_t off = s->locs[keep].off;
        rv = st_vfs_truncate(g->f, off);
        if (rv != 0) {
            return raft_store_fail(s, rv, "truncate", g->path);
        }
        rv = st_vfs_fsync(g->f);
        if (rv != 0) {
            return raft_store_fail(s, rv, "fsync", g->path);
        }
        g->size = off;
        s->seg_dirty = false;
    }
    ST_INFO("raft_store", "dir=%s truncated from=%" PRIu64 " removed=%zu",
            s->dir, index, s->n_locs - keep);
    s->n_locs = keep;
    s->st.last_index = index - 1;
    return 0;
}

/* ---- reads ---- */

int raft_store_term_at(const struct raft_store *s, raft_index index,
                       raft_term *term)
{
    if (index == s->st.snapshot_index) {
        *term = s->st.snapshot_term;
        return 0;
    }
    if (index < s->st.first_index || index > s->st.last_index) {
        return ST_ERANGE;
    }
    *term = s->locs[index - s->st.first_index].term;
    return 0;
}

/* The segment holding @index: the last one whose first is <= @index. */
static struct raft_seg *seg_of(struct raft_store *s, raft_index index)
{
    size_t lo = 0, hi = s->n_segs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid].first <= index) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return &s->segs[lo];
}

static int read_entry(struct raft_store *s, raft_index index,
                      struct raft_entry *out, struct st_buf *buf)
{
    const struct raft_loc *l = &s->locs[index - s->st.first_index];
    struct raft_seg *g = seg_of(s, index);
    st_buf_reset(buf);
    int rv = st_buf_reserve(buf, l->len);
    if (rv != 0) {
        return rv;
    }
    size_t n_read = 0;
    rv = st_vfs_pread(g->f, buf->base, l->len, l->off, &n_read);
    if (rv != 0) {
        return rv;
    }
    buf->len = n_read;
    if (n_read != l->len) {
        return ST_CORRUPT(g->path, l->off + n_read,
                          "entry %" PRIu64 " cut short on read", index);
    }
    /* Checked at open; checked again after every read (TigerStyle). */
    rv = raft_seg_record_decode(buf->base, buf->len, out);
    if (rv != 0 || out->index != index || out->term != l->term) {
        return ST_CORRUPT(g->path, l->off,
                          "entry %" PRIu64 " changed on disk since open "
                          "(%s)", index, rv ? st_errname(rv) : "index/term");
    }
    return 0;
}

int raft_store_get(struct raft_store *s, raft_index index,
                   struct raft_entry *out, struct st_buf *buf)
{
    if (index < s->st.first_index || index > s->st.last_index) {
        return ST_ERANGE;
    }
    return read_entry(s, index, out, buf);
}

int raft_store_load(struct raft_store *s, raft_index from,
                    raft_store_entry_cb cb, void *arg)
{
    struct st_buf buf;
    int rv = 0;

    st_buf_init(&buf);
    if (from < s->st.first_index) {
        from = s->st.first_index;
    }
    for (raft_index i = from; i <= s->st.last_index; i++) {
        struct raft_entry e;
        rv = read_entry(s, i, &e, &buf);
        if (rv != 0) {
            break;
        }
        rv = cb(arg, &e);
        if (rv != 0) {
            break;
        }
    }
    st_buf_close(&buf);
    return rv;
}
