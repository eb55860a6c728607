/* The metadata state: its lifetime, its sorted indexes and the queries.
 * Applying records is metadata_apply.c; snapshots are metadata_snapshot.c. */
#include "controller/metadata.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/metadata_config.h"
#include "controller/metadata_int.h"

int st_meta_new(struct st_meta **out)
{
    struct st_meta *m = st_calloc(1, sizeof *m);
    if (m == NULL) {
        return ST_ENOMEM;
    }
    m->last_offset = -1;
    *out = m;
    return 0;
}

void stmeta_partition_close(struct st_meta_partition *p)
{
    st_free(p->replicas);
    st_free(p->isr);
    p->replicas = NULL;
    p->isr = NULL;
}

void stmeta_topic_free(struct st_meta_topic *t)
{
    if (t == NULL) {
        return;
    }
    for (int32_t i = 0; i < t->n_parts; i++) {
        stmeta_partition_close(&t->parts[i]);
    }
    st_free(t->parts);
    st_free(t->name);
    st_free(t);
}

void stmeta_broker_free(struct st_meta_broker *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < b->n_listeners; i++) {
        st_free(b->listeners[i].name);
        st_free(b->listeners[i].host);
    }
    st_free(b->listeners);
    st_free(b->rack);
    st_free(b);
}

void stmeta_config_close(struct st_meta_config *c)
{
    st_free(c->name);
    st_free(c->key);
    st_free(c->value);
}

void stmeta_clear(struct st_meta *m)
{
    for (size_t i = 0; i < m->n_brokers; i++) {
        stmeta_broker_free(m->brokers[i]);
    }
    for (size_t i = 0; i < m->n_topics; i++) {
        stmeta_topic_free(m->by_name[i]);
    }
    for (size_t i = 0; i < m->n_configs; i++) {
        stmeta_config_close(&m->configs[i]);
    }
    st_free(m->brokers);
    st_free(m->by_name);
    st_free(m->by_id);
    st_free(m->by_norm);
    st_free(m->configs);
    m->brokers = NULL;
    m->by_name = m->by_id = m->by_norm = NULL;
    m->configs = NULL;
    m->n_brokers = m->cap_brokers = 0;
    m->n_topics = m->cap_topics = 0;
    m->n_configs = m->cap_configs = 0;
    m->next_producer_id = 0;
}

void st_meta_free(struct st_meta *m)
{
    if (m == NULL) {
        return;
    }
    stmeta_clear(m);
    st_free(m);
}

int stmeta_grow(void **arr, size_t *cap, size_t n, size_t extra, size_t elem)
{
    if (extra <= *cap - n) {
        return 0;
    }
    size_t ncap = *cap ? *cap : 8;
    while (ncap - n < extra) {
        ncap *= 2;
    }
    void *p = st_realloc(*arr, ncap * elem);
    if (p == NULL) {
        return ST_ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ---- sorted positions (lower bound) ---- */

size_t stmeta_broker_pos(const struct st_meta *m, int32_t id, bool *found)
{
    size_t lo = 0, hi = m->n_brokers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->brokers[mid]->id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < m->n_brokers && m->brokers[lo]->id == id;
    return lo;
}

size_t stmeta_topic_name_pos(const struct st_meta *m, const char *name,
                           bool *found)
{
    size_t lo = 0, hi = m->n_topics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->by_name[mid]->name, name) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < m->n_topics && strcmp(m->by_name[lo]->name, name) == 0;
    return lo;
}

size_t stmeta_topic_id_pos(const struct st_meta *m, const uint8_t *id,
                         bool *found)
{
    size_t lo = 0, hi = m->n_topics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(m->by_id[mid]->id, id, ST_META_UUID_LEN) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < m->n_topics &&
             memcmp(m->by_id[lo]->id, id, ST_META_UUID_LEN) == 0;
    return lo;
}

/* Names compared with every '.' read as '_': colliding names are equal. */
static int norm_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char ca = *a == '.' ? '_' : (unsigned char)*a;
        unsigned char cb = *b == '.' ? '_' : (unsigned char)*b;
        if (ca != cb) {
            return ca < cb ? -1 : 1;
        }
        if (ca == '\0') {
            return 0;
        }
    }
}

