/* Opening a log: find the segments, recover what a crash may have torn,
 * rebuild indexes and the state derived from batch headers; and closing.
 *
 * Trust rule: a segment wholly below the recovery point (every segment
 * before the one that was active at the last completed flush) was fsynced
 * with its index files, and so was everything after a clean shutdown. Such
 * segments are not CRC-scanned at open; a damaged index is rebuilt, and
 * damage found in them is reported, never "repaired" by truncation. Every
 * other segment is scanned batch by batch; the first bad batch is a torn
 * write: the segment is cut there and all later segments are deleted
 * (they were written after the tear and were never durable). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/log/checkpoint.h"
#include "broker/log/log_int.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "<20 digits>.log" -> base. */
static bool parse_segment_name(const char *name, int64_t *base)
{
    if (strlen(name) != ST_LOG_NAME_DIGITS + 4 || !has_suffix(name, ".log")) {
        return false;
    }
    int64_t v = 0;
    for (int i = 0; i < ST_LOG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (name[i] - '0');
    }
    *base = v;
    return true;
}

static int check_config(const struct st_log_config *c)
{
    if (c->segment_bytes < 1024 || c->segment_bytes > (1ull << 31) ||
        c->index_interval_bytes == 0 || c->max_message_bytes < 64 ||
        c->max_message_bytes > ST_LOG_SCAN_MAX_BATCH ||
        c->flush_policy > ST_LOG_FLUSH_NONE) {
        return ST_EINVAL;
    }
    return 0;
}

static int read_i64_or(struct st_log *log, const char *name, uint16_t kind,
                       int64_t dflt, int64_t *out)
{
    char p[4096];
    st_log_path(log, name, p, sizeof p);
    int rv = st_checkpoint_read_i64(log->vfs, p, kind, out);
    if (rv == ST_ENOENT) {
        *out = dflt;
        return 0;
    }
    if (rv == ST_ECORRUPT) {
        /* Logged; these values are only hints we can do without. */
        *out = dflt;
        return 0;
    }
    return rv;
}

/* List the directory: collect segment bases, remove leftovers. */
static int find_segments(struct st_log *log, bool *clean)
{
    char **names;
    size_t n;
    char p[4096];
    int rv = st_vfs_list(log->vfs, log->dir, &names, &n);
    if (rv != 0) {
        return rv;
    }
    *clean = false;
    for (size_t i = 0; i < n && rv == 0; i++) {
        int64_t base;
        if (has_suffix(names[i], ".tmp") || has_suffix(names[i], ".cleaned") ||
            has_suffix(names[i], ".deleted")) {
            st_log_path(log, names[i], p, sizeof p);
            (void)st_vfs_unlink(log->vfs, p);
        } else if (strcmp(names[i], "clean-shutdown") == 0) {
            *clean = true;
        } else if (parse_segment_name(names[i], &base)) {
            struct st_segment *seg;
            rv = st_segment_new(log->vfs, log->dir, base,
                                log->conf.index_interval_bytes, &seg);
            if (rv == 0) {
                rv = st_log_push_segment(log, seg);
                if (rv != 0) {
                    st_segment_release(seg);
                }
            }
        }
    }
    /* Index files whose .log is gone (deleted by retention while a flush
     * was writing them) are garbage. */
    for (size_t i = 0; i < n && rv == 0; i++) {
        size_t len = strlen(names[i]);
        bool idx = has_suffix(names[i], ".index") ||
                   has_suffix(names[i], ".timeindex");
        if (!idx || len < ST_LOG_NAME_DIGITS) {
            continue;
        }
        char logname[ST_LOG_NAME_DIGITS + 5];
        memcpy(logname, names[i], ST_LOG_NAME_DIGITS);
        memcpy(logname + ST_LOG_NAME_DIGITS, ".log", 5);
        int64_t base;
        if (!parse_segment_name(logname, &base)) {
            continue;
        }
        st_log_path(log, logname, p, sizeof p);
        if (st_vfs_stat(log->vfs, p, NULL) == ST_ENOENT) {
            st_log_path(log, names[i], p, sizeof p);
            (void)st_vfs_unlink(log->vfs, p);
        }
    }
    st_vfs_names_free(names, n);
    return rv;
}

