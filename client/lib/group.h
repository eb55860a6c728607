/* Consumer-group membership in libstrata (KIP-848 style, the server
 * assigns; see broker/group/group.h for the protocol).
 *
 *   group.c      loop thread: find the coordinator, heartbeat, learn the
 *                target assignment, fetch committed offsets of new
 *                partitions, send commits, leave
 *   group_app.c  application threads: subscribe, serve rebalances from
 *                strata_consumer_poll() (revoke, then assign: incremental,
 *                the partitions a member keeps never stop), commit,
 *                committed, auto-commit, close
 *
 * The member reports as "owned" exactly the partitions the application
 * consumes now; a partition leaves "owned" only after the revoke callback
 * returned (so the application may commit there) and its queued records
 * were dropped; it joins "owned" only after the assign callback. The
 * coordinator gives a partition to a new owner only after the previous
 * owner's heartbeat no longer lists it.
 *
 * Locking: every field is under rk->lock; callbacks run without it.
 */
#ifndef ST_CLIENT_GROUP_H
#define ST_CLIENT_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "strata.h"

struct strata_s;

struct cl_gtp {
    char *topic;
    int32_t partition;
    int64_t offset; /* committed offset for additions; else unused */
};

struct cl_tpset {
    struct cl_gtp *v;
    size_t n, cap;
};

/* A commit handed to the loop (sync: the caller waits; async: the result
 * is served by strata_consumer_poll()). */
struct cl_commit_job {
    struct cl_commit_job *next;
    struct strata_s *rk;
    strata_topic_partition_list_t *offsets; /* owned by the job */
    bool async;
    bool in_flight;
    bool done;
    int refs;                /* caller (sync) + loop */
    unsigned stale_retries;
    strata_resp_err_t err;
    uint64_t deadline_ms;
};

struct cl_group {
    char id[256];
    char instance_id[256];   /* "" dynamic member */
    bool subscribed;
    char **topics;
    size_t n_topics;
    char *regex;             /* NULL none */
    bool sub_dirty;          /* send the subscription next heartbeat */

    char member_id[256];
    int32_t epoch;           /* 0: not joined */
    int32_t coord;           /* coordinator broker id, -1 unknown */
    bool find_out;
    uint64_t find_after_ms;
    bool hb_out;
    uint64_t hb_next_ms;
    uint32_t hb_interval_ms;

    struct cl_tpset owned;   /* what the application consumes now */
    struct cl_tpset target;  /* the coordinator's last assignment */
    bool owned_dirty;        /* heartbeat at once */
    struct cl_tpset to_assign; /* offsets fetched; for the application */
    bool fetch_out;
    bool lost;               /* fenced: the application drops everything */
    bool leaving, left;
    bool poll_expired;       /* max.poll.interval.ms passed: left */
    uint64_t last_poll_ms;
    uint64_t next_auto_commit_ms;
    struct cl_commit_job *jobs;      /* for the loop to send */
    struct cl_commit_job *results;   /* async results for poll */
    bool in_cb;                      /* a rebalance callback runs */
    uint64_t rebalances;             /* assignments applied (stats) */
};

/* ---- sets ---- */
bool cl_tpset_has(const struct cl_tpset *s, const char *topic, int32_t p);
int cl_tpset_add(struct cl_tpset *s, const char *topic, int32_t p,
                 int64_t offset);
void cl_tpset_del(struct cl_tpset *s, const char *topic, int32_t p);
void cl_tpset_clear(struct cl_tpset *s);

/* ---- group.c (loop thread, rk->lock held) ---- */

/* Make the group state when group.id is set (@conf: the handle's, read
 * for group.instance.id). Errors: ST_ENOMEM. */
int cl_group_init(struct strata_s *rk, const strata_conf_t *conf);
void cl_group_free(struct strata_s *rk);
/* One loop pass of group work; lowers *@wake_ms. */
void cl_group_tick(struct strata_s *rk, uint64_t now_ms, uint64_t *wake_ms);

/* ---- group_app.c (application threads, lock NOT held) ---- */

/* Serve pending rebalances, auto-commit and async commit results: the
 * first thing strata_consumer_poll() does. */
void cl_group_serve(struct strata_s *rk);
/* Close: commit (auto-commit), revoke, leave; bounded by @deadline_ms. */
void cl_group_close(struct strata_s *rk, uint64_t deadline_ms);
/* Whether strata_assign() is called from a rebalance callback (it is then
 * a no-op: the library applies the change incrementally). Requires:
 * lock NOT held. */
bool cl_group_in_callback(struct strata_s *rk);
bool cl_group_subscribed(struct strata_s *rk);
/* Called by strata_consumer_poll() while it waits for records: counts as
 * polling (max.poll.interval.ms) and says whether cl_group_serve() has
 * work (a rebalance, an auto-commit, commit results), so a poll blocked
 * with no partitions still takes its assignment. Requires: @lock. */
bool cl_group_poll_wait(struct strata_s *rk);

/* ---- for the CLI: coordinator-routed calls ---- */

/* Send @body of @api for @group_id to its coordinator (found first, and
 * again after NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE / a transport
 * error, until @timeout_ms). The answer's body is in *@out (caller frees
 * with st_free), its length in *@out_len, and *@coord the broker id.
 * Returns 0 or a strata error (with @errstr). The body's own `error`
 * field must be read by the caller. */
strata_resp_err_t cl_group_call(struct strata_s *rk, const char *group_id,
                                uint32_t api, const uint8_t *body,
                                size_t len, int timeout_ms, uint8_t **out,
                                size_t *out_len, int32_t *coord,
                                char *errstr, size_t errstr_size);

#endif
