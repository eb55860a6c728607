/* Controller admin APIs: describe quorum, create/delete/describe/list
 * topics, create partitions, alter/describe configs (see service.h). */
#include <inttypes.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/service_int.h"

#define NAME_MAX_BYTES 256

/* ---- describe quorum (any voter) ---- */

static void describe_quorum(void *arg, const struct st_rpc_request *req,
                            struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    const struct raft *r = st_raft_driver_core(s->driver);
    svc_count(s, req->api);
    Strata__Ctl__DescribeQuorumResponse resp =
        STRATA__CTL__DESCRIBE_QUORUM_RESPONSE__INIT;
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    resp.controller = &ci;
    resp.answered_by = (int32_t)s->id;
    resp.role = (char *)raft_role_name(raft_role(r));
    resp.commit_index = raft_commit_index(r);
    resp.last_index = raft_last_index(r);
    resp.applied_offset = (int64_t)st_raft_driver_applied(s->driver);
    resp.cluster_id = s->cluster_id;
    Strata__Ctl__VoterState vs[RAFT_VOTERS_MAX];
    Strata__Ctl__VoterState *vps[RAFT_VOTERS_MAX];
    bool leader = raft_role(r) == RAFT_LEADER;
    size_t n = 0;
    for (uint32_t probe = 0; n < RAFT_VOTERS_MAX; probe++) {
        const struct st_raft_peer_addr *a =
            st_raft_driver_addr_at(s->driver, probe);
        if (a == NULL) {
            break;
        }
        strata__ctl__voter_state__init(&vs[n]);
        vs[n].id = (int32_t)a->id;
        vs[n].host = (char *)a->host;
        vs[n].port = a->port;
        raft_index m = leader ? st_raft_driver_match(s->driver, a->id) : 0;
        if (!leader && a->id == s->id) {
            m = raft_last_index(r);
        }
        vs[n].log_end_offset = (leader || a->id == s->id) ? (int64_t)m : -1;
        vs[n].lag = vs[n].log_end_offset < 0
                        ? -1
                        : (int64_t)raft_last_index(r) - (int64_t)m;
        vps[n] = &vs[n];
        n++;
    }
    resp.voters = vps;
    resp.n_voters = n;
    svc_reply(reply, 0, NULL, &resp.base);
}

/* ---- create topics ---- */

struct topic_result {
    char name[NAME_MAX_BYTES];
    int error;
    char msg[256];
};

struct create_ctx {
    size_t n;
    struct topic_result t[];
};

static void set_error(struct topic_result *t, int code, const char *msg)
{
    t->error = code;
    snprintf(t->msg, sizeof t->msg, "%s", msg ? msg : "");
}

static void create_done(struct st_ctl_service *s, struct waiter *w,
                        int error, const char *msg)
{
    struct create_ctx *c = w->ctx;
    if (w->reply == NULL) {
        return;
    }
    Strata__Ctl__CreateTopicsResponse resp =
        STRATA__CTL__CREATE_TOPICS_RESPONSE__INIT;
    Strata__Ctl__CreateTopicResult *rs = st_calloc(c->n + 1, sizeof *rs);
    Strata__Ctl__CreateTopicResult **rps = st_calloc(c->n + 1, sizeof *rps);
    Strata__Ctl__ItemError *es = st_calloc(c->n + 1, sizeof *es);
    if (rs == NULL || rps == NULL || es == NULL) {
        st_rpc_reply_send(w->reply, STRATA__ERROR_CODE__UNKNOWN, "no memory",
                          (struct st_bytes){0}, (struct st_bytes){0});
        goto out;
    }
    for (size_t i = 0; i < c->n; i++) {
        struct topic_result *t = &c->t[i];
        strata__ctl__create_topic_result__init(&rs[i]);
        strata__ctl__item_error__init(&es[i]);
        rs[i].name = t->name;
        if (t->error == 0 && error != 0) {
            set_error(t, error, msg);
        }
        const struct st_meta_topic *mt =
            t->error == 0 ? st_meta_topic_by_name(s->applied, t->name) : NULL;
        if (t->error == 0 && mt == NULL) {
            set_error(t, STRATA__ERROR_CODE__UNKNOWN,
                      "the topic record was refused when applied");
        }
        if (mt != NULL) {
            rs[i].topic_id.data = (uint8_t *)mt->id;
            rs[i].topic_id.len = ST_META_UUID_LEN;
        }
        es[i].error = t->error;
        es[i].message = t->msg;
        rs[i].error = &es[i];
        rps[i] = &rs[i];
    }
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    resp.controller = &ci;
    resp.topics = rps;
    resp.n_topics = c->n;
    svc_reply(w->reply, 0, NULL, &resp.base);
out:
    st_free(rs);
    st_free(rps);
    st_free(es);
}

