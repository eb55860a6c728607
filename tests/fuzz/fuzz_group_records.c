/* libFuzzer target for the consumer-group record replay
 * (broker/group/records.c, the __consumer_offsets format) into a group
 * core (broker/group/group.h).
 *
 * An input is a list of records, each
 *   u8 flags | u16 key length | key | u16 value length | value
 * (lengths cut short at the input end). flags bit 0: tombstone; bit 1: the
 * key given is only the tail after "u16 type | str group", which this
 * target prefixes with type (flags >> 2) % 8 and the group id, so the
 * fuzzer reaches the value parsers without guessing the group.
 * A record whose key does not name this group (st_group_record_group) is
 * skipped, as a driver routing records would. The others are replayed
 * with ST_GROUP_EV_LOAD, then ST_GROUP_EV_LOAD_DONE. Properties:
 *  - every step answers 0 or ST_ECORRUPT (then the rebuild stops);
 *  - after a successful replay st_group_check() holds, and it keeps
 *    holding through live events (metadata, a join, heartbeats, a commit,
 *    a fetch, timers running out);
 *  - replaying the accepted records plus every record those events emitted
 *    into a fresh core gives the same st_group_dump() (the log alone
 *    rebuilds the state).
 *
 * With STRATA_FUZZ_SEED_DIR=<dir> set, the program writes the records of a
 * scripted group (two members, a commit, a rebalance) there and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/group/group.h"
#include "common/bytes.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define GROUP "g"
#define T0 1000000u
#define MAX_RECS 512

struct rec {
    uint8_t *key;
    size_t key_len;
    uint8_t *val;
    size_t val_len;
    bool tomb;
};

struct log {
    struct rec v[MAX_RECS * 2];
    unsigned n;
};

static struct log lg;

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_group_records: %s\n", what);
        abort();
    }
}

static void cfg_init(struct st_group_config *c)
{
    memset(c, 0, sizeof *c);
    c->group_id = GROUP;
    c->session_timeout_ms = 45000;
    c->seed = 1;
}

static void log_push(struct log *l, const uint8_t *k, size_t kn,
                     const uint8_t *v, size_t vn, bool tomb)
{
    if (l->n == sizeof l->v / sizeof l->v[0]) {
        return;
    }
    struct rec *r = &l->v[l->n++];
    r->key = malloc(kn + 1);
    r->val = malloc(vn + 1);
    check(r->key != NULL && r->val != NULL, "out of memory");
    if (kn > 0) {
        memcpy(r->key, k, kn);
    }
    if (vn > 0) {
        memcpy(r->val, v, vn);
    }
    r->key_len = kn;
    r->val_len = vn;
    r->tomb = tomb;
}

static void log_clear(struct log *l)
{
    for (unsigned i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].val);
    }
    l->n = 0;
}

static void log_update(struct log *l, const struct st_group_update *u)
{
    for (unsigned i = 0; i < u->n_records; i++) {
        const struct st_group_record *r = &u->records[i];
        log_push(l, r->key.base, r->key.len, r->value.base, r->value.len,
                 r->tombstone);
    }
}

static int load(struct st_group *g, const struct rec *r)
{
    struct st_group_event ev = {.type = ST_GROUP_EV_LOAD, .now_ms = T0};
    struct st_group_update up;
    ev.load.key = (struct st_bytes){r->key, r->key_len};
    ev.load.value = (struct st_bytes){r->val, r->val_len};
    ev.load.tombstone = r->tomb;
    return st_group_step(g, &ev, &up);
}

static int load_done(struct st_group *g)
{
    struct st_group_event ev = {.type = ST_GROUP_EV_LOAD_DONE, .now_ms = T0};
    struct st_group_update up;
    return st_group_step(g, &ev, &up);
}

static void invariants(const struct st_group *g, const char *when)
{
    char why[512];
    if (!st_group_check(g, why, sizeof why)) {
        fprintf(stderr, "fuzz_group_records: %s: %s\n", when, why);
        abort();
    }
}

/* Step a live event; protocol refusals come back in @up with 0. */
static void live(struct st_group *g, const struct st_group_event *ev,
                 struct st_group_update *up, const char *what)
{
    int rv = st_group_step(g, ev, up);
    if (rv != 0) {
        fprintf(stderr, "fuzz_group_records: %s: %s\n", what,
                st_strerror(rv));
        abort();
    }
    invariants(g, what);
    log_update(&lg, up);
}

