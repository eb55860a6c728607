/* The idempotent producer against a real cluster (driven by
 * client_idempotence.sh, which starts the cluster and kills a leader).
 *
 *   idem_check BOOTSTRAP CERTS produce TOPIC PARTS N PROGRESS [IDEM] [SECS]
 *              [BIG_AT FAILED_OUT]
 *       produce N numbered records (record i to partition i % PARTS) with
 *       acks=all, paced over about SECS seconds (0: as fast as possible),
 *       writing the delivered count to PROGRESS as it goes; every record
 *       must get exactly one delivery report, all successful, and per
 *       partition the reported offsets must rise in production order.
 *       Prints the throughput. With BIG_AT, record BIG_AT is 20,000 bytes
 *       (over the topic's max.message.bytes): it and the records batched
 *       with it must fail with MESSAGE_TOO_LARGE, all others succeed; the
 *       failed numbers go to FAILED_OUT.
 *   idem_check BOOTSTRAP CERTS verify TOPIC PARTS N [FAILED]
 *       read every partition from the start: each holds exactly its
 *       records (but those listed in FAILED), each once, in production
 *       order, no gap, nothing else.
 * Exits 0 when the behaviour holds, 1 with a one-line reason otherwise.
 * Uses only the public <strata.h>. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <strata.h>

static const char *boot, *certs;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set(strata_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (strata_conf_set(c, k, v, err, sizeof err) != STRATA_CONF_OK) {
        die("config %s=%s: %s", k, v, err);
    }
}

static strata_conf_t *base_conf(void)
{
    char p[512];
    strata_conf_t *c = strata_conf_new();
    set(c, "bootstrap.servers", boot);
    snprintf(p, sizeof p, "%s/ca.pem", certs);
    set(c, "ssl.ca.location", p);
    snprintf(p, sizeof p, "%s/client.pem", certs);
    if (access(p, R_OK) == 0) {
        set(c, "ssl.certificate.location", p);
        snprintf(p, sizeof p, "%s/client.key", certs);
        set(c, "ssl.key.location", p);
    }
    return c;
}

static strata_t *make(strata_type_t type, strata_conf_t *c)
{
    char err[512];
    strata_t *rk = strata_new(type, c, err, sizeof err);
    if (rk == NULL) {
        die("strata_new: %s", err);
    }
    if (strata_wait_ready(rk, 15000, err, sizeof err) != 0) {
        die("wait_ready: %s", err);
    }
    return rk;
}

static long parse_num(const void *p, size_t len)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.*s", (int)len, (const char *)p);
    return atol(buf);
}

/* ---- produce ---- */

static int parts_n;
static long n_total, delivered, failed;
static unsigned char *reported;   /* per record: reports seen */
static int64_t *last_offset;      /* per partition */
static long *last_num;            /* per partition */
static char first_err[512];
static char other_err[512];       /* a failure not MESSAGE_TOO_LARGE */
static unsigned char *failed_nums;

static void on_dr(strata_t *rk, const strata_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    long i = (long)(intptr_t)m->opaque;
    if (i < 0 || i >= n_total) {
        die("delivery report for an unknown record %ld", i);
    }
    if (reported[i]++ != 0) {
        die("record %ld got a second delivery report", i);
    }
    if (m->err != 0) {
        failed_nums[i] = 1;
        if (m->err != STRATA_ERR_MESSAGE_TOO_LARGE && other_err[0] == '\0') {
            snprintf(other_err, sizeof other_err, "record %ld: %s %s", i,
                     strata_err2str(m->err), m->errstr ? m->errstr : "");
        }
        if (failed++ == 0) {
            snprintf(first_err, sizeof first_err, "record %ld: %s %s", i,
                     strata_err2str(m->err), m->errstr ? m->errstr : "");
        }
        return;
    }
    int p = m->partition;
    if (p != (int)(i % parts_n)) {
        die("record %ld reported in partition %d", i, p);
    }
    if (m->offset <= last_offset[p] || i <= last_num[p]) {
        die("partition %d: record %ld at offset %" PRId64 " after record "
            "%ld at offset %" PRId64, p, i, m->offset, last_num[p],
            last_offset[p]);
    }
    last_offset[p] = m->offset;
    last_num[p] = i;
    delivered++;
}

