/* Record batch encode and decode throughput (a program, not a test).
 *
 *   build-rel/tests/bench/bench_batch [SECONDS_PER_CASE]   (default 1)
 *
 * For 1,000 records of 100 B and of 1 KiB values (16 B keys, text-like
 * values so zstd has something realistic to do), with codec none and zstd,
 * prints:
 *   encode: builder reset + 1,000 adds + finish (header, compression, CRC);
 *   decode: validate (CRC) + iterator init (decompression) + every record.
 * MB/s counts uncompressed batch bytes (what the application handed over),
 * 1 MB = 10^6 bytes. Quote figures from a release build without sanitizers:
 *   meson setup build-rel -Dbuildtype=release -Dsanitize=false
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/batch.h"
#include "common/crc32c.h"
#include "common/err.h"

#define N_RECORDS 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Words from a small vocabulary with random numbers: compresses about as
 * well as JSON-ish event payloads do (3-5x with zstd). */
static void fill_text(uint8_t *p, size_t n)
{
    static const char *words[] = {
        "\"user\":",  "\"event\":", "click",   "view",    "\"ts\":",
        "purchase", "\"id\":",    "session", "\"page\":", "/home",
        "/cart",    ",",          "{",       "}",       "true",
    };
    size_t i = 0;
    while (i < n) {
        char tmp[32];
        uint64_t r = rng();
        int len = (r & 3) == 0
                      ? snprintf(tmp, sizeof tmp, "%u", (unsigned)(r >> 40))
                      : snprintf(tmp, sizeof tmp, "%s",
                                 words[(r >> 8) % (sizeof words /
                                                   sizeof words[0])]);
        for (int j = 0; j < len && i < n; j++) {
            p[i++] = (uint8_t)tmp[j];
        }
    }
}

struct bench_case {
    size_t value_len;
    enum st_codec codec;
};

static uint8_t *values;  /* N_RECORDS values, each value_len bytes */
static uint8_t keys[N_RECORDS][16];

static void build(struct st_batch_builder *b, const struct bench_case *c,
                  struct st_bytes *out)
{
    struct st_batch_builder_opts o = {
        .codec = c->codec,
        .zstd_level = 0,
        .producer_id = 1,
        .producer_epoch = 0,
        .base_sequence = 0,
        .leader_epoch = -1,
    };
    st_batch_builder_reset(b, &o);
    for (int i = 0; i < N_RECORDS; i++) {
        int rv = st_batch_builder_add(b, 1700000000000LL + i, keys[i], 16,
                                      values + (size_t)i * c->value_len,
                                      c->value_len, NULL, 0);
        if (rv != 0) {
            fprintf(stderr, "add: %s\n", st_strerror(rv));
            exit(1);
        }
    }
    int rv = st_batch_builder_finish(b, out);
    if (rv != 0) {
        fprintf(stderr, "finish: %s\n", st_strerror(rv));
        exit(1);
    }
}

static uint64_t decode(struct st_record_iter *it, const uint8_t *p, size_t len)
{
    struct st_batch_header h;
    struct st_record r;
    uint64_t sum = 0;
    int rv = st_batch_validate(p, len, 64u << 20, &h);
    if (rv == 0) {
        rv = st_record_iter_init(it, p, len, 64u << 20);
    }
    while (rv == 0 && (rv = st_record_iter_next(it, &r)) == 0) {
        sum += (uint64_t)r.value_len + r.value[0] + (uint64_t)r.offset;
    }
    if (rv != 1) {
        fprintf(stderr, "decode: %s\n", st_strerror(rv));
        exit(1);
    }
    return sum;
}

static void run_case(const struct bench_case *c, double secs)
{
    struct st_batch_builder *b;
    struct st_record_iter *it;
    struct st_bytes out;
    if (st_batch_builder_new(&b) != 0 || st_record_iter_new(&it) != 0) {
        exit(1);
    }
    values = malloc(N_RECORDS * c->value_len);
    fill_text(values, N_RECORDS * c->value_len);

    /* Encode. */
    build(b, c, &out); /* warm up: buffers reach their size */
    size_t raw = st_batch_builder_size(b), stored = out.len;
    long n = 0;
    double t0 = now_s(), t;
    do {
        build(b, c, &out);
        n++;
    } while ((t = now_s()) - t0 < secs);
    double enc_mbs = (double)raw * (double)n / (t - t0) / 1e6;
    double enc_bps = (double)n / (t - t0);

    /* Decode the last batch repeatedly (a private copy, like a fetch). */
    uint8_t *copy = malloc(out.len);
    memcpy(copy, out.base, out.len);
    volatile uint64_t sink = decode(it, copy, out.len);
    n = 0;
    t0 = now_s();
    do {
        sink += decode(it, copy, out.len);
        n++;
    } while ((t = now_s()) - t0 < secs);
    double dec_mbs = (double)raw * (double)n / (t - t0) / 1e6;
    (void)sink;

    printf("%5zu B x %d  %-4s  batch %8zu B (%4.2fx)  encode %7.0f MB/s "
           "(%6.0f batches/s)  decode %7.0f MB/s\n",
           c->value_len, N_RECORDS, c->codec == ST_CODEC_ZSTD ? "zstd" : "none",
           stored, (double)raw / (double)stored, enc_mbs, enc_bps, dec_mbs);
    free(copy);
    free(values);
    st_record_iter_free(it);
    st_batch_builder_free(b);
}

static void run_crc(double secs)
{
    size_t len = 1 << 20;
    uint8_t *p = malloc(len);
    fill_text(p, len);
    uint32_t (*fns[])(uint32_t, const void *, size_t) = {st_crc32c_sw,
                                                        st_crc32c_hw};
    const char *names[] = {"sw (slicing-by-8)", "hw (sse4.2)"};
    for (int f = 0; f < 2; f++) {
        if (f == 1 && !st_crc32c_hw_available()) {
            printf("crc32c %-18s  not available on this CPU\n", names[f]);
            continue;
        }
        volatile uint32_t sink = 0;
        long n = 0;
        double t0 = now_s(), t;
        do {
            sink ^= fns[f](0, p, len);
            n++;
        } while ((t = now_s()) - t0 < secs / 2);
        (void)sink;
        printf("crc32c %-18s  %7.0f MB/s\n", names[f],
               (double)len * (double)n / (t - t0) / 1e6);
    }
    free(p);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (secs <= 0) {
        secs = 1.0;
    }
    for (int i = 0; i < N_RECORDS; i++) {
        snprintf((char *)keys[i], sizeof keys[i], "user-%010d", i);
    }
    const struct bench_case cases[] = {
        {100, ST_CODEC_NONE},
        {100, ST_CODEC_ZSTD},
        {1024, ST_CODEC_NONE},
        {1024, ST_CODEC_ZSTD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(&cases[i], secs);
    }
    run_crc(secs);
    return 0;
}
