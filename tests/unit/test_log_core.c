/* broker/log: segments, append, read, indexes, roll, recovery, truncation. */
#include <sys/stat.h>
#include <unistd.h>

#include "broker/log/epoch_cache.h"
#include "broker/log/index.h"
#include "common/diag.h"
#include "test_log_util.h"

static struct {
    char dir[256];
    struct st_vfs *vfs;
    struct st_log *log;
    struct st_log_config conf;
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    st_test_tmpdir(f.dir, sizeof f.dir);
    f.vfs = st_vfs_posix();
    tl_small_config(&f.conf);
}

static void teardown(void)
{
    st_log_close(f.log);
    st_test_rmdir(f.dir);
}

static void reopen(void)
{
    ck_assert_int_eq(st_log_close(f.log), 0);
    f.log = NULL;
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
}

/* Simulate a crash of a process (page cache kept): no clean marker. */
static void reopen_unclean(void)
{
    char p[512];
    ck_assert_int_eq(st_log_close(f.log), 0);
    f.log = NULL;
    snprintf(p, sizeof p, "%s/clean-shutdown", f.dir);
    ck_assert_int_eq(unlink(p), 0);
    snprintf(p, sizeof p, "%s/recovery-point", f.dir);
    unlink(p);
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
}

static void seg_file(int64_t base, const char *ext, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%020lld%s", f.dir, (long long)base, ext);
}

static off_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? st.st_size : -1;
}

static void flip_byte(const char *p, off_t at)
{
    FILE *fp = fopen(p, "r+b");
    ck_assert_ptr_nonnull(fp);
    fseeko(fp, at, SEEK_SET);
    int c = fgetc(fp);
    fseeko(fp, at, SEEK_SET);
    fputc(c ^ 0x5a, fp);
    fclose(fp);
}

/* ---- index ---- */

START_TEST(test_index_lookup_edges)
{
    struct st_offset_index ix;
    uint32_t rel;
    st_offset_index_init(&ix);
    /* Given an empty index, every lookup starts at the segment start. */
    ck_assert_uint_eq(st_offset_index_lookup(&ix, 0, &rel), 0);
    ck_assert_uint_eq(st_offset_index_lookup(&ix, 1000, &rel), 0);
    /* Given entries at offsets 10, 20 and 30, */
    ck_assert_int_eq(st_offset_index_add(&ix, 10, 100), 0);
    ck_assert_int_eq(st_offset_index_add(&ix, 20, 200), 0);
    ck_assert_int_eq(st_offset_index_add(&ix, 30, 300), 0);
    /* before the first entry is the segment start, */
    ck_assert_uint_eq(st_offset_index_lookup(&ix, 9, &rel), 0);
    /* on the first and last entries is exactly them, */
    ck_assert_uint_eq(st_offset_index_lookup(&ix, 10, &rel), 100);
    ck_assert_uint_eq(rel, 10);
    ck_assert_uint_eq(st_offset_index_lookup(&ix, 30, &rel), 300);
    /* between entries is the one before, and past the end the last. */
    ck_assert_uint_eq(st_offset_index_lookup(&ix, 25, &rel), 200);
    ck_assert_uint_eq(st_offset_index_lookup(&ix, 99999, &rel), 300);
    /* Truncation drops entries at and after the offset. */
    st_offset_index_truncate(&ix, 20);
    ck_assert_uint_eq(ix.n, 1);
    /* Encode/decode round-trips, and a torn or unsorted file is refused. */
    uint8_t img[16];
    st_offset_index_add(&ix, 40, 400);
    st_offset_index_encode(&ix, img);
    struct st_offset_index back;
    st_offset_index_init(&back);
    ck_assert_int_eq(st_offset_index_decode(&back, img, 16, 1000), 0);
    ck_assert_uint_eq(back.e[1].pos, 400);
    ck_assert_int_eq(st_offset_index_decode(&back, img, 15, 1000),
                     ST_ECORRUPT);
    ck_assert_int_eq(st_offset_index_decode(&back, img, 16, 300),
                     ST_ECORRUPT);
    st_offset_index_close(&back);
    st_offset_index_close(&ix);
}
END_TEST

