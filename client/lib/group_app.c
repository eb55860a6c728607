/* Consumer groups on application threads (see group.h): subscribe,
 * rebalances served from strata_consumer_poll(), commits, committed
 * offsets, auto-commit, close; and coordinator-routed calls for the CLI.
 *
 * Rebalance callbacks are incremental (KIP-848, cooperative): REVOKE lists
 * only the partitions that move away, ASSIGN only the new ones, LOST every
 * partition when membership was lost. strata_assign() called from the
 * callback is accepted and does nothing (the library applies the change);
 * outside a callback it is refused while subscribed (__STATE).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/lib/errors.h"
#include "client/lib/group.h"
#include "client/lib/handle.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "group.pb-c.h"

#define COMMIT_TIMEOUT_MS 10000
#define RETRY_MS 200

/* consumer.c: add / drop one fetched partition. Requires: @lock. */
int cl_consumer_add_tp(strata_t *rk, const char *topic, int32_t partition,
                       int64_t offset);
void cl_consumer_remove_tp(strata_t *rk, const char *topic,
                           int32_t partition);

bool cl_group_subscribed(strata_t *rk)
{
    if (rk->grp == NULL) {
        return false;
    }
    pthread_mutex_lock(&rk->lock);
    bool s = rk->grp->subscribed;
    pthread_mutex_unlock(&rk->lock);
    return s;
}

bool cl_group_poll_wait(strata_t *rk)
{
    struct cl_group *g = rk->grp;
    if (g == NULL) {
        return false;
    }
    uint64_t now = cl_now_ms();
    g->last_poll_ms = now;
    if (g->results != NULL) {
        return true;
    }
    if (!g->subscribed || g->leaving) {
        return false;
    }
    if (g->lost || g->poll_expired || (g->epoch > 0 && g->to_assign.n > 0)) {
        return true;
    }
    if (g->epoch > 0 && rk->cc.auto_commit &&
        now >= g->next_auto_commit_ms) {
        return true;
    }
    for (size_t i = 0; g->epoch > 0 && i < g->owned.n; i++) {
        if (!cl_tpset_has(&g->target, g->owned.v[i].topic,
                          g->owned.v[i].partition)) {
            return true; /* to revoke */
        }
    }
    return false;
}

bool cl_group_in_callback(strata_t *rk)
{
    return rk->grp != NULL && rk->grp->in_cb;
}

/* ---- subscribe ---- */

static void sub_free(struct cl_group *g)
{
    for (size_t i = 0; i < g->n_topics; i++) {
        st_free(g->topics[i]);
    }
    st_free(g->topics);
    st_free(g->regex);
    g->topics = NULL;
    g->n_topics = 0;
    g->regex = NULL;
}

strata_resp_err_t strata_subscribe(strata_t *rk,
                                   const strata_topic_partition_list_t *t)
{
    if (rk->type != STRATA_CONSUMER) {
        return STRATA_ERR__STATE;
    }
    if (rk->grp == NULL) {
        return STRATA_ERR__INVALID_ARG; /* group.id is not set */
    }
    if (t == NULL || t->cnt == 0) {
        return strata_unsubscribe(rk);
    }
    char **topics = st_calloc((size_t)t->cnt + 1, sizeof *topics);
    size_t n = 0, re_len = 0;
    for (int i = 0; i < t->cnt; i++) {
        if (t->elems[i].topic == NULL || t->elems[i].topic[0] == '\0') {
            st_free(topics);
            return STRATA_ERR__INVALID_ARG;
        }
        if (t->elems[i].topic[0] == '^') {
            re_len += strlen(t->elems[i].topic) + 3;
        }
    }
    char *regex = re_len > 0 ? st_calloc(1, re_len + 1) : NULL;
    if (topics == NULL || (re_len > 0 && regex == NULL)) {
        st_free(topics);
        st_free(regex);
        return STRATA_ERR__NOMEM;
    }
    for (int i = 0; i < t->cnt; i++) {
        const char *name = t->elems[i].topic;
        if (name[0] == '^') {
            /* librdkafka's rule: a name starting with ^ is a regex; several
             * are alternatives. */
            size_t at = strlen(regex);
            snprintf(regex + at, re_len + 1 - at, "%s(%s)", at ? "|" : "",
                     name);
        } else if ((topics[n] = st_strdup(name)) != NULL) {
            n++;
        }
    }
    pthread_mutex_lock(&rk->lock);
    struct cl_group *g = rk->grp;
    sub_free(g);
    g->topics = topics;
    g->n_topics = n;
    g->regex = regex;
    g->subscribed = true;
    g->sub_dirty = true;
    g->leaving = g->left = false;
    g->last_poll_ms = cl_now_ms();
    g->next_auto_commit_ms = cl_now_ms() + rk->cc.auto_commit_interval_ms;
    if (!rk->md_ready) {
        cl_md_want(rk);
    }
    pthread_mutex_unlock(&rk->lock);
    cl_wake(rk);
    return STRATA_ERR_NO_ERROR;
}

