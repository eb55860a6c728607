/* libFuzzer target for Raft storage recovery (controller/raft/).
 *
 * Each input is the bytes of the first log segment of a store on the
 * in-memory vfs. Recovery must agree with the pure parser
 * (raft_seg_scan): a clean or torn-tailed segment opens with exactly the
 * intact records, anything else is refused with ST_ECORRUPT, never a
 * crash. After a successful open every entry reads back, a second open
 * sees the same state (recovery is idempotent), and the store takes and
 * keeps a new entry. The same bytes also go through the meta and snapshot
 * decoders.
 *
 * With STRATA_FUZZ_SEED_DIR=<dir> set, the program writes a few valid
 * segments there as seeds and exits (tests/fuzz/run-fuzz.sh does this).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"
#include "controller/raft/raft_meta.h"
#include "controller/raft/raft_segment.h"
#include "controller/raft/raft_snapshot.h"
#include "controller/raft/raft_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define DIR "/r"
#define SEG DIR "/log-00000000000000000001.seg"

static void put_file(struct st_vfs *v, const char *path, const uint8_t *p,
                     size_t n)
{
    struct st_file *f = NULL;
    if (st_vfs_open(v, path, ST_VFS_CREATE | ST_VFS_TRUNC, &f) != 0 ||
        (n > 0 && st_vfs_pwrite(f, p, n, 0) != 0) || st_vfs_fsync(f) != 0) {
        abort();
    }
    st_vfs_close(f);
}

/* Write a segment of @n entries (terms 1, 1, 2, ...) as a seed file. */
static void write_seed(const char *dir, int k, unsigned n)
{
    struct st_vfs *v = NULL;
    struct raft_store *s = NULL;
    if (st_vfs_mem_new(1, &v) != 0 ||
        raft_store_open(v, DIR, NULL, &s, NULL) != 0) {
        abort();
    }
    for (unsigned i = 1; i <= n; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "entry-%u", i);
        struct raft_entry e = {.term = 1 + i / 2, .index = i,
                               .type = RAFT_ENTRY_COMMAND,
                               .data = {(const uint8_t *)buf, (size_t)len}};
        if (raft_store_append(s, &e, 1) != 0) {
            abort();
        }
    }
    raft_store_close(s);
    uint8_t *p = NULL;
    size_t len = 0;
    if (st_vfs_read_all(v, SEG, &p, &len) != 0) {
        abort();
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/raft-seg-seed-%d", dir, k);
    FILE *fp = fopen(path, "wb");
    if (fp != NULL) {
        fwrite(p, 1, len, fp);
        fclose(fp);
    }
    st_free(p);
    st_vfs_mem_free(v);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    st_diag_set_level((enum st_level)(ST_LEVEL_ERROR + 1)); /* quiet */
    const char *dir = getenv("STRATA_FUZZ_SEED_DIR");
    if (dir == NULL || dir[0] == '\0') {
        return 0;
    }
    write_seed(dir, 0, 1);
    write_seed(dir, 1, 3);
    write_seed(dir, 2, 12);
    exit(0);
}

static void check_decoders(const uint8_t *data, size_t size)
{
    raft_term term;
    raft_id vote;
    struct st_bytes view;
    int rv = raft_meta_decode("fuzz", data, size, &term, &vote);
    if (rv != 0 && rv != ST_ECORRUPT) {
        abort();
    }
    rv = raft_snap_decode("fuzz", data, size, 1, &term, &view);
    if (rv != 0 && rv != ST_ECORRUPT) {
        abort();
    }
    if (rv == 0 && (view.base < data || view.base + view.len > data + size)) {
        abort();
    }
}

static int count_cb(void *arg, const struct raft_entry *e)
{
    raft_index *next = arg;
    if (e->index != *next) {
        abort();
    }
    (*next)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) {
        return 0;
    }
    check_decoders(data, size);

    struct raft_seg_scan sc;
    raft_seg_scan(data, size, 1, 0, NULL, NULL, &sc);
    bool clean = !sc.damaged || sc.torn_tail;

    struct st_vfs *v = NULL;
    struct raft_store *s = NULL;
    struct raft_store_state st, st2;
    if (st_vfs_mem_new(1, &v) != 0 || st_vfs_mkdir_p(v, DIR) != 0) {
        abort();
    }
    put_file(v, SEG, data, size);
    int rv = raft_store_open(v, DIR, NULL, &s, &st);
    if (!clean) {
        if (rv != ST_ECORRUPT) {
            abort(); /* rot must be refused, never repaired */
        }
        st_vfs_mem_free(v);
        return 0;
    }
    if (rv != 0 || st.first_index != 1 || st.last_index != sc.n_records) {
        abort();
    }
    raft_index next = 1;
    if (raft_store_load(s, 1, count_cb, &next) != 0 ||
        next != st.last_index + 1) {
        abort();
    }
    raft_store_close(s);
    s = NULL;
    if (raft_store_open(v, DIR, NULL, &s, &st2) != 0 ||
        memcmp(&st, &st2, sizeof st) != 0) {
        abort(); /* recovery is idempotent */
    }
    raft_term last_term = 1;
    raft_store_term_at(s, st.last_index, &last_term);
    struct raft_entry e = {.term = last_term ? last_term : 1,
                           .index = st.last_index + 1,
                           .type = RAFT_ENTRY_NOOP};
    if (raft_store_append(s, &e, 1) != 0 || raft_store_sync(s) != 0) {
        abort();
    }
    raft_store_close(s);
    s = NULL;
    if (raft_store_open(v, DIR, NULL, &s, &st2) != 0 ||
        st2.last_index != st.last_index + 1) {
        abort();
    }
    raft_store_close(s);
    st_vfs_mem_free(v);
    return 0;
}
