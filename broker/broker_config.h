/* strata-broker's configuration: the key schema (defaults and one line of
 * doc per key), loading a properties file plus --set overrides with the
 * start-up checks, the log-config defaults it implies, and the stamp
 * (meta.properties) that `strata-broker format` writes into each log dir.
 *
 * Every failure produces one line naming the key, file or id in @err;
 * main() prints it and exits 2.
 * Runs on: the main thread at start-up.
 */
#ifndef ST_BROKER_CONFIG_H
#define ST_BROKER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define ST_BROKER_CLUSTER_ID_MAX 64
#define ST_BROKER_LOG_DIRS_MAX 16

struct st_log_config;

/* The schema (ended by a NULL name). */
extern const struct st_conf_key st_broker_config_schema[];

/* Load defaults, then @path, then each "key=value" of @sets, then check
 * required keys and cross-key rules (listeners has one endpoint; the TLS
 * files are readable; log.dirs is a non-empty comma list; the heartbeat
 * interval is below the session timeout).
 * Errors: ST_ECONFIG (message in @err), ST_ENOMEM.
 * Ownership: on success *out is the caller's; st_conf_free() it. */
int st_broker_config_load(const char *path, char *const *sets, size_t n_sets,
                          struct st_conf **out, char *err, size_t cap);

/* Split log.dirs into @dirs (each a heap string; free with
 * st_broker_log_dirs_free). Returns the count (>= 1) or ST_ECONFIG. */
int st_broker_log_dirs(const struct st_conf *c,
                       char *dirs[ST_BROKER_LOG_DIRS_MAX]);
void st_broker_log_dirs_free(char *dirs[ST_BROKER_LOG_DIRS_MAX], int n);

/* The broker-wide log defaults (segment.bytes, retention.*, flush policy,
 * max.message.bytes, cleanup.policy) as a log config. */
void st_broker_log_config(const struct st_conf *c, struct st_log_config *out);

/* Apply one topic-level key (Kafka name) with its text @value onto @lc.
 * Unknown keys are ignored (returns 1); a bad value returns ST_ECONFIG. */
int st_broker_log_config_set(struct st_log_config *lc, const char *key,
                             const char *value);

/* Whether @id is 1..64 characters of [A-Za-z0-9_-]. Errors: ST_ECONFIG. */
int st_broker_cluster_id_check(const char *id, char *err, size_t cap);

/* Stamp each log dir (created if missing) with meta.properties for
 * @cluster_id / @node_id, atomically and durably. A dir already stamped
 * for the same cluster and node is left alone; one stamped otherwise, or
 * holding other files without a stamp, is refused.
 * Errors: ST_ECONFIG (message in @err), vfs errors. */
int st_broker_format(const struct st_conf *c, const char *cluster_id,
                     char *err, size_t cap);

/* Check every log dir's stamp against node.id (and cluster.id when set)
 * and copy the cluster id into @cluster_id (ST_BROKER_CLUSTER_ID_MAX + 1
 * bytes). Errors: ST_ECONFIG: "not formatted", "belongs to cluster X",
 * "formatted for node.id N", or dirs that disagree. */
int st_broker_stamp_check(const struct st_conf *c, char *cluster_id,
                          char *err, size_t cap);

#endif