/* ---- commits ---- */

/* The positions of @set (NULL: every owned partition; without a
 * subscription every assigned one, for a standalone consumer's simple
 * commit) poll has returned; NULL when out of memory. */
static strata_topic_partition_list_t *positions(strata_t *rk,
                                                const struct cl_tpset *set)
{
    struct cl_group *g = rk->grp;
    const struct cl_tpset *s = set != NULL ? set : &g->owned;
    strata_topic_partition_list_t *l =
        strata_topic_partition_list_new((int)s->n + 1);
    if (l == NULL) {
        return NULL;
    }
    for (struct cl_ctp *c = rk->ctps; c != NULL; c = c->next) {
        bool all = set == NULL && !g->subscribed;
        if (c->app_pos >= 0 &&
            (all || cl_tpset_has(s, c->topic, c->partition))) {
            strata_topic_partition_t *e =
                strata_topic_partition_list_add(l, c->topic, c->partition);
            if (e != NULL) {
                e->offset = c->app_pos;
            }
        }
    }
    return l;
}

/* Queue @l (taken) for the loop. Requires: @lock. */
static struct cl_commit_job *commit_queue(strata_t *rk,
                                          strata_topic_partition_list_t *l,
                                          bool async, uint64_t deadline)
{
    struct cl_commit_job *j = st_calloc(1, sizeof *j);
    if (j == NULL) {
        strata_topic_partition_list_destroy(l);
        return NULL;
    }
    j->rk = rk;
    j->offsets = l;
    j->async = async;
    j->refs = async ? 1 : 2;
    j->deadline_ms = deadline;
    struct cl_commit_job **at = &rk->grp->jobs;
    while (*at != NULL) {
        at = &(*at)->next;
    }
    *at = j;
    return j;
}

/* Wait for a sync job. Requires: @lock; returns with it. */
static strata_resp_err_t commit_wait(strata_t *rk, struct cl_commit_job *j)
{
    while (!j->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rk->cond, &rk->lock, &ts);
    }
    strata_resp_err_t err = j->err;
    if (--j->refs == 0) {
        strata_topic_partition_list_destroy(j->offsets);
        st_free(j);
    }
    return err;
}

static strata_resp_err_t commit_now(strata_t *rk,
                                    strata_topic_partition_list_t *l,
                                    bool async, uint64_t deadline)
{
    if (l == NULL) {
        return STRATA_ERR__NOMEM;
    }
    if (l->cnt == 0) {
        strata_topic_partition_list_destroy(l);
        return STRATA_ERR__NO_OFFSET;
    }
    struct cl_commit_job *j = commit_queue(rk, l, async, deadline);
    if (j == NULL) {
        return STRATA_ERR__NOMEM;
    }
    cl_wake(rk);
    return async ? STRATA_ERR_NO_ERROR : commit_wait(rk, j);
}

