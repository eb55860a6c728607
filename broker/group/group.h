/* The consumer-group membership core: a pure state machine per group.
 *
 * Model: Kafka's KIP-848 "next generation consumer rebalance protocol".
 * Three epochs drive everything:
 *   - the GROUP EPOCH is bumped whenever membership, a member's subscription
 *     or the metadata of a subscribed topic changes;
 *   - the TARGET ASSIGNMENT EPOCH is the group epoch for which the assignor
 *     last computed the target assignment (computed at once, so after each
 *     step it equals the group epoch);
 *   - each member's MEMBER EPOCH is the target epoch its current assignment
 *     has been reconciled to.
 * A member behind the target reconciles incrementally, one heartbeat at a
 * time (reconcile.c): it keeps what stays, is told to revoke only what moved
 * (its epoch stays until it confirms), and is given new partitions only once
 * no other member still owns them. So a member that keeps its partitions
 * never stops consuming them, and no partition has two owners.
 *
 * Timers (ST_GROUP_EV_TICK): a member silent for session_timeout_ms is
 * removed and its partitions move. A member told to revoke that does not
 * confirm within its rebalance timeout is removed too, but its partitions
 * stay held (by a "ghost", ghost.c) until its session would end, since its
 * client may still be consuming what it kept; a static member gone with
 * epoch -2 keeps its assignment until its session ends.
 *
 * The core performs no I/O, reads no clock (time arrives in events as
 * now_ms, which the core clamps to never go backwards) and no entropy (member
 * ids come from a PRNG seeded from the config). It links only st_base.
 *
 * DRIVER CONTRACT. After each st_group_step() that returned 0 and before the
 * next step on the same group, the driver:
 *   1. Appends records[] to the group's __consumer_offsets partition as ONE
 *      batch, in order (key, and value or tombstone), and waits until it is
 *      durable (replicated as the offsets topic requires). If the append
 *      fails, the in-memory state is ahead of the log: the driver frees the
 *      core and rebuilds it from the log (ST_GROUP_EV_LOAD), as Kafka's
 *      coordinator reverts to its last committed snapshot.
 *   2. Only then releases the response (heartbeat / leave / offsets) to the
 *      client. A response must never leave before its records are durable.
 *   3. Arms a timer for next_deadline_ms (absolute; 0 = none) and steps
 *      ST_GROUP_EV_TICK then or later; any event may come at any time.
 *   4. If deleted is set, the group has no members and no offsets left and
 *      its tombstones are in records[]: free the core after step 1.
 * The driver may pipeline appends for several steps as long as responses are
 * released in step order after their batch is durable.
 *
 * Rebuilding (coordinator failover or a failed append): st_group_new(), then
 * ST_GROUP_EV_LOAD for every record of this group in log order (compacted
 * or not), then ST_GROUP_EV_LOAD_DONE, then ST_GROUP_EV_METADATA with the
 * current topics. Session and rebalance timers restart at LOAD_DONE.
 *
 * All arrays, strings and views in a struct st_group_update belong to the
 * core and stay valid until the next st_group_step() or st_group_free().
 * Runs on: one thread at a time per group (the coordinator's loop thread, or
 * a test).
 */
#ifndef ST_GROUP_H
#define ST_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

/* Member epochs a client sends (KIP-848). */
#define ST_GROUP_EPOCH_JOIN 0           /* join, or rejoin after fencing */
#define ST_GROUP_EPOCH_LEAVE (-1)       /* leave for good */
#define ST_GROUP_EPOCH_STATIC_LEAVE (-2) /* static member: back soon */

#define ST_GROUP_ID_MAX 255      /* bytes in a group, member or instance id */
#define ST_GROUP_TOPIC_MAX 249   /* bytes in a topic name (Kafka's limit) */

/* Protocol errors carried in responses (not function return values). */
enum st_group_error {
    ST_GROUP_OK = 0,
    ST_GROUP_UNKNOWN_MEMBER_ID,     /* rejoin with epoch 0 and no member id */
    ST_GROUP_FENCED_MEMBER_EPOCH,   /* release everything, rejoin epoch 0 */
    ST_GROUP_STALE_MEMBER_EPOCH,    /* commit with an epoch != member's */
    ST_GROUP_NOT_OWNER,             /* commit for a partition not owned */
    ST_GROUP_UNRELEASED_INSTANCE_ID,/* instance id held by a live member */
    ST_GROUP_UNSUPPORTED_ASSIGNOR,
    ST_GROUP_INVALID_REQUEST,       /* missing or bad field (regex...) */
    ST_GROUP_MAX_SIZE_REACHED,
    ST_GROUP_NOT_EMPTY,             /* admin op refused while members exist */
    ST_GROUP_ID_NOT_FOUND,          /* no such group (deleted/never seen) */
};

