/* Snapshots of the metadata state: a MetadataSnapshot (proto/metadata.proto)
 * written in the state's own sorted order, so equal states give equal bytes
 * (protobuf-c packs fields in field-number order and repeated fields in array
 * order). Loading checks the same order and every partition invariant, builds
 * a complete new state aside, and swaps it in only when all is well.
 */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/metadata.h"
#include "controller/metadata_apply_int.h"
#include "controller/metadata_int.h"
#include "controller/topic_name.h"

#define SNAPSHOT_FORMAT 1

/* ---- write ---- */

/* Every message the snapshot points to, in arrays freed together. The
 * strings and ids point into the state (borrowed for the pack). */
struct snap_msgs {
    Strata__Meta__BrokerState *brokers;
    Strata__Meta__BrokerState **broker_ptrs;
    Strata__Meta__Listener *listeners;
    Strata__Meta__Listener **listener_ptrs;
    ProtobufCBinaryData *retired;
    Strata__Meta__TopicState *topics;
    Strata__Meta__TopicState **topic_ptrs;
    Strata__Meta__CreatePartition *parts;
    Strata__Meta__CreatePartition **part_ptrs;
    Strata__Meta__ConfigState *configs;
    Strata__Meta__ConfigState **config_ptrs;
};

static void snap_msgs_free(struct snap_msgs *s)
{
    st_free(s->brokers);
    st_free(s->broker_ptrs);
    st_free(s->listeners);
    st_free(s->listener_ptrs);
    st_free(s->retired);
    st_free(s->topics);
    st_free(s->topic_ptrs);
    st_free(s->parts);
    st_free(s->part_ptrs);
    st_free(s->configs);
    st_free(s->config_ptrs);
}

static void *alloc_n(size_t n, size_t size)
{
    return st_calloc(n ? n : 1, size);
}

static int snap_alloc(const struct st_meta *m, struct snap_msgs *s)
{
    size_t n_listeners = 0, n_retired = 0, n_parts = 0;
    for (size_t i = 0; i < m->n_brokers; i++) {
        n_listeners += m->brokers[i]->n_listeners;
        n_retired += m->brokers[i]->n_retired;
    }
    for (size_t i = 0; i < m->n_topics; i++) {
        n_parts += (size_t)m->by_name[i]->n_parts;
    }
    memset(s, 0, sizeof *s);
    s->brokers = alloc_n(m->n_brokers, sizeof *s->brokers);
    s->broker_ptrs = alloc_n(m->n_brokers, sizeof *s->broker_ptrs);
    s->listeners = alloc_n(n_listeners, sizeof *s->listeners);
    s->listener_ptrs = alloc_n(n_listeners, sizeof *s->listener_ptrs);
    s->retired = alloc_n(n_retired, sizeof *s->retired);
    s->topics = alloc_n(m->n_topics, sizeof *s->topics);
    s->topic_ptrs = alloc_n(m->n_topics, sizeof *s->topic_ptrs);
    s->parts = alloc_n(n_parts, sizeof *s->parts);
    s->part_ptrs = alloc_n(n_parts, sizeof *s->part_ptrs);
    s->configs = alloc_n(m->n_configs, sizeof *s->configs);
    s->config_ptrs = alloc_n(m->n_configs, sizeof *s->config_ptrs);
    if (!s->brokers || !s->broker_ptrs || !s->listeners ||
        !s->listener_ptrs || !s->retired || !s->topics || !s->topic_ptrs ||
        !s->parts || !s->part_ptrs || !s->configs || !s->config_ptrs) {
        snap_msgs_free(s);
        return ST_ENOMEM;
    }
    return 0;
}

static void snap_brokers(const struct st_meta *m, struct snap_msgs *s)
{
    size_t li = 0, ri = 0;
    for (size_t i = 0; i < m->n_brokers; i++) {
        struct st_meta_broker *b = m->brokers[i];
        Strata__Meta__BrokerState *bs = &s->brokers[i];
        strata__meta__broker_state__init(bs);
        bs->broker_id = b->id;
        bs->rack = b->rack;
        bs->incarnation_id.data = b->incarnation;
        bs->incarnation_id.len = ST_META_UUID_LEN;
        bs->broker_epoch = b->epoch;
        bs->fenced = b->fenced;
        bs->listeners = &s->listener_ptrs[li];
        bs->n_listeners = b->n_listeners;
        for (size_t j = 0; j < b->n_listeners; j++, li++) {
            Strata__Meta__Listener *l = &s->listeners[li];
            strata__meta__listener__init(l);
            l->name = b->listeners[j].name;
            l->host = b->listeners[j].host;
            l->port = b->listeners[j].port;
            s->listener_ptrs[li] = l;
        }
        bs->retired_incarnations = &s->retired[ri];
        bs->n_retired_incarnations = b->n_retired;
        for (unsigned j = 0; j < b->n_retired; j++, ri++) {
            s->retired[ri].data = b->retired[j];
            s->retired[ri].len = ST_META_UUID_LEN;
        }
        s->broker_ptrs[i] = bs;
    }
}

