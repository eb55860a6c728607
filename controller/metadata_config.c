/* The dynamic config schema and value validation. */
#include "controller/metadata_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define T ST_META_SCOPE_TOPIC
#define C ST_META_SCOPE_CLUSTER
#define B ST_META_SCOPE_BROKER

static const char *const cleanup_choices[] = {"delete", "compact", NULL};
static const char *const compression_choices[] = {
    "producer", "uncompressed", "zstd", NULL};
static const char *const ts_choices[] = {"CreateTime", "LogAppendTime", NULL};

/* Sorted by key (st_meta_config_def_at lists them in this order). Ranges and
 * defaults are Kafka's, except segment.bytes whose floor is 1 KiB. */
static const struct st_meta_config_def defs[] = {
    {"cleanup.policy", ST_META_CFG_ENUM, T | C | B, 0, 0, cleanup_choices,
     true, "delete"},
    {"compression.type", ST_META_CFG_ENUM, T | C | B, 0, 0,
     compression_choices, false, "producer"},
    {"default.replication.factor", ST_META_CFG_LONG, C | B, 1, 32767, NULL,
     false, "1"},
    {"delete.retention.ms", ST_META_CFG_LONG, T | C | B, 0, INT64_MAX, NULL,
     false, "86400000"},
    {"max.message.bytes", ST_META_CFG_LONG, T | C | B, 0, INT32_MAX, NULL,
     false, "1048588"},
    {"message.timestamp.type", ST_META_CFG_ENUM, T | C | B, 0, 0, ts_choices,
     false, "CreateTime"},
    {"min.insync.replicas", ST_META_CFG_LONG, T | C | B, 1, INT32_MAX, NULL,
     false, "1"},
    {"num.partitions", ST_META_CFG_LONG, C | B, 1, 1000000, NULL, false, "1"},
    {"retention.bytes", ST_META_CFG_LONG, T | C | B, -1, INT64_MAX, NULL,
     false, "-1"},
    {"retention.ms", ST_META_CFG_LONG, T | C | B, -1, INT64_MAX, NULL, false,
     "604800000"},
    {"segment.bytes", ST_META_CFG_LONG, T | C | B, 1024, INT32_MAX, NULL,
     false, "1073741824"},
    {"segment.ms", ST_META_CFG_LONG, T | C | B, 1, INT64_MAX, NULL, false,
     "604800000"},
    {"unclean.leader.election.enable", ST_META_CFG_BOOL, T | C | B, 0, 0,
     NULL, false, "false"},
};

#undef T
#undef C
#undef B

const struct st_meta_config_def *st_meta_config_def_at(size_t i)
{
    return i < sizeof defs / sizeof defs[0] ? &defs[i] : NULL;
}

const struct st_meta_config_def *st_meta_config_def_find(const char *key)
{
    if (key == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        if (strcmp(defs[i].key, key) == 0) {
            return &defs[i];
        }
    }
    return NULL;
}

int st_meta_config_parse_long(const char *value, int64_t *out)
{
    if (value == NULL || *value == '\0') {
        return ST_ECONFIG;
    }
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno != 0 || *end != '\0' || end == value) {
        return ST_ECONFIG;
    }
    *out = (int64_t)v;
    return 0;
}

static bool is_choice(const char *const *choices, const char *s, size_t len)
{
    for (size_t i = 0; choices[i] != NULL; i++) {
        if (strlen(choices[i]) == len && memcmp(choices[i], s, len) == 0) {
            return true;
        }
    }
    return false;
}

static bool enum_valid(const struct st_meta_config_def *d, const char *value)
{
    if (!d->list) {
        return is_choice(d->choices, value, strlen(value));
    }
    /* A non-empty comma-separated list of choices ("compact,delete"). */
    const char *p = value;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || !is_choice(d->choices, p, len)) {
            return false;
        }
        if (comma == NULL) {
            return true;
        }
        p = comma + 1;
    }
}

static const char *resource_name(enum st_meta_resource r)
{
    switch (r) {
    case ST_META_RES_TOPIC: return "topic";
    case ST_META_RES_CLUSTER: return "cluster";
    case ST_META_RES_BROKER: return "broker";
    }
    return "unknown resource";
}

static unsigned scope_of(enum st_meta_resource r)
{
    switch (r) {
    case ST_META_RES_TOPIC: return ST_META_SCOPE_TOPIC;
    case ST_META_RES_CLUSTER: return ST_META_SCOPE_CLUSTER;
    case ST_META_RES_BROKER: return ST_META_SCOPE_BROKER;
    }
    return 0;
}

int st_meta_config_validate(enum st_meta_resource resource, const char *key,
                            const char *value, char *err, size_t cap)
{
    const struct st_meta_config_def *d = st_meta_config_def_find(key);
    if (d == NULL) {
        snprintf(err, cap, "unknown config key '%s'", key ? key : "(null)");
        return ST_ECONFIG;
    }
    if ((d->scope & scope_of(resource)) == 0) {
        snprintf(err, cap, "config key '%s' cannot be set on a %s", key,
                 resource_name(resource));
        return ST_ECONFIG;
    }
    if (value == NULL) {
        snprintf(err, cap, "config key '%s' needs a value", key);
        return ST_ECONFIG;
    }
    int64_t v;
    switch (d->type) {
    case ST_META_CFG_LONG:
        if (st_meta_config_parse_long(value, &v) != 0) {
            snprintf(err, cap, "config '%s': '%s' is not an integer", key,
                     value);
            return ST_ECONFIG;
        }
        if (v < d->min || v > d->max) {
            snprintf(err, cap,
                     "config '%s': %" PRId64 " is outside [%" PRId64
                     ", %" PRId64 "]",
                     key, v, d->min, d->max);
            return ST_ECONFIG;
        }
        return 0;
    case ST_META_CFG_BOOL:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            snprintf(err, cap, "config '%s': '%s' is not true or false", key,
                     value);
            return ST_ECONFIG;
        }
        return 0;
    case ST_META_CFG_ENUM:
        if (!enum_valid(d, value)) {
            snprintf(err, cap, "config '%s': '%s' is not a valid value", key,
                     value);
            return ST_ECONFIG;
        }
        return 0;
    }
    snprintf(err, cap, "config '%s': unknown type", key);
    return ST_ECONFIG;
}
