/* An RPC server: framed requests over TLS on one libevent loop.
 *
 * The server listens on host:port, accepts TLS connections (bufferevent_
 * openssl), splits each byte stream into frames (common/frame.h), decodes
 * the Header and calls the handler registered for the frame's API. The
 * handler answers through a reply handle, at once or later (long polls).
 *
 * Ordering: replies to one connection leave in request order, except for
 * APIs registered with ST_RPC_UNORDERED, whose replies leave as soon as they
 * are sent (an in-order reply that is ready waits for earlier ones).
 *
 * Limits: a frame over frame_bytes_max is refused from its first 4 bytes,
 * before anything is buffered. When more than out_bytes_max of replies wait
 * to be written, or inflight_max requests wait for their replies, the
 * connection stops reading until the peer drains (backpressure).
 *
 * Bad input never takes the process down: garbage, an oversized frame, a
 * header that does not parse or a truncated frame get a response frame with
 * correlation_id 0 and an error code (errors.proto) plus text where the
 * connection still allows writing, and then that connection alone is closed.
 * An unknown API or an unsupported version gets an error response with the
 * request's correlation id and the connection stays open: the stream is
 * still in sync, and a newer client can carry on with the APIs we know.
 *
 * Runs on: the loop thread of @base, for every function here and every
 * callback. Nothing is freed inside its own callback chain: closing a
 * connection marks it and a deferred event frees it on a later loop turn.
 */
#ifndef ST_RPC_SERVER_H
#define ST_RPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "common/tls.h"

struct event_base;
struct st_rpc_server;
struct st_rpc_reply;

struct st_rpc_server_config {
    const char *host;        /* numeric address to bind: "127.0.0.1", "::" */
    uint16_t port;           /* 0: an ephemeral port, see st_rpc_server_port */
    struct st_tls_ctx *tls;  /* ST_TLS_SERVER; borrowed, outlives the server */
    size_t frame_bytes_max;  /* max.frame.bytes; 0: 100 MiB */
    size_t out_bytes_max;    /* pending output per connection; 0: 8 MiB */
    unsigned inflight_max;   /* unanswered requests per connection; 0: 4096 */
};

/* One decoded request. Every view is valid during the handler call only:
 * copy what you keep. */
struct st_rpc_request {
    uint32_t api;
    uint32_t version;
    uint64_t correlation_id;
    struct st_bytes body;              /* Header.body: the API's message */
    struct st_bytes payload;           /* raw bytes after the header */
    const struct st_tls_peer *peer;    /* the client's certificate identity */
    const char *peer_addr;             /* "127.0.0.1:53412" */
};

/* Called for each request of a registered API. @reply must be answered
 * exactly once with st_rpc_reply_send() (or _send_ref), during the call or
 * later from the loop thread, also when the connection has gone meanwhile:
 * the handle stays valid until answered, and is freed by answering it. */
typedef void (*st_rpc_handler_fn)(void *arg, const struct st_rpc_request *req,
                                  struct st_rpc_reply *reply);

/* Registration flags. */
enum {
    ST_RPC_UNORDERED = 1u << 0, /* replies may overtake earlier requests */
};

/* Make a server listening on cfg->host:cfg->port on @base.
 * Errors: ST_EINVAL (bad config), negated errno from bind/listen
 * (-EADDRINUSE...), ST_ENOMEM. No connection is accepted before this returns.
 * Ownership: *out is the caller's; st_rpc_server_free() it. */
int st_rpc_server_new(struct event_base *base,
                      const struct st_rpc_server_config *cfg,
                      struct st_rpc_server **out);

/* Route requests for @api (any number < 65536) with versions
 * [@version_min, @version_max] to @fn(@arg, ...). Requests for other
 * versions are answered UNSUPPORTED_VERSION by the server. Registering an
 * API again replaces it. @arg is borrowed and must outlive the server.
 * Errors: ST_EINVAL, ST_ENOMEM. */
int st_rpc_server_register(struct st_rpc_server *srv, uint32_t api,
                           uint32_t version_min, uint32_t version_max,
                           unsigned flags, st_rpc_handler_fn fn, void *arg);

/* The port actually bound (useful with port 0). */
uint16_t st_rpc_server_port(const struct st_rpc_server *srv);

/* Counters for tests and metrics. */
struct st_rpc_server_stats {
    uint64_t conns_accepted;
    uint64_t conns_open;
    uint64_t requests;
    uint64_t protocol_errors;   /* connections closed for bad input */
    uint64_t tls_failures;      /* handshakes or TLS streams that failed */
    uint64_t read_pauses;       /* times backpressure stopped reading */
};
void st_rpc_server_stats(const struct st_rpc_server *srv,
                         struct st_rpc_server_stats *out);

/* Stop listening, close every connection at once (unsent output is
 * dropped) and free the server. Replies not yet answered stay valid: their
 * st_rpc_reply_send() then returns ST_ECLOSED and frees them. Must not be
 * called from inside one of this server's handlers. NULL-safe. */
void st_rpc_server_free(struct st_rpc_server *srv);

/* Answer a request: @error is 0 or an ErrorCode (errors.proto) with
 * optional @error_message (copied; NULL for none); @body is the API's
 * encoded response message and @payload raw bytes; both are copied.
 * Consumes @reply in every case.
 * Errors: ST_ECLOSED (the connection is gone; nothing is sent),
 * ST_ETOOBIG (over the frame cap: an UNKNOWN error goes out instead),
 * ST_ENOMEM. */
int st_rpc_reply_send(struct st_rpc_reply *reply, int32_t error,
                      const char *error_message, struct st_bytes body,
                      struct st_bytes payload);

/* Like st_rpc_reply_send() but @payload is sent by reference, without a
 * copy: @payload_done(@done_arg) runs on the loop thread once the bytes
 * are no longer needed (written, or dropped with the connection), and also
 * when this call fails. Use it to serve log segments as they lie. */
int st_rpc_reply_send_ref(struct st_rpc_reply *reply, int32_t error,
                          const char *error_message, struct st_bytes body,
                          struct st_bytes payload,
                          void (*payload_done)(void *done_arg),
                          void *done_arg);

/* Whether the reply's connection is gone (answering is then pointless but
 * still required, to free the handle). Long polls check it to give up early. */
bool st_rpc_reply_is_closed(const struct st_rpc_reply *reply);

#endif
