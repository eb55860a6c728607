/* The group coordinator's shards: load by replay, append, release
 * responses once durable, timers (see coordinator.h).
 *
 * Shard states: absent -> (leader of the partition) loaded -> (leadership
 * lost, epoch changed, failed append or failed wait) freed; a shard whose
 * replay hit a damaged record stays `failed` (COORDINATOR_NOT_AVAILABLE)
 * until the partition's leader epoch changes.
 */
#include "broker/coordinator.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metadata_follower.h"
#include "broker/partition.h"
#include "broker/partition_manager.h"
#include "broker/wire.h"
#include "common/alloc.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_client.h"
#include "common/rpc_server.h"
#include "common/vfs.h"
#include "controller.pb-c.h"
#include "controller/metadata.h"
#include "errors.pb-c.h"

#define TICK_MS 100
#define CREATE_RETRY_MS 2000
#define READ_BYTES (1u << 20)

struct cgroup {
    struct cgroup *next;
    struct st_group *core;
    uint64_t deadline_ms; /* 0: none */
    char id[ST_GROUP_ID_MAX + 1];
};

/* A response waiting for the HW to reach @need. */
struct op {
    struct op *next;
    struct st_rpc_reply *reply;
    int64_t need;
    struct st_buf body;
};

struct st_coord_shard {
    struct st_coord *c;
    int32_t index;
    int32_t epoch;           /* leader epoch it was loaded at */
    struct st_partition *p;  /* refreshed at each metadata change */
    bool failed;             /* replay refused; wait for a new epoch */
    bool dead;               /* to be freed (and maybe rebuilt) */
    struct cgroup *groups;
    int64_t pending_end;     /* offset after the last appended record */
    struct op *head, *tail;
    struct st_partition_waiter w;
    bool waiting;
};

struct st_coord {
    struct st_broker *b;
    struct event *timer;
    struct st_coord_shard **shards; /* by partition index; NULL: not led */
    int32_t n_shards;
    struct st_group_topic_meta *topics; /* names point into the metadata */
    unsigned n_topics;
    uint64_t topics_fp;
    uint64_t create_after_ms;
    struct st_batch_builder *builder;
    struct st_record_iter *iter;
    struct st_buf append_buf;
    uint64_t seed;
};

uint64_t st_coord_now_ms(void)
{
    return (uint64_t)st_wall_ms(st_clock_real());
}

struct st_broker *st_coord_broker(struct st_coord *c)
{
    return c->b;
}

int32_t st_coord_partition_for(const char *group_id, int32_t n_parts)
{
    /* Java's String.hashCode over the bytes, as Kafka places groups. */
    int32_t h = 0;
    for (const unsigned char *s = (const unsigned char *)group_id; *s; s++) {
        h = (int32_t)((uint32_t)h * 31u + *s);
    }
    /* Kafka's Utils.abs: MIN_VALUE maps to 0. */
    int64_t a = h == INT32_MIN ? 0 : h < 0 ? -(int64_t)h : h;
    return n_parts > 0 ? (int32_t)(a % n_parts) : 0;
}

int32_t st_coord_error_code(enum st_group_error e)
{
    switch (e) {
    case ST_GROUP_OK:
        return STRATA__ERROR_CODE__NONE;
    case ST_GROUP_UNKNOWN_MEMBER_ID:
        return STRATA__ERROR_CODE__UNKNOWN_MEMBER_ID;
    case ST_GROUP_FENCED_MEMBER_EPOCH:
        return STRATA__ERROR_CODE__FENCED_MEMBER_EPOCH;
    case ST_GROUP_STALE_MEMBER_EPOCH:
        return STRATA__ERROR_CODE__STALE_MEMBER_EPOCH;
    case ST_GROUP_NOT_OWNER:
        return STRATA__ERROR_CODE__PARTITION_NOT_OWNED;
    case ST_GROUP_UNRELEASED_INSTANCE_ID:
        return STRATA__ERROR_CODE__UNRELEASED_INSTANCE_ID;
    case ST_GROUP_UNSUPPORTED_ASSIGNOR:
        return STRATA__ERROR_CODE__UNSUPPORTED_ASSIGNOR;
    case ST_GROUP_INVALID_REQUEST:
        return STRATA__ERROR_CODE__INVALID_REQUEST;
    case ST_GROUP_MAX_SIZE_REACHED:
        return STRATA__ERROR_CODE__GROUP_MAX_SIZE_REACHED;
    case ST_GROUP_NOT_EMPTY:
        return STRATA__ERROR_CODE__NON_EMPTY_GROUP;
    case ST_GROUP_ID_NOT_FOUND:
        return STRATA__ERROR_CODE__GROUP_ID_NOT_FOUND;
    }
    return STRATA__ERROR_CODE__UNKNOWN;
}

