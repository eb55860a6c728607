/* strata-broker's configuration schema, start-up checks and the log-dir
 * stamp (see broker_config.h). */
#include "broker/broker_config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log/log.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/vfs.h"

#define STAMP_FILE "meta.properties"
#define STAMP_VERSION 1

/* Topic-level keys keep Kafka's names and meanings; their values here are
 * the broker's defaults for topics without an override (the metadata log's
 * topic and cluster overrides win, see partition_manager.c). retention.ms
 * and retention.bytes are plain integers because -1 means "no limit". */
const struct st_conf_key st_broker_config_schema[] = {
    {"node.id", ST_CONF_INT, NULL, 0, INT32_MAX, NULL, ST_CONF_REQUIRED,
     "this broker's id, unique in the cluster"},
    {"listeners", ST_CONF_ENDPOINTS, NULL, 1, 0, NULL, ST_CONF_REQUIRED,
     "host:port the broker listens on for clients (mTLS)"},
    {"advertised.listeners", ST_CONF_ENDPOINTS, "", 0, 0, NULL, 0,
     "host:port clients are told to dial (empty: listeners)"},
    {"rack", ST_CONF_STR, "", 0, 0, NULL, 0,
     "rack of this broker for replica placement (empty: none)"},
    {"controller.quorum.voters", ST_CONF_VOTERS, NULL, 1, 0, NULL,
     ST_CONF_REQUIRED, "every controller as id@host:port"},
    {"log.dirs", ST_CONF_STR, NULL, 0, 0, NULL, ST_CONF_REQUIRED,
     "comma-separated directories for partition logs; formatted first"},
    {"cluster.id", ST_CONF_STR, "", 0, 0, NULL, 0,
     "when set, the log dirs must be stamped with this cluster id"},
    {"tls.ca.file", ST_CONF_STR, NULL, 0, 0, NULL, ST_CONF_REQUIRED,
     "PEM CA that signs every cluster member and client"},
    {"tls.cert.file", ST_CONF_STR, NULL, 0, 0, NULL, ST_CONF_REQUIRED,
     "PEM certificate of this broker (SAN must match its listener host)"},
    {"tls.key.file", ST_CONF_STR, NULL, 0, 0, NULL, ST_CONF_REQUIRED,
     "PEM private key of tls.cert.file"},
    {"broker.heartbeat.interval.ms", ST_CONF_MS, "300ms", 10, 3600000, NULL, 0,
     "how often the broker heartbeats to the active controller"},
    {"broker.session.timeout.ms", ST_CONF_MS, "1500ms", 100, 86400000, NULL, 0,
     "the controllers' session timeout; without an answered heartbeat "
     "this long the broker considers itself fenced"},
    {"max.frame.bytes", ST_CONF_SIZE, "100MiB", 4096, (int64_t)1 << 31,
     NULL, 0, "largest RPC frame accepted"},
    {"num.partitions", ST_CONF_INT, "1", 1, 1000000, NULL, 0,
     "partitions of a topic created without a count"},
    {"default.replication.factor", ST_CONF_INT, "1", 1, 32767, NULL, 0,
     "replication factor of a topic created without one"},
    {"min.insync.replicas", ST_CONF_INT, "1", 1, INT32_MAX, NULL, 0,
     "acks=all is refused while the ISR is smaller than this"},
    {"unclean.leader.election.enable", ST_CONF_BOOL, "false", 0, 0, NULL, 0,
     "default for topics: may an out-of-sync replica lead (losing data)"},
    {"retention.ms", ST_CONF_INT, "604800000", -1, INT64_MAX, NULL, 0,
     "delete segments older than this (ms; -1 forever)"},
    {"retention.bytes", ST_CONF_INT, "-1", -1, INT64_MAX, NULL, 0,
     "delete old segments while a partition is larger (-1: no limit)"},
    {"segment.bytes", ST_CONF_SIZE, "1GiB", 1024, INT32_MAX, NULL, 0,
     "roll a new segment at this size"},
    {"segment.ms", ST_CONF_MS, "7d", 1, INT64_MAX, NULL, 0,
     "roll a new segment at this age"},
    {"cleanup.policy", ST_CONF_ENUM, "delete", 0, 0, "delete|compact", 0,
     "delete old segments, or keep the latest record per key"},
    {"max.message.bytes", ST_CONF_SIZE, "1048588", 64, INT32_MAX, NULL, 0,
     "largest record batch accepted"},
    {"log.flush.policy", ST_CONF_ENUM, "batch", 0, 0, "batch|interval|none",
     0, "batch: acks=all waits for fsync (group commit); interval: fsync "
     "every log.flush.interval.ms; none: page cache"},
    {"log.flush.interval.ms", ST_CONF_MS, "1s", 1, 86400000, NULL, 0,
     "fsync period under log.flush.policy=interval"},
    {"replica.lag.time.max.ms", ST_CONF_MS, "30s", 10, 86400000, NULL, 0,
     "a follower not caught up for this long leaves the ISR"},
    {"test.vfs", ST_CONF_ENUM, "posix", 0, 0, "posix|crashable", 0,
     "tests only: crashable drops un-fsynced writes and exits on SIGUSR1"},
    {"offsets.topic.num.partitions", ST_CONF_INT, "12", 1, 1000, NULL, 0,
     "partitions of __consumer_offsets when the cluster creates it"},
    {"offsets.topic.replication.factor", ST_CONF_INT, "3", 1, 32767, NULL,
     0, "replication factor of __consumer_offsets (capped by brokers)"},
    {"offsets.retention.minutes", ST_CONF_INT, "10080", 1, 52560000, NULL, 0,
     "committed offsets of an empty group expire after this long"},
    {"group.consumer.session.timeout.ms", ST_CONF_MS, "45s", 100, 3600000,
     NULL, 0, "a group member without a heartbeat this long is removed"},
    {"group.consumer.heartbeat.interval.ms", ST_CONF_MS, "5s", 10, 3600000,
     NULL, 0, "how often group members heartbeat"},
    {"log.level", ST_CONF_ENUM, "info", 0, 0, "debug|info|warn|error", 0,
     "lowest level logged"},
    {"log.file", ST_CONF_STR, "", 0, 0, NULL, 0,
     "append log lines to this file (empty: stderr)"},
    {NULL, 0, NULL, 0, 0, NULL, 0, NULL},
};

