/* libFuzzer target for the metadata state machine (controller/metadata.h).
 *
 * An input is a stream of records, each framed as a 2-byte big-endian length
 * and that many bytes, applied in order at offsets 1, 2, ... Whatever the
 * bytes, st_meta_apply() must return a documented code and never crash.
 * Then three properties are checked on the resulting state:
 *  - its snapshot loads into a fresh state that writes the same bytes;
 *  - the elections st_meta_decide_elect_leaders() decides are all accepted
 *    when applied, and a second election then has nothing to do;
 *  - the whole input loaded as a snapshot is refused or accepted, never a
 *    crash.
 *
 * With STRATA_FUZZ_SEED_DIR=<dir> set, the program writes a valid stream
 * built by the deciding side there as a seed and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "controller/decide.h"
#include "controller/metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_metadata: %s\n", what);
        abort();
    }
}

static bool documented(int rv)
{
    return rv == 0 || rv == ST_ECORRUPT || rv == ST_ENOENT ||
           rv == ST_EEXIST || rv == ST_ESTALE;
}

/* Append the framed records of @r to @out and apply them to @m. */
static void seed_push(struct st_meta *m, struct st_meta_recs *r,
                      struct st_buf *out)
{
    for (size_t i = 0; i < r->n; i++) {
        uint8_t len[2];
        st_put_be16(len, (uint16_t)r->v[i].len);
        st_buf_append(out, len, 2);
        st_buf_append(out, r->v[i].base, r->v[i].len);
        st_meta_apply(m, st_meta_last_offset(m) + 1, r->v[i].base,
                      r->v[i].len);
    }
    st_meta_recs_close(r);
}

static void write_seed(const char *dir)
{
    struct st_meta *m;
    struct st_meta_recs r;
    struct st_meta_err err;
    struct st_buf out;
    uint64_t rng = 1;
    st_meta_new(&m);
    st_meta_recs_init(&r);
    st_buf_init(&out);
    for (int32_t id = 1; id <= 3; id++) {
        struct st_meta_listener l = {"PLAINTEXT", "127.0.0.1", 9092};
        struct st_meta_register req = {.broker_id = id, .listeners = &l,
                                       .n_listeners = 1, .rack = "r"};
        int64_t epoch;
        bool fenced;
        req.incarnation[0] = (uint8_t)id;
        st_meta_decide_register_broker(m, &req, &r, &epoch, &err);
        seed_push(m, &r, &out);
        epoch = st_meta_broker_find(m, id)->epoch;
        st_meta_decide_heartbeat(m, id, epoch, false, true, &r, &fenced, &err);
        seed_push(m, &r, &out);
    }
    struct st_meta_kv kv = {"retention.ms", "1000"};
    struct st_meta_create_topic t = {.name = "orders", .partitions = 3,
                                     .replication_factor = 3, .configs = &kv,
                                     .n_configs = 1};
    st_meta_decide_create_topic(m, &t, &rng, &r, &err);
    seed_push(m, &r, &out);
    st_meta_decide_alter_configs(m, ST_META_RES_CLUSTER, "", &kv, 1, false,
                                 &r, &err);
    seed_push(m, &r, &out);
    struct st_meta_heartbeat_time hb = {1, 0};
    st_meta_decide_session_timeouts(m, 100000, 1000, &hb, 1, &r);
    seed_push(m, &r, &out);
    int64_t start;
    st_meta_decide_alloc_producer_ids(m, 2, st_meta_broker_find(m, 2)->epoch,
                                      1000, &r, &start, &err);
    seed_push(m, &r, &out);
    st_meta_decide_delete_topic(m, "orders", &r, &err);
    seed_push(m, &r, &out);
    char path[4096];
    snprintf(path, sizeof path, "%s/metadata-seed-0", dir);
    FILE *fp = fopen(path, "wb");
    if (fp != NULL) {
        fwrite(out.base, 1, out.len, fp);
        fclose(fp);
    }
    st_buf_close(&out);
    st_meta_free(m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("STRATA_FUZZ_SEED_DIR");
    if (dir != NULL && dir[0] != '\0') {
        write_seed(dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct st_meta *m, *copy;
    struct st_buf a, b;
    struct st_meta_recs r;
    if (st_meta_new(&m) != 0 || st_meta_new(&copy) != 0) {
        abort();
    }
    st_buf_init(&a);
    st_buf_init(&b);
    st_meta_recs_init(&r);
    int64_t offset = 0;
    for (size_t pos = 0; pos + 2 <= size;) {
        size_t len = st_get_be16(data + pos);
        pos += 2;
        if (len > size - pos) {
            len = size - pos;
        }
        check(documented(st_meta_apply(m, ++offset, data + pos, len)),
              "apply returned an undocumented code");
        pos += len;
    }
    check(st_meta_snapshot_write(m, &a) == 0, "snapshot write failed");
    check(st_meta_snapshot_load(copy, a.base, a.len) == 0,
          "a written snapshot did not load");
    check(st_meta_snapshot_write(copy, &b) == 0, "snapshot rewrite failed");
    check(a.len == b.len && memcmp(a.base, b.base, a.len) == 0,
          "snapshot bytes differ after a round trip");
    check(st_meta_decide_elect_leaders(m, &r) == 0, "elect failed");
    for (size_t i = 0; i < r.n; i++) {
        check(st_meta_apply(m, ++offset, r.v[i].base, r.v[i].len) == 0,
              "an election record was refused");
    }
    st_meta_recs_close(&r);
    check(st_meta_decide_elect_leaders(m, &r) == 0 && r.n == 0,
          "a second election still had work");
    st_meta_recs_close(&r);
    int rv = st_meta_snapshot_load(copy, data, size);
    check(rv == 0 || rv == ST_ECORRUPT || rv == ST_EUNSUPPORTED,
          "snapshot load returned an undocumented code");
    st_buf_close(&a);
    st_buf_close(&b);
    st_meta_free(m);
    st_meta_free(copy);
    return 0;
}