/* ---- responses ---- */

static void op_send(struct op *o, int32_t error, const char *msg)
{
    struct st_bytes none = {NULL, 0};
    if (error != 0) {
        st_rpc_reply_send(o->reply, error, msg, none, none);
    } else {
        struct st_bytes body = {o->body.base, o->body.len};
        st_rpc_reply_send(o->reply, 0, NULL, body, none);
    }
    st_buf_close(&o->body);
    st_free(o);
}

static void shard_release(struct st_coord_shard *s);

static void waiter_done(struct st_partition_waiter *w, int status)
{
    struct st_coord_shard *s =
        (struct st_coord_shard *)(void *)((char *)w -
                                          offsetof(struct st_coord_shard, w));
    s->waiting = false;
    if (status != 0) {
        ST_WARN("coord", "partition=%s-%d wait failed: %s; dropping the "
                "shard", ST_COORD_TOPIC, s->index, st_strerror(status));
        s->dead = true;
    }
    shard_release(s);
}

/* Send every response the HW covers; wait for the next. A dead shard
 * answers everything NOT_COORDINATOR. */
static void shard_release(struct st_coord_shard *s)
{
    while (s->head != NULL) {
        struct op *o = s->head;
        if (!s->dead && st_partition_hw(s->p) < o->need) {
            break;
        }
        s->head = o->next;
        if (s->head == NULL) {
            s->tail = NULL;
        }
        if (s->dead) {
            op_send(o, STRATA__ERROR_CODE__NOT_COORDINATOR,
                    "the coordinator moved before this was durable");
        } else {
            op_send(o, 0, NULL);
        }
    }
    if (s->head == NULL || s->waiting || s->dead) {
        return;
    }
    s->w.offset = s->head->need;
    s->w.done = waiter_done;
    s->waiting = true;
    if (st_partition_wait(s->p, &s->w) != 0) {
        if (s->waiting) {
            s->waiting = false;
            s->dead = true;
            shard_release(s);
        }
    }
}