strata_resp_err_t strata_commit(strata_t *rk,
                                const strata_topic_partition_list_t *offsets,
                                int async)
{
    if (rk->type != STRATA_CONSUMER || rk->grp == NULL) {
        return STRATA_ERR__STATE;
    }
    strata_topic_partition_list_t *l = NULL;
    pthread_mutex_lock(&rk->lock);
    if (offsets == NULL) {
        l = positions(rk, NULL);
    } else if ((l = strata_topic_partition_list_new(offsets->cnt + 1)) !=
               NULL) {
        for (int i = 0; i < offsets->cnt; i++) {
            const strata_topic_partition_t *e = &offsets->elems[i];
            strata_topic_partition_t *x =
                strata_topic_partition_list_add(l, e->topic, e->partition);
            if (x != NULL) {
                x->offset = e->offset;
            }
        }
    }
    strata_resp_err_t err = commit_now(rk, l, async != 0,
                                       cl_now_ms() + COMMIT_TIMEOUT_MS);
    pthread_mutex_unlock(&rk->lock);
    return err;
}

/* ---- serving rebalances ---- */

static strata_topic_partition_list_t *tplist_of(const struct cl_tpset *s)
{
    strata_topic_partition_list_t *l =
        strata_topic_partition_list_new((int)s->n + 1);
    for (size_t i = 0; l != NULL && i < s->n; i++) {
        strata_topic_partition_t *e = strata_topic_partition_list_add(
            l, s->v[i].topic, s->v[i].partition);
        if (e != NULL) {
            e->offset = s->v[i].offset;
        }
    }
    return l;
}

static void call_rebalance(strata_t *rk, strata_resp_err_t what,
                           strata_topic_partition_list_t *l)
{
    if (rk->conf->rebalance_cb == NULL || l == NULL) {
        return;
    }
    rk->grp->in_cb = true;
    rk->conf->rebalance_cb(rk, what, l, rk->conf->opaque);
    rk->grp->in_cb = false;
}

/* Membership was lost: drop everything without committing. Requires:
 * @lock; releases it around the callback. */
static void serve_lost(strata_t *rk)
{
    struct cl_group *g = rk->grp;
    strata_topic_partition_list_t *l = tplist_of(&g->owned);
    g->lost = false;
    pthread_mutex_unlock(&rk->lock);
    call_rebalance(rk, STRATA_ERR__ASSIGNMENT_LOST, l);
    pthread_mutex_lock(&rk->lock);
    for (size_t i = 0; i < g->owned.n; i++) {
        cl_consumer_remove_tp(rk, g->owned.v[i].topic,
                              g->owned.v[i].partition);
    }
    cl_tpset_clear(&g->owned);
    g->owned_dirty = true;
    /* The event itself, so a poll loop without a callback sees it. */
    static const char why[] = "group membership lost: partitions released "
                              "without commit; rejoining";
    struct cl_cmsg *m = st_calloc(1, sizeof *m + sizeof why);
    if (m != NULL) {
        /* One allocation, as cl_cmsg_free() expects. */
        memcpy(m + 1, why, sizeof why);
        m->pub.err = STRATA_ERR__ASSIGNMENT_LOST;
        m->pub.errstr = (const char *)(m + 1);
        m->pub.topic = "";
        m->pub.partition = -1;
        m->pub.offset = -1;
        m->next = rk->cq_head;
        rk->cq_head = m;
        if (rk->cq_tail == NULL) {
            rk->cq_tail = m;
        }
    }
    strata_topic_partition_list_destroy(l);
}

/* Partitions the target no longer lists: commit (auto-commit), revoke
 * callback, drop. Requires: @lock; releases it meanwhile. */
