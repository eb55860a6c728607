/* Consumer-group membership on the loop thread (see group.h): find the
 * coordinator, heartbeat (join, reconcile, leave), fetch the committed
 * offsets of partitions given to us, and send queued commits.
 *
 * Member states, as the loop sees them:
 *   unjoined (epoch 0) --heartbeat OK--> joined (epoch > 0)
 *   joined --UNKNOWN_MEMBER_ID / FENCED--> lost: the application drops its
 *       partitions in poll (ASSIGNMENT_LOST), then we rejoin with epoch 0
 *   joined --max.poll.interval.ms without poll--> leave (reason poll
 *       timeout), lost; rejoin at the next poll
 *   any --close / unsubscribe--> leaving --answer--> left
 * A coordinator error or a broken connection forgets the coordinator; it
 * is found again (FindCoordinator) and the member keeps its epoch.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/lib/errors.h"
#include "client/lib/group.h"
#include "client/lib/handle.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_client.h"
#include "group.pb-c.h"

#define FIND_BACKOFF_MS 200
#define ERROR_BACKOFF_MS 1000
#define GROUP_RPC_TIMEOUT_MS 5000
#define STALE_RETRIES 3

/* ---- sets ---- */

bool cl_tpset_has(const struct cl_tpset *s, const char *topic, int32_t p)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].partition == p && strcmp(s->v[i].topic, topic) == 0) {
            return true;
        }
    }
    return false;
}

int cl_tpset_add(struct cl_tpset *s, const char *topic, int32_t p,
                 int64_t offset)
{
    if (cl_tpset_has(s, topic, p)) {
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct cl_gtp *v = st_realloc(s->v, cap * sizeof *v);
        if (v == NULL) {
            return ST_ENOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    char *t = st_strdup(topic);
    if (t == NULL) {
        return ST_ENOMEM;
    }
    s->v[s->n].topic = t;
    s->v[s->n].partition = p;
    s->v[s->n].offset = offset;
    s->n++;
    return 0;
}

void cl_tpset_del(struct cl_tpset *s, const char *topic, int32_t p)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].partition == p && strcmp(s->v[i].topic, topic) == 0) {
            st_free(s->v[i].topic);
            s->v[i] = s->v[--s->n];
            return;
        }
    }
}

void cl_tpset_clear(struct cl_tpset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        st_free(s->v[i].topic);
    }
    s->n = 0;
}

static void tpset_free(struct cl_tpset *s)
{
    cl_tpset_clear(s);
    st_free(s->v);
    s->v = NULL;
    s->cap = 0;
}

/* ---- life ---- */

int cl_group_init(strata_t *rk, const strata_conf_t *conf)
{
    if (rk->type != STRATA_CONSUMER || rk->cc.group_id[0] == '\0') {
        return 0;
    }
    struct cl_group *g = st_calloc(1, sizeof *g);
    if (g == NULL) {
        return ST_ENOMEM;
    }
    snprintf(g->id, sizeof g->id, "%s", rk->cc.group_id);
    size_t n = sizeof g->instance_id;
    if (strata_conf_get(conf, "group.instance.id", g->instance_id, &n) !=
        STRATA_CONF_OK) {
        g->instance_id[0] = '\0';
    }
    g->coord = -1;
    rk->grp = g;
    return 0;
}

static void job_release(struct cl_commit_job *j)
{
    if (--j->refs == 0) {
        strata_topic_partition_list_destroy(j->offsets);
        st_free(j);
    }
}

void cl_group_free(strata_t *rk)
{
    struct cl_group *g = rk->grp;
    if (g == NULL) {
        return;
    }
    for (size_t i = 0; i < g->n_topics; i++) {
        st_free(g->topics[i]);
    }
    st_free(g->topics);
    st_free(g->regex);
    tpset_free(&g->owned);
    tpset_free(&g->target);
    tpset_free(&g->to_assign);
    while (g->jobs != NULL) {
        struct cl_commit_job *j = g->jobs;
        g->jobs = j->next;
        job_release(j);
    }
    while (g->results != NULL) {
        struct cl_commit_job *j = g->results;
        g->results = j->next;
        job_release(j);
    }
    st_free(g);
    rk->grp = NULL;
}

