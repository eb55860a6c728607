/* libFuzzer target for the small on-disk formats of a partition log
 * (broker/log/): checkpoint frames (checkpoint.h), the leader-epoch cache
 * and producer-state payloads (epoch_cache.h, producer_state.h) and the
 * .index / .timeindex files (index.h).
 *
 * Byte 0 of an input picks the decoder, the rest is its input:
 *   0  checkpoint image of kind byte1 % 6: whatever decodes re-encodes to
 *      the same bytes, and its payload goes through that kind's decoder;
 *   1  checkpoint payload framed here with a valid CRC (kind byte1 % 6):
 *      it must decode, to exactly that payload;
 *   2  leader-epoch payload: decode -> encode gives the input back; the
 *      queries and truncations keep entries strictly increasing;
 *   3  producer-state payload: encode(decode(x)) is a fixed point, every
 *      producer decoded is found, and check/update/truncate with headers
 *      made from the input never break the "at most 5 batches" rule;
 *   4  .index (u64 log size, then the file): decode -> encode gives the
 *      file back; lookups agree with a linear scan;
 *   5  .timeindex (u64 rel limit, then the file): the same.
 * Anything else is refused with ST_ECORRUPT, never a crash (ASan sees any
 * overread: libFuzzer hands us an exact-size buffer).
 *
 * With STRATA_FUZZ_SEED_DIR=<dir> set, the program writes a valid input of
 * each kind there and exits (tests/fuzz/run-fuzz.sh does this once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/log/checkpoint.h"
#include "broker/log/epoch_cache.h"
#include "broker/log/index.h"
#include "broker/log/producer_state.h"
#include "common/batch.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct st_buf b1, b2;

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_log_state: %s\n", what);
        abort();
    }
}

static void epochs_ok(const struct st_epoch_cache *c)
{
    for (size_t i = 1; i < c->n; i++) {
        check(c->e[i].epoch > c->e[i - 1].epoch &&
                  c->e[i].start_offset > c->e[i - 1].start_offset,
              "epoch entries not strictly increasing");
    }
}

static void fuzz_epochs(const uint8_t *p, size_t n)
{
    struct st_epoch_cache c;
    st_epoch_cache_init(&c);
    int rv = st_epoch_cache_decode(&c, p, n);
    check(rv == 0 || rv == ST_ECORRUPT, "epoch decode: undocumented code");
    if (rv != 0) {
        check(c.n == 0, "a refused epoch payload left entries");
        st_epoch_cache_close(&c);
        return;
    }
    epochs_ok(&c);
    check(st_epoch_cache_encode(&c, &b1) == 0 && b1.len == n &&
              memcmp(b1.base, p, n) == 0,
          "epoch payload does not re-encode to itself");
    int64_t last = c.n > 0 ? c.e[c.n - 1].start_offset : -1;
    int64_t log_end = last < INT64_MAX ? last + 1 : last;
    for (size_t i = 0; i < c.n; i++) {
        int32_t e;
        int64_t end;
        st_epoch_cache_end_offset(&c, c.e[i].epoch, log_end, &e, &end);
        check(e == c.e[i].epoch &&
                  end == (i + 1 < c.n ? c.e[i + 1].start_offset : log_end),
              "end offset of a known epoch is wrong");
    }
    if (c.n > 0) {
        int32_t e;
        int64_t end;
        st_epoch_cache_end_offset(&c, c.e[0].epoch - 1, log_end, &e, &end);
        check(e == -1 && end == -1, "an epoch below all entries was found");
        int64_t mid = c.e[c.n / 2].start_offset;
        st_epoch_cache_truncate_start(&c, mid);
        epochs_ok(&c);
        check(c.n == 0 || c.e[0].start_offset >= mid,
              "truncate_start left an entry below the start");
        st_epoch_cache_truncate_end(&c, mid < INT64_MAX ? mid + 1 : mid);
        epochs_ok(&c);
        if (c.n > 0 && c.e[c.n - 1].epoch < INT32_MAX &&
            c.e[c.n - 1].start_offset < INT64_MAX) {
            check(st_epoch_cache_assign(&c, c.e[c.n - 1].epoch + 1,
                                        c.e[c.n - 1].start_offset + 1) == 0,
                  "assign failed");
            epochs_ok(&c);
        }
    }
    check(st_epoch_cache_encode(&c, &b1) == 0 &&
              st_epoch_cache_decode(&c, b1.base, b1.len) == 0,
          "an edited epoch cache does not reload");
    st_epoch_cache_close(&c);
}

static void producers_ok(const struct st_producer_state *ps)
{
    size_t live = 0;
    for (size_t i = 0; i < ps->cap; i++) {
        if (ps->slots[i].pid >= 0) {
            live++;
            check(ps->slots[i].count <= ST_PRODUCER_BATCHES_KEPT,
                  "a producer keeps more than 5 batches");
            check(st_producer_state_find(ps, ps->slots[i].pid) ==
                      &ps->slots[i],
                  "a live producer is not found");
        }
    }
    check(live == ps->n, "producer count differs from the live slots");
}

/* A producer batch header made from 24 input bytes, aimed at @pid. */
static void header_from(const uint8_t *q, int64_t pid,
                        struct st_batch_header *h)
{
    memset(h, 0, sizeof *h);
    h->producer_id = q[0] & 1 ? pid : (int64_t)(st_get_be32(q) >> 1);
    h->producer_epoch = (int16_t)st_get_be16(q + 4);
    h->base_sequence = (int32_t)st_get_be32(q + 6);
    h->last_offset_delta = (int32_t)(st_get_be32(q + 10) & 0xffff);
    h->record_count = h->last_offset_delta + 1;
    h->base_offset = (int64_t)(st_get_be64(q + 14) >> 2);
}

