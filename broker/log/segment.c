/* One segment: its .log file, in-memory indexes, scanning and cutting. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/log/log_int.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"

#define READ_AHEAD (256u << 10)

int st_segment_new(struct st_vfs *vfs, const char *dir, int64_t base,
                   uint32_t interval, struct st_segment **out)
{
    struct st_segment *seg = st_calloc(1, sizeof *seg);
    if (seg == NULL) {
        return ST_ENOMEM;
    }
    size_t len = strlen(dir) + 1 + ST_LOG_NAME_DIGITS + 1;
    seg->path = st_malloc(len);
    if (seg->path == NULL) {
        st_free(seg);
        return ST_ENOMEM;
    }
    snprintf(seg->path, len, "%s/%020" PRId64, dir, base);
    seg->log_path = st_malloc(len + 4);
    if (seg->log_path == NULL) {
        st_free(seg->path);
        st_free(seg);
        return ST_ENOMEM;
    }
    snprintf(seg->log_path, len + 4, "%s.log", seg->path);
    seg->vfs = vfs;
    seg->interval = interval;
    seg->idx_loaded = true; /* empty and complete until told otherwise */
    seg->base = base;
    seg->next_offset = base;
    seg->max_ts = -1;
    seg->corrupt_pos = -1;
    seg->limit = INT64_MAX;
    st_offset_index_init(&seg->idx);
    st_time_index_init(&seg->tidx);
    atomic_init(&seg->refs, 1);
    *out = seg;
    return 0;
}

void st_segment_path(const struct st_segment *seg, const char *ext,
                     char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", seg->path, ext);
}

int st_segment_create(struct st_segment *seg)
{
    char p[4096];
    st_segment_path(seg, ".log", p, sizeof p);
    int rv = st_vfs_open(seg->vfs, p, ST_VFS_CREATE | ST_VFS_TRUNC,
                         &seg->file);
    if (rv != 0) {
        return rv;
    }
    st_segment_unlink_indexes(seg);
    return 0;
}

int st_segment_file(struct st_segment *seg, struct st_file **out)
{
    if (seg->file == NULL) {
        char p[4096];
        st_segment_path(seg, ".log", p, sizeof p);
        int rv = st_vfs_open(seg->vfs, p, 0, &seg->file);
        if (rv != 0) {
            return rv;
        }
    }
    *out = seg->file;
    return 0;
}

void st_segment_acquire(struct st_segment *seg)
{
    atomic_fetch_add(&seg->refs, 1);
}

void st_segment_unlink_indexes(struct st_segment *seg)
{
    char p[4096];
    st_segment_path(seg, ".index", p, sizeof p);
    (void)st_vfs_unlink(seg->vfs, p);
    st_segment_path(seg, ".timeindex", p, sizeof p);
    (void)st_vfs_unlink(seg->vfs, p);
    seg->index_written = false;
}

void st_segment_delete(struct st_segment *seg)
{
    char from[4096], to[4096];
    st_segment_path(seg, ".log", from, sizeof from);
    st_segment_path(seg, ".log.deleted", to, sizeof to);
    (void)st_vfs_rename(seg->vfs, from, to);
    st_segment_unlink_indexes(seg);
    seg->deleted = true;
    st_segment_release(seg);
}

void st_segment_release(struct st_segment *seg)
{
    if (seg == NULL || atomic_fetch_sub(&seg->refs, 1) != 1) {
        return;
    }
    st_vfs_close(seg->file);
    if (seg->deleted) {
        char p[4096];
        st_segment_path(seg, ".log.deleted", p, sizeof p);
        (void)st_vfs_unlink(seg->vfs, p);
    }
    st_offset_index_close(&seg->idx);
    st_time_index_close(&seg->tidx);
    st_free(seg->path);
    st_free(seg->log_path);
    st_free(seg);
}