/* ---- helpers ---- */

static void forget_coordinator(struct cl_group *g, uint64_t now)
{
    g->coord = -1;
    g->find_after_ms = now + FIND_BACKOFF_MS;
}

static bool retriable(int32_t code)
{
    return code == STRATA_ERR_NOT_COORDINATOR ||
           code == STRATA_ERR_COORDINATOR_NOT_AVAILABLE ||
           code == STRATA_ERR_REQUEST_TIMED_OUT;
}

/* The coordinator's connection, or NULL (not known or not connected). */
static struct cl_broker *coordinator(strata_t *rk)
{
    struct cl_group *g = rk->grp;
    if (g->coord < 0) {
        return NULL;
    }
    struct cl_broker *b = cl_broker_find(rk, g->coord);
    return b != NULL && b->rpc != NULL ? b : NULL;
}

/* Pack @msg and send it to @b. */
static int send_pb(struct cl_broker *b, uint32_t api,
                   const ProtobufCMessage *msg,
                   void (*cb)(void *, int, const struct st_rpc_response *),
                   void *arg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = st_malloc(len + 1);
    if (buf == NULL) {
        return ST_ENOMEM;
    }
    protobuf_c_message_pack(msg, buf);
    int rv = cl_broker_send(b, api, buf, len, NULL, 0, GROUP_RPC_TIMEOUT_MS,
                            cb, arg);
    st_free(buf);
    return rv;
}

/* TopicPartitions for @s (arrays malloc'ed into *@mem; free each). */
static Strata__Group__TopicPartitions **tps_pb(const struct cl_tpset *s,
                                               size_t *n_out, void **mem)
{
    size_t bytes = (s->n + 1) * (sizeof(Strata__Group__TopicPartitions *) +
                                 sizeof(Strata__Group__TopicPartitions) +
                                 sizeof(int32_t));
    uint8_t *m = st_calloc(1, bytes);
    *mem = m;
    *n_out = 0;
    if (m == NULL) {
        return NULL;
    }
    Strata__Group__TopicPartitions **v = (void *)m;
    Strata__Group__TopicPartitions *t =
        (void *)(m + (s->n + 1) * sizeof *v);
    int32_t *parts = (void *)((uint8_t *)t + (s->n + 1) * sizeof *t);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        strata__group__topic_partitions__init(&t[k]);
        t[k].topic = s->v[i].topic;
        parts[i] = s->v[i].partition;
        t[k].partitions = &parts[i];
        t[k].n_partitions = 1;
        v[k] = &t[k];
        k++;
    }
    *n_out = k;
    return v;
}

/* ---- FindCoordinator ---- */

static void find_done(void *arg, int status, const struct st_rpc_response *rs)
{
    strata_t *rk = arg;
    Strata__Group__FindCoordinatorResponse *r = NULL;
    if (status == 0 && rs->error == 0) {
        r = strata__group__find_coordinator_response__unpack(
            NULL, rs->body.len, rs->body.base);
    }
    pthread_mutex_lock(&rk->lock);
    struct cl_group *g = rk->grp;
    uint64_t now = cl_now_ms();
    g->find_out = false;
    if (r == NULL || r->error != 0 || r->node_id < 0) {
        g->find_after_ms = now + FIND_BACKOFF_MS;
    } else if (cl_broker_learn(rk, r->node_id, r->host,
                               (uint16_t)r->port) != NULL) {
        g->coord = r->node_id;
        ST_DEBUG("client", "client=%s group=%s coordinator=%d", rk->name,
                 g->id, g->coord);
    }
    pthread_mutex_unlock(&rk->lock);
    if (r != NULL) {
        strata__group__find_coordinator_response__free_unpacked(r, NULL);
    }
    cl_wake(rk);
}

