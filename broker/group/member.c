/* Members: joining (dynamic and static), heartbeats with epoch fencing,
 * leaving, and the session and rebalance timers.
 *
 * Fencing (KIP-848): a heartbeat's member epoch must equal the member's;
 * an older one is accepted only when it is the member's previous epoch and
 * the client owns a subset of its current assignment (the response that
 * carried the new epoch was lost). Anything else is FENCED_MEMBER_EPOCH: the
 * client must drop its partitions and rejoin with epoch 0.
 *
 * Static membership: a member with an instance id that leaves with epoch
 * -2 stays in the group, keeping its assignment and target, until its
 * session times out; a join with the same instance id takes that member
 * over (new member id, same epoch and partitions) with no epoch bump, so
 * nobody else moves. A join with an instance id held by a live member is
 * UNRELEASED_INSTANCE_ID. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/group/group_int.h"
#include "common/alloc.h"
#include "common/err.h"

#define DEFAULT_REBALANCE_TIMEOUT_MS 300000u

struct member *member_new(const char *id)
{
    struct member *m = st_calloc(1, sizeof *m);
    if (m == NULL) {
        return NULL;
    }
    m->id = st_strdup(id);
    if (m->id == NULL) {
        st_free(m);
        return NULL;
    }
    m->state = ST_GROUP_MEMBER_STABLE;
    m->prev_epoch = -1;
    m->rebalance_timeout_ms = DEFAULT_REBALANCE_TIMEOUT_MS;
    pset_init(&m->assigned);
    pset_init(&m->revoking);
    pset_init(&m->target);
    return m;
}

static void free_topics(struct member *m)
{
    for (unsigned i = 0; i < m->n_topics; i++) {
        st_free(m->topics[i]);
    }
    st_free(m->topics);
    m->topics = NULL;
    m->n_topics = 0;
}

void member_free(struct member *m)
{
    if (m == NULL) {
        return;
    }
    st_free(m->id);
    st_free(m->instance_id);
    st_free(m->client_id);
    st_free(m->client_host);
    st_free(m->assignor);
    free_topics(m);
    st_free(m->regex);
    if (m->re_ok) {
        regfree(&m->re);
    }
    st_free(m->subs);
    pset_close(&m->assigned);
    pset_close(&m->revoking);
    pset_close(&m->target);
    st_free(m);
}

int member_set_str(char **field, const char *v, bool *changed)
{
    if (v == NULL) {
        return 0;
    }
    if (*field != NULL && strcmp(*field, v) == 0) {
        return 0;
    }
    char *c = st_strdup(v);
    if (c == NULL) {
        return ST_ENOMEM;
    }
    st_free(*field);
    *field = c;
    *changed = true;
    return 0;
}

static bool same_subscription(const struct member *m,
                              const char *const *topics, unsigned n,
                              const char *regex)
{
    if (n != m->n_topics) {
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(topics[i], m->topics[i]) != 0) {
            return false;
        }
    }
    if ((regex == NULL || regex[0] == '\0') != (m->regex == NULL)) {
        return false;
    }
    return m->regex == NULL || strcmp(m->regex, regex) == 0;
}

int member_set_subscription(struct member *m, const char *const *topics,
                            unsigned n, const char *regex, bool *changed)
{
    if (regex != NULL && regex[0] == '\0') {
        regex = NULL;
    }
    if (same_subscription(m, topics, n, regex) &&
        (regex == NULL || m->re_ok)) {
        return 0;
    }
    regex_t re;
    if (regex != NULL && regcomp(&re, regex, REG_EXTENDED | REG_NOSUB) != 0) {
        return ST_EINVAL;
    }
    char **names = st_calloc(n ? n : 1, sizeof *names);
    char *rcopy = regex ? st_strdup(regex) : NULL;
    int rv = names == NULL || (regex != NULL && rcopy == NULL) ? ST_ENOMEM : 0;
    for (unsigned i = 0; i < n && rv == 0; i++) {
        names[i] = st_strdup(topics[i]);
        rv = names[i] == NULL ? ST_ENOMEM : 0;
    }
    if (rv != 0) {
        for (unsigned i = 0; names != NULL && i < n; i++) {
            st_free(names[i]);
        }
        st_free(names);
        st_free(rcopy);
        if (regex != NULL) {
            regfree(&re);
        }
        return rv;
    }
    free_topics(m);
    st_free(m->regex);
    if (m->re_ok) {
        regfree(&m->re);
    }
    m->topics = names;
    m->n_topics = n;
    m->regex = rcopy;
    m->re_ok = regex != NULL;
    if (m->re_ok) {
        m->re = re;
    }
    *changed = true;
    return 0;
}

bool member_matches(const struct member *m, const char *topic)
{
    for (unsigned i = 0; i < m->n_topics; i++) {
        if (strcmp(m->topics[i], topic) == 0) {
            return true;
        }
    }
    if (m->re_ok && strncmp(topic, "__", 2) != 0) {
        return regexec(&m->re, topic, 0, NULL, 0) == 0;
    }
    return false;
}

/* ---- heartbeat ---- */

