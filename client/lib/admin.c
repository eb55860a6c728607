/* Admin calls: topics, configs and the cluster, from any handle type.
 * Topic and config requests are forwarded by the broker to the active
 * controller (bodies are proto/controller.proto messages); describe
 * cluster is answered by the broker. Each call blocks its caller up to
 * its timeout while the I/O thread carries the request. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client.pb-c.h"
#include "client/lib/errors.h"
#include "client/lib/handle.h"
#include "common/alloc.h"
#include "controller.pb-c.h"

static void put(char *errstr, size_t cap, const char *what, const char *msg)
{
    if (errstr != NULL && cap > 0) {
        snprintf(errstr, cap, "%s: %s", what, msg);
    }
}

/* Send and wait; on success *r holds an answer without a header error. */
static strata_resp_err_t call(strata_t *rk, uint32_t api, const uint8_t *body,
                              size_t len, int timeout_ms, const char *what,
                              struct cl_req **r, char *errstr, size_t cap)
{
    char why[400];
    strata_resp_err_t err = cl_req_sync(rk, api, body, len, -1, timeout_ms, r,
                                        why, sizeof why);
    if (err != STRATA_ERR_NO_ERROR) {
        put(errstr, cap, what, why);
        return err;
    }
    if ((*r)->error != 0) {
        err = cl_err_from_broker((*r)->error);
        snprintf(why, sizeof why, "%s%s%s", strata_err2str(err),
                 (*r)->error_message[0] ? ": " : "", (*r)->error_message);
        put(errstr, cap, what, why);
        cl_req_release(rk, *r);
        return err;
    }
    return STRATA_ERR_NO_ERROR;
}

static void item(strata_topic_result_t *res, const char *name,
                 const Strata__Ctl__ItemError *e)
{
    res->name = name;
    res->err = e != NULL ? cl_err_from_broker(e->error) : STRATA_ERR_NO_ERROR;
    snprintf(res->errstr, sizeof res->errstr, "%s",
             e != NULL && e->message != NULL ? e->message : "");
}

strata_resp_err_t strata_admin_create_topics(strata_t *rk,
                                             const strata_new_topic_t *t,
                                             size_t n,
                                             strata_topic_result_t *results,
                                             int timeout_ms, char *errstr,
                                             size_t errstr_size)
{
    Strata__Ctl__CreatableTopic ct[n ? n : 1];
    Strata__Ctl__CreatableTopic *ctp[n ? n : 1];
    size_t n_cfg = 0;
    for (size_t i = 0; i < n; i++) {
        n_cfg += t[i].n_configs;
    }
    Strata__Ctl__ConfigEntry ce[n_cfg ? n_cfg : 1];
    Strata__Ctl__ConfigEntry *cep[n_cfg ? n_cfg : 1];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        Strata__Ctl__CreatableTopic init = STRATA__CTL__CREATABLE_TOPIC__INIT;
        ct[i] = init;
        ct[i].name = (char *)t[i].name;
        ct[i].partitions = t[i].num_partitions;
        ct[i].replication_factor = t[i].replication_factor;
        ct[i].configs = &cep[k];
        ct[i].n_configs = t[i].n_configs;
        for (size_t j = 0; j < t[i].n_configs; j++, k++) {
            Strata__Ctl__ConfigEntry ci = STRATA__CTL__CONFIG_ENTRY__INIT;
            ce[k] = ci;
            ce[k].key = (char *)t[i].configs[j].key;
            ce[k].value = (char *)t[i].configs[j].value;
            cep[k] = &ce[k];
        }
        ctp[i] = &ct[i];
    }
    Strata__Ctl__CreateTopicsRequest req =
        STRATA__CTL__CREATE_TOPICS_REQUEST__INIT;
    req.n_topics = n;
    req.topics = ctp;
    size_t len = strata__ctl__create_topics_request__get_packed_size(&req);
    uint8_t *body = st_malloc(len + 1);
    if (body == NULL) {
        return STRATA_ERR__NOMEM;
    }
    strata__ctl__create_topics_request__pack(&req, body);
    struct cl_req *r;
    strata_resp_err_t err = call(rk, STRATA__CLIENT__API__CREATE_TOPICS, body,
                                 len, timeout_ms, "create topics", &r, errstr,
                                 errstr_size);
    st_free(body);
    if (err != STRATA_ERR_NO_ERROR) {
        return err;
    }
    Strata__Ctl__CreateTopicsResponse *resp =
        strata__ctl__create_topics_response__unpack(NULL, r->resp_body.len,
                                                    r->resp_body.base);
    cl_req_release(rk, r);
    if (resp == NULL) {
        put(errstr, errstr_size, "create topics", "unparsable answer");
        return STRATA_ERR__BAD_MSG;
    }
    for (size_t i = 0; i < n; i++) {
        item(&results[i], t[i].name, NULL);
        results[i].err = STRATA_ERR__BAD_MSG;
        for (size_t j = 0; j < resp->n_topics; j++) {
            if (strcmp(resp->topics[j]->name, t[i].name) == 0) {
                item(&results[i], t[i].name, resp->topics[j]->error);
            }
        }
    }
    strata__ctl__create_topics_response__free_unpacked(resp, NULL);
    return STRATA_ERR_NO_ERROR;
}

