/* The group's records in __consumer_offsets, and rebuilding from them.
 *
 * The topic is compacted: the last record per key wins and tombstones
 * (no value) delete. So each key's latest value must stand on its own, and
 * replaying any compacted prefix-closed log in order rebuilds the state.
 * The core emits all records of one step as one batch (see group.h), so a
 * replay never sees half a step.
 *
 * Integers are big-endian. str = u16 length + bytes; an optional string
 * has length 0xffff for NULL. plist (a partition list) = u32 topics, then
 * per topic: str name, u32 count, i32 partitions[count].
 *
 * key:   u16 type | str group | ...
 *   type 1 OFFSET        ... | str topic | i32 partition
 *   type 2 GROUP_META    (nothing more)
 *   type 3 SUB_META      (nothing more)
 *   type 4 MEMBER        ... | str member_id
 *   type 5 TARGET        ... | str member_id
 *   type 6 CURRENT       ... | str member_id
 * value: u16 version (0) | ...
 *   OFFSET      i64 offset | i32 leader_epoch | str metadata | i64 commit_ms
 *   GROUP_META  i32 group_epoch | i32 target_epoch | str assignor
 *   SUB_META    u32 n | n x (str topic | 16 topic id | i32 partitions)
 *   MEMBER      ostr instance_id | ostr client_id | ostr client_host |
 *               ostr assignor | u32 rebalance_timeout_ms |
 *               u32 n | n x str topic | ostr regex
 *   TARGET      plist
 *   CURRENT     i32 member_epoch | i32 previous_epoch | u8 state |
 *               u8 flags (1 static_left, 2 ghost) | plist assigned |
 *               plist revoking
 */
#include <string.h>

#include "broker/group/group_int.h"
#include "common/alloc.h"
#include "common/err.h"

#define NULL_STR 0xffffu

/* ---- writing ---- */

static int w_bytes(struct st_buf *b, const void *p, size_t n)
{
    return st_buf_append(b, p, n);
}

static int w_u16(struct st_buf *b, uint16_t v)
{
    uint8_t x[2];
    st_put_be16(x, v);
    return w_bytes(b, x, 2);
}

static int w_u32(struct st_buf *b, uint32_t v)
{
    uint8_t x[4];
    st_put_be32(x, v);
    return w_bytes(b, x, 4);
}

static int w_u64(struct st_buf *b, uint64_t v)
{
    uint8_t x[8];
    st_put_be64(x, v);
    return w_bytes(b, x, 8);
}

static int w_ostr(struct st_buf *b, const char *s)
{
    if (s == NULL) {
        return w_u16(b, NULL_STR);
    }
    size_t n = strlen(s);
    if (n >= NULL_STR) {
        return ST_EINVAL;
    }
    int rv = w_u16(b, (uint16_t)n);
    return rv ? rv : w_bytes(b, s, n);
}

static int w_str(struct st_buf *b, const char *s)
{
    return w_ostr(b, s ? s : "");
}

static int w_plist(struct st_group *g, const struct pset *s)
{
    struct st_buf *b = &g->arena;
    uint32_t n_topics = 0;
    for (unsigned i = 0; i < s->n; i++) {
        if (i == 0 || st_assign_key_topic(s->v[i]) !=
                          st_assign_key_topic(s->v[i - 1])) {
            n_topics++;
        }
    }
    int rv = w_u32(b, n_topics);
    unsigned i = 0;
    while (rv == 0 && i < s->n) {
        uint32_t t = st_assign_key_topic(s->v[i]);
        unsigned j = i;
        while (j < s->n && st_assign_key_topic(s->v[j]) == t) {
            j++;
        }
        rv = w_str(b, g->topics[t].name);
        rv = rv ? rv : w_u32(b, j - i);
        for (unsigned k = i; k < j && rv == 0; k++) {
            rv = w_u32(b, (uint32_t)st_assign_key_partition(s->v[k]));
        }
        i = j;
    }
    return rv;
}

static struct rec_slot *slot_new(struct st_group *g)
{
    if (g->n_slots == g->cap_slots) {
        unsigned cap = g->cap_slots ? g->cap_slots * 2 : 16;
        struct rec_slot *v = st_realloc(g->slots, cap * sizeof *v);
        if (v == NULL) {
            return NULL;
        }
        g->slots = v;
        g->cap_slots = cap;
    }
    struct rec_slot *s = &g->slots[g->n_slots++];
    memset(s, 0, sizeof *s);
    return s;
}