static void serve_revoke(strata_t *rk)
{
    struct cl_group *g = rk->grp;
    struct cl_tpset gone = {0};
    for (size_t i = 0; i < g->owned.n; i++) {
        if (!cl_tpset_has(&g->target, g->owned.v[i].topic,
                          g->owned.v[i].partition)) {
            cl_tpset_add(&gone, g->owned.v[i].topic, g->owned.v[i].partition,
                         -1);
        }
    }
    if (gone.n == 0) {
        st_free(gone.v);
        return;
    }
    if (rk->cc.auto_commit) {
        strata_topic_partition_list_t *pos = positions(rk, &gone);
        if (pos != NULL && pos->cnt > 0) {
            commit_now(rk, pos, false, cl_now_ms() + COMMIT_TIMEOUT_MS);
        } else {
            strata_topic_partition_list_destroy(pos);
        }
    }
    strata_topic_partition_list_t *l = tplist_of(&gone);
    pthread_mutex_unlock(&rk->lock);
    call_rebalance(rk, STRATA_ERR__REVOKE_PARTITIONS, l);
    pthread_mutex_lock(&rk->lock);
    for (size_t i = 0; i < gone.n; i++) {
        cl_consumer_remove_tp(rk, gone.v[i].topic, gone.v[i].partition);
        cl_tpset_del(&g->owned, gone.v[i].topic, gone.v[i].partition);
    }
    ST_DEBUG("client", "client=%s group=%s revoked=%zu owned=%zu", rk->name,
             g->id, gone.n, g->owned.n);
    g->owned_dirty = true;
    cl_tpset_clear(&gone);
    st_free(gone.v);
    strata_topic_partition_list_destroy(l);
}

/* New partitions with their committed offsets: assign callback, start
 * fetching. Only what is still in the target and not owned yet is handed
 * to the application: while a previous assign callback ran (lock
 * released), the loop saw those partitions neither owned nor in to_assign
 * and fetched their offsets again, so to_assign can hold a partition the
 * application was already given; passing it again made the application
 * list it twice (a static member restarting showed "t6-1,t6-1"). A
 * partition dropped here on ENOMEM is fetched again by the loop. Requires:
 * @lock; releases it meanwhile. */
static void serve_assign(strata_t *rk)
{
    struct cl_group *g = rk->grp;
    struct cl_tpset add = {0};
    for (size_t i = 0; i < g->to_assign.n; i++) {
        const struct cl_gtp *x = &g->to_assign.v[i];
        if (cl_tpset_has(&g->target, x->topic, x->partition) &&
            !cl_tpset_has(&g->owned, x->topic, x->partition)) {
            (void)cl_tpset_add(&add, x->topic, x->partition, x->offset);
        }
    }
    cl_tpset_clear(&g->to_assign);
    if (add.n == 0) {
        st_free(add.v);
        return;
    }
    strata_topic_partition_list_t *l = tplist_of(&add);
    pthread_mutex_unlock(&rk->lock);
    call_rebalance(rk, STRATA_ERR__ASSIGN_PARTITIONS, l);
    pthread_mutex_lock(&rk->lock);
    for (size_t i = 0; i < add.n; i++) {
        struct cl_gtp *x = &add.v[i];
        if (!cl_tpset_has(&g->target, x->topic, x->partition) ||
            cl_tpset_has(&g->owned, x->topic, x->partition)) {
            continue; /* moved on meanwhile */
        }
        if (cl_consumer_add_tp(rk, x->topic, x->partition, x->offset) == 0) {
            cl_tpset_add(&g->owned, x->topic, x->partition, -1);
        }
    }
    ST_DEBUG("client", "client=%s group=%s assigned=%zu owned=%zu",
             rk->name, g->id, add.n, g->owned.n);
    g->rebalances++;
    g->owned_dirty = true;
    cl_tpset_clear(&add);
    st_free(add.v);
    strata_topic_partition_list_destroy(l);
}

