/* Compaction (cleanup.policy=compact): keep the latest record per key.
 *
 * begin (owner) pins the non-active segments wholly below the HW. run (a
 * worker) builds a key -> latest offset map over them, bounded by
 * dedupe_buffer_bytes (24 bytes a key: two 64-bit hashes and the offset;
 * when the map fills, only the segments mapped completely are cleaned), then
 * writes a cleaned copy of each as <base>.cleaned and fsyncs it. A batch
 * whose records all survive is copied byte for byte; otherwise its
 * survivors are re-encoded in runs of consecutive offsets, so every record
 * keeps its offset (base offset + delta) and batches keep their producer
 * id/epoch, leader epoch and codec. Tombstones (null values) that are the
 * latest for their key are dropped once their batch is older than
 * delete_retention_ms. Keyless records and control batches are kept.
 * done (owner) swaps each copy in: index files unlinked, rename over the
 * .log (atomic), one directory fsync; a segment that left the log
 * meanwhile (retention) keeps no copy. A crash leaves either the old or
 * the new .log under the name, and a stray .cleaned is deleted at open.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/log/log_int.h"
#include "common/alloc.h"
#include "common/crc32c.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"

#define MAP_ENTRY_BYTES 24
#define OUT_CHUNK (1u << 20)

struct map_entry {
    uint64_t h1; /* 0: free */
    uint64_t h2;
    int64_t offset;
};

struct offset_map {
    struct map_entry *e;
    size_t cap; /* power of 2 */
    size_t n;
    size_t limit; /* stop mapping at this many keys */
};

struct clean_seg {
    struct st_segment *seg;
    struct st_file *file;
    uint64_t size;
    uint64_t gen;
    bool written;
    uint64_t new_size;
};

struct st_log_clean_job {
    struct st_vfs *vfs;
    struct st_log_config conf;
    int64_t now_ms;
    struct clean_seg *s;
    size_t n;
    size_t n_clean;
    struct offset_map map;
    struct st_record_iter *it;
    struct st_batch_builder *bld;
    struct st_record_header *hdrs;
    size_t hdrs_cap;
    struct st_buf out;
    uint64_t records_kept;
    uint64_t records_dropped;
    int rv;
};

/* ---- key hashes and the offset map ---- */

static void key_hash(const uint8_t *k, size_t len, uint64_t *h1, uint64_t *h2)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    for (size_t i = 0; i < len; i++) {
        h = (h ^ k[i]) * 0x100000001b3ull;
    }
    *h1 = h | 1; /* never 0 */
    *h2 = ((uint64_t)st_crc32c(0, k, len) << 32) ^ (uint64_t)len;
}

static int map_init(struct offset_map *m, uint64_t budget)
{
    size_t want = (size_t)(budget / MAP_ENTRY_BYTES);
    size_t cap = 1024;
    while (cap * 2 <= want) {
        cap *= 2;
    }
    m->e = st_calloc(cap, sizeof *m->e);
    if (m->e == NULL) {
        return ST_ENOMEM;
    }
    m->cap = cap;
    m->n = 0;
    m->limit = cap / 4 * 3;
    return 0;
}

static struct map_entry *map_slot(const struct offset_map *m, uint64_t h1,
                                  uint64_t h2)
{
    size_t i = (size_t)(h1 >> 7) & (m->cap - 1);
    while (m->e[i].h1 != 0 && (m->e[i].h1 != h1 || m->e[i].h2 != h2)) {
        i = (i + 1) & (m->cap - 1);
    }
    return &m->e[i];
}

/* Returns false when the map is full. */
static bool map_put(struct offset_map *m, uint64_t h1, uint64_t h2,
                    int64_t offset)
{
    struct map_entry *e = map_slot(m, h1, h2);
    if (e->h1 == 0) {
        if (m->n >= m->limit) {
            return false;
        }
        e->h1 = h1;
        e->h2 = h2;
        m->n++;
    }
    e->offset = offset;
    return true;
}

/* ---- begin ---- */

static void job_free(struct st_log_clean_job *job)
{
    for (size_t i = 0; i < job->n; i++) {
        st_segment_release(job->s[i].seg);
    }
    st_free(job->s);
    st_free(job->map.e);
    st_record_iter_free(job->it);
    st_batch_builder_free(job->bld);
    st_free(job->hdrs);
    st_buf_close(&job->out);
    st_free(job);
}