static void create_topics(void *arg, const struct st_rpc_request *req,
                          struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    svc_count(s, req->api);
    if (!svc_is_active(s)) {
        svc_not_controller(s, reply);
        return;
    }
    Strata__Ctl__CreateTopicsRequest *in =
        strata__ctl__create_topics_request__unpack(NULL, req->body.len,
                                                   req->body.base);
    if (in == NULL) {
        svc_reply(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                  "bad CreateTopicsRequest", NULL);
        return;
    }
    struct create_ctx *c =
        st_calloc(1, sizeof *c + in->n_topics * sizeof c->t[0]);
    if (c == NULL) {
        strata__ctl__create_topics_request__free_unpacked(in, NULL);
        svc_reply(reply, STRATA__ERROR_CODE__UNKNOWN, "no memory", NULL);
        return;
    }
    c->n = in->n_topics;
    raft_index last = 0;
    for (size_t i = 0; i < in->n_topics; i++) {
        const Strata__Ctl__CreatableTopic *t = in->topics[i];
        snprintf(c->t[i].name, sizeof c->t[i].name, "%s", t->name);
        struct st_meta_kv kvs[64];
        if (t->n_configs > 64) {
            set_error(&c->t[i], STRATA__ERROR_CODE__INVALID_CONFIG,
                      "at most 64 configs per topic");
            continue;
        }
        for (size_t k = 0; k < t->n_configs; k++) {
            kvs[k].key = t->configs[k]->key;
            kvs[k].value = t->configs[k]->value;
        }
        struct st_meta_create_topic ct = {0};
        ct.name = t->name;
        ct.partitions = t->partitions == 0 ? -1 : t->partitions;
        ct.replication_factor =
            t->replication_factor == 0 ? -1 : t->replication_factor;
        ct.configs = kvs;
        ct.n_configs = t->n_configs;
        ct.validate_only = in->validate_only;
        ct.internal = t->internal;
        struct st_meta_recs recs;
        struct st_meta_err err = {0};
        st_meta_recs_init(&recs);
        if (!svc_is_active(s)) {
            set_error(&c->t[i], STRATA__ERROR_CODE__NOT_CONTROLLER,
                      "leadership lost during the request");
            continue;
        }
        int rv = st_meta_decide_create_topic(s->pending, &ct, &s->rng, &recs,
                                             &err);
        raft_index idx = 0;
        if (rv == 0) {
            rv = svc_propose(s, &recs, &idx);
            if (rv != 0) {
                err.code = rv == ST_ENOTLEADER
                               ? STRATA__ERROR_CODE__NOT_CONTROLLER
                               : STRATA__ERROR_CODE__UNKNOWN;
                snprintf(err.msg, sizeof err.msg, "%s", st_strerror(rv));
            }
        } else if (err.code == 0) {
            err.code = STRATA__ERROR_CODE__UNKNOWN;
            snprintf(err.msg, sizeof err.msg, "%s", st_strerror(rv));
        }
        st_meta_recs_close(&recs);
        if (rv != 0) {
            set_error(&c->t[i], err.code, err.msg);
        } else if (in->validate_only) {
            set_error(&c->t[i], 0, "");
        }
        last = idx > last ? idx : last;
    }
    strata__ctl__create_topics_request__free_unpacked(in, NULL);
    svc_wait(s, last, reply, create_done, c);
}

