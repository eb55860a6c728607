/* Deciding topic changes: create (with placement), add partitions, delete,
 * and alter configs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/decide_int.h"
#include "controller/metadata_config.h"
#include "controller/placement.h"
#include "controller/topic_name.h"

#define PARTITIONS_MAX 100000

static int64_t cluster_long(const struct st_meta *m, const char *key)
{
    const char *v = st_meta_config_get(m, ST_META_RES_CLUSTER, "", key);
    if (v == NULL) {
        v = st_meta_config_def_find(key)->default_value;
    }
    int64_t out = -1;
    st_meta_config_parse_long(v, &out);
    return out;
}

/* The unfenced brokers with their current leader and replica counts.
 * Ownership: *out is the caller's (st_free). Errors: ST_ENOMEM. */
static int load_brokers(const struct st_meta *m, struct st_place_broker **out,
                        size_t *n)
{
    struct st_place_broker *b =
        st_calloc(st_meta_broker_count(m) + 1, sizeof *b);
    if (b == NULL) {
        return ST_ENOMEM;
    }
    *n = 0;
    /* The load so far is kept by the state itself (metadata_load.c), so
     * this is O(brokers), not a scan of every partition. */
    for (size_t i = 0; i < st_meta_broker_count(m); i++) {
        const struct st_meta_broker *mb = st_meta_broker_at(m, i);
        if (!mb->fenced) {
            b[*n].id = mb->id;
            b[*n].rack = mb->rack;
            b[*n].replicas = mb->n_replicas;
            b[*n].leaders = mb->n_leading;
            (*n)++;
        }
    }
    *out = b;
    return 0;
}

static int check_configs(const struct st_meta_kv *kvs, size_t n,
                         enum st_meta_resource res, bool allow_delete,
                         struct st_meta_err *err)
{
    char why[200];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(kvs[i].key, kvs[j].key) == 0) {
                return stdec_fail(err, ST_EINVAL,
                                  STRATA__ERROR_CODE__INVALID_REQUEST,
                                  "config key '%s' is given twice",
                                  kvs[i].key);
            }
        }
        if (kvs[i].value == NULL && allow_delete) {
            /* Deleting needs a key that could have been set there. */
            if (st_meta_config_validate(res, kvs[i].key,
                                        st_meta_config_def_find(kvs[i].key)
                                            ? st_meta_config_def_find(
                                                  kvs[i].key)
                                                  ->default_value
                                            : "",
                                        why, sizeof why) != 0) {
                return stdec_fail(err, ST_ECONFIG,
                                  STRATA__ERROR_CODE__INVALID_CONFIG, "%s",
                                  why);
            }
            continue;
        }
        if (st_meta_config_validate(res, kvs[i].key, kvs[i].value, why,
                                    sizeof why) != 0) {
            return stdec_fail(err, ST_ECONFIG,
                              STRATA__ERROR_CODE__INVALID_CONFIG, "%s", why);
        }
    }
    return 0;
}

static int check_name(const struct st_meta *m,
                      const struct st_meta_create_topic *req,
                      struct st_meta_err *err)
{
    char why[200];
    if (st_topic_name_validate(req->name, req->internal, why, sizeof why) !=
        0) {
        return stdec_fail(err, ST_EINVAL, STRATA__ERROR_CODE__INVALID_TOPIC,
                          "%s", why);
    }
    if (st_meta_topic_by_name(m, req->name) != NULL) {
        return stdec_fail(err, ST_EEXIST,
                          STRATA__ERROR_CODE__TOPIC_ALREADY_EXISTS,
                          "topic '%s' already exists", req->name);
    }
    const struct st_meta_topic *other = st_meta_topic_colliding(m, req->name);
    if (other != NULL) {
        return stdec_fail(err, ST_EINVAL, STRATA__ERROR_CODE__INVALID_TOPIC,
                          "topic '%s' collides with existing topic '%s' "
                          "('.' and '_' are the same in metric names)",
                          req->name, other->name);
    }
    return 0;
}

