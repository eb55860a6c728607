/* Applying one MetadataRecord to the state.
 *
 * Every handler first checks the record against the state and builds what it
 * needs (allocations included), and only then changes the state, so a refused
 * record or a failed allocation leaves the state exactly as it was. Handlers
 * never decide: a record the deciding side would not have produced is
 * refused the same way on every replica (see st_meta_apply()).
 */
#include <limits.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/metadata.h"
#include "controller/metadata_apply_int.h"
#include "controller/metadata_int.h"
#include "controller/topic_name.h"
#include "metadata.pb-c.h"

/* protobuf-c allocations go through st_malloc, so that tests can fail them
 * and an out-of-memory decode is told apart from corrupt bytes. */
static void *pb_alloc(void *data, size_t size)
{
    void *p = st_malloc(size);
    if (p == NULL) {
        *(bool *)data = true;
    }
    return p;
}

static void pb_free(void *data, void *p)
{
    (void)data;
    st_free(p);
}

void stmeta_pb_allocator(ProtobufCAllocator *a, bool *oom)
{
    *oom = false;
    a->alloc = pb_alloc;
    a->free = pb_free;
    a->allocator_data = oom;
}

static bool uuid_ok(const ProtobufCBinaryData *b)
{
    static const uint8_t zero[ST_META_UUID_LEN];
    return b->len == ST_META_UUID_LEN &&
           memcmp(b->data, zero, ST_META_UUID_LEN) != 0;
}

static int32_t *copy_ids(const int32_t *v, size_t n)
{
    int32_t *c = st_malloc(n * sizeof *c);
    if (c != NULL && n > 0) {
        memcpy(c, v, n * sizeof *c);
    }
    return c;
}

/* ---- brokers ---- */

static int apply_register(struct st_meta *m, int64_t offset,
                          const Strata__Meta__RegisterBroker *r)
{
    if (r->broker_id < 0 || r->incarnation_id.len != ST_META_UUID_LEN) {
        return ST_ECORRUPT;
    }
    for (size_t i = 0; i < r->n_listeners; i++) {
        if (r->listeners[i]->port > 65535) {
            return ST_ECORRUPT;
        }
    }
    struct st_meta_broker *b = st_calloc(1, sizeof *b);
    if (b == NULL) {
        return ST_ENOMEM;
    }
    b->id = r->broker_id;
    b->epoch = offset;
    b->fenced = true;
    memcpy(b->incarnation, r->incarnation_id.data, ST_META_UUID_LEN);
    b->rack = st_strdup(r->rack);
    b->listeners = st_calloc(r->n_listeners ? r->n_listeners : 1,
                             sizeof *b->listeners);
    if (b->rack == NULL || b->listeners == NULL) {
        goto err_after_alloc;
    }
    for (size_t i = 0; i < r->n_listeners; i++) {
        struct st_meta_listener *l = &b->listeners[i];
        b->n_listeners++;
        l->name = st_strdup(r->listeners[i]->name);
        l->host = st_strdup(r->listeners[i]->host);
        l->port = (uint16_t)r->listeners[i]->port;
        if (l->name == NULL || l->host == NULL) {
            goto err_after_alloc;
        }
    }
    bool found;
    size_t pos = stmeta_broker_pos(m, b->id, &found);
    if (found) {
        /* A new incarnation retires the old one (oldest dropped first). */
        struct st_meta_broker *old = m->brokers[pos];
        memcpy(b->retired, old->retired, sizeof b->retired);
        b->n_retired = old->n_retired;
        if (memcmp(old->incarnation, b->incarnation, ST_META_UUID_LEN) != 0) {
            if (b->n_retired == ST_META_RETIRED_MAX) {
                memmove(b->retired[0], b->retired[1],
                        (ST_META_RETIRED_MAX - 1) * ST_META_UUID_LEN);
                b->n_retired--;
            }
            memcpy(b->retired[b->n_retired++], old->incarnation,
                   ST_META_UUID_LEN);
        }
        b->n_replicas = old->n_replicas;
        b->n_leading = old->n_leading;
        m->brokers[pos] = b;
        stmeta_broker_free(old);
        return 0;
    }
    if (stmeta_broker_insert(m, b) != 0) {
        goto err_after_alloc;
    }
    /* Partitions may already name this id (it was unregistered, or they
     * were assigned before it registered): count them once. */
    stmeta_load_count(m, b);
    return 0;
err_after_alloc:
    stmeta_broker_free(b);
    return ST_ENOMEM;
}