/* ---- delete topics ---- */

static void delete_done(struct st_ctl_service *s, struct waiter *w,
                        int error, const char *msg)
{
    struct create_ctx *c = w->ctx;
    if (w->reply == NULL) {
        return;
    }
    Strata__Ctl__DeleteTopicsResponse resp =
        STRATA__CTL__DELETE_TOPICS_RESPONSE__INIT;
    Strata__Ctl__DeleteTopicResult *rs = st_calloc(c->n + 1, sizeof *rs);
    Strata__Ctl__DeleteTopicResult **rps = st_calloc(c->n + 1, sizeof *rps);
    Strata__Ctl__ItemError *es = st_calloc(c->n + 1, sizeof *es);
    if (rs == NULL || rps == NULL || es == NULL) {
        st_rpc_reply_send(w->reply, STRATA__ERROR_CODE__UNKNOWN, "no memory",
                          (struct st_bytes){0}, (struct st_bytes){0});
        goto out;
    }
    for (size_t i = 0; i < c->n; i++) {
        strata__ctl__delete_topic_result__init(&rs[i]);
        strata__ctl__item_error__init(&es[i]);
        if (c->t[i].error == 0 && error != 0) {
            set_error(&c->t[i], error, msg);
        }
        rs[i].name = c->t[i].name;
        es[i].error = c->t[i].error;
        es[i].message = c->t[i].msg;
        rs[i].error = &es[i];
        rps[i] = &rs[i];
    }
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    resp.controller = &ci;
    resp.topics = rps;
    resp.n_topics = c->n;
    svc_reply(w->reply, 0, NULL, &resp.base);
out:
    st_free(rs);
    st_free(rps);
    st_free(es);
}

static void delete_topics(void *arg, const struct st_rpc_request *req,
                          struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    svc_count(s, req->api);
    if (!svc_is_active(s)) {
        svc_not_controller(s, reply);
        return;
    }
    Strata__Ctl__DeleteTopicsRequest *in =
        strata__ctl__delete_topics_request__unpack(NULL, req->body.len,
                                                   req->body.base);
    if (in == NULL) {
        svc_reply(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                  "bad DeleteTopicsRequest", NULL);
        return;
    }
    struct create_ctx *c =
        st_calloc(1, sizeof *c + in->n_names * sizeof c->t[0]);
    if (c == NULL) {
        strata__ctl__delete_topics_request__free_unpacked(in, NULL);
        svc_reply(reply, STRATA__ERROR_CODE__UNKNOWN, "no memory", NULL);
        return;
    }
    c->n = in->n_names;
    raft_index last = 0;
    for (size_t i = 0; i < in->n_names; i++) {
        snprintf(c->t[i].name, sizeof c->t[i].name, "%s", in->names[i]);
        if (!svc_is_active(s)) {
            set_error(&c->t[i], STRATA__ERROR_CODE__NOT_CONTROLLER,
                      "leadership lost during the request");
            continue;
        }
        struct st_meta_recs recs;
        struct st_meta_err err = {0};
        st_meta_recs_init(&recs);
        int rv = st_meta_decide_delete_topic(s->pending, in->names[i], &recs,
                                             &err);
        raft_index idx = 0;
        if (rv == 0) {
            rv = svc_propose(s, &recs, &idx);
            err.code = rv == 0              ? 0
                       : rv == ST_ENOTLEADER ? STRATA__ERROR_CODE__NOT_CONTROLLER
                                             : STRATA__ERROR_CODE__UNKNOWN;
            snprintf(err.msg, sizeof err.msg, "%s", rv ? st_strerror(rv) : "");
        }
        st_meta_recs_close(&recs);
        if (rv != 0) {
            set_error(&c->t[i], err.code ? err.code
                                         : STRATA__ERROR_CODE__UNKNOWN,
                      err.msg);
        }
        last = idx > last ? idx : last;
    }
    strata__ctl__delete_topics_request__free_unpacked(in, NULL);
    svc_wait(s, last, reply, delete_done, c);
}