void cl_group_serve(strata_t *rk)
{
    struct cl_group *g = rk->grp;
    if (g == NULL) {
        return;
    }
    pthread_mutex_lock(&rk->lock);
    uint64_t now = cl_now_ms();
    g->last_poll_ms = now;
    bool changed = false;
    if (g->subscribed && !g->leaving) {
        if (g->lost) {
            serve_lost(rk);
            changed = true;
        }
        if (!g->lost && g->epoch > 0) {
            size_t before = g->owned.n;
            serve_revoke(rk);
            changed |= g->owned.n != before;
        }
        if (!g->lost && g->epoch > 0 && g->to_assign.n > 0) {
            serve_assign(rk);
            changed = true;
        }
        if (g->poll_expired) {
            g->poll_expired = false; /* rejoin */
            changed = true;
        }
        if (rk->cc.auto_commit && g->epoch > 0 &&
            now >= g->next_auto_commit_ms) {
            g->next_auto_commit_ms = now + rk->cc.auto_commit_interval_ms;
            strata_topic_partition_list_t *l = positions(rk, NULL);
            if (l != NULL && l->cnt > 0) {
                commit_now(rk, l, true, now + COMMIT_TIMEOUT_MS);
            } else {
                strata_topic_partition_list_destroy(l);
            }
        }
    }
    struct cl_commit_job *results = g->results;
    g->results = NULL;
    pthread_mutex_unlock(&rk->lock);
    if (changed) {
        cl_wake(rk);
    }
    while (results != NULL) {
        struct cl_commit_job *j = results;
        results = j->next;
        if (rk->conf->commit_cb != NULL) {
            rk->conf->commit_cb(rk, j->err, j->offsets,
                                       rk->conf->opaque);
        }
        strata_topic_partition_list_destroy(j->offsets);
        st_free(j);
    }
}

/* ---- leaving ---- */

static void leave(strata_t *rk, uint64_t deadline, bool closing)
{
    struct cl_group *g = rk->grp;
    pthread_mutex_lock(&rk->lock);
    if (!g->subscribed) {
        pthread_mutex_unlock(&rk->lock);
        return;
    }
    if (rk->cc.auto_commit && g->epoch > 0 && g->owned.n > 0) {
        strata_topic_partition_list_t *l = positions(rk, NULL);
        if (l != NULL && l->cnt > 0) {
            uint64_t d = deadline > cl_now_ms() + COMMIT_TIMEOUT_MS
                             ? cl_now_ms() + COMMIT_TIMEOUT_MS
                             : deadline;
            commit_now(rk, l, false, d);
        } else {
            strata_topic_partition_list_destroy(l);
        }
    }
    strata_topic_partition_list_t *l = tplist_of(&g->owned);
    pthread_mutex_unlock(&rk->lock);
    if (l != NULL && l->cnt > 0) {
        call_rebalance(rk, STRATA_ERR__REVOKE_PARTITIONS, l);
    }
    strata_topic_partition_list_destroy(l);
    pthread_mutex_lock(&rk->lock);
    for (size_t i = 0; i < g->owned.n; i++) {
        cl_consumer_remove_tp(rk, g->owned.v[i].topic,
                              g->owned.v[i].partition);
    }
    cl_tpset_clear(&g->owned);
    cl_tpset_clear(&g->target);
    cl_tpset_clear(&g->to_assign);
    g->leaving = true;
    g->left = false;
    pthread_mutex_unlock(&rk->lock);
    cl_wake(rk);
    pthread_mutex_lock(&rk->lock);
    while (!g->left && cl_now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rk->cond, &rk->lock, &ts);
    }
    if (g->left) {
        ST_DEBUG("client", "client=%s group=%s left%s", rk->name, g->id,
                 closing ? " (close)" : "");
    }
    g->subscribed = false;
    g->epoch = 0;
    if (!closing || g->instance_id[0] == '\0') {
        g->member_id[0] = '\0';
    }
    sub_free(g);
    pthread_mutex_unlock(&rk->lock);
}

strata_resp_err_t strata_unsubscribe(strata_t *rk)
{
    if (rk->type != STRATA_CONSUMER) {
        return STRATA_ERR__STATE;
    }
    if (rk->grp != NULL) {
        leave(rk, cl_now_ms() + COMMIT_TIMEOUT_MS, false);
        pthread_mutex_lock(&rk->lock);
        rk->grp->leaving = false;
        pthread_mutex_unlock(&rk->lock);
    }
    return STRATA_ERR_NO_ERROR;
}

void cl_group_close(strata_t *rk, uint64_t deadline)
{
    if (rk->grp != NULL) {
        leave(rk, deadline, true);
        cl_group_serve(rk); /* async commit results */
    }
}

