/* The group core's frame: lifetime, one step per event, the topic table,
 * the member list, subscriptions and the target assignment. The protocol
 * handlers live in member.c (heartbeat, leave, timers), reconcile.c,
 * offsets.c and records.c. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/group/group_int.h"
#include "common/alloc.h"
#include "common/err.h"

#define DEFAULT_SESSION_MS 45000u
#define DEFAULT_HEARTBEAT_MS 5000u
#define DEFAULT_RETENTION_MS (7ull * 24 * 3600 * 1000)

void group_trace(struct st_group *g, const char *fmt, ...)
{
    if (g->cfg.trace == NULL) {
        return;
    }
    char line[512];
    int n = snprintf(line, sizeof line, "group=%s epoch=%" PRId32 " ",
                     g->group_id, g->group_epoch);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    g->cfg.trace(g->cfg.trace_arg, line);
}

int st_group_new(const struct st_group_config *cfg, struct st_group **out)
{
    if (cfg->group_id == NULL || cfg->group_id[0] == '\0' ||
        strlen(cfg->group_id) > ST_GROUP_ID_MAX) {
        return ST_EINVAL;
    }
    const struct st_group_assignor *a = st_group_assignor_find(
        cfg->default_assignor ? cfg->default_assignor : "uniform");
    if (a == NULL) {
        return ST_EINVAL;
    }
    struct st_group *g = st_calloc(1, sizeof *g);
    if (g == NULL) {
        return ST_ENOMEM;
    }
    g->cfg = *cfg;
    g->group_id = st_strdup(cfg->group_id);
    if (g->group_id == NULL) {
        st_free(g);
        return ST_ENOMEM;
    }
    g->cfg.group_id = g->group_id;
    g->cfg.default_assignor = NULL;
    if (g->cfg.session_timeout_ms == 0) {
        g->cfg.session_timeout_ms = DEFAULT_SESSION_MS;
    }
    if (g->cfg.heartbeat_interval_ms == 0) {
        g->cfg.heartbeat_interval_ms = DEFAULT_HEARTBEAT_MS;
    }
    if (g->cfg.offsets_retention_ms == 0) {
        g->cfg.offsets_retention_ms = DEFAULT_RETENTION_MS;
    }
    g->default_assignor = a;
    g->assignor = a;
    g->rng = cfg->seed ^ 0x5deece66dull;
    g->empty_since_ms = UINT64_MAX;
    st_buf_init(&g->arena);
    *out = g;
    return 0;
}

void st_group_free(struct st_group *g)
{
    if (g == NULL) {
        return;
    }
    for (unsigned i = 0; i < g->n_members; i++) {
        member_free(g->members[i]);
    }
    st_free(g->members);
    for (unsigned i = 0; i < g->n_ghosts; i++) {
        member_free(g->ghosts[i]);
    }
    st_free(g->ghosts);
    for (unsigned i = 0; i < g->n_topics; i++) {
        st_free(g->topics[i].name);
    }
    st_free(g->topics);
    st_free(g->sub_meta);
    for (unsigned i = 0; i < g->n_offsets; i++) {
        st_free(g->offsets[i].topic);
        st_free(g->offsets[i].metadata);
    }
    st_free(g->offsets);
    pmap_close(&g->owners);
    st_buf_close(&g->arena);
    st_free(g->slots);
    st_free(g->recs);
    st_free(g->tps);
    st_free(g->ores);
    st_free(g->resp_member_id);
    st_free(g->group_id);
    st_free(g);
}

/* ---- topics ---- */

