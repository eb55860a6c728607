/* An RPC client: one logical connection to one host:port over TLS, on a
 * libevent loop.
 *
 * Requests carry correlation ids chosen here; any number may be in flight
 * (pipelining) and responses are matched by id, in whatever order they
 * come. Each request may have a timeout. The client connects on creation
 * and reconnects after any failure with exponential backoff and jitter:
 * delays of backoff_initial_ms doubling up to backoff_max_ms, each drawn
 * uniformly from [d/2, d]; a completed TLS handshake resets the backoff.
 *
 * Requests sent while disconnected wait in a backlog and go out when the
 * connection is up (or time out). When a connection fails, every request
 * written on it completes with ST_ECLOSED: the client cannot know whether
 * the server acted on it, so retrying is the caller's decision.
 *
 * Runs on: the loop thread of @base, for every function here and every
 * callback. Callbacks may send new requests; they must not free the client.
 */
#ifndef ST_RPC_CLIENT_H
#define ST_RPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "common/tls.h"

struct event_base;
struct st_rpc_client;

struct st_rpc_client_config {
    const char *host;            /* DNS name or IP literal; verified vs SAN */
    uint16_t port;
    struct st_tls_ctx *tls;      /* ST_TLS_CLIENT; borrowed, outlives client */
    size_t frame_bytes_max;      /* largest response accepted; 0: 100 MiB */
    uint32_t connect_timeout_ms; /* TCP + TLS handshake; 0: 10 s */
    uint32_t backoff_initial_ms; /* 0: 50 ms */
    uint32_t backoff_max_ms;     /* 0: 5 s */
    /* Optional: told when the connection comes up (@status 0) or goes down
     * (@status < 0, @text says why, e.g. the TLS verify reason). */
    void (*on_state)(void *arg, int status, const char *text);
    void *state_arg;
};

/* A request. Views are read during st_rpc_client_send() only. */
struct st_rpc_call {
    uint32_t api;
    uint32_t version;
    struct st_bytes body;     /* the API's encoded request message: copied */
    struct st_bytes payload;  /* raw bytes: copied, unless payload_done set */
    /* When set, @payload is sent by reference instead: the bytes must stay
     * unchanged until payload_done(done_arg) runs (on the loop thread, once
     * written or dropped, also when st_rpc_client_send fails). */
    void (*payload_done)(void *done_arg);
    void *done_arg;
    uint32_t timeout_ms;      /* 0: no timeout */
};

/* A response. Views are valid during the callback only. */
struct st_rpc_response {
    uint32_t api;
    uint32_t version;
    uint64_t correlation_id;
    int32_t error;                 /* ErrorCode from the server, 0 = NONE */
    const char *error_message;     /* "" when none */
    struct st_bytes body;
    struct st_bytes payload;
};

/* Called exactly once per request that st_rpc_client_send() accepted:
 * @status 0 and @resp set when a response frame arrived (which may still
 * carry resp->error); else @resp is NULL and @status is ST_ETIMEDOUT (the
 * timeout passed; a late response is dropped), ST_ECLOSED (the connection
 * failed after the request was written) or ST_ECANCELED (client freed). */
typedef void (*st_rpc_response_fn)(void *arg, int status,
                                   const struct st_rpc_response *resp);

/* Make a client for cfg->host:cfg->port and start connecting.
 * Errors: ST_EINVAL, ST_ENOMEM. Failing to reach the server is not an
 * error here: the client keeps retrying (see on_state).
 * Ownership: *out is the caller's; st_rpc_client_free() it. */
int st_rpc_client_new(struct event_base *base,
                      const struct st_rpc_client_config *cfg,
                      struct st_rpc_client **out);

/* Send @call; @cb(@arg, ...) runs later on the loop thread, never inside
 * this call. Returns the correlation id in *correlation_id (may be NULL).
 * Errors: ST_ENOMEM, ST_ETOOBIG (over the u32 frame size), ST_ECLOSED
 * (client being freed). On error @cb is never called. */
int st_rpc_client_send(struct st_rpc_client *c, const struct st_rpc_call *call,
                       st_rpc_response_fn cb, void *arg,
                       uint64_t *correlation_id);

/* Whether the TLS connection is up now. */
bool st_rpc_client_connected(const struct st_rpc_client *c);

/* Why the last connection attempt or connection failed ("" if none yet):
 * names the file and the TLS reason when TLS was the cause. */
const char *st_rpc_client_last_error(const struct st_rpc_client *c);

/* Requests sent and not yet completed (backlog + in flight). */
size_t st_rpc_client_pending(const struct st_rpc_client *c);

/* Close the connection, complete every pending request with ST_ECANCELED
 * (their callbacks run inside this call) and free the client. Must not be
 * called from one of this client's callbacks. NULL-safe. */
void st_rpc_client_free(struct st_rpc_client *c);

#endif
