/* strata-controller's configuration: the key schema (with defaults and
 * one line of doc per key), loading a properties file plus --set
 * overrides, the start-up checks, and the data directory's stamp
 * (meta.properties) written by `strata-controller format`.
 *
 * Every check failure produces one line naming the problem (the key, the
 * file, the id) in @err; main() prints it and exits 2.
 * Runs on: the main thread at start-up.
 */
#ifndef ST_CONTROLLER_CONFIG_H
#define ST_CONTROLLER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define ST_CTL_CLUSTER_ID_MAX 64

/* The schema (ended by a NULL name). */
extern const struct st_conf_key st_ctl_config_schema[];

/* Load defaults, then @path, then each "key=value" of @sets (n_sets), then
 * check required keys and cross-key rules: node.id must be one of
 * controller.quorum.voters; listeners has exactly one endpoint; the TLS
 * files are readable; the election timeout exceeds the heartbeat interval.
 * Errors: ST_ECONFIG (message in @err), ST_ENOMEM.
 * Ownership: on success *out is the caller's; st_conf_free() it. */
int st_ctl_config_load(const char *path, char *const *sets, size_t n_sets,
                       struct st_conf **out, char *err, size_t cap);

/* The stamp in <data.dir>/meta.properties. */
struct st_ctl_stamp {
    char cluster_id[ST_CTL_CLUSTER_ID_MAX + 1];
    int32_t node_id;
    int version;
};

/* Whether @id is a usable cluster id: 1..64 of [A-Za-z0-9_-]. */
int st_ctl_cluster_id_check(const char *id, char *err, size_t cap);

/* Stamp the empty (or missing) directory @dir for @cluster_id / @node_id:
 * meta.properties written atomically and fsynced. Refuses a directory that
 * holds anything (naming the cluster when it is another cluster's).
 * Errors: ST_ECONFIG (message in @err), vfs errors (message in @err). */
int st_ctl_format(const char *dir, const char *cluster_id, int32_t node_id,
                  char *err, size_t cap);

/* Read and check the stamp of @dir against @node_id and, unless it is
 * NULL or "", @cluster_id. Errors: ST_ECONFIG with @err saying "not
 * formatted", "belongs to cluster X", "formatted for node.id N" or
 * "unreadable". */
int st_ctl_stamp_read(const char *dir, int32_t node_id,
                      const char *cluster_id,
                      struct st_ctl_stamp *out, char *err, size_t cap);

#endif