static int readable(const char *key, const char *path, char *err, size_t cap)
{
    if (access(path, R_OK) != 0) {
        snprintf(err, cap, "%s: cannot read '%s': %s", key, path,
                 strerror(errno));
        return ST_ECONFIG;
    }
    return 0;
}

static int check_rules(const struct st_conf *c, char *err, size_t cap)
{
    if (st_conf_endpoints(c, "listeners")->n != 1) {
        snprintf(err, cap, "listeners: exactly one host:port expected");
        return ST_ECONFIG;
    }
    if (st_conf_endpoints(c, "advertised.listeners")->n > 1) {
        snprintf(err, cap, "advertised.listeners: at most one host:port");
        return ST_ECONFIG;
    }
    if (st_conf_ms(c, "broker.heartbeat.interval.ms") * 2 >
        st_conf_ms(c, "broker.session.timeout.ms")) {
        snprintf(err, cap, "broker.heartbeat.interval.ms must be at most "
                 "half of broker.session.timeout.ms");
        return ST_ECONFIG;
    }
    char *dirs[ST_BROKER_LOG_DIRS_MAX];
    int n = st_broker_log_dirs(c, dirs);
    if (n < 0) {
        snprintf(err, cap, "log.dirs: expected 1..%d comma-separated "
                 "directories", ST_BROKER_LOG_DIRS_MAX);
        return ST_ECONFIG;
    }
    st_broker_log_dirs_free(dirs, n);
    static const char *files[] = {"tls.ca.file", "tls.cert.file",
                                  "tls.key.file"};
    for (size_t i = 0; i < 3; i++) {
        int rv = readable(files[i], st_conf_str(c, files[i]), err, cap);
        if (rv != 0) {
            return rv;
        }
    }
    const char *cid = st_conf_str(c, "cluster.id");
    if (cid[0] != '\0') {
        return st_broker_cluster_id_check(cid, err, cap);
    }
    return 0;
}