int st_segment_note_batch(struct st_segment *seg, uint32_t interval,
                          const struct st_batch_header *h, uint64_t pos,
                          uint64_t total)
{
    uint32_t rel = (uint32_t)(h->base_offset - seg->base);
    if (seg->bytes_since_index >= interval && pos > 0 &&
        (seg->idx.n == 0 ||
         seg->idx.e[seg->idx.n - 1].rel_offset < rel)) {
        int rv = st_offset_index_add(&seg->idx, rel, (uint32_t)pos);
        if (rv != 0) {
            return rv;
        }
        int64_t ts = seg->max_ts > h->max_timestamp ? seg->max_ts
                                                    : h->max_timestamp;
        rv = st_time_index_add(&seg->tidx, ts, rel);
        if (rv != 0) {
            return rv;
        }
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += total;
    if (h->max_timestamp > seg->max_ts) {
        seg->max_ts = h->max_timestamp;
    }
    seg->next_offset = st_batch_last_offset(h) + 1;
    seg->last_batch_rel = rel;
    seg->size = pos + total;
    return 0;
}

/* ---- reader ---- */

void st_seg_reader_init(struct st_seg_reader *r, struct st_file *f,
                        uint64_t file_size)
{
    r->f = f;
    r->file_size = file_size;
    st_buf_init(&r->buf);
    r->win_pos = 0;
}

void st_seg_reader_close(struct st_seg_reader *r)
{
    st_buf_close(&r->buf);
}

int st_seg_reader_get(struct st_seg_reader *r, uint64_t pos, size_t n,
                      const uint8_t **p, size_t *got)
{
    if (pos >= r->file_size) {
        *got = 0;
        *p = r->buf.base;
        return 0;
    }
    if (n > r->file_size - pos) {
        n = (size_t)(r->file_size - pos);
    }
    if (pos < r->win_pos || pos + n > r->win_pos + r->buf.len) {
        size_t want = n > READ_AHEAD ? n : READ_AHEAD;
        if (want > r->file_size - pos) {
            want = (size_t)(r->file_size - pos);
        }
        st_buf_reset(&r->buf);
        int rv = st_buf_reserve(&r->buf, want);
        if (rv != 0) {
            return rv;
        }
        size_t nr = 0;
        rv = st_vfs_pread(r->f, r->buf.base, want, pos, &nr);
        if (rv != 0) {
            return rv;
        }
        r->buf.len = nr;
        r->win_pos = pos;
        if (nr < n) {
            n = nr;
        }
    }
    *p = r->buf.base + (pos - r->win_pos);
    *got = n;
    return 0;
}

int st_seg_reader_batch(struct st_seg_reader *r, uint64_t pos, bool verify,
                        struct st_batch_header *h, const uint8_t **p)
{
    const uint8_t *b;
    size_t got;
    int rv = st_seg_reader_get(r, pos, ST_BATCH_HEADER_BYTES, &b, &got);
    if (rv != 0) {
        return rv;
    }
    if (got == 0) {
        return 1;
    }
    if (got < ST_BATCH_HEADER_BYTES ||
        st_batch_header_decode(b, got, h) != 0 ||
        (uint32_t)h->batch_length > ST_LOG_SCAN_MAX_BATCH ||
        pos + st_batch_total_bytes(h) > r->file_size) {
        return ST_ECORRUPT;
    }
    /* An unverified header still owes the offset range st_batch_validate
     * demands: a negative last offset delta would move a scanned
     * segment's end below its base, and an append would then land at
     * offsets another segment serves (fuzz_log_open). */
    if (h->record_count < 0 || h->last_offset_delta < h->record_count - 1 ||
        h->base_offset < 0 ||
        (h->last_offset_delta > 0 &&
         h->base_offset > INT64_MAX - h->last_offset_delta)) {
        return ST_ECORRUPT;
    }
    if (!verify) {
        return 0;
    }
    size_t total = st_batch_total_bytes(h);
    rv = st_seg_reader_get(r, pos, total, &b, &got);
    if (rv != 0) {
        return rv;
    }
    if (got < total ||
        st_batch_validate(b, total, ST_LOG_SCAN_MAX_BATCH, h) != 0) {
        return ST_ECORRUPT;
    }
    if (p != NULL) {
        *p = b;
    }
    return 0;
}

int st_segment_scan(struct st_segment *seg, uint32_t interval, uint64_t pos,
                    bool verify, uint64_t *bad_pos)
{
    struct st_file *f;
    uint64_t fsize;
    int rv = st_segment_file(seg, &f);
    if (rv != 0) {
        return rv;
    }
    rv = st_vfs_size(f, &fsize);
    if (rv != 0) {
        return rv;
    }
    struct st_seg_reader r;
    st_seg_reader_init(&r, f, fsize);
    seg->size = pos;
    seg->bytes_since_index = 0;
    if (pos == 0) {
        seg->idx.n = 0;
        seg->tidx.n = 0;
        seg->next_offset = seg->base;
    } else {
        /* Resuming at the last index entry, which is re-added. */
        uint32_t rel = seg->idx.e[seg->idx.n - 1].rel_offset;
        seg->idx.n--;
        st_time_index_truncate(&seg->tidx, rel);
        seg->bytes_since_index = interval;
        seg->next_offset = seg->base + rel;
    }
    seg->max_ts = st_time_index_max(&seg->tidx);
    *bad_pos = fsize;
    for (;;) {
        struct st_batch_header h;
        rv = st_seg_reader_batch(&r, pos, verify, &h, NULL);
        if (rv == 1) {
            rv = 0;
            break;
        }
        if (rv == 0 && (h.base_offset < seg->next_offset ||
                        h.base_offset - seg->base > UINT32_MAX - 1 ||
                        (pos == 0 && h.base_offset < seg->base) ||
                        st_batch_last_offset(&h) >= seg->limit)) {
            rv = ST_ECORRUPT;
        }
        if (rv == ST_ECORRUPT) {
            *bad_pos = pos;
            rv = 0;
            break;
        }
        if (rv != 0) {
            break;
        }
        uint64_t total = st_batch_total_bytes(&h);
        rv = st_segment_note_batch(seg, interval, &h, pos, total);
        if (rv != 0) {
            break;
        }
        pos += total;
    }
    if (verify && rv == 0) {
        seg->verified_size = seg->size;
    }
    if (rv == 0) {
        seg->idx_loaded = true;
    }
    st_seg_reader_close(&r);
    return rv;
}

int st_segment_ensure_index(struct st_segment *seg)
{
    if (seg->idx_loaded) {
        return 0;
    }
    uint64_t keep_size = seg->size;
    int64_t keep_next = seg->next_offset, keep_ts = seg->max_ts;
    int rv = st_segment_load_indexes(seg);
    if (rv == 0) {
        seg->idx_loaded = true;
        return 0;
    }
    if (rv != ST_ECORRUPT && rv != ST_ENOENT) {
        return rv;
    }
    uint64_t bad;
    rv = st_segment_scan(seg, seg->interval, 0, true, &bad);
    if (rv != 0) {
        return rv;
    }
    if (bad < keep_size) {
        seg->corrupt_pos = (int64_t)bad;
        (void)ST_CORRUPT(seg->log_path, bad, "bad batch in a synced segment");
    }
    /* The scan stops at damage; the file's extent and the offsets the
     * next segment starts at still bound this one. */
    seg->size = keep_size;
    if (seg->next_offset < keep_next) {
        seg->next_offset = keep_next;
    }
    if (seg->max_ts < keep_ts) {
        seg->max_ts = keep_ts;
    }
    seg->index_written = false; /* the next flush writes the rebuilt ones */
    return 0;
}

void st_segment_drop_index(struct st_segment *seg)
{
    if (!seg->idx_loaded || !seg->index_written) {
        return;
    }
    st_offset_index_close(&seg->idx);
    st_time_index_close(&seg->tidx);
    seg->idx_loaded = false;
}

int st_segment_peek(struct st_segment *seg)
{
    char p[4096];
    struct st_file *f;
    uint64_t size, tsize;
    int rv = st_segment_file(seg, &f);
    if (rv == 0) {
        rv = st_vfs_size(f, &size);
    }
    if (rv != 0) {
        return rv;
    }
    st_segment_path(seg, ".timeindex", p, sizeof p);
    struct st_file *tf;
    rv = st_vfs_open(seg->vfs, p, ST_VFS_RDONLY, &tf);
    if (rv != 0) {
        return rv;
    }
    uint8_t e[ST_TIMEINDEX_ENTRY_BYTES];
    size_t n = 0;
    rv = st_vfs_size(tf, &tsize);
    if (rv == 0 && (tsize == 0 || tsize % ST_TIMEINDEX_ENTRY_BYTES != 0)) {
        rv = ST_ECORRUPT;
    }
    if (rv == 0) {
        rv = st_vfs_pread(tf, e, sizeof e, tsize - sizeof e, &n);
    }
    st_vfs_close(tf);
    if (rv == 0 && n != sizeof e) {
        rv = ST_ECORRUPT;
    }
    if (rv != 0) {
        return rv;
    }
    seg->size = size;
    seg->max_ts = (int64_t)st_get_be64(e);
    seg->verified_size = 0;
    seg->idx_loaded = false;
    seg->index_written = true;
    return 0;
}

int st_segment_seal(struct st_segment *seg)
{
    if (seg->size == 0 || seg->max_ts <= st_time_index_max(&seg->tidx)) {
        return 0;
    }
    return st_time_index_add(&seg->tidx, seg->max_ts, seg->last_batch_rel);
}

int st_segment_load_indexes(struct st_segment *seg)
{
    char p[4096];
    uint8_t *img = NULL;
    size_t len = 0;
    uint64_t fsize;
    struct st_file *f;
    int rv = st_segment_file(seg, &f);
    if (rv == 0) {
        rv = st_vfs_size(f, &fsize);
    }
    if (rv != 0) {
        return rv;
    }
    st_segment_path(seg, ".index", p, sizeof p);
    rv = st_vfs_read_all(seg->vfs, p, &img, &len);
    if (rv == 0) {
        rv = st_offset_index_decode(&seg->idx, img, len, fsize);
        st_free(img);
    }
    if (rv != 0) {
        return rv;
    }
    st_segment_path(seg, ".timeindex", p, sizeof p);
    rv = st_vfs_read_all(seg->vfs, p, &img, &len);
    if (rv == 0) {
        rv = st_time_index_decode(&seg->tidx, img, len, UINT32_MAX);
        st_free(img);
    }
    if (rv == 0 && seg->idx.n > 0) {
        /* The last entry must point at a batch of the offset it names. */
        struct st_seg_reader r;
        struct st_batch_header h;
        const struct st_index_entry *e = &seg->idx.e[seg->idx.n - 1];
        st_seg_reader_init(&r, f, fsize);
        int brv = st_seg_reader_batch(&r, e->pos, false, &h, NULL);
        st_seg_reader_close(&r);
        if (brv != 0 || h.base_offset != seg->base + e->rel_offset) {
            rv = ST_ECORRUPT;
        }
    }
    if (rv != 0) {
        seg->idx.n = 0;
        seg->tidx.n = 0;
        return rv == ST_ENOMEM ? rv : ST_ECORRUPT;
    }
    return 0;
}

int st_segment_encode_indexes(const struct st_segment *seg,
                              struct st_buf *idx, struct st_buf *tidx)
{
    st_buf_reset(idx);
    st_buf_reset(tidx);
    int rv = st_buf_reserve(idx, seg->idx.n * ST_INDEX_ENTRY_BYTES + 1);
    if (rv == 0) {
        rv = st_buf_reserve(tidx, seg->tidx.n * ST_TIMEINDEX_ENTRY_BYTES + 1);
    }
    if (rv != 0) {
        return rv;
    }
    st_offset_index_encode(&seg->idx, idx->base);
    idx->len = seg->idx.n * ST_INDEX_ENTRY_BYTES;
    st_time_index_encode(&seg->tidx, tidx->base);
    tidx->len = seg->tidx.n * ST_TIMEINDEX_ENTRY_BYTES;
    return 0;
}

static int write_file(struct st_vfs *vfs, const char *path,
                      const struct st_buf *b)
{
    struct st_file *f;
    int rv = st_vfs_open(vfs, path, ST_VFS_CREATE | ST_VFS_TRUNC, &f);
    if (rv != 0) {
        return rv;
    }
    if (b->len > 0) {
        rv = st_vfs_pwrite(f, b->base, b->len, 0);
    }
    if (rv == 0) {
        rv = st_vfs_fsync(f);
    }
    int crv = st_vfs_close(f);
    return rv != 0 ? rv : crv;
}

int st_segment_write_index_files(struct st_vfs *vfs, const char *path_noext,
                                 const struct st_buf *idx,
                                 const struct st_buf *tidx)
{
    char p[4096];
    snprintf(p, sizeof p, "%s.index", path_noext);
    int rv = write_file(vfs, p, idx);
    if (rv != 0) {
        return rv;
    }
    snprintf(p, sizeof p, "%s.timeindex", path_noext);
    return write_file(vfs, p, tidx);
}

int st_segment_find(struct st_segment *seg, int64_t offset, uint64_t *pos,
                    struct st_batch_header *h, bool *found)
{
    struct st_file *f;
    int rv = st_segment_ensure_index(seg);
    if (rv == 0) {
        rv = st_segment_file(seg, &f);
    }
    if (rv != 0) {
        return rv;
    }
    uint32_t rel = offset <= seg->base ? 0
                   : offset - seg->base > UINT32_MAX
                       ? UINT32_MAX
                       : (uint32_t)(offset - seg->base);
    uint64_t p = st_offset_index_lookup(&seg->idx, rel, NULL);
    uint8_t hb[ST_BATCH_HEADER_BYTES];
    *found = false;
    while (p < seg->size) {
        size_t n = 0;
        if (seg->corrupt_pos >= 0 && p >= (uint64_t)seg->corrupt_pos) {
            return ST_CORRUPT(seg->log_path, p, "segment damaged from %" PRId64,
                              seg->corrupt_pos);
        }
        rv = st_vfs_pread(f, hb, sizeof hb, p, &n);
        if (rv != 0) {
            return rv;
        }
        if (n < sizeof hb || st_batch_header_decode(hb, n, h) != 0 ||
            p + st_batch_total_bytes(h) > seg->size) {
            seg->corrupt_pos = (int64_t)p;
            return ST_CORRUPT(seg->log_path, p, "bad batch header");
        }
        if (st_batch_last_offset(h) >= offset) {
            *found = true;
            break;
        }
        p += st_batch_total_bytes(h);
    }
    *pos = p;
    return 0;
}

int st_segment_truncate(struct st_segment *seg, uint64_t pos,
                        int64_t next_offset)
{
    struct st_file *f;
    int rv = st_segment_file(seg, &f);
    if (rv == 0) {
        rv = st_vfs_truncate(f, pos);
    }
    if (rv == 0) {
        rv = st_vfs_fsync(f);
    }
    if (rv != 0) {
        return rv;
    }
    uint32_t rel = (uint32_t)(next_offset - seg->base);
    st_offset_index_truncate(&seg->idx, rel);
    st_time_index_truncate(&seg->tidx, rel);
    seg->size = pos;
    seg->synced_size = pos;
    if (seg->verified_size > pos) {
        seg->verified_size = pos;
    }
    if (seg->corrupt_pos >= (int64_t)pos) {
        seg->corrupt_pos = -1;
    }
    seg->next_offset = next_offset;
    seg->max_ts = st_time_index_max(&seg->tidx);
    seg->bytes_since_index = 0;
    seg->gen++;
    if (seg->index_written) {
        st_segment_unlink_indexes(seg);
    }
    return 0;
}