/* Start a record of @type: writes the key prefix. */
static int key_begin(struct st_group *g, enum rec_type type,
                     struct rec_slot **out)
{
    struct rec_slot *s = slot_new(g);
    *out = s;
    if (s == NULL) {
        return ST_ENOMEM;
    }
    s->key_off = g->arena.len;
    *out = s;
    int rv = w_u16(&g->arena, (uint16_t)type);
    return rv ? rv : w_str(&g->arena, g->group_id);
}

/* End the key; begin the value (or mark a tombstone). */
static int value_begin(struct st_group *g, struct rec_slot *s, bool tomb)
{
    s->key_len = g->arena.len - s->key_off;
    s->val_off = g->arena.len;
    s->tombstone = tomb;
    return tomb ? 0 : w_u16(&g->arena, 0 /* version */);
}

static void value_end(struct st_group *g, struct rec_slot *s)
{
    if (s == NULL) {
        return; /* key_begin failed; the step reports ST_ENOMEM */
    }
    s->val_len = s->tombstone ? 0 : g->arena.len - s->val_off;
}

int rec_emit_group_meta(struct st_group *g, bool tombstone)
{
    struct rec_slot *s;
    int rv = key_begin(g, REC_GROUP_META, &s);
    rv = rv ? rv : value_begin(g, s, tombstone);
    if (rv == 0 && !tombstone) {
        rv = w_u32(&g->arena, (uint32_t)g->group_epoch);
        rv = rv ? rv : w_u32(&g->arena, (uint32_t)g->target_epoch);
        rv = rv ? rv : w_str(&g->arena, g->assignor->name);
    }
    value_end(g, s);
    return rv;
}

int rec_emit_sub_meta(struct st_group *g, bool tombstone)
{
    struct rec_slot *s;
    int rv = key_begin(g, REC_SUB_META, &s);
    rv = rv ? rv : value_begin(g, s, tombstone);
    if (rv == 0 && !tombstone) {
        rv = w_u32(&g->arena, g->n_sub_meta);
        for (unsigned i = 0; i < g->n_sub_meta && rv == 0; i++) {
            const struct topic *t =
                &g->topics[st_assign_key_topic(g->sub_meta[i])];
            rv = w_str(&g->arena, t->name);
            rv = rv ? rv : w_bytes(&g->arena, t->id, 16);
            rv = rv ? rv : w_u32(&g->arena, (uint32_t)t->partitions);
        }
    }
    value_end(g, s);
    return rv;
}

static int member_key(struct st_group *g, enum rec_type type, const char *id,
                      bool tombstone, struct rec_slot **s)
{
    int rv = key_begin(g, type, s);
    rv = rv ? rv : w_str(&g->arena, id);
    return rv ? rv : value_begin(g, *s, tombstone);
}

int rec_emit_member(struct st_group *g, const struct member *m)
{
    struct rec_slot *s;
    struct st_buf *b = &g->arena;
    int rv = member_key(g, REC_MEMBER, m->id, false, &s);
    rv = rv ? rv : w_ostr(b, m->instance_id);
    rv = rv ? rv : w_ostr(b, m->client_id);
    rv = rv ? rv : w_ostr(b, m->client_host);
    rv = rv ? rv : w_ostr(b, m->assignor);
    rv = rv ? rv : w_u32(b, m->rebalance_timeout_ms);
    rv = rv ? rv : w_u32(b, m->n_topics);
    for (unsigned i = 0; i < m->n_topics && rv == 0; i++) {
        rv = w_str(b, m->topics[i]);
    }
    rv = rv ? rv : w_ostr(b, m->regex);
    value_end(g, s);
    return rv;
}

int rec_emit_target(struct st_group *g, const struct member *m)
{
    struct rec_slot *s;
    int rv = member_key(g, REC_TARGET, m->id, false, &s);
    rv = rv ? rv : w_plist(g, &m->target);
    value_end(g, s);
    return rv;
}

