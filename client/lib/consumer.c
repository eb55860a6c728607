/* The consumer API on application threads: assign, poll, seek,
 * pause/resume, position, and offset look-ups (ListOffsets to the
 * partition leaders). Group membership and commits live in group*.c; this
 * file gives them cl_consumer_add_tp / _remove_tp (incremental changes of
 * the fetched set) and serves their rebalances at the top of poll. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.pb-c.h"
#include "client/lib/errors.h"
#include "client/lib/group.h"
#include "client/lib/handle.h"
#include "common/alloc.h"
#include "common/err.h"

static struct cl_ctp *find(strata_t *rk, const char *topic, int32_t p)
{
    for (struct cl_ctp *c = rk->ctps; c != NULL; c = c->next) {
        if (c->partition == p && strcmp(c->topic, topic) == 0) {
            return c;
        }
    }
    return NULL;
}

/* Drop @c's fetched records (all when @c is NULL). Requires: @lock. */
static void purge_queue(strata_t *rk, struct cl_ctp *c)
{
    struct cl_cmsg **at = &rk->cq_head;
    rk->cq_tail = NULL;
    while (*at != NULL) {
        struct cl_cmsg *m = *at;
        if (m->ctp != NULL && (c == NULL || m->ctp == c)) {
            *at = m->next;
            rk->budget.used -= m->bytes;
            m->ctp->queued_bytes -= m->bytes;
            cl_cmsg_free(m);
        } else {
            rk->cq_tail = m;
            at = &m->next;
        }
    }
}

/* Restart @c at @offset: stale answers and queued records are dropped. */
static void restart(strata_t *rk, struct cl_ctp *c, int64_t offset)
{
    purge_queue(rk, c);
    c->version = ++rk->version_seq;
    c->fetching = false;
    c->fetch_pos = offset;
    c->app_pos = offset >= 0 ? offset : STRATA_OFFSET_INVALID;
    c->backoff_until_ms = 0;
}

int cl_consumer_add_tp(strata_t *rk, const char *topic, int32_t partition,
                       int64_t offset);
void cl_consumer_remove_tp(strata_t *rk, const char *topic,
                           int32_t partition);

/* Start fetching @topic/@partition at @offset (STRATA_OFFSET_INVALID:
 * auto.offset.reset). Requires: @lock. Errors: ST_ENOMEM. */
int cl_consumer_add_tp(strata_t *rk, const char *topic, int32_t partition,
                       int64_t offset)
{
    if (find(rk, topic, partition) != NULL) {
        return 0;
    }
    struct cl_ctp *c = st_calloc(1, sizeof *c);
    if (c == NULL || (c->topic = st_strdup(topic)) == NULL) {
        st_free(c);
        return ST_ENOMEM;
    }
    c->partition = partition;
    c->fetch_pos = offset;
    c->app_pos = offset >= 0 ? offset : STRATA_OFFSET_INVALID;
    c->high_watermark = -1;
    c->log_start = -1;
    c->version = ++rk->version_seq;
    c->next = rk->ctps;
    rk->ctps = c;
    if (!rk->md_ready) {
        cl_md_want(rk);
    }
    return 0;
}

/* Stop fetching @topic/@partition and drop its queued records. A fetch
 * still out for it is dropped on arrival (no partition matches).
 * Requires: @lock. */
void cl_consumer_remove_tp(strata_t *rk, const char *topic,
                           int32_t partition)
{
    struct cl_ctp *c = find(rk, topic, partition);
    if (c == NULL) {
        return;
    }
    purge_queue(rk, c);
    for (struct cl_ctp **at = &rk->ctps; *at != NULL; at = &(*at)->next) {
        if (*at == c) {
            *at = c->next;
            break;
        }
    }
    st_free(c->topic);
    st_free(c);
}

