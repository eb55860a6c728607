/* libFuzzer target for partition log recovery (broker/log/log.h
 * st_log_open) on the in-memory vfs.
 *
 * An input is a directory image: a list of files, each
 *   u8 tag, then for tags 0..2 a u64 segment base (any value: it becomes
 *   the 20-digit name), then u16 length and that many bytes (cut short at
 *   the input end). Tag 0 is <base>.log, 1 <base>.index, 2 <base>.timeindex,
 *   3..8 the checkpoints log-start-offset, recovery-point, high-watermark,
 *   leader-epoch-checkpoint, producer-state and the clean-shutdown marker.
 *   Chunks for one name are appended, so a .log can be any size.
 * st_log_open of that directory must succeed or answer ST_ECORRUPT; never
 * crash. After a successful open:
 *  - start <= end, the epoch cache is strictly increasing;
 *  - reading from the start to the end serves only batches that validate
 *    (length, magic, CRC), in offset order, each range starting at the
 *    offset asked for or before it and moving forward; a read may answer
 *    ST_ECORRUPT (damage inside a synced segment is never served);
 *  - a new leader batch appends at the end and reads back byte for byte;
 *  - after a clean close the log reopens with the same start and end.
 *
 * With STRATA_FUZZ_SEED_DIR=<dir> set, the program writes directory images
 * of logs written by st_log itself there and exits (run-fuzz.sh does this).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/log/epoch_cache.h"
#include "broker/log/log.h"
#include "common/alloc.h"
#include "common/batch.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define DIR "/p"
#define NOW_MS 1700000000000LL
#define MAX_INPUT (1u << 20)
#define READ_MAX (64u * 1024)
#define BATCH_MAX (64u << 20)

static const char *const ckpt_names[] = {
    "log-start-offset", "recovery-point",  "high-watermark",
    "leader-epoch-checkpoint", "producer-state", "clean-shutdown",
};
#define N_CKPT (sizeof ckpt_names / sizeof ckpt_names[0])
static const char *const seg_exts[] = {".log", ".index", ".timeindex"};

static struct st_batch_builder *builder;
static uint8_t *rbuf;

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_log_open: %s\n", what);
        abort();
    }
}

static void config(struct st_log_config *c)
{
    st_log_config_init(c);
    c->segment_bytes = 1024;       /* small: seeds have several segments */
    c->index_interval_bytes = 100; /* dense: indexes matter */
}

/* ---- the directory image ---- */

static void append_file(struct st_vfs *v, const char *name, const uint8_t *p,
                        size_t n)
{
    char path[256];
    struct st_file *f = NULL;
    uint64_t size = 0;
    snprintf(path, sizeof path, DIR "/%s", name);
    check(st_vfs_open(v, path, ST_VFS_CREATE, &f) == 0 &&
              st_vfs_size(f, &size) == 0 &&
              (n == 0 || st_vfs_pwrite(f, p, n, size) == 0) &&
              st_vfs_fsync(f) == 0,
          "cannot write the image");
    st_vfs_close(f);
}

static void unpack_image(struct st_vfs *v, const uint8_t *p, size_t n)
{
    size_t at = 0;
    while (at < n) {
        uint8_t tag = p[at++] % 16;
        char name[64];
        if (tag < 3) {
            if (n - at < 8) {
                break;
            }
            uint64_t base = st_get_be64(p + at) & INT64_MAX;
            at += 8;
            snprintf(name, sizeof name, "%020" PRIu64 "%s", base,
                     seg_exts[tag]);
        } else if (tag < 3 + N_CKPT) {
            snprintf(name, sizeof name, "%s", ckpt_names[tag - 3]);
        } else {
            continue;
        }
        size_t len = 0;
        if (n - at >= 2) {
            len = st_get_be16(p + at);
            at += 2;
        }
        if (len > n - at) {
            len = n - at;
        }
        append_file(v, name, p + at, len);
        at += len;
    }
    check(st_vfs_fsync_dir(v, DIR) == 0, "fsync_dir");
}

/* ---- properties ---- */

static void check_epochs(struct st_log *log)
{
    const struct st_epoch_cache *c = st_log_epochs(log);
    for (size_t i = 1; i < c->n; i++) {
        check(c->e[i].epoch > c->e[i - 1].epoch &&
                  c->e[i].start_offset > c->e[i - 1].start_offset,
              "epoch cache not strictly increasing after open");
    }
}

/* Validate every batch of one read range; returns the offset after it. */
static int64_t check_range(const struct st_log_read_result *r, int64_t off)
{
    size_t got = 0;
    check(r->len <= READ_MAX + BATCH_MAX, "read range too long");
    uint8_t *buf = r->len <= READ_MAX ? rbuf : malloc(r->len);
    check(buf != NULL, "out of memory");
    check(st_vfs_pread(r->file, buf, r->len, r->pos, &got) == 0 &&
              got == r->len,
          "a read range lies past the file end");
    size_t at = 0;
    int64_t next = -1;
    bool first = true;
    while (at < r->len) {
        struct st_batch_header h;
        int rv = st_batch_validate(buf + at, r->len - at, BATCH_MAX, &h);
        check(rv == 0, "the log served a batch that does not validate");
        if (first) {
            check(h.base_offset == r->first_offset,
                  "first batch is not at first_offset");
            check(st_batch_last_offset(&h) >= off,
                  "first batch ends before the offset asked for");
            first = false;
        } else {
            check(h.base_offset >= next, "batches out of offset order");
        }
        next = st_batch_last_offset(&h) + 1;
        at += st_batch_total_bytes(&h);
    }
    check(next == r->next_offset, "next_offset is not after the last batch");
    if (buf != rbuf) {
        free(buf);
    }
    return next;
}