void st_coord_reply(struct st_coord *c, struct st_coord_shard *s,
                    struct st_rpc_reply *reply, struct st_bytes body)
{
    struct op *o = st_calloc(1, sizeof *o);
    if (o == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
        return;
    }
    o->reply = reply;
    o->need = s->pending_end;
    st_buf_init(&o->body);
    if (body.len > 0 && st_buf_append(&o->body, body.base, body.len) != 0) {
        st_free(o);
        st_broker_reply_error(reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
        return;
    }
    if (s->tail != NULL) {
        s->tail->next = o;
    } else {
        s->head = o;
    }
    s->tail = o;
    shard_release(s);
}

/* ---- groups ---- */

static void trace_cb(void *arg, const char *line)
{
    ST_DEBUG("group", "%s", line);
}

static struct cgroup *cgroup_find(struct st_coord_shard *s, const char *id)
{
    for (struct cgroup *g = s->groups; g != NULL; g = g->next) {
        if (strcmp(g->id, id) == 0) {
            return g;
        }
    }
    return NULL;
}

static struct cgroup *cgroup_new(struct st_coord_shard *s, const char *id)
{
    const struct st_conf *conf = s->c->b->conf;
    struct cgroup *g = st_calloc(1, sizeof *g);
    if (g == NULL || strlen(id) > ST_GROUP_ID_MAX) {
        st_free(g);
        return NULL;
    }
    snprintf(g->id, sizeof g->id, "%s", id);
    struct st_group_config cfg = {0};
    cfg.group_id = g->id;
    cfg.session_timeout_ms =
        (uint32_t)st_conf_ms(conf, "group.consumer.session.timeout.ms");
    cfg.heartbeat_interval_ms =
        (uint32_t)st_conf_ms(conf, "group.consumer.heartbeat.interval.ms");
    cfg.offsets_retention_ms =
        (uint64_t)st_conf_int(conf, "offsets.retention.minutes") * 60000u;
    cfg.seed = s->c->seed++ ^ ((uint64_t)s->c->b->node_id << 48) ^
               st_coord_now_ms();
    cfg.trace = trace_cb;
    if (st_group_new(&cfg, &g->core) != 0) {
        st_free(g);
        return NULL;
    }
    g->next = s->groups;
    s->groups = g;
    return g;
}

static void cgroup_remove(struct st_coord_shard *s, struct cgroup *g)
{
    for (struct cgroup **at = &s->groups; *at != NULL; at = &(*at)->next) {
        if (*at == g) {
            *at = g->next;
            break;
        }
    }
    st_group_free(g->core);
    st_free(g);
}

struct st_group *st_coord_group(struct st_coord_shard *s,
                                const char *group_id, bool create)
{
    struct cgroup *g = cgroup_find(s, group_id);
    if (g == NULL && create) {
        g = cgroup_new(s, group_id);
        if (g != NULL) {
            struct st_group_event ev = {.type = ST_GROUP_EV_METADATA,
                                        .now_ms = st_coord_now_ms()};
            ev.metadata.topics = s->c->topics;
            ev.metadata.n_topics = s->c->n_topics;
            struct st_group_update up;
            if (st_coord_step(s->c, s, group_id, &ev, &up) != 0) {
                return NULL;
            }
            g = cgroup_find(s, group_id);
        }
    }
    return g != NULL ? g->core : NULL;
}

/* Append the step's records as one batch. */
static int append_records(struct st_coord *c, struct st_coord_shard *s,
                          const struct st_group_update *up)
{
    struct st_batch_builder_opts o = {ST_CODEC_NONE, 0, -1, -1, -1, -1};
    st_batch_builder_reset(c->builder, &o);
    int64_t now = (int64_t)st_coord_now_ms();
    for (unsigned i = 0; i < up->n_records; i++) {
        const struct st_group_record *r = &up->records[i];
        int rv = st_batch_builder_add(
            c->builder, now, r->key.base, r->key.len,
            r->tombstone ? NULL
                         : (r->value.base ? r->value.base
                                          : (const uint8_t *)""),
            r->tombstone ? 0 : r->value.len, NULL, 0);
        if (rv != 0) {
            return rv;
        }
    }
    struct st_bytes batch;
    int rv = st_batch_builder_finish(c->builder, &batch);
    if (rv != 0) {
        return rv;
    }
    st_buf_reset(&c->append_buf);
    rv = st_buf_append(&c->append_buf, batch.base, batch.len);
    if (rv != 0) {
        return rv;
    }
    struct st_log_append_info info;
    rv = st_partition_append(s->p, c->append_buf.base, c->append_buf.len,
                             now, &info);
    if (rv != 0) {
        return rv;
    }
    s->pending_end = info.last_offset + 1;
    return 0;
}

int st_coord_step(struct st_coord *c, struct st_coord_shard *s,
                  const char *group_id, const struct st_group_event *ev,
                  struct st_group_update *up)
{
    struct cgroup *g = cgroup_find(s, group_id);
    if (g == NULL) {
        return ST_ENOENT;
    }
    int rv = st_group_step(g->core, ev, up);
    if (rv == ST_EINVAL) {
        return rv; /* a malformed event changes nothing */
    }
    if (rv == 0 && up->n_records > 0) {
        rv = append_records(c, s, up);
    }
    if (rv != 0) {
        ST_WARN("coord", "partition=%s-%d group=%s step failed: %s; the "
                "shard is rebuilt from the log", ST_COORD_TOPIC, s->index,
                group_id, st_strerror(rv));
        s->dead = true;
        shard_release(s);
        return rv;
    }
    g->deadline_ms = up->next_deadline_ms;
    return 0;
}

void st_coord_step_done(struct st_coord_shard *s, const char *group_id,
                        const struct st_group_update *up)
{
    struct cgroup *g = cgroup_find(s, group_id);
    if (g != NULL && up->deleted && !s->dead) {
        cgroup_remove(s, g);
    }
}

/* ---- shards ---- */

static void shard_free(struct st_coord_shard *s)
{
    if (s == NULL) {
        return;
    }
    if (s->waiting) {
        st_partition_unwait(s->p, &s->w);
        s->waiting = false;
    }
    s->dead = true;
    shard_release(s);
    while (s->groups != NULL) {
        cgroup_remove(s, s->groups);
    }
    st_free(s);
}

/* Feed one replayed record to its group. */
static int load_record(struct st_coord_shard *s, const struct st_record *rec)
{
    if (rec->key == NULL) {
        return 0; /* not ours */
    }
    struct st_bytes key = {rec->key, (size_t)rec->key_len};
    struct st_bytes gid;
    int rv = st_group_record_group(key, &gid);
    if (rv != 0 || gid.len == 0 || gid.len > ST_GROUP_ID_MAX) {
        return ST_ECORRUPT;
    }
    char id[ST_GROUP_ID_MAX + 1];
    memcpy(id, gid.base, gid.len);
    id[gid.len] = '\0';
    struct cgroup *g = cgroup_find(s, id);
    if (g == NULL && (g = cgroup_new(s, id)) == NULL) {
        return ST_ENOMEM;
    }
    struct st_group_event ev = {.type = ST_GROUP_EV_LOAD,
                                .now_ms = st_coord_now_ms()};
    ev.load.key = key;
    ev.load.tombstone = rec->value == NULL;
    ev.load.value.base = rec->value;
    ev.load.value.len = rec->value ? (size_t)rec->value_len : 0;
    struct st_group_update up;
    return st_group_step(g->core, &ev, &up);
}

static int load_bytes(struct st_coord *c, struct st_coord_shard *s,
                      const uint8_t *p, size_t len, int64_t from)
{
    size_t pos = 0;
    while (pos < len) {
        struct st_batch_header h;
        int rv = st_batch_validate(p + pos, len - pos, len - pos, &h);
        if (rv != 0) {
            return rv == ST_EAGAIN ? ST_ECORRUPT : rv;
        }
        size_t total = st_batch_total_bytes(&h);
        if ((h.attributes & ST_BATCH_ATTR_CONTROL) == 0) {
            rv = st_record_iter_init(c->iter, p + pos, total, 64u << 20);
            struct st_record rec;
            while (rv == 0 && (rv = st_record_iter_next(c->iter, &rec)) ==
                                  0) {
                if (rec.offset >= from) {
                    rv = load_record(s, &rec);
                }
            }
            if (rv < 0) {
                return rv;
            }
        }
        pos += total;
    }
    return 0;
}

/* Replay the whole partition into @s. */
static int shard_load(struct st_coord *c, struct st_coord_shard *s)
{
    struct st_log *log = st_partition_log(s->p);
    int64_t off = st_log_start_offset(log);
    int64_t end = st_log_end_offset(log);
    struct st_buf buf;
    st_buf_init(&buf);
    int rv = 0;
    while (rv == 0 && off < end) {
        struct st_log_read_result r;
        rv = st_log_read(log, off, end, READ_BYTES, &r);
        if (rv != 0) {
            break;
        }
        if (r.len == 0) {
            st_log_read_release(&r);
            break;
        }
        st_buf_reset(&buf);
        rv = st_buf_reserve(&buf, (size_t)r.len);
        size_t got = 0;
        if (rv == 0) {
            rv = st_vfs_pread(r.file, buf.base, (size_t)r.len, r.pos, &got);
        }
        if (rv == 0 && got != r.len) {
            rv = ST_EIO;
        }
        int64_t next = r.next_offset;
        st_log_read_release(&r);
        if (rv == 0) {
            rv = load_bytes(c, s, buf.base, got, off);
        }
        off = next;
    }
    st_buf_close(&buf);
    if (rv != 0) {
        return rv;
    }
    s->pending_end = end;
    /* LOAD_DONE then the current topics, for every group. */
    struct cgroup *next;
    for (struct cgroup *g = s->groups; g != NULL; g = next) {
        next = g->next;
        char id[ST_GROUP_ID_MAX + 1];
        memcpy(id, g->id, sizeof id);
        struct st_group_event ev = {.type = ST_GROUP_EV_LOAD_DONE,
                                    .now_ms = st_coord_now_ms()};
        struct st_group_update up;
        rv = st_coord_step(c, s, id, &ev, &up);
        if (rv == 0) {
            st_coord_step_done(s, id, &up);
        }
        if (rv == 0 && cgroup_find(s, id) != NULL) {
            struct st_group_event m = {.type = ST_GROUP_EV_METADATA,
                                       .now_ms = st_coord_now_ms()};
            m.metadata.topics = c->topics;
            m.metadata.n_topics = c->n_topics;
            rv = st_coord_step(c, s, id, &m, &up);
            if (rv == 0) {
                st_coord_step_done(s, id, &up);
            }
        }
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

static void shard_take(struct st_coord *c, int32_t index,
                       struct st_partition *p)
{
    struct st_coord_shard *s = st_calloc(1, sizeof *s);
    if (s == NULL) {
        return;
    }
    s->c = c;
    s->index = index;
    s->p = p;
    s->epoch = st_partition_leader_epoch(p);
    uint64_t t0 = st_mono_ms(st_clock_real());
    int rv = shard_load(c, s);
    if (rv != 0) {
        ST_ERROR("coord", "partition=%s-%d epoch=%d replay failed: %s; "
                 "its groups are unavailable until the leadership moves",
                 ST_COORD_TOPIC, index, s->epoch, st_strerror(rv));
        while (s->groups != NULL) {
            cgroup_remove(s, s->groups);
        }
        s->failed = true;
        s->dead = false;
    }
    unsigned n = 0;
    for (struct cgroup *g = s->groups; g != NULL; g = g->next) {
        n++;
    }
    ST_INFO("coord", "node=%d partition=%s-%d epoch=%d coordinating "
            "groups=%u loaded_in_ms=%" PRIu64, c->b->node_id, ST_COORD_TOPIC,
            index, s->epoch, n, st_mono_ms(st_clock_real()) - t0);
    c->shards[index] = s;
}

/* Bring the shards in line with the partitions this broker leads. */
static void shards_check(struct st_coord *c)
{
    const struct st_meta *m = st_meta_follower_meta(c->b->follower);
    const struct st_meta_topic *t = st_meta_topic_by_name(m, ST_COORD_TOPIC);
    int32_t n = t != NULL ? t->n_parts : 0;
    if (n > c->n_shards) {
        struct st_coord_shard **v = st_calloc((size_t)n, sizeof *v);
        if (v == NULL) {
            return;
        }
        for (int32_t i = 0; i < c->n_shards; i++) {
            v[i] = c->shards[i];
        }
        st_free(c->shards);
        c->shards = v;
        c->n_shards = n;
    }
    for (int32_t i = 0; i < c->n_shards; i++) {
        struct st_coord_shard *s = c->shards[i];
        struct st_partition *p = i < n ? st_pm_find(c->b->pm, ST_COORD_TOPIC,
                                                    i)
                                       : NULL;
        bool leads = p != NULL && st_partition_is_leader(p);
        if (s != NULL) {
            if (s->p != p) {
                s->waiting = false; /* its closed partition failed them */
            }
            bool stale = s->p != p || !leads || s->dead ||
                         s->epoch != st_partition_leader_epoch(p);
            if (stale) {
                ST_INFO("coord", "node=%d partition=%s-%d epoch=%d stops "
                        "coordinating", c->b->node_id, ST_COORD_TOPIC, i,
                        s->epoch);
                shard_free(s);
                c->shards[i] = s = NULL;
            }
        }
        if (s == NULL && leads) {
            shard_take(c, i, p);
        }
    }
}

/* ---- topics seen by the groups ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

/* Refresh c->topics from the metadata; true when they changed. */
static bool topics_refresh(struct st_coord *c)
{
    const struct st_meta *m = st_meta_follower_meta(c->b->follower);
    size_t n = st_meta_topic_count(m);
    struct st_group_topic_meta *v = st_calloc(n + 1, sizeof *v);
    if (v == NULL) {
        return false;
    }
    unsigned k = 0;
    uint64_t fp = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        const struct st_meta_topic *t = st_meta_topic_at(m, i);
        if (strncmp(t->name, "__", 2) == 0) {
            continue; /* internal topics are not for groups */
        }
        v[k].name = t->name;
        memcpy(v[k].id, t->id, 16);
        v[k].partitions = t->n_parts;
        fp = fnv(fp, t->name, strlen(t->name) + 1);
        fp = fnv(fp, t->id, 16);
        fp = fnv(fp, &t->n_parts, sizeof t->n_parts);
        k++;
    }
    st_free(c->topics);
    c->topics = v;
    c->n_topics = k;
    bool changed = fp != c->topics_fp;
    c->topics_fp = fp;
    return changed;
}

static void feed_topics(struct st_coord *c)
{
    for (int32_t i = 0; i < c->n_shards; i++) {
        struct st_coord_shard *s = c->shards[i];
        if (s == NULL || s->failed || s->dead) {
            continue;
        }
        struct cgroup *next;
        for (struct cgroup *g = s->groups; g != NULL && !s->dead; g = next) {
            next = g->next;
            char id[ST_GROUP_ID_MAX + 1];
            memcpy(id, g->id, sizeof id);
            struct st_group_event ev = {.type = ST_GROUP_EV_METADATA,
                                        .now_ms = st_coord_now_ms()};
            ev.metadata.topics = c->topics;
            ev.metadata.n_topics = c->n_topics;
            struct st_group_update up;
            if (st_coord_step(c, s, id, &ev, &up) == 0) {
                st_coord_step_done(s, id, &up);
            }
        }
    }
}

void st_coord_meta_changed(struct st_coord *c)
{
    if (c == NULL) {
        return;
    }
    bool changed = topics_refresh(c);
    shards_check(c);
    if (changed) {
        feed_topics(c);
    }
}

/* ---- timers ---- */

static void tick_groups(struct st_coord *c, uint64_t now)
{
    for (int32_t i = 0; i < c->n_shards; i++) {
        struct st_coord_shard *s = c->shards[i];
        if (s == NULL || s->failed || s->dead) {
            continue;
        }
        struct cgroup *next;
        for (struct cgroup *g = s->groups; g != NULL && !s->dead; g = next) {
            next = g->next;
            if (g->deadline_ms == 0 || g->deadline_ms > now) {
                continue;
            }
            char id[ST_GROUP_ID_MAX + 1];
            memcpy(id, g->id, sizeof id);
            struct st_group_event ev = {.type = ST_GROUP_EV_TICK,
                                        .now_ms = now};
            struct st_group_update up;
            if (st_coord_step(c, s, id, &ev, &up) == 0) {
                st_coord_step_done(s, id, &up);
            }
        }
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_coord *c = arg;
    shards_check(c);
    tick_groups(c, st_coord_now_ms());
}

void st_coord_foreach_group(struct st_coord *c,
                            void (*fn)(void *arg, const char *group_id,
                                       const struct st_group *g),
                            void *arg)
{
    for (int32_t i = 0; i < c->n_shards; i++) {
        struct st_coord_shard *s = c->shards[i];
        for (struct cgroup *g = s != NULL && !s->dead ? s->groups : NULL;
             g != NULL; g = g->next) {
            fn(arg, g->id, g->core);
        }
    }
}

/* ---- creating the offsets topic ---- */

static void created(void *arg, int status, const struct st_rpc_response *resp)
{
    if (status != 0 || resp->error != 0) {
        ST_WARN("coord", "creating %s failed: %s", ST_COORD_TOPIC,
                status != 0 ? st_strerror(status) : resp->error_message);
    }
}

/* Ask the controller to create __consumer_offsets (at most every
 * CREATE_RETRY_MS). */
static void create_topic(struct st_coord *c)
{
    uint64_t now = st_mono_ms(st_clock_real());
    if (now < c->create_after_ms) {
        return;
    }
    c->create_after_ms = now + CREATE_RETRY_MS;
    const struct st_meta *m = st_meta_follower_meta(c->b->follower);
    int64_t rf = st_conf_int(c->b->conf, "offsets.topic.replication.factor");
    int64_t brokers = (int64_t)st_meta_broker_count(m);
    if (rf > brokers) {
        rf = brokers > 0 ? brokers : 1;
    }
    Strata__Ctl__ConfigEntry policy = STRATA__CTL__CONFIG_ENTRY__INIT;
    policy.key = "cleanup.policy";
    policy.value = "compact";
    Strata__Ctl__ConfigEntry *cfgs[1] = {&policy};
    Strata__Ctl__CreatableTopic t = STRATA__CTL__CREATABLE_TOPIC__INIT;
    t.name = ST_COORD_TOPIC;
    t.partitions =
        (int32_t)st_conf_int(c->b->conf, "offsets.topic.num.partitions");
    t.replication_factor = (int32_t)rf;
    t.configs = cfgs;
    t.n_configs = 1;
    t.internal = true;
    Strata__Ctl__CreatableTopic *tv[1] = {&t};
    Strata__Ctl__CreateTopicsRequest req =
        STRATA__CTL__CREATE_TOPICS_REQUEST__INIT;
    req.topics = tv;
    req.n_topics = 1;
    struct st_buf body;
    st_buf_init(&body);
    if (st_pb_pack(&req.base, &body) == 0) {
        ST_INFO("coord", "node=%d creating %s partitions=%d rf=%" PRId64,
                c->b->node_id, ST_COORD_TOPIC, t.partitions, rf);
        st_meta_follower_forward(c->b->follower,
                                 STRATA__CTL__API__CREATE_TOPICS,
                                 st_pb_view(&body), 10000, created, c);
    }
    st_buf_close(&body);
}

/* Exposed to coordinator_api.c through st_coord_shard_for's NULL path. */
void st_coord_want_topic(struct st_coord *c);
void st_coord_want_topic(struct st_coord *c)
{
    create_topic(c);
}

struct st_coord_shard *st_coord_shard_for(struct st_coord *c,
                                          const char *group_id, int32_t *err)
{
    *err = STRATA__ERROR_CODE__NOT_COORDINATOR;
    const struct st_meta *m = st_meta_follower_meta(c->b->follower);
    const struct st_meta_topic *t = st_meta_topic_by_name(m, ST_COORD_TOPIC);
    if (t == NULL || t->n_parts <= 0) {
        return NULL;
    }
    int32_t i = st_coord_partition_for(group_id, t->n_parts);
    struct st_partition *p = st_pm_find(c->b->pm, ST_COORD_TOPIC, i);
    if (p == NULL || !st_partition_is_leader(p)) {
        return NULL;
    }
    if (i >= c->n_shards || c->shards[i] == NULL || c->shards[i]->dead ||
        c->shards[i]->p != p ||
        c->shards[i]->epoch != st_partition_leader_epoch(p)) {
        shards_check(c); /* leadership arrived before the hook ran */
    }
    struct st_coord_shard *s = i < c->n_shards ? c->shards[i] : NULL;
    if (s == NULL || s->dead || s->failed || st_broker_fenced(c->b)) {
        *err = STRATA__ERROR_CODE__COORDINATOR_NOT_AVAILABLE;
        return NULL;
    }
    *err = 0;
    return s;
}

/* ---- life ---- */

int st_coord_new(struct st_broker *b, struct st_coord **out)
{
    struct st_coord *c = st_calloc(1, sizeof *c);
    if (c == NULL) {
        return ST_ENOMEM;
    }
    c->b = b;
    st_buf_init(&c->append_buf);
    c->seed = ((uint64_t)b->node_id << 32) ^ st_mono_ms(st_clock_real());
    int rv = st_batch_builder_new(&c->builder);
    if (rv == 0) {
        rv = st_record_iter_new(&c->iter);
    }
    if (rv == 0) {
        c->timer = event_new(b->base, -1, EV_PERSIST, timer_cb, c);
        struct timeval tv = {0, TICK_MS * 1000};
        rv = c->timer != NULL ? event_add(c->timer, &tv) : ST_ENOMEM;
    }
    if (rv == 0) {
        rv = st_coord_api_register(c);
    }
    if (rv != 0) {
        st_coord_free(c);
        return rv;
    }
    *out = c;
    return 0;
}

void st_coord_free(struct st_coord *c)
{
    if (c == NULL) {
        return;
    }
    if (c->timer != NULL) {
        event_free(c->timer);
    }
    for (int32_t i = 0; i < c->n_shards; i++) {
        shard_free(c->shards[i]);
    }
    st_free(c->shards);
    st_free(c->topics);
    st_batch_builder_free(c->builder);
    st_record_iter_free(c->iter);
    st_buf_close(&c->append_buf);
    st_free(c);
}