strata_resp_err_t strata_assign(strata_t *rk,
                                const strata_topic_partition_list_t *parts)
{
    if (rk->type != STRATA_CONSUMER) {
        return STRATA_ERR__STATE;
    }
    if (cl_group_subscribed(rk)) {
        /* Inside a rebalance callback the library applies the change
         * itself (incremental); elsewhere the group owns the assignment. */
        return cl_group_in_callback(rk) ? STRATA_ERR_NO_ERROR
                                        : STRATA_ERR__STATE;
    }
    for (int i = 0; parts != NULL && i < parts->cnt; i++) {
        if (parts->elems[i].topic == NULL || parts->elems[i].partition < 0) {
            return STRATA_ERR__INVALID_ARG;
        }
    }
    struct cl_ctp *fresh = NULL;
    for (int i = 0; parts != NULL && i < parts->cnt; i++) {
        struct cl_ctp *c = st_calloc(1, sizeof *c);
        if (c == NULL || (c->topic = st_strdup(parts->elems[i].topic)) ==
                             NULL) {
            st_free(c);
            while (fresh != NULL) {
                struct cl_ctp *n = fresh->next;
                st_free(fresh->topic);
                st_free(fresh);
                fresh = n;
            }
            return STRATA_ERR__NOMEM;
        }
        c->partition = parts->elems[i].partition;
        c->fetch_pos = parts->elems[i].offset;
        c->app_pos = c->fetch_pos >= 0 ? c->fetch_pos : STRATA_OFFSET_INVALID;
        c->high_watermark = -1;
        c->log_start = -1;
        c->next = fresh;
        fresh = c;
    }
    pthread_mutex_lock(&rk->lock);
    purge_queue(rk, NULL);
    while (rk->ctps != NULL) {
        struct cl_ctp *c = rk->ctps;
        rk->ctps = c->next;
        st_free(c->topic);
        st_free(c);
    }
    for (struct cl_ctp *c = fresh; c != NULL; c = c->next) {
        c->version = ++rk->version_seq;
    }
    rk->ctps = fresh;
    if (fresh != NULL && !rk->md_ready) {
        cl_md_want(rk);
    }
    pthread_mutex_unlock(&rk->lock);
    cl_wake(rk);
    return STRATA_ERR_NO_ERROR;
}

strata_message_t *strata_consumer_poll(strata_t *rk, int timeout_ms)
{
    if (rk->type != STRATA_CONSUMER) {
        return NULL;
    }
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX
                                       : cl_now_ms() + (uint64_t)timeout_ms;
    cl_serve_ops(rk); /* error callbacks, as strata_poll() would */
    cl_group_serve(rk); /* rebalances, auto-commit, commit results */
    pthread_mutex_lock(&rk->lock);
    while (rk->cq_head == NULL) {
        if (cl_group_poll_wait(rk)) {
            pthread_mutex_unlock(&rk->lock);
            cl_group_serve(rk);
            pthread_mutex_lock(&rk->lock);
            continue;
        }
        uint64_t now = cl_now_ms();
        if (now >= deadline) {
            pthread_mutex_unlock(&rk->lock);
            return NULL;
        }
        uint64_t left = deadline - now < 100 ? deadline - now : 100;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)left * 1000000L;
        while (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rk->cond, &rk->lock, &ts);
    }
    struct cl_cmsg *m = rk->cq_head;
    rk->cq_head = m->next;
    if (rk->cq_head == NULL) {
        rk->cq_tail = NULL;
    }
    m->next = NULL;
    bool wake = false;
    if (m->ctp != NULL) {
        struct cl_ctp *c = m->ctp;
        c->app_pos = m->pub.offset + 1;
        c->queued_bytes -= m->bytes;
        /* Dropping below two answers' worth (what the fetcher allows
         * queued per partition) lets its next fetch go. */
        size_t q_max = 2 * (size_t)rk->cc.partition_fetch_bytes_max;
        bool was_full = rk->budget.used >= rk->budget.limit ||
                        (c->queued_bytes + m->bytes >= q_max &&
                         c->queued_bytes < q_max);
        rk->budget.used -= m->bytes;
        wake = was_full;
        m->ctp = NULL;
    }
    pthread_mutex_unlock(&rk->lock);
    if (wake) {
        cl_wake(rk);
    }
    return &m->pub;
}

void strata_message_destroy(strata_message_t *msg)
{
    /* pub is the first member of struct cl_cmsg. */
    cl_cmsg_free((struct cl_cmsg *)(void *)msg);
}

strata_resp_err_t strata_seek(strata_t *rk, const char *topic,
                              int32_t partition, int64_t offset,
                              int timeout_ms)
{
    if (rk->type != STRATA_CONSUMER) {
        return STRATA_ERR__STATE;
    }
    if (offset < 0 && offset != STRATA_OFFSET_BEGINNING &&
        offset != STRATA_OFFSET_END) {
        return STRATA_ERR__INVALID_ARG;
    }
    pthread_mutex_lock(&rk->lock);
    struct cl_ctp *c = find(rk, topic, partition);
    if (c != NULL) {
        restart(rk, c, offset);
        c->paused = false;
    }
    pthread_mutex_unlock(&rk->lock);
    if (c == NULL) {
        return STRATA_ERR__UNKNOWN_PARTITION;
    }
    cl_wake(rk);
    return STRATA_ERR_NO_ERROR;
}

