/* Raft storage: log segments, term/vote, snapshots, recovery, crashes and
 * injected faults (controller/raft/raft_store.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/vfs.h"
#include "controller/raft/raft_segment.h"
#include "controller/raft/raft_store.h"
#include "test_util.h"

#define DIR "/node/raft"
#define SEG1 DIR "/log-00000000000000000001.seg"

static struct {
    struct st_vfs *vfs;
    struct raft_store *s;
    struct raft_store_state st;
    char tmp[256]; /* posix scratch dir, when used */
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(st_vfs_mem_new(1, &f.vfs), 0);
}

static void teardown(void)
{
    raft_store_close(f.s);
    if (f.vfs != st_vfs_posix()) {
        st_vfs_mem_free(f.vfs);
    }
    if (f.tmp[0] != '\0') {
        st_test_rmdir(f.tmp);
    }
}

/* ---- entries with contents derived from (index, term, salt) ---- */

static size_t data_len(raft_index i, uint32_t salt)
{
    return (size_t)((i * 7 + salt) % 40);
}

static void data_fill(uint8_t *p, raft_index i, raft_term t, uint32_t salt)
{
    for (size_t k = 0; k < data_len(i, salt); k++) {
        p[k] = (uint8_t)(i * 31 + t * 5 + salt * 17 + k);
    }
}

/* Append [from, to] in term @t, one call. */
static int append_range(struct raft_store *s, raft_index from, raft_index to,
                        raft_term t, uint32_t salt)
{
    size_t n = (size_t)(to - from + 1);
    struct raft_entry *es = calloc(n, sizeof *es);
    uint8_t *data = calloc(n, 64);
    for (size_t k = 0; k < n; k++) {
        raft_index i = from + k;
        data_fill(data + k * 64, i, t, salt);
        es[k] = (struct raft_entry){.term = t, .index = i,
                                    .type = RAFT_ENTRY_COMMAND,
                                    .data = {data + k * 64,
                                             data_len(i, salt)}};
    }
    int rv = raft_store_append(s, es, n);
    free(es);
    free(data);
    return rv;
}

static void assert_entry(struct raft_store *s, raft_index i, raft_term t,
                         uint32_t salt)
{
    struct st_buf b;
    struct raft_entry e;
    uint8_t want[64];
    st_buf_init(&b);
    ck_assert_int_eq(raft_store_get(s, i, &e, &b), 0);
    ck_assert_uint_eq(e.index, i);
    ck_assert_uint_eq(e.term, t);
    ck_assert_uint_eq(e.type, RAFT_ENTRY_COMMAND);
    data_fill(want, i, t, salt);
    ck_assert_uint_eq(e.data.len, data_len(i, salt));
    ck_assert(memcmp(e.data.base, want, e.data.len) == 0);
    st_buf_close(&b);
}

static void reopen(const struct raft_store_options *o)
{
    raft_store_close(f.s);
    f.s = NULL;
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, o, &f.s, &f.st), 0);
}

static int reopen_rv(void)
{
    raft_store_close(f.s);
    f.s = NULL;
    return raft_store_open(f.vfs, DIR, NULL, &f.s, &f.st);
}

static const struct raft_store_options small_segs = {.segment_bytes = 256};

/* ---- bytes on disk ---- */

static uint8_t *file_read(const char *path, size_t *len)
{
    uint8_t *p = NULL;
    ck_assert_int_eq(st_vfs_read_all(f.vfs, path, &p, len), 0);
    return p;
}

static void file_write(const char *path, const uint8_t *p, size_t len)
{
    struct st_file *fl = NULL;
    ck_assert_int_eq(st_vfs_open(f.vfs, path, ST_VFS_CREATE | ST_VFS_TRUNC,
                                 &fl), 0);
    ck_assert_int_eq(st_vfs_pwrite(fl, p, len, 0), 0);
    ck_assert_int_eq(st_vfs_fsync(fl), 0);
    ck_assert_int_eq(st_vfs_close(fl), 0);
}

static uint64_t file_size(const char *path)
{
    size_t len;
    uint8_t *p = file_read(path, &len);
    st_free(p);
    return len;
}

/* Append @n bytes from @extra to @path. */
static void file_append(const char *path, const uint8_t *extra, size_t n)
{
    size_t len;
    uint8_t *p = file_read(path, &len);
    uint8_t *q = malloc(len + n);
    memcpy(q, p, len);
    memcpy(q + len, extra, n);
    file_write(path, q, len + n);
    free(q);
    st_free(p);
}

static void file_chop(const char *path, size_t n)
{
    size_t len;
    uint8_t *p = file_read(path, &len);
    file_write(path, p, len - n);
    st_free(p);
}

static void file_flip(const char *path, size_t pos)
{
    size_t len;
    uint8_t *p = file_read(path, &len);
    ck_assert_uint_lt(pos, len);
    p[pos] ^= 0x40;
    file_write(path, p, len);
    st_free(p);
}

static bool exists(const char *path)
{
    return st_vfs_stat(f.vfs, path, NULL) == 0;
}

/* ---- basic behaviour ---- */

START_TEST(test_fresh_store_starts_empty_at_term_zero)
{
    /* Given no directory, when the store is opened, */
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, NULL, &f.s, &f.st), 0);
    /* then it is empty at term 0 with no vote and no snapshot. */
    ck_assert_uint_eq(f.st.term, 0);
    ck_assert_uint_eq(f.st.voted_for, 0);
    ck_assert_uint_eq(f.st.snapshot_index, 0);
    ck_assert_uint_eq(f.st.first_index, 1);
    ck_assert_uint_eq(f.st.last_index, 0);
    struct raft_entry e;
    struct st_buf b;
    st_buf_init(&b);
    ck_assert_int_eq(raft_store_get(f.s, 1, &e, &b), ST_ERANGE);
    ck_assert_int_eq(raft_store_snapshot_load(f.s, NULL, NULL, NULL, NULL),
                     ST_ENOENT);
}
END_TEST