int st_log_clean_begin(struct st_log *log, int64_t now_ms, int64_t hw,
                       struct st_log_clean_job **out)
{
    *out = NULL;
    if (log->failed != 0) {
        return log->failed;
    }
    if (!(log->conf.cleanup_policy & ST_LOG_CLEANUP_COMPACT) ||
        log->cleaning || log->retaining) {
        return 1;
    }
    /* Only synced segments below the recovery point: open trusts them,
     * so a cleaned one (whose last record may end before the next
     * segment) is never mistaken for a lost tail. */
    size_t n = 0;
    while (n + 1 < log->n_segs && log->segs[n + 1]->base <= hw &&
           log->segs[n + 1]->base <= log->recovery_point &&
           log->segs[n]->synced_size >= log->segs[n]->size) {
        n++;
    }
    if (n == 0) {
        return 1;
    }
    struct st_log_clean_job *job = st_calloc(1, sizeof *job);
    if (job == NULL) {
        return ST_ENOMEM;
    }
    st_buf_init(&job->out);
    job->s = st_calloc(n, sizeof *job->s);
    int rv = job->s == NULL ? ST_ENOMEM : 0;
    for (size_t i = 0; rv == 0 && i < n; i++) {
        struct st_segment *seg = log->segs[i];
        rv = st_segment_file(seg, &job->s[i].file);
        if (rv == 0) {
            st_segment_acquire(seg);
            job->s[i].seg = seg;
            job->s[i].size = seg->size;
            job->s[i].gen = seg->gen;
            job->n++;
        }
    }
    if (rv == 0) {
        rv = st_record_iter_new(&job->it);
    }
    if (rv == 0) {
        rv = st_batch_builder_new(&job->bld);
    }
    if (rv != 0) {
        job_free(job);
        return rv;
    }
    job->vfs = log->vfs;
    job->conf = log->conf;
    job->now_ms = now_ms;
    log->cleaning = true;
    *out = job;
    return 0;
}

/* ---- run ---- */

static bool is_control(const struct st_batch_header *h)
{
    return (h->attributes & ST_BATCH_ATTR_CONTROL) != 0;
}

/* Map every keyed record of segment @cs. Returns 1 when the map filled. */
static int map_segment(struct st_log_clean_job *job, struct clean_seg *cs)
{
    struct st_seg_reader r;
    st_seg_reader_init(&r, cs->file, cs->size);
    int rv = 0;
    for (uint64_t pos = 0; pos < cs->size && rv == 0;) {
        struct st_batch_header h;
        const uint8_t *b;
        rv = st_seg_reader_batch(&r, pos, true, &h, &b);
        if (rv != 0) {
            rv = ST_CORRUPT(cs->seg->log_path, pos, "cleaner: bad batch");
            break;
        }
        size_t total = st_batch_total_bytes(&h);
        if (!is_control(&h)) {
            rv = st_record_iter_init(job->it, b, total,
                                     ST_LOG_SCAN_MAX_BATCH);
            struct st_record rec;
            while (rv == 0 && (rv = st_record_iter_next(job->it, &rec)) == 0) {
                if (rec.key == NULL) {
                    continue;
                }
                uint64_t h1, h2;
                key_hash(rec.key, (size_t)rec.key_len, &h1, &h2);
                if (!map_put(&job->map, h1, h2, rec.offset)) {
                    rv = 2;
                }
            }
            rv = rv == 1 ? 0 : rv == 2 ? 1 : rv;
        }
        pos += total;
    }
    st_seg_reader_close(&r);
    return rv;
}

static bool keep_record(struct st_log_clean_job *job,
                        const struct st_batch_header *h,
                        const struct st_record *rec)
{
    if (rec->key == NULL) {
        return true;
    }
    uint64_t h1, h2;
    key_hash(rec->key, (size_t)rec->key_len, &h1, &h2);
    struct map_entry *e = map_slot(&job->map, h1, h2);
    if (e->h1 != 0 && e->offset > rec->offset) {
        return false; /* a later record has this key */
    }
    if (rec->value == NULL &&
        h->max_timestamp < job->now_ms - job->conf.delete_retention_ms) {
        return false; /* an old tombstone */
    }
    return true;
}

static int flush_out(struct st_log_clean_job *job, struct st_file *f,
                     uint64_t *at, bool force)
{
    if (job->out.len == 0 || (!force && job->out.len < OUT_CHUNK)) {
        return 0;
    }
    int rv = st_vfs_pwrite(f, job->out.base, job->out.len, *at);
    *at += job->out.len;
    st_buf_reset(&job->out);
    return rv;
}

static int reserve_hdrs(struct st_log_clean_job *job, size_t n)
{
    if (n <= job->hdrs_cap) {
        return 0;
    }
    struct st_record_header *h = st_realloc(job->hdrs, n * sizeof *h);
    if (h == NULL) {
        return ST_ENOMEM;
    }
    job->hdrs = h;
    job->hdrs_cap = n;
    return 0;
}