/* Explicit assignments: every replica registered, distinct, the same
 * count everywhere, at least one unfenced per partition. */
static int check_assignments(const struct st_meta *m,
                             const struct st_meta_create_topic *req,
                             int32_t *n_parts, int32_t *rf,
                             struct st_meta_err *err)
{
    size_t n = req->n_assignments;
    int width = n > 0 ? req->assignments[0].n_replicas : 0;
    if (n == 0 || n > PARTITIONS_MAX ||
        (req->partitions != -1 && (size_t)req->partitions != n)) {
        return stdec_fail(err, ST_EINVAL,
                          STRATA__ERROR_CODE__INVALID_PARTITIONS,
                          "%zu assignments do not match %d partitions", n,
                          (int)req->partitions);
    }
    if (width < 1 || (req->replication_factor != -1 &&
                      req->replication_factor != width)) {
        return stdec_fail(err, ST_EINVAL,
                          STRATA__ERROR_CODE__INVALID_REPLICATION_FACTOR,
                          "assignment has %d replicas, replication factor is "
                          "%d",
                          width, (int)req->replication_factor);
    }
    for (size_t p = 0; p < n; p++) {
        const struct st_meta_assignment *a = &req->assignments[p];
        bool any_live = false;
        if (a->n_replicas != width) {
            return stdec_fail(err, ST_EINVAL,
                              STRATA__ERROR_CODE__INVALID_REQUEST,
                              "partition %zu has %d replicas, partition 0 "
                              "has %d",
                              p, a->n_replicas, width);
        }
        for (int i = 0; i < a->n_replicas; i++) {
            const struct st_meta_broker *b =
                st_meta_broker_find(m, a->replicas[i]);
            if (b == NULL) {
                return stdec_fail(err, ST_EINVAL,
                                  STRATA__ERROR_CODE__INVALID_REQUEST,
                                  "partition %zu: broker %d is not "
                                  "registered",
                                  p, (int)a->replicas[i]);
            }
            for (int j = 0; j < i; j++) {
                if (a->replicas[j] == a->replicas[i]) {
                    return stdec_fail(err, ST_EINVAL,
                                      STRATA__ERROR_CODE__INVALID_REQUEST,
                                      "partition %zu: broker %d appears "
                                      "twice",
                                      p, (int)a->replicas[i]);
                }
            }
            any_live |= !b->fenced;
        }
        if (!any_live) {
            return stdec_fail(err, ST_EINVAL,
                              STRATA__ERROR_CODE__INVALID_REQUEST,
                              "partition %zu: no replica is unfenced", p);
        }
    }
    *n_parts = (int32_t)n;
    *rf = width;
    return 0;
}

static void new_topic_id(const struct st_meta *m, uint64_t *rng,
                         uint8_t id[ST_META_UUID_LEN])
{
    static const uint8_t zero[ST_META_UUID_LEN];
    do {
        uint64_t a = st_meta_rand(rng), b = st_meta_rand(rng);
        memcpy(id, &a, 8);
        memcpy(id + 8, &b, 8);
        id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* uuid v4 shape */
        id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
    } while (memcmp(id, zero, ST_META_UUID_LEN) == 0 ||
             st_meta_topic_by_id(m, id) != NULL);
}

/* Fill partition records @cp / @cpp for @n partitions from @replicas
 * (n * rf), numbering from @first. ISR = unfenced replicas; leader = the
 * first of them. @isr must hold n * rf ids. */