/* Recover segment @i. Sets *cut when the rest of the log must go. */
static int recover_segment(struct st_log *log, size_t i, bool clean,
                           bool *cut, bool *untrusted)
{
    struct st_segment *seg = log->segs[i];
    uint32_t interval = log->conf.index_interval_bytes;
    bool trusted = clean || (i + 1 < log->n_segs &&
                             log->segs[i + 1]->base <= log->recovery_point);
    /* A batch reaching into the next segment's offsets is damage, not
     * data: the scans below stop there (fuzz_log_open). */
    seg->limit = i + 1 < log->n_segs ? log->segs[i + 1]->base : INT64_MAX;
    uint64_t bad = 0, fsize = 0;
    struct st_file *f;
    int rv = st_segment_file(seg, &f);
    if (rv == 0) {
        rv = st_vfs_size(f, &fsize);
    }
    if (rv != 0) {
        return rv;
    }
    if (trusted && i + 1 < log->n_segs) {
        /* Synced and not active: size and newest timestamp suffice until
         * a read needs its index (loaded then; KIP-263). */
        rv = st_segment_peek(seg);
        if (rv == 0) {
            seg->next_offset = log->segs[i + 1]->base;
            seg->synced_size = seg->size;
            return 0;
        }
        if (rv != ST_ECORRUPT && rv != ST_ENOENT) {
            return rv;
        }
    }
    if (trusted) {
        rv = st_segment_load_indexes(seg);
        bool indexed = rv == 0;
        if (rv != 0 && rv != ST_ECORRUPT && rv != ST_ENOENT) {
            return rv;
        }
        uint64_t from = indexed && seg->idx.n > 0
                            ? seg->idx.e[seg->idx.n - 1].pos
                            : 0;
        rv = st_segment_scan(seg, interval, from, !indexed, &bad);
        if (rv != 0) {
            return rv;
        }
        seg->synced_size = seg->size;
        seg->index_written = indexed;
        if (bad < fsize && i + 1 == log->n_segs) {
            trusted = false; /* the active tail: cut it like a torn write */
        } else if (bad < fsize) {
            /* Fsynced data damaged: report, never serve, never cut. */
            seg->corrupt_pos = (int64_t)bad;
            seg->size = fsize;
            (void)ST_CORRUPT(seg->log_path, bad, "bad batch in a synced segment");
        }
    }
    if (trusted) {
        return 0;
    }
    *untrusted = true;
    rv = st_segment_scan(seg, interval, 0, true, &bad);
    if (rv != 0) {
        return rv;
    }
    if (bad < fsize) {
        ST_WARN("log", "file=%s.log pos=%" PRIu64 " size=%" PRIu64
                       " truncating torn or corrupt tail",
                seg->path, bad, fsize);
        rv = st_vfs_truncate(f, bad);
        if (rv != 0) {
            return rv;
        }
        *cut = true;
    } else if (i + 1 < log->n_segs &&
               seg->next_offset < log->segs[i + 1]->base) {
        /* Segments are named after the log end at their roll, so they
         * meet. This one stops short: its unsynced tail was lost whole
         * while a later segment's name and bytes survived. Keeping the
         * later ones would leave a hole. */
        ST_WARN("log", "file=%s.log ends at offset %" PRId64
                       " before the next segment %" PRId64
                       ": dropping the later segments",
                seg->path, seg->next_offset, log->segs[i + 1]->base);
        *cut = true;
    }
    seg->synced_size = 0;
    seg->index_written = false;
    return 0;
}

/* Batch headers from @from to the end, feeding the epoch cache and the
 * producer state (from @ps_from on). */
static int rebuild_derived(struct st_log *log, int64_t from, int64_t ps_from)
{
    for (size_t i = st_log_seg_for(log, from); i < log->n_segs; i++) {
        struct st_segment *seg = log->segs[i];
        struct st_file *f;
        int rv = st_segment_file(seg, &f);
        if (rv != 0) {
            return rv;
        }
        uint64_t pos = 0;
        rv = st_segment_ensure_index(seg);
        if (rv != 0) {
            return rv;
        }
        if (from > seg->base) {
            pos = st_offset_index_lookup(
                &seg->idx, (uint32_t)(from - seg->base > UINT32_MAX
                                          ? UINT32_MAX
                                          : from - seg->base),
                NULL);
        }
        uint64_t limit = seg->corrupt_pos >= 0 ? (uint64_t)seg->corrupt_pos
                                               : seg->size;
        struct st_seg_reader r;
        st_seg_reader_init(&r, f, limit);
        while (pos < limit) {
            struct st_batch_header h;
            rv = st_seg_reader_batch(&r, pos, false, &h, NULL);
            if (rv != 0) {
                break;
            }
            if (st_batch_last_offset(&h) >= from) {
                rv = st_epoch_cache_assign(&log->epochs, h.leader_epoch,
                                           h.base_offset);
                if (rv == 0 && h.base_offset >= ps_from) {
                    rv = st_producer_state_update(&log->producers, &h);
                }
                if (rv != 0) {
                    break;
                }
            }
            pos += st_batch_total_bytes(&h);
        }
        st_seg_reader_close(&r);
        if (rv < 0 && rv != ST_ECORRUPT) {
            return rv;
        }
    }
    return 0;
}