START_TEST(test_time_index_finds_scan_start)
{
    struct st_time_index tx;
    st_time_index_init(&tx);
    ck_assert_uint_eq(st_time_index_lookup(&tx, 5), 0);
    st_time_index_add(&tx, 100, 10);
    st_time_index_add(&tx, 90, 15); /* not a new maximum: ignored */
    st_time_index_add(&tx, 200, 20);
    ck_assert_uint_eq(tx.n, 2);
    ck_assert_uint_eq(st_time_index_lookup(&tx, 100), 0);
    ck_assert_uint_eq(st_time_index_lookup(&tx, 150), 10);
    ck_assert_uint_eq(st_time_index_lookup(&tx, 999), 20);
    ck_assert_int_eq(st_time_index_max(&tx), 200);
    st_time_index_close(&tx);
}
END_TEST

/* ---- append and read ---- */

START_TEST(test_leader_append_assigns_offsets_and_reads_back_bytes)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    /* Given three batches of 5 records appended by a leader, */
    uint8_t *b[3];
    size_t len[3];
    for (int i = 0; i < 3; i++) {
        len[i] = tl_batch(5, 10, 1000 + i, &b[i]);
        struct st_log_append_info info;
        ck_assert_int_eq(st_log_append(f.log, b[i], len[i],
                                       ST_LOG_APPEND_LEADER, 7, 1000, &info),
                         0);
        /* offsets are assigned in order, */
        ck_assert_int_eq(info.base_offset, i * 5);
        ck_assert_int_eq(info.last_offset, i * 5 + 4);
    }
    ck_assert_int_eq(st_log_end_offset(f.log), 15);
    /* when the middle offset is read, */
    struct st_log_read_result r;
    ck_assert_int_eq(st_log_read(f.log, 7, INT64_MAX, 1 << 20, &r), 0);
    /* the whole batch holding it comes back byte for byte, then the rest. */
    ck_assert_int_eq(r.first_offset, 5);
    ck_assert_int_eq(r.next_offset, 15);
    ck_assert_uint_eq(r.len, len[1] + len[2]);
    uint8_t *p = tl_slurp(&r);
    ck_assert_mem_eq(p, b[1], len[1]);
    ck_assert_mem_eq(p + len[1], b[2], len[2]);
    struct st_batch_header h;
    ck_assert_int_eq(st_batch_validate(p, len[1], 1 << 20, &h), 0);
    ck_assert_int_eq(h.leader_epoch, 7);
    free(p);
    st_log_read_release(&r);
    for (int i = 0; i < 3; i++) {
        free(b[i]);
    }
    /* The epoch cache learned epoch 7 at offset 0. */
    ck_assert_int_eq(st_epoch_cache_latest(st_log_epochs(f.log)), 7);
}
END_TEST

START_TEST(test_read_respects_max_bytes_upper_bound_and_range)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    for (int i = 0; i < 10; i++) {
        tl_append(f.log, 2, 100, 1000);
    }
    struct st_log_read_result r;
    /* A byte limit smaller than one batch still returns one whole batch. */
    ck_assert_int_eq(st_log_read(f.log, 0, INT64_MAX, 1, &r), 0);
    ck_assert_int_eq(r.next_offset, 2);
    st_log_read_release(&r);
    /* The upper bound (the HW) stops before batches starting at it. */
    ck_assert_int_eq(st_log_read(f.log, 0, 6, 1 << 20, &r), 0);
    ck_assert_int_eq(r.next_offset, 6);
    st_log_read_release(&r);
    /* At the upper bound there is nothing yet, */
    ck_assert_int_eq(st_log_read(f.log, 6, 6, 1 << 20, &r), 0);
    ck_assert_uint_eq(r.len, 0);
    /* nor at the log end, and past the end is out of range. */
    ck_assert_int_eq(st_log_read(f.log, 20, INT64_MAX, 1 << 20, &r), 0);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_int_eq(st_log_read(f.log, 21, INT64_MAX, 1 << 20, &r),
                     ST_ERANGE);
    /* The read result names a file descriptor for sendfile. */
    ck_assert_int_eq(st_log_read(f.log, 0, INT64_MAX, 1 << 20, &r), 0);
    ck_assert_int_ge(r.fd, 0);
    st_log_read_release(&r);
}
END_TEST