/* Finish the run being built (if any) and append it to the output. */
static int emit_run(struct st_log_clean_job *job,
                    const struct st_batch_header *h, int64_t first)
{
    if (st_batch_builder_count(job->bld) == 0) {
        return 0;
    }
    struct st_bytes v;
    int rv = st_batch_builder_finish(job->bld, &v);
    if (rv != 0) {
        return rv;
    }
    rv = st_buf_append(&job->out, v.base, v.len);
    if (rv != 0) {
        return rv;
    }
    uint8_t *p = job->out.base + job->out.len - v.len;
    st_batch_set_base_offset(p, first);
    st_batch_set_leader_epoch(p, h->leader_epoch);
    st_batch_builder_reset(job->bld, NULL); /* count back to 0 */
    return 0;
}

static void start_run(struct st_log_clean_job *job,
                      const struct st_batch_header *h, int64_t first)
{
    struct st_batch_builder_opts o = {
        .codec = (enum st_codec)(h->attributes & ST_BATCH_ATTR_CODEC_MASK),
        .producer_id = h->producer_id,
        .producer_epoch = h->producer_epoch,
        .base_sequence = h->base_sequence < 0
                             ? -1
                             : (int32_t)(h->base_sequence +
                                         (first - h->base_offset)),
        .leader_epoch = h->leader_epoch,
    };
    st_batch_builder_reset(job->bld, &o);
}

/* Re-encode the surviving records of batch @b. */
static int rewrite_batch(struct st_log_clean_job *job,
                         const struct st_batch_header *h, const uint8_t *b)
{
    int rv = st_record_iter_init(job->it, b, st_batch_total_bytes(h),
                                 ST_LOG_SCAN_MAX_BATCH);
    int64_t first = -1, expect = -1;
    struct st_record rec;
    while (rv == 0 && (rv = st_record_iter_next(job->it, &rec)) == 0) {
        if (!keep_record(job, h, &rec)) {
            job->records_dropped++;
            continue;
        }
        job->records_kept++;
        if (first < 0 || rec.offset != expect) {
            rv = first < 0 ? 0 : emit_run(job, h, first);
            if (rv != 0) {
                break;
            }
            first = rec.offset;
            start_run(job, h, first);
        }
        expect = rec.offset + 1;
        rv = reserve_hdrs(job, rec.n_headers);
        for (uint32_t i = 0; rv == 0 && i < rec.n_headers; i++) {
            rv = st_record_header_get(&rec, i, &job->hdrs[i]);
        }
        if (rv == 0) {
            rv = st_batch_builder_add(
                job->bld, rec.timestamp_ms, rec.key,
                rec.key == NULL ? 0 : (size_t)rec.key_len, rec.value,
                rec.value == NULL ? 0 : (size_t)rec.value_len, job->hdrs,
                rec.n_headers);
        }
    }
    if (rv == 1) {
        rv = first >= 0 ? emit_run(job, h, first) : 0;
    }
    return rv;
}

/* Does every record of batch @b survive? */
static int all_kept(struct st_log_clean_job *job,
                    const struct st_batch_header *h, const uint8_t *b,
                    bool *all)
{
    int rv = st_record_iter_init(job->it, b, st_batch_total_bytes(h),
                                 ST_LOG_SCAN_MAX_BATCH);
    struct st_record rec;
    *all = true;
    while (rv == 0 && (rv = st_record_iter_next(job->it, &rec)) == 0) {
        if (!keep_record(job, h, &rec)) {
            *all = false;
        }
    }
    return rv == 1 ? 0 : rv;
}

static int clean_segment(struct st_log_clean_job *job, struct clean_seg *cs)
{
    char p[4096];
    struct st_file *out;
    st_segment_path(cs->seg, ".cleaned", p, sizeof p);
    int rv = st_vfs_open(job->vfs, p, ST_VFS_CREATE | ST_VFS_TRUNC, &out);
    if (rv != 0) {
        return rv;
    }
    struct st_seg_reader r;
    st_seg_reader_init(&r, cs->file, cs->size);
    uint64_t at = 0;
    bool changed = false;
    st_buf_reset(&job->out);
    for (uint64_t pos = 0; pos < cs->size && rv == 0;) {
        struct st_batch_header h;
        const uint8_t *b;
        rv = st_seg_reader_batch(&r, pos, true, &h, &b);
        if (rv != 0) {
            rv = ST_CORRUPT(cs->seg->log_path, pos, "cleaner: bad batch");
            break;
        }
        size_t total = st_batch_total_bytes(&h);
        bool all = true;
        if (!is_control(&h)) {
            rv = all_kept(job, &h, b, &all);
        }
        if (rv == 0 && all) {
            job->records_kept += (uint64_t)h.record_count;
            rv = st_buf_append(&job->out, b, total); /* byte for byte */
        } else if (rv == 0) {
            changed = true;
            rv = rewrite_batch(job, &h, b);
        }
        if (rv == 0) {
            rv = flush_out(job, out, &at, false);
        }
        pos += total;
    }
    st_seg_reader_close(&r);
    if (rv == 0 && changed) {
        rv = flush_out(job, out, &at, true);
    }
    if (rv == 0 && changed) {
        rv = st_vfs_fsync(out);
    }
    int crv = st_vfs_close(out);
    if (rv == 0) {
        rv = crv;
    }
    if (rv != 0 || !changed) { /* nothing to swap: the segment is clean */
        (void)st_vfs_unlink(job->vfs, p);
        return rv;
    }
    cs->written = true;
    cs->new_size = at;
    return 0;
}

