/* strata perf produce | perf consume: throughput and latency through
 * libstrata, in the manner of Kafka's producer/consumer perf tools.
 *
 * produce: --records N records of --record-size B bytes (random capital
 * letters, so zstd has something to do, like Kafka's tool), at most
 * --throughput R records/s. Latency is enqueue (strata_produce) to
 * delivery report, so it includes linger.ms and batching.
 * consume: reads --records N from the beginning of every partition.
 * Latency is the record's age when poll returned it (now - CreateTime,
 * wall clock, ms resolution): the end-to-end latency while a producer
 * runs, the backlog age otherwise.
 * Both print a progress line every second on stderr and a summary with
 * records/s, MB/s (10^6 bytes) and p50/p95/p99/p99.9/max. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/cli/client.h"
#include "client/cli/histogram.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct perf {
    const char *mode, *topic, *acks, *compression;
    long records, record_size, throughput, linger_ms, batch_size;
    uint64_t start_us, last_us;
    long done, failed, last_done;
    uint64_t bytes, last_bytes;
    char first_err[512];
    struct cli_hist hist;     /* microseconds */
    struct cli_hist window;   /* since the last progress line */
};

static void progress(struct perf *p, bool force)
{
    uint64_t t = now_us();
    if (!force && t - p->last_us < 1000000) {
        return;
    }
    double secs = (double)(t - p->last_us) / 1e6;
    long n = p->done - p->last_done;
    fprintf(stderr, "%ld records %s, %.1f records/s (%.2f MB/s), %.1f ms avg "
            "latency, %.1f ms max latency.\n", n,
            strcmp(p->mode, "produce") == 0 ? "sent" : "read",
            secs > 0 ? (double)n / secs : 0.0,
            secs > 0 ? (double)(p->bytes - p->last_bytes) / secs / 1e6 : 0.0,
            cli_hist_mean(&p->window) / 1000.0,
            (double)p->window.max / 1000.0);
    cli_hist_init(&p->window);
    p->last_us = t;
    p->last_done = p->done;
    p->last_bytes = p->bytes;
}

static void summary(const struct cli_opts *o, const struct perf *p)
{
    double secs = (double)(now_us() - p->start_us) / 1e6;
    double rps = secs > 0 ? (double)p->done / secs : 0.0;
    double mbps = secs > 0 ? (double)p->bytes / secs / 1e6 : 0.0;
    const struct cli_hist *h = &p->hist;
    double q[5] = {50, 95, 99, 99.9};
    double ms[5];
    for (int i = 0; i < 4; i++) {
        ms[i] = (double)cli_hist_percentile(h, q[i]) / 1000.0;
    }
    ms[4] = (double)h->max / 1000.0;
    if (o->json) {
        printf("{\"mode\":\"%s\",\"topic\":", p->mode);
        cli_json_str(stdout, p->topic);
        printf(",\"records\":%ld,\"failed\":%ld,\"record_size\":%ld,"
               "\"seconds\":%.3f,\"records_per_sec\":%.1f,\"mb_per_sec\":%.3f,"
               "\"latency_ms\":{\"avg\":%.3f,\"p50\":%.3f,\"p95\":%.3f,"
               "\"p99\":%.3f,\"p99_9\":%.3f,\"max\":%.3f}}\n",
               p->done, p->failed, p->record_size, secs, rps, mbps,
               cli_hist_mean(h) / 1000.0, ms[0], ms[1], ms[2], ms[3], ms[4]);
        return;
    }
    printf("%ld records %s, %.1f records/sec (%.2f MB/sec), %.2f ms avg "
           "latency, %.2f ms max latency, %.2f ms 50th, %.2f ms 95th, "
           "%.2f ms 99th, %.2f ms 99.9th.\n",
           p->done, strcmp(p->mode, "produce") == 0 ? "sent" : "read", rps,
           mbps, cli_hist_mean(h) / 1000.0, ms[4], ms[0], ms[1], ms[2],
           ms[3]);
}

/* The delivery callback gets the handle's opaque (the perf state) and the
 * record's opaque (its enqueue time in us). */