START_TEST(test_append_refuses_a_bad_batch_whole)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    uint8_t *b;
    size_t len = tl_batch(3, 10, 1, &b);
    struct st_log_append_info info;
    /* A flipped bit inside the CRC'd part fails validation, */
    b[len - 1] ^= 1;
    ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_LEADER, 0, 1,
                                   &info),
                     ST_ECRC);
    b[len - 1] ^= 1;
    /* a cut batch too, and nothing was written. */
    ck_assert_int_ne(st_log_append(f.log, b, len - 3, ST_LOG_APPEND_LEADER,
                                   0, 1, &info),
                     0);
    ck_assert_int_eq(st_log_end_offset(f.log), 0);
    /* A batch over max_message_bytes is refused. */
    f.conf.max_message_bytes = 64;
    reopen();
    ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_LEADER, 0, 1,
                                   &info),
                     ST_ETOOBIG);
    free(b);
}
END_TEST

START_TEST(test_follower_append_keeps_leader_offsets)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    uint8_t *b;
    size_t len = tl_batch(4, 10, 1, &b);
    st_batch_set_base_offset(b, 0);
    st_batch_set_leader_epoch(b, 3);
    struct st_log_append_info info;
    ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_FOLLOWER, 0,
                                   1, &info),
                     0);
    /* A gap (a compacted leader) is kept as is, */
    st_batch_set_base_offset(b, 10);
    ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_FOLLOWER, 0,
                                   1, &info),
                     0);
    ck_assert_int_eq(info.base_offset, 10);
    ck_assert_int_eq(st_log_end_offset(f.log), 14);
    /* offsets behind the log end are refused, */
    st_batch_set_base_offset(b, 12);
    ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_FOLLOWER, 0,
                                   1, &info),
                     ST_ERANGE);
    /* and a read inside the gap starts at the next batch. */
    struct st_log_read_result r;
    ck_assert_int_eq(st_log_read(f.log, 5, INT64_MAX, 1 << 20, &r), 0);
    ck_assert_int_eq(r.first_offset, 10);
    st_log_read_release(&r);
    free(b);
}
END_TEST

/* ---- roll ---- */

START_TEST(test_log_rolls_by_size_and_by_age)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    /* Given 64 KiB segments, 100 appends of ~1 KiB roll a few times, */
    for (int i = 0; i < 100; i++) {
        tl_append(f.log, 1, 1000, 1000);
    }
    size_t n = st_log_segment_count(f.log);
    ck_assert_uint_ge(n, 2);
    /* each file named by its 20-digit base offset. */
    char p[512];
    seg_file(0, ".log", p, sizeof p);
    ck_assert_int_gt(file_size(p), 0);
    ck_assert_int_le(file_size(p), 64 << 10);
    /* With segment_ms = 1 s, an append 1 s after creation rolls. */
    f.conf.segment_ms = 1000;
    reopen();
    n = st_log_segment_count(f.log);
    struct st_log_append_info info;
    uint8_t *b;
    size_t len = tl_batch(1, 10, 1500, &b);
    ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_LEADER, 0,
                                   1500, &info), 0);
    ck_assert_uint_eq(st_log_segment_count(f.log), n);
    free(b);
    len = tl_batch(1, 10, 2000, &b);
    ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_LEADER, 0,
                                   2000, &info), 0);
    ck_assert_uint_eq(st_log_segment_count(f.log), n + 1);
    seg_file(info.base_offset, ".log", p, sizeof p);
    ck_assert_int_gt(file_size(p), 0);
    free(b);
    /* Everything reads back in order across segments. */
    ck_assert_int_eq(tl_scan_all(f.log, 0, NULL), 102);
}
END_TEST

/* ---- recovery ---- */

START_TEST(test_reopen_after_clean_close_keeps_everything)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    for (int i = 0; i < 200; i++) {
        tl_append(f.log, 3, 500, 1000 + i);
    }
    int64_t end = st_log_end_offset(f.log);
    size_t nseg = st_log_segment_count(f.log);
    reopen();
    ck_assert_int_eq(st_log_end_offset(f.log), end);
    ck_assert_uint_eq(st_log_segment_count(f.log), nseg);
    /* Old segments' files and indexes wait until a read needs them. */
    ck_assert_uint_eq(st_log_open_files(f.log), 1);
    ck_assert_uint_eq(st_log_loaded_indexes(f.log), 1);
    int64_t nb;
    ck_assert_int_eq(tl_scan_all(f.log, 0, &nb), end);
    ck_assert_int_eq(nb, 200);
    /* and the next append continues at the end. */
    ck_assert_int_eq(tl_append(f.log, 1, 10, 5000), end);
}
END_TEST