strata_resp_err_t strata_admin_delete_topics(strata_t *rk,
                                             const char *const *names,
                                             size_t n,
                                             strata_topic_result_t *results,
                                             int timeout_ms, char *errstr,
                                             size_t errstr_size)
{
    Strata__Ctl__DeleteTopicsRequest req =
        STRATA__CTL__DELETE_TOPICS_REQUEST__INIT;
    req.n_names = n;
    req.names = (char **)names;
    size_t len = strata__ctl__delete_topics_request__get_packed_size(&req);
    uint8_t *body = st_malloc(len + 1);
    if (body == NULL) {
        return STRATA_ERR__NOMEM;
    }
    strata__ctl__delete_topics_request__pack(&req, body);
    struct cl_req *r;
    strata_resp_err_t err = call(rk, STRATA__CLIENT__API__DELETE_TOPICS, body,
                                 len, timeout_ms, "delete topics", &r, errstr,
                                 errstr_size);
    st_free(body);
    if (err != STRATA_ERR_NO_ERROR) {
        return err;
    }
    Strata__Ctl__DeleteTopicsResponse *resp =
        strata__ctl__delete_topics_response__unpack(NULL, r->resp_body.len,
                                                    r->resp_body.base);
    cl_req_release(rk, r);
    if (resp == NULL) {
        put(errstr, errstr_size, "delete topics", "unparsable answer");
        return STRATA_ERR__BAD_MSG;
    }
    for (size_t i = 0; i < n; i++) {
        item(&results[i], names[i], NULL);
        results[i].err = STRATA_ERR__BAD_MSG;
        for (size_t j = 0; j < resp->n_topics; j++) {
            if (strcmp(resp->topics[j]->name, names[i]) == 0) {
                item(&results[i], names[i], resp->topics[j]->error);
            }
        }
    }
    strata__ctl__delete_topics_response__free_unpacked(resp, NULL);
    return STRATA_ERR_NO_ERROR;
}

/* ---- metadata results ---- */

void strata_metadata_destroy(strata_metadata_t *md)
{
    if (md == NULL) {
        return;
    }
    for (int i = 0; i < md->broker_cnt; i++) {
        st_free(md->brokers[i].host);
        st_free(md->brokers[i].rack);
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        strata_topic_info_t *t = &md->topics[i];
        for (int j = 0; j < t->partition_cnt; j++) {
            st_free(t->partitions[j].replicas);
            st_free(t->partitions[j].isrs);
        }
        for (int j = 0; j < t->config_cnt; j++) {
            st_free((char *)t->configs[j].key);
            st_free((char *)t->configs[j].value);
        }
        st_free(t->partitions);
        st_free(t->configs);
        st_free(t->name);
        st_free(t->errstr);
    }
    st_free(md->brokers);
    st_free(md->topics);
    st_free(md->cluster_id);
    st_free(md);
}

static int32_t *dup_ids(const int32_t *v, size_t n)
{
    int32_t *o = st_calloc(n ? n : 1, sizeof *o);
    if (o != NULL && n > 0) {
        memcpy(o, v, n * sizeof *o);
    }
    return o;
}