static void find_send(strata_t *rk, uint64_t now)
{
    struct cl_group *g = rk->grp;
    struct cl_broker *b = cl_broker_any(rk);
    if (b == NULL || b->rpc == NULL) {
        return;
    }
    Strata__Group__FindCoordinatorRequest q =
        STRATA__GROUP__FIND_COORDINATOR_REQUEST__INIT;
    q.group_id = g->id;
    if (send_pb(b, STRATA__GROUP__API__FIND_COORDINATOR, &q.base, find_done,
                rk) == 0) {
        g->find_out = true;
    } else {
        g->find_after_ms = now + FIND_BACKOFF_MS;
    }
}

/* ---- heartbeat ---- */

/* Reconcile with a new assignment: additions are fetched (offsets) and
 * handed to the application in poll; removals too (revoke). */
static void take_assignment(struct cl_group *g,
                            const Strata__Group__HeartbeatResponse *r)
{
    cl_tpset_clear(&g->target);
    for (size_t i = 0; i < r->n_assignment; i++) {
        const Strata__Group__TopicPartitions *t = r->assignment[i];
        for (size_t j = 0; j < t->n_partitions; j++) {
            cl_tpset_add(&g->target, t->topic, t->partitions[j], -1);
        }
    }
    /* Additions no longer in the target are dropped before the app sees
     * them. */
    for (size_t i = 0; i < g->to_assign.n;) {
        struct cl_gtp *x = &g->to_assign.v[i];
        if (!cl_tpset_has(&g->target, x->topic, x->partition)) {
            cl_tpset_del(&g->to_assign, x->topic, x->partition);
        } else {
            i++;
        }
    }
}

static void lose(strata_t *rk, struct cl_group *g, const char *why)
{
    ST_INFO("client", "client=%s group=%s member=%s epoch=%d lost its "
            "assignment: %s", rk->name, g->id, g->member_id, g->epoch, why);
    g->epoch = 0;
    g->lost = g->owned.n > 0;
    cl_tpset_clear(&g->target);
    cl_tpset_clear(&g->to_assign);
    g->sub_dirty = true;
}

static void hb_done(void *arg, int status, const struct st_rpc_response *rs)
{
    strata_t *rk = arg;
    Strata__Group__HeartbeatResponse *r = NULL;
    if (status == 0 && rs->error == 0) {
        r = strata__group__heartbeat_response__unpack(NULL, rs->body.len,
                                                      rs->body.base);
    }
    pthread_mutex_lock(&rk->lock);
    struct cl_group *g = rk->grp;
    uint64_t now = cl_now_ms();
    g->hb_out = false;
    int32_t err = r != NULL ? r->error : STRATA_ERR_NOT_COORDINATOR;
    if (g->leaving) {
        if (retriable(err)) {
            forget_coordinator(g, now);
        } else {
            g->left = true;
            g->epoch = 0;
            g->member_id[0] = '\0';
        }
    } else if (g->poll_expired) {
        /* The leave for max.poll.interval.ms was answered; nothing else
         * until the application polls again. */
    } else if (retriable(err)) {
        forget_coordinator(g, now);
    } else if (err == STRATA_ERR_UNKNOWN_MEMBER_ID ||
               err == STRATA_ERR_FENCED_MEMBER_EPOCH) {
        if (err == STRATA_ERR_UNKNOWN_MEMBER_ID) {
            g->member_id[0] = '\0';
        }
        lose(rk, g, r->error_message);
    } else if (err != 0) {
        cl_error_push(rk, cl_err_from_broker(err), "group %s heartbeat: %s",
                      g->id, r->error_message);
        g->hb_next_ms = now + ERROR_BACKOFF_MS;
    } else {
        if (g->epoch != r->member_epoch) {
            ST_DEBUG("client", "client=%s group=%s member=%s epoch=%d",
                     rk->name, g->id, r->member_id, r->member_epoch);
        }
        snprintf(g->member_id, sizeof g->member_id, "%s", r->member_id);
        g->epoch = r->member_epoch;
        g->hb_interval_ms = r->heartbeat_interval_ms > 0
                                ? r->heartbeat_interval_ms
                                : 3000;
        g->hb_next_ms = now + g->hb_interval_ms;
        take_assignment(g, r);
    }
    pthread_cond_broadcast(&rk->cond);
    pthread_mutex_unlock(&rk->lock);
    if (r != NULL) {
        strata__group__heartbeat_response__free_unpacked(r, NULL);
    }
    cl_wake(rk);
}