int st_broker_config_load(const char *path, char *const *sets, size_t n_sets,
                          struct st_conf **out, char *err, size_t cap)
{
    return st_conf_load_all(st_broker_config_schema, path, sets, n_sets, check_rules, out,
                            err, cap);
}

int st_broker_log_dirs(const struct st_conf *c,
                       char *dirs[ST_BROKER_LOG_DIRS_MAX])
{
    const char *p = st_conf_str(c, "log.dirs");
    int n = 0;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        if (len == 0 || n == ST_BROKER_LOG_DIRS_MAX) {
            st_broker_log_dirs_free(dirs, n);
            return ST_ECONFIG;
        }
        dirs[n] = st_malloc(len + 1);
        if (dirs[n] == NULL) {
            st_broker_log_dirs_free(dirs, n);
            return ST_ENOMEM;
        }
        memcpy(dirs[n], p, len);
        dirs[n][len] = '\0';
        n++;
        p = comma ? comma + 1 : p + strlen(p);
    }
    return n == 0 ? ST_ECONFIG : n;
}

void st_broker_log_dirs_free(char *dirs[ST_BROKER_LOG_DIRS_MAX], int n)
{
    for (int i = 0; i < n; i++) {
        st_free(dirs[i]);
    }
}

void st_broker_log_config(const struct st_conf *c, struct st_log_config *out)
{
    st_log_config_init(out);
    out->segment_bytes = st_conf_size(c, "segment.bytes");
    out->segment_ms = (int64_t)st_conf_ms(c, "segment.ms");
    out->retention_ms = st_conf_int(c, "retention.ms");
    out->retention_bytes = st_conf_int(c, "retention.bytes");
    out->cleanup_policy = strcmp(st_conf_str(c, "cleanup.policy"),
                                 "compact") == 0
                              ? ST_LOG_CLEANUP_COMPACT
                              : ST_LOG_CLEANUP_DELETE;
    const char *fp = st_conf_str(c, "log.flush.policy");
    out->flush_policy = strcmp(fp, "interval") == 0 ? ST_LOG_FLUSH_INTERVAL
                        : strcmp(fp, "none") == 0   ? ST_LOG_FLUSH_NONE
                                                    : ST_LOG_FLUSH_BATCH;
    out->flush_interval_ms = (int64_t)st_conf_ms(c, "log.flush.interval.ms");
    out->max_message_bytes = (uint32_t)st_conf_size(c, "max.message.bytes");
}

static int parse_i64(const char *v, int64_t min, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || x < min) {
        return ST_ECONFIG;
    }
    *out = x;
    return 0;
}

int st_broker_log_config_set(struct st_log_config *lc, const char *key,
                             const char *value)
{
    int64_t x = 0;
    if (strcmp(key, "cleanup.policy") == 0) {
        unsigned pol = 0;
        if (strstr(value, "delete") != NULL) {
            pol |= ST_LOG_CLEANUP_DELETE;
        }
        if (strstr(value, "compact") != NULL) {
            pol |= ST_LOG_CLEANUP_COMPACT;
        }
        if (pol == 0) {
            return ST_ECONFIG;
        }
        lc->cleanup_policy = pol;
        return 0;
    }
    static const struct {
        const char *key;
        int64_t min;
    } longs[] = {{"segment.bytes", 1024},  {"segment.ms", 1},
                 {"retention.ms", -1},     {"retention.bytes", -1},
                 {"max.message.bytes", 0}, {"delete.retention.ms", 0}};
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
        if (strcmp(key, longs[i].key) != 0) {
            continue;
        }
        if (parse_i64(value, longs[i].min, &x) != 0) {
            return ST_ECONFIG;
        }
        switch (i) {
        case 0: lc->segment_bytes = (uint64_t)x; break;
        case 1: lc->segment_ms = x; break;
        case 2: lc->retention_ms = x; break;
        case 3: lc->retention_bytes = x; break;
        case 4: lc->max_message_bytes = x > INT32_MAX ? INT32_MAX
                                                      : (uint32_t)x; break;
        default: lc->delete_retention_ms = x; break;
        }
        return 0;
    }
    return 1;
}