static int find_broker_at_epoch(struct st_meta *m, int32_t id, int64_t epoch,
                                size_t *pos)
{
    bool found;
    *pos = stmeta_broker_pos(m, id, &found);
    if (!found) {
        return ST_ENOENT;
    }
    return m->brokers[*pos]->epoch == epoch ? 0 : ST_ESTALE;
}

static int apply_fence(struct st_meta *m, int32_t id, int64_t epoch,
                       bool fenced)
{
    size_t pos;
    int rv = find_broker_at_epoch(m, id, epoch, &pos);
    if (rv == 0) {
        m->brokers[pos]->fenced = fenced;
    }
    return rv;
}

static int apply_unregister(struct st_meta *m,
                            const Strata__Meta__UnregisterBroker *r)
{
    size_t pos;
    int rv = find_broker_at_epoch(m, r->broker_id, r->broker_epoch, &pos);
    if (rv != 0) {
        return rv;
    }
    stmeta_broker_free(m->brokers[pos]);
    memmove(&m->brokers[pos], &m->brokers[pos + 1],
            (m->n_brokers - pos - 1) * sizeof(void *));
    m->n_brokers--;
    return 0;
}

/* ---- topics and partitions ---- */

/* Build @p from the record's partition @cp; 0, ST_ECORRUPT or ST_ENOMEM. */
static int partition_from(struct st_meta_partition *p,
                          const Strata__Meta__CreatePartition *cp)
{
    memset(p, 0, sizeof *p);
    if (cp->n_replicas == 0 || cp->n_replicas > INT16_MAX ||
        cp->n_isr == 0 || cp->n_isr > cp->n_replicas) {
        return ST_ECORRUPT;
    }
    p->n_replicas = (int)cp->n_replicas;
    p->n_isr = (int)cp->n_isr;
    p->leader = cp->leader;
    p->leader_epoch = cp->leader_epoch;
    p->partition_epoch = cp->partition_epoch;
    p->replicas = copy_ids(cp->replicas, cp->n_replicas);
    p->isr = copy_ids(cp->isr, cp->n_isr);
    if (p->replicas == NULL || p->isr == NULL) {
        stmeta_partition_close(p);
        return ST_ENOMEM;
    }
    if (!stmeta_partition_valid(p)) {
        stmeta_partition_close(p);
        return ST_ECORRUPT;
    }
    return 0;
}

static int config_entry(struct st_meta_config *c, enum st_meta_resource res,
                        const char *name, const char *key, const char *value)
{
    c->resource = res;
    c->name = st_strdup(name);
    c->key = st_strdup(key);
    c->value = st_strdup(value);
    if (c->name == NULL || c->key == NULL || c->value == NULL) {
        stmeta_config_close(c);
        return ST_ENOMEM;
    }
    return 0;
}

/* Insert @c (ownership passes) at @pos. Requires: room (stmeta_grow). */
static void config_insert_at(struct st_meta *m, size_t pos,
                             struct st_meta_config *c)
{
    memmove(&m->configs[pos + 1], &m->configs[pos],
            (m->n_configs - pos) * sizeof *c);
    m->configs[pos] = *c;
    m->n_configs++;
}

static int check_topic_configs(const Strata__Meta__CreateTopic *r)
{
    for (size_t i = 0; i < r->n_configs; i++) {
        if (r->configs[i]->key[0] == '\0') {
            return ST_ECORRUPT;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(r->configs[i]->key, r->configs[j]->key) == 0) {
                return ST_ECORRUPT;
            }
        }
    }
    return 0;
}