static void hb_send(strata_t *rk, struct cl_broker *b, uint64_t now,
                    int32_t epoch, uint32_t reason)
{
    struct cl_group *g = rk->grp;
    Strata__Group__HeartbeatRequest q =
        STRATA__GROUP__HEARTBEAT_REQUEST__INIT;
    q.group_id = g->id;
    q.member_id = g->member_id;
    q.member_epoch = epoch;
    q.instance_id = g->instance_id;
    q.client_id = (char *)rk->cc.client_id;
    q.rebalance_timeout_ms = (uint32_t)rk->cc.max_poll_interval_ms;
    q.leave_reason = reason;
    void *mem = NULL;
    if (epoch >= 0) {
        q.has_subscription = g->sub_dirty || epoch == 0;
        if (q.has_subscription) {
            q.topics = g->topics;
            q.n_topics = g->n_topics;
            q.regex = g->regex != NULL ? g->regex : "";
        }
        q.has_owned = true;
        q.owned = tps_pb(&g->owned, &q.n_owned, &mem);
    }
    if (send_pb(b, STRATA__GROUP__API__CONSUMER_GROUP_HEARTBEAT, &q.base,
                hb_done, rk) == 0) {
        g->hb_out = true;
        g->owned_dirty = false;
        if (epoch >= 0) {
            g->sub_dirty = false;
        }
        g->hb_next_ms = now + (g->hb_interval_ms ? g->hb_interval_ms : 3000);
    }
    st_free(mem);
}

/* ---- committed offsets of new partitions ---- */

static void fetch_done(void *arg, int status, const struct st_rpc_response *rs)
{
    strata_t *rk = arg;
    Strata__Group__OffsetFetchResponse *r = NULL;
    if (status == 0 && rs->error == 0) {
        r = strata__group__offset_fetch_response__unpack(NULL, rs->body.len,
                                                         rs->body.base);
    }
    pthread_mutex_lock(&rk->lock);
    struct cl_group *g = rk->grp;
    g->fetch_out = false;
    if (r == NULL || r->error != 0) {
        forget_coordinator(g, cl_now_ms());
    } else {
        for (size_t i = 0; i < r->n_partitions; i++) {
            const Strata__Group__OffsetFetchPartition *p = r->partitions[i];
            if (cl_tpset_has(&g->target, p->topic, p->partition) &&
                !cl_tpset_has(&g->owned, p->topic, p->partition)) {
                cl_tpset_add(&g->to_assign, p->topic, p->partition,
                             p->error == 0 && p->offset >= 0
                                 ? p->offset
                                 : STRATA_OFFSET_INVALID);
            }
        }
    }
    pthread_cond_broadcast(&rk->cond);
    pthread_mutex_unlock(&rk->lock);
    if (r != NULL) {
        strata__group__offset_fetch_response__free_unpacked(r, NULL);
    }
    cl_wake(rk);
}

/* Ask the committed offsets of the partitions in the target that we
 * neither own nor hold ready for the application. */