/* ---- coordinator-routed calls ---- */

/* The `error` of a group.proto response: field 1 (int32, varint) comes
 * first in protobuf-c's output when set. */
static int32_t body_error(const uint8_t *p, size_t len)
{
    if (len < 2 || p[0] != 0x08) {
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 1, shift = 0; i < len && shift < 64; i++, shift += 7) {
        v |= (uint64_t)(p[i] & 0x7f) << shift;
        if ((p[i] & 0x80) == 0) {
            break;
        }
    }
    return (int32_t)v;
}

static void nap(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Find @group_id's coordinator and make it known to the loop. */
static strata_resp_err_t find_sync(strata_t *rk, const char *group_id,
                                   int timeout_ms, int32_t *coord,
                                   char *errstr, size_t cap)
{
    Strata__Group__FindCoordinatorRequest q =
        STRATA__GROUP__FIND_COORDINATOR_REQUEST__INIT;
    q.group_id = (char *)group_id;
    uint8_t body[600];
    size_t len = strata__group__find_coordinator_request__pack(&q, body);
    struct cl_req *r;
    strata_resp_err_t err = cl_req_sync(rk,
                                        STRATA__GROUP__API__FIND_COORDINATOR,
                                        body, len, -1, timeout_ms, &r,
                                        errstr, cap);
    if (err != STRATA_ERR_NO_ERROR) {
        return err;
    }
    Strata__Group__FindCoordinatorResponse *resp =
        r->error != 0 ? NULL
                      : strata__group__find_coordinator_response__unpack(
                            NULL, r->resp_body.len, r->resp_body.base);
    if (resp == NULL) {
        err = r->error != 0 ? cl_err_from_broker(r->error)
                            : STRATA_ERR__BAD_MSG;
    } else if (resp->error != 0) {
        err = cl_err_from_broker(resp->error);
        if (errstr != NULL) {
            snprintf(errstr, cap, "%s", resp->error_message);
        }
    } else {
        pthread_mutex_lock(&rk->lock);
        struct cl_broker *b = cl_broker_learn(rk, resp->node_id, resp->host,
                                              (uint16_t)resp->port);
        pthread_mutex_unlock(&rk->lock);
        err = b != NULL ? STRATA_ERR_NO_ERROR : STRATA_ERR__NOMEM;
        *coord = resp->node_id;
    }
    if (resp != NULL) {
        strata__group__find_coordinator_response__free_unpacked(resp, NULL);
    }
    cl_req_release(rk, r);
    return err;
}

strata_resp_err_t cl_group_call(strata_t *rk, const char *group_id,
                                uint32_t api, const uint8_t *body,
                                size_t len, int timeout_ms, uint8_t **out,
                                size_t *out_len, int32_t *coord,
                                char *errstr, size_t errstr_size)
{
    uint64_t deadline = cl_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms
                                                                : 1);
    strata_resp_err_t err = STRATA_ERR__TIMED_OUT;
    while (cl_now_ms() < deadline) {
        int left = (int)(deadline - cl_now_ms());
        int32_t id = -1;
        err = find_sync(rk, group_id, left, &id, errstr, errstr_size);
        if (err == STRATA_ERR_NO_ERROR) {
            struct cl_req *r;
            left = (int)(deadline > cl_now_ms() ? deadline - cl_now_ms() : 1);
            err = cl_req_sync(rk, api, body, len, id, left, &r, errstr,
                              errstr_size);
            if (err == STRATA_ERR_NO_ERROR) {
                err = r->error != 0
                          ? cl_err_from_broker(r->error)
                          : cl_err_from_broker(body_error(r->resp_body.base,
                                                          r->resp_body.len));
                if (err != STRATA_ERR_NOT_COORDINATOR &&
                    err != STRATA_ERR_COORDINATOR_NOT_AVAILABLE) {
                    *out = st_malloc(r->resp_body.len + 1);
                    if (*out == NULL) {
                        cl_req_release(rk, r);
                        return STRATA_ERR__NOMEM;
                    }
                    if (r->resp_body.len > 0) {
                        memcpy(*out, r->resp_body.base, r->resp_body.len);
                    }
                    *out_len = r->resp_body.len;
                    *coord = id;
                    bool header_err = r->error != 0;
                    if (header_err && errstr != NULL) {
                        snprintf(errstr, errstr_size, "%s",
                                 r->error_message);
                    }
                    cl_req_release(rk, r);
                    return header_err ? err : STRATA_ERR_NO_ERROR;
                }
                cl_req_release(rk, r);
            }
        }
        if (err != STRATA_ERR_NOT_COORDINATOR &&
            err != STRATA_ERR_COORDINATOR_NOT_AVAILABLE &&
            err != STRATA_ERR__TRANSPORT && err != STRATA_ERR__TIMED_OUT &&
            err != STRATA_ERR__ALL_BROKERS_DOWN) {
            return err;
        }
        nap(RETRY_MS);
    }
    if (errstr != NULL && err == STRATA_ERR__TIMED_OUT) {
        snprintf(errstr, errstr_size, "no coordinator answered within %d ms",
                 timeout_ms);
    }
    return err;
}