static bool bad_str(const char *s, size_t max)
{
    return s != NULL && strlen(s) > max;
}

static enum st_group_error validate(const struct st_group_heartbeat *hb)
{
    if (bad_str(hb->member_id, ST_GROUP_ID_MAX) ||
        bad_str(hb->instance_id, ST_GROUP_ID_MAX) ||
        bad_str(hb->client_id, ST_GROUP_ID_MAX) ||
        bad_str(hb->client_host, ST_GROUP_ID_MAX) ||
        (hb->instance_id != NULL && hb->instance_id[0] == '\0')) {
        return ST_GROUP_INVALID_REQUEST;
    }
    if (hb->has_subscription) {
        for (unsigned i = 0; i < hb->n_topics; i++) {
            if (hb->topics[i] == NULL || hb->topics[i][0] == '\0' ||
                strlen(hb->topics[i]) > ST_GROUP_TOPIC_MAX) {
                return ST_GROUP_INVALID_REQUEST;
            }
        }
    }
    for (unsigned i = 0; hb->has_owned && i < hb->n_owned; i++) {
        if (hb->owned[i].topic == NULL || hb->owned[i].partition < 0) {
            return ST_GROUP_INVALID_REQUEST;
        }
    }
    if (hb->member_epoch == ST_GROUP_EPOCH_JOIN &&
        (!hb->has_subscription ||
         (hb->n_topics == 0 && (hb->regex == NULL || hb->regex[0] == 0)))) {
        return ST_GROUP_INVALID_REQUEST; /* a join must say what it wants */
    }
    if (hb->member_epoch != ST_GROUP_EPOCH_JOIN &&
        (hb->member_id == NULL || hb->member_id[0] == '\0')) {
        return ST_GROUP_UNKNOWN_MEMBER_ID;
    }
    if (hb->assignor != NULL && st_group_assignor_find(hb->assignor) == NULL) {
        return ST_GROUP_UNSUPPORTED_ASSIGNOR;
    }
    if (hb->has_subscription && hb->regex != NULL && hb->regex[0] != '\0') {
        regex_t re;
        if (regcomp(&re, hb->regex, REG_EXTENDED | REG_NOSUB) != 0) {
            return ST_GROUP_INVALID_REQUEST;
        }
        regfree(&re);
    }
    return ST_GROUP_OK;
}

/* 22 characters from the seeded PRNG (splitmix64), like Kafka's
 * base64 UUIDs; unique within the group by construction. */
static void make_member_id(struct st_group *g, char out[23])
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    do {
        for (int i = 0; i < 22; i++) {
            if (i % 10 == 0) {
                g->rng += 0x9e3779b97f4a7c15ull ^ g->now_ms;
            }
            uint64_t z = g->rng + (uint64_t)i * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            z ^= z >> 31;
            out[i] = abc[z & 63];
        }
        out[22] = '\0';
    } while (group_member_find(g, out) != NULL);
}

