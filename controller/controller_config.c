/* strata-controller's configuration schema, start-up checks and the data
 * directory stamp (see controller_config.h). */
#include "controller/controller_config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/vfs.h"

#define STAMP_FILE "meta.properties"
#define STAMP_VERSION 1

/* Defaults. The election timeout is drawn from [T, 2T) by the core; with
 * T = 300 ms a follower notices a dead leader after 300..600 ms, so a
 * failover (pre-vote, vote, no-op commit with one fsync each) stays well
 * under 1 s in the median on a LAN. The broker session timeout (1.5 s,
 * heartbeats every 300 ms) bounds how fast a dead broker's partition
 * leaderships move; Kafka's 9 s rides out JVM pauses we do not have. */
const struct st_conf_key st_ctl_config_schema[] = {
    {"node.id", ST_CONF_INT, NULL, 1, INT32_MAX, NULL, ST_CONF_REQUIRED,
     "this voter's id; must appear in controller.quorum.voters"},
    {"controller.quorum.voters", ST_CONF_VOTERS, NULL, 1, 0, NULL,
     ST_CONF_REQUIRED,
     "every voter as id@host:port (the address the others dial)"},
    {"listeners", ST_CONF_ENDPOINTS, NULL, 1, 0, NULL, ST_CONF_REQUIRED,
     "host:port this voter listens on for voters, brokers and admins"},
    {"cluster.id", ST_CONF_STR, "", 0, 0, NULL, 0,
     "when set, data.dir must be stamped with this cluster id"},
    {"data.dir", ST_CONF_STR, NULL, 0, 0, NULL, ST_CONF_REQUIRED,
     "metadata log directory (Kafka's metadata.log.dir); formatted first"},
    {"tls.ca.file", ST_CONF_STR, NULL, 0, 0, NULL, ST_CONF_REQUIRED,
     "PEM CA that signs every cluster member and client"},
    {"tls.cert.file", ST_CONF_STR, NULL, 0, 0, NULL, ST_CONF_REQUIRED,
     "PEM certificate of this voter (SAN must match its voter address)"},
    {"tls.key.file", ST_CONF_STR, NULL, 0, 0, NULL, ST_CONF_REQUIRED,
     "PEM private key of tls.cert.file"},
    {"broker.session.timeout.ms", ST_CONF_MS, "1500ms", 100, 86400000, NULL, 0,
     "a broker without heartbeats this long is fenced"},
    {"auto.leader.rebalance.enable", ST_CONF_BOOL, "true", 0, 0, NULL, 0,
     "move leadership back to each partition's first replica once in sync"},
    {"broker.heartbeat.interval.ms", ST_CONF_MS, "300ms", 10, 3600000, NULL, 0,
     "how often brokers are told to heartbeat (informational)"},
    {"controller.election.timeout.ms", ST_CONF_MS, "300ms", 20, 60000, NULL,
     0, "Raft election timeout T; each wait is drawn from [T, 2T)"},
    {"controller.heartbeat.interval.ms", ST_CONF_MS, "50ms", 5, 30000, NULL,
     0, "leader's idle AppendEntries period; below the election timeout"},
    {"metadata.snapshot.max.records", ST_CONF_INT, "10000", 1, INT32_MAX,
     NULL, 0, "snapshot the metadata after this many records"},
    {"max.frame.bytes", ST_CONF_SIZE, "100MiB", 4096, (int64_t)1 << 31,
     NULL, 0, "largest RPC frame accepted"},
    {"log.level", ST_CONF_ENUM, "info", 0, 0, "debug|info|warn|error", 0,
     "lowest level logged"},
    {"log.file", ST_CONF_STR, "", 0, 0, NULL, 0,
     "append log lines to this file (empty: stderr)"},
    {"admin.listener", ST_CONF_ENDPOINTS, "", 0, 0, NULL, 0,
     "host:port of the HTTP /metrics and /health endpoint (empty: off)"},
    {NULL, 0, NULL, 0, 0, NULL, 0, NULL},
};