static void round_trip(void)
{
    ck_assert_int_eq(raft_store_open(f.vfs, f.tmp[0] ? f.tmp : DIR,
                                     &small_segs, &f.s, &f.st), 0);
    /* Given 100 entries in three terms appended in batches and synced, */
    ck_assert_int_eq(append_range(f.s, 1, 30, 1, 0), 0);
    ck_assert_int_eq(append_range(f.s, 31, 31, 2, 0), 0);
    ck_assert_int_eq(append_range(f.s, 32, 100, 3, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    /* when the store is closed and opened again, */
    raft_store_close(f.s);
    f.s = NULL;
    ck_assert_int_eq(raft_store_open(f.vfs, f.tmp[0] ? f.tmp : DIR,
                                     &small_segs, &f.s, &f.st), 0);
    /* then every entry reads back across many segments, */
    ck_assert_uint_eq(f.st.first_index, 1);
    ck_assert_uint_eq(f.st.last_index, 100);
    for (raft_index i = 1; i <= 100; i++) {
        assert_entry(f.s, i, i <= 30 ? 1 : i == 31 ? 2 : 3, 0);
    }
    raft_term t;
    ck_assert_int_eq(raft_store_term_at(f.s, 31, &t), 0);
    ck_assert_uint_eq(t, 2);
    /* and appends continue after the last one. */
    ck_assert_int_eq(append_range(f.s, 101, 110, 3, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    assert_entry(f.s, 110, 3, 0);
}

START_TEST(test_append_sync_reopen_round_trips_across_segment_rolls)
{
    round_trip();
    ck_assert(exists(DIR "/log-00000000000000000001.seg"));
    char **names;
    size_t n;
    ck_assert_int_eq(st_vfs_list(f.vfs, DIR, &names, &n), 0);
    ck_assert_uint_gt(n, 10); /* 256-byte segments: many of them */
    st_vfs_names_free(names, n);
}
END_TEST

START_TEST(test_round_trip_on_the_real_file_system)
{
    st_vfs_mem_free(f.vfs);
    f.vfs = st_vfs_posix();
    st_test_tmpdir(f.tmp, sizeof f.tmp - 8);
    strcat(f.tmp, "/raft");
    round_trip();
    f.tmp[strlen(f.tmp) - 5] = '\0'; /* teardown removes the parent */
}
END_TEST

static int count_cb(void *arg, const struct raft_entry *e)
{
    raft_index *next = arg;
    ck_assert_uint_eq(e->index, *next);
    (*next)++;
    return e->index == 50 ? 7 : 0;
}

START_TEST(test_load_walks_entries_in_order_and_stops_on_request)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, &small_segs, &f.s, &f.st),
                     0);
    ck_assert_int_eq(append_range(f.s, 1, 60, 1, 0), 0);
    /* Given 60 entries, when loading from 10 with a callback that stops at
     * 50, then it sees 10..50 in order and its value is returned. */
    raft_index next = 10;
    ck_assert_int_eq(raft_store_load(f.s, 10, count_cb, &next), 7);
    ck_assert_uint_eq(next, 51);
}
END_TEST

START_TEST(test_term_and_vote_survive_reopen)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, NULL, &f.s, &f.st), 0);
    /* Given term 7 with a vote for node 3 saved, then term 8 with none, */
    ck_assert_int_eq(raft_store_save_term_vote(f.s, 7, 3), 0);
    reopen(NULL);
    ck_assert_uint_eq(f.st.term, 7);
    ck_assert_uint_eq(f.st.voted_for, 3);
    ck_assert_int_eq(raft_store_save_term_vote(f.s, 8, 0), 0);
    /* when power is lost right after, */
    st_vfs_mem_crash(f.vfs, ST_VFS_CRASH_DROP_ALL);
    reopen(NULL);
    /* then the last saved pair is what comes back. */
    ck_assert_uint_eq(f.st.term, 8);
    ck_assert_uint_eq(f.st.voted_for, 0);
}
END_TEST

START_TEST(test_open_refuses_a_garbled_meta_file)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, NULL, &f.s, &f.st), 0);
    ck_assert_int_eq(raft_store_save_term_vote(f.s, 7, 3), 0);
    /* Given a meta file with one flipped bit, */
    file_flip(DIR "/meta", 9);
    /* when the store is opened, it refuses to guess a term. */
    ck_assert_int_eq(reopen_rv(), ST_ECORRUPT);
    /* And a meta file of the wrong size is refused too. */
    file_write(DIR "/meta", (const uint8_t *)"xx", 2);
    ck_assert_int_eq(reopen_rv(), ST_ECORRUPT);
}
END_TEST