static void fill_partitions(const struct st_meta *m, int32_t n, int rf,
                            int32_t first, int32_t *replicas, int32_t *isr,
                            Strata__Meta__CreatePartition *cp,
                            Strata__Meta__CreatePartition **cpp)
{
    for (int32_t p = 0; p < n; p++) {
        int32_t *rep = &replicas[(size_t)p * rf];
        int32_t *in = &isr[(size_t)p * rf];
        size_t n_in = 0;
        for (int i = 0; i < rf; i++) {
            const struct st_meta_broker *b = st_meta_broker_find(m, rep[i]);
            if (b != NULL && !b->fenced) {
                in[n_in++] = rep[i];
            }
        }
        strata__meta__create_partition__init(&cp[p]);
        cp[p].partition = first + p;
        cp[p].replicas = rep;
        cp[p].n_replicas = (size_t)rf;
        cp[p].isr = in;
        cp[p].n_isr = n_in;
        cp[p].leader = in[0];
        cpp[p] = &cp[p];
    }
}

struct parts_buf {
    int32_t *replicas, *isr;
    Strata__Meta__CreatePartition *cp, **cpp;
};

static int parts_alloc(struct parts_buf *pb, int32_t n, int rf)
{
    pb->replicas = st_calloc((size_t)n * rf, sizeof *pb->replicas);
    pb->isr = st_calloc((size_t)n * rf, sizeof *pb->isr);
    pb->cp = st_calloc((size_t)n, sizeof *pb->cp);
    pb->cpp = st_calloc((size_t)n, sizeof *pb->cpp);
    if (!pb->replicas || !pb->isr || !pb->cp || !pb->cpp) {
        return ST_ENOMEM;
    }
    return 0;
}

static void parts_free(struct parts_buf *pb)
{
    st_free(pb->replicas);
    st_free(pb->isr);
    st_free(pb->cp);
    st_free(pb->cpp);
}

/* Place @n partitions of @rf replicas into pb->replicas. */
static int place(const struct st_meta *m, int32_t n, int rf, uint64_t *rng,
                 struct parts_buf *pb, struct st_meta_err *err)
{
    struct st_place_broker *b;
    size_t nb;
    char why[200];
    int rv = load_brokers(m, &b, &nb);
    if (rv != 0) {
        return rv;
    }
    rv = st_place(b, nb, n, rf, rng, pb->replicas, why, sizeof why);
    st_free(b);
    if (rv == ST_EINVAL) {
        return stdec_fail(err, rv,
                          STRATA__ERROR_CODE__INVALID_REPLICATION_FACTOR,
                          "%s", why);
    }
    return rv;
}

static int sizes(const struct st_meta *m,
                 const struct st_meta_create_topic *req, int32_t *n_parts,
                 int32_t *rf, struct st_meta_err *err)
{
    if (req->assignments != NULL) {
        return check_assignments(m, req, n_parts, rf, err);
    }
    int64_t np = req->partitions == -1 ? cluster_long(m, "num.partitions")
                                       : req->partitions;
    int64_t r = req->replication_factor == -1
                    ? cluster_long(m, "default.replication.factor")
                    : req->replication_factor;
    if (np < 1 || np > PARTITIONS_MAX) {
        return stdec_fail(err, ST_EINVAL,
                          STRATA__ERROR_CODE__INVALID_PARTITIONS,
                          "partition count must be in [1, %d], not %lld",
                          PARTITIONS_MAX, (long long)np);
    }
    if (r < 1 || r > INT16_MAX) {
        return stdec_fail(err, ST_EINVAL,
                          STRATA__ERROR_CODE__INVALID_REPLICATION_FACTOR,
                          "replication factor must be at least 1, not %lld",
                          (long long)r);
    }
    *n_parts = (int32_t)np;
    *rf = (int32_t)r;
    return 0;
}