/* ---- create partitions ---- */

static void partitions_done(struct st_ctl_service *s, struct waiter *w,
                            int error, const char *msg)
{
    struct create_ctx *c = w->ctx;
    if (w->reply == NULL) {
        return;
    }
    Strata__Ctl__CreatePartitionsResponse resp =
        STRATA__CTL__CREATE_PARTITIONS_RESPONSE__INIT;
    Strata__Ctl__CreatePartitionsResult *rs = st_calloc(c->n + 1, sizeof *rs);
    Strata__Ctl__CreatePartitionsResult **rps =
        st_calloc(c->n + 1, sizeof *rps);
    Strata__Ctl__ItemError *es = st_calloc(c->n + 1, sizeof *es);
    if (rs == NULL || rps == NULL || es == NULL) {
        st_rpc_reply_send(w->reply, STRATA__ERROR_CODE__UNKNOWN, "no memory",
                          (struct st_bytes){0}, (struct st_bytes){0});
        goto out;
    }
    for (size_t i = 0; i < c->n; i++) {
        strata__ctl__create_partitions_result__init(&rs[i]);
        strata__ctl__item_error__init(&es[i]);
        if (c->t[i].error == 0 && error != 0) {
            set_error(&c->t[i], error, msg);
        }
        rs[i].name = c->t[i].name;
        es[i].error = c->t[i].error;
        es[i].message = c->t[i].msg;
        rs[i].error = &es[i];
        rps[i] = &rs[i];
    }
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    resp.controller = &ci;
    resp.topics = rps;
    resp.n_topics = c->n;
    svc_reply(w->reply, 0, NULL, &resp.base);
out:
    st_free(rs);
    st_free(rps);
    st_free(es);
}

/* Like create_topics: decide each topic against the pending state (so a
 * topic named twice grows in two steps, the second checked against the
 * first), propose, and answer once the last record is applied. */
static void create_partitions(void *arg, const struct st_rpc_request *req,
                              struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    svc_count(s, req->api);
    if (!svc_is_active(s)) {
        svc_not_controller(s, reply);
        return;
    }
    Strata__Ctl__CreatePartitionsRequest *in =
        strata__ctl__create_partitions_request__unpack(NULL, req->body.len,
                                                       req->body.base);
    if (in == NULL) {
        svc_reply(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                  "bad CreatePartitionsRequest", NULL);
        return;
    }
    struct create_ctx *c =
        st_calloc(1, sizeof *c + in->n_topics * sizeof c->t[0]);
    if (c == NULL) {
        strata__ctl__create_partitions_request__free_unpacked(in, NULL);
        svc_reply(reply, STRATA__ERROR_CODE__UNKNOWN, "no memory", NULL);
        return;
    }
    c->n = in->n_topics;
    raft_index last = 0;
    for (size_t i = 0; i < in->n_topics; i++) {
        const Strata__Ctl__CreatePartitionsTopic *t = in->topics[i];
        snprintf(c->t[i].name, sizeof c->t[i].name, "%s", t->name);
        if (!svc_is_active(s)) {
            set_error(&c->t[i], STRATA__ERROR_CODE__NOT_CONTROLLER,
                      "leadership lost during the request");
            continue;
        }
        struct st_meta_recs recs;
        struct st_meta_err err = {0};
        st_meta_recs_init(&recs);
        int rv = st_meta_decide_create_partitions(s->pending, t->name,
                                                  t->total, &s->rng, &recs,
                                                  &err);
        raft_index idx = 0;
        if (rv == 0 && !in->validate_only) {
            rv = svc_propose(s, &recs, &idx);
            err.code = rv == 0              ? 0
                       : rv == ST_ENOTLEADER ? STRATA__ERROR_CODE__NOT_CONTROLLER
                                             : STRATA__ERROR_CODE__UNKNOWN;
            snprintf(err.msg, sizeof err.msg, "%s", rv ? st_strerror(rv) : "");
        }
        st_meta_recs_close(&recs);
        if (rv != 0) {
            set_error(&c->t[i], err.code ? err.code
                                         : STRATA__ERROR_CODE__UNKNOWN,
                      err.msg);
        }
        last = idx > last ? idx : last;
    }
    strata__ctl__create_partitions_request__free_unpacked(in, NULL);
    svc_wait(s, last, reply, partitions_done, c);
}