static void fuzz_producers(const uint8_t *p, size_t n)
{
    struct st_producer_state ps;
    int64_t upto = 0, upto2 = 0;
    st_producer_state_init(&ps);
    int rv = st_producer_state_decode(&ps, p, n, &upto);
    check(rv == 0 || rv == ST_ECORRUPT, "producer decode: undocumented code");
    if (rv != 0) {
        check(ps.n == 0, "a refused producer payload left producers");
        st_producer_state_close(&ps);
        return;
    }
    producers_ok(&ps);
    check(st_producer_state_encode(&ps, upto, &b1) == 0 && b1.len == n,
          "producer payload re-encodes to another length");
    struct st_producer_state ps2;
    st_producer_state_init(&ps2);
    check(st_producer_state_decode(&ps2, b1.base, b1.len, &upto2) == 0 &&
              upto2 == upto && ps2.n == ps.n,
          "a re-encoded producer payload does not decode");
    for (size_t i = 0; i < ps.cap; i++) {
        const struct st_producer_entry *a = &ps.slots[i], *b;
        if (a->pid < 0) {
            continue;
        }
        b = st_producer_state_find(&ps2, a->pid);
        check(b != NULL && b->epoch == a->epoch && b->count == a->count &&
                  memcmp(b->b, a->b, a->count * sizeof a->b[0]) == 0,
              "a producer changed in an encode/decode round trip");
    }
    st_producer_state_close(&ps2);
    /* Drive the state with headers cut from the input. */
    int64_t pid = 0;
    for (size_t i = 0; i < ps.cap; i++) {
        if (ps.slots[i].pid >= 0) {
            pid = ps.slots[i].pid;
            break;
        }
    }
    for (size_t at = 0; at + 24 <= n && at < 24 * 64; at += 24) {
        struct st_batch_header h;
        int64_t f = -1, l = -1;
        header_from(p + at, pid, &h);
        rv = st_producer_state_check(&ps, &h, &f, &l);
        check(rv == 0 || rv == 1 || rv == ST_EFENCED || rv == ST_ERANGE,
              "producer check: undocumented code");
        if (rv == 0) {
            check(st_producer_state_update(&ps, &h) == 0, "update failed");
        }
        producers_ok(&ps);
    }
    st_producer_state_truncate(&ps, upto / 2);
    producers_ok(&ps);
    check(st_producer_state_encode(&ps, upto, &b1) == 0 &&
              st_producer_state_decode(&ps, b1.base, b1.len, &upto2) == 0,
          "an edited producer state does not reload");
    st_producer_state_close(&ps);
}

static void fuzz_index(const uint8_t *p, size_t n)
{
    if (n < 8) {
        return;
    }
    uint64_t log_size = st_get_be64(p);
    p += 8;
    n -= 8;
    struct st_offset_index ix;
    st_offset_index_init(&ix);
    int rv = st_offset_index_decode(&ix, p, n, log_size);
    check(rv == 0 || rv == ST_ECORRUPT, "index decode: undocumented code");
    if (rv == 0) {
        check(ix.n * ST_INDEX_ENTRY_BYTES == n, "index entry count");
        st_buf_reset(&b1);
        check(st_buf_reserve(&b1, n + 1) == 0, "out of memory");
        st_offset_index_encode(&ix, b1.base);
        check(memcmp(b1.base, p, n) == 0, "index does not re-encode");
        for (size_t i = 0; i < ix.n && i < 64; i++) {
            uint32_t rel = ix.e[i].rel_offset, er = 1;
            check(ix.e[i].pos < log_size, "index position past the log");
            check(st_offset_index_lookup(&ix, rel, &er) == ix.e[i].pos &&
                      er == rel,
                  "lookup of an indexed offset");
            if (rel > 0 && (i == 0 || ix.e[i - 1].rel_offset < rel - 1)) {
                uint32_t want = i == 0 ? 0 : ix.e[i - 1].pos;
                check(st_offset_index_lookup(&ix, rel - 1, NULL) == want,
                      "lookup between entries");
            }
        }
        if (ix.n > 0) {
            uint32_t mid = ix.e[ix.n / 2].rel_offset;
            st_offset_index_truncate(&ix, mid);
            check(ix.n == 0 || ix.e[ix.n - 1].rel_offset < mid,
                  "truncate kept an entry at or past the cut");
        }
    } else {
        check(ix.n == 0, "a refused index left entries");
    }
    st_offset_index_close(&ix);
}