START_TEST(test_missing_or_corrupt_index_is_rebuilt)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    for (int i = 0; i < 200; i++) {
        tl_append(f.log, 3, 500, 1000 + i);
    }
    int64_t end = st_log_end_offset(f.log);
    ck_assert_int_eq(st_log_close(f.log), 0);
    f.log = NULL;
    /* Given the first segment's index deleted and the second's garbled, */
    char p[512];
    seg_file(0, ".index", p, sizeof p);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    ck_assert_int_eq(tl_scan_all(f.log, 0, NULL), end);
    reopen();
    /* (the rebuilt index was written back) */
    ck_assert_int_gt(file_size(p), 0);
    ck_assert_int_eq(st_log_close(f.log), 0);
    f.log = NULL;
    FILE *fp = fopen(p, "r+b");
    fputs("garbage!", fp);
    fclose(fp);
    /* the log still opens and every offset reads back. */
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    ck_assert_int_eq(tl_scan_all(f.log, 0, NULL), end);
    struct st_log_read_result r;
    ck_assert_int_eq(st_log_read(f.log, 301, INT64_MAX, 1, &r), 0);
    ck_assert_int_eq(r.first_offset, 300);
    st_log_read_release(&r);
}
END_TEST

START_TEST(test_torn_tail_is_truncated_at_startup)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    for (int i = 0; i < 10; i++) {
        tl_append(f.log, 2, 100, 1000);
    }
    ck_assert_int_eq(st_log_close(f.log), 0);
    f.log = NULL;
    /* Given the last batch cut short by a crash, */
    char p[512];
    seg_file(0, ".log", p, sizeof p);
    ck_assert_int_eq(truncate(p, file_size(p) - 7), 0);
    char m[512];
    snprintf(m, sizeof m, "%s/clean-shutdown", f.dir);
    unlink(m);
    /* when the log is reopened, */
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    /* only the whole batches remain and appends continue after them. */
    ck_assert_int_eq(st_log_end_offset(f.log), 18);
    ck_assert_int_eq(tl_append(f.log, 1, 10, 1), 18);
    ck_assert_int_eq(tl_scan_all(f.log, 0, NULL), 19);
}
END_TEST

START_TEST(test_corruption_tail_truncated_older_reported_not_served)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    for (int i = 0; i < 300; i++) {
        tl_append(f.log, 1, 600, 1000);
    }
    ck_assert_uint_ge(st_log_segment_count(f.log), 3);
    int64_t active_base = st_log_end_offset(f.log) - 1;
    struct st_log_read_result r;
    ck_assert_int_eq(st_log_read(f.log, active_base, INT64_MAX, 1, &r), 0);
    active_base = r.first_offset;
    st_log_read_release(&r);
    ck_assert_int_eq(st_log_close(f.log), 0);
    f.log = NULL;
    /* Given a byte flipped in the middle of the first (closed) segment */
    char p[512];
    seg_file(0, ".log", p, sizeof p);
    off_t mid = file_size(p) / 2;
    flip_byte(p, mid);
    /* and one in the last batch of the active segment, after a crash, */
    char a[512];
    int64_t last_base = 0;
    for (int64_t b = 0; b <= active_base; b++) {
        seg_file(b, ".log", a, sizeof a);
        if (file_size(a) >= 0) {
            last_base = b;
        }
    }
    seg_file(last_base, ".log", a, sizeof a);
    flip_byte(a, file_size(a) - 5);
    char m[512];
    snprintf(m, sizeof m, "%s/clean-shutdown", f.dir);
    unlink(m);
    /* when the log is reopened (log lines captured), */
    char diag[512];
    snprintf(diag, sizeof diag, "%s/diag.txt", f.dir);
    ck_assert_int_eq(st_diag_open_file(diag), 0);
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    /* the damaged tail batch is gone, */
    ck_assert_int_eq(st_log_end_offset(f.log), 299);
    /* and reading through the older damage answers ST_ECORRUPT instead
     * of serving it, while offsets before it still read. */
    int64_t off = 0;
    int rv = 0;
    for (;;) {
        rv = st_log_read(f.log, off, INT64_MAX, 4096, &r);
        if (rv != 0) {
            break;
        }
        ck_assert_uint_gt(r.len, 0);
        ck_assert_uint_le(r.pos + r.len, (uint64_t)mid + 1);
        off = r.next_offset;
        st_log_read_release(&r);
    }
    ck_assert_int_eq(rv, ST_ECORRUPT);
    ck_assert_int_gt(off, 0);
    /* The damage was reported with its file and position. */
    struct st_log_read_result at;
    ck_assert_int_eq(st_log_read(f.log, off - 1, INT64_MAX, 1, &at), 0);
    char want[600];
    snprintf(want, sizeof want, "path=%s pos=%llu", p,
             (unsigned long long)(at.pos + at.len));
    st_log_read_release(&at);
    FILE *fp = fopen(diag, "r");
    ck_assert_ptr_nonnull(fp);
    char line[1024];
    bool seen = false;
    while (fgets(line, sizeof line, fp) != NULL) {
        seen = seen || strstr(line, want) != NULL;
    }
    fclose(fp);
    ck_assert_msg(seen, "no line with %s", want);
    /* Later segments are still served. */
    ck_assert_int_eq(st_log_read(f.log, active_base, INT64_MAX, 1, &r), 0);
    st_log_read_release(&r);
}
END_TEST