static void on_error(strata_t *rk, strata_resp_err_t err, const char *reason,
                     void *opaque)
{
    (void)rk;
    (void)opaque;
    fprintf(stderr, "client error: %s: %s\n", strata_err2str(err), reason);
}

static void write_progress(const char *path)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f != NULL) {
        fprintf(f, "%ld\n", delivered);
        fclose(f);
        rename(tmp, path);
    }
}

static int cmd_produce(char **argv, int argc)
{
    const char *topic = argv[0];
    parts_n = atoi(argv[1]);
    n_total = atol(argv[2]);
    const char *progress = argv[3];
    const char *idem = argc > 4 ? argv[4] : "true";
    long secs = argc > 5 ? atol(argv[5]) : 0;
    long big_at = argc > 7 ? atol(argv[6]) : -1;
    const char *failed_out = argc > 7 ? argv[7] : NULL;
    static char big[20000];
    reported = calloc((size_t)n_total, 1);
    failed_nums = calloc((size_t)n_total, 1);
    last_offset = malloc((size_t)parts_n * sizeof *last_offset);
    last_num = malloc((size_t)parts_n * sizeof *last_num);
    for (int p = 0; p < parts_n; p++) {
        last_offset[p] = -1;
        last_num[p] = -1;
    }
    strata_conf_t *c = base_conf();
    set(c, "acks", "all");
    set(c, "enable.idempotence", idem);
    set(c, "linger.ms", "5");
    set(c, "batch.size", big_at >= 0 ? "65536" : "16384");
    set(c, "delivery.timeout.ms", "60000");
    set(c, "request.timeout.ms", "5000");
    strata_conf_set_dr_msg_cb(c, on_dr);
    strata_conf_set_error_cb(c, on_error);
    strata_t *pr = make(STRATA_PRODUCER, c);
    int64_t t0 = now_ms(), last_write = 0;
    for (long i = 0; i < n_total; i++) {
        char v[32];
        const char *val = v;
        size_t len = (size_t)snprintf(v, sizeof v, "%ld", i);
        if (i == big_at) {
            memset(big, ' ', sizeof big);
            memcpy(big, v, len);
            val = big;
            len = sizeof big;
        }
        strata_resp_err_t e;
        while ((e = strata_produce(pr, topic, (int32_t)(i % parts_n), NULL,
                                   0, val, len, NULL, 0,
                                   STRATA_MSG_F_COPY,
                                   (void *)(intptr_t)i)) ==
               STRATA_ERR__QUEUE_FULL) {
            strata_poll(pr, 10);
        }
        if (e != 0) {
            die("produce %ld: %s", i, strata_err2str(e));
        }
        strata_poll(pr, 0);
        if (secs > 0) {
            /* Pace: record i is due at t0 + i * secs / n. */
            int64_t due = t0 + (int64_t)((double)i * 1000.0 * (double)secs /
                                         (double)n_total);
            while (now_ms() < due) {
                strata_poll(pr, (int)(due - now_ms()));
            }
        }
        if (now_ms() - last_write >= 100) {
            write_progress(progress);
            last_write = now_ms();
        }
    }
    int64_t deadline = now_ms() + 70000;
    while (delivered + failed < n_total && now_ms() < deadline) {
        strata_flush(pr, 1000);
        write_progress(progress);
    }
    int64_t ms = now_ms() - t0;
    write_progress(progress);
    strata_destroy(pr);
    long missing = 0;
    for (long i = 0; i < n_total; i++) {
        missing += reported[i] == 0;
    }
    printf("produced %ld records (idempotence=%s): %ld delivered, %ld "
           "failed, %ld without report, in %" PRId64 " ms (%.0f records/s)\n",
           n_total, idem, delivered, failed, missing, ms,
           ms > 0 ? (double)n_total * 1000.0 / (double)ms : 0.0);
    if (missing != 0) {
        die("%ld records got no delivery report", missing);
    }
    if (big_at >= 0) {
        FILE *f = fopen(failed_out, "w");
        for (long i = 0; f != NULL && i < n_total; i++) {
            if (failed_nums[i]) {
                fprintf(f, "%ld\n", i);
            }
        }
        if (f == NULL || fclose(f) != 0) {
            die("cannot write %s", failed_out);
        }
        if (!failed_nums[big_at]) {
            die("record %ld (too large) did not fail", big_at);
        }
        if (failed > n_total / 10) {
            die("%ld of %ld records failed: more than the batch of record "
                "%ld", failed, n_total, big_at);
        }
        if (other_err[0] != '\0') {
            die("a failure other than MESSAGE_TOO_LARGE: %s", other_err);
        }
        printf("%ld records failed with MESSAGE_TOO_LARGE (the batch of "
               "record %ld), every other one delivered\n", failed, big_at);
        return 0;
    }
    if (failed != 0) {
        die("%ld records failed; first: %s", failed, first_err);
    }
    return 0;
}

