/* strata_conf_t: librdkafka-style string keys over common/config.h. */
#include "client/lib/conf.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"

#define KIB 1024LL
#define MIB (1024LL * KIB)
#define GIB (1024LL * MIB)

static const struct st_conf_key schema[] = {
    {"bootstrap.servers", ST_CONF_ENDPOINTS, NULL, 1, 0, NULL,
     ST_CONF_REQUIRED, "brokers to fetch metadata from first"},
    {"ssl.ca.location", ST_CONF_STR, "", 0, 0, NULL, 0,
     "PEM CA that signs the brokers' certificates (required)"},
    {"ssl.certificate.location", ST_CONF_STR, "", 0, 0, NULL, 0,
     "client certificate for mutual TLS"},
    {"ssl.key.location", ST_CONF_STR, "", 0, 0, NULL, ST_CONF_SECRET,
     "private key of ssl.certificate.location"},
    {"client.id", ST_CONF_STR, "strata", 0, 0, NULL, 0, "client name"},
    {"acks", ST_CONF_ENUM, "all", 0, 0, "all|-1|0|1", 0,
     "replicas that must have a record before it is acknowledged"},
    {"linger.ms", ST_CONF_MS, "5", 0, 900000, NULL, 0,
     "how long a partition batch waits to fill"},
    /* librdkafka's default; a batch must stay under the brokers'
     * max.message.bytes (1 MiB + 12 by default). */
    {"batch.size", ST_CONF_SIZE, "1000000", 128, 64 * MIB, NULL, 0,
     "bytes per partition batch before compression"},
    {"compression.type", ST_CONF_ENUM, "none", 0, 0, "none|zstd", 0,
     "batch compression codec"},
    {"enable.idempotence", ST_CONF_BOOL, "true", 0, 0, NULL, 0,
     "retries never duplicate or reorder"},
    {"retries", ST_CONF_INT, "2147483647", 0, 2147483647, NULL, 0,
     "resends of a failed batch"},
    {"retry.backoff.ms", ST_CONF_MS, "100", 1, 300000, NULL, 0,
     "wait before resending a failed batch"},
    {"delivery.timeout.ms", ST_CONF_MS, "120000", 1, 2147483647, NULL, 0,
     "bound on enqueue to delivery report"},
    {"request.timeout.ms", ST_CONF_MS, "30000", 1, 900000, NULL, 0,
     "bound on one request to a broker"},
    {"queue.buffering.max.messages", ST_CONF_INT, "100000", 1, 100000000,
     NULL, 0, "records queued or in flight, at most"},
    {"queue.buffering.max.kbytes", ST_CONF_INT, "1048576", 1, 2147483647,
     NULL, 0, "KiB of records queued or in flight, at most"},
    {"memory.limit.bytes", ST_CONF_SIZE, "1GiB", 1 * MIB, 1024 * GIB, NULL,
     0, "one budget for produce buffers and fetched records"},
    {"partitioner", ST_CONF_ENUM, "murmur2", 0, 0,
     "murmur2|murmur2_random|consistent_random|random", 0,
     "how a keyed record picks its partition"},
    {"metadata.max.age.ms", ST_CONF_MS, "300000", 100, 86400000, NULL, 0,
     "refresh metadata at least this often"},
    {"group.id", ST_CONF_STR, "", 0, 0, NULL, 0, "consumer group"},
    {"group.instance.id", ST_CONF_STR, "", 0, 0, NULL, 0,
     "static membership: a restart within the session keeps partitions"},
    {"auto.offset.reset", ST_CONF_ENUM, "latest", 0, 0,
     "earliest|smallest|beginning|latest|largest|end|error", 0,
     "where to start without a valid offset"},
    {"enable.auto.commit", ST_CONF_BOOL, "true", 0, 0, NULL, 0,
     "commit positions periodically (groups)"},
    {"auto.commit.interval.ms", ST_CONF_MS, "5000", 0, 86400000, NULL, 0,
     "auto commit period"},
    {"enable.partition.eof", ST_CONF_BOOL, "false", 0, 0, NULL, 0,
     "poll returns a _PARTITION_EOF event on reaching the high watermark"},
    {"fetch.min.bytes", ST_CONF_SIZE, "1", 1, 100 * MIB, NULL, 0,
     "a fetch waits for this many bytes"},
    {"fetch.max.wait.ms", ST_CONF_MS, "500", 0, 300000, NULL, 0,
     "a fetch waits at most this long for fetch.min.bytes"},
    {"max.partition.fetch.bytes", ST_CONF_SIZE, "1MiB", 1, 1 * GIB, NULL, 0,
     "bytes per partition per fetch"},
    {"session.timeout.ms", ST_CONF_MS, "45000", 1, 3600000, NULL, 0,
     "group session timeout"},
    {"max.poll.interval.ms", ST_CONF_MS, "300000", 1, 86400000, NULL, 0,
     "longest gap between polls before leaving the group"},
    {NULL, 0, NULL, 0, 0, NULL, 0, NULL},
};