static strata_resp_err_t set_paused(strata_t *rk,
                                    strata_topic_partition_list_t *parts,
                                    bool paused)
{
    if (rk->type != STRATA_CONSUMER) {
        return STRATA_ERR__STATE;
    }
    pthread_mutex_lock(&rk->lock);
    for (int i = 0; i < parts->cnt; i++) {
        strata_topic_partition_t *e = &parts->elems[i];
        struct cl_ctp *c = find(rk, e->topic, e->partition);
        if (c == NULL) {
            e->err = STRATA_ERR__UNKNOWN_PARTITION;
            continue;
        }
        e->err = STRATA_ERR_NO_ERROR;
        if (paused && !c->paused) {
            /* Hold back what was fetched: resume refetches from the
             * next record poll would have returned. */
            int64_t at = c->app_pos >= 0 ? c->app_pos : c->fetch_pos;
            restart(rk, c, at);
        }
        c->paused = paused;
    }
    pthread_mutex_unlock(&rk->lock);
    cl_wake(rk);
    return STRATA_ERR_NO_ERROR;
}

strata_resp_err_t strata_pause(strata_t *rk,
                               strata_topic_partition_list_t *parts)
{
    return set_paused(rk, parts, true);
}

strata_resp_err_t strata_resume(strata_t *rk,
                                strata_topic_partition_list_t *parts)
{
    return set_paused(rk, parts, false);
}

strata_resp_err_t strata_position(strata_t *rk,
                                  strata_topic_partition_list_t *parts)
{
    pthread_mutex_lock(&rk->lock);
    for (int i = 0; i < parts->cnt; i++) {
        strata_topic_partition_t *e = &parts->elems[i];
        struct cl_ctp *c = find(rk, e->topic, e->partition);
        e->err = c == NULL ? STRATA_ERR__UNKNOWN_PARTITION
                           : STRATA_ERR_NO_ERROR;
        e->offset = c == NULL || c->app_pos < 0 ? STRATA_OFFSET_INVALID
                                                : c->app_pos;
    }
    pthread_mutex_unlock(&rk->lock);
    return STRATA_ERR_NO_ERROR;
}

/* ---- offsets by ListOffsets ---- */

/* Ask @leader for the elements of @p marked in @mine. */
static strata_resp_err_t list_offsets_one(strata_t *rk,
                                          strata_topic_partition_list_t *p,
                                          const int32_t *leaders,
                                          int32_t leader, uint64_t deadline)
{
    int n = 0;
    for (int i = 0; i < p->cnt; i++) {
        n += leaders[i] == leader;
    }
    Strata__Client__ListOffsetsPartition parts[n];
    Strata__Client__ListOffsetsPartition *pp[n];
    int k = 0;
    for (int i = 0; i < p->cnt; i++) {
        if (leaders[i] != leader) {
            continue;
        }
        Strata__Client__ListOffsetsPartition init =
            STRATA__CLIENT__LIST_OFFSETS_PARTITION__INIT;
        parts[k] = init;
        parts[k].topic = p->elems[i].topic;
        parts[k].partition = p->elems[i].partition;
        parts[k].timestamp = p->elems[i].offset == STRATA_OFFSET_BEGINNING
                                 ? -2
                             : p->elems[i].offset == STRATA_OFFSET_END
                                 ? -1
                                 : p->elems[i].offset;
        parts[k].current_leader_epoch = -1;
        pp[k] = &parts[k];
        k++;
    }
    Strata__Client__ListOffsetsRequest req =
        STRATA__CLIENT__LIST_OFFSETS_REQUEST__INIT;
    req.n_partitions = (size_t)n;
    req.partitions = pp;
    size_t len = strata__client__list_offsets_request__get_packed_size(&req);
    uint8_t *body = st_malloc(len + 1);
    if (body == NULL) {
        return STRATA_ERR__NOMEM;
    }
    strata__client__list_offsets_request__pack(&req, body);
    uint64_t now = cl_now_ms();
    int left = deadline > now ? (int)(deadline - now) : 1;
    struct cl_req *r;
    strata_resp_err_t err = cl_req_sync(rk, STRATA__CLIENT__API__LIST_OFFSETS,
                                        body, len, leader, left, &r, NULL, 0);
    st_free(body);
    if (err != STRATA_ERR_NO_ERROR) {
        return err;
    }
    Strata__Client__ListOffsetsResponse *resp = NULL;
    if (r->error != 0) {
        err = cl_err_from_broker(r->error);
    } else {
        resp = strata__client__list_offsets_response__unpack(
            NULL, r->resp_body.len, r->resp_body.base);
        err = resp == NULL ? STRATA_ERR__BAD_MSG : STRATA_ERR_NO_ERROR;
    }
    size_t idx = 0; /* answers come in request order */
    for (int i = 0; i < p->cnt; i++) {
        if (leaders[i] != leader) {
            continue;
        }
        strata_topic_partition_t *e = &p->elems[i];
        e->err = err != 0 ? err : STRATA_ERR__BAD_MSG;
        size_t mine = idx++;
        for (size_t j = 0; resp != NULL && j < resp->n_partitions; j++) {
            size_t jj = (mine + j) % resp->n_partitions;
            Strata__Client__ListOffsetsPartitionResponse *x =
                resp->partitions[jj];
            if (x->partition == e->partition &&
                strcmp(x->topic, e->topic) == 0) {
                e->err = cl_err_from_broker(x->error);
                e->offset = x->offset >= 0 ? x->offset : STRATA_OFFSET_END;
                break;
            }
        }
    }
    if (resp != NULL) {
        strata__client__list_offsets_response__free_unpacked(resp, NULL);
    }
    cl_req_release(rk, r);
    return STRATA_ERR_NO_ERROR;
}