static void perf_dr_cb(strata_t *rk, const strata_message_t *m, void *opaque)
{
    (void)rk;
    struct perf *p = opaque;
    if (m->err != 0) {
        if (p->failed++ == 0) {
            snprintf(p->first_err, sizeof p->first_err, "%s [%" PRId32
                     "]: %s", m->topic, m->partition,
                     m->errstr && m->errstr[0] ? m->errstr
                                               : strata_err2str(m->err));
        }
        return;
    }
    uint64_t lat = now_us() - (uint64_t)(uintptr_t)m->opaque;
    cli_hist_record(&p->hist, lat);
    cli_hist_record(&p->window, lat);
    p->done++;
    p->bytes += (uint64_t)m->value_len;
}

static int parse(struct perf *p, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = NULL;
        const char **str = NULL;
        if (strcmp(a, "--topic") == 0) {
            str = &p->topic;
        } else if (strcmp(a, "--acks") == 0) {
            str = &p->acks;
        } else if (strcmp(a, "--compression") == 0) {
            str = &p->compression;
        } else if (strcmp(a, "--records") == 0) {
            num = &p->records;
        } else if (strcmp(a, "--record-size") == 0) {
            num = &p->record_size;
        } else if (strcmp(a, "--throughput") == 0) {
            num = &p->throughput;
        } else if (strcmp(a, "--linger-ms") == 0) {
            num = &p->linger_ms;
        } else if (strcmp(a, "--batch-size") == 0) {
            num = &p->batch_size;
        } else {
            cli_fail("perf", "unknown option '%s'", a);
            return 2;
        }
        if (v == NULL) {
            cli_fail("perf", "%s needs a value", a);
            return 2;
        }
        i++;
        if (str != NULL) {
            *str = v;
            continue;
        }
        char *end;
        *num = strtol(v, &end, 10);
        if (*end != '\0' || (*num <= 0 && num != &p->throughput)) {
            cli_fail("perf", "%s: bad value '%s'", a, v);
            return 2;
        }
    }
    if (p->topic == NULL || p->records <= 0) {
        cli_fail("perf", "give --topic T and --records N");
        return 2;
    }
    if (strcmp(p->mode, "produce") == 0 && p->record_size <= 0) {
        cli_fail("perf", "give --record-size B");
        return 2;
    }
    return 0;
}

int perf_produce(struct cli_opts *o, int argc, char **argv)
{
    struct perf *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return cli_fail("perf produce", "out of memory");
    }
    *p = (struct perf){.mode = "produce", .acks = "all",
                       .compression = "none", .throughput = -1,
                       .linger_ms = 5};
    int rv = parse(p, argc, argv);
    if (rv != 0) {
        free(p);
        return rv;
    }
    char linger[32], batch[32];
    snprintf(linger, sizeof linger, "%ld", p->linger_ms);
    snprintf(batch, sizeof batch, "%ld", p->batch_size);
    const char *extra[] = {"acks", p->acks, "compression.type",
                           p->compression, "linger.ms", linger,
                           p->batch_size > 0 ? "batch.size" : NULL, batch,
                           NULL};
    char err[1024];
    strata_t *rk = cli_client_open(o, STRATA_PRODUCER, extra, perf_dr_cb, p,
                                   err, sizeof err);
    if (rk == NULL) {
        free(p);
        return cli_fail("perf produce", "%s", err);
    }
    if (cli_topic_partitions(o, rk, "perf produce", p->topic) < 0) {
        strata_destroy(rk);
        free(p);
        return 1;
    }
    /* A pool of random payloads: records differ, as real ones do. */
    enum { POOL = 64 };
    size_t sz = (size_t)p->record_size;
    char *pool = malloc(sz * POOL);
    if (pool == NULL) {
        strata_destroy(rk);
        free(p);
        return cli_fail("perf produce", "out of memory");
    }
    srand((unsigned)time(NULL));
    for (size_t i = 0; i < sz * POOL; i++) {
        pool[i] = (char)('A' + rand() % 26);
    }
    cli_hist_init(&p->hist);
    cli_hist_init(&p->window);
    signal(SIGINT, on_signal);
    p->start_us = p->last_us = now_us();
    long sent = 0;
    while (sent < p->records && !stop) {
        if (p->throughput > 0) {
            uint64_t due = p->start_us +
                           (uint64_t)((double)sent * 1e6 /
                                      (double)p->throughput);
            uint64_t t = now_us();
            if (t < due) {
                strata_poll(rk, 0);
                usleep((useconds_t)(due - t < 10000 ? due - t : 10000));
                continue;
            }
        }
        strata_resp_err_t e = strata_produce(
            rk, p->topic, STRATA_PARTITION_ANY, NULL, 0,
            pool + (size_t)(sent % POOL) * sz, sz, NULL, 0,
            STRATA_MSG_F_COPY, (void *)(uintptr_t)now_us());
        if (e == STRATA_ERR__QUEUE_FULL) {
            strata_poll(rk, 10);
            continue;
        }
        if (e != 0) {
            rv = cli_fail("perf produce", "record %ld: %s", sent + 1,
                          strata_err2str(e));
            break;
        }
        sent++;
        if ((sent & 255) == 0) {
            strata_poll(rk, 0);
        }
        progress(p, false);
    }
    while (strata_outq_len(rk) > 0 && !stop) {
        if (strata_flush(rk, 1000) == 0) {
            break;
        }
        progress(p, false);
    }
    progress(p, true);
    cli_client_close(rk, 1000);
    if (rv == 0 && p->failed > 0) {
        rv = cli_fail("perf produce", "%ld records failed; first: %s",
                      p->failed, p->first_err);
    }
    summary(o, p);
    free(pool);
    free(p);
    return rv;
}