static void fuzz_timeindex(const uint8_t *p, size_t n)
{
    if (n < 8) {
        return;
    }
    uint64_t limit = st_get_be64(p);
    p += 8;
    n -= 8;
    struct st_time_index tx;
    st_time_index_init(&tx);
    int rv = st_time_index_decode(&tx, p, n, limit);
    check(rv == 0 || rv == ST_ECORRUPT, "timeindex decode: undocumented code");
    if (rv == 0) {
        check(tx.n * ST_TIMEINDEX_ENTRY_BYTES == n, "timeindex entry count");
        st_buf_reset(&b1);
        check(st_buf_reserve(&b1, n + 1) == 0, "out of memory");
        st_time_index_encode(&tx, b1.base);
        check(memcmp(b1.base, p, n) == 0, "timeindex does not re-encode");
        check(st_time_index_max(&tx) ==
                  (tx.n ? tx.e[tx.n - 1].timestamp_ms : -1),
              "timeindex max");
        for (size_t i = 0; i < tx.n && i < 64; i++) {
            int64_t ts = tx.e[i].timestamp_ms;
            uint32_t want = i == 0 ? 0 : tx.e[i - 1].rel_offset;
            check(st_time_index_lookup(&tx, ts) == want,
                  "time lookup at an entry");
            if (ts < INT64_MAX) {
                check(st_time_index_lookup(&tx, ts + 1) == tx.e[i].rel_offset,
                      "time lookup just past an entry");
            }
        }
        if (tx.n > 0) {
            uint32_t mid = tx.e[tx.n / 2].rel_offset;
            st_time_index_truncate(&tx, mid);
            check(tx.n == 0 || tx.e[tx.n - 1].rel_offset < mid,
                  "time truncate kept an entry at or past the cut");
        }
    } else {
        check(tx.n == 0, "a refused timeindex left entries");
    }
    st_time_index_close(&tx);
}

static void fuzz_payload(uint16_t kind, const uint8_t *p, size_t n)
{
    if (kind == ST_CHECKPOINT_EPOCHS) {
        fuzz_epochs(p, n);
    } else if (kind == ST_CHECKPOINT_PRODUCERS) {
        fuzz_producers(p, n);
    }
}

static void fuzz_image(const uint8_t *p, size_t n)
{
    if (n < 1) {
        return;
    }
    uint16_t kind = p[0] % 6;
    p++;
    n--;
    struct st_bytes pl;
    int rv = st_checkpoint_decode(kind, p, n, &pl);
    check(rv == 0 || rv == ST_ECORRUPT, "checkpoint decode: undocumented code");
    if (rv != 0) {
        return;
    }
    check(pl.base == p + 12 && pl.len + ST_CHECKPOINT_OVERHEAD == n,
          "checkpoint payload view");
    check(st_checkpoint_encode(kind, pl.base, pl.len, &b2) == 0 &&
              b2.len == n && memcmp(b2.base, p, n) == 0,
          "checkpoint does not re-encode to itself");
    for (uint16_t other = 0; other < 6; other++) {
        if (other != kind) {
            check(st_checkpoint_decode(other, p, n, &pl) == ST_ECORRUPT,
                  "a checkpoint decoded as another kind");
        }
    }
    st_checkpoint_decode(kind, p, n, &pl);
    fuzz_payload(kind, pl.base, pl.len);
}