/* ---- describe / list topics (any voter, applied state) ---- */

struct topic_view {
    Strata__Ctl__TopicInfo info;
    Strata__Ctl__ItemError err;
    Strata__Ctl__PartitionInfo *parts;
    Strata__Ctl__PartitionInfo **pps;
    Strata__Ctl__ConfigEntry *cfg;
    Strata__Ctl__ConfigEntry **cps;
};

static int topic_fill(const struct st_meta *m, const struct st_meta_topic *t,
                      bool full, struct topic_view *v)
{
    strata__ctl__topic_info__init(&v->info);
    v->info.name = t->name;
    v->info.topic_id.data = (uint8_t *)t->id;
    v->info.topic_id.len = ST_META_UUID_LEN;
    size_t np = (size_t)t->n_parts;
    v->parts = st_calloc(np + 1, sizeof *v->parts);
    v->pps = st_calloc(np + 1, sizeof *v->pps);
    if (v->parts == NULL || v->pps == NULL) {
        return ST_ENOMEM;
    }
    for (size_t p = 0; p < np; p++) {
        const struct st_meta_partition *mp = &t->parts[p];
        Strata__Ctl__PartitionInfo *pi = &v->parts[p];
        strata__ctl__partition_info__init(pi);
        pi->partition = (int32_t)p;
        if (full) {
            pi->replicas = mp->replicas;
            pi->n_replicas = (size_t)mp->n_replicas;
            pi->isr = mp->isr;
            pi->n_isr = (size_t)mp->n_isr;
            pi->leader = mp->leader;
            pi->leader_epoch = mp->leader_epoch;
            pi->partition_epoch = mp->partition_epoch;
        }
        v->pps[p] = pi;
    }
    v->info.partitions = v->pps;
    v->info.n_partitions = np;
    if (!full) {
        return 0;
    }
    size_t nc = 0;
    for (size_t i = 0; i < st_meta_config_count(m); i++) {
        const struct st_meta_config *c = st_meta_config_at(m, i);
        nc += c->resource == ST_META_RES_TOPIC && strcmp(c->name, t->name) == 0;
    }
    v->cfg = st_calloc(nc + 1, sizeof *v->cfg);
    v->cps = st_calloc(nc + 1, sizeof *v->cps);
    if (v->cfg == NULL || v->cps == NULL) {
        return ST_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < st_meta_config_count(m) && k < nc; i++) {
        const struct st_meta_config *c = st_meta_config_at(m, i);
        if (c->resource == ST_META_RES_TOPIC && strcmp(c->name, t->name) == 0) {
            strata__ctl__config_entry__init(&v->cfg[k]);
            v->cfg[k].key = c->key;
            v->cfg[k].value = c->value;
            v->cps[k] = &v->cfg[k];
            k++;
        }
    }
    v->info.configs = v->cps;
    v->info.n_configs = k;
    return 0;
}

static void topic_views_free(struct topic_view *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        st_free(v[i].parts);
        st_free(v[i].pps);
        st_free(v[i].cfg);
        st_free(v[i].cps);
    }
    st_free(v);
}