/* One partition by name. Output names belong to the core; input names are
 * borrowed for the call. */
struct st_group_tp {
    const char *topic;
    int32_t partition;
};

/* A tracer receives one key=value line per state change; valid for the
 * call only (cores never print). */
typedef void (*st_group_trace_fn)(void *arg, const char *line);

struct st_group_config {
    const char *group_id;             /* copied; 1..ST_GROUP_ID_MAX bytes */
    uint32_t session_timeout_ms;      /* 0: 45000 */
    uint32_t heartbeat_interval_ms;   /* 0: 5000 */
    uint64_t offsets_retention_ms;    /* 0: 7 days (offsets.retention.minutes) */
    uint32_t max_members;             /* 0: unlimited */
    const char *default_assignor;     /* NULL: "uniform" */
    uint64_t seed;                    /* member-id PRNG; differ per coordinator */
    st_group_trace_fn trace;          /* may be NULL */
    void *trace_arg;
};

/* ---- events ---- */

enum st_group_event_type {
    ST_GROUP_EV_HEARTBEAT = 1, /* join (epoch 0) or heartbeat */
    ST_GROUP_EV_LEAVE,         /* epoch -1, or -2 for a static member */
    ST_GROUP_EV_METADATA,      /* the complete current topic list */
    ST_GROUP_EV_TICK,          /* timers: sessions, revocations, expiry */
    ST_GROUP_EV_OFFSET_COMMIT,
    ST_GROUP_EV_OFFSET_FETCH,
    ST_GROUP_EV_DELETE,        /* admin: delete an empty group */
    ST_GROUP_EV_LOAD,          /* one record replayed from the log */
    ST_GROUP_EV_LOAD_DONE,     /* replay finished */
};

struct st_group_heartbeat {
    const char *member_id;    /* NULL or "" with epoch 0: the core makes one */
    const char *instance_id;  /* group.instance.id; NULL: dynamic member */
    int32_t member_epoch;     /* 0 to join; the last epoch received else */
    /* Subscription: set on join and whenever it changes; when
     * has_subscription is false the previous one stands. */
    bool has_subscription;
    const char *const *topics; /* n_topics names */
    unsigned n_topics;
    const char *regex;        /* POSIX extended regex over topic names; NULL */
    /* The partitions the client owns now. has_owned false: unchanged since
     * the last heartbeat (KIP-848 sends null then). */
    bool has_owned;
    const struct st_group_tp *owned;
    unsigned n_owned;
    uint32_t rebalance_timeout_ms; /* 0: unchanged (join: 300000) */
    const char *client_id;    /* NULL: unchanged */
    const char *client_host;  /* NULL: unchanged */
    const char *assignor;     /* server assignor name; NULL: unchanged */
};

enum st_group_leave_reason {
    ST_GROUP_LEAVE_CLOSE = 0,      /* consumer closed */
    ST_GROUP_LEAVE_POLL_TIMEOUT,   /* max.poll.interval.ms expired */
};

struct st_group_leave {
    const char *member_id;
    const char *instance_id;  /* needed with epoch -2 */
    int32_t member_epoch;     /* ST_GROUP_EPOCH_LEAVE or _STATIC_LEAVE */
    enum st_group_leave_reason reason;
};

struct st_group_topic_meta {
    const char *name;
    uint8_t id[16];           /* topic id; a new id means a new topic */
    int32_t partitions;
};

struct st_group_offset {
    struct st_group_tp tp;
    int64_t offset;
    int32_t leader_epoch;     /* -1: unknown */
    const char *metadata;     /* NULL: empty */
};

struct st_group_commit {
    const char *member_id;    /* NULL/"" with epoch -1: simple commit */
    int32_t member_epoch;
    const struct st_group_offset *offsets;
    unsigned n_offsets;
};

struct st_group_fetch {
    const struct st_group_tp *tps; /* NULL: every committed partition */
    unsigned n_tps;
};