static void snap_topics(const struct st_meta *m, struct snap_msgs *s)
{
    size_t pi = 0;
    for (size_t i = 0; i < m->n_topics; i++) {
        struct st_meta_topic *t = m->by_name[i];
        Strata__Meta__TopicState *ts = &s->topics[i];
        strata__meta__topic_state__init(ts);
        ts->name = t->name;
        ts->topic_id.data = t->id;
        ts->topic_id.len = ST_META_UUID_LEN;
        ts->partitions = &s->part_ptrs[pi];
        ts->n_partitions = (size_t)t->n_parts;
        for (int32_t j = 0; j < t->n_parts; j++, pi++) {
            struct st_meta_partition *p = &t->parts[j];
            Strata__Meta__CreatePartition *cp = &s->parts[pi];
            strata__meta__create_partition__init(cp);
            cp->partition = j;
            cp->replicas = p->replicas;
            cp->n_replicas = (size_t)p->n_replicas;
            cp->isr = p->isr;
            cp->n_isr = (size_t)p->n_isr;
            cp->leader = p->leader;
            cp->leader_epoch = p->leader_epoch;
            cp->partition_epoch = p->partition_epoch;
            s->part_ptrs[pi] = cp;
        }
        s->topic_ptrs[i] = ts;
    }
}

static int encode(const struct st_meta *m, struct st_buf *out)
{
    struct snap_msgs s;
    int rv = snap_alloc(m, &s);
    if (rv != 0) {
        return rv;
    }
    snap_brokers(m, &s);
    snap_topics(m, &s);
    for (size_t i = 0; i < m->n_configs; i++) {
        Strata__Meta__ConfigState *cs = &s.configs[i];
        strata__meta__config_state__init(cs);
        cs->resource = (Strata__Meta__ConfigResource)m->configs[i].resource;
        cs->name = m->configs[i].name;
        cs->key = m->configs[i].key;
        cs->value = m->configs[i].value;
        s.config_ptrs[i] = cs;
    }
    Strata__Meta__MetadataSnapshot snap = STRATA__META__METADATA_SNAPSHOT__INIT;
    snap.format_version = SNAPSHOT_FORMAT;
    snap.last_offset = m->last_offset;
    snap.brokers = s.broker_ptrs;
    snap.n_brokers = m->n_brokers;
    snap.topics = s.topic_ptrs;
    snap.n_topics = m->n_topics;
    snap.configs = s.config_ptrs;
    snap.n_configs = m->n_configs;
    snap.next_producer_id = m->next_producer_id;
    size_t size = strata__meta__metadata_snapshot__get_packed_size(&snap);
    rv = st_buf_reserve(out, size);
    if (rv == 0) {
        strata__meta__metadata_snapshot__pack(&snap, out->base + out->len);
        out->len += size;
    }
    snap_msgs_free(&s);
    return rv;
}

int st_meta_snapshot_write(struct st_meta *m, struct st_buf *out)
{
    int rv = encode(m, out);
    if (rv == 0) {
        m->since_snapshot = 0;
    }
    return rv;
}

int st_meta_clone(const struct st_meta *m, struct st_meta **out)
{
    struct st_buf b;
    struct st_meta *c;
    st_buf_init(&b);
    int rv = st_meta_new(&c);
    if (rv != 0) {
        return rv;
    }
    rv = encode(m, &b);
    if (rv == 0) {
        rv = st_meta_snapshot_load(c, b.base, b.len);
    }
    st_buf_close(&b);
    if (rv != 0) {
        st_meta_free(c);
        return rv == ST_ENOMEM ? rv : ST_ECORRUPT;
    }
    c->since_snapshot = m->since_snapshot;
    *out = c;
    return 0;
}

