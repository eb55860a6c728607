/* Internals of the consumer-group core, shared by its files only. */
#ifndef ST_GROUP_INT_H
#define ST_GROUP_INT_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/group/group.h"
#include "common/bytes.h"

/* A sorted set of partition keys (st_assign_key(topic index, partition)). */
struct pset {
    uint64_t *v;
    unsigned n;
    unsigned cap;
};

void pset_init(struct pset *s);
void pset_close(struct pset *s);
int pset_reserve(struct pset *s, unsigned n);
bool pset_has(const struct pset *s, uint64_t key);
/* Insert keeping order; no-op when present. Errors: ST_ENOMEM. */
int pset_add(struct pset *s, uint64_t key);
void pset_remove(struct pset *s, uint64_t key);
/* Replace the contents by @n keys (any order, duplicates dropped). */
int pset_assign(struct pset *s, const uint64_t *keys, unsigned n);
int pset_copy(struct pset *dst, const struct pset *src);
bool pset_equal(const struct pset *a, const struct pset *b);
bool pset_intersects(const struct pset *a, const struct pset *b);
/* Every key of @a is in @b. */
bool pset_subset(const struct pset *a, const struct pset *b);

/* Partition key -> owning member (the member whose assigned or revoking set
 * holds it). Open addressing with linear probing and backward-shift
 * deletion, so no tombstones. */
struct member;
struct pmap_slot {
    uint64_t key;
    struct member *m; /* NULL: empty slot */
};
struct pmap {
    struct pmap_slot *slots;
    unsigned cap; /* power of two, or 0 */
    unsigned n;
};

void pmap_close(struct pmap *p);
struct member *pmap_get(const struct pmap *p, uint64_t key);
int pmap_put(struct pmap *p, uint64_t key, struct member *m);
void pmap_del(struct pmap *p, uint64_t key);

/* One topic the group has heard of. Entries are never removed, so an index
 * names one topic incarnation for the core's lifetime; a topic deleted or
 * recreated with a new id leaves a dead entry behind. */
struct topic {
    char *name;
    uint8_t id[16];
    int32_t partitions;
    bool live;
};

struct member {
    char *id;
    char *instance_id;     /* NULL: dynamic */
    char *client_id;
    char *client_host;
    char *assignor;        /* NULL: no preference */
    char **topics;         /* subscribed names */
    unsigned n_topics;
    char *regex;           /* NULL: none */
    regex_t re;
    bool re_ok;
    uint32_t *subs;        /* resolved topic indexes, ascending */
    unsigned n_subs;
    uint32_t rebalance_timeout_ms;

    int32_t epoch;
    int32_t prev_epoch;
    enum st_group_member_state state;
    bool static_left;
    bool ghost;            /* removed at rebalance timeout; see ghost.c */
    struct pset assigned;  /* owned and consuming */
    struct pset revoking;  /* owned, told to revoke, not confirmed */
    struct pset target;

    uint64_t session_deadline_ms;
    uint64_t rebalance_deadline_ms; /* while UNREVOKED */

    /* Records to emit at the end of the step. */
    bool dirty_meta, dirty_target, dirty_current;
    bool loaded_meta; /* replay saw its metadata record */
};

struct offset {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_ms;
};

struct rec_slot {
    size_t key_off, key_len, val_off, val_len;
    bool tombstone;
};

struct st_group {
    struct st_group_config cfg;
    char *group_id;
    const struct st_group_assignor *default_assignor;
    const struct st_group_assignor *assignor; /* in use */
    uint64_t rng;
    uint64_t now_ms;

    int32_t group_epoch;
    int32_t target_epoch;
    bool bump;              /* bump the group epoch at the end of the step */
    bool persisted;         /* some record exists in the log */
    bool loading_done;
    bool dead;
    uint64_t empty_since_ms; /* UINT64_MAX: not set */

    struct topic *topics;
    unsigned n_topics, cap_topics;
    /* The subscribed topics' (index, partitions), ascending: the metadata
     * the target was computed on. A change bumps the epoch. */
    uint64_t *sub_meta;
    unsigned n_sub_meta;
    bool dirty_sub_meta, dirty_group_meta;

    struct member **members; /* sorted by id */
    unsigned n_members, cap_members;
    struct pmap owners;
    struct member **ghosts;  /* hold partitions of removed members */
    unsigned n_ghosts, cap_ghosts;

