/* Raft store figures on the real file system: append+sync throughput by
 * batch size, fsync latency, and recovery (open) time.
 *
 *   bench_raft_store [DIR] [ENTRIES] [ENTRY_BYTES]
 *
 * DIR defaults to a fresh directory under $TMPDIR or /tmp and is removed
 * at the end. Not a test: it prints figures for notes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"
#include "controller/raft/raft_store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rv)
{
    fprintf(stderr, "bench_raft_store: %s: %s\n", what, st_strerror(rv));
    exit(1);
}

/* Append @n entries of @bytes in batches of @batch, syncing each batch. */
static void run(const char *dir, unsigned n, unsigned batch, size_t bytes)
{
    struct raft_store *s = NULL;
    struct raft_store_state st;
    int rv = raft_store_open(st_vfs_posix(), dir, NULL, &s, &st);
    if (rv != 0) {
        die("open", rv);
    }
    uint8_t *data = calloc(1, bytes ? bytes : 1);
    struct raft_entry *es = calloc(batch, sizeof *es);
    raft_index next = st.last_index + 1;
    double t0 = now_s();
    for (unsigned done = 0; done < n; done += batch) {
        for (unsigned k = 0; k < batch; k++) {
            es[k] = (struct raft_entry){.term = 1, .index = next + k,
                                        .type = RAFT_ENTRY_COMMAND,
                                        .data = {data, bytes}};
        }
        if ((rv = raft_store_append(s, es, batch)) != 0) {
            die("append", rv);
        }
        if ((rv = raft_store_sync(s)) != 0) {
            die("sync", rv);
        }
        next += batch;
    }
    double dt = now_s() - t0;
    printf("append+sync batch=%-5u entries=%-7u bytes=%zu: %.0f entries/s, "
           "%.1f MB/s, %.3f ms per sync\n", batch, n, bytes, n / dt,
           n * (double)bytes / dt / 1e6, dt * 1e3 / (n / batch));
    free(es);
    free(data);
    raft_store_close(s);
}

int main(int argc, char **argv)
{
    char tmp[512];
    const char *dir = argc > 1 ? argv[1] : NULL;
    unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 100000;
    size_t bytes = argc > 3 ? (size_t)atoi(argv[3]) : 128;
    st_diag_set_level(ST_LEVEL_WARN);
    if (dir == NULL) {
        const char *base = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/strata-bench-XXXXXX",
                 base ? base : "/tmp");
        if (mkdtemp(tmp) == NULL) {
            perror("mkdtemp");
            return 1;
        }
        dir = tmp;
    }
    char store[600];
    snprintf(store, sizeof store, "%s/raft", dir);

    run(store, 1000, 1, bytes);
    run(store, n / 10, 10, bytes);
    run(store, n, 100, bytes);
    run(store, n, 1000, bytes);

    struct raft_store *s = NULL;
    struct raft_store_state st;
    double t0 = now_s();
    int rv = raft_store_open(st_vfs_posix(), store, NULL, &s, &st);
    double dt = now_s() - t0;
    if (rv != 0) {
        die("reopen", rv);
    }
    printf("open (recovery, every CRC checked): %" PRIu64 " entries in "
           "%.1f ms\n", st.last_index, dt * 1e3);
    raft_store_close(s);

    if (dir == tmp) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", tmp);
        }
    }
    return 0;
}