START_TEST(test_truncate_from_then_append_replaces_the_suffix)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, &small_segs, &f.s, &f.st),
                     0);
    /* Given 1..40 in term 1, synced, */
    ck_assert_int_eq(append_range(f.s, 1, 40, 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    /* when a divergent suffix from 12 is removed and 12..20 of term 2
     * appended and synced, */
    ck_assert_int_eq(raft_store_truncate_from(f.s, 12), 0);
    raft_store_state(f.s, &f.st);
    ck_assert_uint_eq(f.st.last_index, 11);
    ck_assert_int_eq(append_range(f.s, 12, 20, 2, 1), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    /* then after a power loss the log is 1..11 of term 1, 12..20 of 2. */
    st_vfs_mem_crash(f.vfs, ST_VFS_CRASH_DROP_ALL);
    reopen(&small_segs);
    ck_assert_uint_eq(f.st.last_index, 20);
    for (raft_index i = 1; i <= 20; i++) {
        assert_entry(f.s, i, i <= 11 ? 1 : 2, i <= 11 ? 0 : 1);
    }
    /* Truncating past the end changes nothing. */
    ck_assert_int_eq(raft_store_truncate_from(f.s, 21), 0);
    /* Truncating everything empties the log. */
    ck_assert_int_eq(raft_store_truncate_from(f.s, 1), 0);
    reopen(&small_segs);
    ck_assert_uint_eq(f.st.last_index, 0);
    ck_assert_int_eq(append_range(f.s, 1, 3, 3, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    reopen(&small_segs);
    ck_assert_uint_eq(f.st.last_index, 3);
    assert_entry(f.s, 3, 3, 0);
}
END_TEST

START_TEST(test_append_refuses_gaps_backward_terms_and_bad_types)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, NULL, &f.s, &f.st), 0);
    ck_assert_int_eq(append_range(f.s, 1, 5, 2, 0), 0);
    /* A gap, a repeated index, a lower term and a term of 0 are refused. */
    ck_assert_int_eq(append_range(f.s, 7, 7, 2, 0), ST_EINVAL);
    ck_assert_int_eq(append_range(f.s, 5, 5, 2, 0), ST_EINVAL);
    ck_assert_int_eq(append_range(f.s, 6, 6, 1, 0), ST_EINVAL);
    ck_assert_int_eq(append_range(f.s, 6, 6, 0, 0), ST_EINVAL);
    struct raft_entry e = {.term = 2, .index = 6, .type = 9};
    ck_assert_int_eq(raft_store_append(f.s, &e, 1), ST_EINVAL);
    /* and none of it is sticky or changes the log. */
    ck_assert_int_eq(raft_store_failed(f.s), 0);
    ck_assert_int_eq(append_range(f.s, 6, 6, 2, 0), 0);
    raft_store_state(f.s, &f.st);
    ck_assert_uint_eq(f.st.last_index, 6);
}
END_TEST

/* ---- torn tails and rot ---- */

/* Given 1..5 synced into one segment. */
static void five_entries(void)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, NULL, &f.s, &f.st), 0);
    ck_assert_int_eq(append_range(f.s, 1, 5, 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    raft_store_close(f.s);
    f.s = NULL;
}

START_TEST(test_open_truncates_a_record_cut_short)
{
    five_entries();
    uint64_t size = file_size(SEG1);
    /* Given the last record cut short by 3 bytes, */
    file_chop(SEG1, 3);
    /* when the store is opened, */
    reopen(NULL);
    /* then 1..4 remain, the file is cut to them, and 5 can be rewritten. */
    ck_assert_uint_eq(f.st.last_index, 4);
    ck_assert_uint_eq(file_size(SEG1),
                      size - raft_seg_record_size(data_len(5, 0)));
    assert_entry(f.s, 4, 1, 0);
    ck_assert_int_eq(append_range(f.s, 5, 6, 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    reopen(NULL);
    ck_assert_uint_eq(f.st.last_index, 6);
    assert_entry(f.s, 6, 1, 0);
}
END_TEST

START_TEST(test_open_truncates_zeroes_after_the_last_record)
{
    five_entries();
    uint64_t size = file_size(SEG1);
    /* Given 4 KiB of zeroes after the last record (a file extended but
     * never written), */
    uint8_t zeroes[4096] = {0};
    file_append(SEG1, zeroes, sizeof zeroes);
    /* when opened, then 1..5 remain and the zeroes are gone. */
    reopen(NULL);
    ck_assert_uint_eq(f.st.last_index, 5);
    ck_assert_uint_eq(file_size(SEG1), size);
}
END_TEST

START_TEST(test_open_truncates_garbage_after_the_last_record)
{
    five_entries();
    uint64_t size = file_size(SEG1);
    /* Given random bytes after the last record, */
    uint8_t junk[333];
    uint64_t r = 42;
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (uint8_t)st_test_rand(&r);
    }
    file_append(SEG1, junk, sizeof junk);
    /* when opened, then 1..5 remain and the garbage is gone. */
    reopen(NULL);
    ck_assert_uint_eq(f.st.last_index, 5);
    ck_assert_uint_eq(file_size(SEG1), size);
}
END_TEST

START_TEST(test_open_truncates_a_bad_crc_on_the_last_record)
{
    five_entries();
    /* Given a flipped byte inside the last record's data, */
    file_flip(SEG1, file_size(SEG1) - 1);
    /* when opened, it is taken for a torn write: 1..4 remain. */
    reopen(NULL);
    ck_assert_uint_eq(f.st.last_index, 4);
}
END_TEST

START_TEST(test_open_refuses_a_flipped_byte_in_a_middle_record)
{
    five_entries();
    /* Given a flipped byte in the third record (intact ones follow), */
    size_t off = RAFT_SEG_HEADER_BYTES +
                 raft_seg_record_size(data_len(1, 0)) +
                 raft_seg_record_size(data_len(2, 0)) + 10;
    file_flip(SEG1, off);
    /* when opened, it is refused as corruption and nothing is cut. */
    uint64_t size = file_size(SEG1);
    ck_assert_int_eq(reopen_rv(), ST_ECORRUPT);
    ck_assert_uint_eq(file_size(SEG1), size);
}
END_TEST

START_TEST(test_open_refuses_a_flipped_length_in_a_middle_record)
{
    five_entries();
    /* Given the second record's length field made huge, */
    file_flip(SEG1, RAFT_SEG_HEADER_BYTES +
                        raft_seg_record_size(data_len(1, 0)));
    /* when opened, the intact records after it show it is not a torn
     * tail: refused. */
    ck_assert_int_eq(reopen_rv(), ST_ECORRUPT);
}
END_TEST

START_TEST(test_open_refuses_damage_in_an_older_segment)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, &small_segs, &f.s, &f.st),
                     0);
    ck_assert_int_eq(append_range(f.s, 1, 40, 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    raft_store_close(f.s);
    f.s = NULL;
    /* Given the last byte of the first (sealed) segment flipped, */
    file_flip(SEG1, file_size(SEG1) - 1);
    /* when opened, that is rot, not a torn tail: refused. */
    ck_assert_int_eq(reopen_rv(), ST_ECORRUPT);
}
END_TEST

START_TEST(test_open_refuses_a_missing_middle_segment)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, &small_segs, &f.s, &f.st),
                     0);
    ck_assert_int_eq(append_range(f.s, 1, 40, 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    raft_store_close(f.s);
    f.s = NULL;
    /* Given the second segment deleted, */
    char **names;
    size_t n;
    ck_assert_int_eq(st_vfs_list(f.vfs, DIR, &names, &n), 0);
    char path[512];
    snprintf(path, sizeof path, DIR "/%s", names[1]);
    st_vfs_names_free(names, n);
    ck_assert_int_eq(st_vfs_unlink(f.vfs, path), 0);
    /* when opened, the gap is refused. */
    ck_assert_int_eq(reopen_rv(), ST_ECORRUPT);
}
END_TEST

START_TEST(test_open_deletes_a_torn_empty_last_segment)
{
    five_entries();
    /* Given a new segment whose header was torn, */
    const char *p = DIR "/log-00000000000000000006.seg";
    file_write(p, (const uint8_t *)"RLO", 3);
    /* when opened, it goes and the log ends at 5. */
    reopen(NULL);
    ck_assert(!exists(p));
    ck_assert_uint_eq(f.st.last_index, 5);
}
END_TEST

/* ---- snapshots ---- */

START_TEST(test_snapshot_save_compacts_segments_and_reopen_gives_the_rest)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, &small_segs, &f.s, &f.st),
                     0);
    ck_assert_int_eq(append_range(f.s, 1, 80, 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    /* Given 1..80, when a snapshot at 50 (term 1) is saved, */
    ck_assert_int_eq(raft_store_snapshot_save(f.s, 50, 1, "state", 5), 0);
    /* then the first segment is gone, and after reopen the store gives the
     * snapshot plus 51..80. */
    ck_assert(!exists(SEG1));
    reopen(&small_segs);
    ck_assert_uint_eq(f.st.snapshot_index, 50);
    ck_assert_uint_eq(f.st.snapshot_term, 1);
    ck_assert_uint_eq(f.st.first_index, 51);
    ck_assert_uint_eq(f.st.last_index, 80);
    for (raft_index i = 51; i <= 80; i++) {
        assert_entry(f.s, i, 1, 0);
    }
    struct raft_entry e;
    struct st_buf b;
    st_buf_init(&b);
    ck_assert_int_eq(raft_store_get(f.s, 50, &e, &b), ST_ERANGE);
    raft_index idx;
    raft_term t;
    uint8_t *data;
    size_t len;
    ck_assert_int_eq(raft_store_snapshot_load(f.s, &idx, &t, &data, &len), 0);
    ck_assert_uint_eq(idx, 50);
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(data, "state", 5) == 0);
    st_free(data);
    /* A second snapshot replaces the first, and truncation below it is
     * refused. */
    ck_assert_int_eq(raft_store_snapshot_save(f.s, 80, 1, "s2", 2), 0);
    ck_assert(!exists(DIR "/snapshot-00000000000000000050.snap"));
    ck_assert_int_eq(raft_store_truncate_from(f.s, 80), ST_ERANGE);
    ck_assert_int_eq(raft_store_snapshot_save(f.s, 70, 1, "x", 1),
                     ST_ESTALE);
    ck_assert_int_eq(append_range(f.s, 81, 82, 2, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    reopen(&small_segs);
    ck_assert_uint_eq(f.st.first_index, 81);
    ck_assert_uint_eq(f.st.last_index, 82);
    assert_entry(f.s, 81, 2, 0);
}
END_TEST

START_TEST(test_snapshot_from_a_leader_replaces_a_divergent_log)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, &small_segs, &f.s, &f.st),
                     0);
    ck_assert_int_eq(append_range(f.s, 1, 30, 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    /* Given 1..30 of term 1, when a snapshot at 20 of term 2 arrives
     * (Raft §7: our entry 20 is not the leader's), */
    ck_assert_int_eq(raft_store_snapshot_save(f.s, 20, 2, "L", 1), 0);
    /* then the whole log goes: the next entry is 21. */
    raft_store_state(f.s, &f.st);
    ck_assert_uint_eq(f.st.last_index, 20);
    reopen(&small_segs);
    ck_assert_uint_eq(f.st.snapshot_term, 2);
    ck_assert_uint_eq(f.st.first_index, 21);
    ck_assert_uint_eq(f.st.last_index, 20);
    ck_assert_int_eq(append_range(f.s, 21, 22, 2, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    reopen(&small_segs);
    ck_assert_uint_eq(f.st.last_index, 22);
}
END_TEST

START_TEST(test_corrupt_newest_snapshot_falls_back_to_an_older_one)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, NULL, &f.s, &f.st), 0);
    ck_assert_int_eq(append_range(f.s, 1, 20, 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    ck_assert_int_eq(raft_store_snapshot_save(f.s, 5, 1, "five", 4), 0);
    size_t len5;
    uint8_t *snap5 = file_read(DIR "/snapshot-00000000000000000005.snap",
                               &len5);
    ck_assert_int_eq(raft_store_snapshot_save(f.s, 10, 1, "ten", 3), 0);
    raft_store_close(f.s);
    f.s = NULL;
    /* Given an older valid snapshot left behind and the newest corrupt
     * (one large segment, so entries 6.. are still there), */
    file_write(DIR "/snapshot-00000000000000000005.snap", snap5, len5);
    st_free(snap5);
    file_flip(DIR "/snapshot-00000000000000000010.snap", 33);
    /* when opened, the older one is used and 6..20 are the log. */
    reopen(NULL);
    ck_assert_uint_eq(f.st.snapshot_index, 5);
    ck_assert_uint_eq(f.st.first_index, 6);
    ck_assert_uint_eq(f.st.last_index, 20);
    uint8_t *data;
    size_t len;
    raft_index idx;
    raft_term t;
    ck_assert_int_eq(raft_store_snapshot_load(f.s, &idx, &t, &data, &len), 0);
    ck_assert(len == 4 && memcmp(data, "five", 4) == 0);
    st_free(data);
    /* With no valid snapshot at all, open refuses. */
    file_flip(DIR "/snapshot-00000000000000000005.snap", 33);
    ck_assert_int_eq(reopen_rv(), ST_ECORRUPT);
}
END_TEST

START_TEST(test_leftover_tmp_files_are_deleted_on_open)
{
    five_entries();
    file_write(DIR "/meta.tmp", (const uint8_t *)"half", 4);
    file_write(DIR "/snapshot-00000000000000000003.snap.tmp",
               (const uint8_t *)"x", 1);
    reopen(NULL);
    ck_assert(!exists(DIR "/meta.tmp"));
    ck_assert(!exists(DIR "/snapshot-00000000000000000003.snap.tmp"));
    ck_assert_uint_eq(f.st.snapshot_index, 0);
    ck_assert_uint_eq(f.st.last_index, 5);
}
END_TEST

START_TEST(test_open_makes_what_it_reports_durable)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, &small_segs, &f.s, &f.st),
                     0);
    /* Given entries appended but never synced, and the process killed
     * (close without sync: the "page cache" keeps them), */
    ck_assert_int_eq(append_range(f.s, 1, 30, 1, 0), 0);
    reopen(&small_segs);
    /* when the restarted store reports them, */
    ck_assert_uint_eq(f.st.last_index, 30);
    /* then a power loss right after cannot take them back. */
    raft_store_close(f.s);
    f.s = NULL;
    st_vfs_mem_crash(f.vfs, ST_VFS_CRASH_DROP_ALL);
    reopen(&small_segs);
    ck_assert_uint_eq(f.st.last_index, 30);
    assert_entry(f.s, 30, 1, 0);
}
END_TEST