static int load_derived(struct st_log *log)
{
    char p[4096];
    uint8_t *img = NULL;
    struct st_bytes pl;
    int64_t ps_upto = log->start_offset;
    bool have_epochs = false, have_ps = false;

    st_log_path(log, "leader-epoch-checkpoint", p, sizeof p);
    int rv = st_checkpoint_read(log->vfs, p, ST_CHECKPOINT_EPOCHS, &img, &pl);
    if (rv == 0) {
        have_epochs = st_epoch_cache_decode(&log->epochs, pl.base, pl.len) == 0;
        st_free(img);
    } else if (rv != ST_ENOENT && rv != ST_ECORRUPT) {
        return rv;
    }
    st_log_path(log, "producer-state", p, sizeof p);
    rv = st_checkpoint_read(log->vfs, p, ST_CHECKPOINT_PRODUCERS, &img, &pl);
    if (rv == 0) {
        have_ps = st_producer_state_decode(&log->producers, pl.base, pl.len,
                                           &ps_upto) == 0;
        st_free(img);
    } else if (rv != ST_ENOENT && rv != ST_ECORRUPT) {
        return rv;
    }
    if (!have_ps || ps_upto > log->end_offset || ps_upto < log->start_offset) {
        st_producer_state_clear(&log->producers);
        ps_upto = log->start_offset;
    }
    if (!have_epochs) {
        st_epoch_cache_clear(&log->epochs);
    }
    st_epoch_cache_truncate_end(&log->epochs, log->end_offset);
    st_epoch_cache_truncate_start(&log->epochs, log->start_offset);
    int64_t from = have_epochs ? ps_upto : log->start_offset;
    rv = rebuild_derived(log, from, ps_upto);
    log->epochs.dirty = true;
    log->producers.dirty = true;
    return rv;
}

/* mkdir -p @dir; when it was missing, fsync every ancestor so that the
 * new names survive a power loss (a create is durable only once its parent
 * directory is). */
static int make_dir_durably(struct st_vfs *vfs, const char *dir)
{
    if (st_vfs_stat(vfs, dir, NULL) == 0) {
        return 0;
    }
    int rv = st_vfs_mkdir_p(vfs, dir);
    if (rv != 0) {
        return rv;
    }
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *slash = strrchr(p, '/'); rv == 0 && slash != NULL;
         slash = strrchr(p, '/')) {
        if (slash == p) {
            rv = st_vfs_fsync_dir(vfs, "/");
            break;
        }
        *slash = '\0';
        rv = st_vfs_fsync_dir(vfs, p);
    }
    return rv;
}

int st_log_open(struct st_vfs *vfs, const char *dir,
                const struct st_log_config *conf, int64_t now_ms,
                struct st_log **out)
{
    char p[4096];
    int rv = check_config(conf);
    if (rv != 0) {
        return rv;
    }
    struct st_log *log = st_calloc(1, sizeof *log);
    if (log == NULL) {
        return ST_ENOMEM;
    }
    log->vfs = vfs;
    log->conf = *conf;
    log->hw = -1;
    st_epoch_cache_init(&log->epochs);
    st_producer_state_init(&log->producers);
    st_buf_init(&log->scratch);
    log->dir = st_strdup(dir);
    if (log->dir == NULL) {
        rv = ST_ENOMEM;
        goto err;
    }
    rv = make_dir_durably(vfs, dir);
    bool clean = false;
    if (rv == 0) {
        rv = find_segments(log, &clean);
    }
    int64_t start = -1, rp = 0;
    if (rv == 0) {
        rv = read_i64_or(log, "log-start-offset", ST_CHECKPOINT_LOG_START, -1,
                         &start);
    }
    if (rv == 0) {
        rv = read_i64_or(log, "recovery-point", ST_CHECKPOINT_RECOVERY_POINT,
                         0, &rp);
    }
    if (rv == 0) {
        rv = read_i64_or(log, "high-watermark", ST_CHECKPOINT_HW, -1,
                         &log->hw);
    }
    if (rv == 0 && clean) {
        /* The marker must not outlive this run: appends follow. */
        st_log_path(log, "clean-shutdown", p, sizeof p);
        rv = st_vfs_unlink(vfs, p);
        if (rv == 0) {
            rv = st_vfs_fsync_dir(vfs, dir);
        }
    }
    if (rv != 0) {
        goto err;
    }
    log->recovery_point = rp;
    log->hw_written = log->hw;

