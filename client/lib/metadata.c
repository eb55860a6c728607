/* The handle's view of the cluster: brokers, topics, partition leaders.
 *
 * Refreshed by a MetadataRequest for every topic (strata clusters are
 * small enough) when something asks (a produce to an unknown topic, a
 * NOT_LEADER answer, a lost connection), and at least every
 * metadata.max.age.ms. One request is in flight at a time; it goes to a
 * connected broker when there is one.
 */
#include <inttypes.h>
#include <string.h>

#include "client.pb-c.h"
#include "client/lib/handle.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_client.h"

#define MD_RETRY_MS 100

void cl_md_want(strata_t *rk)
{
    rk->md_wanted = true;
}

struct cl_topic_md *cl_md_topic(strata_t *rk, const char *topic)
{
    for (struct cl_topic_md *t = rk->topics_md; t != NULL; t = t->next) {
        if (strcmp(t->name, topic) == 0) {
            return t;
        }
    }
    return NULL;
}

int32_t cl_md_leader(strata_t *rk, const char *topic, int32_t partition,
                     int32_t *epoch)
{
    struct cl_topic_md *t = cl_md_topic(rk, topic);
    if (t == NULL || partition < 0 || partition >= t->n_parts) {
        return -1;
    }
    if (epoch != NULL) {
        *epoch = t->parts[partition].leader_epoch;
    }
    return t->parts[partition].leader;
}

void cl_md_leader_hint(strata_t *rk, const char *topic, int32_t partition,
                       int32_t leader, int32_t epoch)
{
    struct cl_topic_md *t = cl_md_topic(rk, topic);
    if (t == NULL || partition < 0 || partition >= t->n_parts) {
        return;
    }
    struct cl_part_md *p = &t->parts[partition];
    if (leader >= 0 && epoch > p->leader_epoch &&
        cl_broker_find(rk, leader) != NULL) {
        p->leader = leader;
        p->leader_epoch = epoch;
    } else {
        p->leader = -1; /* unknown until the refresh answers */
    }
}

static void topic_free(struct cl_topic_md *t)
{
    st_free(t->name);
    st_free(t->parts);
    st_free(t);
}

void cl_md_free(strata_t *rk)
{
    while (rk->topics_md != NULL) {
        struct cl_topic_md *t = rk->topics_md;
        rk->topics_md = t->next;
        topic_free(t);
    }
}

static int apply_topic(strata_t *rk, const Strata__Client__TopicMetadata *in)
{
    struct cl_topic_md *t = cl_md_topic(rk, in->name);
    if (t == NULL) {
        t = st_calloc(1, sizeof *t);
        if (t == NULL || (t->name = st_strdup(in->name)) == NULL) {
            st_free(t);
            return ST_ENOMEM;
        }
        t->next = rk->topics_md;
        rk->topics_md = t;
    }
    t->err = in->error;
    int32_t n = 0;
    for (size_t i = 0; i < in->n_partitions; i++) {
        if (in->partitions[i]->partition + 1 > n) {
            n = in->partitions[i]->partition + 1;
        }
    }
    if (n != t->n_parts) {
        struct cl_part_md *p = st_calloc(n > 0 ? (size_t)n : 1, sizeof *p);
        if (p == NULL) {
            return ST_ENOMEM;
        }
        st_free(t->parts);
        t->parts = p;
        t->n_parts = n;
    }
    for (int32_t i = 0; i < n; i++) {
        t->parts[i].leader = -1;
    }
    for (size_t i = 0; i < in->n_partitions; i++) {
        const Strata__Client__PartitionMetadata *pm = in->partitions[i];
        t->parts[pm->partition].leader = pm->leader;
        t->parts[pm->partition].leader_epoch = pm->leader_epoch;
    }
    return 0;
}

static void apply(strata_t *rk, const Strata__Client__MetadataResponse *m)
{
    for (size_t i = 0; i < m->n_brokers; i++) {
        const Strata__Client__BrokerInfo *b = m->brokers[i];
        if (b->n_listeners == 0) {
            continue;
        }
        cl_broker_learn(rk, b->id, b->listeners[0]->host,
                        (uint16_t)b->listeners[0]->port);
    }
    /* Topics absent from a full answer were deleted. */
    struct cl_topic_md **at = &rk->topics_md;
    while (*at != NULL) {
        bool found = false;
        for (size_t i = 0; i < m->n_topics && !found; i++) {
            found = strcmp(m->topics[i]->name, (*at)->name) == 0;
        }
        if (!found) {
            struct cl_topic_md *gone = *at;
            *at = gone->next;
            topic_free(gone);
        } else {
            at = &(*at)->next;
        }
    }
    for (size_t i = 0; i < m->n_topics; i++) {
        apply_topic(rk, m->topics[i]);
    }
    rk->controller_id = m->controller_id;
    snprintf(rk->cluster_id, sizeof rk->cluster_id, "%s", m->cluster_id);
    rk->md_ready = true;
    if (rk->type == STRATA_PRODUCER) {
        cl_producer_md_updated(rk);
    }
    pthread_cond_broadcast(&rk->cond);
}

/* Runs on: loop (rpc callback). */
static void md_done(void *arg, int status, const struct st_rpc_response *rs)
{
    strata_t *rk = arg;
    pthread_mutex_lock(&rk->lock);
    rk->md_in_flight = false;
    if (status != 0 || rs->error != 0) {
        rk->md_wanted = true;
        ST_DEBUG("client", "client=%s metadata failed status=%s error=%d",
                 rk->name, st_strerror(status),
                 status == 0 ? rs->error : 0);
    } else {
        Strata__Client__MetadataResponse *m =
            strata__client__metadata_response__unpack(NULL, rs->body.len,
                                                       rs->body.base);
        if (m != NULL) {
            apply(rk, m);
            strata__client__metadata_response__free_unpacked(m, NULL);
        } else {
            rk->md_wanted = true;
        }
    }
    pthread_mutex_unlock(&rk->lock);
    cl_wake(rk);
}

void cl_md_tick(strata_t *rk, uint64_t now_ms)
{
    bool stale = rk->md_last_ms == 0 ||
                 now_ms - rk->md_last_ms >= rk->cc.metadata_max_age_ms;
    if (rk->md_in_flight || (!rk->md_wanted && !stale) ||
        (rk->md_last_ms != 0 && now_ms - rk->md_last_ms < MD_RETRY_MS)) {
        return;
    }
    struct cl_broker *b = cl_broker_any(rk);
    if (b == NULL || !b->up) {
        return; /* a broker coming up wakes the loop */
    }
    Strata__Client__MetadataRequest req =
        STRATA__CLIENT__METADATA_REQUEST__INIT;
    uint8_t buf[16];
    size_t len = strata__client__metadata_request__pack(&req, buf);
    if (cl_broker_send(b, STRATA__CLIENT__API__METADATA, buf, len, NULL, 0,
                       (uint32_t)rk->cc.request_timeout_ms, md_done,
                       rk) == 0) {
        rk->md_in_flight = true;
        rk->md_wanted = false;
        rk->md_last_ms = now_ms;
    }
}
