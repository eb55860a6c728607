/* The vfs contract, run against both the posix vfs (in a temp dir) and the
 * in-memory vfs; then the mem vfs's power-loss model on its own. */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/vfs.h"
#include "test_util.h"

static struct {
    struct st_vfs *v;
    bool mem;
    char root[256];
    char p1[512], p2[512];
} f;

/* Paths under the fixture's root; two scratch buffers so a call can take
 * two paths. */
static const char *P(const char *name)
{
    snprintf(f.p1, sizeof f.p1, "%s/%s", f.root, name);
    return f.p1;
}
static const char *Q(const char *name)
{
    snprintf(f.p2, sizeof f.p2, "%s/%s", f.root, name);
    return f.p2;
}

static void setup_posix(void)
{
    memset(&f, 0, sizeof f);
    f.v = st_vfs_posix();
    st_test_tmpdir(f.root, sizeof f.root);
}

static void teardown_posix(void)
{
    st_test_rmdir(f.root);
}

static void setup_mem(void)
{
    memset(&f, 0, sizeof f);
    f.mem = true;
    ck_assert_int_eq(st_vfs_mem_new(1, &f.v), 0);
    snprintf(f.root, sizeof f.root, "/data");
    ck_assert_int_eq(st_vfs_mkdir(f.v, f.root), 0);
    ck_assert_int_eq(st_vfs_fsync_dir(f.v, "/"), 0);
}

static void teardown_mem(void)
{
    st_vfs_mem_free(f.v);
}

/* Write @s (no NUL) to @path at @off through a fresh handle. */
static void put(const char *path, uint64_t off, const char *s)
{
    struct st_file *h;
    ck_assert_int_eq(st_vfs_open(f.v, path, ST_VFS_CREATE, &h), 0);
    ck_assert_int_eq(st_vfs_pwrite(h, s, strlen(s), off), 0);
    ck_assert_int_eq(st_vfs_close(h), 0);
}

/* The whole file as a NUL-terminated string (owned by a static buffer),
 * or NULL when it does not exist. */
static const char *get(const char *path)
{
    static char out[4096];
    uint8_t *buf;
    size_t len;
    int rv = st_vfs_read_all(f.v, path, &buf, &len);
    if (rv == ST_ENOENT) {
        return NULL;
    }
    ck_assert_int_eq(rv, 0);
    ck_assert_uint_lt(len, sizeof out);
    memcpy(out, buf, len);
    out[len] = '\0';
    st_free(buf);
    return out;
}

/* ---- the shared contract ---- */

START_TEST(test_open_of_missing_file_without_create_is_enoent)
{
    struct st_file *h = NULL;
    ck_assert_int_eq(st_vfs_open(f.v, P("nope"), 0, &h), ST_ENOENT);
    ck_assert_int_eq(st_vfs_open(f.v, P("no/such/dir"), ST_VFS_CREATE, &h),
                     ST_ENOENT);
}
END_TEST

START_TEST(test_create_excl_fails_when_the_file_exists)
{
    struct st_file *h;
    ck_assert_int_eq(st_vfs_open(f.v, P("a"), ST_VFS_CREATE | ST_VFS_EXCL, &h),
                     0);
    ck_assert_int_eq(st_vfs_close(h), 0);
    ck_assert_int_eq(st_vfs_open(f.v, P("a"), ST_VFS_CREATE | ST_VFS_EXCL, &h),
                     ST_EEXIST);
    /* Without EXCL the existing file is simply opened. */
    ck_assert_int_eq(st_vfs_open(f.v, P("a"), ST_VFS_CREATE, &h), 0);
    ck_assert_int_eq(st_vfs_close(h), 0);
}
END_TEST

START_TEST(test_trunc_on_open_empties_the_file)
{
    put(P("a"), 0, "hello");
    struct st_file *h;
    ck_assert_int_eq(st_vfs_open(f.v, P("a"), ST_VFS_TRUNC, &h), 0);
    uint64_t size = 99;
    ck_assert_int_eq(st_vfs_size(h, &size), 0);
    ck_assert_uint_eq(size, 0);
    ck_assert_int_eq(st_vfs_close(h), 0);
    ck_assert_str_eq(get(P("a")), "");
}
END_TEST

