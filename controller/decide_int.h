/* Inside the deciding side: record encoding, error filling and the partition
 * repair that fencing, unfencing, registration and elections share. Not for
 * use outside controller/decide*.c. */
#ifndef ST_DECIDE_INT_H
#define ST_DECIDE_INT_H

#include "controller/decide.h"
#include "errors.pb-c.h"
#include "metadata.pb-c.h"

/* Encode @r and append it to @out. Errors: ST_ENOMEM. */
int stdec_push(struct st_meta_recs *out, const Strata__Meta__MetadataRecord *r);

/* Fill @err (NULL-safe) with @code and a formatted sentence; returns @rv. */
int stdec_fail(struct st_meta_err *err, int rv, int code, const char *fmt,
               ...) __attribute__((format(printf, 4, 5)));
/* Clear @err (NULL-safe). */
void stdec_ok(struct st_meta_err *err);

/* Which brokers count as live for a repair: registered and unfenced, minus
 * @dead (being fenced by this decision), plus @alive (being unfenced). */
struct stdec_live {
    const int32_t *dead;
    size_t n_dead;
    const int32_t *alive;
    size_t n_alive;
    /* When set, this topic's unclean.leader.election.enable is taken as
     * @unclean_value (a change being decided), not read from the state. */
    const char *unclean_topic;
    bool unclean_value;
};

/* Append one PartitionChange for every partition whose ISR or leader differs
 * from what the rules in decide.h give under @lv. Errors: ST_ENOMEM. */
int stdec_repair(const struct st_meta *m, const struct stdec_live *lv,
                 struct st_meta_recs *out);

/* The broker @id at @epoch, or NULL with @err filled (ST_ENOENT / ST_ESTALE,
 * STALE_BROKER_EPOCH) and *@rv set. */
const struct st_meta_broker *stdec_broker(const struct st_meta *m, int32_t id,
                                          int64_t epoch, int *rv,
                                          struct st_meta_err *err);

#endif