int rec_emit_current(struct st_group *g, const struct member *m)
{
    struct rec_slot *s;
    struct st_buf *b = &g->arena;
    uint8_t st = (uint8_t)m->state;
    uint8_t left = (uint8_t)(m->static_left | (m->ghost << 1));
    int rv = member_key(g, REC_CURRENT, m->id, false, &s);
    rv = rv ? rv : w_u32(b, (uint32_t)m->epoch);
    rv = rv ? rv : w_u32(b, (uint32_t)m->prev_epoch);
    rv = rv ? rv : w_bytes(b, &st, 1);
    rv = rv ? rv : w_bytes(b, &left, 1);
    rv = rv ? rv : w_plist(g, &m->assigned);
    rv = rv ? rv : w_plist(g, &m->revoking);
    value_end(g, s);
    return rv;
}

int rec_emit_member_tombstones(struct st_group *g, const char *member_id)
{
    static const enum rec_type types[] = {REC_CURRENT, REC_TARGET,
                                          REC_MEMBER};
    for (unsigned i = 0; i < 3; i++) {
        struct rec_slot *s;
        int rv = member_key(g, types[i], member_id, true, &s);
        if (rv != 0) {
            return rv;
        }
        value_end(g, s);
    }
    return 0;
}

static int offset_key(struct st_group *g, const char *topic, int32_t p,
                      bool tombstone, struct rec_slot **s)
{
    int rv = key_begin(g, REC_OFFSET, s);
    rv = rv ? rv : w_str(&g->arena, topic);
    rv = rv ? rv : w_u32(&g->arena, (uint32_t)p);
    return rv ? rv : value_begin(g, *s, tombstone);
}

int rec_emit_offset(struct st_group *g, const struct offset *o)
{
    struct rec_slot *s;
    struct st_buf *b = &g->arena;
    int rv = offset_key(g, o->topic, o->partition, false, &s);
    rv = rv ? rv : w_u64(b, (uint64_t)o->offset);
    rv = rv ? rv : w_u32(b, (uint32_t)o->leader_epoch);
    rv = rv ? rv : w_str(b, o->metadata);
    rv = rv ? rv : w_u64(b, (uint64_t)o->commit_ms);
    value_end(g, s);
    return rv;
}

int rec_emit_offset_tombstone(struct st_group *g, const char *topic,
                              int32_t partition)
{
    struct rec_slot *s;
    int rv = offset_key(g, topic, partition, true, &s);
    value_end(g, s);
    return rv;
}

/* ---- reading ---- */

struct rd {
    const uint8_t *p;
    size_t n, off;
    bool bad;
};