/* ---- load ---- */

static int load_broker(struct st_meta *n, const Strata__Meta__BrokerState *bs)
{
    if (bs->incarnation_id.len != ST_META_UUID_LEN ||
        bs->n_retired_incarnations > ST_META_RETIRED_MAX || bs->broker_id < 0 ||
        (n->n_brokers > 0 &&
         n->brokers[n->n_brokers - 1]->id >= bs->broker_id)) {
        return ST_ECORRUPT;
    }
    struct st_meta_broker *b = st_calloc(1, sizeof *b);
    if (b == NULL) {
        return ST_ENOMEM;
    }
    b->id = bs->broker_id;
    b->epoch = bs->broker_epoch;
    b->fenced = bs->fenced;
    memcpy(b->incarnation, bs->incarnation_id.data, ST_META_UUID_LEN);
    for (size_t i = 0; i < bs->n_retired_incarnations; i++) {
        if (bs->retired_incarnations[i].len != ST_META_UUID_LEN) {
            stmeta_broker_free(b);
            return ST_ECORRUPT;
        }
        memcpy(b->retired[i], bs->retired_incarnations[i].data,
               ST_META_UUID_LEN);
    }
    b->n_retired = (unsigned)bs->n_retired_incarnations;
    b->rack = st_strdup(bs->rack);
    b->listeners = alloc_n(bs->n_listeners, sizeof *b->listeners);
    if (b->rack == NULL || b->listeners == NULL) {
        goto err_nomem;
    }
    for (size_t i = 0; i < bs->n_listeners; i++) {
        struct st_meta_listener *l = &b->listeners[i];
        b->n_listeners++;
        if (bs->listeners[i]->port > 65535) {
            stmeta_broker_free(b);
            return ST_ECORRUPT;
        }
        l->port = (uint16_t)bs->listeners[i]->port;
        l->name = st_strdup(bs->listeners[i]->name);
        l->host = st_strdup(bs->listeners[i]->host);
        if (l->name == NULL || l->host == NULL) {
            goto err_nomem;
        }
    }
    if (stmeta_broker_insert(n, b) != 0) {
        goto err_nomem;
    }
    return 0;
err_nomem:
    stmeta_broker_free(b);
    return ST_ENOMEM;
}

static int load_partition(struct st_meta_partition *p,
                          const Strata__Meta__CreatePartition *cp)
{
    memset(p, 0, sizeof *p);
    if (cp->n_replicas == 0 || cp->n_replicas > INT16_MAX || cp->n_isr == 0 ||
        cp->n_isr > cp->n_replicas) {
        return ST_ECORRUPT;
    }
    p->replicas = st_malloc(cp->n_replicas * sizeof *p->replicas);
    p->isr = st_malloc(cp->n_isr * sizeof *p->isr);
    if (p->replicas == NULL || p->isr == NULL) {
        stmeta_partition_close(p);
        return ST_ENOMEM;
    }
    memcpy(p->replicas, cp->replicas, cp->n_replicas * sizeof *p->replicas);
    memcpy(p->isr, cp->isr, cp->n_isr * sizeof *p->isr);
    p->n_replicas = (int)cp->n_replicas;
    p->n_isr = (int)cp->n_isr;
    p->leader = cp->leader;
    p->leader_epoch = cp->leader_epoch;
    p->partition_epoch = cp->partition_epoch;
    if (!stmeta_partition_valid(p)) {
        stmeta_partition_close(p);
        return ST_ECORRUPT;
    }
    return 0;
}