static void put_err(char *err, size_t cap, const char *fmt, const char *a)
{
    if (err != NULL && cap > 0) {
        snprintf(err, cap, fmt, a);
    }
}

static const struct st_conf_key *find_key(const char *key)
{
    for (const struct st_conf_key *k = schema; k->name != NULL; k++) {
        if (strcmp(k->name, key) == 0) {
            return k;
        }
    }
    return NULL;
}

strata_conf_t *strata_conf_new(void)
{
    strata_conf_t *conf = st_calloc(1, sizeof *conf);
    if (conf == NULL) {
        return NULL;
    }
    if (st_conf_new(schema, &conf->c) != 0) {
        st_free(conf);
        return NULL;
    }
    return conf;
}

void strata_conf_destroy(strata_conf_t *conf)
{
    if (conf == NULL) {
        return;
    }
    for (size_t i = 0; i < 2 * conf->n_set; i++) {
        st_free(conf->set_kv[i]);
    }
    st_free(conf->set_kv);
    st_conf_free(conf->c);
    st_free(conf);
}

static int remember(strata_conf_t *conf, const char *key, const char *value)
{
    char **kv = st_realloc(conf->set_kv,
                           (conf->n_set + 1) * 2 * sizeof *conf->set_kv);
    if (kv == NULL) {
        return ST_ENOMEM;
    }
    conf->set_kv = kv;
    kv[2 * conf->n_set] = st_strdup(key);
    kv[2 * conf->n_set + 1] = st_strdup(value);
    if (kv[2 * conf->n_set] == NULL || kv[2 * conf->n_set + 1] == NULL) {
        st_free(kv[2 * conf->n_set]);
        st_free(kv[2 * conf->n_set + 1]);
        return ST_ENOMEM;
    }
    conf->n_set++;
    return 0;
}

strata_conf_res_t strata_conf_set(strata_conf_t *conf, const char *key,
                                  const char *value, char *errstr,
                                  size_t errstr_size)
{
    if (key == NULL || find_key(key) == NULL) {
        put_err(errstr, errstr_size, "unknown configuration key '%s'",
                key == NULL ? "(null)" : key);
        return STRATA_CONF_UNKNOWN;
    }
    if (value == NULL) {
        put_err(errstr, errstr_size, "no value given for '%s'", key);
        return STRATA_CONF_INVALID;
    }
    char msg[512];
    int rv = st_conf_set(conf->c, key, value, "config", msg, sizeof msg);
    if (rv == 0) {
        rv = remember(conf, key, value);
        if (rv == 0) {
            return STRATA_CONF_OK;
        }
    }
    if (rv == ST_ENOMEM) {
        put_err(errstr, errstr_size, "out of memory setting '%s'", key);
    } else {
        /* common/config says "config: bad value 'x' for 'key': expected
         * ..."; drop the origin, the caller knows where it set it. */
        const char *m = strncmp(msg, "config: ", 8) == 0 ? msg + 8 : msg;
        put_err(errstr, errstr_size, "%s", m);
    }
    return STRATA_CONF_INVALID;
}

strata_conf_res_t strata_conf_get(const strata_conf_t *conf, const char *key,
                                  char *dest, size_t *dest_size)
{
    const struct st_conf_key *k = key == NULL ? NULL : find_key(key);
    if (k == NULL) {
        return STRATA_CONF_UNKNOWN;
    }
    char buf[1024];
    buf[0] = '\0';
    switch (k->type) {
    case ST_CONF_INT:
        snprintf(buf, sizeof buf, "%lld",
                 (long long)st_conf_int(conf->c, key));
        break;
    case ST_CONF_SIZE:
        st_conf_format_size(st_conf_size(conf->c, key), buf, sizeof buf);
        break;
    case ST_CONF_MS:
        st_conf_format_ms(st_conf_ms(conf->c, key), buf, sizeof buf);
        break;
    case ST_CONF_BOOL:
        snprintf(buf, sizeof buf, "%s",
                 st_conf_bool(conf->c, key) ? "true" : "false");
        break;
    case ST_CONF_ENDPOINTS: {
        const struct st_endpoints *e = st_conf_endpoints(conf->c, key);
        size_t n = 0;
        for (size_t i = 0; i < e->n && n < sizeof buf; i++) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s:%u",
                                  i ? "," : "", e->v[i].host, e->v[i].port);
        }
        break;
    }
    default:
        snprintf(buf, sizeof buf, "%s", st_conf_str(conf->c, key));
        break;
    }
    size_t need = strlen(buf) + 1;
    if (dest != NULL && *dest_size > 0) {
        snprintf(dest, *dest_size, "%s", buf);
    }
    *dest_size = need;
    return STRATA_CONF_OK;
}

strata_conf_t *strata_conf_dup(const strata_conf_t *conf)
{
    strata_conf_t *d = strata_conf_new();
    if (d == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < conf->n_set; i++) {
        if (strata_conf_set(d, conf->set_kv[2 * i], conf->set_kv[2 * i + 1],
                            NULL, 0) != STRATA_CONF_OK) {
            strata_conf_destroy(d);
            return NULL;
        }
    }
    d->dr_cb = conf->dr_cb;
    d->error_cb = conf->error_cb;
    d->rebalance_cb = conf->rebalance_cb;
    d->commit_cb = conf->commit_cb;
    d->opaque = conf->opaque;
    return d;
}

