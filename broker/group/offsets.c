/* Committed offsets: commit with member-epoch fencing, fetch, and expiry
 * once the group is empty.
 *
 * A commit from a member is accepted only when its member epoch equals the
 * member's current epoch (else STALE_MEMBER_EPOCH) and, per partition, the
 * member owns the partition now: in its assigned set or still revoking it,
 * so a consumer may commit in its revocation callback (else NOT_OWNER). A
 * partition moves only after its owner confirmed the revocation and its
 * epoch moved past the old one, so a late commit from a previous owner or
 * a previous tenure can never land over a newer one. A "simple" commit (no
 * member id, epoch -1: admin reset-offsets, standalone consumers) is
 * accepted only while the group has no members, as in Kafka.
 *
 * Expiry (offsets.retention.minutes): while the group has no members, an
 * offset expires at max(commit time, time the group became empty) +
 * retention. A group with no members and no offsets is deleted. */
#include <string.h>

#include "broker/group/group_int.h"
#include "common/alloc.h"
#include "common/err.h"

static int cmp_key(const struct offset *o, const char *topic, int32_t p)
{
    int c = strcmp(o->topic, topic);
    if (c != 0) {
        return c;
    }
    return o->partition < p ? -1 : o->partition > p;
}

static unsigned offset_pos(const struct st_group *g, const char *topic,
                           int32_t p, bool *found)
{
    unsigned lo = 0, hi = g->n_offsets;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c = cmp_key(&g->offsets[mid], topic, p);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

struct offset *offset_find(const struct st_group *g, const char *topic,
                           int32_t partition)
{
    bool found;
    unsigned i = offset_pos(g, topic, partition, &found);
    return found ? &g->offsets[i] : NULL;
}

int offset_put(struct st_group *g, const char *topic, int32_t partition,
               int64_t off, int32_t leader_epoch, const char *metadata,
               int64_t commit_ms)
{
    char *md = st_strdup(metadata ? metadata : "");
    if (md == NULL) {
        return ST_ENOMEM;
    }
    bool found;
    unsigned i = offset_pos(g, topic, partition, &found);
    if (!found) {
        if (g->n_offsets == g->cap_offsets) {
            unsigned cap = g->cap_offsets ? g->cap_offsets * 2 : 16;
            struct offset *v = st_realloc(g->offsets, cap * sizeof *v);
            if (v == NULL) {
                st_free(md);
                return ST_ENOMEM;
            }
            g->offsets = v;
            g->cap_offsets = cap;
        }
        char *t = st_strdup(topic);
        if (t == NULL) {
            st_free(md);
            return ST_ENOMEM;
        }
        memmove(&g->offsets[i + 1], &g->offsets[i],
                (g->n_offsets - i) * sizeof *g->offsets);
        g->n_offsets++;
        memset(&g->offsets[i], 0, sizeof g->offsets[i]);
        g->offsets[i].topic = t;
        g->offsets[i].partition = partition;
    }
    struct offset *o = &g->offsets[i];
    st_free(o->metadata);
    o->metadata = md;
    o->offset = off;
    o->leader_epoch = leader_epoch;
    o->commit_ms = commit_ms;
    return 0;
}

void offset_del(struct st_group *g, const char *topic, int32_t partition)
{
    bool found;
    unsigned i = offset_pos(g, topic, partition, &found);
    if (!found) {
        return;
    }
    st_free(g->offsets[i].topic);
    st_free(g->offsets[i].metadata);
    memmove(&g->offsets[i], &g->offsets[i + 1],
            (g->n_offsets - i - 1) * sizeof *g->offsets);
    g->n_offsets--;
}

static int reserve_results(struct st_group *g, unsigned n)
{
    if (n <= g->cap_ores) {
        return 0;
    }
    struct st_group_offset_result *v = st_realloc(g->ores, n * sizeof *v);
    if (v == NULL) {
        return ST_ENOMEM;
    }
    g->ores = v;
    g->cap_ores = n;
    return 0;
}

/* The group-level verdict on who commits. */
static enum st_group_error commit_error(struct st_group *g,
                                        const struct st_group_commit *c,
                                        struct member **out)
{
    *out = NULL;
    bool simple = c->member_id == NULL || c->member_id[0] == '\0';
    if (simple) {
        return g->n_members == 0 && c->member_epoch < 0
                   ? ST_GROUP_OK
                   : ST_GROUP_UNKNOWN_MEMBER_ID;
    }
    struct member *m = group_member_find(g, c->member_id);
    if (m == NULL || m->static_left) {
        return ST_GROUP_UNKNOWN_MEMBER_ID;
    }
    if (c->member_epoch != m->epoch) {
        return ST_GROUP_STALE_MEMBER_EPOCH;
    }
    *out = m;
    return ST_GROUP_OK;
}

static bool owns(const struct st_group *g, const struct member *m,
                 const struct st_group_tp *tp)
{
    int t = group_topic_find(g, tp->topic);
    return t >= 0 &&
           pmap_get(&g->owners, st_assign_key((uint32_t)t, tp->partition)) ==
               m;
}

int group_commit(struct st_group *g, const struct st_group_commit *c,
                 struct st_group_update *out)
{
    for (unsigned i = 0; i < c->n_offsets; i++) {
        const struct st_group_offset *o = &c->offsets[i];
        if (o->tp.topic == NULL || o->tp.topic[0] == '\0' ||
            strlen(o->tp.topic) > ST_GROUP_TOPIC_MAX ||
            o->tp.partition < 0 || o->offset < 0) {
            out->error = ST_GROUP_INVALID_REQUEST;
            return 0;
        }
    }
    int rv = reserve_results(g, c->n_offsets);
    if (rv != 0) {
        return rv;
    }
    struct member *m;
    out->error = commit_error(g, c, &m);
    for (unsigned i = 0; i < c->n_offsets; i++) {
        const struct st_group_offset *o = &c->offsets[i];
        struct st_group_offset_result *r = &g->ores[i];
        memset(r, 0, sizeof *r);
        r->tp = o->tp;
        r->offset = o->offset;
        r->leader_epoch = o->leader_epoch;
        r->metadata = o->metadata ? o->metadata : "";
        r->commit_ms = (int64_t)g->now_ms;
        r->error = out->error;
        if (r->error == ST_GROUP_OK && m != NULL && !owns(g, m, &o->tp)) {
            r->error = ST_GROUP_NOT_OWNER;
        }
        if (r->error != ST_GROUP_OK) {
            continue;
        }
        rv = offset_put(g, o->tp.topic, o->tp.partition, o->offset,
                        o->leader_epoch, o->metadata, (int64_t)g->now_ms);
        if (rv == 0) {
            rv = rec_emit_offset(g, offset_find(g, o->tp.topic,
                                                o->tp.partition));
        }
        if (rv != 0) {
            return rv;
        }
    }
    out->offsets = g->ores;
    out->n_offsets = c->n_offsets;
    return 0;
}

static void fill_fetch(struct st_group_offset_result *r, const struct offset *o)
{
    if (o == NULL) {
        r->offset = -1;
        r->leader_epoch = -1;
        r->metadata = "";
        r->commit_ms = -1;
        return;
    }
    r->tp.topic = o->topic;
    r->offset = o->offset;
    r->leader_epoch = o->leader_epoch;
    r->metadata = o->metadata;
    r->commit_ms = o->commit_ms;
}

int group_fetch(struct st_group *g, const struct st_group_fetch *f,
                struct st_group_update *out)
{
    unsigned n = f->tps != NULL ? f->n_tps : g->n_offsets;
    int rv = reserve_results(g, n);
    if (rv != 0) {
        return rv;
    }
    for (unsigned i = 0; i < n; i++) {
        struct st_group_offset_result *r = &g->ores[i];
        memset(r, 0, sizeof *r);
        if (f->tps != NULL) {
            if (f->tps[i].topic == NULL) {
                out->error = ST_GROUP_INVALID_REQUEST;
                return 0;
            }
            r->tp = f->tps[i];
            fill_fetch(r, offset_find(g, f->tps[i].topic,
                                      f->tps[i].partition));
        } else {
            r->tp.partition = g->offsets[i].partition;
            fill_fetch(r, &g->offsets[i]);
        }
    }
    out->offsets = g->ores;
    out->n_offsets = n;
    return 0;
}

static uint64_t expiry_of(const struct st_group *g, const struct offset *o)
{
    uint64_t base = o->commit_ms > 0 ? (uint64_t)o->commit_ms : 0;
    if (g->empty_since_ms != UINT64_MAX && g->empty_since_ms > base) {
        base = g->empty_since_ms;
    }
    return base + g->cfg.offsets_retention_ms;
}

uint64_t group_offsets_deadline(const struct st_group *g)
{
    if (g->n_members > 0 || g->dead || !g->loading_done) {
        return UINT64_MAX;
    }
    if (g->n_offsets == 0) {
        return g->persisted && g->n_ghosts == 0 ? g->now_ms : UINT64_MAX;
    }
    uint64_t d = UINT64_MAX;
    for (unsigned i = 0; i < g->n_offsets; i++) {
        uint64_t e = expiry_of(g, &g->offsets[i]);
        if (e < d) {
            d = e;
        }
    }
    return d;
}

int group_expire_offsets(struct st_group *g)
{
    if (g->n_members > 0) {
        return 0;
    }
    unsigned i = 0;
    while (i < g->n_offsets) {
        struct offset *o = &g->offsets[i];
        if (expiry_of(g, o) > g->now_ms) {
            i++;
            continue;
        }
        int rv = rec_emit_offset_tombstone(g, o->topic, o->partition);
        if (rv != 0) {
            return rv;
        }
        offset_del(g, o->topic, o->partition);
    }
    if (g->n_offsets == 0 && g->n_ghosts == 0 && g->persisted && !g->dead) {
        int rv = rec_emit_sub_meta(g, true);
        rv = rv ? rv : rec_emit_group_meta(g, true);
        if (rv != 0) {
            return rv;
        }
        g->dead = true;
        group_trace(g, "group deleted: empty with no offsets");
    }
    return 0;
}