int st_broker_cluster_id_check(const char *id, char *err, size_t cap)
{
    size_t n = strlen(id);
    if (n == 0 || n > ST_BROKER_CLUSTER_ID_MAX ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789_-") != n) {
        snprintf(err, cap, "cluster id '%s': expected 1..%d characters of "
                 "[A-Za-z0-9_-]", id, ST_BROKER_CLUSTER_ID_MAX);
        return ST_ECONFIG;
    }
    return 0;
}

struct stamp {
    char cluster_id[ST_BROKER_CLUSTER_ID_MAX + 1];
    int64_t node_id;
    int version;
};

/* Parse "key=value" lines; unknown keys are ignored (a newer version may
 * add some). Returns 0 when the three keys are there. */
static int stamp_parse(const char *text, struct stamp *out)
{
    memset(out, 0, sizeof *out);
    out->node_id = -1;
    const char *p = text;
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char line[256];
        if (n < sizeof line && p[0] != '#') {
            memcpy(line, p, n);
            line[n] = '\0';
            char *eq = strchr(line, '=');
            if (eq != NULL) {
                *eq = '\0';
                const char *val = eq + 1;
                if (strcmp(line, "cluster.id") == 0 &&
                    strlen(val) <= ST_BROKER_CLUSTER_ID_MAX) {
                    strcpy(out->cluster_id, val);
                } else if (strcmp(line, "node.id") == 0) {
                    out->node_id = strtoll(val, NULL, 10);
                } else if (strcmp(line, "version") == 0) {
                    out->version = (int)strtol(val, NULL, 10);
                }
            }
        }
        p += n + (eol ? 1 : 0);
    }
    return out->cluster_id[0] != '\0' && out->node_id >= 0 &&
                   out->version == STAMP_VERSION
               ? 0
               : ST_ECORRUPT;
}

/* 0 and *out; ST_ENOENT when there is no stamp; ST_ECONFIG (with @err)
 * when it is unreadable. */
static int stamp_load(const char *dir, struct stamp *out, char *err,
                      size_t cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, STAMP_FILE);
    uint8_t *buf;
    size_t len;
    int rv = st_vfs_read_all(st_vfs_posix(), path, &buf, &len);
    if (rv != 0) {
        if (rv != ST_ENOENT) {
            snprintf(err, cap, "%s: %s", path, st_strerror(rv));
            return ST_ECONFIG;
        }
        return rv;
    }
    char *text = st_malloc(len + 1);
    if (text == NULL) {
        st_free(buf);
        return ST_ENOMEM;
    }
    if (len > 0) {
        memcpy(text, buf, len);
    }
    text[len] = '\0';
    st_free(buf);
    rv = stamp_parse(text, out);
    st_free(text);
    if (rv != 0) {
        snprintf(err, cap, "%s: unreadable stamp (need cluster.id, node.id "
                 "and version=%d)", path, STAMP_VERSION);
        return ST_ECONFIG;
    }
    return 0;
}

