/* The client's configuration: the strata_conf_t behind strata_conf_set(),
 * and the typed snapshot a handle reads once at strata_new().
 *
 * Keys are parsed by common/config.h's schema (units, ranges, enums); this
 * file adds the librdkafka-style result codes (unknown key vs bad value) and
 * the callbacks. Runs on: the application thread that owns the conf.
 */
#ifndef ST_CLIENT_CONF_H
#define ST_CLIENT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "strata.h"

enum cl_part_kind {
    CL_PART_MURMUR2,
    CL_PART_MURMUR2_RANDOM,
    CL_PART_CONSISTENT_RANDOM,
    CL_PART_RANDOM,
};

enum cl_offset_reset { CL_RESET_EARLIEST, CL_RESET_LATEST, CL_RESET_ERROR };

/* Typed values, read once by strata_new(). Strings point into the
 * strata_conf_t, which the handle keeps. */
struct cl_conf {
    const struct st_endpoints *bootstrap;
    const char *ca_file, *cert_file, *key_file;
    const char *client_id;
    int32_t acks;               /* -1, 0, 1 */
    uint64_t linger_ms;
    uint64_t batch_bytes;
    bool zstd;
    bool idempotence;
    int64_t retries;
    uint64_t retry_backoff_ms;
    uint64_t delivery_timeout_ms;
    uint64_t request_timeout_ms;
    int64_t queue_msgs_max;
    uint64_t queue_bytes_max;
    uint64_t memory_bytes_max;
    enum cl_part_kind partitioner;
    uint64_t metadata_max_age_ms;
    const char *group_id;
    enum cl_offset_reset offset_reset;
    bool auto_commit;
    uint64_t auto_commit_interval_ms;
    bool partition_eof;         /* enable.partition.eof */
    uint64_t fetch_min_bytes;
    uint64_t fetch_max_wait_ms;
    uint64_t partition_fetch_bytes_max;
    uint64_t session_timeout_ms;
    uint64_t max_poll_interval_ms;
};

struct strata_conf_s {
    struct st_conf *c;
    char **set_kv;   /* every successful set, key,value,... for dup */
    size_t n_set;
    strata_dr_msg_cb_t dr_cb;
    strata_error_cb_t error_cb;
    strata_rebalance_cb_t rebalance_cb;
    strata_offset_commit_cb_t commit_cb;
    void *opaque;
};

/* Check required keys and fill @out. ST_ECONFIG with @err naming the key. */
int cl_conf_resolve(const strata_conf_t *conf, struct cl_conf *out, char *err,
                    size_t cap);

#endif