static void fuzz_framed(const uint8_t *p, size_t n)
{
    if (n < 1) {
        return;
    }
    uint16_t kind = p[0] % 6;
    struct st_buf img;
    struct st_bytes pl;
    st_buf_init(&img);
    check(st_checkpoint_encode(kind, p + 1, n - 1, &img) == 0 &&
              img.len == n - 1 + ST_CHECKPOINT_OVERHEAD,
          "checkpoint encode");
    check(st_checkpoint_decode(kind, img.base, img.len, &pl) == 0 &&
              pl.len == n - 1 && memcmp(pl.base, p + 1, n - 1) == 0,
          "a framed payload does not decode to itself");
    /* One flipped bit anywhere must be caught by the CRC or the header. */
    size_t at = (n * 7919) % img.len;
    img.base[at] ^= (uint8_t)(1u << (n % 8));
    check(st_checkpoint_decode(kind, img.base, img.len, &pl) == ST_ECORRUPT,
          "a flipped bit went unnoticed");
    img.base[at] ^= (uint8_t)(1u << (n % 8));
    check(st_checkpoint_decode(kind, img.base, img.len, &pl) == 0,
          "checkpoint decode after restoring the bit");
    fuzz_payload(kind, pl.base, pl.len);
    st_buf_close(&img);
}

/* ---- seeds ---- */

static void put_seed(const char *dir, const char *name, uint8_t sel,
                     const uint8_t *pre, size_t npre, const uint8_t *p,
                     size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(&sel, 1, 1, f) != 1 ||
        (npre > 0 && fwrite(pre, 1, npre, f) != npre) ||
        (n > 0 && fwrite(p, 1, n, f) != n)) {
        fprintf(stderr, "fuzz_log_state: cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static void write_seeds(const char *dir)
{
    struct st_epoch_cache c;
    struct st_producer_state ps;
    struct st_buf ep, pp, img;
    st_epoch_cache_init(&c);
    st_producer_state_init(&ps);
    st_buf_init(&ep);
    st_buf_init(&pp);
    st_buf_init(&img);
    for (int32_t e = 0; e < 4; e++) {
        st_epoch_cache_assign(&c, e * 2 + 1, (int64_t)e * 100);
    }
    st_epoch_cache_encode(&c, &ep);
    for (int i = 0; i < 12; i++) {
        struct st_batch_header h = {.producer_id = 1000 + i % 3,
                                    .producer_epoch = 2,
                                    .base_sequence = i * 4,
                                    .last_offset_delta = 3,
                                    .record_count = 4,
                                    .base_offset = i * 10};
        st_producer_state_update(&ps, &h);
    }
    st_producer_state_encode(&ps, 120, &pp);
    uint8_t kind;
    kind = ST_CHECKPOINT_EPOCHS;
    put_seed(dir, "framed-epochs", 1, &kind, 1, ep.base, ep.len);
    st_checkpoint_encode(kind, ep.base, ep.len, &img);
    put_seed(dir, "image-epochs", 0, &kind, 1, img.base, img.len);
    kind = ST_CHECKPOINT_PRODUCERS;
    put_seed(dir, "framed-producers", 1, &kind, 1, pp.base, pp.len);
    st_checkpoint_encode(kind, pp.base, pp.len, &img);
    put_seed(dir, "image-producers", 0, &kind, 1, img.base, img.len);
    uint8_t i64[8];
    st_put_be64(i64, 4242);
    kind = ST_CHECKPOINT_HW;
    st_checkpoint_encode(kind, i64, 8, &img);
    put_seed(dir, "image-hw", 0, &kind, 1, img.base, img.len);
    put_seed(dir, "epochs", 2, NULL, 0, ep.base, ep.len);
    put_seed(dir, "producers", 3, NULL, 0, pp.base, pp.len);

    struct st_offset_index ix;
    struct st_time_index tx;
    st_offset_index_init(&ix);
    st_time_index_init(&tx);
    for (uint32_t i = 1; i <= 6; i++) {
        st_offset_index_add(&ix, i * 17, i * 4096);
        st_time_index_add(&tx, 1700000000000LL + i * 1000, i * 17);
    }
    uint8_t file[6 * 12], pre[8];
    st_put_be64(pre, 64 * 1024);
    st_offset_index_encode(&ix, file);
    put_seed(dir, "index", 4, pre, 8, file, ix.n * 8);
    st_put_be64(pre, 1000);
    st_time_index_encode(&tx, file);
    put_seed(dir, "timeindex", 5, pre, 8, file, tx.n * 12);
    st_offset_index_close(&ix);
    st_time_index_close(&tx);
    st_epoch_cache_close(&c);
    st_producer_state_close(&ps);
    st_buf_close(&ep);
    st_buf_close(&pp);
    st_buf_close(&img);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    st_buf_init(&b1);
    st_buf_init(&b2);
    const char *dir = getenv("STRATA_FUZZ_SEED_DIR");
    if (dir != NULL && dir[0] != '\0') {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0:
        fuzz_image(p, n);
        break;
    case 1:
        fuzz_framed(p, n);
        break;
    case 2:
        fuzz_epochs(p, n);
        break;
    case 3:
        fuzz_producers(p, n);
        break;
    case 4:
        fuzz_index(p, n);
        break;
    default:
        fuzz_timeindex(p, n);
        break;
    }
    return 0;
}