static int create_member(struct st_group *g, const char *id,
                         const char *instance_id, struct member **out)
{
    *out = NULL;
    char gen[23];
    if (id == NULL || id[0] == '\0') {
        make_member_id(g, gen);
        id = gen;
    }
    struct member *m = member_new(id);
    if (m == NULL) {
        return ST_ENOMEM;
    }
    bool ch = false;
    int rv = member_set_str(&m->instance_id, instance_id, &ch);
    if (rv == 0) {
        rv = group_member_insert(g, m);
    }
    if (rv != 0) {
        member_free(m);
        return rv;
    }
    m->dirty_meta = m->dirty_current = true;
    g->bump = true;
    g->empty_since_ms = UINT64_MAX;
    group_trace(g, "member=%s joined instance=%s", m->id,
                instance_id ? instance_id : "-");
    *out = m;
    return 0;
}

/* A static member comes back under a new member id: move its state. */
static int take_over(struct st_group *g, struct member *s, const char *id)
{
    char gen[23];
    if (id == NULL || id[0] == '\0') {
        make_member_id(g, gen);
        id = gen;
    }
    char *nid = st_strdup(id);
    if (nid == NULL) {
        return ST_ENOMEM;
    }
    int rv = rec_emit_member_tombstones(g, s->id);
    if (rv != 0) {
        st_free(nid);
        return rv;
    }
    group_trace(g, "member=%s replaces=%s instance=%s", nid, s->id,
                s->instance_id);
    group_member_unlink(g, s);
    st_free(s->id);
    s->id = nid;
    rv = group_member_insert(g, s); /* cannot collide: checked by caller */
    s->static_left = false;
    s->dirty_meta = s->dirty_target = s->dirty_current = true;
    g->empty_since_ms = UINT64_MAX;
    return rv;
}

/* A member id joining again with epoch 0 starts a new tenure: its client
 * knows no epoch of the old one. Without this, the epoch it had before the
 * rejoin would become its previous epoch, and a heartbeat of the old tenure
 * still in flight (sent before the client fenced itself) would pass as "the
 * response carrying the new epoch was lost", and its stale owned list,
 * which predates everything the new tenure was given, would free
 * partitions the client holds. Epoch 0 makes the previous epoch 0, as for
 * a new member, which no heartbeat can carry. */
static void new_tenure(struct member *m)
{
    m->epoch = 0;
}

/* Find or create the member for a join (epoch 0). Sets out->hb.error and
 * leaves *out NULL when refused. */
static int join(struct st_group *g, const struct st_group_heartbeat *hb,
                struct member **out, struct st_group_update *up)
{
    const char *id = hb->member_id;
    bool has_id = id != NULL && id[0] != '\0';
    struct member *ghost = has_id ? ghost_find(g, id) : NULL;
    if (ghost != NULL) {
        /* Its client joins with epoch 0: it holds nothing any more. */
        int rv = ghost_release(g, ghost, "rejoined");
        if (rv != 0) {
            return rv;
        }
    }
    struct member *byid = has_id ? group_member_find(g, id) : NULL;
    *out = NULL;
    if (hb->instance_id != NULL) {
        struct member *s = group_member_find_instance(g, hb->instance_id);
        if (s != NULL && s == byid) {
            *out = s; /* the same member joining again */
            s->static_left = false;
            g->bump = true; /* a new tenure: see rejoin below */
            new_tenure(s);
            return 0;
        }
        if (byid != NULL) {
            up->hb.error = ST_GROUP_INVALID_REQUEST;
            return 0;
        }
        if (s != NULL && !s->static_left) {
            up->hb.error = ST_GROUP_UNRELEASED_INSTANCE_ID;
            return 0;
        }
        if (s != NULL) {
            *out = s;
            return take_over(g, s, id);
        }
    } else if (byid != NULL) {
        if (byid->instance_id != NULL) {
            up->hb.error = ST_GROUP_INVALID_REQUEST;
            return 0;
        }
        /* A rejoin (after fencing): the client dropped everything, and
         * what it gets back starts a new tenure. Bumping the epoch gives it
         * a member epoch it never had, so a commit still in flight from
         * its previous tenure is refused as stale instead of landing over
         * the new tenure's progress. The sticky assignor moves nothing. */
        *out = byid;
        g->bump = true;
        new_tenure(byid);
        return 0;
    }
    if (g->cfg.max_members != 0 && g->n_members >= g->cfg.max_members) {
        up->hb.error = ST_GROUP_MAX_SIZE_REACHED;
        return 0;
    }
    return create_member(g, id, hb->instance_id, out);
}