static int format_dir(const char *dir, const char *cluster_id,
                      int64_t node_id, char *err, size_t cap)
{
    struct st_vfs *vfs = st_vfs_posix();
    int rv = st_vfs_mkdir_p(vfs, dir);
    if (rv != 0) {
        snprintf(err, cap, "%s: cannot create: %s", dir, st_strerror(rv));
        return rv;
    }
    struct stamp s;
    rv = stamp_load(dir, &s, err, cap);
    if (rv == 0) {
        if (strcmp(s.cluster_id, cluster_id) != 0 || s.node_id != node_id) {
            snprintf(err, cap, "%s: already formatted for cluster %s node.id "
                     "%" PRId64, dir, s.cluster_id, s.node_id);
            return ST_ECONFIG;
        }
        return 0;
    }
    if (rv != ST_ENOENT) {
        return rv;
    }
    char **names;
    size_t n;
    rv = st_vfs_list(vfs, dir, &names, &n);
    if (rv != 0) {
        snprintf(err, cap, "%s: cannot list: %s", dir, st_strerror(rv));
        return rv;
    }
    st_vfs_names_free(names, n);
    if (n != 0) {
        snprintf(err, cap, "%s: not empty and not formatted; refusing",
                 dir);
        return ST_ECONFIG;
    }
    char text[256], path[4096];
    int len = snprintf(text, sizeof text,
                       "# strata broker log dir stamp\ncluster.id=%s\n"
                       "node.id=%" PRId64 "\nversion=%d\n",
                       cluster_id, node_id, STAMP_VERSION);
    snprintf(path, sizeof path, "%s/%s", dir, STAMP_FILE);
    rv = st_vfs_write_atomic(vfs, path, text, (size_t)len);
    if (rv != 0) {
        snprintf(err, cap, "%s: cannot write: %s", path, st_strerror(rv));
    }
    return rv;
}

int st_broker_format(const struct st_conf *c, const char *cluster_id,
                     char *err, size_t cap)
{
    int rv = st_broker_cluster_id_check(cluster_id, err, cap);
    if (rv != 0) {
        return rv;
    }
    char *dirs[ST_BROKER_LOG_DIRS_MAX];
    int n = st_broker_log_dirs(c, dirs);
    if (n < 0) {
        snprintf(err, cap, "log.dirs: bad list");
        return n;
    }
    for (int i = 0; rv == 0 && i < n; i++) {
        rv = format_dir(dirs[i], cluster_id, st_conf_int(c, "node.id"), err,
                        cap);
    }
    st_broker_log_dirs_free(dirs, n);
    return rv;
}

int st_broker_stamp_check(const struct st_conf *c, char *cluster_id,
                          char *err, size_t cap)
{
    char *dirs[ST_BROKER_LOG_DIRS_MAX];
    int n = st_broker_log_dirs(c, dirs);
    if (n < 0) {
        snprintf(err, cap, "log.dirs: bad list");
        return n;
    }
    const char *want = st_conf_str(c, "cluster.id");
    int64_t node = st_conf_int(c, "node.id");
    int rv = 0;
    cluster_id[0] = '\0';
    for (int i = 0; rv == 0 && i < n; i++) {
        struct stamp s;
        rv = stamp_load(dirs[i], &s, err, cap);
        if (rv == ST_ENOENT) {
            snprintf(err, cap, "%s: not formatted (run strata-broker format "
                     "--config FILE --cluster-id ID)", dirs[i]);
            rv = ST_ECONFIG;
        } else if (rv == 0 && s.node_id != node) {
            snprintf(err, cap, "%s: formatted for node.id %" PRId64
                     ", not %" PRId64, dirs[i], s.node_id, node);
            rv = ST_ECONFIG;
        } else if (rv == 0 && ((want[0] != '\0' &&
                                strcmp(want, s.cluster_id) != 0) ||
                               (cluster_id[0] != '\0' &&
                                strcmp(cluster_id, s.cluster_id) != 0))) {
            snprintf(err, cap, "%s: belongs to cluster %s", dirs[i],
                     s.cluster_id);
            rv = ST_ECONFIG;
        } else if (rv == 0) {
            strcpy(cluster_id, s.cluster_id);
        }
    }
    st_broker_log_dirs_free(dirs, n);
    return rv;
}