START_TEST(test_open_discards_a_log_that_disagrees_with_the_snapshot)
{
    /* Given a log 1..30 of term 1 and, as if a crash interrupted
     * raft_store_snapshot_save() after the snapshot was installed, a
     * leader's snapshot at 20 of term 2 next to it, */
    ck_assert_int_eq(raft_store_open(f.vfs, "/leader", NULL, &f.s, &f.st), 0);
    ck_assert_int_eq(append_range(f.s, 1, 20, 2, 0), 0);
    ck_assert_int_eq(raft_store_snapshot_save(f.s, 20, 2, "L", 1), 0);
    raft_store_close(f.s);
    f.s = NULL;
    size_t len;
    uint8_t *snap = file_read("/leader/snapshot-00000000000000000020.snap",
                              &len);
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, &small_segs, &f.s, &f.st),
                     0);
    ck_assert_int_eq(append_range(f.s, 1, 30, 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    raft_store_close(f.s);
    f.s = NULL;
    file_write(DIR "/snapshot-00000000000000000020.snap", snap, len);
    st_free(snap);
    /* when opened, then entries 21..30 (which follow our divergent 20)
     * are not offered as the leader's: the log is empty after 20. */
    reopen(&small_segs);
    ck_assert_uint_eq(f.st.snapshot_term, 2);
    ck_assert_uint_eq(f.st.first_index, 21);
    ck_assert_uint_eq(f.st.last_index, 20);
}
END_TEST

/* ---- sticky errors ---- */

START_TEST(test_failed_fsync_is_sticky_until_reopen)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, NULL, &f.s, &f.st), 0);
    ck_assert_int_eq(append_range(f.s, 1, 5, 1, 0), 0);
    /* Given the next fsync fails, */
    st_vfs_mem_fail_nth(f.vfs, ST_VFS_FAULT_FSYNC, 1, ST_EIO);
    ck_assert_int_eq(raft_store_sync(f.s), ST_EIO);
    /* then every later change returns that error, even a retried sync
     * that the disk would now let "succeed", */
    ck_assert_int_eq(raft_store_sync(f.s), ST_EIO);
    ck_assert_int_eq(append_range(f.s, 6, 6, 1, 0), ST_EIO);
    ck_assert_int_eq(raft_store_save_term_vote(f.s, 2, 1), ST_EIO);
    ck_assert_int_eq(raft_store_truncate_from(f.s, 2), ST_EIO);
    ck_assert_int_eq(raft_store_snapshot_save(f.s, 3, 1, "x", 1), ST_EIO);
    ck_assert_int_eq(raft_store_failed(f.s), ST_EIO);
    /* while reads still work; */
    assert_entry(f.s, 5, 1, 0);
    /* and a reopen re-validates and takes writes again. */
    reopen(NULL);
    ck_assert_int_eq(raft_store_failed(f.s), 0);
    ck_assert_int_eq(append_range(f.s, f.st.last_index + 1,
                                  f.st.last_index + 1, 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
}
END_TEST

START_TEST(test_disk_full_is_reported_and_sticky)
{
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, NULL, &f.s, &f.st), 0);
    ck_assert_int_eq(append_range(f.s, 1, 5, 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    /* Given a disk with almost no room left, */
    st_vfs_mem_set_capacity(f.vfs, file_size(SEG1) + 10);
    /* when more entries are appended, ENOSPC comes back and sticks. */
    ck_assert_int_eq(append_range(f.s, 6, 30, 1, 0), ST_ENOSPC);
    ck_assert_int_eq(raft_store_sync(f.s), ST_ENOSPC);
    /* With room again, a reopen keeps everything synced. */
    st_vfs_mem_set_capacity(f.vfs, 0);
    reopen(NULL);
    ck_assert_uint_ge(f.st.last_index, 5);
    assert_entry(f.s, 5, 1, 0);
}
END_TEST

/* ---- crashes and faults against a model ---- */

#define MODEL_MAX 4096

/* What the store must hold: entries by index, and what is durable. */
struct model {
    raft_term terms[MODEL_MAX];
    uint32_t salts[MODEL_MAX];
    raft_index last;
    raft_index durable;   /* every entry <= this is durable */
    raft_term term_now;   /* terms of new entries never go below it */
    raft_term term;       /* term/vote: durable */
    raft_id vote;
    raft_term term_maybe; /* a failed save that may have landed */
    raft_id vote_maybe;
    raft_index snap, snap_maybe;
    raft_term snap_term, snap_term_maybe;
};

static void model_from_state(struct model *m, const struct raft_store_state *st)
{
    m->last = st->last_index;
    m->durable = st->last_index;
    m->term = m->term_maybe = st->term;
    m->vote = m->vote_maybe = st->voted_for;
    m->snap = m->snap_maybe = st->snapshot_index;
    m->snap_term = m->snap_term_maybe = st->snapshot_term;
}

/* After a crash and reopen, the store must show every durable fact. */
static void model_check(struct model *m, const struct raft_store_state *st,
                        const char *ctx)
{
    ck_assert_msg((st->term == m->term && st->voted_for == m->vote) ||
                  (st->term == m->term_maybe &&
                   st->voted_for == m->vote_maybe),
                  "%s: term/vote %" PRIu64 "/%u, want %" PRIu64 "/%u", ctx,
                  st->term, st->voted_for, m->term, m->vote);
    ck_assert_msg((st->snapshot_index == m->snap &&
                   st->snapshot_term == m->snap_term) ||
                  (st->snapshot_index == m->snap_maybe &&
                   st->snapshot_term == m->snap_term_maybe),
                  "%s: snapshot %" PRIu64 ", want %" PRIu64, ctx,
                  st->snapshot_index, m->snap);
    ck_assert_msg(st->last_index >= m->durable,
                  "%s: lost durable entries: last %" PRIu64 " < %" PRIu64,
                  ctx, st->last_index, m->durable);
    ck_assert_msg(st->last_index <= m->last || st->last_index ==
                  st->snapshot_index, "%s: last %" PRIu64 " > model %" PRIu64,
                  ctx, st->last_index, m->last);
    for (raft_index i = st->first_index; i <= st->last_index; i++) {
        struct st_buf b;
        struct raft_entry e;
        uint8_t want[64];
        st_buf_init(&b);
        ck_assert_int_eq(raft_store_get(f.s, i, &e, &b), 0);
        ck_assert_msg(e.term == m->terms[i], "%s: entry %" PRIu64 " term %"
                      PRIu64 " want %" PRIu64, ctx, i, e.term, m->terms[i]);
        data_fill(want, i, e.term, m->salts[i]);
        ck_assert_msg(e.data.len == data_len(i, m->salts[i]) &&
                      memcmp(e.data.base, want, e.data.len) == 0,
                      "%s: entry %" PRIu64 " data differs", ctx, i);
        st_buf_close(&b);
    }
}

static int op_append(struct model *m, uint64_t *r)
{
    raft_index n = 1 + st_test_rand(r) % 5;
    if (m->last + n >= MODEL_MAX) {
        return 0;
    }
    if (st_test_rand(r) % 4 == 0) {
        m->term_now++;
    }
    uint32_t salt = (uint32_t)(st_test_rand(r) % 1000);
    for (raft_index i = m->last + 1; i <= m->last + n; i++) {
        m->terms[i] = m->term_now;
        m->salts[i] = salt;
    }
    /* Added before the call: a failed append may still leave a prefix. */
    raft_index from = m->last + 1;
    m->last += n;
    return append_range(f.s, from, from + n - 1, m->term_now, salt);
}

static int op_truncate(struct model *m, uint64_t *r)
{
    struct raft_store_state st;
    raft_store_state(f.s, &st);
    if (st.last_index < st.first_index) {
        return 0;
    }
    raft_index i = st.first_index +
                   st_test_rand(r) % (st.last_index - st.first_index + 1);
    /* Whether or not it succeeds, entries >= i are no longer promised. */
    if (m->durable >= i) {
        m->durable = i - 1;
    }
    int rv = raft_store_truncate_from(f.s, i);
    if (rv == 0) {
        m->last = i - 1;
    }
    return rv;
}

static int op_term_vote(struct model *m, uint64_t *r)
{
    raft_term t = m->term + 1 + st_test_rand(r) % 2;
    raft_id v = (raft_id)(st_test_rand(r) % 4);
    m->term_maybe = t;
    m->vote_maybe = v;
    int rv = raft_store_save_term_vote(f.s, t, v);
    if (rv == 0) {
        m->term = t;
        m->vote = v;
    }
    return rv;
}

/* A snapshot of our own log (@install false) or one from a leader with a
 * newer term that replaces the log (@install true). */
static int op_snapshot(struct model *m, uint64_t *r, bool install)
{
    struct raft_store_state st;
    raft_store_state(f.s, &st);
    raft_index idx;
    raft_term t;
    if (install) {
        idx = st.snapshot_index + 1 + st_test_rand(r) % (m->last + 5 -
                                                         st.snapshot_index);
        if (idx >= MODEL_MAX) {
            return 0;
        }
        t = ++m->term_now;
    } else {
        if (st.last_index < st.first_index) {
            return 0;
        }
        idx = st.first_index +
              st_test_rand(r) % (st.last_index - st.first_index + 1);
        t = m->terms[idx];
    }
    m->snap_maybe = idx;
    m->snap_term_maybe = t;
    int rv = raft_store_snapshot_save(f.s, idx, t, &idx, sizeof idx);
    if (rv == 0) {
        m->snap = idx;
        m->snap_term = t;
        if (install) {
            m->last = m->durable = idx;
        }
    }
    return rv;
}

static int op_sync(struct model *m)
{
    int rv = raft_store_sync(f.s);
    if (rv == 0) {
        m->durable = m->last;
    }
    return rv;
}

static int random_op1(struct model *m, uint64_t *r, bool installs,
                      unsigned k)
{
    if (k < 45) {
        return op_append(m, r);
    }
    if (k < 65) {
        return op_sync(m);
    }
    if (k < 75) {
        return op_term_vote(m, r);
    }
    if (k < 85) {
        return op_truncate(m, r);
    }
    if (k < 93 || !installs) {
        return op_snapshot(m, r, false);
    }
    return op_snapshot(m, r, true);
}

static void trace_dir(const char *when)
{
    char **names;
    size_t n;
    if (getenv("RAFT_STORE_TRACE") == NULL ||
        st_vfs_list(f.vfs, DIR, &names, &n) != 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char path[512];
        uint8_t *p = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, DIR "/%s", names[i]);
        st_vfs_read_all(f.vfs, path, &p, &len);
        fprintf(stderr, "%s: %s %zu bytes", when, names[i], len);
        if (len >= 45 && strstr(names[i], ".seg")) {
            fprintf(stderr, " first rec index %" PRIu64,
                    st_get_be64(p + 36));
        }
        fprintf(stderr, "\n");
        st_free(p);
    }
    st_vfs_names_free(names, n);
}