static int apply_create_topic(struct st_meta *m,
                              const Strata__Meta__CreateTopic *r)
{
    char why[160];
    if (st_topic_name_validate(r->name, true, why, sizeof why) != 0 ||
        !uuid_ok(&r->topic_id) || r->n_partitions == 0 ||
        r->n_partitions > INT32_MAX || check_topic_configs(r) != 0) {
        return ST_ECORRUPT;
    }
    bool found;
    stmeta_topic_name_pos(m, r->name, &found);
    if (found) {
        return ST_EEXIST;
    }
    stmeta_topic_id_pos(m, r->topic_id.data, &found);
    if (found) {
        return ST_EEXIST;
    }
    int rv = stmeta_grow((void **)&m->configs, &m->cap_configs, m->n_configs,
                       r->n_configs, sizeof *m->configs);
    if (rv != 0) {
        return rv;
    }
    struct st_meta_topic *t = st_calloc(1, sizeof *t);
    if (t == NULL) {
        return ST_ENOMEM;
    }
    t->name = st_strdup(r->name);
    t->parts = st_calloc(r->n_partitions, sizeof *t->parts);
    if (t->name == NULL || t->parts == NULL) {
        rv = ST_ENOMEM;
        goto err_after_topic;
    }
    memcpy(t->id, r->topic_id.data, ST_META_UUID_LEN);
    for (size_t i = 0; i < r->n_partitions; i++) {
        if (r->partitions[i]->partition != (int32_t)i) {
            rv = ST_ECORRUPT;
            goto err_after_topic;
        }
        rv = partition_from(&t->parts[i], r->partitions[i]);
        if (rv != 0) {
            goto err_after_topic;
        }
        t->n_parts++;
    }
    /* Build every config entry before touching the state. */
    struct st_meta_config *cfg = st_calloc(r->n_configs ? r->n_configs : 1,
                                           sizeof *cfg);
    if (cfg == NULL) {
        rv = ST_ENOMEM;
        goto err_after_topic;
    }
    size_t built = 0;
    for (; built < r->n_configs; built++) {
        rv = config_entry(&cfg[built], ST_META_RES_TOPIC, r->name,
                          r->configs[built]->key, r->configs[built]->value);
        if (rv != 0) {
            goto err_after_configs;
        }
    }
    rv = stmeta_topic_insert(m, t);
    if (rv != 0) {
        goto err_after_configs;
    }
    for (int32_t i = 0; i < t->n_parts; i++) {
        stmeta_load_partition(m, &t->parts[i], 1);
    }
    for (size_t i = 0; i < built; i++) {
        size_t pos = stmeta_config_pos(m, ST_META_RES_TOPIC, cfg[i].name,
                                     cfg[i].key, &found);
        config_insert_at(m, pos, &cfg[i]);
    }
    st_free(cfg);
    return 0;
err_after_configs:
    for (size_t i = 0; i < built; i++) {
        stmeta_config_close(&cfg[i]);
    }
    st_free(cfg);
err_after_topic:
    stmeta_topic_free(t);
    return rv;
}

static struct st_meta_topic *topic_by_id(struct st_meta *m,
                                         const ProtobufCBinaryData *id)
{
    if (id->len != ST_META_UUID_LEN) {
        return NULL;
    }
    bool found;
    size_t pos = stmeta_topic_id_pos(m, id->data, &found);
    return found ? m->by_id[pos] : NULL;
}

static int apply_create_partition(struct st_meta *m,
                                  const Strata__Meta__CreatePartition *r)
{
    if (!uuid_ok(&r->topic_id)) {
        return ST_ECORRUPT;
    }
    struct st_meta_topic *t = topic_by_id(m, &r->topic_id);
    if (t == NULL) {
        return ST_ENOENT;
    }
    if (r->partition != t->n_parts || t->n_parts == INT32_MAX) {
        return ST_ECORRUPT;
    }
    struct st_meta_partition p;
    int rv = partition_from(&p, r);
    if (rv != 0) {
        return rv;
    }
    struct st_meta_partition *parts =
        st_realloc(t->parts, ((size_t)t->n_parts + 1) * sizeof *parts);
    if (parts == NULL) {
        stmeta_partition_close(&p);
        return ST_ENOMEM;
    }
    t->parts = parts;
    t->parts[t->n_parts++] = p;
    stmeta_load_partition(m, &p, 1);
    return 0;
}