    struct offset *offsets;  /* sorted by (topic, partition) */
    unsigned n_offsets, cap_offsets;

    /* Per-step output. */
    struct st_buf arena;
    struct rec_slot *slots;
    unsigned n_slots, cap_slots;
    struct st_group_record *recs;
    unsigned cap_recs;
    struct st_group_tp *tps;
    unsigned n_tps, cap_tps;
    struct st_group_offset_result *ores;
    unsigned n_ores, cap_ores;
    char *resp_member_id;
};

/* group.c */
void group_trace(struct st_group *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int group_topic_find(const struct st_group *g, const char *name);
int group_topic_intern(struct st_group *g, const char *name, uint32_t *out);
struct member *group_member_find(const struct st_group *g, const char *id);
struct member *group_member_find_instance(const struct st_group *g,
                                          const char *instance_id);
int group_member_insert(struct st_group *g, struct member *m);
void group_member_unlink(struct st_group *g, struct member *m);
/* Remove @m for good: free its partitions, emit tombstones, bump. */
int group_member_remove(struct st_group *g, struct member *m,
                        const char *why);
int group_refresh_subscriptions(struct st_group *g, struct member *only);
int group_compute_target(struct st_group *g);
int group_tps_from_pset(struct st_group *g, const struct pset *s);
int group_pset_from_tps(struct st_group *g, const struct st_group_tp *tps,
                        unsigned n, struct pset *out);

/* member.c */
struct member *member_new(const char *id);
void member_free(struct member *m);
int member_set_subscription(struct member *m, const char *const *topics,
                            unsigned n, const char *regex, bool *changed);
int member_set_str(char **field, const char *v, bool *changed);
bool member_matches(const struct member *m, const char *topic);
int group_heartbeat(struct st_group *g, const struct st_group_heartbeat *hb,
                    struct st_group_update *out);
int group_leave(struct st_group *g, const struct st_group_leave *lv,
                struct st_group_update *out);
int group_tick(struct st_group *g);

/* ghost.c */
int ghost_make(struct st_group *g, struct member *m, const char *why);
struct member *ghost_find(const struct st_group *g, const char *id);
int ghost_release(struct st_group *g, struct member *m, const char *why);
int ghost_tick(struct st_group *g);
int ghost_adopt(struct st_group *g, struct member *m);

/* reconcile.c */
/* Move @m one step toward the target (KIP-848 reconciliation). @owned is
 * what the client reported owning, or NULL when unknown. */
int reconcile(struct st_group *g, struct member *m, const struct pset *owned);
/* Drop @m's revoking set from the ownership index (client released). */
void release_revoking(struct st_group *g, struct member *m);

/* offsets.c */
struct offset *offset_find(const struct st_group *g, const char *topic,
                           int32_t partition);
int offset_put(struct st_group *g, const char *topic, int32_t partition,
               int64_t off, int32_t leader_epoch, const char *metadata,
               int64_t commit_ms);
void offset_del(struct st_group *g, const char *topic, int32_t partition);
int group_commit(struct st_group *g, const struct st_group_commit *c,
                 struct st_group_update *out);
int group_fetch(struct st_group *g, const struct st_group_fetch *f,
                struct st_group_update *out);
int group_expire_offsets(struct st_group *g);
uint64_t group_offsets_deadline(const struct st_group *g);

/* records.c */
enum rec_type {
    REC_OFFSET = 1,
    REC_GROUP_META = 2,
    REC_SUB_META = 3,
    REC_MEMBER = 4,
    REC_TARGET = 5,
    REC_CURRENT = 6,
};
int rec_emit_group_meta(struct st_group *g, bool tombstone);
int rec_emit_sub_meta(struct st_group *g, bool tombstone);
int rec_emit_member(struct st_group *g, const struct member *m);
int rec_emit_target(struct st_group *g, const struct member *m);
int rec_emit_current(struct st_group *g, const struct member *m);
int rec_emit_member_tombstones(struct st_group *g, const char *member_id);
int rec_emit_offset(struct st_group *g, const struct offset *o);
int rec_emit_offset_tombstone(struct st_group *g, const char *topic,
                              int32_t partition);
int rec_load(struct st_group *g, struct st_bytes key, struct st_bytes value,
             bool tombstone);
int group_load_done(struct st_group *g);

#endif