/* Live traffic after the rebuild: metadata, a new member joining and
 * heartbeating, a commit, a fetch, then @n_ticks timers running out
 * (sessions, rebalance timeouts and ghosts, offset retention). Returns
 * whether the group was deleted. */
static bool drive(struct st_group *g, uint64_t *now, int n_ticks)
{
    struct st_group_topic_meta tm[2] = {{.name = "t", .partitions = 4},
                                        {.name = "u", .partitions = 2}};
    tm[0].id[0] = 't';
    tm[1].id[0] = 'u';
    struct st_group_event ev = {.type = ST_GROUP_EV_METADATA, .now_ms = *now};
    struct st_group_update up;
    ev.metadata.topics = tm;
    ev.metadata.n_topics = 2;
    live(g, &ev, &up, "metadata");

    const char *topics[2] = {"t", "u"};
    char id[ST_GROUP_ID_MAX + 1] = "";
    int32_t epoch = 0;
    struct st_group_tp owned[8];
    char names[8][4];
    unsigned n_owned = 0;
    for (int beat = 0; beat < 3; beat++) {
        memset(&ev, 0, sizeof ev);
        ev.type = ST_GROUP_EV_HEARTBEAT;
        ev.now_ms = (*now += 100);
        ev.heartbeat.member_id = id;
        ev.heartbeat.member_epoch = epoch;
        ev.heartbeat.has_subscription = epoch == 0;
        ev.heartbeat.topics = topics;
        ev.heartbeat.n_topics = 2;
        ev.heartbeat.has_owned = true;
        ev.heartbeat.owned = owned;
        ev.heartbeat.n_owned = n_owned;
        live(g, &ev, &up, "heartbeat");
        if (up.hb.error != ST_GROUP_OK) {
            break;
        }
        snprintf(id, sizeof id, "%s", up.hb.member_id);
        epoch = up.hb.member_epoch;
        n_owned = 0;
        for (unsigned j = 0; j < up.hb.n_assignment && n_owned < 8; j++) {
            snprintf(names[n_owned], sizeof names[n_owned], "%s",
                     up.hb.assignment[j].topic);
            owned[n_owned].topic = names[n_owned];
            owned[n_owned].partition = up.hb.assignment[j].partition;
            n_owned++;
        }
    }

    struct st_group_offset o = {.tp = {"t", 1}, .offset = 42,
                                .leader_epoch = 3, .metadata = "m"};
    memset(&ev, 0, sizeof ev);
    ev.type = ST_GROUP_EV_OFFSET_COMMIT;
    ev.now_ms = (*now += 100);
    ev.commit.member_id = id;
    ev.commit.member_epoch = epoch;
    ev.commit.offsets = &o;
    ev.commit.n_offsets = 1;
    live(g, &ev, &up, "commit");

    memset(&ev, 0, sizeof ev);
    ev.type = ST_GROUP_EV_OFFSET_FETCH;
    ev.now_ms = *now;
    live(g, &ev, &up, "fetch");
    for (unsigned i = 0; i < up.n_offsets; i++) {
        check(up.offsets[i].tp.topic != NULL, "fetch result without topic");
    }

    struct st_group_desc *d = NULL;
    check(st_group_describe(g, &d) == 0, "describe");
    st_group_desc_free(d);

    /* Sessions, rebalance timeouts, ghosts and offset retention expire. */
    uint64_t steps[3] = {50000, 400000, 8ull * 24 * 3600 * 1000};
    for (int i = 0; i < n_ticks && i < 3; i++) {
        memset(&ev, 0, sizeof ev);
        ev.type = ST_GROUP_EV_TICK;
        ev.now_ms = (*now += steps[i]);
        live(g, &ev, &up, "tick");
        if (up.deleted) {
            return true;
        }
    }
    return false;
}

static void dump(const struct st_group *g, struct st_buf *out)
{
    st_buf_reset(out);
    check(st_group_dump(g, out) == 0, "dump");
}