static int apply_partition_change(struct st_meta *m,
                                  const Strata__Meta__PartitionChange *r)
{
    if (r->topic_id.len != ST_META_UUID_LEN ||
        (!r->has_leader && !r->has_isr)) {
        return ST_ECORRUPT;
    }
    struct st_meta_topic *t = topic_by_id(m, &r->topic_id);
    if (t == NULL || r->partition < 0 || r->partition >= t->n_parts) {
        return ST_ENOENT;
    }
    struct st_meta_partition *cur = &t->parts[r->partition];
    if (cur->partition_epoch == INT32_MAX || cur->leader_epoch == INT32_MAX) {
        return ST_ECORRUPT;
    }
    struct st_meta_partition next = *cur;
    int32_t *isr = NULL;
    if (r->has_isr) {
        if (r->n_isr == 0 || r->n_isr > (size_t)cur->n_replicas) {
            return ST_ECORRUPT;
        }
        isr = copy_ids(r->isr, r->n_isr);
        if (isr == NULL) {
            return ST_ENOMEM;
        }
        next.isr = isr;
        next.n_isr = (int)r->n_isr;
    }
    if (r->has_leader) {
        next.leader = r->leader;
    }
    if (!stmeta_partition_valid(&next)) {
        st_free(isr);
        return ST_ECORRUPT;
    }
    if (isr != NULL) {
        st_free(cur->isr);
        cur->isr = isr;
        cur->n_isr = next.n_isr;
    }
    if (next.leader != cur->leader) {
        stmeta_load_leader(m, cur->leader, next.leader);
        cur->leader = next.leader;
        cur->leader_epoch++;
    }
    cur->partition_epoch++;
    return 0;
}

static int apply_delete_topic(struct st_meta *m,
                              const Strata__Meta__DeleteTopic *r)
{
    if (r->topic_id.len != ST_META_UUID_LEN) {
        return ST_ECORRUPT;
    }
    bool found;
    size_t pi = stmeta_topic_id_pos(m, r->topic_id.data, &found);
    if (!found) {
        return ST_ENOENT;
    }
    struct st_meta_topic *t = m->by_id[pi];
    size_t pn = stmeta_topic_name_pos(m, t->name, &found);
    size_t pz = stmeta_topic_norm_pos(m, t->name, &found);
    memmove(&m->by_id[pi], &m->by_id[pi + 1],
            (m->n_topics - pi - 1) * sizeof(void *));
    memmove(&m->by_name[pn], &m->by_name[pn + 1],
            (m->n_topics - pn - 1) * sizeof(void *));
    memmove(&m->by_norm[pz], &m->by_norm[pz + 1],
            (m->n_topics - pz - 1) * sizeof(void *));
    m->n_topics--;
    /* The topic's overrides are contiguous: (TOPIC, name, *). */
    size_t first = stmeta_config_pos(m, ST_META_RES_TOPIC, t->name, "", &found);
    size_t end = first;
    while (end < m->n_configs && m->configs[end].resource == ST_META_RES_TOPIC &&
           strcmp(m->configs[end].name, t->name) == 0) {
        stmeta_config_close(&m->configs[end]);
        end++;
    }
    if (end > first) {
        memmove(&m->configs[first], &m->configs[end],
                (m->n_configs - end) * sizeof *m->configs);
        m->n_configs -= end - first;
    }
    for (int32_t i = 0; i < t->n_parts; i++) {
        stmeta_load_partition(m, &t->parts[i], -1);
    }
    stmeta_topic_free(t);
    return 0;
}

/* ---- configs and producer ids ---- */

