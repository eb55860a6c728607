/* The broker's link to the controller quorum: finds the active controller,
 * registers this broker (node id, listener, rack, a fresh incarnation id),
 * heartbeats every broker.heartbeat.interval.ms, follows the metadata log
 * by long-polling FetchMetadata from its last applied offset (loading a
 * snapshot when told to), and forwards admin requests.
 *
 * Finding the controller: requests go to one voter of
 * controller.quorum.voters at a time. A NOT_CONTROLLER answer names the
 * leader (ControllerInfo) and the follower reconnects there; when no leader
 * is known, or the connection fails or times out, it moves on to the next
 * voter after a short pause.
 *
 * Fencing, as seen by this broker: it counts itself fenced while not
 * registered, while the controller says so (heartbeat answer), and when no
 * heartbeat sent less than broker.session.timeout.ms ago has been answered
 * (a lease: the controller fences a silent broker after that long, so a
 * broker paused by SIGSTOP refuses writes as soon as it runs again, before
 * it hears from anyone).
 *
 * A registration refused as stale (our incarnation was retired because a
 * newer process registered this node id) is fatal: cbs.fatal() is called
 * and the broker must stop.
 *
 * Runs on: the loop thread of cfg->base (every function and callback).
 */
#ifndef ST_BROKER_METADATA_FOLLOWER_H
#define ST_BROKER_METADATA_FOLLOWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "common/config.h"

struct event_base;
struct st_meta;
struct st_tls_ctx;
struct st_rpc_response;
struct st_meta_follower;

struct st_meta_follower_config {
    struct event_base *base;
    struct st_tls_ctx *tls;             /* ST_TLS_CLIENT; borrowed */
    const struct st_endpoints *voters;  /* borrowed; outlives the follower */
    int32_t node_id;
    const char *host;                   /* advertised listener; copied */
    uint16_t port;
    const char *rack;                   /* copied; "" none */
    uint64_t heartbeat_interval_ms;
    uint64_t session_timeout_ms;
    size_t frame_bytes_max;
    /* Called after records or a snapshot were applied (views into the
     * st_meta from before are invalid). */
    void (*changed)(void *arg);
    /* Called once when this broker must stop (stale incarnation). */
    void (*fatal)(void *arg, const char *why);
    void *arg;
};

/* Start following. Errors: ST_ENOMEM, ST_EINVAL (no voters), rpc client
 * errors. Ownership: *out is the caller's; st_meta_follower_free() it. */
int st_meta_follower_new(const struct st_meta_follower_config *cfg,
                         struct st_meta_follower **out);
/* Cancel everything (forward callbacks run with ST_ECANCELED) and free.
 * NULL-safe; not from inside one of its callbacks. */
void st_meta_follower_free(struct st_meta_follower *f);

/* The metadata as applied so far. Borrowed; views valid until the next
 * changed() callback. */
const struct st_meta *st_meta_follower_meta(const struct st_meta_follower *f);
/* True once the applied offset reached the controller's committed offset
 * at least once since start (local state may then be compared with the
 * metadata, e.g. to delete logs of deleted topics). */
bool st_meta_follower_caught_up(const struct st_meta_follower *f);
/* See "Fencing" above; @now_ms is monotonic. */
bool st_meta_follower_fenced(const struct st_meta_follower *f,
                             uint64_t now_ms);
int64_t st_meta_follower_broker_epoch(const struct st_meta_follower *f);
/* The active controller's id as last learned (-1 unknown). */
int32_t st_meta_follower_controller_id(const struct st_meta_follower *f);
/* The 16-byte incarnation id of this process. */
const uint8_t *st_meta_follower_incarnation(const struct st_meta_follower *f);

/* Controlled shutdown: heartbeat with want_shut_down so the controller
 * fences this broker and moves its leaderships now (rather than after the
 * session timeout), then call @done(@arg) once, when the controller says
 * should_shut_down (at once when not registered). The caller bounds the
 * wait with its own timer. */
void st_meta_follower_shutdown(struct st_meta_follower *f,
                               void (*done)(void *arg), void *arg);

/* Forward one controller-family request (@api, @body copied) to the active
 * controller, following NOT_CONTROLLER redirects and connection failures
 * for up to @timeout_ms. @cb(@arg, status, resp) runs exactly once on the
 * loop thread, never inside this call: status 0 with the controller's
 * response (which may carry an error), or ST_ETIMEDOUT / ST_ECANCELED.
 * Errors: ST_ENOMEM (cb is then not called). */
typedef void (*st_meta_forward_fn)(void *arg, int status,
                                   const struct st_rpc_response *resp);
int st_meta_follower_forward(struct st_meta_follower *f, uint32_t api,
                             struct st_bytes body, uint32_t timeout_ms,
                             st_meta_forward_fn cb, void *arg);

#endif
