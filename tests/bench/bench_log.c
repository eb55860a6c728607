/* bench_log: partition log storage throughput.
 *
 *   bench_log [--dir D] [--mb N] [--appenders A] [--inflight W]
 *             [--drop-caches]
 *
 * For record sizes 100 B and 1 KiB, in batches of 16 KiB, and for each
 * log.flush.policy (none, interval, batch), appends N MiB (default 256)
 * through the real log, flusher and jobq (2 workers) on a libevent loop,
 * with A appenders (default 8) each keeping up to W batches (default 5,
 * Kafka's max.in.flight) not yet durable. Prints MB/s and records/s of
 * appends (until every batch counts durable under the policy), then the
 * time of the final fsync, then sequential read MB/s through st_log_read
 * + pread (with --drop-caches, after dropping the page cache: root only).
 * Compare with: dd if=/dev/zero of=D/x bs=1M count=N conv=fdatasync
 */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/log/flusher.h"
#include "broker/log/log.h"
#include "common/batch.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/jobq.h"
#include "common/vfs.h"

#define MAX_APPENDERS 64
#define MAX_WINDOW 64

struct appender {
    int64_t last[MAX_WINDOW]; /* last offsets in flight, oldest first */
    int n;
};

struct bench {
    struct event_base *base;
    struct st_jobq *q;
    struct st_log *log;
    struct st_log_flusher *fl;
    struct event *pump_ev;
    uint8_t *batch;
    size_t batch_len;
    int records_per_batch;
    uint64_t bytes_total;
    uint64_t bytes_done;
    int64_t durable;
    struct appender ap[MAX_APPENDERS];
    int n_ap;
    int window;
    int failed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rv)
{
    fprintf(stderr, "bench_log: %s: %s\n", what, st_strerror(rv));
    exit(1);
}

static void on_durable(void *arg, int64_t durable)
{
    struct bench *b = arg;
    b->durable = durable;
    event_active(b->pump_ev, EV_TIMEOUT, 0);
}

/* Every appender appends while it has room in its window. */
static void pump_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bench *b = arg;
    (void)fd;
    (void)what;
    bool progress = true;
    while (progress) {
        progress = false;
        for (int i = 0; i < b->n_ap; i++) {
            struct appender *a = &b->ap[i];
            int k = 0;
            while (k < a->n && a->last[k] < b->durable) {
                k++;
            }
            memmove(a->last, a->last + k, (size_t)(a->n - k) * 8);
            a->n -= k;
            if (a->n < b->window && b->bytes_done < b->bytes_total) {
                struct st_log_append_info info;
                int rv = st_log_append(b->log, b->batch, b->batch_len,
                                       ST_LOG_APPEND_LEADER, 1, 0, &info);
                if (rv != 0) {
                    die("append", rv);
                }
                a->last[a->n++] = info.last_offset;
                b->bytes_done += b->batch_len;
                progress = true;
            }
        }
        /* Acks from the page cache arrive synchronously: keep going
         * without recursing through the callback. */
        b->durable = st_log_durable_offset(b->log);
    }
    st_log_flusher_kick(b->fl);
    if (b->bytes_done >= b->bytes_total &&
        b->durable >= st_log_end_offset(b->log)) {
        event_base_loopbreak(b->base);
    }
}

static size_t make_batch(size_t record_bytes, int *count, uint8_t **out)
{
    struct st_batch_builder *bld;
    int rv = st_batch_builder_new(&bld);
    if (rv != 0) {
        die("builder", rv);
    }
    struct st_batch_builder_opts o = {.codec = ST_CODEC_NONE,
                                      .producer_id = -1,
                                      .base_sequence = -1,
                                      .leader_epoch = -1};
    st_batch_builder_reset(bld, &o);
    uint8_t *val = malloc(record_bytes);
    memset(val, 'x', record_bytes);
    *count = 0;
    while (st_batch_builder_size(bld) + record_bytes + 16 <= 16384) {
        char key[16];
        int kl = snprintf(key, sizeof key, "k%d", *count);
        st_batch_builder_add(bld, 1000, (uint8_t *)key, (size_t)kl, val,
                             record_bytes, NULL, 0);
        (*count)++;
    }
    struct st_bytes v;
    rv = st_batch_builder_finish(bld, &v);
    if (rv != 0) {
        die("finish", rv);
    }
    *out = malloc(v.len);
    memcpy(*out, v.base, v.len);
    st_batch_builder_free(bld);
    free(val);
    return v.len;
}

static void drop_caches(void)
{
    sync();
    FILE *fp = fopen("/proc/sys/vm/drop_caches", "w");
    if (fp != NULL) {
        fputs("3\n", fp);
        fclose(fp);
    }
}

