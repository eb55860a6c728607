/* The Raft driver: runs the pure core (controller/raft/raft.h) on the
 * process's libevent loop, following its DRIVER CONTRACT exactly.
 *
 *   timers      one evtimer armed at each update's next_timeout_ms
 *   network     one st_rpc_client per peer (messages as RAFT_MESSAGE
 *               requests, best effort) and the RAFT_MESSAGE handler on the
 *               process's st_rpc_server
 *   storage     raft_store on ONE jobq worker (serial): the driver gathers
 *               every update's term/vote, snapshot install, truncation and
 *               entries into the next storage batch; one batch runs at a
 *               time and ends with one fsync for everything appended since
 *               the last (group commit); its completion steps PERSISTED
 *   ordering    a batch holding term/vote or a snapshot install is a
 *               barrier: every message produced while such a batch is
 *               queued or running is held (encoded) and sent only after the
 *               barrier is durable, in order (contract steps 1, 2, 4)
 *   apply       committed entries go to the owner's apply callback in
 *               order, each once; snapshots to its restore callback
 *
 * A storage failure is fatal (the store's error is sticky; a restart
 * re-validates the disk): the driver logs it and calls the owner's fatal
 * callback.
 * Runs on: the loop thread, for every function and callback here.
 */
#ifndef ST_RAFT_DRIVER_H
#define ST_RAFT_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "controller/raft/raft.h"

struct event_base;
struct st_rpc_server;
struct st_tls_ctx;
struct st_raft_driver;

struct st_raft_peer_addr {
    raft_id id;
    char host[256];
    uint16_t port;
};

/* Callbacks. None of them may call st_raft_driver_propose() or
 * st_raft_driver_transfer() (the driver is inside raft_step's update);
 * st_raft_driver_snapshot() is allowed. Defer other work to an event. */
struct st_raft_driver_cbs {
    /* A committed entry (all types), in index order, each once. @e is
     * borrowed for the call. */
    void (*apply)(void *arg, const struct raft_entry *e);
    /* Replace the state machine by the snapshot @data up to @index (at
     * start and when the leader sends one). Returns 0 or an error, which
     * is fatal. */
    int (*restore)(void *arg, raft_index index, struct st_bytes data);
    /* Role, leader or term changed (RAFT_UPD_ROLE). */
    void (*role_changed)(void *arg);
    /* Storage failed: the process must stop. */
    void (*fatal)(void *arg, int rv, const char *what);
    void *arg;
};

struct st_raft_driver_config {
    struct event_base *base;
    struct st_rpc_server *server;   /* RAFT_MESSAGE is registered on it */
    struct st_tls_ctx *client_tls;  /* for the peer clients */
    raft_id id;
    const struct st_raft_peer_addr *voters; /* all voters, self included */
    unsigned n_voters;
    const char *dir;                /* the Raft store directory */
    const char *cluster_id;         /* peers of another cluster are refused */
    uint64_t election_timeout_ms;
    uint64_t heartbeat_ms;
    size_t frame_bytes_max;
    struct st_raft_driver_cbs cbs;
};

/* Open the store in cfg->dir, recover it, restore the snapshot through
 * cbs.restore, start the core (RAFT_EV_START), connect to the peers and
 * register RAFT_MESSAGE. Committed entries are applied from here on.
 * Errors: store errors (ST_ECORRUPT...), ST_EINVAL, ST_ENOMEM; @err
 * names the problem. Ownership: *out is the caller's;
 * st_raft_driver_close() it. */
int st_raft_driver_new(const struct st_raft_driver_config *cfg,
                       struct st_raft_driver **out, char *err, size_t cap);

/* Stop: finish the running storage batch, run the queued one, fsync and
 * close the store, free the peers and the core. NULL-safe. Call before
 * freeing the server and the base. */
void st_raft_driver_close(struct st_raft_driver *d);

/* Leader only: append @n application entries (each borrowed, copied).
 * *first gets the index of the first; all get term *term.
 * Errors: ST_ENOTLEADER, ST_EAGAIN (called from a callback), ST_ENOMEM. */
int st_raft_driver_propose(struct st_raft_driver *d,
                           const struct st_bytes *data, unsigned n,
                           raft_index *first, raft_term *term);

/* The application snapshotted its state up to the applied entry @index:
 * save @data (copied) durably on the storage worker, then tell the core
 * (RAFT_EV_SNAPSHOT_TAKEN) so the log before it is dropped. Ignored when
 * @index is not above the last snapshot. Errors: ST_ENOMEM. */
int st_raft_driver_snapshot(struct st_raft_driver *d, raft_index index,
                            struct st_bytes data);

/* Leader only: hand leadership to the most up-to-date voter.
 * Errors: ST_ENOTLEADER. */
int st_raft_driver_transfer(struct st_raft_driver *d);

/* The core, for read-only accessors (raft_role, raft_entry_at...). */
const struct raft *st_raft_driver_core(const struct st_raft_driver *d);
/* Index of the last entry handed to apply. */
raft_index st_raft_driver_applied(const struct st_raft_driver *d);
/* Leader only: the last index @id is known to hold (0 unknown); the
 * leader's own last index for itself. */
raft_index st_raft_driver_match(const struct st_raft_driver *d, raft_id id);
/* The peer address of voter @id, or NULL. */
const struct st_raft_peer_addr *
st_raft_driver_addr(const struct st_raft_driver *d, raft_id id);
/* The @i-th voter's address (config order), or NULL past the end. */
const struct st_raft_peer_addr *
st_raft_driver_addr_at(const struct st_raft_driver *d, unsigned i);
/* Storage batches whose fsync has not completed. */
unsigned st_raft_driver_io_pending(const struct st_raft_driver *d);

/* Counters since start (group commit shows as entries_written far above
 * log_syncs under load). */
struct st_raft_driver_stats {
    uint64_t batches;         /* storage batches run */
    uint64_t log_syncs;       /* batches that appended/truncated + fsync */
    uint64_t entries_written;
    uint64_t term_vote_saves;
    uint64_t snapshots_saved; /* taken locally or installed */
    uint64_t msgs_sent;
    uint64_t msgs_held;       /* waited for a term/vote or snapshot barrier */
    uint64_t msgs_dropped;    /* peer backlog full */
};
void st_raft_driver_stats(const struct st_raft_driver *d,
                          struct st_raft_driver_stats *out);

#endif