static int readable(const char *key, const char *path, char *err,
                    size_t cap)
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
    int64_t id = st_conf_int(c, "node.id");
    const struct st_endpoints *v =
        st_conf_endpoints(c, "controller.quorum.voters");
    bool found = false;
    for (size_t i = 0; i < v->n; i++) {
        found = found || v->v[i].id == id;
    }
    if (!found) {
        snprintf(err, cap, "node.id %" PRId64 " is not in "
                 "controller.quorum.voters", id);
        return ST_ECONFIG;
    }
    if (v->n > 9) {
        snprintf(err, cap, "controller.quorum.voters: at most 9 voters");
        return ST_ECONFIG;
    }
    if (st_conf_endpoints(c, "listeners")->n != 1) {
        snprintf(err, cap, "listeners: exactly one host:port expected");
        return ST_ECONFIG;
    }
    if (st_conf_endpoints(c, "admin.listener")->n > 1) {
        snprintf(err, cap, "admin.listener: at most one host:port");
        return ST_ECONFIG;
    }
    if (st_conf_ms(c, "controller.heartbeat.interval.ms") * 2 >
        st_conf_ms(c, "controller.election.timeout.ms")) {
        snprintf(err, cap, "controller.heartbeat.interval.ms must be at most "
                 "half of controller.election.timeout.ms");
        return ST_ECONFIG;
    }
    if (st_conf_str(c, "data.dir")[0] == '\0') {
        snprintf(err, cap, "data.dir: empty");
        return ST_ECONFIG;
    }
    static const char *files[] = {"tls.ca.file", "tls.cert.file",
                                  "tls.key.file"};
    for (size_t i = 0; i < 3; i++) {
        int rv = readable(files[i], st_conf_str(c, files[i]), err, cap);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

int st_ctl_config_load(const char *path, char *const *sets, size_t n_sets,
                       struct st_conf **out, char *err, size_t cap)
{
    return st_conf_load_all(st_ctl_config_schema, path, sets, n_sets, check_rules, out,
                            err, cap);
}

int st_ctl_cluster_id_check(const char *id, char *err, size_t cap)
{
    size_t n = strlen(id);
    if (n == 0 || n > ST_CTL_CLUSTER_ID_MAX ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789_-") != n) {
        snprintf(err, cap, "cluster id '%s': expected 1..%d characters of "
                 "[A-Za-z0-9_-]", id, ST_CTL_CLUSTER_ID_MAX);
        return ST_ECONFIG;
    }
    return 0;
}

/* Parse "key=value" lines of a stamp. Unknown keys are ignored so that a
 * newer version may add some. */
static int stamp_parse(const char *path, const char *text,
                       struct st_ctl_stamp *out, char *err, size_t cap)
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
                    strlen(val) <= ST_CTL_CLUSTER_ID_MAX) {
                    strcpy(out->cluster_id, val);
                } else if (strcmp(line, "node.id") == 0) {
                    out->node_id = (int32_t)strtol(val, NULL, 10);
                } else if (strcmp(line, "version") == 0) {
                    out->version = (int)strtol(val, NULL, 10);
                }
            }
        }
        p += n + (eol ? 1 : 0);
    }
    if (out->cluster_id[0] == '\0' || out->node_id < 0 ||
        out->version != STAMP_VERSION) {
        snprintf(err, cap, "%.400s: unreadable stamp (need cluster.id, node.id "
                 "and version=%d)", path, STAMP_VERSION);
        return ST_ECONFIG;
    }
    return 0;
}

static int stamp_load(const char *dir, struct st_ctl_stamp *out, char *err,
                      size_t cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, STAMP_FILE);
    uint8_t *buf;
    size_t len;
    int rv = st_vfs_read_all(st_vfs_posix(), path, &buf, &len);
    if (rv != 0) {
        snprintf(err, cap, "%.400s: %s", path, st_strerror(rv));
        return rv;
    }
    char *text = st_malloc(len + 1);
    if (text == NULL) {
        st_free(buf);
        return ST_ENOMEM;
    }
    memcpy(text, buf, len);
    text[len] = '\0';
    st_free(buf);
    rv = stamp_parse(path, text, out, err, cap);
    st_free(text);
    return rv;
}

int st_ctl_format(const char *dir, const char *cluster_id, int32_t node_id,
                  char *err, size_t cap)
{
    struct st_vfs *vfs = st_vfs_posix();
    int rv = st_ctl_cluster_id_check(cluster_id, err, cap);
    if (rv != 0) {
        return rv;
    }
    char **names = NULL;
    size_t n = 0;
    if (st_vfs_list(vfs, dir, &names, &n) == 0 && n > 0) {
        struct st_ctl_stamp old;
        char ignored[256];
        st_vfs_names_free(names, n);
        if (stamp_load(dir, &old, ignored, sizeof ignored) == 0 &&
            strcmp(old.cluster_id, cluster_id) != 0) {
            snprintf(err, cap, "data.dir %s belongs to cluster '%s', not "
                     "'%s': refusing to format it", dir, old.cluster_id,
                     cluster_id);
        } else {
            snprintf(err, cap, "data.dir %s is not empty: refusing to "
                     "format it (remove it first)", dir);
        }
        return ST_ECONFIG;
    }
    rv = st_vfs_mkdir_p(vfs, dir);
    if (rv != 0) {
        snprintf(err, cap, "data.dir %s: cannot create: %s", dir,
                 st_strerror(rv));
        return rv;
    }
    char text[256];
    int len = snprintf(text, sizeof text,
                       "# written by strata-controller format\n"
                       "version=%d\ncluster.id=%s\nnode.id=%" PRId32 "\n",
                       STAMP_VERSION, cluster_id, node_id);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, STAMP_FILE);
    rv = st_vfs_write_atomic(vfs, path, text, (size_t)len);
    if (rv != 0) {
        snprintf(err, cap, "%.400s: cannot write: %s", path, st_strerror(rv));
    }
    return rv;
}

int st_ctl_stamp_read(const char *dir, int32_t node_id,
                      const char *cluster_id, struct st_ctl_stamp *out,
                      char *err, size_t cap)
{
    char why[512];
    int rv = stamp_load(dir, out, why, sizeof why);
    if (rv == ST_ENOENT) {
        snprintf(err, cap, "data.dir %s is not formatted: run "
                 "'strata-controller format --config FILE --cluster-id ID'",
                 dir);
        return ST_ECONFIG;
    }
    if (rv != 0) {
        snprintf(err, cap, "data.dir %s", why);
        return ST_ECONFIG;
    }
    if (cluster_id != NULL && cluster_id[0] != '\0' &&
        strcmp(cluster_id, out->cluster_id) != 0) {
        snprintf(err, cap, "data.dir %s belongs to cluster '%s', not "
                 "cluster.id '%s'", dir, out->cluster_id, cluster_id);
        return ST_ECONFIG;
    }
    if (out->node_id != node_id) {
        snprintf(err, cap, "data.dir %s was formatted for node.id %" PRId32
                 ", not %" PRId32, dir, out->node_id, node_id);
        return ST_ECONFIG;
    }
    return 0;
}