/* ---- truncation ---- */

START_TEST(test_truncate_to_drops_suffix_at_batch_boundary)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    uint8_t *b;
    size_t len = tl_batch(5, 800, 1, &b);
    struct st_log_append_info info;
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_LEADER,
                                       i < 50 ? 1 : 2, 1, &info),
                         0);
    }
    size_t nseg = st_log_segment_count(f.log);
    ck_assert_uint_ge(nseg, 3);
    /* Truncating to offset 137 (inside the batch 135..139) cuts at 135, */
    ck_assert_int_eq(st_log_truncate_to(f.log, 137), 0);
    ck_assert_int_eq(st_log_end_offset(f.log), 135);
    ck_assert_uint_lt(st_log_segment_count(f.log), nseg);
    ck_assert_int_eq(tl_scan_all(f.log, 0, NULL), 135);
    /* the epoch cache loses epoch 2 (it started at 250), */
    ck_assert_int_eq(st_epoch_cache_latest(st_log_epochs(f.log)), 1);
    /* the next append continues at 135, and it all survives a reopen. */
    ck_assert_int_eq(st_log_append(f.log, b, len, ST_LOG_APPEND_LEADER, 3, 1,
                                   &info),
                     0);
    ck_assert_int_eq(info.base_offset, 135);
    reopen_unclean();
    ck_assert_int_eq(st_log_end_offset(f.log), 140);
    ck_assert_int_eq(tl_scan_all(f.log, 0, NULL), 140);
    ck_assert_int_eq(st_epoch_cache_latest(st_log_epochs(f.log)), 3);
    /* Truncating below the start is refused. */
    ck_assert_int_eq(st_log_truncate_full(f.log, 1000, 1), 0);
    ck_assert_int_eq(st_log_truncate_to(f.log, 10), ST_ERANGE);
    free(b);
}
END_TEST

START_TEST(test_truncate_full_restarts_empty_at_offset)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    for (int i = 0; i < 50; i++) {
        tl_append(f.log, 3, 800, 1);
    }
    /* Given a read pinning the first segment, a restart at offset 0 reuses
     * its name; the pinned bytes stay readable and releasing them later
     * does not delete the new segment. */
    struct st_log_read_result pin;
    ck_assert_int_eq(st_log_read(f.log, 0, INT64_MAX, 100, &pin), 0);
    ck_assert_int_eq(st_log_truncate_full(f.log, 0, 1), 0);
    ck_assert_int_eq(tl_append(f.log, 1, 1, 1), 0);
    uint8_t *old = tl_slurp(&pin);
    struct st_batch_header h;
    ck_assert_int_eq(st_batch_validate(old, pin.len, 1 << 20, &h), 0);
    free(old);
    st_log_read_release(&pin);
    reopen();
    ck_assert_int_eq(st_log_end_offset(f.log), 1);
    ck_assert_int_eq(st_log_truncate_full(f.log, 5000, 1), 0);
    ck_assert_int_eq(st_log_start_offset(f.log), 5000);
    ck_assert_int_eq(st_log_end_offset(f.log), 5000);
    ck_assert_uint_eq(st_log_segment_count(f.log), 1);
    struct st_log_read_result r;
    ck_assert_int_eq(st_log_read(f.log, 10, INT64_MAX, 100, &r), ST_ERANGE);
    ck_assert_int_eq(tl_append(f.log, 1, 1, 1), 5000);
    reopen_unclean();
    ck_assert_int_eq(st_log_start_offset(f.log), 5000);
    ck_assert_int_eq(st_log_end_offset(f.log), 5001);
    char p[512];
    seg_file(0, ".log", p, sizeof p);
    ck_assert_int_eq(file_size(p), -1);
}
END_TEST