void st_log_clean_run(struct st_log_clean_job *job)
{
    int rv = map_init(&job->map, job->conf.dedupe_buffer_bytes);
    size_t mapped = 0;
    for (; rv == 0 && mapped < job->n; mapped++) {
        rv = map_segment(job, &job->s[mapped]);
        if (rv == 1) {
            rv = 0;
            break; /* the map is full: segment @mapped only partly in it */
        }
    }
    job->n_clean = rv == 0 ? mapped : 0;
    for (size_t i = 0; rv == 0 && i < job->n_clean; i++) {
        rv = clean_segment(job, &job->s[i]);
    }
    job->rv = rv;
}

/* ---- done ---- */

static bool still_in_log(const struct st_log *log, const struct clean_seg *cs)
{
    for (size_t i = 0; i + 1 < log->n_segs; i++) {
        if (log->segs[i] == cs->seg) {
            return cs->seg->gen == cs->gen && cs->seg->size == cs->size;
        }
    }
    return false;
}

/* A fresh segment object for the renamed .log, replacing @old in the list
 * (readers pinning @old keep its open file until they release). */
static int swap_in(struct st_log *log, struct st_segment *old)
{
    struct st_segment *seg;
    uint64_t bad;
    int rv = st_segment_new(log->vfs, log->dir, old->base,
                            log->conf.index_interval_bytes, &seg);
    if (rv == 0) {
        rv = st_segment_scan(seg, log->conf.index_interval_bytes, 0, false,
                             &bad);
        if (rv != 0) {
            st_segment_release(seg);
        }
    }
    if (rv == 0) {
        rv = st_segment_seal(seg);
    }
    if (rv != 0) {
        st_segment_release(seg);
        return rv;
    }
    if (seg->next_offset < old->next_offset) {
        seg->next_offset = old->next_offset; /* the range it covers */
    }
    seg->created_ms = old->created_ms;
    seg->synced_size = seg->size;
    seg->verified_size = seg->size;
    seg->gen = old->gen + 1;
    for (size_t i = 0; i < log->n_segs; i++) {
        if (log->segs[i] == old) {
            log->segs[i] = seg;
        }
    }
    st_segment_release(old);
    return 0;
}

int st_log_clean_done(struct st_log *log, struct st_log_clean_job *job)
{
    char from[4096], to[4096];
    int rv = job->rv;
    if (log->flushing) {
        /* A running flush may be writing index files of the segments
         * about to be replaced; swapping now could pair them with the new
         * .log. Wait for it. */
        return 1;
    }
    uint64_t before = 0, after = 0;
    size_t swapped = 0;
    for (size_t i = 0; i < job->n_clean; i++) {
        struct clean_seg *cs = &job->s[i];
        if (!cs->written) {
            continue;
        }
        st_segment_path(cs->seg, ".cleaned", from, sizeof from);
        if (rv != 0 || !still_in_log(log, cs)) {
            (void)st_vfs_unlink(log->vfs, from);
            cs->written = false;
            continue;
        }
        /* Index files go first, so none can describe the new .log. */
        st_segment_unlink_indexes(cs->seg);
        st_segment_path(cs->seg, ".log", to, sizeof to);
        rv = st_vfs_rename(log->vfs, from, to);
        if (rv != 0) {
            break;
        }
        before += cs->size;
        after += cs->new_size;
        swapped++;
    }
    if (rv == 0 && swapped > 0) {
        rv = st_vfs_fsync_dir(log->vfs, log->dir);
    }
    for (size_t i = 0; rv == 0 && i < job->n_clean; i++) {
        if (job->s[i].written) {
            rv = swap_in(log, job->s[i].seg);
        }
    }
    if (rv != 0) {
        /* The .log files on disk are whole (old or new); the in-memory
         * view may not match them any more. */
        log->failed = rv;
        ST_ERROR("log", "dir=%s compaction swap failed: %s", log->dir,
                 st_strerror(rv));
    } else if (swapped > 0) {
        ST_INFO("log", "dir=%s compacted segments=%zu bytes=%" PRIu64
                       "->%" PRIu64 " records kept=%" PRIu64
                       " dropped=%" PRIu64,
                log->dir, swapped, before, after, job->records_kept,
                job->records_dropped);
    }
    log->cleaning = false;
    job_free(job);
    return rv;
}