int st_meta_decide_create_topic(const struct st_meta *m,
                                const struct st_meta_create_topic *req,
                                uint64_t *rng, struct st_meta_recs *out,
                                struct st_meta_err *err)
{
    int32_t n_parts = 0, rf = 0;
    stdec_ok(err);
    int rv = check_name(m, req, err);
    if (rv == 0) {
        rv = check_configs(req->configs, req->n_configs, ST_META_RES_TOPIC,
                           false, err);
    }
    if (rv == 0) {
        rv = sizes(m, req, &n_parts, &rf, err);
    }
    if (rv != 0) {
        return rv;
    }
    struct parts_buf pb;
    Strata__Meta__TopicConfig *tc = st_calloc(req->n_configs + 1, sizeof *tc);
    Strata__Meta__TopicConfig **tcp =
        st_calloc(req->n_configs + 1, sizeof *tcp);
    rv = parts_alloc(&pb, n_parts, rf);
    if (rv != 0 || tc == NULL || tcp == NULL) {
        rv = ST_ENOMEM;
        goto out;
    }
    if (req->assignments != NULL) {
        for (int32_t p = 0; p < n_parts; p++) {
            memcpy(&pb.replicas[(size_t)p * rf], req->assignments[p].replicas,
                   (size_t)rf * sizeof *pb.replicas);
        }
    } else {
        rv = place(m, n_parts, rf, rng, &pb, err);
        if (rv != 0) {
            goto out;
        }
    }
    if (req->validate_only) {
        goto out;
    }
    uint8_t id[ST_META_UUID_LEN];
    new_topic_id(m, rng, id);
    fill_partitions(m, n_parts, rf, 0, pb.replicas, pb.isr, pb.cp, pb.cpp);
    for (size_t i = 0; i < req->n_configs; i++) {
        strata__meta__topic_config__init(&tc[i]);
        tc[i].key = (char *)req->configs[i].key;
        tc[i].value = (char *)req->configs[i].value;
        tcp[i] = &tc[i];
    }
    Strata__Meta__CreateTopic ct = STRATA__META__CREATE_TOPIC__INIT;
    ct.name = (char *)req->name;
    ct.topic_id.data = id;
    ct.topic_id.len = ST_META_UUID_LEN;
    ct.configs = tcp;
    ct.n_configs = req->n_configs;
    ct.partitions = pb.cpp;
    ct.n_partitions = (size_t)n_parts;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_CREATE_TOPIC;
    r.create_topic = &ct;
    rv = stdec_push(out, &r);
out:
    parts_free(&pb);
    st_free(tc);
    st_free(tcp);
    return rv;
}

int st_meta_decide_create_partitions(const struct st_meta *m,
                                     const char *topic, int32_t total,
                                     uint64_t *rng, struct st_meta_recs *out,
                                     struct st_meta_err *err)
{
    stdec_ok(err);
    const struct st_meta_topic *t = st_meta_topic_by_name(m, topic);
    if (t == NULL) {
        return stdec_fail(err, ST_ENOENT,
                          STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION,
                          "topic '%s' does not exist", topic);
    }
    if (total <= t->n_parts || total > PARTITIONS_MAX) {
        return stdec_fail(err, ST_EINVAL,
                          STRATA__ERROR_CODE__INVALID_PARTITIONS,
                          "topic '%s' has %d partitions; the new count %d "
                          "must be larger (and at most %d)",
                          topic, (int)t->n_parts, (int)total, PARTITIONS_MAX);
    }
    int32_t n = total - t->n_parts;
    int rf = t->parts[0].n_replicas;
    struct parts_buf pb;
    int rv = parts_alloc(&pb, n, rf);
    if (rv == 0) {
        rv = place(m, n, rf, rng, &pb, err);
    }
    if (rv == 0) {
        fill_partitions(m, n, rf, t->n_parts, pb.replicas, pb.isr, pb.cp,
                        pb.cpp);
    }
    for (int32_t p = 0; rv == 0 && p < n; p++) {
        pb.cp[p].topic_id.data = (uint8_t *)t->id;
        pb.cp[p].topic_id.len = ST_META_UUID_LEN;
        Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
        r.body_case = STRATA__META__METADATA_RECORD__BODY_CREATE_PARTITION;
        r.create_partition = &pb.cp[p];
        rv = stdec_push(out, &r);
    }
    parts_free(&pb);
    return rv;
}

