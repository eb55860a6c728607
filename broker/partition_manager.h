/* The partitions this broker hosts, kept in step with the metadata: a
 * partition whose replicas include this broker is opened (its log created
 * or recovered in one of log.dirs), takes its leader/ISR/epoch from every
 * metadata change, and is closed and deleted once the metadata no longer
 * places it here (topic deleted). Directories of partitions deleted while
 * the broker was down are removed once the metadata has caught up.
 *
 * Topic configs: broker config keys are the defaults, overridden by the
 * metadata's cluster-wide values, overridden by the topic's own. They are
 * read when a partition is opened (log settings) and at every metadata
 * change (min.insync.replicas).
 *
 * Directory layout: <log.dir>/<topic>-<partition>/ holding the log and a
 * `partition.metadata` file with the topic id, so a directory left by a
 * deleted topic is never mistaken for a new topic of the same name.
 *
 * Runs on: the broker's loop thread.
 */
#ifndef ST_BROKER_PARTITION_MANAGER_H
#define ST_BROKER_PARTITION_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker_config.h"
#include "broker/log/log.h"

struct event_base;
struct st_jobq;
struct st_vfs;
struct st_conf;
struct st_meta;
struct st_partition;
struct st_pm;
struct st_repl;

struct st_pm_config {
    struct event_base *base;
    struct st_jobq *jobq;
    struct st_vfs *vfs;
    const struct st_conf *conf;        /* broker config; borrowed */
    int32_t node_id;
    void (*hw_advanced)(void *arg, struct st_partition *p);
    void *arg;
    struct st_repl *repl;              /* replica driver; may be NULL */
};

/* Errors: ST_ENOMEM, ST_ECONFIG (log.dirs).
 * Ownership: *out is the caller's; st_pm_free() it. */
int st_pm_new(const struct st_pm_config *cfg, struct st_pm **out);
/* Close every partition cleanly (flush, clean-shutdown marker). NULL-safe. */
void st_pm_free(struct st_pm *pm);

/* Bring the hosted partitions in line with @m (see the top). Deletions
 * happen only when @caught_up. Returns the number of partitions that
 * failed to open (each logged). */
int st_pm_reconcile(struct st_pm *pm, const struct st_meta *m,
                    bool caught_up);

/* The partition @topic/@index hosted here, or NULL. Borrowed: valid until
 * the next reconcile or free. */
struct st_partition *st_pm_find(struct st_pm *pm, const char *topic,
                                int32_t index);

/* Every hosted partition: @fn(@arg, p). */
void st_pm_foreach(struct st_pm *pm,
                   void (*fn)(void *arg, struct st_partition *p), void *arg);
size_t st_pm_count(const struct st_pm *pm);

#endif