int perf_consume(struct cli_opts *o, int argc, char **argv)
{
    struct perf *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return cli_fail("perf consume", "out of memory");
    }
    *p = (struct perf){.mode = "consume", .throughput = -1};
    int rv = parse(p, argc, argv);
    if (rv != 0) {
        free(p);
        return rv;
    }
    char err[1024];
    strata_t *rk = cli_client_open(o, STRATA_CONSUMER, NULL, NULL, NULL, err,
                                   sizeof err);
    if (rk == NULL) {
        free(p);
        return cli_fail("perf consume", "%s", err);
    }
    int n = cli_topic_partitions(o, rk, "perf consume", p->topic);
    if (n < 0) {
        strata_destroy(rk);
        free(p);
        return 1;
    }
    strata_topic_partition_list_t *l = strata_topic_partition_list_new(n);
    for (int32_t i = 0; i < n; i++) {
        strata_topic_partition_list_add(l, p->topic, i)->offset =
            STRATA_OFFSET_BEGINNING;
    }
    cli_hist_init(&p->hist);
    cli_hist_init(&p->window);
    signal(SIGINT, on_signal);
    p->start_us = p->last_us = now_us();
    strata_assign(rk, l);
    strata_topic_partition_list_destroy(l);
    uint64_t idle_since = now_us();
    int tmo_us = cli_timeout_ms(o) * 1000;
    while (p->done < p->records && !stop) {
        strata_message_t *m = strata_consumer_poll(rk, 100);
        progress(p, false);
        if (m == NULL) {
            if (now_us() - idle_since > (uint64_t)tmo_us) {
                rv = cli_fail("perf consume", "no record for %d ms after %ld "
                              "of %ld", cli_timeout_ms(o), p->done,
                              p->records);
                break;
            }
            continue;
        }
        idle_since = now_us();
        if (m->err != 0) {
            rv = cli_fail("perf consume", "%s [%" PRId32 "]: %s", p->topic,
                          m->partition, strata_err2str(m->err));
            strata_message_destroy(m);
            break;
        }
        int64_t age = wall_ms() - m->timestamp_ms;
        uint64_t lat = age > 0 ? (uint64_t)age * 1000 : 0;
        cli_hist_record(&p->hist, lat);
        cli_hist_record(&p->window, lat);
        if (p->record_size == 0) {
            p->record_size = (long)m->value_len;
        }
        p->done++;
        p->bytes += m->value_len + m->key_len;
        strata_message_destroy(m);
    }
    progress(p, true);
    strata_destroy(rk);
    summary(o, p);
    free(p);
    return rv;
}