int st_meta_decide_delete_topic(const struct st_meta *m, const char *name,
                                struct st_meta_recs *out,
                                struct st_meta_err *err)
{
    stdec_ok(err);
    const struct st_meta_topic *t = st_meta_topic_by_name(m, name);
    if (t == NULL) {
        return stdec_fail(err, ST_ENOENT,
                          STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION,
                          "topic '%s' does not exist", name);
    }
    Strata__Meta__DeleteTopic dt = STRATA__META__DELETE_TOPIC__INIT;
    dt.topic_id.data = (uint8_t *)t->id;
    dt.topic_id.len = ST_META_UUID_LEN;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_DELETE_TOPIC;
    r.delete_topic = &dt;
    return stdec_push(out, &r);
}

static int check_resource(const struct st_meta *m, enum st_meta_resource res,
                          const char *name, struct st_meta_err *err)
{
    switch (res) {
    case ST_META_RES_TOPIC:
        if (st_meta_topic_by_name(m, name) == NULL) {
            return stdec_fail(err, ST_ENOENT,
                              STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION,
                              "topic '%s' does not exist", name);
        }
        return 0;
    case ST_META_RES_CLUSTER:
        if (name[0] != '\0') {
            return stdec_fail(err, ST_EINVAL,
                              STRATA__ERROR_CODE__INVALID_REQUEST,
                              "cluster configs take an empty name, not '%s'",
                              name);
        }
        return 0;
    case ST_META_RES_BROKER: {
        char *end;
        long id = strtol(name, &end, 10);
        if (name[0] < '0' || name[0] > '9' || *end != '\0' || id > INT32_MAX) {
            return stdec_fail(err, ST_EINVAL,
                              STRATA__ERROR_CODE__INVALID_REQUEST,
                              "broker config name '%s' is not a broker id",
                              name);
        }
        return 0;
    }
    }
    return stdec_fail(err, ST_EINVAL, STRATA__ERROR_CODE__INVALID_REQUEST,
                      "unknown config resource %d", (int)res);
}

int st_meta_decide_alter_configs(const struct st_meta *m,
                                 enum st_meta_resource resource,
                                 const char *name,
                                 const struct st_meta_kv *kvs, size_t n,
                                 bool validate_only, struct st_meta_recs *out,
                                 struct st_meta_err *err)
{
    stdec_ok(err);
    int rv = check_resource(m, resource, name, err);
    if (rv == 0) {
        rv = check_configs(kvs, n, resource, true, err);
    }
    for (size_t i = 0; rv == 0 && !validate_only && i < n; i++) {
        Strata__Meta__ConfigChange cc = STRATA__META__CONFIG_CHANGE__INIT;
        cc.resource = (Strata__Meta__ConfigResource)resource;
        cc.name = (char *)name;
        cc.key = (char *)kvs[i].key;
        cc.value = kvs[i].value ? (char *)kvs[i].value : "";
        cc.remove = kvs[i].value == NULL;
        Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
        r.body_case = STRATA__META__METADATA_RECORD__BODY_CONFIG_CHANGE;
        r.config_change = &cc;
        rv = stdec_push(out, &r);
    }
    /* Enabling unclean election on a topic elects its leaderless
     * partitions now; for cluster or broker defaults the caller runs
     * st_meta_decide_elect_leaders() once the change is committed. */
    for (size_t i = 0; rv == 0 && !validate_only && i < n; i++) {
        if (resource == ST_META_RES_TOPIC && kvs[i].value != NULL &&
            strcmp(kvs[i].key, "unclean.leader.election.enable") == 0 &&
            strcmp(kvs[i].value, "true") == 0) {
            struct stdec_live lv = {.unclean_topic = name,
                                    .unclean_value = true};
            rv = stdec_repair(m, &lv, out);
        }
    }
    return rv;
}