static void parse(const uint8_t *data, size_t size)
{
    size_t at = 0;
    while (at < size && lg.n < MAX_RECS) {
        uint8_t flags = data[at++];
        uint8_t key[2 + 2 + sizeof GROUP - 1 + 0xffff];
        size_t kn = 0;
        if (flags & 2) {
            st_put_be16(key, (uint16_t)((flags >> 2) % 8));
            st_put_be16(key + 2, sizeof GROUP - 1);
            memcpy(key + 4, GROUP, sizeof GROUP - 1);
            kn = 4 + sizeof GROUP - 1;
        }
        size_t len = 0;
        if (size - at >= 2) {
            len = st_get_be16(data + at);
            at += 2;
        }
        len = len > size - at ? size - at : len;
        memcpy(key + kn, data + at, len);
        kn += len;
        at += len;
        len = 0;
        if (size - at >= 2) {
            len = st_get_be16(data + at);
            at += 2;
        }
        len = len > size - at ? size - at : len;
        struct st_bytes gid;
        if (st_group_record_group((struct st_bytes){key, kn}, &gid) == 0 &&
            gid.len == sizeof GROUP - 1 &&
            memcmp(gid.base, GROUP, gid.len) == 0) {
            log_push(&lg, key, kn, data + at, len, flags & 1);
        }
        at += len;
    }
}

/* ---- seeds ---- */

static void write_seed(const char *dir, int n_ticks)
{
    struct st_group_config cfg;
    struct st_group *g = NULL;
    uint64_t now = T0;
    cfg_init(&cfg);
    check(st_group_new(&cfg, &g) == 0, "seed core");
    drive(g, &now, n_ticks);
    struct st_buf out;
    st_buf_init(&out);
    for (unsigned i = 0; i < lg.n; i++) {
        uint8_t hdr[2];
        uint8_t flags = lg.v[i].tomb ? 1 : 0;
        st_buf_append(&out, &flags, 1);
        st_put_be16(hdr, (uint16_t)lg.v[i].key_len);
        st_buf_append(&out, hdr, 2);
        st_buf_append(&out, lg.v[i].key, lg.v[i].key_len);
        st_put_be16(hdr, (uint16_t)lg.v[i].val_len);
        st_buf_append(&out, hdr, 2);
        st_buf_append(&out, lg.v[i].val, lg.v[i].val_len);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/group-records-%d", dir, n_ticks);
    FILE *f = fopen(path, "wb");
    check(f != NULL && fwrite(out.base, 1, out.len, f) == out.len,
          "cannot write a seed");
    fclose(f);
    st_buf_close(&out);
    st_group_free(g);
    log_clear(&lg);
}

static void write_seeds(const char *dir)
{
    write_seed(dir, 0); /* a live member with a commit */
    write_seed(dir, 1); /* the member's session ended: offsets only */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("STRATA_FUZZ_SEED_DIR");
    if (dir != NULL && dir[0] != '\0') {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct st_group_config cfg;
    struct st_group *g = NULL, *g2 = NULL;
    cfg_init(&cfg);
    check(st_group_new(&cfg, &g) == 0, "new");
    parse(data, size);
    unsigned accepted = 0;
    int rv = 0;
    for (; accepted < lg.n; accepted++) {
        rv = load(g, &lg.v[accepted]);
        check(rv == 0 || rv == ST_ECORRUPT, "load: undocumented code");
        if (rv != 0) {
            break;
        }
    }
    if (rv == 0) {
        rv = load_done(g);
        check(rv == 0 || rv == ST_ECORRUPT, "load done: undocumented code");
    }
    if (rv != 0) {
        st_group_free(g);
        log_clear(&lg);
        return 0;
    }
    invariants(g, "after replay");
    uint64_t now = T0;
    bool deleted = drive(g, &now, 3);

    /* The log alone rebuilds the same state. */
    struct st_buf a, b;
    st_buf_init(&a);
    st_buf_init(&b);
    check(st_group_new(&cfg, &g2) == 0, "new");
    for (unsigned i = 0; i < lg.n; i++) {
        check(load(g2, &lg.v[i]) == 0, "a record accepted before is refused");
    }
    check(load_done(g2) == 0, "the replay of a valid log fails");
    invariants(g2, "after the second replay");
    if (deleted) {
        /* The driver frees a deleted core; its tombstones leave nothing. */
        check(st_group_member_count(g2) == 0 && !st_group_has_offsets(g2),
              "a deleted group replays into one with state");
        st_group_free(g);
        st_group_free(g2);
        log_clear(&lg);
        return 0;
    }
    dump(g, &a);
    dump(g2, &b);
    if (a.len != b.len || memcmp(a.base, b.base, a.len) != 0) {
        fprintf(stderr, "live:\n%.*s\nreplayed:\n%.*s\n", (int)a.len,
                (const char *)a.base, (int)b.len, (const char *)b.base);
        check(false, "the replayed log rebuilds another state");
    }
    st_buf_close(&a);
    st_buf_close(&b);
    st_group_free(g);
    st_group_free(g2);
    log_clear(&lg);
    return 0;
}