/* One random operation; returns its status. RAFT_STORE_TRACE=1 prints
 * them. */
static int random_op(struct model *m, uint64_t *r, bool installs)
{
    unsigned k = (unsigned)(st_test_rand(r) % 100);
    int rv = random_op1(m, r, installs, k);
    if (getenv("RAFT_STORE_TRACE") != NULL) {
        struct raft_store_state st;
        raft_store_state(f.s, &st);
        fprintf(stderr, "op k=%u rv=%d: model last=%" PRIu64 " durable=%"
                PRIu64 " snap=%" PRIu64 " | store first=%" PRIu64
                " last=%" PRIu64 " snap=%" PRIu64 "/%" PRIu64 "\n", k, rv,
                m->last, m->durable, m->snap, st.first_index,
                st.last_index, st.snapshot_index, st.snapshot_term);
        trace_dir("  dir");
    }
    return rv;
}

static void crash_and_reopen(struct model *m, enum st_vfs_crash_mode mode,
                             const char *ctx)
{
    raft_store_close(f.s);
    f.s = NULL;
    if (getenv("RAFT_STORE_TRACE") != NULL) {
        fprintf(stderr, "crash mode=%d\n", (int)mode);
    }
    trace_dir("before");
    st_vfs_mem_crash(f.vfs, mode);
    trace_dir("after");
    int rv = raft_store_open(f.vfs, DIR, &small_segs, &f.s, &f.st);
    ck_assert_msg(rv == 0, "%s: open after crash: %s", ctx, st_errname(rv));
    model_check(m, &f.st, ctx);
    model_from_state(m, &f.st);
}