/* ---- committed ---- */

strata_resp_err_t strata_committed(strata_t *rk,
                                   strata_topic_partition_list_t *parts,
                                   int timeout_ms)
{
    if (rk->type != STRATA_CONSUMER || rk->grp == NULL) {
        return STRATA_ERR__STATE;
    }
    size_t n = (size_t)parts->cnt;
    Strata__Group__TopicPartitions ts[n + 1];
    Strata__Group__TopicPartitions *tv[n + 1];
    int32_t ps[n + 1];
    for (size_t i = 0; i < n; i++) {
        strata__group__topic_partitions__init(&ts[i]);
        ts[i].topic = parts->elems[i].topic;
        ps[i] = parts->elems[i].partition;
        ts[i].partitions = &ps[i];
        ts[i].n_partitions = 1;
        tv[i] = &ts[i];
    }
    Strata__Group__OffsetFetchRequest q =
        STRATA__GROUP__OFFSET_FETCH_REQUEST__INIT;
    q.group_id = rk->grp->id;
    q.topics = tv;
    q.n_topics = n;
    size_t len = strata__group__offset_fetch_request__get_packed_size(&q);
    uint8_t *body = st_malloc(len + 1);
    if (body == NULL) {
        return STRATA_ERR__NOMEM;
    }
    strata__group__offset_fetch_request__pack(&q, body);
    uint8_t *resp_body = NULL;
    size_t resp_len = 0;
    int32_t coord;
    strata_resp_err_t err = cl_group_call(
        rk, rk->grp->id, STRATA__GROUP__API__OFFSET_FETCH, body, len,
        timeout_ms, &resp_body, &resp_len, &coord, NULL, 0);
    st_free(body);
    if (err != STRATA_ERR_NO_ERROR) {
        return err;
    }
    Strata__Group__OffsetFetchResponse *r =
        strata__group__offset_fetch_response__unpack(NULL, resp_len,
                                                     resp_body);
    st_free(resp_body);
    if (r == NULL) {
        return STRATA_ERR__BAD_MSG;
    }
    err = cl_err_from_broker(r->error);
    for (int i = 0; i < parts->cnt; i++) {
        parts->elems[i].offset = STRATA_OFFSET_INVALID;
        parts->elems[i].err = err;
    }
    for (size_t i = 0; i < r->n_partitions; i++) {
        const Strata__Group__OffsetFetchPartition *p = r->partitions[i];
        strata_topic_partition_t *e =
            strata_topic_partition_list_find(parts, p->topic, p->partition);
        if (e != NULL) {
            e->err = cl_err_from_broker(p->error);
            e->offset = p->offset >= 0 ? p->offset : STRATA_OFFSET_INVALID;
        }
    }
    strata__group__offset_fetch_response__free_unpacked(r, NULL);
    return err;
}
