/* Internals shared by replica_driver.c, replica_fetcher.c and
 * replica_serve.c; not an API (see replica_driver.h).
 * Runs on: the broker's loop thread. */
#ifndef ST_BROKER_REPLICA_DRIVER_INT_H
#define ST_BROKER_REPLICA_DRIVER_INT_H

#include "broker/replica_driver.h"

struct event;

struct st_repl_part {
    struct st_repl *d;
    struct st_partition *p;
    struct st_replica *core;
    uint64_t id;                /* unique; callbacks find the part by it */
    uint64_t next_tick_ms;
    int64_t min_isr;
    /* Follower: the fetch the core asked for, not yet sent. */
    bool want_fetch;
    bool fetch_sent;
    uint64_t fetch_seq;         /* bumped per fetch the core asks for */
    struct st_replica_fetch_request fetch;
    /* Leader: one AlterPartition in flight (the core also says so). */
    bool alter_sent;
    struct st_repl_part *prev, *next;
};

struct st_repl {
    struct st_repl_config cfg;
    struct st_repl_part *parts; /* every hosted partition */
    uint64_t next_id;
    struct event *tick_ev;
    struct st_repl_serve *serve;
    struct st_repl_fetchers *fetchers;
    bool durable_hw;
    uint64_t lag_ms;
    bool stopping;
};

/* Step @ev on @rp's core and apply the update (contract steps 1, 2 with
 * @fetched, 4's sends, 5, 6, 7). *@reply (may be NULL) receives the fetch
 * reply of a FOLLOWER_FETCH. Returns the step's status. @rp may not be
 * freed inside. */
int st_repl_part_step(struct st_repl_part *rp,
                      const struct st_replica_event *ev,
                      struct st_bytes fetched,
                      struct st_replica_fetch_reply *reply);
/* The part with @id, or NULL when it went away. */
struct st_repl_part *st_repl_part_by_id(struct st_repl *d, uint64_t id);
struct st_repl_part *st_repl_find(struct st_repl *d, const char *topic,
                                  int32_t index);
uint64_t st_repl_now_ms(void);
int64_t st_repl_broker_epoch(const struct st_repl *d);

/* replica_serve.c: leader side. */
struct st_repl_serve;
int st_repl_serve_new(struct st_repl *d, struct st_repl_serve **out);
void st_repl_serve_free(struct st_repl_serve *s);
/* Answer every held fetch now. */
void st_repl_serve_flush(struct st_repl_serve *s);
/* A log end or HW moved: re-check held fetches (once per loop turn). */
void st_repl_serve_kick(struct st_repl_serve *s);
int st_repl_serve_register(struct st_repl_serve *s,
                           struct st_rpc_server *srv);

/* replica_fetcher.c: follower side. */
struct st_repl_fetchers;
int st_repl_fetchers_new(struct st_repl *d, struct st_repl_fetchers **out);
void st_repl_fetchers_free(struct st_repl_fetchers *f);
/* Parts may have sendable fetches (once per loop turn). */
void st_repl_fetchers_kick(struct st_repl_fetchers *f);
/* Stop sending; drop connections. */
void st_repl_fetchers_stop(struct st_repl_fetchers *f);

#endif