/* The by_norm order: norm_cmp, then strcmp, so that it is total. */
static int norm_order(const char *a, const char *b)
{
    int r = norm_cmp(a, b);
    return r != 0 ? r : strcmp(a, b);
}

size_t stmeta_topic_norm_pos(const struct st_meta *m, const char *name,
                             bool *found)
{
    size_t lo = 0, hi = m->n_topics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (norm_order(m->by_norm[mid]->name, name) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < m->n_topics && strcmp(m->by_norm[lo]->name, name) == 0;
    return lo;
}

static int config_cmp(const struct st_meta_config *c,
                      enum st_meta_resource res, const char *name,
                      const char *key)
{
    if (c->resource != res) {
        return c->resource < res ? -1 : 1;
    }
    int r = strcmp(c->name, name);
    return r != 0 ? r : strcmp(c->key, key);
}

size_t stmeta_config_pos(const struct st_meta *m, enum st_meta_resource res,
                       const char *name, const char *key, bool *found)
{
    size_t lo = 0, hi = m->n_configs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (config_cmp(&m->configs[mid], res, name, key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < m->n_configs &&
             config_cmp(&m->configs[lo], res, name, key) == 0;
    return lo;
}

int stmeta_topic_insert(struct st_meta *m, struct st_meta_topic *t)
{
    size_t c1 = m->cap_topics, c2 = m->cap_topics, c3 = m->cap_topics;
    int rv = stmeta_grow((void **)&m->by_name, &c1, m->n_topics, 1,
                       sizeof(void *));
    if (rv != 0) {
        return rv;
    }
    rv = stmeta_grow((void **)&m->by_id, &c2, m->n_topics, 1,
                       sizeof(void *));
    if (rv == 0) {
        rv = stmeta_grow((void **)&m->by_norm, &c3, m->n_topics, 1,
                         sizeof(void *));
    }
    /* An array may be larger than recorded: harmless, it is realloc'd. */
    m->cap_topics = c1 < c2 ? c1 : c2;
    m->cap_topics = c3 < m->cap_topics ? c3 : m->cap_topics;
    if (rv != 0) {
        return rv;
    }
    bool found;
    size_t pn = stmeta_topic_name_pos(m, t->name, &found);
    size_t pi = stmeta_topic_id_pos(m, t->id, &found);
    size_t pz = stmeta_topic_norm_pos(m, t->name, &found);
    memmove(&m->by_norm[pz + 1], &m->by_norm[pz],
            (m->n_topics - pz) * sizeof(void *));
    m->by_norm[pz] = t;
    memmove(&m->by_name[pn + 1], &m->by_name[pn],
            (m->n_topics - pn) * sizeof(void *));
    m->by_name[pn] = t;
    memmove(&m->by_id[pi + 1], &m->by_id[pi],
            (m->n_topics - pi) * sizeof(void *));
    m->by_id[pi] = t;
    m->n_topics++;
    return 0;
}

int stmeta_broker_insert(struct st_meta *m, struct st_meta_broker *b)
{
    int rv = stmeta_grow((void **)&m->brokers, &m->cap_brokers, m->n_brokers,
                       1, sizeof(void *));
    if (rv != 0) {
        return rv;
    }
    bool found;
    size_t pos = stmeta_broker_pos(m, b->id, &found);
    memmove(&m->brokers[pos + 1], &m->brokers[pos],
            (m->n_brokers - pos) * sizeof(void *));
    m->brokers[pos] = b;
    m->n_brokers++;
    return 0;
}

static bool contains(const int32_t *v, int n, int32_t x)
{
    for (int i = 0; i < n; i++) {
        if (v[i] == x) {
            return true;
        }
    }
    return false;
}

bool stmeta_partition_valid(const struct st_meta_partition *p)
{
    if (p->n_replicas <= 0 || p->n_isr <= 0 || p->n_isr > p->n_replicas) {
        return false;
    }
    for (int i = 0; i < p->n_replicas; i++) {
        if (p->replicas[i] < 0 || contains(p->replicas, i, p->replicas[i])) {
            return false;
        }
    }
    for (int i = 0; i < p->n_isr; i++) {
        if (!contains(p->replicas, p->n_replicas, p->isr[i]) ||
            contains(p->isr, i, p->isr[i])) {
            return false;
        }
    }
    if (p->leader != -1 && !contains(p->isr, p->n_isr, p->leader)) {
        return false;
    }
    return p->leader_epoch >= 0 && p->partition_epoch >= 0;
}

/* ---- queries ---- */

int64_t st_meta_last_offset(const struct st_meta *m)
{
    return m->last_offset;
}

size_t st_meta_broker_count(const struct st_meta *m)
{
    return m->n_brokers;
}

const struct st_meta_broker *st_meta_broker_at(const struct st_meta *m,
                                               size_t i)
{
    return i < m->n_brokers ? m->brokers[i] : NULL;
}

const struct st_meta_broker *st_meta_broker_find(const struct st_meta *m,
                                                 int32_t id)
{
    bool found;
    size_t pos = stmeta_broker_pos(m, id, &found);
    return found ? m->brokers[pos] : NULL;
}

size_t st_meta_topic_count(const struct st_meta *m)
{
    return m->n_topics;
}

const struct st_meta_topic *st_meta_topic_at(const struct st_meta *m,
                                             size_t i)
{
    return i < m->n_topics ? m->by_name[i] : NULL;
}

const struct st_meta_topic *st_meta_topic_colliding(const struct st_meta *m,
                                                    const char *name)
{
    bool found;
    size_t pos = stmeta_topic_norm_pos(m, name, &found);
    /* Names equal under norm_cmp sit together, @name's own slot (if any)
     * among them: look on both sides of where @name is or would be. */
    for (size_t i = pos; i < m->n_topics; i++) {
        const char *other = m->by_norm[i]->name;
        if (norm_cmp(other, name) != 0) {
            break;
        }
        if (strcmp(other, name) != 0) {
            return m->by_norm[i];
        }
    }
    if (pos > 0 && norm_cmp(m->by_norm[pos - 1]->name, name) == 0) {
        return m->by_norm[pos - 1]; /* before @name in strcmp: differs */
    }
    return NULL;
}

const struct st_meta_topic *st_meta_topic_by_name(const struct st_meta *m,
                                                  const char *name)
{
    bool found;
    size_t pos = stmeta_topic_name_pos(m, name, &found);
    return found ? m->by_name[pos] : NULL;
}

const struct st_meta_topic *
st_meta_topic_by_id(const struct st_meta *m,
                    const uint8_t id[ST_META_UUID_LEN])
{
    bool found;
    size_t pos = stmeta_topic_id_pos(m, id, &found);
    return found ? m->by_id[pos] : NULL;
}

const struct st_meta_partition *
st_meta_partition_find(const struct st_meta *m,
                       const uint8_t topic_id[ST_META_UUID_LEN],
                       int32_t partition)
{
    const struct st_meta_topic *t = st_meta_topic_by_id(m, topic_id);
    if (t == NULL || partition < 0 || partition >= t->n_parts) {
        return NULL;
    }
    return &t->parts[partition];
}

const char *st_meta_config_get(const struct st_meta *m,
                               enum st_meta_resource resource,
                               const char *name, const char *key)
{
    bool found;
    size_t pos = stmeta_config_pos(m, resource, name, key, &found);
    return found ? m->configs[pos].value : NULL;
}

const char *st_meta_topic_config(const struct st_meta *m, const char *topic,
                                 const char *key)
{
    const char *v = st_meta_config_get(m, ST_META_RES_TOPIC, topic, key);
    if (v == NULL) {
        v = st_meta_config_get(m, ST_META_RES_CLUSTER, "", key);
    }
    if (v == NULL) {
        const struct st_meta_config_def *d = st_meta_config_def_find(key);
        v = d != NULL ? d->default_value : NULL;
    }
    return v;
}

size_t st_meta_config_count(const struct st_meta *m)
{
    return m->n_configs;
}

const struct st_meta_config *st_meta_config_at(const struct st_meta *m,
                                               size_t i)
{
    return i < m->n_configs ? &m->configs[i] : NULL;
}

int64_t st_meta_next_producer_id(const struct st_meta *m)
{
    return m->next_producer_id;
}

bool st_meta_snapshot_due(const struct st_meta *m, int64_t max_records)
{
    return max_records > 0 && m->since_snapshot >= max_records;
}

int64_t st_meta_records_since_snapshot(const struct st_meta *m)
{
    return m->since_snapshot;
}