/* Read the whole log. Returns false when a read answered ST_ECORRUPT. */
static bool read_all(struct st_log *log)
{
    int64_t off = st_log_start_offset(log), end = st_log_end_offset(log);
    for (int i = 0; off < end && i < 10000; i++) {
        struct st_log_read_result r;
        int rv = st_log_read(log, off, end, READ_MAX, &r);
        if (rv == ST_ECORRUPT) {
            return false;
        }
        check(rv == 0, "read of an offset inside the log failed");
        if (r.len == 0) {
            /* Nothing at or after off in the log: only a gap up to the
             * end (a follower's gap or compacted tail) may do that. */
            st_log_read_release(&r);
            break;
        }
        int64_t next = check_range(&r, off);
        st_log_read_release(&r);
        check(next > off, "a read did not move forward");
        check(next <= end, "a read served offsets past the log end");
        off = next;
    }
    return true;
}

static void check_time_lookup(struct st_log *log, int64_t ts)
{
    int64_t off = -1;
    int rv = st_log_offset_for_time(log, ts, &off);
    check(rv == 0 || rv == ST_ENOENT || rv == ST_ECORRUPT,
          "offset_for_time: undocumented code");
    if (rv == 0) {
        check(off >= st_log_start_offset(log) && off < st_log_end_offset(log),
              "offset_for_time outside the log");
    }
}

static void append_one(struct st_log *log)
{
    struct st_batch_builder_opts o = {.codec = ST_CODEC_NONE,
                                      .producer_id = -1,
                                      .producer_epoch = -1,
                                      .base_sequence = -1,
                                      .leader_epoch = -1};
    struct st_bytes b;
    st_batch_builder_reset(builder, &o);
    check(st_batch_builder_add(builder, NOW_MS, (const uint8_t *)"k", 1,
                               (const uint8_t *)"fuzz", 4, NULL, 0) == 0 &&
              st_batch_builder_finish(builder, &b) == 0,
          "build");
    uint8_t copy[256];
    check(b.len <= sizeof copy, "seed batch too big");
    memcpy(copy, b.base, b.len);
    int64_t end = st_log_end_offset(log);
    const struct st_epoch_cache *c = st_log_epochs(log);
    int32_t epoch = c->n > 0 ? c->e[c->n - 1].epoch : 0;
    if (epoch < INT32_MAX) {
        epoch++;
    }
    struct st_log_append_info info;
    int rv = st_log_append(log, copy, b.len, ST_LOG_APPEND_LEADER, epoch,
                           NOW_MS, &info);
    if (end > INT64_MAX - (int64_t)UINT32_MAX) {
        return; /* near the offset limit: refusing is fine */
    }
    check(rv == 0, "append after a successful open failed");
    check(info.base_offset == end && info.last_offset == end &&
              st_log_end_offset(log) == end + 1,
          "append went somewhere else than the end");
    struct st_log_read_result r;
    check(st_log_read(log, end, end + 1, READ_MAX, &r) == 0 &&
              r.len == b.len && r.first_offset == end,
          "the appended batch does not read back");
    size_t got = 0;
    check(st_vfs_pread(r.file, rbuf, r.len, r.pos, &got) == 0 &&
              got == b.len && memcmp(rbuf, copy, b.len) == 0,
          "the appended batch reads back different");
    st_log_read_release(&r);
}

/* ---- seeds ---- */

static void seed_log(struct st_vfs *v, int kind)
{
    struct st_log_config conf;
    struct st_log *log = NULL;
    config(&conf);
    check(st_log_open(v, DIR, &conf, NOW_MS, &log) == 0, "seed open");
    for (int i = 0; i < 24; i++) {
        struct st_batch_builder_opts o = {
            .codec = i % 5 == 4 ? ST_CODEC_ZSTD : ST_CODEC_NONE,
            .producer_id = i % 3 == 0 ? 7 : -1,
            .producer_epoch = i % 3 == 0 ? 1 : -1,
            .base_sequence = i % 3 == 0 ? i / 3 * 2 : -1,
            .leader_epoch = -1,
        };
        struct st_bytes b;
        st_batch_builder_reset(builder, &o);
        for (int k = 0; k < 2; k++) {
            char val[48];
            int n = snprintf(val, sizeof val, "value-%d-%d", i, k);
            check(st_batch_builder_add(builder, NOW_MS + i * 10 + k,
                                       (const uint8_t *)"key", 3,
                                       (const uint8_t *)val, (size_t)n, NULL,
                                       0) == 0,
                  "seed add");
        }
        check(st_batch_builder_finish(builder, &b) == 0, "seed finish");
        uint8_t copy[512];
        memcpy(copy, b.base, b.len);
        struct st_log_append_info info;
        check(st_log_append(log, copy, b.len, ST_LOG_APPEND_LEADER, 1 + i / 8,
                            NOW_MS, &info) == 0,
              "seed append");
        if (i == 12) {
            st_log_set_high_watermark(log, st_log_end_offset(log));
            check(st_log_flush(log) == 0, "seed flush");
        }
    }
    if (kind == 0) {
        check(st_log_close(log) == 0, "seed close");
    } else {
        st_log_abandon(log); /* as a crash after the flush at batch 12 */
    }
}