/* Apply the optional fields of @hb to @m. */
static int update_member(struct st_group *g, struct member *m,
                         const struct st_group_heartbeat *hb)
{
    bool meta = false, sub = false, asg = false;
    int rv = member_set_str(&m->client_id, hb->client_id, &meta);
    rv = rv ? rv : member_set_str(&m->client_host, hb->client_host, &meta);
    rv = rv ? rv : member_set_str(&m->assignor, hb->assignor, &asg);
    if (rv == 0 && hb->has_subscription) {
        rv = member_set_subscription(m, hb->topics, hb->n_topics, hb->regex,
                                     &sub);
    }
    if (rv != 0) {
        return rv;
    }
    if (hb->rebalance_timeout_ms != 0 &&
        hb->rebalance_timeout_ms != m->rebalance_timeout_ms) {
        m->rebalance_timeout_ms = hb->rebalance_timeout_ms;
        meta = true;
    }
    if (meta || sub || asg) {
        m->dirty_meta = true;
    }
    if (sub) {
        rv = group_refresh_subscriptions(g, m);
        g->bump = true;
    }
    if (asg) {
        g->bump = true;
    }
    return rv;
}

static int apply_bump(struct st_group *g)
{
    if (!g->bump) {
        return 0;
    }
    g->bump = false;
    g->group_epoch++;
    g->dirty_group_meta = true;
    group_trace(g, "group epoch bumped members=%u", g->n_members);
    return group_compute_target(g);
}

static int respond(struct st_group *g, struct member *m,
                   struct st_group_update *up)
{
    int rv = group_tps_from_pset(g, &m->assigned);
    if (rv != 0) {
        return rv;
    }
    up->hb.member_id = m->id;
    up->hb.member_epoch = m->epoch;
    up->hb.assignment = g->tps;
    up->hb.n_assignment = g->n_tps;
    return 0;
}

int group_heartbeat(struct st_group *g, const struct st_group_heartbeat *hb,
                    struct st_group_update *up)
{
    up->hb.heartbeat_interval_ms = g->cfg.heartbeat_interval_ms;
    up->hb.member_id = hb->member_id;
    up->hb.member_epoch = hb->member_epoch;
    if (hb->member_epoch < 0) {
        struct st_group_leave lv = {hb->member_id, hb->instance_id,
                                    hb->member_epoch, ST_GROUP_LEAVE_CLOSE};
        return group_leave(g, &lv, up);
    }
    up->hb.error = validate(hb);
    if (up->hb.error != ST_GROUP_OK) {
        return 0;
    }
    struct pset owned;
    pset_init(&owned);
    int rv = 0;
    if (hb->has_owned) {
        rv = group_pset_from_tps(g, hb->owned, hb->n_owned, &owned);
    }
    struct member *m = NULL;
    if (rv != 0) {
        goto done;
    }
    if (hb->member_epoch == ST_GROUP_EPOCH_JOIN) {
        rv = join(g, hb, &m, up);
        if (rv != 0 || m == NULL) {
            goto done;
        }
        /* The client owns nothing on a join: whatever it was revoking is
         * released, and what it keeps is handed back below. */
        release_revoking(g, m);
        if (m->state == ST_GROUP_MEMBER_UNREVOKED) {
            m->state = ST_GROUP_MEMBER_STABLE;
            m->dirty_current = true;
        }
        owned.n = 0;
    } else {
        m = group_member_find(g, hb->member_id);
        if (m == NULL) {
            up->hb.error = ST_GROUP_UNKNOWN_MEMBER_ID;
            goto done;
        }
        bool ok = !m->static_left;
        if (hb->instance_id != NULL &&
            (m->instance_id == NULL ||
             strcmp(m->instance_id, hb->instance_id) != 0)) {
            up->hb.error = ST_GROUP_INVALID_REQUEST;
            goto done;
        }
        if (hb->member_epoch > m->epoch) {
            ok = false;
        } else if (hb->member_epoch < m->epoch) {
            ok = ok && hb->member_epoch == m->prev_epoch && hb->has_owned &&
                 pset_subset(&owned, &m->assigned);
        }
        if (!ok) {
            group_trace(g, "member=%s fenced sent_epoch=%d member_epoch=%d",
                        m->id, hb->member_epoch, m->epoch);
            up->hb.error = ST_GROUP_FENCED_MEMBER_EPOCH;
            goto done;
        }
    }
    rv = update_member(g, m, hb);
    if (rv != 0) {
        goto done;
    }
    m->session_deadline_ms = g->now_ms + g->cfg.session_timeout_ms;
    rv = apply_bump(g);
    if (rv == 0) {
        rv = reconcile(g, m, hb->has_owned || hb->member_epoch == 0 ? &owned
                                                                    : NULL);
    }
    if (rv == 0) {
        rv = respond(g, m, up);
    }
done:
    pset_close(&owned);
    return rv;
}