int group_topic_find(const struct st_group *g, const char *name)
{
    for (unsigned i = g->n_topics; i-- > 0;) {
        if (g->topics[i].live && strcmp(g->topics[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int topic_add(struct st_group *g, const char *name, uint32_t *out)
{
    if (g->n_topics == g->cap_topics) {
        unsigned cap = g->cap_topics ? g->cap_topics * 2 : 16;
        struct topic *t = st_realloc(g->topics, cap * sizeof *t);
        if (t == NULL) {
            return ST_ENOMEM;
        }
        g->topics = t;
        g->cap_topics = cap;
    }
    struct topic *t = &g->topics[g->n_topics];
    memset(t, 0, sizeof *t);
    t->name = st_strdup(name);
    if (t->name == NULL) {
        return ST_ENOMEM;
    }
    t->live = true;
    t->partitions = -1; /* unknown until metadata says */
    *out = g->n_topics++;
    return 0;
}

int group_topic_intern(struct st_group *g, const char *name, uint32_t *out)
{
    int i = group_topic_find(g, name);
    if (i >= 0) {
        *out = (uint32_t)i;
        return 0;
    }
    return topic_add(g, name, out);
}

/* ---- members ---- */

static unsigned member_pos(const struct st_group *g, const char *id,
                           bool *found)
{
    unsigned lo = 0, hi = g->n_members;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c = strcmp(g->members[mid]->id, id);
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

struct member *group_member_find(const struct st_group *g, const char *id)
{
    bool found;
    unsigned i = member_pos(g, id, &found);
    return found ? g->members[i] : NULL;
}

struct member *group_member_find_instance(const struct st_group *g,
                                          const char *instance_id)
{
    for (unsigned i = 0; i < g->n_members; i++) {
        const char *iid = g->members[i]->instance_id;
        if (iid != NULL && strcmp(iid, instance_id) == 0) {
            return g->members[i];
        }
    }
    return NULL;
}

int group_member_insert(struct st_group *g, struct member *m)
{
    bool found;
    unsigned i = member_pos(g, m->id, &found);
    if (found) {
        return ST_EEXIST;
    }
    if (g->n_members == g->cap_members) {
        unsigned cap = g->cap_members ? g->cap_members * 2 : 8;
        struct member **v = st_realloc(g->members, cap * sizeof *v);
        if (v == NULL) {
            return ST_ENOMEM;
        }
        g->members = v;
        g->cap_members = cap;
    }
    memmove(&g->members[i + 1], &g->members[i],
            (g->n_members - i) * sizeof *g->members);
    g->members[i] = m;
    g->n_members++;
    return 0;
}

void group_member_unlink(struct st_group *g, struct member *m)
{
    bool found;
    unsigned i = member_pos(g, m->id, &found);
    if (!found) {
        return;
    }
    memmove(&g->members[i], &g->members[i + 1],
            (g->n_members - i - 1) * sizeof *g->members);
    g->n_members--;
    if (g->n_members == 0) {
        g->empty_since_ms = g->now_ms;
    }
}

int group_member_remove(struct st_group *g, struct member *m,
                        const char *why)
{
    group_trace(g, "member=%s removed reason=%s assigned=%u revoking=%u",
                m->id, why, m->assigned.n, m->revoking.n);
    for (unsigned i = 0; i < m->assigned.n; i++) {
        pmap_del(&g->owners, m->assigned.v[i]);
    }
    for (unsigned i = 0; i < m->revoking.n; i++) {
        pmap_del(&g->owners, m->revoking.v[i]);
    }
    int rv = rec_emit_member_tombstones(g, m->id);
    group_member_unlink(g, m);
    member_free(m);
    g->bump = true;
    return rv;
}

/* ---- subscriptions ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Resolve @m's names and regex against the live topics. Sets *changed
 * when the resolved set differs. Internal topics ("__" prefix) match a
 * regex only when named. */
static int resolve_member(struct st_group *g, struct member *m,
                          bool *changed)
{
    uint32_t *subs = st_malloc((g->n_topics ? g->n_topics : 1) *
                               sizeof *subs);
    if (subs == NULL) {
        return ST_ENOMEM;
    }
    unsigned n = 0;
    for (unsigned t = 0; t < g->n_topics; t++) {
        const struct topic *tp = &g->topics[t];
        if (tp->live && member_matches(m, tp->name)) {
            subs[n++] = t;
        }
    }
    qsort(subs, n, sizeof *subs, cmp_u32);
    if (n != m->n_subs ||
        (n > 0 && memcmp(subs, m->subs, n * sizeof *subs) != 0)) {
        *changed = true;
    }
    st_free(m->subs);
    m->subs = subs;
    m->n_subs = n;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Recompute the subscribed-topic metadata; a change bumps the epoch. */
static int refresh_sub_meta(struct st_group *g, bool *changed)
{
    uint64_t *v = st_malloc((g->n_topics ? g->n_topics : 1) * sizeof *v);
    bool *seen = st_calloc(g->n_topics ? g->n_topics : 1, sizeof *seen);
    if (v == NULL || seen == NULL) {
        st_free(v);
        st_free(seen);
        return ST_ENOMEM;
    }
    unsigned n = 0;
    for (unsigned i = 0; i < g->n_members; i++) {
        const struct member *m = g->members[i];
        for (unsigned j = 0; j < m->n_subs; j++) {
            uint32_t t = m->subs[j];
            if (!seen[t]) {
                seen[t] = true;
                v[n++] = st_assign_key(t, g->topics[t].partitions);
            }
        }
    }
    qsort(v, n, sizeof *v, cmp_u64);
    st_free(seen);
    if (n != g->n_sub_meta ||
        (n > 0 && memcmp(v, g->sub_meta, n * sizeof *v) != 0)) {
        *changed = true;
    }
    st_free(g->sub_meta);
    g->sub_meta = v;
    g->n_sub_meta = n;
    return 0;
}

int group_refresh_subscriptions(struct st_group *g, struct member *only)
{
    bool changed = false;
    for (unsigned i = 0; i < g->n_members; i++) {
        if (only == NULL || only == g->members[i]) {
            int rv = resolve_member(g, g->members[i], &changed);
            if (rv != 0) {
                return rv;
            }
        }
    }
    bool meta_changed = false;
    int rv = refresh_sub_meta(g, &meta_changed);
    if (rv != 0) {
        return rv;
    }
    if (meta_changed) {
        g->dirty_sub_meta = true;
    }
    if (changed || meta_changed) {
        g->bump = true;
    }
    return 0;
}

/* ---- the target assignment ---- */

/* The assignor most members name (ties: the first by name), else the
 * group's default. */
static const struct st_group_assignor *pick_assignor(const struct st_group *g)
{
    const struct st_group_assignor *best = NULL;
    unsigned best_n = 0;
    for (unsigned i = 0; i < g->n_members; i++) {
        const char *name = g->members[i]->assignor;
        const struct st_group_assignor *a = st_group_assignor_find(name);
        if (a == NULL) {
            continue;
        }
        unsigned n = 0;
        for (unsigned j = 0; j < g->n_members; j++) {
            const char *o = g->members[j]->assignor;
            n += o != NULL && strcmp(o, a->name) == 0;
        }
        if (n > best_n || (n == best_n && strcmp(a->name, best->name) < 0)) {
            best = a;
            best_n = n;
        }
    }
    return best != NULL ? best : g->default_assignor;
}

int group_compute_target(struct st_group *g)
{
    unsigned nm = g->n_members;
    struct st_assign_topic *topics = st_calloc(g->n_topics ? g->n_topics : 1,
                                               sizeof *topics);
    struct st_assign_member *ms = st_calloc(nm ? nm : 1, sizeof *ms);
    struct st_assign_output out;
    memset(&out, 0, sizeof out);
    int rv = ST_ENOMEM;
    if (topics == NULL || ms == NULL) {
        goto done;
    }
    for (unsigned t = 0; t < g->n_topics; t++) {
        topics[t].name = g->topics[t].name;
        topics[t].partitions = g->topics[t].live && g->topics[t].partitions > 0
                                   ? g->topics[t].partitions
                                   : 0;
    }
    for (unsigned i = 0; i < nm; i++) {
        const struct member *m = g->members[i];
        ms[i].member_id = m->id;
        ms[i].instance_id = m->instance_id;
        ms[i].topics = m->subs;
        ms[i].n_topics = m->n_subs;
        ms[i].current = m->target.v;
        ms[i].n_current = m->target.n;
    }
    struct st_assign_input in = {topics, g->n_topics, ms, nm};
    g->assignor = pick_assignor(g);
    rv = st_group_assign(g->assignor, &in, &out);
    if (rv != 0) {
        goto done;
    }
    unsigned changed = 0;
    for (unsigned i = 0; i < nm; i++) {
        struct member *m = g->members[i];
        struct pset next = {out.parts[i], out.n_parts[i], out.n_parts[i]};
        if (!pset_equal(&next, &m->target)) {
            rv = pset_copy(&m->target, &next);
            if (rv != 0) {
                goto done;
            }
            m->dirty_target = true;
            changed++;
        }
    }
    g->target_epoch = g->group_epoch;
    g->dirty_group_meta = true;
    group_trace(g, "target computed assignor=%s members=%u changed=%u",
                g->assignor->name, nm, changed);
    rv = 0;
done:
    st_assign_output_free(&out);
    st_free(topics);
    st_free(ms);
    return rv;
}

/* ---- output helpers ---- */

int group_tps_from_pset(struct st_group *g, const struct pset *s)
{
    if (s->n > g->cap_tps) {
        struct st_group_tp *v = st_realloc(g->tps, s->n * sizeof *v);
        if (v == NULL) {
            return ST_ENOMEM;
        }
        g->tps = v;
        g->cap_tps = s->n;
    }
    for (unsigned i = 0; i < s->n; i++) {
        g->tps[i].topic = g->topics[st_assign_key_topic(s->v[i])].name;
        g->tps[i].partition = st_assign_key_partition(s->v[i]);
    }
    g->n_tps = s->n;
    return 0;
}

/* Partitions of unknown topics are dropped: they cannot be owned here. */
int group_pset_from_tps(struct st_group *g, const struct st_group_tp *tps,
                        unsigned n, struct pset *out)
{
    out->n = 0;
    for (unsigned i = 0; i < n; i++) {
        if (tps[i].topic == NULL) {
            return ST_EINVAL;
        }
        int t = group_topic_find(g, tps[i].topic);
        if (t < 0) {
            continue;
        }
        int rv = pset_add(out, st_assign_key((uint32_t)t, tps[i].partition));
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

/* ---- metadata ---- */

/* Drop partitions that no longer exist from every member. */
static int prune_partitions(struct st_group *g)
{
    for (unsigned i = 0; i < g->n_members + g->n_ghosts; i++) {
        struct member *m = i < g->n_members ? g->members[i]
                                            : g->ghosts[i - g->n_members];
        struct pset *sets[3] = {&m->assigned, &m->revoking, &m->target};
        for (int s = 0; s < 3; s++) {
            struct pset *ps = sets[s];
            unsigned w = 0;
            for (unsigned j = 0; j < ps->n; j++) {
                const struct topic *t =
                    &g->topics[st_assign_key_topic(ps->v[j])];
                int32_t p = st_assign_key_partition(ps->v[j]);
                if (t->live && (t->partitions < 0 || p < t->partitions)) {
                    ps->v[w++] = ps->v[j];
                } else {
                    if (s < 2) {
                        pmap_del(&g->owners, ps->v[j]);
                        m->dirty_current = true;
                    } else {
                        m->dirty_target = true;
                    }
                }
            }
            ps->n = w;
        }
    }
    return 0;
}

static int apply_metadata(struct st_group *g,
                          const struct st_group_topic_meta *tm, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (tm[i].name == NULL || tm[i].name[0] == '\0' ||
            strlen(tm[i].name) > ST_GROUP_TOPIC_MAX || tm[i].partitions < 0) {
            return ST_EINVAL;
        }
    }
    bool *keep = st_calloc(g->n_topics + n + 1, sizeof *keep);
    if (keep == NULL) {
        return ST_ENOMEM;
    }
    int rv = 0;
    for (unsigned i = 0; i < n && rv == 0; i++) {
        int t = group_topic_find(g, tm[i].name);
        if (t >= 0 && g->topics[t].partitions >= 0 &&
            memcmp(g->topics[t].id, tm[i].id, 16) != 0) {
            /* Same name, new id: the topic was deleted and recreated. */
            g->topics[t].live = false;
            t = -1;
        }
        if (t < 0) {
            uint32_t nt;
            rv = topic_add(g, tm[i].name, &nt);
            t = (int)nt;
        }
        if (rv == 0) {
            memcpy(g->topics[t].id, tm[i].id, 16);
            g->topics[t].partitions = tm[i].partitions;
            keep[t] = true;
        }
    }
    for (unsigned t = 0; t < g->n_topics && rv == 0; t++) {
        if (!keep[t] && g->topics[t].live) {
            g->topics[t].live = false;
        }
    }
    st_free(keep);
    if (rv == 0) {
        rv = prune_partitions(g);
    }
    if (rv == 0) {
        rv = group_refresh_subscriptions(g, NULL);
    }
    return rv;
}

/* ---- deletion ---- */

/* Admin delete: refused while members (or ghosts of removed members that
 * may still be consuming) exist; else every record gets a tombstone. */
static int delete_group(struct st_group *g, struct st_group_update *out)
{
    if (g->n_members > 0 || g->n_ghosts > 0) {
        out->error = ST_GROUP_NOT_EMPTY;
        return 0;
    }
    if (!g->persisted && g->n_offsets == 0) {
        out->error = ST_GROUP_ID_NOT_FOUND;
        return 0;
    }
    while (g->n_offsets > 0) {
        struct offset *o = &g->offsets[g->n_offsets - 1];
        int rv = rec_emit_offset_tombstone(g, o->topic, o->partition);
        if (rv != 0) {
            return rv;
        }
        offset_del(g, o->topic, o->partition);
    }
    int rv = rec_emit_sub_meta(g, true);
    rv = rv ? rv : rec_emit_group_meta(g, true);
    g->dead = true;
    return rv;
}

/* ---- the step ---- */

static void reset_output(struct st_group *g, struct st_group_update *out)
{
    memset(out, 0, sizeof *out);
    st_buf_reset(&g->arena);
    g->n_slots = 0;
    g->n_tps = 0;
    g->n_ores = 0;
    st_free(g->resp_member_id);
    g->resp_member_id = NULL;
}

static uint64_t next_deadline(const struct st_group *g)
{
    uint64_t d = UINT64_MAX;
    for (unsigned i = 0; i < g->n_members; i++) {
        const struct member *m = g->members[i];
        if (m->session_deadline_ms < d) {
            d = m->session_deadline_ms;
        }
        if (m->state == ST_GROUP_MEMBER_UNREVOKED &&
            m->rebalance_deadline_ms < d) {
            d = m->rebalance_deadline_ms;
        }
    }
    for (unsigned i = 0; i < g->n_ghosts; i++) {
        if (g->ghosts[i]->session_deadline_ms < d) {
            d = g->ghosts[i]->session_deadline_ms;
        }
    }
    uint64_t o = group_offsets_deadline(g);
    if (o < d) {
        d = o;
    }
    return d == UINT64_MAX ? 0 : (d == 0 ? 1 : d);
}

/* Bump and reassign if needed, then queue the records of what changed. */
static int finish_step(struct st_group *g, struct st_group_update *out)
{
    int rv = 0;
    if (g->bump && g->loading_done) {
        g->group_epoch++;
        g->bump = false;
        g->dirty_group_meta = true;
        group_trace(g, "group epoch bumped members=%u", g->n_members);
        rv = group_compute_target(g);
    }
    if (rv == 0 && g->dirty_group_meta) {
        rv = rec_emit_group_meta(g, false);
        g->dirty_group_meta = false;
    }
    if (rv == 0 && g->dirty_sub_meta) {
        rv = rec_emit_sub_meta(g, false);
        g->dirty_sub_meta = false;
    }
    for (unsigned i = 0; i < g->n_members && rv == 0; i++) {
        struct member *m = g->members[i];
        if (m->dirty_meta) {
            rv = rec_emit_member(g, m);
            m->dirty_meta = false;
        }
        if (rv == 0 && m->dirty_target) {
            rv = rec_emit_target(g, m);
            m->dirty_target = false;
        }
        if (rv == 0 && m->dirty_current) {
            rv = rec_emit_current(g, m);
            m->dirty_current = false;
        }
    }
    for (unsigned i = 0; i < g->n_ghosts && rv == 0; i++) {
        if (g->ghosts[i]->dirty_current) {
            rv = rec_emit_current(g, g->ghosts[i]);
            g->ghosts[i]->dirty_current = false;
        }
    }
    if (rv != 0) {
        return rv;
    }
    /* Views into the arena are made only now: it may have moved. */
    if (g->n_slots > g->cap_recs) {
        struct st_group_record *r = st_realloc(g->recs,
                                               g->n_slots * sizeof *r);
        if (r == NULL) {
            return ST_ENOMEM;
        }
        g->recs = r;
        g->cap_recs = g->n_slots;
    }
    for (unsigned i = 0; i < g->n_slots; i++) {
        const struct rec_slot *s = &g->slots[i];
        g->recs[i].key = (struct st_bytes){g->arena.base + s->key_off,
                                           s->key_len};
        g->recs[i].value = s->tombstone
                               ? (struct st_bytes){NULL, 0}
                               : (struct st_bytes){g->arena.base + s->val_off,
                                                   s->val_len};
        g->recs[i].tombstone = s->tombstone;
    }
    out->records = g->recs;
    out->n_records = g->n_slots;
    if (g->n_slots > 0) {
        g->persisted = true;
    }
    out->next_deadline_ms = next_deadline(g);
    out->deleted = g->dead;
    return 0;
}

int st_group_step(struct st_group *g, const struct st_group_event *ev,
                  struct st_group_update *out)
{
    reset_output(g, out);
    if (g->dead) {
        return ST_EINVAL;
    }
    if (ev->now_ms > g->now_ms) {
        g->now_ms = ev->now_ms;
    }
    if (g->loading_done && (ev->type == ST_GROUP_EV_LOAD ||
                            ev->type == ST_GROUP_EV_LOAD_DONE)) {
        return ST_EINVAL; /* a replay after live traffic */
    }
    if (!g->loading_done && ev->type != ST_GROUP_EV_LOAD &&
        ev->type != ST_GROUP_EV_LOAD_DONE) {
        /* A fresh group with nothing to replay. */
        int rv = group_load_done(g);
        if (rv != 0) {
            return rv;
        }
    }
    if (g->empty_since_ms == UINT64_MAX && g->n_members == 0 &&
        g->loading_done) {
        g->empty_since_ms = g->now_ms;
    }
    int rv;
    switch (ev->type) {
    case ST_GROUP_EV_HEARTBEAT:
        rv = group_heartbeat(g, &ev->heartbeat, out);
        break;
    case ST_GROUP_EV_LEAVE:
        rv = group_leave(g, &ev->leave, out);
        break;
    case ST_GROUP_EV_METADATA:
        rv = apply_metadata(g, ev->metadata.topics, ev->metadata.n_topics);
        break;
    case ST_GROUP_EV_TICK:
        rv = group_tick(g);
        break;
    case ST_GROUP_EV_OFFSET_COMMIT:
        rv = group_commit(g, &ev->commit, out);
        break;
    case ST_GROUP_EV_OFFSET_FETCH:
        rv = group_fetch(g, &ev->fetch, out);
        break;
    case ST_GROUP_EV_DELETE:
        rv = delete_group(g, out);
        break;
    case ST_GROUP_EV_LOAD:
        rv = rec_load(g, ev->load.key, ev->load.value, ev->load.tombstone);
        return rv;
    case ST_GROUP_EV_LOAD_DONE:
        rv = group_load_done(g);
        if (rv == 0) {
            out->next_deadline_ms = next_deadline(g);
        }
        return rv;
    default:
        return ST_EINVAL;
    }
    if (rv != 0) {
        return rv;
    }
    return finish_step(g, out);
}

/* ---- read-only views ---- */

enum st_group_state st_group_state(const struct st_group *g)
{
    if (g->dead) {
        return ST_GROUP_DEAD;
    }
    if (g->n_members == 0) {
        return ST_GROUP_EMPTY;
    }
    for (unsigned i = 0; i < g->n_members; i++) {
        const struct member *m = g->members[i];
        if (m->epoch != g->target_epoch ||
            m->state != ST_GROUP_MEMBER_STABLE) {
            return ST_GROUP_RECONCILING;
        }
    }
    return ST_GROUP_STABLE;
}

int32_t st_group_epoch(const struct st_group *g)
{
    return g->group_epoch;
}

int32_t st_group_target_epoch(const struct st_group *g)
{
    return g->target_epoch;
}

unsigned st_group_member_count(const struct st_group *g)
{
    return g->n_members;
}

bool st_group_has_offsets(const struct st_group *g)
{
    return g->n_offsets > 0;
}

enum st_group_error st_group_can_reset_offsets(const struct st_group *g)
{
    return g->n_members == 0 && g->n_ghosts == 0 ? ST_GROUP_OK
                                                 : ST_GROUP_NOT_EMPTY;
}

const char *st_group_state_name(enum st_group_state s)
{
    switch (s) {
    case ST_GROUP_EMPTY: return "Empty";
    case ST_GROUP_RECONCILING: return "Reconciling";
    case ST_GROUP_STABLE: return "Stable";
    case ST_GROUP_DEAD: return "Dead";
    }
    return "?";
}

const char *st_group_member_state_name(enum st_group_member_state s)
{
    switch (s) {
    case ST_GROUP_MEMBER_STABLE: return "stable";
    case ST_GROUP_MEMBER_UNREVOKED: return "unrevoked_partitions";
    case ST_GROUP_MEMBER_UNRELEASED: return "unreleased_partitions";
    }
    return "?";
}

const char *st_group_error_name(enum st_group_error e)
{
    switch (e) {
    case ST_GROUP_OK: return "NONE";
    case ST_GROUP_UNKNOWN_MEMBER_ID: return "UNKNOWN_MEMBER_ID";
    case ST_GROUP_FENCED_MEMBER_EPOCH: return "FENCED_MEMBER_EPOCH";
    case ST_GROUP_STALE_MEMBER_EPOCH: return "STALE_MEMBER_EPOCH";
    case ST_GROUP_NOT_OWNER: return "NOT_OWNER";
    case ST_GROUP_UNRELEASED_INSTANCE_ID: return "UNRELEASED_INSTANCE_ID";
    case ST_GROUP_UNSUPPORTED_ASSIGNOR: return "UNSUPPORTED_ASSIGNOR";
    case ST_GROUP_INVALID_REQUEST: return "INVALID_REQUEST";
    case ST_GROUP_MAX_SIZE_REACHED: return "GROUP_MAX_SIZE_REACHED";
    case ST_GROUP_NOT_EMPTY: return "NON_EMPTY_GROUP";
    case ST_GROUP_ID_NOT_FOUND: return "GROUP_ID_NOT_FOUND";
    }
    return "?";
}

bool st_group_check(const struct st_group *g, char *why, size_t cap)
{
    unsigned owned = 0;
    for (unsigned i = 0; i < g->n_members + g->n_ghosts; i++) {
        const struct member *m = i < g->n_members
                                     ? g->members[i]
                                     : g->ghosts[i - g->n_members];
        const struct pset *sets[2] = {&m->assigned, &m->revoking};
        for (int s = 0; s < 2; s++) {
            for (unsigned j = 0; j < sets[s]->n; j++) {
                uint64_t k = sets[s]->v[j];
                if (pmap_get(&g->owners, k) != m) {
                    snprintf(why, cap, "member %s holds %s-%d but the "
                             "index says %s", m->id,
                             g->topics[st_assign_key_topic(k)].name,
                             st_assign_key_partition(k),
                             pmap_get(&g->owners, k)
                                 ? pmap_get(&g->owners, k)->id : "nobody");
                    return false;
                }
                owned++;
            }
        }
        if (pset_intersects(&m->assigned, &m->revoking)) {
            snprintf(why, cap, "member %s assigned and revoking overlap",
                     m->id);
            return false;
        }
        if (m->epoch > g->target_epoch) {
            snprintf(why, cap, "member %s epoch %d > target epoch %d",
                     m->id, m->epoch, g->target_epoch);
            return false;
        }
    }
    if (owned != g->owners.n) {
        snprintf(why, cap, "index holds %u partitions, members %u",
                 g->owners.n, owned);
        return false;
    }
    if (g->target_epoch > g->group_epoch) {
        snprintf(why, cap, "target epoch %d > group epoch %d",
                 g->target_epoch, g->group_epoch);
        return false;
    }
    return true;
}