static void describe_topics_common(struct st_ctl_service *s,
                                   char **names, size_t n_names, bool full,
                                   struct st_rpc_reply *reply)
{
    const struct st_meta *m = s->applied;
    size_t n = n_names ? n_names : st_meta_topic_count(m);
    struct topic_view *v = st_calloc(n + 1, sizeof *v);
    Strata__Ctl__TopicInfo **tps = st_calloc(n + 1, sizeof *tps);
    int rv = (v && tps) ? 0 : ST_ENOMEM;
    for (size_t i = 0; rv == 0 && i < n; i++) {
        const struct st_meta_topic *t =
            n_names ? st_meta_topic_by_name(m, names[i])
                    : st_meta_topic_at(m, i);
        if (t != NULL) {
            rv = topic_fill(m, t, full, &v[i]);
        } else {
            strata__ctl__topic_info__init(&v[i].info);
            strata__ctl__item_error__init(&v[i].err);
            v[i].info.name = names[i];
            v[i].err.error = STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
            v[i].err.message = "unknown topic";
            v[i].info.error = &v[i].err;
        }
        tps[i] = &v[i].info;
    }
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    if (rv != 0) {
        svc_reply(reply, STRATA__ERROR_CODE__UNKNOWN, "no memory", NULL);
    } else if (full) {
        Strata__Ctl__DescribeTopicsResponse resp =
            STRATA__CTL__DESCRIBE_TOPICS_RESPONSE__INIT;
        resp.controller = &ci;
        resp.topics = tps;
        resp.n_topics = n;
        resp.applied_offset = st_meta_last_offset(m);
        svc_reply(reply, 0, NULL, &resp.base);
    } else {
        Strata__Ctl__ListTopicsResponse resp =
            STRATA__CTL__LIST_TOPICS_RESPONSE__INIT;
        resp.controller = &ci;
        resp.topics = tps;
        resp.n_topics = n;
        resp.applied_offset = st_meta_last_offset(m);
        svc_reply(reply, 0, NULL, &resp.base);
    }
    if (v != NULL) {
        topic_views_free(v, n);
    }
    st_free(tps);
}

static void describe_topics(void *arg, const struct st_rpc_request *req,
                            struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    svc_count(s, req->api);
    Strata__Ctl__DescribeTopicsRequest *in =
        strata__ctl__describe_topics_request__unpack(NULL, req->body.len,
                                                     req->body.base);
    if (in == NULL) {
        svc_reply(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                  "bad DescribeTopicsRequest", NULL);
        return;
    }
    describe_topics_common(s, in->names, in->n_names, true, reply);
    strata__ctl__describe_topics_request__free_unpacked(in, NULL);
}

static void list_topics(void *arg, const struct st_rpc_request *req,
                        struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    svc_count(s, req->api);
    describe_topics_common(s, NULL, 0, false, reply);
}

/* ---- configs ---- */

static void alter_done(struct st_ctl_service *s, struct waiter *w, int error,
                       const char *msg)
{
    struct st_meta_err *e = w->ctx;
    if (w->reply == NULL) {
        return;
    }
    if (e->code == 0 && error != 0) {
        e->code = error;
        snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "");
    }
    Strata__Ctl__AlterConfigsResponse resp =
        STRATA__CTL__ALTER_CONFIGS_RESPONSE__INIT;
    Strata__Ctl__ItemError ie = STRATA__CTL__ITEM_ERROR__INIT;
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    ie.error = e->code;
    ie.message = e->msg;
    resp.controller = &ci;
    resp.error = &ie;
    svc_reply(w->reply, 0, NULL, &resp.base);
}

static void alter_configs(void *arg, const struct st_rpc_request *req,
                          struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    svc_count(s, req->api);
    if (!svc_is_active(s)) {
        svc_not_controller(s, reply);
        return;
    }
    Strata__Ctl__AlterConfigsRequest *in =
        strata__ctl__alter_configs_request__unpack(NULL, req->body.len,
                                                   req->body.base);
    struct st_meta_err *err = st_calloc(1, sizeof *err);
    if (in == NULL || err == NULL || in->n_configs > 256) {
        svc_reply(reply, STRATA__ERROR_CODE__INVALID_REQUEST,
                  "bad AlterConfigsRequest", NULL);
        st_free(err);
        if (in != NULL) {
            strata__ctl__alter_configs_request__free_unpacked(in, NULL);
        }
        return;
    }
    struct st_meta_kv kvs[256];
    for (size_t i = 0; i < in->n_configs; i++) {
        kvs[i].key = in->configs[i]->key;
        kvs[i].value = in->configs[i]->remove ? NULL : in->configs[i]->value;
    }
    struct st_meta_recs recs;
    st_meta_recs_init(&recs);
    int rv = st_meta_decide_alter_configs(
        s->pending, (enum st_meta_resource)in->resource, in->name, kvs,
        in->n_configs, in->validate_only, &recs, err);
    strata__ctl__alter_configs_request__free_unpacked(in, NULL);
    if (rv != 0) {
        if (err->code == 0) {
            err->code = STRATA__ERROR_CODE__UNKNOWN;
        }
        st_meta_recs_close(&recs); /* nothing to propose */
    }
    svc_propose_and_wait(s, &recs, reply, alter_done, err);
    st_meta_recs_close(&recs);
}