/* ---- time ---- */

START_TEST(test_offset_for_time_finds_first_batch_at_or_after)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    for (int i = 0; i < 300; i++) {
        tl_append(f.log, 2, 300, 10000 + i * 10);
    }
    int64_t off;
    ck_assert_int_eq(st_log_offset_for_time(f.log, 0, &off), 0);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(st_log_offset_for_time(f.log, 10000 + 150 * 10, &off),
                     0);
    ck_assert_int_eq(off, 300);
    ck_assert_int_eq(st_log_offset_for_time(f.log, 10000 + 150 * 10 - 5,
                                            &off),
                     0);
    ck_assert_int_eq(off, 300);
    ck_assert_int_eq(st_log_offset_for_time(f.log, 99999999, &off),
                     ST_ENOENT);
    reopen();
    ck_assert_int_eq(st_log_offset_for_time(f.log, 10000 + 299 * 10, &off),
                     0);
    ck_assert_int_eq(off, 598);
}
END_TEST

/* ---- files ---- */

START_TEST(test_idle_segment_files_close_and_reopen_on_read)
{
    ck_assert_int_eq(st_log_open(f.vfs, f.dir, &f.conf, 1000, &f.log), 0);
    for (int i = 0; i < 300; i++) {
        tl_append(f.log, 1, 600, 1000);
    }
    ck_assert_int_eq(st_log_flush(f.log), 0);
    size_t nseg = st_log_segment_count(f.log);
    ck_assert_uint_ge(nseg, 3);
    /* Two sweeps idle_ms apart close every unpinned old segment's file
     * (and drop its in-memory index), */
    ck_assert_uint_eq(st_log_loaded_indexes(f.log), nseg);
    st_log_close_idle(f.log, 1000, 500);
    st_log_close_idle(f.log, 2000, 500);
    ck_assert_uint_eq(st_log_open_files(f.log), 1);
    ck_assert_uint_eq(st_log_loaded_indexes(f.log), 1);
    /* a read reopens the one it needs, */
    struct st_log_read_result r;
    ck_assert_int_eq(st_log_read(f.log, 0, INT64_MAX, 100, &r), 0);
    ck_assert_uint_eq(st_log_open_files(f.log), 2);
    ck_assert_uint_eq(st_log_loaded_indexes(f.log), 2);
    /* and a pinned file stays open. */
    st_log_close_idle(f.log, 3000, 500);
    st_log_close_idle(f.log, 4000, 500);
    ck_assert_uint_eq(st_log_open_files(f.log), 2);
    st_log_read_release(&r);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("log_core");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_index_lookup_edges);
    tcase_add_test(tc, test_time_index_finds_scan_start);
    tcase_add_test(tc, test_leader_append_assigns_offsets_and_reads_back_bytes);
    tcase_add_test(tc, test_read_respects_max_bytes_upper_bound_and_range);
    tcase_add_test(tc, test_append_refuses_a_bad_batch_whole);
    tcase_add_test(tc, test_follower_append_keeps_leader_offsets);
    tcase_add_test(tc, test_log_rolls_by_size_and_by_age);
    tcase_add_test(tc, test_reopen_after_clean_close_keeps_everything);
    tcase_add_test(tc, test_missing_or_corrupt_index_is_rebuilt);
    tcase_add_test(tc, test_torn_tail_is_truncated_at_startup);
    tcase_add_test(tc, test_corruption_tail_truncated_older_reported_not_served);
    tcase_add_test(tc, test_truncate_to_drops_suffix_at_batch_boundary);
    tcase_add_test(tc, test_truncate_full_restarts_empty_at_offset);
    tcase_add_test(tc, test_offset_for_time_finds_first_batch_at_or_after);
    tcase_add_test(tc, test_idle_segment_files_close_and_reopen_on_read);
    suite_add_tcase(s, tc);
    return s;
}