START_TEST(test_pread_at_and_after_eof_returns_a_short_count)
{
    put(P("a"), 0, "hello");
    struct st_file *h;
    char buf[16];
    size_t n = 99;
    ck_assert_int_eq(st_vfs_open(f.v, P("a"), ST_VFS_RDONLY, &h), 0);
    ck_assert_int_eq(st_vfs_pread(h, buf, sizeof buf, 3, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_mem_eq(buf, "lo", 2);
    ck_assert_int_eq(st_vfs_pread(h, buf, sizeof buf, 5, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(st_vfs_pread(h, buf, sizeof buf, 1000, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(st_vfs_close(h), 0);
}
END_TEST

START_TEST(test_pwrite_past_the_end_leaves_a_zero_filled_hole)
{
    struct st_file *h;
    ck_assert_int_eq(st_vfs_open(f.v, P("a"), ST_VFS_CREATE, &h), 0);
    ck_assert_int_eq(st_vfs_pwrite(h, "ab", 2, 0), 0);
    ck_assert_int_eq(st_vfs_pwrite(h, "cd", 2, 6), 0);
    uint64_t size;
    ck_assert_int_eq(st_vfs_size(h, &size), 0);
    ck_assert_uint_eq(size, 8);
    char buf[8];
    size_t n;
    ck_assert_int_eq(st_vfs_pread(h, buf, 8, 0, &n), 0);
    ck_assert_uint_eq(n, 8);
    ck_assert_mem_eq(buf, "ab\0\0\0\0cd", 8);
    ck_assert_int_eq(st_vfs_close(h), 0);
}
END_TEST

START_TEST(test_truncate_shrinks_and_grows_with_zeros)
{
    put(P("a"), 0, "abcdef");
    struct st_file *h;
    ck_assert_int_eq(st_vfs_open(f.v, P("a"), 0, &h), 0);
    ck_assert_int_eq(st_vfs_truncate(h, 2), 0);
    ck_assert_int_eq(st_vfs_truncate(h, 4), 0);
    char buf[8];
    size_t n;
    ck_assert_int_eq(st_vfs_pread(h, buf, 8, 0, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_mem_eq(buf, "ab\0\0", 4);
    ck_assert_int_eq(st_vfs_close(h), 0);
}
END_TEST

START_TEST(test_read_only_handle_refuses_writes)
{
    put(P("a"), 0, "x");
    struct st_file *h;
    ck_assert_int_eq(st_vfs_open(f.v, P("a"), ST_VFS_RDONLY, &h), 0);
    ck_assert_int_eq(st_vfs_pwrite(h, "y", 1, 0), -EBADF);
    ck_assert_int_eq(st_vfs_truncate(h, 0), -EBADF);
    ck_assert_int_eq(st_vfs_close(h), 0);
    ck_assert_str_eq(get(P("a")), "x");
}
END_TEST

START_TEST(test_rename_replaces_an_existing_target)
{
    put(P("a"), 0, "new");
    put(P("b"), 0, "old");
    ck_assert_int_eq(st_vfs_rename(f.v, P("a"), Q("b")), 0);
    ck_assert_ptr_null(get(P("a")));
    ck_assert_str_eq(get(P("b")), "new");
    ck_assert_int_eq(st_vfs_rename(f.v, P("a"), Q("c")), ST_ENOENT);
}
END_TEST

START_TEST(test_rename_moves_a_directory_with_its_files)
{
    ck_assert_int_eq(st_vfs_mkdir(f.v, P("d")), 0);
    put(P("d/x"), 0, "in d");
    ck_assert_int_eq(st_vfs_rename(f.v, P("d"), Q("e")), 0);
    ck_assert_str_eq(get(P("e/x")), "in d");
    ck_assert_int_eq(st_vfs_stat(f.v, P("d"), NULL), ST_ENOENT);
    /* A directory cannot move under itself. */
    ck_assert_int_eq(st_vfs_rename(f.v, P("e"), Q("e/sub")), ST_EINVAL);
}
END_TEST

START_TEST(test_unlink_removes_the_name_and_missing_is_enoent)
{
    put(P("a"), 0, "x");
    ck_assert_int_eq(st_vfs_unlink(f.v, P("a")), 0);
    ck_assert_int_eq(st_vfs_stat(f.v, P("a"), NULL), ST_ENOENT);
    ck_assert_int_eq(st_vfs_unlink(f.v, P("a")), ST_ENOENT);
}
END_TEST

START_TEST(test_an_unlinked_open_file_stays_readable)
{
    put(P("a"), 0, "still here");
    struct st_file *h;
    ck_assert_int_eq(st_vfs_open(f.v, P("a"), ST_VFS_RDONLY, &h), 0);
    ck_assert_int_eq(st_vfs_unlink(f.v, P("a")), 0);
    char buf[16];
    size_t n;
    ck_assert_int_eq(st_vfs_pread(h, buf, sizeof buf, 0, &n), 0);
    ck_assert_uint_eq(n, 10);
    ck_assert_mem_eq(buf, "still here", 10);
    ck_assert_int_eq(st_vfs_close(h), 0);
}
END_TEST

START_TEST(test_list_is_sorted_bytewise_without_dot_entries)
{
    const char *names[] = {"b", "a.log", "B", "a", "zz", "a0"};
    for (size_t i = 0; i < 6; i++) {
        put(P(names[i]), 0, "x");
    }
    ck_assert_int_eq(st_vfs_mkdir(f.v, P("dir")), 0);
    char **out;
    size_t n;
    ck_assert_int_eq(st_vfs_list(f.v, f.root, &out, &n), 0);
    const char *want[] = {"B", "a", "a.log", "a0", "b", "dir", "zz"};
    ck_assert_uint_eq(n, 7);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(out[i], want[i]);
    }
    st_vfs_names_free(out, n);
    ck_assert_int_eq(st_vfs_list(f.v, P("missing"), &out, &n), ST_ENOENT);
}
END_TEST

START_TEST(test_list_of_an_empty_directory_is_empty)
{
    ck_assert_int_eq(st_vfs_mkdir(f.v, P("d")), 0);
    char **out = NULL;
    size_t n = 99;
    ck_assert_int_eq(st_vfs_list(f.v, P("d"), &out, &n), 0);
    ck_assert_uint_eq(n, 0);
    st_vfs_names_free(out, n);
}
END_TEST

START_TEST(test_stat_tells_files_from_directories)
{
    put(P("file"), 0, "x");
    ck_assert_int_eq(st_vfs_mkdir(f.v, P("dir")), 0);
    int is_dir = -1;
    ck_assert_int_eq(st_vfs_stat(f.v, P("file"), &is_dir), 0);
    ck_assert_int_eq(is_dir, 0);
    ck_assert_int_eq(st_vfs_stat(f.v, P("dir"), &is_dir), 0);
    ck_assert_int_eq(is_dir, 1);
    ck_assert_int_eq(st_vfs_stat(f.v, P("none"), &is_dir), ST_ENOENT);
    ck_assert_int_eq(st_vfs_mkdir(f.v, P("dir")), ST_EEXIST);
}
END_TEST

START_TEST(test_rmdir_needs_an_empty_directory)
{
    ck_assert_int_eq(st_vfs_mkdir(f.v, P("d")), 0);
    put(P("d/x"), 0, "x");
    ck_assert_int_eq(st_vfs_rmdir(f.v, P("d")), -ENOTEMPTY);
    ck_assert_int_eq(st_vfs_unlink(f.v, P("d/x")), 0);
    ck_assert_int_eq(st_vfs_rmdir(f.v, P("d")), 0);
    ck_assert_int_eq(st_vfs_stat(f.v, P("d"), NULL), ST_ENOENT);
}
END_TEST

START_TEST(test_mkdir_p_creates_parents_and_accepts_existing_ones)
{
    ck_assert_int_eq(st_vfs_mkdir_p(f.v, P("x/y//z/")), 0);
    int is_dir = 0;
    ck_assert_int_eq(st_vfs_stat(f.v, P("x/y/z"), &is_dir), 0);
    ck_assert_int_eq(is_dir, 1);
    ck_assert_int_eq(st_vfs_mkdir_p(f.v, P("x/y")), 0);
    put(P("x/file"), 0, "x");
    ck_assert_int_eq(st_vfs_mkdir_p(f.v, P("x/file/sub")), -ENOTDIR);
}
END_TEST

START_TEST(test_write_atomic_replaces_contents_and_leaves_no_tmp)
{
    ck_assert_int_eq(st_vfs_write_atomic(f.v, P("cp"), "one", 3), 0);
    ck_assert_str_eq(get(P("cp")), "one");
    ck_assert_int_eq(st_vfs_write_atomic(f.v, P("cp"), "second", 6), 0);
    ck_assert_str_eq(get(P("cp")), "second");
    ck_assert_int_eq(st_vfs_stat(f.v, P("cp.tmp"), NULL), ST_ENOENT);
}
END_TEST

START_TEST(test_read_all_returns_the_whole_file_nul_terminated)
{
    uint8_t *buf;
    size_t len;
    put(P("empty"), 0, "");
    ck_assert_int_eq(st_vfs_read_all(f.v, P("empty"), &buf, &len), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_uint_eq(buf[0], 0);
    st_free(buf);
    char big[3000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    put(P("big"), 0, big);
    ck_assert_int_eq(st_vfs_read_all(f.v, P("big"), &buf, &len), 0);
    ck_assert_uint_eq(len, sizeof big - 1);
    ck_assert_str_eq((char *)buf, big);
    st_free(buf);
    ck_assert_int_eq(st_vfs_read_all(f.v, P("none"), &buf, &len), ST_ENOENT);
}
END_TEST

START_TEST(test_fsync_dir_needs_an_existing_directory)
{
    put(P("file"), 0, "x");
    ck_assert_int_eq(st_vfs_fsync_dir(f.v, f.root), 0);
    ck_assert_int_eq(st_vfs_fsync_dir(f.v, P("file")), -ENOTDIR);
    ck_assert_int_eq(st_vfs_fsync_dir(f.v, P("none")), ST_ENOENT);
}
END_TEST

START_TEST(test_fd_is_a_descriptor_only_on_posix)
{
    struct st_file *h;
    ck_assert_int_eq(st_vfs_open(f.v, P("a"), ST_VFS_CREATE, &h), 0);
    if (f.mem) {
        ck_assert_int_eq(st_vfs_fd(h), -1);
    } else {
        ck_assert_int_ge(st_vfs_fd(h), 0);
    }
    ck_assert_int_eq(st_vfs_close(h), 0);
    ck_assert_int_eq(st_vfs_close(NULL), 0);
}
END_TEST

/* ---- the mem vfs losing power ---- */

static struct st_file *open_synced_file(const char *path)
{
    struct st_file *h;
    ck_assert_int_eq(st_vfs_open(f.v, path, ST_VFS_CREATE, &h), 0);
    ck_assert_int_eq(st_vfs_fsync(h), 0);
    ck_assert_int_eq(st_vfs_fsync_dir(f.v, f.root), 0);
    return h;
}

START_TEST(test_crash_drop_all_loses_unsynced_writes)
{
    /* Given a durable file with one fsynced and one unsynced write, */
    struct st_file *h = open_synced_file(P("a"));
    ck_assert_int_eq(st_vfs_pwrite(h, "kept", 4, 0), 0);
    ck_assert_int_eq(st_vfs_fsync(h), 0);
    ck_assert_int_eq(st_vfs_pwrite(h, "+lost", 5, 4), 0);
    /* when power is lost, */
    st_vfs_mem_crash(f.v, ST_VFS_CRASH_DROP_ALL);
    /* only the fsynced bytes remain. */
    ck_assert_str_eq(get(P("a")), "kept");
    st_vfs_close(h);
}
END_TEST

START_TEST(test_crash_keeps_fsynced_truncate)
{
    struct st_file *h = open_synced_file(P("a"));
    ck_assert_int_eq(st_vfs_pwrite(h, "abcdef", 6, 0), 0);
    ck_assert_int_eq(st_vfs_fsync(h), 0);
    ck_assert_int_eq(st_vfs_truncate(h, 3), 0);
    ck_assert_int_eq(st_vfs_fsync(h), 0);
    st_vfs_mem_crash(f.v, ST_VFS_CRASH_RANDOM);
    ck_assert_str_eq(get(P("a")), "abc");
    st_vfs_close(h);
}
END_TEST

START_TEST(test_file_fsynced_in_an_unsynced_directory_is_gone_after_crash)
{
    /* Given a file created and fsynced, but its directory never fsynced, */
    struct st_file *h;
    ck_assert_int_eq(st_vfs_open(f.v, P("new"), ST_VFS_CREATE, &h), 0);
    ck_assert_int_eq(st_vfs_pwrite(h, "data", 4, 0), 0);
    ck_assert_int_eq(st_vfs_fsync(h), 0);
    st_vfs_close(h);
    /* when power is lost, */
    st_vfs_mem_crash(f.v, ST_VFS_CRASH_RANDOM);
    /* the name never made it to disk. */
    ck_assert_ptr_null(get(P("new")));
}
END_TEST

START_TEST(test_directory_created_without_parent_fsync_is_gone_with_its_files)
{
    ck_assert_int_eq(st_vfs_mkdir(f.v, P("d")), 0);
    ck_assert_int_eq(st_vfs_write_atomic(f.v, P("d/x"), "x", 1), 0);
    st_vfs_mem_crash(f.v, ST_VFS_CRASH_RANDOM);
    ck_assert_int_eq(st_vfs_stat(f.v, P("d"), NULL), ST_ENOENT);
}
END_TEST

START_TEST(test_rename_without_directory_fsync_reverts_on_crash)
{
    /* Given two durable files, */
    ck_assert_int_eq(st_vfs_write_atomic(f.v, P("a"), "A", 1), 0);
    ck_assert_int_eq(st_vfs_write_atomic(f.v, P("b"), "B", 1), 0);
    /* a rename of a over b that the directory never saw fsynced */
    ck_assert_int_eq(st_vfs_rename(f.v, P("a"), Q("b")), 0);
    ck_assert_int_eq(st_vfs_unlink(f.v, P("b")), 0); /* and even this */
    ck_assert_ptr_null(get(P("b")));
    /* is undone by a crash: both names and contents come back. */
    st_vfs_mem_crash(f.v, ST_VFS_CRASH_RANDOM);
    ck_assert_str_eq(get(P("a")), "A");
    ck_assert_str_eq(get(P("b")), "B");
}
END_TEST

START_TEST(test_rename_with_directory_fsync_survives_crash)
{
    ck_assert_int_eq(st_vfs_write_atomic(f.v, P("a"), "A", 1), 0);
    ck_assert_int_eq(st_vfs_rename(f.v, P("a"), Q("b")), 0);
    ck_assert_int_eq(st_vfs_fsync_dir(f.v, f.root), 0);
    st_vfs_mem_crash(f.v, ST_VFS_CRASH_DROP_ALL);
    ck_assert_ptr_null(get(P("a")));
    ck_assert_str_eq(get(P("b")), "A");
}
END_TEST

START_TEST(test_handles_are_invalid_after_a_crash)
{
    struct st_file *h = open_synced_file(P("a"));
    st_vfs_mem_crash(f.v, ST_VFS_CRASH_DROP_ALL);
    char buf[4];
    size_t n;
    uint64_t size;
    ck_assert_int_eq(st_vfs_pread(h, buf, 4, 0, &n), ST_EIO);
    ck_assert_int_eq(st_vfs_pwrite(h, "x", 1, 0), ST_EIO);
    ck_assert_int_eq(st_vfs_fsync(h), ST_EIO);
    ck_assert_int_eq(st_vfs_truncate(h, 0), ST_EIO);
    ck_assert_int_eq(st_vfs_size(h, &size), ST_EIO);
    ck_assert_int_eq(st_vfs_close(h), 0);
    /* The file itself is still there to reopen. */
    ck_assert_str_eq(get(P("a")), "");
}
END_TEST

START_TEST(test_fail_nth_write_fsync_and_open_return_the_error_once)
{
    struct st_file *h = open_synced_file(P("a"));
    st_vfs_mem_fail_nth(f.v, ST_VFS_FAULT_WRITE, 2, ST_EIO);
    ck_assert_int_eq(st_vfs_pwrite(h, "1", 1, 0), 0);
    ck_assert_int_eq(st_vfs_pwrite(h, "2", 1, 1), ST_EIO);
    ck_assert_int_eq(st_vfs_pwrite(h, "3", 1, 1), 0);
    ck_assert_str_eq(get(P("a")), "13"); /* the failed write left nothing */

    st_vfs_mem_fail_nth(f.v, ST_VFS_FAULT_FSYNC, 1, ST_EIO);
    ck_assert_int_eq(st_vfs_fsync(h), ST_EIO);
    ck_assert_int_eq(st_vfs_fsync(h), 0);

    struct st_file *h2 = NULL;
    st_vfs_mem_fail_nth(f.v, ST_VFS_FAULT_OPEN, 1, ST_ENOSPC);
    ck_assert_int_eq(st_vfs_open(f.v, P("b"), ST_VFS_CREATE, &h2), ST_ENOSPC);
    ck_assert_int_eq(st_vfs_stat(f.v, P("b"), NULL), ST_ENOENT);
    ck_assert_int_eq(st_vfs_open(f.v, P("b"), ST_VFS_CREATE, &h2), 0);
    st_vfs_close(h2);

    st_vfs_mem_fail_nth(f.v, ST_VFS_FAULT_FSYNC, 1, ST_EIO);
    ck_assert_int_eq(st_vfs_fsync_dir(f.v, f.root), ST_EIO);
    st_vfs_close(h);
}
END_TEST

START_TEST(test_failed_fsync_forgets_pending_writes_even_if_retried)
{
    /* Given writes whose fsync failed, */
    struct st_file *h = open_synced_file(P("a"));
    ck_assert_int_eq(st_vfs_pwrite(h, "gone", 4, 0), 0);
    st_vfs_mem_fail_nth(f.v, ST_VFS_FAULT_FSYNC, 1, ST_EIO);
    ck_assert_int_eq(st_vfs_fsync(h), ST_EIO);
    /* a retried fsync "succeeds" and reads still see the bytes, */
    ck_assert_int_eq(st_vfs_fsync(h), 0);
    ck_assert_str_eq(get(P("a")), "gone");
    /* but they were never durable (Linux fsyncgate). */
    st_vfs_mem_crash(f.v, ST_VFS_CRASH_RANDOM);
    ck_assert_str_eq(get(P("a")), "");
    st_vfs_close(h);
}
END_TEST

START_TEST(test_capacity_gives_enospc_until_space_is_freed)
{
    st_vfs_mem_set_capacity(f.v, 10);
    struct st_file *h;
    ck_assert_int_eq(st_vfs_open(f.v, P("a"), ST_VFS_CREATE, &h), 0);
    ck_assert_int_eq(st_vfs_pwrite(h, "0123456789", 10, 0), 0);
    ck_assert_int_eq(st_vfs_pwrite(h, "x", 1, 10), ST_ENOSPC);
    ck_assert_int_eq(st_vfs_pwrite(h, "over", 4, 2), 0); /* no growth */
    ck_assert_int_eq(st_vfs_truncate(h, 11), ST_ENOSPC);
    st_vfs_close(h);
    ck_assert_int_eq(st_vfs_unlink(f.v, P("a")), 0);
    ck_assert_int_eq(st_vfs_open(f.v, P("b"), ST_VFS_CREATE, &h), 0);
    ck_assert_int_eq(st_vfs_pwrite(h, "0123456789", 10, 0), 0);
    st_vfs_close(h);
}
END_TEST

/* write_atomic, interrupted at each of its steps (a failed open, write,
 * fsync or directory fsync stops it where a crash would), then a random
 * crash: @path holds the old or the new contents, never anything else. */
START_TEST(test_write_atomic_is_all_or_nothing_across_crash)
{
    uint64_t seed = (uint64_t)_i;
    struct st_vfs *v;
    ck_assert_int_eq(st_vfs_mem_new(seed, &v), 0);
    ck_assert_int_eq(st_vfs_mkdir(v, "/d"), 0);
    ck_assert_int_eq(st_vfs_fsync_dir(v, "/"), 0);
    bool had_old = seed % 3 != 0;
    if (had_old) {
        ck_assert_int_eq(st_vfs_write_atomic(v, "/d/cp", "old-contents", 12),
                         0);
    }
    /* step 0: no fault; 1: open; 2: write; 3: file fsync; 4: dir fsync */
    unsigned step = (unsigned)(seed / 3 % 5);
    switch (step) {
    case 1: st_vfs_mem_fail_nth(v, ST_VFS_FAULT_OPEN, 1, ST_EIO); break;
    case 2: st_vfs_mem_fail_nth(v, ST_VFS_FAULT_WRITE, 1, ST_ENOSPC); break;
    case 3: st_vfs_mem_fail_nth(v, ST_VFS_FAULT_FSYNC, 1, ST_EIO); break;
    case 4: st_vfs_mem_fail_nth(v, ST_VFS_FAULT_FSYNC, 2, ST_EIO); break;
    default: break;
    }
    int rv = st_vfs_write_atomic(v, "/d/cp", "NEW", 3);
    if (step == 0) {
        ck_assert_int_eq(rv, 0);
    } else {
        ck_assert_int_ne(rv, 0);
    }
    st_vfs_mem_crash(v, ST_VFS_CRASH_RANDOM);

    uint8_t *buf = NULL;
    size_t len = 0;
    int r = st_vfs_read_all(v, "/d/cp", &buf, &len);
    if (step == 0) {
        ck_assert_int_eq(r, 0);
        ck_assert_uint_eq(len, 3);
        ck_assert_mem_eq(buf, "NEW", 3);
    } else if (r == ST_ENOENT) {
        ck_assert_msg(!had_old, "seed=%" PRIu64 ": old file lost", seed);
    } else {
        ck_assert_int_eq(r, 0);
        bool is_old = had_old && len == 12 &&
                      memcmp(buf, "old-contents", 12) == 0;
        bool is_new = len == 3 && memcmp(buf, "NEW", 3) == 0;
        ck_assert_msg(is_old || is_new, "seed=%" PRIu64 ": torn: %.*s", seed,
                      (int)len, (char *)buf);
        ck_assert_msg(step == 4 || is_old,
                      "seed=%" PRIu64 ": new before rename", seed);
    }
    st_free(buf);
    st_vfs_mem_free(v);
}
END_TEST

/* An operation of the random-crash check, mirrored outside the vfs. */
struct rop {
    bool trunc;
    uint64_t off;
    size_t len;
    uint8_t data[64];
};

static size_t apply_rop(uint8_t *img, size_t len, const struct rop *op,
                        size_t keep)
{
    if (op->trunc) {
        if (op->off > len) {
            memset(img + len, 0, op->off - len);
        }
        return op->off;
    }
    if (keep == 0) {
        return len;
    }
    if (op->off > len) {
        memset(img + len, 0, op->off - len);
    }
    memcpy(img + op->off, op->data, keep);
    return op->off + keep > len ? op->off + keep : len;
}

static struct {
    unsigned none, all, torn;
} seen;

START_TEST(test_random_crash_keeps_a_prefix_of_each_files_writes)
{
    /* 1,000 seeds in one process so that coverage can be counted. */
    memset(&seen, 0, sizeof seen);
    for (uint64_t seed = 0; seed < 1000; seed++) {
        uint64_t rng = seed * 7919 + 1;
        struct st_vfs *v;
        ck_assert_int_eq(st_vfs_mem_new(seed, &v), 0);
        struct st_file *h;
        ck_assert_int_eq(st_vfs_open(v, "/f", ST_VFS_CREATE, &h), 0);
        ck_assert_int_eq(st_vfs_fsync_dir(v, "/"), 0);
        /* Given a durable base image, */
        uint8_t base[256];
        size_t base_len = 40;
        for (size_t i = 0; i < base_len; i++) {
            base[i] = (uint8_t)('A' + i % 26);
        }
        ck_assert_int_eq(st_vfs_pwrite(h, base, base_len, 0), 0);
        ck_assert_int_eq(st_vfs_fsync(h), 0);
        /* and up to 8 writes and truncates since, */
        struct rop ops[8];
        unsigned n_ops = 1 + (unsigned)(st_test_rand(&rng) % 8);
        size_t cur = base_len;
        for (unsigned i = 0; i < n_ops; i++) {
            struct rop *op = &ops[i];
            op->trunc = st_test_rand(&rng) % 6 == 0;
            if (op->trunc) {
                op->off = st_test_rand(&rng) % (cur + 8);
                ck_assert_int_eq(st_vfs_truncate(h, op->off), 0);
                cur = op->off;
                continue;
            }
            op->off = st_test_rand(&rng) % (cur + 8);
            op->len = 1 + st_test_rand(&rng) % 64;
            for (size_t b = 0; b < op->len; b++) {
                op->data[b] = (uint8_t)('a' + (i * 3 + b) % 26);
            }
            ck_assert_int_eq(st_vfs_pwrite(h, op->data, op->len, op->off), 0);
            if (op->off + op->len > cur) {
                cur = op->off + op->len;
            }
        }
        /* when power is lost, */
        st_vfs_mem_crash(v, ST_VFS_CRASH_RANDOM);
        st_vfs_close(h);
        uint8_t *got;
        size_t got_len;
        ck_assert_int_eq(st_vfs_read_all(v, "/f", &got, &got_len), 0);
        /* the file is the base plus ops[0..k) and a prefix of ops[k]. */
        bool match = false;
        uint8_t img[1024];
        memcpy(img, base, base_len);
        size_t len = base_len;
        for (unsigned k = 0; k <= n_ops && !match; k++) {
            size_t max_keep = k < n_ops && !ops[k].trunc ? ops[k].len : 0;
            for (size_t keep = 0; keep <= max_keep && !match; keep++) {
                uint8_t tmp[1024];
                memcpy(tmp, img, len);
                size_t tlen = len;
                if (keep > 0) {
                    tlen = apply_rop(tmp, len, &ops[k], keep);
                }
                if (tlen == got_len && memcmp(tmp, got, tlen) == 0) {
                    match = true;
                    seen.none += k == 0 && keep == 0;
                    seen.all += k == n_ops;
                    seen.torn += keep > 0 && keep < max_keep;
                }
            }
            if (k < n_ops) {
                len = apply_rop(img, len, &ops[k], ops[k].len);
            }
        }
        ck_assert_msg(match, "seed=%" PRIu64 ": not a prefix of the writes",
                      seed);
        st_free(got);
        st_vfs_mem_free(v);
    }
    /* Every kind of outcome happened. */
    ck_assert_uint_gt(seen.none, 10);
    ck_assert_uint_gt(seen.all, 10);
    ck_assert_uint_gt(seen.torn, 10);
}
END_TEST

START_TEST(test_crash_is_deterministic_for_a_seed)
{
    char out[2][64];
    for (int run = 0; run < 2; run++) {
        struct st_vfs *v;
        ck_assert_int_eq(st_vfs_mem_new(42, &v), 0);
        struct st_file *h;
        ck_assert_int_eq(st_vfs_open(v, "/f", ST_VFS_CREATE, &h), 0);
        ck_assert_int_eq(st_vfs_fsync_dir(v, "/"), 0);
        for (int i = 0; i < 20; i++) {
            char c = (char)('a' + i);
            ck_assert_int_eq(st_vfs_pwrite(h, &c, 1, (uint64_t)i), 0);
        }
        st_vfs_mem_crash(v, ST_VFS_CRASH_RANDOM);
        st_vfs_close(h);
        uint8_t *buf;
        size_t len;
        ck_assert_int_eq(st_vfs_read_all(v, "/f", &buf, &len), 0);
        snprintf(out[run], sizeof out[run], "%.*s", (int)len, (char *)buf);
        st_free(buf);
        st_vfs_mem_free(v);
    }
    ck_assert_str_eq(out[0], out[1]);
}
END_TEST

struct writer {
    struct st_vfs *v;
    int id;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    char path[32];
    snprintf(path, sizeof path, "/w%d", w->id);
    struct st_file *h;
    if (st_vfs_open(w->v, path, ST_VFS_CREATE, &h) != 0) {
        return (void *)1;
    }
    for (uint64_t i = 0; i < 500; i++) {
        uint8_t b = (uint8_t)i;
        if (st_vfs_pwrite(h, &b, 1, i) != 0 || st_vfs_fsync(h) != 0) {
            return (void *)1;
        }
    }
    return st_vfs_close(h) == 0 ? NULL : (void *)1;
}

START_TEST(test_mem_vfs_is_safe_to_share_between_threads)
{
    pthread_t t[4];
    struct writer w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct writer){f.v, i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *res;
        pthread_join(t[i], &res);
        ck_assert_ptr_null(res);
    }
    for (int i = 0; i < 4; i++) {
        char path[32];
        snprintf(path, sizeof path, "/w%d", i);
        uint8_t *buf;
        size_t len;
        ck_assert_int_eq(st_vfs_read_all(f.v, path, &buf, &len), 0);
        ck_assert_uint_eq(len, 500);
        st_free(buf);
    }
}
END_TEST

static void add_contract(TCase *tc)
{
    tcase_add_test(tc, test_open_of_missing_file_without_create_is_enoent);
    tcase_add_test(tc, test_create_excl_fails_when_the_file_exists);
    tcase_add_test(tc, test_trunc_on_open_empties_the_file);
    tcase_add_test(tc, test_pread_at_and_after_eof_returns_a_short_count);
    tcase_add_test(tc, test_pwrite_past_the_end_leaves_a_zero_filled_hole);
    tcase_add_test(tc, test_truncate_shrinks_and_grows_with_zeros);
    tcase_add_test(tc, test_read_only_handle_refuses_writes);
    tcase_add_test(tc, test_rename_replaces_an_existing_target);
    tcase_add_test(tc, test_rename_moves_a_directory_with_its_files);
    tcase_add_test(tc, test_unlink_removes_the_name_and_missing_is_enoent);
    tcase_add_test(tc, test_an_unlinked_open_file_stays_readable);
    tcase_add_test(tc, test_list_is_sorted_bytewise_without_dot_entries);
    tcase_add_test(tc, test_list_of_an_empty_directory_is_empty);
    tcase_add_test(tc, test_stat_tells_files_from_directories);
    tcase_add_test(tc, test_rmdir_needs_an_empty_directory);
    tcase_add_test(tc, test_mkdir_p_creates_parents_and_accepts_existing_ones);
    tcase_add_test(tc, test_write_atomic_replaces_contents_and_leaves_no_tmp);
    tcase_add_test(tc, test_read_all_returns_the_whole_file_nul_terminated);
    tcase_add_test(tc, test_fsync_dir_needs_an_existing_directory);
    tcase_add_test(tc, test_fd_is_a_descriptor_only_on_posix);
}

Suite *test_suite(void)
{
    Suite *s = suite_create("vfs");

    TCase *posix = tcase_create("posix");
    tcase_add_checked_fixture(posix, setup_posix, teardown_posix);
    add_contract(posix);
    suite_add_tcase(s, posix);

    TCase *mem = tcase_create("mem");
    tcase_add_checked_fixture(mem, setup_mem, teardown_mem);
    add_contract(mem);
    suite_add_tcase(s, mem);

    TCase *crash = tcase_create("crash");
    tcase_add_checked_fixture(crash, setup_mem, teardown_mem);
    tcase_add_test(crash, test_crash_drop_all_loses_unsynced_writes);
    tcase_add_test(crash, test_crash_keeps_fsynced_truncate);
    tcase_add_test(crash,
                   test_file_fsynced_in_an_unsynced_directory_is_gone_after_crash);
    tcase_add_test(crash,
                   test_directory_created_without_parent_fsync_is_gone_with_its_files);
    tcase_add_test(crash, test_rename_without_directory_fsync_reverts_on_crash);
    tcase_add_test(crash, test_rename_with_directory_fsync_survives_crash);
    tcase_add_test(crash, test_handles_are_invalid_after_a_crash);
    tcase_add_test(crash,
                   test_fail_nth_write_fsync_and_open_return_the_error_once);
    tcase_add_test(crash,
                   test_failed_fsync_forgets_pending_writes_even_if_retried);
    tcase_add_test(crash, test_capacity_gives_enospc_until_space_is_freed);
    tcase_add_loop_test(crash, test_write_atomic_is_all_or_nothing_across_crash,
                        0, 600);
    tcase_add_test(crash, test_random_crash_keeps_a_prefix_of_each_files_writes);
    tcase_add_test(crash, test_crash_is_deterministic_for_a_seed);
    tcase_add_test(crash, test_mem_vfs_is_safe_to_share_between_threads);
    suite_add_tcase(s, crash);
    return s;
}