void strata_conf_set_dr_msg_cb(strata_conf_t *conf, strata_dr_msg_cb_t cb)
{
    conf->dr_cb = cb;
}
void strata_conf_set_error_cb(strata_conf_t *conf, strata_error_cb_t cb)
{
    conf->error_cb = cb;
}
void strata_conf_set_opaque(strata_conf_t *conf, void *opaque)
{
    conf->opaque = opaque;
}
void strata_conf_set_rebalance_cb(strata_conf_t *conf,
                                  strata_rebalance_cb_t cb)
{
    conf->rebalance_cb = cb;
}
void strata_conf_set_offset_commit_cb(strata_conf_t *conf,
                                      strata_offset_commit_cb_t cb)
{
    conf->commit_cb = cb;
}

static int enum_index(const char *v, const char *const *words, int n)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(v, words[i]) == 0) {
            return i;
        }
    }
    return 0;
}

int cl_conf_resolve(const strata_conf_t *conf, struct cl_conf *out, char *err,
                    size_t cap)
{
    const struct st_conf *c = conf->c;
    char msg[512];
    if (st_conf_check_required(conf->c, msg, sizeof msg) != 0) {
        put_err(err, cap, "%s", "bootstrap.servers is not set: give "
                "host:port[,host:port...] of one or more brokers");
        return ST_ECONFIG;
    }
    memset(out, 0, sizeof *out);
    out->bootstrap = st_conf_endpoints(c, "bootstrap.servers");
    out->ca_file = st_conf_str(c, "ssl.ca.location");
    out->cert_file = st_conf_str(c, "ssl.certificate.location");
    out->key_file = st_conf_str(c, "ssl.key.location");
    if (out->ca_file[0] == '\0') {
        put_err(err, cap, "%s", "ssl.ca.location is not set: brokers speak "
                "TLS 1.3 only; give the PEM CA that signs them");
        return ST_ECONFIG;
    }
    if ((out->cert_file[0] == '\0') != (out->key_file[0] == '\0')) {
        put_err(err, cap, "%s", "ssl.certificate.location and "
                "ssl.key.location must be set together");
        return ST_ECONFIG;
    }
    out->client_id = st_conf_str(c, "client.id");
    const char *acks = st_conf_str(c, "acks");
    out->acks = strcmp(acks, "0") == 0 ? 0 : strcmp(acks, "1") == 0 ? 1 : -1;
    out->linger_ms = st_conf_ms(c, "linger.ms");
    out->batch_bytes = st_conf_size(c, "batch.size");
    out->zstd = strcmp(st_conf_str(c, "compression.type"), "zstd") == 0;
    out->idempotence = st_conf_bool(c, "enable.idempotence");
    out->retries = st_conf_int(c, "retries");
    out->retry_backoff_ms = st_conf_ms(c, "retry.backoff.ms");
    out->delivery_timeout_ms = st_conf_ms(c, "delivery.timeout.ms");
    out->request_timeout_ms = st_conf_ms(c, "request.timeout.ms");
    out->queue_msgs_max = st_conf_int(c, "queue.buffering.max.messages");
    out->queue_bytes_max =
        (uint64_t)st_conf_int(c, "queue.buffering.max.kbytes") * 1024;
    out->memory_bytes_max = st_conf_size(c, "memory.limit.bytes");
    static const char *const parts[] = {"murmur2", "murmur2_random",
                                        "consistent_random", "random"};
    out->partitioner = (enum cl_part_kind)enum_index(
        st_conf_str(c, "partitioner"), parts, 4);
    out->metadata_max_age_ms = st_conf_ms(c, "metadata.max.age.ms");
    out->group_id = st_conf_str(c, "group.id");
    const char *r = st_conf_str(c, "auto.offset.reset");
    out->offset_reset = strcmp(r, "error") == 0 ? CL_RESET_ERROR
                        : (strcmp(r, "earliest") == 0 ||
                           strcmp(r, "smallest") == 0 ||
                           strcmp(r, "beginning") == 0)
                            ? CL_RESET_EARLIEST
                            : CL_RESET_LATEST;
    out->auto_commit = st_conf_bool(c, "enable.auto.commit");
    out->auto_commit_interval_ms = st_conf_ms(c, "auto.commit.interval.ms");
    out->partition_eof = st_conf_bool(c, "enable.partition.eof");
    out->fetch_min_bytes = st_conf_size(c, "fetch.min.bytes");
    out->fetch_max_wait_ms = st_conf_ms(c, "fetch.max.wait.ms");
    out->partition_fetch_bytes_max =
        st_conf_size(c, "max.partition.fetch.bytes");
    out->session_timeout_ms = st_conf_ms(c, "session.timeout.ms");
    out->max_poll_interval_ms = st_conf_ms(c, "max.poll.interval.ms");
    return 0;
}
