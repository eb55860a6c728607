/* Regression tests for damage the fuzz target tests/fuzz/fuzz_log_open.c
 * found in a partition log's segments: bytes outside the batch CRC (the
 * base offset) changed in a segment that open trusts and does not scan,
 * or header bytes under the CRC that open reads without checking it. */
#include "test_log_util.h"

#define DIR "/p"
#define SEG0 DIR "/00000000000000000000.log"

static struct {
    struct st_vfs *vfs;
    struct st_log *log;
    struct st_log_config conf;
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(st_vfs_mem_new(1, &f.vfs), 0);
    st_log_config_init(&f.conf);
    f.conf.segment_bytes = 1024;
}

static void teardown(void)
{
    st_log_close(f.log);
    st_vfs_mem_free(f.vfs);
}

/* Given a cleanly closed log of 12 one-record batches, over several
 * segments with the 1 KiB default of setup() (so the first segment is
 * trusted at open and never scanned). */
static void write_clean_log(void)
{
    ck_assert_int_eq(st_log_open(f.vfs, DIR, &f.conf, 1000, &f.log), 0);
    for (int i = 0; i < 12; i++) {
        tl_append(f.log, 1, 100, 1000 + i);
    }
    if (f.conf.segment_bytes == 1024) {
        ck_assert_uint_gt(st_log_segment_count(f.log), 1);
    }
    ck_assert_int_eq(st_log_close(f.log), 0);
    f.log = NULL;
}

/* Overwrite the base offset (not covered by the CRC) of batch @k of the
 * first segment with @base. */
static void set_base_offset(int k, int64_t base)
{
    struct st_file *fl;
    uint8_t hdr[ST_BATCH_HEADER_BYTES];
    uint64_t pos = 0;
    size_t n;
    ck_assert_int_eq(st_vfs_open(f.vfs, SEG0, 0, &fl), 0);
    for (int i = 0; i <= k; i++) {
        struct st_batch_header h;
        ck_assert_int_eq(st_vfs_pread(fl, hdr, sizeof hdr, pos, &n), 0);
        ck_assert_int_eq(st_batch_header_decode(hdr, n, &h), 0);
        if (i == k) {
            st_put_be64(hdr, (uint64_t)base);
            ck_assert_int_eq(st_vfs_pwrite(fl, hdr, 8, pos), 0);
        }
        pos += st_batch_total_bytes(&h);
    }
    ck_assert_int_eq(st_vfs_fsync(fl), 0);
    st_vfs_close(fl);
}

/* Read from the start: every batch served is in order and below the end;
 * returns the first error (0 when everything was read). */
static int read_everything(void)
{
    int64_t off = st_log_start_offset(f.log), end = st_log_end_offset(f.log);
    while (off < end) {
        struct st_log_read_result r;
        int rv = st_log_read(f.log, off, end, 1 << 20, &r);
        if (rv != 0) {
            return rv;
        }
        ck_assert_uint_gt(r.len, 0);
        uint8_t *p = tl_slurp(&r);
        int64_t next = -1;
        for (size_t at = 0; at < r.len;) {
            struct st_batch_header h;
            ck_assert_int_eq(st_batch_validate(p + at, r.len - at, 1 << 20,
                                               &h), 0);
            ck_assert_int_ge(h.base_offset, next);
            next = st_batch_last_offset(&h) + 1;
            at += st_batch_total_bytes(&h);
        }
        free(p);
        st_log_read_release(&r);
        ck_assert_int_gt(next, off);
        ck_assert_int_le(next, end);
        off = next;
    }
    return 0;
}

START_TEST(test_read_refuses_offsets_going_backwards_in_a_trusted_segment)
{
    /* Given a clean log whose first segment's third batch now claims
     * offset 0 (fuzz_log_open: "batches out of offset order"), */
    write_clean_log();
    set_base_offset(2, 0);
    /* when it is reopened and read from the start, */
    ck_assert_int_eq(st_log_open(f.vfs, DIR, &f.conf, 2000, &f.log), 0);
    /* the damage is reported instead of served. */
    ck_assert_int_eq(read_everything(), ST_ECORRUPT);
}
END_TEST

START_TEST(test_offset_for_time_refuses_a_batch_outside_its_segment)
{
    /* Given a clean log whose first segment's second batch now claims
     * offset 512, past that segment's end (fuzz_log_open: "offset_for_time
     * outside the log"), */
    write_clean_log();
    set_base_offset(1, 512);
    ck_assert_int_eq(st_log_open(f.vfs, DIR, &f.conf, 2000, &f.log), 0);
    /* when the first offset at or after time 0 is asked for, */
    int64_t off = -1;
    int rv = st_log_offset_for_time(f.log, 0, &off);
    /* the damage is reported, or the answer lies inside the log. */
    ck_assert(rv == ST_ECORRUPT ||
              (rv == 0 && off < st_log_end_offset(f.log)));
    ck_assert_int_ne(off, 512);
}
END_TEST