/* ---- leave ---- */

int group_leave(struct st_group *g, const struct st_group_leave *lv,
                struct st_group_update *up)
{
    up->hb.heartbeat_interval_ms = g->cfg.heartbeat_interval_ms;
    up->hb.member_epoch = lv->member_epoch;
    up->hb.member_id = lv->member_id;
    if (lv->member_id == NULL ||
        (lv->member_epoch != ST_GROUP_EPOCH_LEAVE &&
         lv->member_epoch != ST_GROUP_EPOCH_STATIC_LEAVE)) {
        up->hb.error = ST_GROUP_INVALID_REQUEST;
        return 0;
    }
    struct member *m = group_member_find(g, lv->member_id);
    struct member *ghost = ghost_find(g, lv->member_id);
    if (m == NULL && ghost != NULL) {
        /* A removed member's client leaving: it dropped everything. */
        up->hb.member_epoch = ST_GROUP_EPOCH_LEAVE;
        return ghost_release(g, ghost, "left");
    }
    if (m == NULL) {
        up->hb.error = ST_GROUP_UNKNOWN_MEMBER_ID;
        return 0;
    }
    g->resp_member_id = st_strdup(m->id);
    if (g->resp_member_id == NULL) {
        return ST_ENOMEM;
    }
    up->hb.member_id = g->resp_member_id;
    if (lv->member_epoch == ST_GROUP_EPOCH_STATIC_LEAVE &&
        m->instance_id != NULL &&
        lv->reason != ST_GROUP_LEAVE_POLL_TIMEOUT) {
        /* Keep the assignment for the instance's return; the client has
         * stopped consuming, so what it was revoking is free. */
        release_revoking(g, m);
        if (m->state == ST_GROUP_MEMBER_UNREVOKED) {
            m->state = ST_GROUP_MEMBER_STABLE;
        }
        m->static_left = true;
        m->dirty_current = true;
        group_trace(g, "member=%s static leave instance=%s", m->id,
                    m->instance_id);
        return 0;
    }
    up->hb.member_epoch = ST_GROUP_EPOCH_LEAVE;
    return group_member_remove(g, m,
                               lv->reason == ST_GROUP_LEAVE_POLL_TIMEOUT
                                   ? "poll_timeout"
                                   : "leave");
}

/* ---- timers ---- */

int group_tick(struct st_group *g)
{
    int rv0 = ghost_tick(g);
    if (rv0 != 0) {
        return rv0;
    }
    unsigned i = 0;
    while (i < g->n_members) {
        struct member *m = g->members[i];
        const char *why = NULL;
        if (m->session_deadline_ms <= g->now_ms) {
            why = "session_timeout";
        } else if (m->state == ST_GROUP_MEMBER_UNREVOKED &&
                   m->rebalance_deadline_ms <= g->now_ms) {
            why = "rebalance_timeout";
        }
        if (why == NULL) {
            i++;
            continue;
        }
        /* Past its rebalance timeout the client may still heartbeat and
         * consume what it kept; only its session bounds that, so its
         * partitions stay held by a ghost until then. */
        int rv = m->session_deadline_ms <= g->now_ms
                     ? group_member_remove(g, m, why)
                     : ghost_make(g, m, why);
        if (rv != 0) {
            return rv;
        }
    }
    return group_expire_offsets(g);
}
