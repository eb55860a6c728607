/* Helpers for the group core's unit tests: a record log that can be
 * replayed, and a scripted client that heartbeats and obeys. */
#ifndef TEST_GROUP_UTIL_H
#define TEST_GROUP_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/group/group.h"
#include "common/alloc.h"
#include "common/bytes.h"
#include "common/err.h"
#include "test_util.h"

#define TG_PARTS_MAX 256

/* Every record the core emitted, in order (what __consumer_offsets holds). */
struct tg_log {
    struct tg_rec {
        uint8_t *key;
        size_t key_len;
        uint8_t *val;
        size_t val_len;
        bool tomb;
    } *v;
    unsigned n, cap;
};

static inline void tg_log_add(struct tg_log *l, const struct st_group_update *u)
{
    for (unsigned i = 0; i < u->n_records; i++) {
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 64;
            l->v = realloc(l->v, l->cap * sizeof *l->v);
        }
        struct tg_rec *r = &l->v[l->n++];
        const struct st_group_record *s = &u->records[i];
        r->key = malloc(s->key.len);
        memcpy(r->key, s->key.base, s->key.len);
        r->key_len = s->key.len;
        r->tomb = s->tombstone;
        r->val_len = s->value.len;
        r->val = malloc(s->value.len ? s->value.len : 1);
        if (s->value.len) {
            memcpy(r->val, s->value.base, s->value.len);
        }
    }
}

static inline void tg_log_free(struct tg_log *l)
{
    for (unsigned i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].val);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Rebuild a core from the log; @compact keeps only the last record per key
 * (and drops tombstones), as log compaction would. */
static inline struct st_group *tg_replay(const struct st_group_config *cfg,
                                         const struct tg_log *l, bool compact,
                                         uint64_t now)
{
    struct st_group *g;
    ck_assert_int_eq(st_group_new(cfg, &g), 0);
    struct st_group_update up;
    for (unsigned i = 0; i < l->n; i++) {
        const struct tg_rec *r = &l->v[i];
        if (compact) {
            bool later = false;
            for (unsigned j = i + 1; j < l->n && !later; j++) {
                later = l->v[j].key_len == r->key_len &&
                        memcmp(l->v[j].key, r->key, r->key_len) == 0;
            }
            if (later || r->tomb) {
                continue;
            }
        }
        struct st_group_event ev = {.type = ST_GROUP_EV_LOAD, .now_ms = now};
        ev.load.key = (struct st_bytes){r->key, r->key_len};
        ev.load.value = (struct st_bytes){r->val, r->val_len};
        ev.load.tombstone = r->tomb;
        ck_assert_int_eq(st_group_step(g, &ev, &up), 0);
    }
    struct st_group_event done = {.type = ST_GROUP_EV_LOAD_DONE,
                                  .now_ms = now};
    ck_assert_int_eq(st_group_step(g, &done, &up), 0);
    return g;
}

/* Step, assert success and the core's invariants, log the records. */
static inline void tg_step(struct st_group *g, struct tg_log *l,
                           const struct st_group_event *ev,
                           struct st_group_update *up)
{
    ck_assert_int_eq(st_group_step(g, ev, up), 0);
    char why[256];
    ck_assert_msg(st_group_check(g, why, sizeof why), "%s", why);
    if (l != NULL) {
        tg_log_add(l, up);
    }
}

/* A scripted consumer: heartbeats with what it owns and obeys the reply
 * at once (drops what is not listed, starts what is new). */
struct tg_client {
    char id[64];
    const char *instance;
    int32_t epoch;
    const char *topics[4];
    unsigned n_topics;
    struct st_group_tp owned[TG_PARTS_MAX];
    char names[TG_PARTS_MAX][32];
    unsigned n_owned;
    /* From the last reply: partitions dropped and started. */
    unsigned n_dropped, n_started;
    enum st_group_error error;
};

static inline void tg_client_init(struct tg_client *c, const char *topic)
{
    memset(c, 0, sizeof *c);
    c->topics[0] = topic;
    c->n_topics = 1;
}

static inline bool tg_client_owns(const struct tg_client *c, const char *t,
                                  int32_t p)
{
    for (unsigned i = 0; i < c->n_owned; i++) {
        if (c->owned[i].partition == p && strcmp(c->owned[i].topic, t) == 0) {
            return true;
        }
    }
    return false;
}

static inline void tg_beat(struct st_group *g, struct tg_log *l,
                           struct tg_client *c, uint64_t now)
{
    struct st_group_event ev = {.type = ST_GROUP_EV_HEARTBEAT, .now_ms = now};
    struct st_group_heartbeat *hb = &ev.heartbeat;
    hb->member_id = c->id;
    hb->instance_id = c->instance;
    hb->member_epoch = c->epoch;
    hb->has_subscription = c->epoch == 0;
    hb->topics = c->topics;
    hb->n_topics = c->n_topics;
    hb->has_owned = true;
    hb->owned = c->owned;
    hb->n_owned = c->n_owned;
    hb->client_id = "test-client";
    hb->client_host = "/127.0.0.1";
    hb->rebalance_timeout_ms = 60000;
    struct st_group_update up;
    tg_step(g, l, &ev, &up);
    c->error = up.hb.error;
    c->n_dropped = c->n_started = 0;
    if (up.hb.error != ST_GROUP_OK) {
        return;
    }
    snprintf(c->id, sizeof c->id, "%s", up.hb.member_id);
    c->epoch = up.hb.member_epoch;
    for (unsigned i = 0; i < c->n_owned; i++) {
        bool kept = false;
        for (unsigned j = 0; j < up.hb.n_assignment && !kept; j++) {
            kept = up.hb.assignment[j].partition == c->owned[i].partition &&
                   strcmp(up.hb.assignment[j].topic, c->owned[i].topic) == 0;
        }
        c->n_dropped += !kept;
    }
    for (unsigned j = 0; j < up.hb.n_assignment; j++) {
        c->n_started += !tg_client_owns(c, up.hb.assignment[j].topic,
                                        up.hb.assignment[j].partition);
    }
    ck_assert_uint_le(up.hb.n_assignment, TG_PARTS_MAX);
    c->n_owned = up.hb.n_assignment;
    for (unsigned j = 0; j < up.hb.n_assignment; j++) {
        snprintf(c->names[j], sizeof c->names[j], "%s",
                 up.hb.assignment[j].topic);
        c->owned[j].topic = c->names[j];
        c->owned[j].partition = up.hb.assignment[j].partition;
    }
}

static inline void tg_metadata(struct st_group *g, struct tg_log *l,
                               uint64_t now, const char *topic, int32_t parts)
{
    struct st_group_topic_meta tm = {.name = topic, .partitions = parts};
    tm.id[0] = (uint8_t)topic[0];
    struct st_group_event ev = {.type = ST_GROUP_EV_METADATA, .now_ms = now};
    ev.metadata.topics = &tm;
    ev.metadata.n_topics = 1;
    struct st_group_update up;
    tg_step(g, l, &ev, &up);
}

static inline void tg_tick(struct st_group *g, struct tg_log *l, uint64_t now)
{
    struct st_group_event ev = {.type = ST_GROUP_EV_TICK, .now_ms = now};
    struct st_group_update up;
    tg_step(g, l, &ev, &up);
}

#endif