static int apply_config_change(struct st_meta *m,
                               const Strata__Meta__ConfigChange *r)
{
    enum st_meta_resource res = (enum st_meta_resource)r->resource;
    if (res != ST_META_RES_TOPIC && res != ST_META_RES_CLUSTER &&
        res != ST_META_RES_BROKER) {
        return ST_ECORRUPT;
    }
    if (r->key[0] == '\0' || (res == ST_META_RES_CLUSTER && r->name[0]) ||
        (res != ST_META_RES_CLUSTER && r->name[0] == '\0')) {
        return ST_ECORRUPT;
    }
    if (res == ST_META_RES_TOPIC && st_meta_topic_by_name(m, r->name) == NULL) {
        return ST_ENOENT;
    }
    bool found;
    size_t pos = stmeta_config_pos(m, res, r->name, r->key, &found);
    if (r->remove) {
        if (found) {
            stmeta_config_close(&m->configs[pos]);
            memmove(&m->configs[pos], &m->configs[pos + 1],
                    (m->n_configs - pos - 1) * sizeof *m->configs);
            m->n_configs--;
        }
        return 0;
    }
    if (found) {
        char *v = st_strdup(r->value);
        if (v == NULL) {
            return ST_ENOMEM;
        }
        st_free(m->configs[pos].value);
        m->configs[pos].value = v;
        return 0;
    }
    int rv = stmeta_grow((void **)&m->configs, &m->cap_configs, m->n_configs,
                       1, sizeof *m->configs);
    if (rv != 0) {
        return rv;
    }
    struct st_meta_config c;
    rv = config_entry(&c, res, r->name, r->key, r->value);
    if (rv != 0) {
        return rv;
    }
    config_insert_at(m, pos, &c);
    return 0;
}

static int apply_producer_ids(struct st_meta *m,
                              const Strata__Meta__ProducerIdBlock *r)
{
    if (r->size <= 0 || r->start != m->next_producer_id ||
        r->start > INT64_MAX - r->size) {
        return ST_ECORRUPT;
    }
    m->next_producer_id = r->start + r->size;
    return 0;
}

int stmeta_apply_record(struct st_meta *m, int64_t offset,
                      const Strata__Meta__MetadataRecord *r)
{
    switch (r->body_case) {
    case STRATA__META__METADATA_RECORD__BODY_REGISTER_BROKER:
        return apply_register(m, offset, r->register_broker);
    case STRATA__META__METADATA_RECORD__BODY_FENCE_BROKER:
        return apply_fence(m, r->fence_broker->broker_id,
                           r->fence_broker->broker_epoch, true);
    case STRATA__META__METADATA_RECORD__BODY_UNFENCE_BROKER:
        return apply_fence(m, r->unfence_broker->broker_id,
                           r->unfence_broker->broker_epoch, false);
    case STRATA__META__METADATA_RECORD__BODY_UNREGISTER_BROKER:
        return apply_unregister(m, r->unregister_broker);
    case STRATA__META__METADATA_RECORD__BODY_CREATE_TOPIC:
        return apply_create_topic(m, r->create_topic);
    case STRATA__META__METADATA_RECORD__BODY_CREATE_PARTITION:
        return apply_create_partition(m, r->create_partition);
    case STRATA__META__METADATA_RECORD__BODY_PARTITION_CHANGE:
        return apply_partition_change(m, r->partition_change);
    case STRATA__META__METADATA_RECORD__BODY_DELETE_TOPIC:
        return apply_delete_topic(m, r->delete_topic);
    case STRATA__META__METADATA_RECORD__BODY_CONFIG_CHANGE:
        return apply_config_change(m, r->config_change);
    case STRATA__META__METADATA_RECORD__BODY_PRODUCER_ID_BLOCK:
        return apply_producer_ids(m, r->producer_id_block);
    default:
        return ST_ECORRUPT;
    }
}

int st_meta_apply(struct st_meta *m, int64_t offset, const uint8_t *rec,
                  size_t len)
{
    if (offset <= m->last_offset) {
        return ST_ERANGE;
    }
    int rv;
    if (rec == NULL && len > 0) {
        rv = ST_ECORRUPT;
    } else {
        ProtobufCAllocator a;
        bool oom;
        stmeta_pb_allocator(&a, &oom);
        Strata__Meta__MetadataRecord *r =
            strata__meta__metadata_record__unpack(&a, len, rec);
        if (r == NULL) {
            rv = oom ? ST_ENOMEM : ST_ECORRUPT;
        } else {
            rv = stmeta_apply_record(m, offset, r);
            strata__meta__metadata_record__free_unpacked(r, &a);
        }
    }
    if (rv == ST_ENOMEM) {
        return rv;
    }
    m->last_offset = offset;
    m->since_snapshot++;
    return rv;
}