START_TEST(test_open_cuts_a_batch_reaching_into_the_next_segment)
{
    /* Given a log that did not shut down cleanly (every segment is
     * scanned) whose first segment's second batch claims offset 512, past
     * the next segment's base, */
    write_clean_log();
    set_base_offset(1, 512);
    ck_assert_int_eq(st_vfs_unlink(f.vfs, DIR "/clean-shutdown"), 0);
    ck_assert_int_eq(st_vfs_unlink(f.vfs, DIR "/recovery-point"), 0);
    /* when it is reopened, */
    ck_assert_int_eq(st_log_open(f.vfs, DIR, &f.conf, 2000, &f.log), 0);
    /* the log ends before the damaged batch and serves nothing past it. */
    ck_assert_int_eq(st_log_end_offset(f.log), 1);
    ck_assert_int_eq(read_everything(), 0);
}
END_TEST

START_TEST(test_append_after_damage_in_the_active_segment_reads_back)
{
    /* Given a clean one-segment log whose first batch fails its CRC, found
     * by a read (fuzz_log_open: "the appended batch does not read back"), */
    f.conf.segment_bytes = 1 << 20;
    write_clean_log();
    struct st_file *fl;
    uint8_t b = 0;
    size_t n;
    ck_assert_int_eq(st_vfs_open(f.vfs, SEG0, 0, &fl), 0);
    ck_assert_int_eq(st_vfs_pread(fl, &b, 1, 70, &n), 0);
    b ^= 0x10;
    ck_assert_int_eq(st_vfs_pwrite(fl, &b, 1, 70), 0);
    st_vfs_close(fl);
    ck_assert_int_eq(st_log_open(f.vfs, DIR, &f.conf, 2000, &f.log), 0);
    ck_assert_int_eq(read_everything(), ST_ECORRUPT);
    /* when a batch is appended, */
    int64_t at = tl_append(f.log, 1, 10, 3000);
    /* it reads back. */
    struct st_log_read_result r;
    ck_assert_int_eq(st_log_read(f.log, at, at + 1, 1 << 20, &r), 0);
    ck_assert_int_eq(r.first_offset, at);
    ck_assert_uint_gt(r.len, 0);
    st_log_read_release(&r);
}
END_TEST

/* The path of the newest (active) segment file. */
static void newest_segment(char *path, size_t cap)
{
    char **names = NULL;
    size_t n = 0;
    const char *best = NULL;
    ck_assert_int_eq(st_vfs_list(f.vfs, DIR, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (len > 4 && strcmp(names[i] + len - 4, ".log") == 0 &&
            (best == NULL || strcmp(names[i], best) > 0)) {
            best = names[i];
        }
    }
    ck_assert_ptr_nonnull(best);
    snprintf(path, cap, DIR "/%s", best);
    st_vfs_names_free(names, n);
}

START_TEST(test_append_after_a_negative_last_offset_delta_reads_back)
{
    /* Given a clean log with dense indexes whose active segment's last
     * batch now claims a negative last offset delta (covered by the CRC,
     * which open does not check from the last index entry on) --
     * fuzz_log_open: "the appended batch does not read back", */
    f.conf.index_interval_bytes = 100;
    write_clean_log();
    char seg[256];
    newest_segment(seg, sizeof seg);
    ck_assert_str_ne(seg, SEG0);
    struct st_file *fl;
    uint8_t hdr[ST_BATCH_HEADER_BYTES];
    uint64_t pos = 0, size = 0, last = 0;
    size_t n;
    ck_assert_int_eq(st_vfs_open(f.vfs, seg, 0, &fl), 0);
    ck_assert_int_eq(st_vfs_size(fl, &size), 0);
    while (pos < size) {
        struct st_batch_header h;
        ck_assert_int_eq(st_vfs_pread(fl, hdr, sizeof hdr, pos, &n), 0);
        ck_assert_int_eq(st_batch_header_decode(hdr, n, &h), 0);
        last = pos;
        pos += st_batch_total_bytes(&h);
    }
    st_put_be32(hdr, 0xfb000001u); /* -83886079, as the fuzzer wrote */
    ck_assert_int_eq(st_vfs_pwrite(fl, hdr, 4, last + 23), 0);
    ck_assert_int_eq(st_vfs_fsync(fl), 0);
    st_vfs_close(fl);
    /* when it is reopened, */
    ck_assert_int_eq(st_log_open(f.vfs, DIR, &f.conf, 2000, &f.log), 0);
    /* the damaged batch is cut, not taken to end the log below its start, */
    ck_assert_int_eq(st_log_start_offset(f.log), 0);
    ck_assert_int_eq(st_log_end_offset(f.log), 11);
    ck_assert_int_eq(read_everything(), 0);
    /* and a batch appended then lands at the end and reads back. */
    int64_t at = tl_append(f.log, 1, 10, 3000);
    ck_assert_int_eq(at, 11);
    struct st_log_read_result r;
    ck_assert_int_eq(st_log_read(f.log, at, at + 1, 1 << 20, &r), 0);
    ck_assert_int_eq(r.first_offset, at);
    ck_assert_uint_gt(r.len, 0);
    st_log_read_release(&r);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("log_damage");
    TCase *tc = tcase_create("fuzzed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(
        tc, test_read_refuses_offsets_going_backwards_in_a_trusted_segment);
    tcase_add_test(tc, test_offset_for_time_refuses_a_batch_outside_its_segment);
    tcase_add_test(tc, test_open_cuts_a_batch_reaching_into_the_next_segment);
    tcase_add_test(tc,
                   test_append_after_damage_in_the_active_segment_reads_back);
    tcase_add_test(tc,
                   test_append_after_a_negative_last_offset_delta_reads_back);
    suite_add_tcase(s, tc);
    return s;
}