/* ---- verify ---- */

static int cmd_verify(char **argv, int argc)
{
    const char *topic = argv[0];
    int parts = atoi(argv[1]);
    long n = atol(argv[2]);
    unsigned char *skip = calloc((size_t)n, 1);
    long n_skip = 0;
    if (argc > 3) {
        FILE *f = fopen(argv[3], "r");
        long k;
        while (f != NULL && fscanf(f, "%ld", &k) == 1) {
            if (k >= 0 && k < n && !skip[k]) {
                skip[k] = 1;
                n_skip++;
            }
        }
        if (f == NULL) {
            die("cannot read %s", argv[3]);
        }
        fclose(f);
    }
    strata_conf_t *c = base_conf();
    set(c, "enable.partition.eof", "true");
    strata_t *co = make(STRATA_CONSUMER, c);
    strata_topic_partition_list_t *l = strata_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++) {
        strata_topic_partition_list_add(l, topic, p)->offset =
            STRATA_OFFSET_BEGINNING;
    }
    strata_assign(co, l);
    strata_topic_partition_list_destroy(l);
    long *next = malloc((size_t)parts * sizeof *next);
    int64_t *prev_off = malloc((size_t)parts * sizeof *prev_off);
    for (int p = 0; p < parts; p++) {
        next[p] = p;
        while (next[p] < n && skip[next[p]]) {
            next[p] += parts;
        }
        prev_off[p] = -1;
    }
    long got = 0;
    int64_t deadline = now_ms() + 30000;
    n -= n_skip;
    while (got < n) {
        if (now_ms() > deadline) {
            die("read %ld of %ld records in 30 s", got, n);
        }
        strata_message_t *m = strata_consumer_poll(co, 1000);
        if (m == NULL) {
            continue;
        }
        if (m->err == STRATA_ERR__PARTITION_EOF) {
            strata_message_destroy(m);
            continue;
        }
        if (m->err != 0) {
            die("consume: %s %s", strata_err2str(m->err),
                m->errstr ? m->errstr : "");
        }
        int p = m->partition;
        long v = parse_num(m->value, m->value_len);
        if (p < 0 || p >= parts || v != next[p]) {
            die("partition %d offset %" PRId64 ": record %ld, expected %ld "
                "(a duplicate, a gap or a reorder)", p, m->offset, v,
                p >= 0 && p < parts ? next[p] : -1);
        }
        if (m->offset <= prev_off[p]) {
            die("partition %d: offset %" PRId64 " after %" PRId64, p,
                m->offset, prev_off[p]);
        }
        prev_off[p] = m->offset;
        next[p] += parts;
        while (next[p] < n + n_skip && skip[next[p]]) {
            next[p] += parts;
        }
        got++;
        strata_message_destroy(m);
    }
    /* Nothing past the last record: a late duplicate would show here. */
    int64_t quiet = now_ms() + 2000;
    while (now_ms() < quiet) {
        strata_message_t *m = strata_consumer_poll(co, 200);
        if (m == NULL) {
            continue;
        }
        if (m->err == 0) {
            die("partition %d offset %" PRId64 ": an extra record past the "
                "%ld expected", m->partition, m->offset, n);
        }
        strata_message_destroy(m);
    }
    printf("read %ld records over %d partitions: each exactly once, in "
           "production order, no gap\n", got, parts);
    strata_destroy(co);
    free(next);
    free(prev_off);
    free(skip);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        die("usage: idem_check BOOTSTRAP CERTS produce|verify ARGS...");
    }
    boot = argv[1];
    certs = argv[2];
    if (strcmp(argv[3], "produce") == 0 && argc >= 8) {
        return cmd_produce(argv + 4, argc - 4);
    }
    if (strcmp(argv[3], "verify") == 0 && argc >= 7) {
        return cmd_verify(argv + 4, argc - 4);
    }
    die("unknown or incomplete command %s", argv[3]);
}