static int topic_from(strata_topic_info_t *o, const Strata__Ctl__TopicInfo *t)
{
    o->name = st_strdup(t->name);
    o->err = t->error != NULL ? cl_err_from_broker(t->error->error) : 0;
    o->errstr = st_strdup(t->error != NULL && t->error->message != NULL
                              ? t->error->message
                              : "");
    o->partitions = st_calloc(t->n_partitions ? t->n_partitions : 1,
                              sizeof *o->partitions);
    o->configs = st_calloc(t->n_configs ? t->n_configs : 1,
                           sizeof *o->configs);
    if (o->name == NULL || o->errstr == NULL || o->partitions == NULL ||
        o->configs == NULL) {
        return -1;
    }
    for (size_t j = 0; j < t->n_partitions; j++) {
        const Strata__Ctl__PartitionInfo *p = t->partitions[j];
        strata_partition_info_t *q = &o->partitions[o->partition_cnt++];
        q->id = p->partition;
        q->leader = p->leader;
        q->leader_epoch = p->leader_epoch;
        q->replicas = dup_ids(p->replicas, p->n_replicas);
        q->replica_cnt = (int)p->n_replicas;
        q->isrs = dup_ids(p->isr, p->n_isr);
        q->isr_cnt = (int)p->n_isr;
        if (q->replicas == NULL || q->isrs == NULL) {
            return -1;
        }
    }
    for (size_t j = 0; j < t->n_configs; j++) {
        strata_config_entry_t *c = &o->configs[o->config_cnt++];
        c->key = st_strdup(t->configs[j]->key);
        c->value = st_strdup(t->configs[j]->value);
        if (c->key == NULL || c->value == NULL) {
            return -1;
        }
    }
    return 0;
}

static strata_resp_err_t topics_call(strata_t *rk, uint32_t api,
                                     const char *const *names, size_t n,
                                     strata_metadata_t **mdp, int timeout_ms,
                                     char *errstr, size_t cap)
{
    uint8_t *body;
    size_t len;
    const char *what = api == STRATA__CLIENT__API__LIST_TOPICS
                           ? "list topics"
                           : "describe topics";
    if (api == STRATA__CLIENT__API__LIST_TOPICS) {
        Strata__Ctl__ListTopicsRequest req =
            STRATA__CTL__LIST_TOPICS_REQUEST__INIT;
        len = strata__ctl__list_topics_request__get_packed_size(&req);
        body = st_malloc(len + 1);
        if (body != NULL) {
            strata__ctl__list_topics_request__pack(&req, body);
        }
    } else {
        Strata__Ctl__DescribeTopicsRequest req =
            STRATA__CTL__DESCRIBE_TOPICS_REQUEST__INIT;
        req.n_names = names != NULL ? n : 0;
        req.names = (char **)names;
        len = strata__ctl__describe_topics_request__get_packed_size(&req);
        body = st_malloc(len + 1);
        if (body != NULL) {
            strata__ctl__describe_topics_request__pack(&req, body);
        }
    }
    if (body == NULL) {
        return STRATA_ERR__NOMEM;
    }
    struct cl_req *r;
    strata_resp_err_t err = call(rk, api, body, len, timeout_ms, what, &r,
                                 errstr, cap);
    st_free(body);
    if (err != STRATA_ERR_NO_ERROR) {
        return err;
    }
    /* ListTopicsResponse and DescribeTopicsResponse share their layout of
     * fields 1-3 but are distinct types: unpack each as itself. */
    Strata__Ctl__TopicInfo **topics;
    size_t n_topics;
    Strata__Ctl__ListTopicsResponse *lr = NULL;
    Strata__Ctl__DescribeTopicsResponse *dr = NULL;
    if (api == STRATA__CLIENT__API__LIST_TOPICS) {
        lr = strata__ctl__list_topics_response__unpack(NULL, r->resp_body.len,
                                                       r->resp_body.base);
        topics = lr != NULL ? lr->topics : NULL;
        n_topics = lr != NULL ? lr->n_topics : 0;
    } else {
        dr = strata__ctl__describe_topics_response__unpack(
            NULL, r->resp_body.len, r->resp_body.base);
        topics = dr != NULL ? dr->topics : NULL;
        n_topics = dr != NULL ? dr->n_topics : 0;
    }
    cl_req_release(rk, r);
    if (lr == NULL && dr == NULL) {
        put(errstr, cap, what, "unparsable answer");
        return STRATA_ERR__BAD_MSG;
    }
    strata_metadata_t *md = st_calloc(1, sizeof *md);
    if (md != NULL) {
        md->controller_id = -1;
        md->topics = st_calloc(n_topics ? n_topics : 1, sizeof *md->topics);
        md->cluster_id = st_strdup("");
    }
    err = md == NULL || md->topics == NULL || md->cluster_id == NULL
              ? STRATA_ERR__NOMEM
              : STRATA_ERR_NO_ERROR;
    for (size_t i = 0; err == 0 && i < n_topics; i++) {
        if (topic_from(&md->topics[md->topic_cnt++], topics[i]) != 0) {
            err = STRATA_ERR__NOMEM;
        }
    }
    if (lr != NULL) {
        strata__ctl__list_topics_response__free_unpacked(lr, NULL);
    }
    if (dr != NULL) {
        strata__ctl__describe_topics_response__free_unpacked(dr, NULL);
    }
    if (err != STRATA_ERR_NO_ERROR) {
        strata_metadata_destroy(md);
        return err;
    }
    *mdp = md;
    return STRATA_ERR_NO_ERROR;
}