static void fetch_additions(strata_t *rk, struct cl_broker *b)
{
    struct cl_group *g = rk->grp;
    struct cl_tpset add = {0};
    for (size_t i = 0; i < g->target.n; i++) {
        struct cl_gtp *x = &g->target.v[i];
        if (!cl_tpset_has(&g->owned, x->topic, x->partition) &&
            !cl_tpset_has(&g->to_assign, x->topic, x->partition)) {
            cl_tpset_add(&add, x->topic, x->partition, -1);
        }
    }
    if (add.n > 0) {
        Strata__Group__OffsetFetchRequest q =
            STRATA__GROUP__OFFSET_FETCH_REQUEST__INIT;
        q.group_id = g->id;
        void *mem = NULL;
        q.topics = tps_pb(&add, &q.n_topics, &mem);
        if (q.topics != NULL &&
            send_pb(b, STRATA__GROUP__API__OFFSET_FETCH, &q.base, fetch_done,
                    rk) == 0) {
            g->fetch_out = true;
        }
        st_free(mem);
    }
    tpset_free(&add);
}

/* ---- commits ---- */

static void commit_finish(strata_t *rk, struct cl_commit_job *j,
                          strata_resp_err_t err)
{
    struct cl_group *g = rk->grp;
    j->done = true;
    j->err = err;
    for (struct cl_commit_job **at = &g->jobs; *at != NULL;
         at = &(*at)->next) {
        if (*at == j) {
            *at = j->next;
            break;
        }
    }
    if (j->async) {
        j->next = NULL;
        struct cl_commit_job **at = &g->results;
        while (*at != NULL) {
            at = &(*at)->next;
        }
        *at = j; /* the loop's reference moves to the results */
    } else {
        job_release(j);
    }
    pthread_cond_broadcast(&rk->cond);
}

static void commit_done(void *arg, int status,
                        const struct st_rpc_response *rs)
{
    struct cl_commit_job *j = arg;
    strata_t *rk = j->rk;
    Strata__Group__OffsetCommitResponse *r = NULL;
    if (status == 0 && rs->error == 0) {
        r = strata__group__offset_commit_response__unpack(NULL, rs->body.len,
                                                          rs->body.base);
    }
    pthread_mutex_lock(&rk->lock);
    struct cl_group *g = rk->grp;
    uint64_t now = cl_now_ms();
    j->in_flight = false;
    int32_t err = r != NULL ? r->error
                  : status == ST_ECANCELED ? STRATA_ERR__DESTROY
                                           : STRATA_ERR_NOT_COORDINATOR;
    if (err == STRATA_ERR__DESTROY) {
        commit_finish(rk, j, STRATA_ERR__DESTROY);
    } else if (retriable(err) && now < j->deadline_ms) {
        forget_coordinator(g, now);
    } else if (err == STRATA_ERR_STALE_MEMBER_EPOCH &&
               j->stale_retries++ < STALE_RETRIES && now < j->deadline_ms) {
        /* A heartbeat moved our epoch meanwhile: resend with the new. */
    } else {
        strata_resp_err_t first = cl_err_from_broker(err);
        for (size_t i = 0; r != NULL && i < r->n_partitions; i++) {
            const Strata__Group__PartitionResult *p = r->partitions[i];
            strata_topic_partition_t *e = strata_topic_partition_list_find(
                j->offsets, p->topic, p->partition);
            if (e != NULL) {
                e->err = cl_err_from_broker(p->error);
                if (first == 0) {
                    first = e->err;
                }
            }
        }
        if (first != 0) {
            ST_DEBUG("client", "client=%s group=%s commit: %s", rk->name,
                     g->id, strata_err2str(first));
        }
        commit_finish(rk, j, first);
    }
    pthread_mutex_unlock(&rk->lock);
    if (r != NULL) {
        strata__group__offset_commit_response__free_unpacked(r, NULL);
    }
    cl_wake(rk);
}

