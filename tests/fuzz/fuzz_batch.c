/* libFuzzer target for the record batch decoder.
 *
 * Each input is used three ways:
 * 1. as is: st_batch_validate and, when it passes, the record iterator and
 *    every header (what a broker does with bytes from a peer or a file);
 * 2. "repaired": a copy whose batch_length, magic and CRC are made right, so
 *    the fuzzer reaches the records and zstd code without having to solve a
 *    CRC32C;
 * 3. as a recipe: records built from the input with the builder must come
 *    back from the iterator exactly as they went in.
 * libFuzzer hands us an exact-size buffer, so ASan reports any overread.
 *
 * With STRATA_FUZZ_SEED_DIR=<dir> set, the program writes a few valid
 * batches there as seeds and exits (tests/fuzz/run-fuzz.sh does this once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/batch.h"
#include "common/err.h"

#define MAX_BYTES (1u << 20)
#define MAX_UNCOMPRESSED (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct st_record_iter *iter;
static struct st_batch_builder *builder;

/* Walk every record and header; any result is fine as long as the
 * sanitizers stay quiet and the walk ends. */
static void walk(const uint8_t *p, size_t len)
{
    struct st_batch_header h;
    if (st_batch_validate(p, len, MAX_BYTES, &h) != 0) {
        return;
    }
    if (st_record_iter_init(iter, p, len, MAX_UNCOMPRESSED) != 0) {
        return;
    }
    struct st_record r;
    int32_t n = 0;
    int rv;
    while ((rv = st_record_iter_next(iter, &r)) == 0) {
        n++;
        if (r.key != NULL && r.key_len > 0) {
            volatile uint8_t k = r.key[r.key_len - 1];
            (void)k;
        }
        if (r.value != NULL && r.value_len > 0) {
            volatile uint8_t v = r.value[r.value_len - 1];
            (void)v;
        }
        for (uint32_t i = 0; i < r.n_headers; i++) {
            struct st_record_header hd;
            if (st_record_header_get(&r, i, &hd) != 0) {
                abort(); /* the iterator already checked these bytes */
            }
        }
    }
    if (rv == 1 && n != h.record_count) {
        abort(); /* clean end with the wrong number of records */
    }
}

static void repaired(const uint8_t *data, size_t size)
{
    if (size < ST_BATCH_HEADER_BYTES) {
        return;
    }
    uint8_t *p = malloc(size);
    if (p == NULL) {
        return;
    }
    memcpy(p, data, size);
    st_put_be32(p + 8, (uint32_t)(size - ST_BATCH_LOG_OVERHEAD));
    p[16] = ST_BATCH_MAGIC;
    st_put_be32(p + 17, st_batch_crc_compute(p, size));
    walk(p, size);
    free(p);
}

/* Cut the input into records: each takes a length byte for its key
 * (0xff: null), one for its value, then those bytes. Build, read back,
 * compare. */
static void recipe(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return;
    }
    struct st_batch_builder_opts o = {
        .codec = (data[0] & 1) ? ST_CODEC_ZSTD : ST_CODEC_NONE,
        .zstd_level = 1,
        .producer_id = -1,
        .producer_epoch = -1,
        .base_sequence = -1,
        .leader_epoch = -1,
    };
    st_batch_builder_reset(builder, &o);
    size_t pos = 1;
    int n = 0;
    while (pos + 2 <= size && n < 200) {
        uint8_t kl = data[pos], vl = data[pos + 1];
        pos += 2;
        size_t kn = kl == 0xff ? 0 : kl, vn = vl == 0xff ? 0 : vl;
        if (kn + vn > size - pos) {
            break;
        }
        const uint8_t *k = kl == 0xff ? NULL : data + pos;
        const uint8_t *v = vl == 0xff ? NULL : data + pos + kn;
        struct st_record_header hd = {"h", 1, v, vn};
        if (st_batch_builder_add(builder, (int64_t)n * 1000 - 500, k, kn, v,
                                 vn, &hd, n % 2) != 0) {
            abort();
        }
        pos += kn + vn;
        n++;
    }
    struct st_bytes out;
    if (st_batch_builder_finish(builder, &out) != 0) {
        abort();
    }
    struct st_batch_header h;
    if (st_batch_validate(out.base, out.len, SIZE_MAX, &h) != 0 ||
        h.record_count != n ||
        st_record_iter_init(iter, out.base, out.len, SIZE_MAX) != 0) {
        abort();
    }
    pos = 1;
    for (int i = 0; i < n; i++) {
        struct st_record r;
        uint8_t kl = data[pos], vl = data[pos + 1];
        pos += 2;
        size_t kn = kl == 0xff ? 0 : kl, vn = vl == 0xff ? 0 : vl;
        if (st_record_iter_next(iter, &r) != 0 || r.offset != i ||
            r.timestamp_ms != (int64_t)i * 1000 - 500 ||
            (kl == 0xff) != (r.key == NULL) ||
            (vl == 0xff) != (r.value == NULL) ||
            (r.key != NULL && ((size_t)r.key_len != kn ||
                               memcmp(r.key, data + pos, kn) != 0)) ||
            (r.value != NULL && ((size_t)r.value_len != vn ||
                                 memcmp(r.value, data + pos + kn, vn) != 0)) ||
            r.n_headers != (uint32_t)(i % 2)) {
            abort();
        }
        pos += kn + vn;
    }
    struct st_record r;
    if (st_record_iter_next(iter, &r) != 1) {
        abort();
    }
}

static void write_seed(const char *dir, const char *name,
                       const struct st_bytes *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(b->base, 1, b->len, f) != b->len) {
        fprintf(stderr, "fuzz_batch: cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static void write_seeds(const char *dir)
{
    static const struct {
        const char *name;
        enum st_codec codec;
        int n;
    } seeds[] = {
        {"seed-empty", ST_CODEC_NONE, 0},
        {"seed-one", ST_CODEC_NONE, 1},
        {"seed-five", ST_CODEC_NONE, 5},
        {"seed-five-zstd", ST_CODEC_ZSTD, 5},
    };
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        struct st_batch_builder_opts o = {
            .codec = seeds[s].codec,
            .producer_id = 9,
            .producer_epoch = 1,
            .base_sequence = 0,
            .leader_epoch = -1,
        };
        st_batch_builder_reset(builder, &o);
        for (int i = 0; i < seeds[s].n; i++) {
            struct st_record_header hd = {"trace", 5, (const uint8_t *)"x",
                                          1};
            char v[32];
            int vn = snprintf(v, sizeof v, "value-%d", i);
            if (st_batch_builder_add(builder, 1700000000000LL + i,
                                     i % 2 ? NULL : (const uint8_t *)"key",
                                     3, (const uint8_t *)v, (size_t)vn, &hd,
                                     i % 3 == 0) != 0) {
                exit(1);
            }
        }
        struct st_bytes out;
        if (st_batch_builder_finish(builder, &out) != 0) {
            exit(1);
        }
        write_seed(dir, seeds[s].name, &out);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (st_record_iter_new(&iter) != 0 ||
        st_batch_builder_new(&builder) != 0) {
        abort();
    }
    const char *seed_dir = getenv("STRATA_FUZZ_SEED_DIR");
    if (seed_dir != NULL) {
        write_seeds(seed_dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk(data, size);
    repaired(data, size);
    recipe(data, size);
    return 0;
}