static double read_all(struct st_log *log, uint64_t *bytes)
{
    uint8_t *buf = malloc(2 << 20);
    double t0 = now_s();
    int64_t off = st_log_start_offset(log);
    *bytes = 0;
    for (;;) {
        struct st_log_read_result r;
        int rv = st_log_read(log, off, INT64_MAX, 1 << 20, &r);
        if (rv != 0) {
            die("read", rv);
        }
        if (r.len == 0) {
            break;
        }
        for (uint64_t at = 0; at < r.len;) {
            size_t n = 0, want = r.len - at > (2u << 20) ? (2u << 20)
                                                         : r.len - at;
            rv = st_vfs_pread(r.file, buf, want, r.pos + at, &n);
            if (rv != 0 || n == 0) {
                die("pread", rv);
            }
            at += n;
        }
        *bytes += r.len;
        off = r.next_offset;
        st_log_read_release(&r);
    }
    free(buf);
    return now_s() - t0;
}

static void run(const char *dir, enum st_log_flush_policy policy,
                size_t record_bytes, uint64_t mb, int appenders, int window,
                bool drop)
{
    static const char *names[] = {"batch", "interval", "none"};
    struct bench b;
    memset(&b, 0, sizeof b);
    char sub[512];
    snprintf(sub, sizeof sub, "%s/%s-%zu", dir, names[policy], record_bytes);
    struct st_log_config conf;
    st_log_config_init(&conf);
    conf.flush_policy = policy;
    conf.retention_ms = -1;
    b.base = event_base_new();
    int rv = st_jobq_new(b.base, 2, &b.q);
    if (rv == 0) {
        rv = st_log_open(st_vfs_posix(), sub, &conf, 0, &b.log);
    }
    if (rv == 0) {
        rv = st_log_flusher_new(b.base, b.q, b.log, 1, &b.fl);
    }
    if (rv != 0) {
        die("open", rv);
    }
    b.batch_len = make_batch(record_bytes, &b.records_per_batch, &b.batch);
    b.bytes_total = mb << 20;
    b.n_ap = appenders;
    b.window = window;
    st_log_set_durable_cb(b.log, on_durable, &b);
    b.pump_ev = event_new(b.base, -1, 0, pump_cb, &b);
    double t0 = now_s();
    event_active(b.pump_ev, EV_TIMEOUT, 0);
    event_base_loop(b.base, EVLOOP_NO_EXIT_ON_EMPTY);
    double t_append = now_s() - t0;
    uint64_t flushes = st_log_flusher_flushes(b.fl);
    st_log_flusher_free(b.fl);
    double t1 = now_s();
    rv = st_log_flush(b.log);
    if (rv != 0) {
        die("flush", rv);
    }
    double t_sync = now_s() - t1;
    uint64_t batches = b.bytes_done / b.batch_len;
    printf("append policy=%-8s record=%5zuB batch=%zuB appenders=%d "
           "inflight=%d: %7.1f MB/s %9.0f records/s  fsync-rounds=%" PRIu64
           " final-fsync=%.3fs (%.1f MB/s incl.)\n",
           names[policy], record_bytes, b.batch_len, appenders, window,
           (double)b.bytes_done / 1e6 / t_append,
           (double)(batches * (uint64_t)b.records_per_batch) / t_append,
           flushes, t_sync,
           (double)b.bytes_done / 1e6 / (t_append + t_sync));
    if (drop) {
        drop_caches();
    }
    uint64_t bytes;
    double t_read = read_all(b.log, &bytes);
    printf("read   policy=%-8s record=%5zuB: %7.1f MB/s (%s cache)\n",
           names[policy], record_bytes, (double)bytes / 1e6 / t_read,
           drop ? "cold" : "warm");
    fflush(stdout);
    event_free(b.pump_ev);
    st_jobq_free(b.q);
    st_log_close(b.log);
    event_base_free(b.base);
    free(b.batch);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sub);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_log: could not remove %s\n", sub);
    }
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t mb = 256;
    int appenders = 8, window = 5;
    bool drop = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc) {
            mb = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--appenders") == 0 && i + 1 < argc) {
            appenders = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--inflight") == 0 && i + 1 < argc) {
            window = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--drop-caches") == 0) {
            drop = true;
        } else {
            fprintf(stderr, "usage: bench_log [--dir D] [--mb N] "
                            "[--appenders A] [--inflight W] "
                            "[--drop-caches]\n");
            return 2;
        }
    }
    if (appenders < 1 || appenders > MAX_APPENDERS || window < 1 ||
        window > MAX_WINDOW) {
        fprintf(stderr, "bench_log: appenders 1..64, inflight 1..64\n");
        return 2;
    }
    char tmp[] = "/tmp/strata-bench-log-XXXXXX";
    if (dir == NULL) {
        dir = mkdtemp(tmp);
        if (dir == NULL) {
            perror("mkdtemp");
            return 1;
        }
    }
    st_diag_set_level(ST_LEVEL_WARN);
    if (st_jobq_threads_init() != 0) {
        return 1;
    }
    size_t sizes[] = {100, 1024};
    enum st_log_flush_policy pols[] = {ST_LOG_FLUSH_NONE,
                                       ST_LOG_FLUSH_INTERVAL,
                                       ST_LOG_FLUSH_BATCH};
    for (size_t s = 0; s < 2; s++) {
        for (size_t p = 0; p < 3; p++) {
            run(dir, pols[p], sizes[s], mb, appenders, window, drop);
        }
    }
    if (dir == tmp) {
        rmdir(tmp);
    }
    return 0;
}
