/* The schema of dynamic configs kept in the metadata log: which keys exist,
 * for which resources (topic, cluster default, broker), their value type,
 * range and default. Topic keys follow Kafka's names and meanings.
 *
 * A cluster or broker value for a topic key is the default for topics that
 * do not override it. num.partitions and default.replication.factor are
 * broker-level (cluster/broker) only. Pure; runs on any thread.
 */
#ifndef ST_META_CONFIG_H
#define ST_META_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/metadata.h"

enum st_meta_config_type {
    ST_META_CFG_LONG,     /* decimal int64 in [min, max] */
    ST_META_CFG_BOOL,     /* "true" or "false" */
    ST_META_CFG_ENUM,     /* one of choices (comma-separated list allowed
                           * when list is set) */
};

/* Scope bits: where a key may be set. */
enum {
    ST_META_SCOPE_TOPIC = 1,
    ST_META_SCOPE_CLUSTER = 2,
    ST_META_SCOPE_BROKER = 4,
};

struct st_meta_config_def {
    const char *key;
    enum st_meta_config_type type;
    unsigned scope;
    int64_t min, max;              /* ST_META_CFG_LONG */
    const char *const *choices;    /* ST_META_CFG_ENUM, NULL-terminated */
    bool list;                     /* ENUM: a comma-separated set */
    const char *default_value;
};

/* The definition of @key, or NULL when unknown. */
const struct st_meta_config_def *st_meta_config_def_find(const char *key);
/* Definitions in key order; NULL past the end. */
const struct st_meta_config_def *st_meta_config_def_at(size_t i);

/* Check that @key may be set on @resource and that @value is valid for it.
 * On error writes a sentence naming the key and the problem to @err
 * (@cap bytes). Errors: ST_ECONFIG. */
int st_meta_config_validate(enum st_meta_resource resource, const char *key,
                            const char *value, char *err, size_t cap);

/* Parse @value as the int64 a LONG key holds. Errors: ST_ECONFIG. */
int st_meta_config_parse_long(const char *value, int64_t *out);

#endif