strata_resp_err_t strata_admin_describe_topics(strata_t *rk,
                                               const char *const *names,
                                               size_t n,
                                               strata_metadata_t **mdp,
                                               int timeout_ms, char *errstr,
                                               size_t errstr_size)
{
    return topics_call(rk, STRATA__CLIENT__API__DESCRIBE_TOPICS, names, n,
                       mdp, timeout_ms, errstr, errstr_size);
}

strata_resp_err_t strata_admin_list_topics(strata_t *rk,
                                           strata_metadata_t **mdp,
                                           int timeout_ms, char *errstr,
                                           size_t errstr_size)
{
    return topics_call(rk, STRATA__CLIENT__API__LIST_TOPICS, NULL, 0, mdp,
                       timeout_ms, errstr, errstr_size);
}

strata_resp_err_t strata_admin_describe_cluster(strata_t *rk,
                                                strata_metadata_t **mdp,
                                                int timeout_ms, char *errstr,
                                                size_t errstr_size)
{
    Strata__Client__DescribeClusterRequest req =
        STRATA__CLIENT__DESCRIBE_CLUSTER_REQUEST__INIT;
    uint8_t body[8];
    size_t len = strata__client__describe_cluster_request__pack(&req, body);
    struct cl_req *r;
    strata_resp_err_t err = call(rk, STRATA__CLIENT__API__DESCRIBE_CLUSTER,
                                 body, len, timeout_ms, "describe cluster",
                                 &r, errstr, errstr_size);
    if (err != STRATA_ERR_NO_ERROR) {
        return err;
    }
    Strata__Client__DescribeClusterResponse *resp =
        strata__client__describe_cluster_response__unpack(
            NULL, r->resp_body.len, r->resp_body.base);
    cl_req_release(rk, r);
    if (resp == NULL) {
        put(errstr, errstr_size, "describe cluster", "unparsable answer");
        return STRATA_ERR__BAD_MSG;
    }
    strata_metadata_t *md = st_calloc(1, sizeof *md);
    err = STRATA_ERR__NOMEM;
    if (md != NULL) {
        md->controller_id = resp->controller_id;
        md->cluster_id = st_strdup(resp->cluster_id);
        md->brokers = st_calloc(resp->n_brokers ? resp->n_brokers : 1,
                                sizeof *md->brokers);
        err = md->cluster_id != NULL && md->brokers != NULL
                  ? STRATA_ERR_NO_ERROR
                  : STRATA_ERR__NOMEM;
    }
    for (size_t i = 0; err == 0 && i < resp->n_brokers; i++) {
        const Strata__Client__BrokerInfo *b = resp->brokers[i];
        strata_broker_info_t *o = &md->brokers[md->broker_cnt++];
        o->id = b->id;
        o->host = st_strdup(b->n_listeners ? b->listeners[0]->host : "");
        o->port = b->n_listeners ? (int)b->listeners[0]->port : 0;
        o->rack = st_strdup(b->rack);
        o->fenced = b->fenced;
        if (o->host == NULL || o->rack == NULL) {
            err = STRATA_ERR__NOMEM;
        }
    }
    strata__client__describe_cluster_response__free_unpacked(resp, NULL);
    if (err != STRATA_ERR_NO_ERROR) {
        strata_metadata_destroy(md);
        return err;
    }
    *mdp = md;
    return STRATA_ERR_NO_ERROR;
}