struct st_group_event {
    enum st_group_event_type type;
    uint64_t now_ms; /* wall-clock ms from the driver; clamped monotonic */
    union {
        struct st_group_heartbeat heartbeat;
        struct st_group_leave leave;
        struct {
            const struct st_group_topic_meta *topics;
            unsigned n_topics;
        } metadata;
        struct st_group_commit commit;
        struct st_group_fetch fetch;
        struct {
            struct st_bytes key;
            struct st_bytes value; /* ignored when tombstone */
            bool tombstone;
        } load;
    };
};

/* ---- the update ---- */

struct st_group_record {
    struct st_bytes key;
    struct st_bytes value; /* empty when tombstone */
    bool tombstone;
};

struct st_group_hb_response {
    enum st_group_error error;
    const char *member_id;
    int32_t member_epoch;
    uint32_t heartbeat_interval_ms;
    /* The full assignment the member should have NOW (always sent): keep
     * what is listed, stop consuming what is not, start what is new. */
    const struct st_group_tp *assignment;
    unsigned n_assignment;
};

struct st_group_offset_result {
    struct st_group_tp tp;
    enum st_group_error error;
    int64_t offset;          /* fetch: -1 when nothing committed */
    int32_t leader_epoch;
    const char *metadata;    /* fetch: "" when none */
    int64_t commit_ms;
};

struct st_group_update {
    const struct st_group_record *records;
    unsigned n_records;
    /* HEARTBEAT and LEAVE answer here. */
    struct st_group_hb_response hb;
    /* OFFSET_COMMIT / OFFSET_FETCH / DELETE: a group-level error, then the
     * per-partition results (commits: error per partition). */
    enum st_group_error error;
    const struct st_group_offset_result *offsets;
    unsigned n_offsets;
    uint64_t next_deadline_ms; /* absolute; 0 = no timer needed */
    bool deleted;
};

struct st_group;

/* Allocate a core for @cfg (copied). An empty group until events arrive.
 * Errors: ST_EINVAL (bad group id, unknown default assignor), ST_ENOMEM.
 * Ownership: *out is the caller's; st_group_free() it. */
int st_group_new(const struct st_group_config *cfg, struct st_group **out);
/* NULL-safe. */
void st_group_free(struct st_group *g);

/* Feed one event and fill @out (see the driver contract above). Protocol
 * refusals are answered in @out with 0 returned. Errors: ST_EINVAL (a
 * malformed event: NULL names, LOAD after LOAD_DONE...), ST_ECORRUPT (a
 * LOAD record that does not decode; the rebuild must stop), ST_ENOMEM
 * (after which the core must be freed and rebuilt from the log). */
int st_group_step(struct st_group *g, const struct st_group_event *ev,
                  struct st_group_update *out);

/* The group id a record key belongs to, so a driver can route replayed
 * records to their group. *out points into @key. Errors: ST_ECORRUPT. */
int st_group_record_group(struct st_bytes key, struct st_bytes *out);

/* ---- read-only views ---- */

enum st_group_state {
    ST_GROUP_EMPTY = 1,     /* no members */
    ST_GROUP_RECONCILING,   /* some member is behind the target */
    ST_GROUP_STABLE,        /* every member reconciled to the target */
    ST_GROUP_DEAD,          /* deleted */
};

enum st_group_member_state {
    ST_GROUP_MEMBER_STABLE = 1,
    ST_GROUP_MEMBER_UNREVOKED,   /* told to revoke; not confirmed yet */
    ST_GROUP_MEMBER_UNRELEASED,  /* waits for partitions others still own */
};

const char *st_group_state_name(enum st_group_state s);
const char *st_group_member_state_name(enum st_group_member_state s);
const char *st_group_error_name(enum st_group_error e);

enum st_group_state st_group_state(const struct st_group *g);
int32_t st_group_epoch(const struct st_group *g);
int32_t st_group_target_epoch(const struct st_group *g);
unsigned st_group_member_count(const struct st_group *g);
bool st_group_has_offsets(const struct st_group *g);

/* A described member; every array and string belongs to the description. */
struct st_group_member_desc {
    char *member_id;
    char *instance_id;       /* NULL for dynamic members */
    char *client_id;
    char *client_host;
    char *assignor;
    int32_t member_epoch;
    enum st_group_member_state state;
    bool static_left;        /* static member gone with epoch -2 */
    char **topics;           /* subscribed names */
    unsigned n_topics;
    char *regex;             /* NULL when none */
    struct st_group_tp *assigned; /* owned and consuming */
    unsigned n_assigned;
    struct st_group_tp *revoking; /* told to revoke, not confirmed */
    unsigned n_revoking;
    struct st_group_tp *target;
    unsigned n_target;
};