START_TEST(test_crash_never_loses_what_was_durable)
{
    long seed = st_test_seed_override() >= 0 ? st_test_seed_override() : _i;
    if (st_test_seed_override() >= 0 && _i > 0) {
        return; /* replaying one seed */
    }
    if (getenv("RAFT_STORE_TRACE") != NULL) {
        fprintf(stderr, "crash test seed=%ld\n", seed);
    }
    uint64_t r = (uint64_t)seed * 7919 + 1;
    static struct model m;
    char ctx[128];

    st_vfs_mem_free(f.vfs);
    ck_assert_int_eq(st_vfs_mem_new((uint64_t)seed, &f.vfs), 0);
    memset(&m, 0, sizeof m);
    m.term_now = 1;
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, &small_segs, &f.s, &f.st),
                     0);
    /* Given a random mix of appends, syncs, term/vote saves, truncations
     * and snapshots, interrupted by power losses that keep only what was
     * fsynced or a random torn prefix of the rest, */
    for (int round = 0; round < 4; round++) {
        int n_ops = 5 + (int)(st_test_rand(&r) % 60);
        for (int k = 0; k < n_ops; k++) {
            int rv = random_op(&m, &r, true);
            ck_assert_msg(rv == 0, "seed=%ld: op failed: %s", seed,
                          st_errname(rv));
        }
        snprintf(ctx, sizeof ctx, "seed=%ld round=%d (replay with "
                 "STRATA_SIM_SEED=%ld)", seed, round, seed);
        /* then every open succeeds and shows all that was durable. */
        crash_and_reopen(&m, (seed + round) % 2 ? ST_VFS_CRASH_RANDOM
                                                : ST_VFS_CRASH_DROP_ALL, ctx);
    }
}
END_TEST