static int load_topic(struct st_meta *n, const Strata__Meta__TopicState *ts)
{
    char why[160];
    static const uint8_t zero[ST_META_UUID_LEN];
    bool found;
    if (st_topic_name_validate(ts->name, true, why, sizeof why) != 0 ||
        ts->topic_id.len != ST_META_UUID_LEN ||
        memcmp(ts->topic_id.data, zero, ST_META_UUID_LEN) == 0 ||
        ts->n_partitions == 0 || ts->n_partitions > INT32_MAX ||
        (n->n_topics > 0 &&
         strcmp(n->by_name[n->n_topics - 1]->name, ts->name) >= 0)) {
        return ST_ECORRUPT;
    }
    stmeta_topic_id_pos(n, ts->topic_id.data, &found);
    if (found) {
        return ST_ECORRUPT;
    }
    struct st_meta_topic *t = st_calloc(1, sizeof *t);
    if (t == NULL) {
        return ST_ENOMEM;
    }
    int rv = ST_ENOMEM;
    memcpy(t->id, ts->topic_id.data, ST_META_UUID_LEN);
    t->name = st_strdup(ts->name);
    t->parts = st_calloc(ts->n_partitions, sizeof *t->parts);
    if (t->name == NULL || t->parts == NULL) {
        goto err_after_topic;
    }
    for (size_t i = 0; i < ts->n_partitions; i++) {
        if (ts->partitions[i]->partition != (int32_t)i) {
            rv = ST_ECORRUPT;
            goto err_after_topic;
        }
        rv = load_partition(&t->parts[i], ts->partitions[i]);
        if (rv != 0) {
            goto err_after_topic;
        }
        t->n_parts++;
    }
    rv = stmeta_topic_insert(n, t);
    if (rv != 0) {
        goto err_after_topic;
    }
    /* Brokers come first in a snapshot, so the load counts are complete
     * once every topic is in (metadata_load.c). */
    for (int32_t i = 0; i < t->n_parts; i++) {
        stmeta_load_partition(n, &t->parts[i], 1);
    }
    return 0;
err_after_topic:
    stmeta_topic_free(t);
    return rv;
}

static int load_config(struct st_meta *n, const Strata__Meta__ConfigState *cs)
{
    enum st_meta_resource res = (enum st_meta_resource)cs->resource;
    bool found;
    if ((res != ST_META_RES_TOPIC && res != ST_META_RES_CLUSTER &&
         res != ST_META_RES_BROKER) ||
        cs->key[0] == '\0' ||
        (res == ST_META_RES_TOPIC && !st_meta_topic_by_name(n, cs->name)) ||
        stmeta_config_pos(n, res, cs->name, cs->key, &found) != n->n_configs ||
        found) {
        return ST_ECORRUPT; /* unknown resource, topic, or not sorted */
    }
    int rv = stmeta_grow((void **)&n->configs, &n->cap_configs, n->n_configs, 1,
                       sizeof *n->configs);
    if (rv != 0) {
        return rv;
    }
    struct st_meta_config *c = &n->configs[n->n_configs];
    c->resource = res;
    c->name = st_strdup(cs->name);
    c->key = st_strdup(cs->key);
    c->value = st_strdup(cs->value);
    if (c->name == NULL || c->key == NULL || c->value == NULL) {
        stmeta_config_close(c);
        return ST_ENOMEM;
    }
    n->n_configs++;
    return 0;
}

static int load_all(struct st_meta *n, const Strata__Meta__MetadataSnapshot *s)
{
    int rv = 0;
    for (size_t i = 0; rv == 0 && i < s->n_brokers; i++) {
        rv = load_broker(n, s->brokers[i]);
    }
    for (size_t i = 0; rv == 0 && i < s->n_topics; i++) {
        rv = load_topic(n, s->topics[i]);
    }
    for (size_t i = 0; rv == 0 && i < s->n_configs; i++) {
        rv = load_config(n, s->configs[i]);
    }
    return rv;
}

int st_meta_snapshot_load(struct st_meta *m, const uint8_t *snap, size_t len)
{
    if (snap == NULL && len > 0) {
        return ST_ECORRUPT;
    }
    ProtobufCAllocator a;
    bool oom;
    stmeta_pb_allocator(&a, &oom);
    Strata__Meta__MetadataSnapshot *s =
        strata__meta__metadata_snapshot__unpack(&a, len, snap);
    if (s == NULL) {
        return oom ? ST_ENOMEM : ST_ECORRUPT;
    }
    int rv;
    if (s->format_version != SNAPSHOT_FORMAT) {
        rv = s->format_version == 0 ? ST_ECORRUPT : ST_EUNSUPPORTED;
        goto out;
    }
    if (s->last_offset < -1 || s->next_producer_id < 0) {
        rv = ST_ECORRUPT;
        goto out;
    }
    struct st_meta n;
    memset(&n, 0, sizeof n);
    rv = load_all(&n, s);
    if (rv != 0) {
        stmeta_clear(&n);
        goto out;
    }
    n.last_offset = s->last_offset;
    n.next_producer_id = s->next_producer_id;
    n.since_snapshot = 0;
    stmeta_clear(m);
    *m = n;
out:
    strata__meta__metadata_snapshot__free_unpacked(s, &a);
    return rv;
}