strata_resp_err_t strata_admin_alter_configs(strata_t *rk, const char *topic,
                                             const strata_config_entry_t *c,
                                             size_t n, int timeout_ms,
                                             char *errstr, size_t errstr_size)
{
    Strata__Ctl__ConfigAlteration ca[n ? n : 1];
    Strata__Ctl__ConfigAlteration *cap[n ? n : 1];
    for (size_t i = 0; i < n; i++) {
        Strata__Ctl__ConfigAlteration init =
            STRATA__CTL__CONFIG_ALTERATION__INIT;
        ca[i] = init;
        ca[i].key = (char *)c[i].key;
        ca[i].value = (char *)(c[i].value != NULL ? c[i].value : "");
        ca[i].remove = c[i].remove != 0;
        cap[i] = &ca[i];
    }
    Strata__Ctl__AlterConfigsRequest req =
        STRATA__CTL__ALTER_CONFIGS_REQUEST__INIT;
    req.resource = STRATA__CTL__RESOURCE_TYPE__RESOURCE_TOPIC;
    req.name = (char *)topic;
    req.n_configs = n;
    req.configs = cap;
    size_t len = strata__ctl__alter_configs_request__get_packed_size(&req);
    uint8_t *body = st_malloc(len + 1);
    if (body == NULL) {
        return STRATA_ERR__NOMEM;
    }
    strata__ctl__alter_configs_request__pack(&req, body);
    struct cl_req *r;
    strata_resp_err_t err = call(rk, STRATA__CLIENT__API__ALTER_CONFIGS, body,
                                 len, timeout_ms, "alter configs", &r, errstr,
                                 errstr_size);
    st_free(body);
    if (err != STRATA_ERR_NO_ERROR) {
        return err;
    }
    Strata__Ctl__AlterConfigsResponse *resp =
        strata__ctl__alter_configs_response__unpack(NULL, r->resp_body.len,
                                                    r->resp_body.base);
    cl_req_release(rk, r);
    if (resp == NULL) {
        put(errstr, errstr_size, "alter configs", "unparsable answer");
        return STRATA_ERR__BAD_MSG;
    }
    if (resp->error != NULL && resp->error->error != 0) {
        err = cl_err_from_broker(resp->error->error);
        put(errstr, errstr_size, topic, resp->error->message);
    }
    strata__ctl__alter_configs_response__free_unpacked(resp, NULL);
    return err;
}

strata_resp_err_t strata_admin_create_partitions(
    strata_t *rk, const strata_new_partitions_t *t, size_t n,
    strata_topic_result_t *results, int timeout_ms, char *errstr,
    size_t errstr_size)
{
    Strata__Ctl__CreatePartitionsTopic ct[n ? n : 1];
    Strata__Ctl__CreatePartitionsTopic *ctp[n ? n : 1];
    for (size_t i = 0; i < n; i++) {
        if (t[i].topic == NULL || t[i].total <= 0) {
            put(errstr, errstr_size, "create partitions",
                "every entry needs a topic and a positive total");
            return STRATA_ERR__INVALID_ARG;
        }
        Strata__Ctl__CreatePartitionsTopic init =
            STRATA__CTL__CREATE_PARTITIONS_TOPIC__INIT;
        ct[i] = init;
        ct[i].name = (char *)t[i].topic;
        ct[i].total = t[i].total;
        ctp[i] = &ct[i];
    }
    Strata__Ctl__CreatePartitionsRequest req =
        STRATA__CTL__CREATE_PARTITIONS_REQUEST__INIT;
    req.n_topics = n;
    req.topics = ctp;
    size_t len = strata__ctl__create_partitions_request__get_packed_size(&req);
    uint8_t *body = st_malloc(len + 1);
    if (body == NULL) {
        return STRATA_ERR__NOMEM;
    }
    strata__ctl__create_partitions_request__pack(&req, body);
    struct cl_req *r;
    strata_resp_err_t err = call(rk, STRATA__CLIENT__API__CREATE_PARTITIONS,
                                 body, len, timeout_ms, "create partitions",
                                 &r, errstr, errstr_size);
    st_free(body);
    if (err != STRATA_ERR_NO_ERROR) {
        return err;
    }
    Strata__Ctl__CreatePartitionsResponse *resp =
        strata__ctl__create_partitions_response__unpack(
            NULL, r->resp_body.len, r->resp_body.base);
    cl_req_release(rk, r);
    if (resp == NULL) {
        put(errstr, errstr_size, "create partitions", "unparsable answer");
        return STRATA_ERR__BAD_MSG;
    }
    /* Results go back in request order; a topic named twice gets the
     * answers in the order the controller decided them. */
    bool used[resp->n_topics ? resp->n_topics : 1];
    memset(used, 0, sizeof used);
    for (size_t i = 0; i < n; i++) {
        item(&results[i], t[i].topic, NULL);
        results[i].err = STRATA_ERR__BAD_MSG;
        for (size_t j = 0; j < resp->n_topics; j++) {
            if (!used[j] && strcmp(resp->topics[j]->name, t[i].topic) == 0) {
                item(&results[i], t[i].topic, resp->topics[j]->error);
                used[j] = true;
                break;
            }
        }
    }
    strata__ctl__create_partitions_response__free_unpacked(resp, NULL);
    return STRATA_ERR_NO_ERROR;
}