/* Run a fixed operation sequence with the @nth call of @kind failing.
 * Returns false once @nth is past the calls the sequence makes. */
static bool run_with_fault(enum st_vfs_fault_kind kind, unsigned nth,
                           int err, enum st_vfs_crash_mode mode)
{
    static struct model m;
    uint64_t r = 99;
    char ctx[128];

    st_vfs_mem_free(f.vfs);
    ck_assert_int_eq(st_vfs_mem_new(nth, &f.vfs), 0);
    memset(&m, 0, sizeof m);
    m.term_now = 1;
    ck_assert_int_eq(raft_store_open(f.vfs, DIR, &small_segs, &f.s, &f.st),
                     0);
    st_vfs_mem_fail_nth(f.vfs, kind, nth, err);
    int failed = 0;
    for (int k = 0; k < 120 && failed == 0; k++) {
        failed = random_op(&m, &r, false);
    }
    snprintf(ctx, sizeof ctx, "kind=%d nth=%u err=%s", (int)kind, nth,
             st_errname(err));
    if (failed != 0) {
        /* The failure is sticky: nothing further is claimed durable. */
        ck_assert_msg(failed == err, "%s: got %s", ctx, st_errname(failed));
        ck_assert_int_eq(raft_store_sync(f.s), err);
        ck_assert_int_eq(raft_store_failed(f.s), err);
    }
    st_vfs_mem_fail_nth(f.vfs, kind, 0, 0);
    crash_and_reopen(&m, mode, ctx);
    /* And the reopened store takes writes again. */
    ck_assert_int_eq(append_range(f.s, f.st.last_index + 1,
                                  f.st.last_index + 1, m.term_now + 1, 0), 0);
    ck_assert_int_eq(raft_store_sync(f.s), 0);
    raft_store_close(f.s);
    f.s = NULL;
    return failed != 0;
}