static const uint8_t *r_take(struct rd *r, size_t n)
{
    if (r->bad || r->n - r->off < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint16_t r_u16(struct rd *r)
{
    const uint8_t *p = r_take(r, 2);
    return p ? st_get_be16(p) : 0;
}

static uint32_t r_u32(struct rd *r)
{
    const uint8_t *p = r_take(r, 4);
    return p ? st_get_be32(p) : 0;
}

static uint64_t r_u64(struct rd *r)
{
    const uint8_t *p = r_take(r, 8);
    return p ? st_get_be64(p) : 0;
}

static uint8_t r_u8(struct rd *r)
{
    const uint8_t *p = r_take(r, 1);
    return p ? p[0] : 0;
}

/* A heap copy of an optional string (NULL for the null marker); sets
 * r->bad on short input, *enomem on allocation failure. */
static char *r_ostr(struct rd *r, bool *enomem)
{
    uint16_t n = r_u16(r);
    if (r->bad || n == NULL_STR) {
        return NULL;
    }
    const uint8_t *p = r_take(r, n);
    if (p == NULL) {
        return NULL;
    }
    if (memchr(p, 0, n) != NULL) {
        r->bad = true;
        return NULL;
    }
    char *s = st_malloc((size_t)n + 1);
    if (s == NULL) {
        *enomem = true;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static char *r_str(struct rd *r, bool *enomem)
{
    char *s = r_ostr(r, enomem);
    if (s == NULL && !*enomem && !r->bad) {
        r->bad = true; /* a required string was null */
    }
    return s;
}

int st_group_record_group(struct st_bytes key, struct st_bytes *out)
{
    struct rd r = {key.base, key.len, 0, false};
    uint16_t type = r_u16(&r);
    uint16_t n = r_u16(&r);
    const uint8_t *p = r_take(&r, n);
    if (r.bad || type < REC_OFFSET || type > REC_CURRENT || n == NULL_STR) {
        return ST_ECORRUPT;
    }
    *out = (struct st_bytes){p, n};
    return 0;
}

static int r_plist(struct st_group *g, struct rd *r, struct pset *out)
{
    out->n = 0;
    uint32_t n_topics = r_u32(r);
    for (uint32_t i = 0; i < n_topics && !r->bad; i++) {
        bool enomem = false;
        char *name = r_str(r, &enomem);
        if (enomem) {
            return ST_ENOMEM;
        }
        if (r->bad) {
            break;
        }
        uint32_t t;
        int rv = group_topic_intern(g, name, &t);
        st_free(name);
        if (rv != 0) {
            return rv;
        }
        uint32_t n = r_u32(r);
        if (n > r->n - r->off) {
            r->bad = true;
            break;
        }
        for (uint32_t j = 0; j < n && !r->bad; j++) {
            int32_t p = (int32_t)r_u32(r);
            if (p < 0) {
                r->bad = true;
                break;
            }
            rv = pset_add(out, st_assign_key(t, p));
            if (rv != 0) {
                return rv;
            }
        }
    }
    return r->bad ? ST_ECORRUPT : 0;
}

static struct member *member_get(struct st_group *g, const char *id,
                                 int *rv)
{
    struct member *m = group_member_find(g, id);
    if (m != NULL) {
        return m;
    }
    m = member_new(id);
    if (m == NULL) {
        *rv = ST_ENOMEM;
        return NULL;
    }
    *rv = group_member_insert(g, m);
    if (*rv != 0) {
        member_free(m);
        return NULL;
    }
    return m;
}

static int load_member(struct st_group *g, struct member *m, struct rd *r)
{
    bool enomem = false;
    char *iid = r_ostr(r, &enomem);
    char *cid = r_ostr(r, &enomem);
    char *host = r_ostr(r, &enomem);
    char *asg = r_ostr(r, &enomem);
    uint32_t rto = r_u32(r);
    uint32_t n = r_u32(r);
    char **topics = NULL;
    char *regex = NULL;
    int rv = 0;
    if (!r->bad && n > r->n - r->off) {
        r->bad = true;
    }
    if (!r->bad && !enomem) {
        topics = st_calloc(n ? n : 1, sizeof *topics);
        enomem = topics == NULL;
        for (uint32_t i = 0; i < n && !enomem && !r->bad; i++) {
            topics[i] = r_str(r, &enomem);
        }
        regex = r_ostr(r, &enomem);
    }
    if (enomem) {
        rv = ST_ENOMEM;
    } else if (r->bad) {
        rv = ST_ECORRUPT;
    }
    if (rv == 0) {
        bool ch = false;
        rv = member_set_subscription(m, (const char *const *)topics, n,
                                     regex, &ch);
        if (rv == ST_EINVAL) {
            rv = ST_ECORRUPT;
        }
    }
    if (rv == 0) {
        st_free(m->instance_id);
        st_free(m->client_id);
        st_free(m->client_host);
        st_free(m->assignor);
        m->instance_id = iid;
        m->client_id = cid;
        m->client_host = host;
        m->assignor = asg;
        iid = cid = host = asg = NULL;
        m->rebalance_timeout_ms = rto;
        m->loaded_meta = true;
    }
    for (uint32_t i = 0; topics != NULL && i < n; i++) {
        st_free(topics[i]);
    }
    st_free(topics);
    st_free(regex);
    st_free(iid);
    st_free(cid);
    st_free(host);
    st_free(asg);
    return rv;
}

static int load_current(struct st_group *g, struct member *m, struct rd *r)
{
    m->epoch = (int32_t)r_u32(r);
    m->prev_epoch = (int32_t)r_u32(r);
    uint8_t st = r_u8(r);
    uint8_t left = r_u8(r);
    if (r->bad || st < ST_GROUP_MEMBER_STABLE ||
        st > ST_GROUP_MEMBER_UNRELEASED || left > 3) {
        return ST_ECORRUPT;
    }
    m->state = (enum st_group_member_state)st;
    m->static_left = left & 1;
    m->ghost = (left & 2) != 0;
    int rv = r_plist(g, r, &m->assigned);
    return rv ? rv : r_plist(g, r, &m->revoking);
}

static int load_sub_meta(struct st_group *g, struct rd *r)
{
    uint32_t n = r_u32(r);
    if (r->bad || n > r->n - r->off) {
        return ST_ECORRUPT;
    }
    uint64_t *v = st_malloc((n ? n : 1) * sizeof *v);
    if (v == NULL) {
        return ST_ENOMEM;
    }
    int rv = 0;
    for (uint32_t i = 0; i < n && rv == 0; i++) {
        bool enomem = false;
        char *name = r_str(r, &enomem);
        const uint8_t *id = r_take(r, 16);
        int32_t parts = (int32_t)r_u32(r);
        if (enomem) {
            rv = ST_ENOMEM;
        } else if (r->bad || parts < 0) {
            rv = ST_ECORRUPT;
        }
        uint32_t t = 0;
        if (rv == 0) {
            int f = group_topic_find(g, name);
            if (f >= 0 && g->topics[f].partitions >= 0 &&
                memcmp(g->topics[f].id, id, 16) != 0) {
                g->topics[f].live = false;
            }
            rv = group_topic_intern(g, name, &t);
        }
        if (rv == 0) {
            memcpy(g->topics[t].id, id, 16);
            g->topics[t].partitions = parts;
            v[i] = st_assign_key(t, parts);
        }
        st_free(name);
    }
    if (rv != 0) {
        st_free(v);
        return rv;
    }
    st_free(g->sub_meta);
    g->sub_meta = v;
    g->n_sub_meta = n;
    return 0;
}

static void clear_group(struct st_group *g)
{
    g->group_epoch = 0;
    g->target_epoch = 0;
    st_free(g->sub_meta);
    g->sub_meta = NULL;
    g->n_sub_meta = 0;
}

int rec_load(struct st_group *g, struct st_bytes key, struct st_bytes value,
             bool tombstone)
{
    struct rd k = {key.base, key.len, 0, false};
    struct rd v = {value.base, value.len, 0, false};
    uint16_t type = r_u16(&k);
    bool enomem = false;
    char *gid = r_str(&k, &enomem);
    if (enomem) {
        return ST_ENOMEM;
    }
    if (k.bad) {
        return ST_ECORRUPT;
    }
    int rv = strcmp(gid, g->group_id) == 0 ? 0 : ST_EINVAL;
    st_free(gid);
    if (rv != 0) {
        return rv;
    }
    if (!tombstone && r_u16(&v) != 0) {
        return ST_ECORRUPT; /* unknown value version (or empty value) */
    }
    g->persisted = true;
    char *sub = NULL;
    int32_t part = 0;
    if (type == REC_OFFSET || type >= REC_MEMBER) {
        sub = r_str(&k, &enomem);
        if (type == REC_OFFSET) {
            part = (int32_t)r_u32(&k);
        }
        if (enomem) {
            return ST_ENOMEM;
        }
        if (k.bad || part < 0) {
            st_free(sub);
            return ST_ECORRUPT;
        }
    }
    struct member *m = NULL;
    switch (type) {
    case REC_OFFSET:
        if (tombstone) {
            offset_del(g, sub, part);
            break;
        } else {
            int64_t off = (int64_t)r_u64(&v);
            int32_t le = (int32_t)r_u32(&v);
            char *md = r_str(&v, &enomem);
            int64_t ts = (int64_t)r_u64(&v);
            rv = enomem ? ST_ENOMEM : v.bad ? ST_ECORRUPT : 0;
            if (rv == 0) {
                rv = offset_put(g, sub, part, off, le, md, ts);
            }
            st_free(md);
        }
        break;
    case REC_GROUP_META:
        if (tombstone) {
            clear_group(g);
        } else {
            g->group_epoch = (int32_t)r_u32(&v);
            g->target_epoch = (int32_t)r_u32(&v);
            char *a = r_str(&v, &enomem);
            rv = enomem ? ST_ENOMEM : v.bad ? ST_ECORRUPT : 0;
            /* Epochs grow from 0 by one per rebalance: a negative one,
             * or one a billion bumps from overflowing int32 (the core
             * does group_epoch++), was not written by a live group
             * (fuzz_group_records). */
            if (rv == 0 && (g->group_epoch < 0 || g->target_epoch < 0 ||
                            g->group_epoch > INT32_MAX / 2)) {
                rv = ST_ECORRUPT;
            }
            if (rv == 0 && st_group_assignor_find(a) != NULL) {
                g->assignor = st_group_assignor_find(a);
            }
            st_free(a);
        }
        break;
    case REC_SUB_META:
        if (tombstone) {
            st_free(g->sub_meta);
            g->sub_meta = NULL;
            g->n_sub_meta = 0;
        } else {
            rv = load_sub_meta(g, &v);
        }
        break;
    case REC_MEMBER:
    case REC_TARGET:
    case REC_CURRENT:
        m = group_member_find(g, sub);
        if (tombstone) {
            if (m != NULL && type == REC_MEMBER) {
                group_member_unlink(g, m);
                member_free(m);
            } else if (m != NULL && type == REC_TARGET) {
                m->target.n = 0;
            } else if (m != NULL) {
                m->assigned.n = m->revoking.n = 0;
            }
            break;
        }
        m = member_get(g, sub, &rv);
        if (m == NULL) {
            break;
        }
        if (type == REC_MEMBER) {
            rv = load_member(g, m, &v);
        } else if (type == REC_TARGET) {
            rv = r_plist(g, &v, &m->target);
        } else {
            rv = load_current(g, m, &v);
        }
        break;
    default:
        rv = ST_ECORRUPT;
    }
    st_free(sub);
    return rv;
}

int group_load_done(struct st_group *g)
{
    unsigned i = 0;
    while (i < g->n_members) {
        struct member *m = g->members[i];
        if (m->ghost && !m->loaded_meta) {
            int rv = ghost_adopt(g, m); /* unlinks it from members */
            if (rv != 0) {
                return rv;
            }
            continue;
        }
        i++;
    }
    for (i = 0; i < g->n_ghosts; i++) {
        struct member *m = g->ghosts[i];
        m->session_deadline_ms = g->now_ms + g->cfg.session_timeout_ms;
        const struct pset *sets[2] = {&m->assigned, &m->revoking};
        for (int s = 0; s < 2; s++) {
            for (unsigned j = 0; j < sets[s]->n; j++) {
                if (pmap_get(&g->owners, sets[s]->v[j]) != NULL) {
                    return ST_ECORRUPT;
                }
                int rv = pmap_put(&g->owners, sets[s]->v[j], m);
                if (rv != 0) {
                    return rv;
                }
            }
        }
    }
    for (i = 0; i < g->n_members; i++) {
        struct member *m = g->members[i];
        if (!m->loaded_meta && g->persisted) {
            return ST_ECORRUPT; /* assignment records without a member */
        }
        const struct pset *sets[2] = {&m->assigned, &m->revoking};
        for (int s = 0; s < 2; s++) {
            for (unsigned j = 0; j < sets[s]->n; j++) {
                if (pmap_get(&g->owners, sets[s]->v[j]) != NULL) {
                    return ST_ECORRUPT; /* one partition, two owners */
                }
                int rv = pmap_put(&g->owners, sets[s]->v[j], m);
                if (rv != 0) {
                    return rv;
                }
            }
        }
        m->session_deadline_ms = g->now_ms + g->cfg.session_timeout_ms;
        m->rebalance_deadline_ms = g->now_ms + m->rebalance_timeout_ms;
        m->dirty_meta = m->dirty_target = m->dirty_current = false;
    }
    /* Resolve subscriptions against the topics known from the log without
     * bumping: the epoch moves when METADATA brings news. */
    uint64_t *saved = g->sub_meta;
    unsigned n_saved = g->n_sub_meta;
    g->sub_meta = NULL;
    g->n_sub_meta = 0;
    int rv = group_refresh_subscriptions(g, NULL);
    if (rv == 0 && g->persisted) {
        st_free(g->sub_meta);
        g->sub_meta = saved;
        g->n_sub_meta = n_saved;
    } else {
        st_free(saved);
    }
    g->bump = false;
    g->dirty_sub_meta = false;
    g->dirty_group_meta = false;
    g->loading_done = true;
    if (g->n_members == 0) {
        g->empty_since_ms = g->now_ms;
    }
    /* Records that decode may still describe a state the core never
     * writes (a target epoch above the group epoch, a member ahead of the
     * target): refuse it rather than run on broken invariants
     * (fuzz_group_records). */
    char why[8];
    if (rv == 0 && !st_group_check(g, why, sizeof why)) {
        rv = ST_ECORRUPT;
    }
    return rv;
}