static void pack_file(struct st_vfs *v, const char *name, struct st_buf *out)
{
    char path[256];
    uint8_t *p = NULL;
    size_t n = 0;
    uint8_t tag;
    uint64_t base = 0;
    int is_seg = -1;
    for (int e = 0; e < 3; e++) {
        size_t ne = strlen(seg_exts[e]);
        if (strlen(name) == 20 + ne && strcmp(name + 20, seg_exts[e]) == 0) {
            is_seg = e;
            base = strtoull(name, NULL, 10);
        }
    }
    if (is_seg >= 0) {
        tag = (uint8_t)is_seg;
    } else {
        size_t k = 0;
        while (k < N_CKPT && strcmp(ckpt_names[k], name) != 0) {
            k++;
        }
        if (k == N_CKPT) {
            return;
        }
        tag = (uint8_t)(3 + k);
    }
    snprintf(path, sizeof path, DIR "/%s", name);
    check(st_vfs_read_all(v, path, &p, &n) == 0, "seed read");
    for (size_t at = 0; at < n || (n == 0 && at == 0);) {
        size_t len = n - at > 0xffff ? 0xffff : n - at;
        uint8_t hdr[11];
        size_t hn = 0;
        hdr[hn++] = tag;
        if (is_seg >= 0) {
            st_put_be64(hdr + hn, base);
            hn += 8;
        }
        st_put_be16(hdr + hn, (uint16_t)len);
        hn += 2;
        st_buf_append(out, hdr, hn);
        st_buf_append(out, p + at, len);
        at += len;
        if (n == 0) {
            break;
        }
    }
    st_free(p);
}

static void write_seed(const char *dir, const char *name, struct st_vfs *v)
{
    char **names = NULL;
    size_t n = 0;
    struct st_buf out;
    st_buf_init(&out);
    check(st_vfs_list(v, DIR, &names, &n) == 0, "seed list");
    for (size_t i = 0; i < n; i++) {
        pack_file(v, names[i], &out);
    }
    st_vfs_names_free(names, n);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    check(f != NULL && fwrite(out.base, 1, out.len, f) == out.len,
          "cannot write a seed");
    fclose(f);
    st_buf_close(&out);
}

static void write_seeds(const char *dir)
{
    for (int kind = 0; kind < 2; kind++) {
        struct st_vfs *v = NULL;
        check(st_vfs_mem_new(1, &v) == 0, "mem vfs");
        seed_log(v, kind);
        write_seed(dir, kind == 0 ? "log-clean" : "log-crashed", v);
        st_vfs_mem_free(v);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    st_diag_set_level((enum st_level)(ST_LEVEL_ERROR + 1)); /* quiet */
    rbuf = malloc(READ_MAX);
    check(rbuf != NULL && st_batch_builder_new(&builder) == 0, "init");
    const char *dir = getenv("STRATA_FUZZ_SEED_DIR");
    if (dir != NULL && dir[0] != '\0') {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    struct st_vfs *v = NULL;
    struct st_log_config conf;
    struct st_log *log = NULL;
    config(&conf);
    check(st_vfs_mem_new(1, &v) == 0 && st_vfs_mkdir_p(v, DIR) == 0,
          "mem vfs");
    unpack_image(v, data, size);
    int rv = st_log_open(v, DIR, &conf, NOW_MS, &log);
    check(rv == 0 || rv == ST_ECORRUPT, "open: neither success nor ECORRUPT");
    if (rv != 0) {
        st_vfs_mem_free(v);
        return 0;
    }
    int64_t start = st_log_start_offset(log), end = st_log_end_offset(log);
    check(start >= 0 && start <= end, "start past end after open");
    check_epochs(log);
    bool whole = read_all(log);
    check_time_lookup(log, 0);
    check_time_lookup(log, NOW_MS + 100);
    append_one(log);
    end = st_log_end_offset(log);
    check(st_log_close(log) == 0, "clean close after open failed");
    log = NULL;
    rv = st_log_open(v, DIR, &conf, NOW_MS, &log);
    check(rv == 0, "a cleanly closed log does not reopen");
    check(st_log_start_offset(log) == start && st_log_end_offset(log) == end,
          "reopen after a clean close moved start or end");
    check_epochs(log);
    if (whole) {
        check(read_all(log), "reads failed only after the reopen");
    }
    st_log_close(log);
    st_vfs_mem_free(v);
    return 0;
}