    /* Segments wholly below the log start are leftovers of an
     * interrupted retention or full truncation. */
    size_t drop = 0;
    while (start >= 0 && drop + 1 < log->n_segs &&
           log->segs[drop + 1]->base <= start) {
        drop++;
    }
    for (size_t i = 0; i < drop; i++) {
        st_segment_delete(log->segs[i]);
    }
    st_log_remove_segments(log, 0, drop);

    bool cut = false, untrusted = false;
    for (size_t i = 0; i < log->n_segs; i++) {
        rv = recover_segment(log, i, clean, &cut, &untrusted);
        if (rv != 0) {
            goto err;
        }
        if (cut) {
            while (log->n_segs > i + 1) {
                struct st_segment *s = log->segs[--log->n_segs];
                ST_WARN("log", "file=%s.log deleted: after a torn write",
                        s->path);
                st_segment_delete(s);
            }
            log->dir_dirty = true;
        }
        if (i + 1 < log->n_segs) {
            st_vfs_close(log->segs[i]->file); /* lazily reopened */
            log->segs[i]->file = NULL;
        }
    }
    if (log->n_segs > 0 && start >= 0 &&
        st_log_active(log)->next_offset <= start &&
        st_log_active(log)->base < start) {
        struct st_segment *s = log->segs[--log->n_segs];
        st_segment_delete(s);
    }
    if (log->n_segs == 0) {
        rv = st_log_roll(log, start < 0 ? 0 : start, now_ms);
        if (rv != 0) {
            goto err;
        }
    }
    if (start < log->segs[0]->base) {
        start = log->segs[0]->base;
    }
    st_log_active(log)->created_ms = now_ms;
    log->start_offset = start;
    log->end_offset = st_log_active(log)->next_offset;
    if (log->end_offset < start) {
        log->end_offset = start;
    }
    rv = load_derived(log);
    if (rv != 0) {
        goto err;
    }
    log->synced_offset = untrusted ? 0 : log->end_offset;
    log->durable_offset = log->end_offset;
    /* Make what recovery kept (and cut) durable before anything new. */
    rv = st_log_flush(log);
    if (rv != 0) {
        goto err;
    }
    log->synced_offset = log->end_offset;
    ST_INFO("log", "dir=%s opened start=%" PRId64 " end=%" PRId64
                   " segments=%zu clean=%d",
            dir, log->start_offset, log->end_offset, log->n_segs, clean);
    *out = log;
    return 0;
err:
    log->failed = rv;
    st_log_close(log);
    return rv;
}

int st_log_close(struct st_log *log)
{
    if (log == NULL) {
        return 0;
    }
    int rv = log->failed;
    if (rv == 0 && log->n_segs > 0) {
        log->closing = true;
        rv = st_log_flush(log);
        if (rv == 0) {
            char p[4096];
            st_log_path(log, "clean-shutdown", p, sizeof p);
            rv = st_vfs_write_atomic(log->vfs, p, "", 0);
        }
    }
    st_log_abandon(log);
    return rv;
}

void st_log_abandon(struct st_log *log)
{
    if (log == NULL) {
        return;
    }
    for (size_t i = 0; i < log->n_segs; i++) {
        st_segment_release(log->segs[i]);
    }
    st_free(log->segs);
    st_epoch_cache_close(&log->epochs);
    st_producer_state_close(&log->producers);
    st_buf_close(&log->scratch);
    st_free(log->dir);
    st_free(log);
}