/* ---- quorum ---- */

void strata_quorum_info_destroy(strata_quorum_info_t *q)
{
    if (q == NULL) {
        return;
    }
    for (int i = 0; i < q->voter_cnt; i++) {
        st_free(q->voters[i].host);
    }
    st_free(q->voters);
    st_free(q->cluster_id);
    st_free(q->answered_role);
    st_free(q);
}

static strata_quorum_info_t *
quorum_from(const Strata__Ctl__DescribeQuorumResponse *d)
{
    strata_quorum_info_t *q = st_calloc(1, sizeof *q);
    if (q == NULL) {
        return NULL;
    }
    q->cluster_id = st_strdup(d->cluster_id);
    q->answered_role = st_strdup(d->role);
    q->voters = st_calloc(d->n_voters ? d->n_voters : 1, sizeof *q->voters);
    q->leader_id = d->controller != NULL ? d->controller->leader_id : -1;
    q->term = d->controller != NULL ? d->controller->term : 0;
    q->answered_by = d->answered_by;
    q->commit_index = d->commit_index;
    q->last_index = d->last_index;
    q->applied_offset = d->applied_offset;
    bool ok = q->cluster_id != NULL && q->answered_role != NULL &&
              q->voters != NULL;
    for (size_t i = 0; ok && i < d->n_voters; i++) {
        const Strata__Ctl__VoterState *v = d->voters[i];
        strata_voter_info_t *o = &q->voters[q->voter_cnt++];
        o->id = v->id;
        o->host = st_strdup(v->host);
        o->port = (int)v->port;
        o->is_leader = v->id == q->leader_id;
        o->log_end_offset = v->log_end_offset;
        o->lag = v->lag;
        ok = o->host != NULL;
    }
    if (!ok) {
        strata_quorum_info_destroy(q);
        return NULL;
    }
    return q;
}

strata_resp_err_t strata_admin_describe_quorum(strata_t *rk,
                                               strata_quorum_info_t **qp,
                                               int timeout_ms, char *errstr,
                                               size_t errstr_size)
{
    Strata__Ctl__DescribeQuorumRequest req =
        STRATA__CTL__DESCRIBE_QUORUM_REQUEST__INIT;
    uint8_t body[8];
    size_t len = strata__ctl__describe_quorum_request__pack(&req, body);
    struct cl_req *r;
    strata_resp_err_t err = call(rk, STRATA__CLIENT__API__DESCRIBE_QUORUM,
                                 body, len, timeout_ms, "describe quorum", &r,
                                 errstr, errstr_size);
    if (err != STRATA_ERR_NO_ERROR) {
        return err;
    }
    Strata__Ctl__DescribeQuorumResponse *resp =
        strata__ctl__describe_quorum_response__unpack(NULL, r->resp_body.len,
                                                      r->resp_body.base);
    cl_req_release(rk, r);
    if (resp == NULL) {
        put(errstr, errstr_size, "describe quorum", "unparsable answer");
        return STRATA_ERR__BAD_MSG;
    }
    strata_quorum_info_t *q = quorum_from(resp);
    strata__ctl__describe_quorum_response__free_unpacked(resp, NULL);
    if (q == NULL) {
        return STRATA_ERR__NOMEM;
    }
    *qp = q;
    return STRATA_ERR_NO_ERROR;
}