strata_resp_err_t cl_list_offsets(strata_t *rk,
                                  strata_topic_partition_list_t *p,
                                  int timeout_ms)
{
    uint64_t deadline = cl_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms
                                                                : 0);
    strata_resp_err_t err = strata_wait_ready(rk, timeout_ms, NULL, 0);
    if (err != STRATA_ERR_NO_ERROR || p->cnt == 0) {
        return err;
    }
    int32_t leaders[p->cnt];
    pthread_mutex_lock(&rk->lock);
    for (int i = 0; i < p->cnt; i++) {
        strata_topic_partition_t *e = &p->elems[i];
        struct cl_topic_md *t = cl_md_topic(rk, e->topic);
        leaders[i] = cl_md_leader(rk, e->topic, e->partition, NULL);
        e->err = t == NULL ? STRATA_ERR__UNKNOWN_TOPIC
                 : e->partition < 0 || e->partition >= t->n_parts
                     ? STRATA_ERR__UNKNOWN_PARTITION
                 : leaders[i] < 0 ? STRATA_ERR__NO_LEADER
                                  : STRATA_ERR_NO_ERROR;
        if (e->err != STRATA_ERR_NO_ERROR) {
            leaders[i] = -1;
        }
    }
    pthread_mutex_unlock(&rk->lock);
    for (int i = 0; i < p->cnt; i++) {
        int32_t l = leaders[i];
        if (l < 0) {
            continue;
        }
        strata_resp_err_t e = list_offsets_one(rk, p, leaders, l, deadline);
        for (int j = 0; j < p->cnt; j++) {
            if (leaders[j] == l) {
                if (e != STRATA_ERR_NO_ERROR) {
                    p->elems[j].err = e;
                }
                leaders[j] = -1;
            }
        }
        if (e == STRATA_ERR__TIMED_OUT) {
            err = e;
        }
    }
    return err;
}

strata_resp_err_t strata_offsets_for_times(strata_t *rk,
                                           strata_topic_partition_list_t *p,
                                           int timeout_ms)
{
    return cl_list_offsets(rk, p, timeout_ms);
}

strata_resp_err_t strata_admin_list_offsets(strata_t *rk,
                                            strata_topic_partition_list_t *p,
                                            int timeout_ms)
{
    return cl_list_offsets(rk, p, timeout_ms);
}

strata_resp_err_t strata_query_watermark_offsets(strata_t *rk,
                                                 const char *topic,
                                                 int32_t partition,
                                                 int64_t *low, int64_t *high,
                                                 int timeout_ms)
{
    strata_topic_partition_list_t *l = strata_topic_partition_list_new(2);
    if (l == NULL) {
        return STRATA_ERR__NOMEM;
    }
    strata_topic_partition_t *a = strata_topic_partition_list_add(l, topic,
                                                                 partition);
    strata_topic_partition_t *b = a == NULL ? NULL
                                            : strata_topic_partition_list_add(
                                                  l, topic, partition);
    if (b == NULL) {
        strata_topic_partition_list_destroy(l);
        return STRATA_ERR__NOMEM;
    }
    l->elems[0].offset = STRATA_OFFSET_BEGINNING;
    l->elems[1].offset = STRATA_OFFSET_END;
    strata_resp_err_t err = cl_list_offsets(rk, l, timeout_ms);
    if (err == STRATA_ERR_NO_ERROR) {
        err = l->elems[0].err != 0 ? l->elems[0].err : l->elems[1].err;
    }
    if (err == STRATA_ERR_NO_ERROR) {
        *low = l->elems[0].offset;
        *high = l->elems[1].offset;
    }
    strata_topic_partition_list_destroy(l);
    return err;
}