static void describe_configs(void *arg, const struct st_rpc_request *req,
                             struct st_rpc_reply *reply)
{
    struct st_ctl_service *s = arg;
    svc_count(s, req->api);
    Strata__Ctl__DescribeConfigsRequest *in =
        strata__ctl__describe_configs_request__unpack(NULL, req->body.len,
                                                      req->body.base);
    if (in == NULL) {
        svc_reply(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                  "bad DescribeConfigsRequest", NULL);
        return;
    }
    const struct st_meta *m = s->applied;
    size_t nc = st_meta_config_count(m);
    Strata__Ctl__ConfigEntry *es = st_calloc(nc + 1, sizeof *es);
    Strata__Ctl__ConfigEntry **eps = st_calloc(nc + 1, sizeof *eps);
    Strata__Ctl__DescribeConfigsResponse resp =
        STRATA__CTL__DESCRIBE_CONFIGS_RESPONSE__INIT;
    Strata__Ctl__ItemError ie = STRATA__CTL__ITEM_ERROR__INIT;
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    resp.controller = &ci;
    resp.error = &ie;
    if (es == NULL || eps == NULL) {
        svc_reply(reply, STRATA__ERROR_CODE__UNKNOWN, "no memory", NULL);
        goto out;
    }
    if (in->resource == STRATA__CTL__RESOURCE_TYPE__RESOURCE_TOPIC &&
        st_meta_topic_by_name(m, in->name) == NULL) {
        ie.error = STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
        ie.message = "unknown topic";
    }
    size_t k = 0;
    for (size_t i = 0; i < nc; i++) {
        const struct st_meta_config *c = st_meta_config_at(m, i);
        if ((int)c->resource == (int)in->resource &&
            strcmp(c->name, in->name) == 0) {
            strata__ctl__config_entry__init(&es[k]);
            es[k].key = c->key;
            es[k].value = c->value;
            eps[k] = &es[k];
            k++;
        }
    }
    resp.configs = eps;
    resp.n_configs = k;
    svc_reply(reply, 0, NULL, &resp.base);
out:
    st_free(es);
    st_free(eps);
    strata__ctl__describe_configs_request__free_unpacked(in, NULL);
}

int svc_admin_register(struct st_ctl_service *s)
{
    static const struct {
        uint32_t api;
        st_rpc_handler_fn fn;
    } apis[] = {
        {STRATA__CTL__API__DESCRIBE_QUORUM, describe_quorum},
        {STRATA__CTL__API__CREATE_TOPICS, create_topics},
        {STRATA__CTL__API__DELETE_TOPICS, delete_topics},
        {STRATA__CTL__API__DESCRIBE_TOPICS, describe_topics},
        {STRATA__CTL__API__LIST_TOPICS, list_topics},
        {STRATA__CTL__API__ALTER_CONFIGS, alter_configs},
        {STRATA__CTL__API__DESCRIBE_CONFIGS, describe_configs},
        {STRATA__CTL__API__CREATE_PARTITIONS, create_partitions},
    };
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++) {
        int rv = st_rpc_server_register(s->server, apis[i].api, 0, 0, 0,
                                        apis[i].fn, s);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}