START_TEST(test_nth_failed_write_or_fsync_never_breaks_a_durability_claim)
{
    static const enum st_vfs_fault_kind kinds[] = {
        ST_VFS_FAULT_WRITE, ST_VFS_FAULT_FSYNC, ST_VFS_FAULT_OPEN};
    for (size_t k = 0; k < 3; k++) {
        unsigned nth = 1;
        /* Given the Nth call failing, for every N the sequence reaches, */
        while (run_with_fault(kinds[k], nth, ST_EIO,
                              nth % 2 ? ST_VFS_CRASH_RANDOM
                                      : ST_VFS_CRASH_DROP_ALL)) {
            nth++;
        }
        ck_assert_uint_gt(nth, 5);
    }
    /* and a full disk at each write. */
    for (unsigned nth = 1; nth < 40; nth++) {
        run_with_fault(ST_VFS_FAULT_WRITE, nth, ST_ENOSPC,
                       ST_VFS_CRASH_RANDOM);
    }
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("raft_store");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fresh_store_starts_empty_at_term_zero);
    tcase_add_test(tc, test_append_sync_reopen_round_trips_across_segment_rolls);
    tcase_add_test(tc, test_round_trip_on_the_real_file_system);
    tcase_add_test(tc, test_load_walks_entries_in_order_and_stops_on_request);
    tcase_add_test(tc, test_term_and_vote_survive_reopen);
    tcase_add_test(tc, test_open_refuses_a_garbled_meta_file);
    tcase_add_test(tc, test_truncate_from_then_append_replaces_the_suffix);
    tcase_add_test(tc, test_append_refuses_gaps_backward_terms_and_bad_types);
    tcase_add_test(tc, test_open_truncates_a_record_cut_short);
    tcase_add_test(tc, test_open_truncates_zeroes_after_the_last_record);
    tcase_add_test(tc, test_open_truncates_garbage_after_the_last_record);
    tcase_add_test(tc, test_open_truncates_a_bad_crc_on_the_last_record);
    tcase_add_test(tc, test_open_refuses_a_flipped_byte_in_a_middle_record);
    tcase_add_test(tc, test_open_refuses_a_flipped_length_in_a_middle_record);
    tcase_add_test(tc, test_open_refuses_damage_in_an_older_segment);
    tcase_add_test(tc, test_open_refuses_a_missing_middle_segment);
    tcase_add_test(tc, test_open_deletes_a_torn_empty_last_segment);
    tcase_add_test(tc,
        test_snapshot_save_compacts_segments_and_reopen_gives_the_rest);
    tcase_add_test(tc, test_snapshot_from_a_leader_replaces_a_divergent_log);
    tcase_add_test(tc, test_corrupt_newest_snapshot_falls_back_to_an_older_one);
    tcase_add_test(tc, test_leftover_tmp_files_are_deleted_on_open);
    tcase_add_test(tc, test_open_makes_what_it_reports_durable);
    tcase_add_test(tc,
        test_open_discards_a_log_that_disagrees_with_the_snapshot);
    tcase_add_test(tc, test_failed_fsync_is_sticky_until_reopen);
    tcase_add_test(tc, test_disk_full_is_reported_and_sticky);
    tcase_add_loop_test(tc, test_crash_never_loses_what_was_durable, 0, 500);
    tcase_add_test(tc,
        test_nth_failed_write_or_fsync_never_breaks_a_durability_claim);
    suite_add_tcase(s, tc);
    return s;
}