static void commit_send(strata_t *rk, struct cl_broker *b,
                        struct cl_commit_job *j)
{
    struct cl_group *g = rk->grp;
    size_t n = (size_t)j->offsets->cnt;
    Strata__Group__OffsetCommitPartition ps[n + 1];
    Strata__Group__OffsetCommitPartition *pv[n + 1];
    for (size_t i = 0; i < n; i++) {
        strata__group__offset_commit_partition__init(&ps[i]);
        ps[i].topic = j->offsets->elems[i].topic;
        ps[i].partition = j->offsets->elems[i].partition;
        ps[i].offset = j->offsets->elems[i].offset;
        ps[i].leader_epoch = -1;
        pv[i] = &ps[i];
    }
    Strata__Group__OffsetCommitRequest q =
        STRATA__GROUP__OFFSET_COMMIT_REQUEST__INIT;
    q.group_id = g->id;
    q.member_id = g->member_id;
    q.member_epoch = g->epoch > 0 ? g->epoch : -1;
    q.partitions = pv;
    q.n_partitions = n;
    if (send_pb(b, STRATA__GROUP__API__OFFSET_COMMIT, &q.base, commit_done,
                j) == 0) {
        j->in_flight = true;
    }
}

/* ---- the loop pass ---- */

static void lower(uint64_t *wake, uint64_t at)
{
    if (at < *wake) {
        *wake = at;
    }
}

void cl_group_tick(strata_t *rk, uint64_t now, uint64_t *wake)
{
    struct cl_group *g = rk->grp;
    if (g == NULL) {
        return;
    }
    for (struct cl_commit_job *j = g->jobs, *next; j != NULL; j = next) {
        next = j->next;
        if (!j->in_flight && now >= j->deadline_ms) {
            commit_finish(rk, j, STRATA_ERR__TIMED_OUT);
        }
    }
    bool active = g->subscribed || g->leaving || g->jobs != NULL;
    if (!active || (g->leaving && g->left)) {
        return;
    }
    if (g->coord < 0) {
        if (!g->find_out && now >= g->find_after_ms) {
            find_send(rk, now);
        }
        lower(wake, now + FIND_BACKOFF_MS);
        return;
    }
    struct cl_broker *b = coordinator(rk);
    if (b == NULL) {
        lower(wake, now + 50);
        return;
    }
    for (struct cl_commit_job *j = g->jobs; j != NULL; j = j->next) {
        if (!j->in_flight) {
            commit_send(rk, b, j);
        }
    }
    if (g->leaving) {
        if (g->member_id[0] == '\0' || g->epoch == 0) {
            g->left = true;
            pthread_cond_broadcast(&rk->cond);
        } else if (!g->hb_out) {
            hb_send(rk, b, now,
                    g->instance_id[0] ? -2 : -1, 0);
        }
        return;
    }
    if (!g->subscribed) {
        return;
    }
    if (g->epoch > 0 && !g->poll_expired && g->last_poll_ms > 0 &&
        now > g->last_poll_ms + rk->cc.max_poll_interval_ms) {
        ST_WARN("client", "client=%s group=%s no poll for "
                "max.poll.interval.ms=%" PRIu64 "; leaving the group",
                rk->name, g->id, rk->cc.max_poll_interval_ms);
        if (!g->hb_out) {
            hb_send(rk, b, now, -1, 1);
        }
        g->poll_expired = true;
        g->member_id[0] = '\0';
        lose(rk, g, "max.poll.interval.ms passed");
        pthread_cond_broadcast(&rk->cond);
        return;
    }
    if (g->poll_expired || g->lost) {
        return; /* the application must poll first */
    }
    if (!g->hb_out &&
        (now >= g->hb_next_ms || g->owned_dirty || g->sub_dirty)) {
        hb_send(rk, b, now, g->epoch, 0);
    }
    if (!g->fetch_out && g->epoch > 0) {
        fetch_additions(rk, b);
    }
    lower(wake, g->hb_next_ms);
}