struct st_group_offset_desc {
    struct st_group_tp tp;   /* topic belongs to the description */
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_ms;
};

struct st_group_desc {
    char *group_id;
    enum st_group_state state;
    int32_t group_epoch;
    int32_t target_epoch;
    char *assignor;          /* the assignor the group uses now */
    struct st_group_member_desc *members; /* sorted by member id */
    unsigned n_members;
    struct st_group_offset_desc *offsets; /* sorted by topic, partition */
    unsigned n_offsets;
};

/* Describe the group (for `strata group describe`). Ownership: *out is the
 * caller's; st_group_desc_free() it. Errors: ST_ENOMEM. */
int st_group_describe(const struct st_group *g, struct st_group_desc **out);
void st_group_desc_free(struct st_group_desc *d);

/* Whether an admin offset reset may run now: ST_GROUP_OK only when the
 * group has no members (a reset is then a simple OFFSET_COMMIT). */
enum st_group_error st_group_can_reset_offsets(const struct st_group *g);

/* Append a canonical text dump of the persistent state (epochs, members,
 * subscriptions, targets, current assignments, offsets; no timers) to @out.
 * Two cores with equal dumps hold the same state. Errors: ST_ENOMEM. */
int st_group_dump(const struct st_group *g, struct st_buf *out);

/* Check the core's invariants: no partition in two members' assigned or
 * revoking sets, the ownership index matches the members, member epochs
 * <= target epoch <= group epoch. Returns true when they hold, else writes
 * why into @why (@cap bytes). For tests and the simulator. */
bool st_group_check(const struct st_group *g, char *why, size_t cap);

/* ---- assignors (pluggable; see assignor.c) ---- */

/* Input to an assignor. Topics are indexed 0..n_topics-1; a partition is
 * (topic index, partition number). Members are sorted by member id. */
struct st_assign_topic {
    const char *name;
    int32_t partitions;
};

struct st_assign_member {
    const char *member_id;
    const char *instance_id;     /* NULL for dynamic members */
    const uint32_t *topics;      /* subscribed topic indexes, ascending */
    unsigned n_topics;
    const uint64_t *current;     /* previous target, as st_assign_key()s,
                                    ascending */
    unsigned n_current;
};

struct st_assign_input {
    const struct st_assign_topic *topics;
    unsigned n_topics;
    const struct st_assign_member *members;
    unsigned n_members;
};

/* Output: per member (same order as the input), its new target as
 * ascending st_assign_key()s. Allocated by the assignor with st_malloc;
 * st_assign_output_free() frees it. */
struct st_assign_output {
    uint64_t **parts;
    unsigned *n_parts;
    unsigned n_members;
};

static inline uint64_t st_assign_key(uint32_t topic, int32_t partition)
{
    return ((uint64_t)topic << 32) | (uint32_t)partition;
}
static inline uint32_t st_assign_key_topic(uint64_t key)
{
    return (uint32_t)(key >> 32);
}
static inline int32_t st_assign_key_partition(uint64_t key)
{
    return (int32_t)(uint32_t)key;
}

/* An assignor: must give every partition of every subscribed topic to
 * exactly one member subscribed to it (none when no member subscribes), and
 * be deterministic. Errors: ST_ENOMEM. */
struct st_group_assignor {
    const char *name;
    int (*assign)(const struct st_assign_input *in,
                  struct st_assign_output *out);
};

/* "uniform": balanced (member counts within 1 among members sharing the
 * same topics) and sticky (keeps each member's previous partitions unless
 * balance requires a move; a joiner only takes, a leaver's partitions only
 * go to others). Kafka's UniformAssignor. */
extern const struct st_group_assignor st_group_assignor_uniform;
/* "range": per topic, members subscribed to it sorted by instance id (else
 * member id) get contiguous ranges, the first P % N one more. Kafka's
 * RangeAssignor layout. */
extern const struct st_group_assignor st_group_assignor_range;

/* The assignor named @name, or NULL. */
const struct st_group_assignor *st_group_assignor_find(const char *name);

/* Run @a on @in into @out (zeroed first). Errors: ST_ENOMEM. */
int st_group_assign(const struct st_group_assignor *a,
                    const struct st_assign_input *in,
                    struct st_assign_output *out);
/* NULL-safe on the arrays; leaves @out zeroed. */
void st_assign_output_free(struct st_assign_output *out);

#endif
