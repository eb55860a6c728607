/* Inside the metadata state machine: the layout of struct st_meta and the
 * helpers metadata.c, metadata_apply.c and metadata_snapshot.c share. Not
 * for use outside controller/metadata*.c. */
#ifndef ST_META_INT_H
#define ST_META_INT_H

#include "controller/metadata.h"

/* Arrays are kept sorted so that lookups are binary searches and snapshots
 * come out in canonical order without a sort. */
struct st_meta {
    int64_t last_offset;
    int64_t since_snapshot;
    struct st_meta_broker **brokers;   /* by id */
    size_t n_brokers, cap_brokers;
    struct st_meta_topic **by_name;    /* by strcmp(name) */
    struct st_meta_topic **by_id;      /* by memcmp(id) */
    struct st_meta_topic **by_norm;    /* by name with '.' read as '_',
                                        * then strcmp: colliding names
                                        * (topic_name.h) are neighbours */
    size_t n_topics, cap_topics;       /* the three topic arrays */
    struct st_meta_config *configs;    /* by (resource, name, key) */
    size_t n_configs, cap_configs;
    int64_t next_producer_id;
};

/* Free one object and everything it owns. NULL-safe. */
void stmeta_broker_free(struct st_meta_broker *b);
void stmeta_topic_free(struct st_meta_topic *t);
void stmeta_partition_close(struct st_meta_partition *p);
void stmeta_config_close(struct st_meta_config *c);

/* Free every object @m holds and leave it empty (offset untouched). */
void stmeta_clear(struct st_meta *m);

/* Index where @id is, or would be inserted; *found tells which. */
size_t stmeta_broker_pos(const struct st_meta *m, int32_t id, bool *found);
size_t stmeta_topic_name_pos(const struct st_meta *m, const char *name,
                           bool *found);
size_t stmeta_topic_id_pos(const struct st_meta *m, const uint8_t *id,
                         bool *found);
size_t stmeta_topic_norm_pos(const struct st_meta *m, const char *name,
                             bool *found);
size_t stmeta_config_pos(const struct st_meta *m, enum st_meta_resource res,
                       const char *name, const char *key, bool *found);

/* Insert @t (ownership passes on success) into the three topic indexes.
 * Requires: neither its name nor its id is present. Errors: ST_ENOMEM. */
int stmeta_topic_insert(struct st_meta *m, struct st_meta_topic *t);
/* Insert @b at its sorted place. Requires: id not present. ST_ENOMEM. */
int stmeta_broker_insert(struct st_meta *m, struct st_meta_broker *b);

/* Make room for @extra more elements of @elem bytes in *@arr holding @n of
 * *@cap (doubling). Errors: ST_ENOMEM (array unchanged). */
int stmeta_grow(void **arr, size_t *cap, size_t n, size_t extra, size_t elem);

/* Per-broker load (st_meta_broker.n_replicas / n_leading). Add (@sign 1)
 * or remove (@sign -1) partition @p's replicas and leader; ids of brokers
 * not registered are skipped. Never fails. */
void stmeta_load_partition(struct st_meta *m,
                           const struct st_meta_partition *p, int sign);
/* Move one leadership from @from to @to (either may be -1 or unknown). */
void stmeta_load_leader(struct st_meta *m, int32_t from, int32_t to);
/* Recount broker @b's load from every partition: O(partitions). */
void stmeta_load_count(const struct st_meta *m, struct st_meta_broker *b);

/* Checks shared by apply and snapshot load. */
bool stmeta_partition_valid(const struct st_meta_partition *p);

#endif
