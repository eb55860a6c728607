/* The RPC server: see rpc_server.h for the contract.
 *
 * Connection states:
 *
 *   HANDSHAKE --connected--> OPEN --bad input--> CLOSING --output flushed,
 *       |                     |                     |     or 5 s--> CLOSED
 *       +--TLS error----------+--EOF, error---------+------------->  CLOSED
 *
 * CLOSED connections wait on the reaper list; the reaper event frees them on
 * a later loop turn, so no object is freed inside its own callback chain.
 *
 * Reply ordering: every in-order request gets a reply object on the
 * connection's order queue when it arrives. A reply answered while it is at
 * the head goes straight to the output; one answered earlier is encoded into
 * its own evbuffer and moved (not copied) to the output when it reaches the
 * head. Unordered replies bypass the queue.
 */
#include "common/rpc_server.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/frame.h"
#include "errors.pb-c.h"
#include "header.pb-c.h"

#define DEFAULT_FRAME_BYTES_MAX (100u << 20)
#define DEFAULT_OUT_BYTES_MAX (8u << 20)
#define DEFAULT_INFLIGHT_MAX 4096u
#define API_MAX 65536u
#define HANDSHAKE_TIMEOUT_S 10
#define CLOSING_TIMEOUT_S 5

enum conn_state { CONN_HANDSHAKE, CONN_OPEN, CONN_CLOSING, CONN_CLOSED };

struct conn;

struct st_rpc_reply {
    struct conn *conn; /* NULL once the connection is gone */
    uint64_t correlation_id;
    uint32_t api;
    uint32_t version;
    bool in_order;
    bool answered;
    struct evbuffer *out; /* encoded reply waiting for earlier ones */
    TAILQ_ENTRY(st_rpc_reply) order_link;   /* conn->order (in-order only) */
    TAILQ_ENTRY(st_rpc_reply) pending_link; /* conn->pending (unanswered) */
};
TAILQ_HEAD(reply_list, st_rpc_reply);

struct conn {
    struct st_rpc_server *srv;
    struct bufferevent *bev;
    enum conn_state state;
    bool read_paused;
    unsigned inflight; /* requests not yet answered */
    struct event *kick; /* deferred re-run of input after a pause */
    struct reply_list order;
    struct reply_list pending;
    struct st_tls_peer peer;
    char addr[64];
    TAILQ_ENTRY(conn) link; /* srv->conns, then srv->reap */
};
TAILQ_HEAD(conn_list, conn);

struct api_entry {
    st_rpc_handler_fn fn;
    void *arg;
    uint32_t version_min;
    uint32_t version_max;
    unsigned flags;
};

struct st_rpc_server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct st_tls_ctx *tls;
    size_t frame_bytes_max;
    size_t out_bytes_max;
    unsigned inflight_max;
    uint16_t port;
    struct api_entry *apis; /* indexed by api number */
    size_t n_apis;
    struct conn_list conns;
    struct conn_list reap;
    struct event *reaper;
    struct st_rpc_server_stats stats;
};

struct ref_payload {
    void (*done)(void *arg);
    void *arg;
};

static void conn_process_input(struct conn *c);
static void conn_close(struct conn *c);

/* ---- writing frames ---------------------------------------------------- */

static void ref_payload_cleanup(const void *data, size_t len, void *extra)
{
    struct ref_payload *r = extra;
    r->done(r->arg);
    st_free(r);
}

/* Append one response frame to @out. A copied payload goes into the same
 * reserved space as the head, so on error nothing was appended. A @ref
 * payload is added by reference after the head: *ref_taken says whether
 * the evbuffer took it (and will call its cleanup); when adding it fails
 * the frame is cut short and ST_EIO says the stream is broken.
 * Errors: ST_ETOOBIG, ST_ENOMEM (nothing appended), ST_EIO. */
static int encode_response(struct evbuffer *out, const struct st_rpc_reply *r,
                           int32_t error, const char *error_message,
                           struct st_bytes body, struct st_bytes payload,
                           struct ref_payload *ref, bool *ref_taken)
{
    Strata__Header h = STRATA__HEADER__INIT;
    h.kind = STRATA__FRAME_KIND__FRAME_RESPONSE;
    h.api = r->api;
    h.version = r->version;
    h.correlation_id = r->correlation_id;
    h.error = error;
    if (error_message != NULL) {
        h.error_message = (char *)error_message;
    }
    h.body.data = (uint8_t *)body.base;
    h.body.len = body.len;
    size_t head = st_frame_head_bytes(&h);
    size_t total = head + payload.len;
    if (total < head || total - 4 > UINT32_MAX) {
        return ST_ETOOBIG;
    }
    size_t reserve = ref != NULL ? head : total;
    struct evbuffer_iovec vec;
    if (evbuffer_reserve_space(out, (ev_ssize_t)reserve, &vec, 1) != 1) {
        return ST_ENOMEM;
    }
    int rv = st_frame_encode_head(&h, payload.len, vec.iov_base);
    if (rv != 0) {
        return rv;
    }
    if (ref == NULL && payload.len > 0) {
        memcpy((uint8_t *)vec.iov_base + head, payload.base, payload.len);
    }
    vec.iov_len = reserve;
    if (evbuffer_commit_space(out, &vec, 1) != 0) {
        return ST_ENOMEM;
    }
    if (ref == NULL || payload.len == 0) {
        return 0;
    }
    if (evbuffer_add_reference(out, payload.base, payload.len,
                               ref_payload_cleanup, ref) != 0) {
        return ST_EIO;
    }
    *ref_taken = true;
    return 0;
}

static bool conn_over_limits(const struct conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    return evbuffer_get_length(out) > c->srv->out_bytes_max ||
           c->inflight >= c->srv->inflight_max;
}

/* Stop reading while the peer does not drain its replies. */
static void conn_check_pause(struct conn *c)
{
    if (!c->read_paused && c->state == CONN_OPEN && conn_over_limits(c)) {
        c->read_paused = true;
        c->srv->stats.read_pauses++;
        bufferevent_disable(c->bev, EV_READ);
    }
}

/* Resume reading, and parse what is already buffered, on a later turn. */
static void conn_check_resume(struct conn *c)
{
    if (c->read_paused && c->state == CONN_OPEN && !conn_over_limits(c)) {
        c->read_paused = false;
        bufferevent_enable(c->bev, EV_READ);
        event_active(c->kick, EV_TIMEOUT, 0);
    }
}

/* Move answered replies from the head of the order queue to the output. */
static void conn_flush_order(struct conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct st_rpc_reply *r;
    while ((r = TAILQ_FIRST(&c->order)) != NULL && r->answered) {
        TAILQ_REMOVE(&c->order, r, order_link);
        if (r->out != NULL) {
            /* Once closing, the error frame stays the last one sent. */
            if (c->state == CONN_OPEN) {
                evbuffer_add_buffer(out, r->out);
            }
            evbuffer_free(r->out);
        }
        st_free(r);
    }
}

/* ---- replies ----------------------------------------------------------- */

static struct st_rpc_reply *reply_new(struct conn *c, const Strata__Header *h,
                                      bool in_order)
{
    struct st_rpc_reply *r = st_calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->conn = c;
    r->correlation_id = h->correlation_id;
    r->api = h->api;
    r->version = h->version;
    r->in_order = in_order;
    if (in_order) {
        TAILQ_INSERT_TAIL(&c->order, r, order_link);
    }
    TAILQ_INSERT_TAIL(&c->pending, r, pending_link);
    c->inflight++;
    return r;
}

bool st_rpc_reply_is_closed(const struct st_rpc_reply *reply)
{
    return reply->conn == NULL || reply->conn->state != CONN_OPEN;
}

/* Send @r's answer (see st_rpc_reply_send_ref for @ref) and free @r, or
 * leave it on the order queue until earlier replies are answered. */
static int reply_send(struct st_rpc_reply *r, int32_t error,
                      const char *error_message, struct st_bytes body,
                      struct st_bytes payload, struct ref_payload *ref,
                      bool *ref_taken)
{
    struct conn *c = r->conn;
    if (c == NULL) {
        st_free(r);
        return ST_ECLOSED;
    }
    TAILQ_REMOVE(&c->pending, r, pending_link);
    c->inflight--;
    r->answered = true;
    int rv = ST_ECLOSED;
    if (c->state == CONN_OPEN) {
        bool direct = !r->in_order || TAILQ_FIRST(&c->order) == r;
        struct evbuffer *out = bufferevent_get_output(c->bev);
        if (!direct) {
            r->out = evbuffer_new();
            out = r->out;
        }
        rv = out ? encode_response(out, r, error, error_message, body,
                                   payload, ref, ref_taken)
                 : ST_ENOMEM;
        if (rv == ST_ETOOBIG || rv == ST_ENOMEM) {
            ST_WARN("rpc", "peer=%s api=%u correlation_id=%" PRIu64
                    " reply not sent: %s", c->addr, r->api, r->correlation_id,
                    st_strerror(rv));
            /* Keep the stream in step: the request still gets an answer. */
            bool unused = false;
            int rv2 = encode_response(out ? out : bufferevent_get_output(
                                                    c->bev),
                                      r, STRATA__ERROR_CODE__UNKNOWN,
                                      "reply could not be encoded",
                                      (struct st_bytes){0},
                                      (struct st_bytes){0}, NULL, &unused);
            if (rv2 != 0) {
                rv = ST_EIO;
            }
        }
    }
    if (r->in_order) {
        conn_flush_order(c); /* frees r when it reached the head */
    } else {
        st_free(r);
    }
    if (rv == ST_EIO) {
        ST_WARN("rpc", "peer=%s closing connection: a reply was cut short "
                "(out of memory)", c->addr);
        conn_close(c);
        return ST_ENOMEM;
    }
    if (c->state == CONN_OPEN) {
        conn_check_pause(c);
        conn_check_resume(c);
    }
    return rv;
}

int st_rpc_reply_send(struct st_rpc_reply *reply, int32_t error,
                      const char *error_message, struct st_bytes body,
                      struct st_bytes payload)
{
    bool unused = false;
    return reply_send(reply, error, error_message, body, payload, NULL,
                      &unused);
}

int st_rpc_reply_send_ref(struct st_rpc_reply *reply, int32_t error,
                          const char *error_message, struct st_bytes body,
                          struct st_bytes payload,
                          void (*payload_done)(void *done_arg),
                          void *done_arg)
{
    struct ref_payload *ref = NULL;
    bool taken = false;
    if (payload.len > 0) {
        ref = st_malloc(sizeof *ref);
        if (ref == NULL) {
            st_rpc_reply_send(reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory", (struct st_bytes){0},
                              (struct st_bytes){0});
            payload_done(done_arg);
            return ST_ENOMEM;
        }
        ref->done = payload_done;
        ref->arg = done_arg;
    }
    int rv = reply_send(reply, error, error_message, body, payload, ref,
                        &taken);
    if (!taken) {
        /* No evbuffer holds the bytes: they are done with now. */
        st_free(ref);
        payload_done(done_arg);
    }
    return rv;
}

/* ---- bad input --------------------------------------------------------- */

/* Answer a stream-level error with correlation id 0 and close after the
 * answer is flushed (or CLOSING_TIMEOUT_S passed). */
static void conn_fail(struct conn *c, int32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conn_fail(struct conn *c, int32_t code, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    ST_WARN("rpc", "peer=%s cn=%s closing connection: %s", c->addr,
            c->peer.cn, text);
    c->srv->stats.protocol_errors++;
    struct st_rpc_reply r = {.correlation_id = 0};
    struct evbuffer *out = bufferevent_get_output(c->bev);
    /* Replies queued behind unanswered requests are dropped with the
     * stream; the error frame is the last thing the peer reads. */
    bool unused = false;
    encode_response(out, &r, code, text, (struct st_bytes){0},
                    (struct st_bytes){0}, NULL, &unused);
    c->state = CONN_CLOSING;
    bufferevent_disable(c->bev, EV_READ);
    evbuffer_drain(bufferevent_get_input(c->bev),
                   evbuffer_get_length(bufferevent_get_input(c->bev)));
    struct timeval tv = {CLOSING_TIMEOUT_S, 0};
    bufferevent_set_timeouts(c->bev, NULL, &tv);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    bufferevent_enable(c->bev, EV_WRITE);
}

/* ---- requests ---------------------------------------------------------- */

static void dispatch(struct conn *c, const Strata__Header *h,
                     const struct st_frame *f)
{
    struct st_rpc_server *srv = c->srv;
    const struct api_entry *e =
        h->api < srv->n_apis && srv->apis[h->api].fn ? &srv->apis[h->api]
                                                     : NULL;
    bool in_order = e == NULL || !(e->flags & ST_RPC_UNORDERED);
    struct st_rpc_reply *r = reply_new(c, h, in_order);
    if (r == NULL) {
        conn_fail(c, STRATA__ERROR_CODE__UNKNOWN, "out of memory");
        return;
    }
    srv->stats.requests++;
    if (e == NULL) {
        char text[64];
        snprintf(text, sizeof text, "unknown api %u", h->api);
        ST_DEBUG("rpc", "peer=%s %s", c->addr, text);
        st_rpc_reply_send(r, STRATA__ERROR_CODE__UNKNOWN_API, text,
                          (struct st_bytes){0}, (struct st_bytes){0});
        return;
    }
    if (h->version < e->version_min || h->version > e->version_max) {
        char text[96];
        snprintf(text, sizeof text, "api %u version %u not in [%u, %u]",
                 h->api, h->version, e->version_min, e->version_max);
        st_rpc_reply_send(r, STRATA__ERROR_CODE__UNSUPPORTED_VERSION, text,
                          (struct st_bytes){0}, (struct st_bytes){0});
        return;
    }
    struct st_rpc_request req = {
        .api = h->api,
        .version = h->version,
        .correlation_id = h->correlation_id,
        .body = {h->body.data, h->body.len},
        .payload = f->payload,
        .peer = &c->peer,
        .peer_addr = c->addr,
    };
    e->fn(e->arg, &req, r);
}

static void conn_on_frame(struct conn *c, const struct st_frame *f)
{
    Strata__Header *h = NULL;
    if (st_frame_header_decode(f, &h) != 0) {
        conn_fail(c, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                  "frame header (%zu bytes) is not a valid strata.Header",
                  f->header.len);
        return;
    }
    if (h->kind != STRATA__FRAME_KIND__FRAME_REQUEST) {
        conn_fail(c, STRATA__ERROR_CODE__INVALID_REQUEST,
                  "frame kind %d is not a request", (int)h->kind);
    } else {
        dispatch(c, h, f);
    }
    st_frame_header_free(h);
}

/* Parse and dispatch every whole frame in the input, while limits allow. */
static void conn_process_input(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t max = c->srv->frame_bytes_max;
    while (c->state == CONN_OPEN && !c->read_paused) {
        size_t n = evbuffer_get_length(in);
        uint8_t prefix[ST_FRAME_PREFIX_BYTES];
        size_t k = n < sizeof prefix ? n : sizeof prefix;
        struct st_frame f;
        evbuffer_copyout(in, prefix, k);
        int rv = st_frame_peek(prefix, k, max, &f);
        if (rv == ST_EAGAIN && k == sizeof prefix && f.total_bytes <= n) {
            const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)f.total_bytes);
            if (p == NULL) {
                conn_fail(c, STRATA__ERROR_CODE__UNKNOWN, "out of memory");
                return;
            }
            rv = st_frame_peek(p, f.total_bytes, max, &f);
        }
        if (rv == ST_EAGAIN) {
            return;
        }
        if (rv == ST_ETOOBIG) {
            conn_fail(c, STRATA__ERROR_CODE__FRAME_TOO_LARGE,
                      "frame of %zu bytes exceeds max.frame.bytes %zu",
                      f.total_bytes - 4, max);
            return;
        }
        if (rv != 0) {
            conn_fail(c, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                      "bad frame prefix: frame_length %u header_length %u",
                      st_get_be32(prefix),
                      k >= 8 ? st_get_be32(prefix + 4) : 0);
            return;
        }
        conn_on_frame(c, &f);
        evbuffer_drain(in, f.total_bytes);
        conn_check_pause(c);
    }
}

/* ---- libevent callbacks: they only route ------------------------------- */

/* Runs on: the loop thread. */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    conn_process_input(arg);
}

/* Runs on: the loop thread; output fell to the low watermark. */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_CLOSING) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
            conn_close(c);
        }
        return;
    }
    conn_check_resume(c);
}

static void conn_kick_cb(evutil_socket_t fd, short what, void *arg)
{
    conn_process_input(arg);
}

static void conn_on_connected(struct conn *c)
{
    c->state = CONN_OPEN;
    st_tls_peer_get(bufferevent_openssl_get_ssl(c->bev), &c->peer);
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    ST_INFO("rpc", "peer=%s cn=%s san=%s connection open", c->addr,
            c->peer.cn, c->peer.sans);
    conn_process_input(c);
}

static void conn_on_eof(struct conn *c)
{
    size_t left = evbuffer_get_length(bufferevent_get_input(c->bev));
    if (c->state == CONN_OPEN && left > 0) {
        /* TLS 1.3 lets us answer after the peer's close_notify. */
        conn_fail(c, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                  "truncated frame: connection closed with %zu bytes of an "
                  "incomplete frame", left);
        return;
    }
    ST_INFO("rpc", "peer=%s cn=%s connection closed by peer", c->addr,
            c->peer.cn);
    conn_close(c);
}

static void conn_on_error(struct conn *c, short what)
{
    unsigned long errs[8];
    size_t n = 0;
    unsigned long e;
    while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
        if (n < 8) {
            errs[n++] = e;
        }
    }
    char text[ST_TLS_ERR_BYTES];
    int sock_err = EVUTIL_SOCKET_ERROR();
    if (what & BEV_EVENT_TIMEOUT) {
        snprintf(text, sizeof text, "timed out %s",
                 c->state == CONN_HANDSHAKE ? "in the TLS handshake"
                                            : "flushing the final reply");
    } else if (n == 0 && sock_err != 0 && c->state != CONN_HANDSHAKE) {
        snprintf(text, sizeof text, "%s", evutil_socket_error_to_string(
                                              sock_err));
    } else {
        st_tls_describe(c->srv->tls, bufferevent_openssl_get_ssl(c->bev),
                        errs, n, text, sizeof text);
    }
    if (c->state == CONN_HANDSHAKE || n > 0) {
        c->srv->stats.tls_failures++;
    }
    ST_WARN("rpc", "peer=%s cn=%s %s: %s", c->addr, c->peer.cn,
            c->state == CONN_HANDSHAKE ? "TLS handshake failed"
                                       : "connection failed",
            text);
    conn_close(c);
}

/* Runs on: the loop thread. */
static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_CLOSED) {
        return;
    }
    if (what & BEV_EVENT_CONNECTED) {
        conn_on_connected(c);
    } else if (what & BEV_EVENT_EOF) {
        conn_on_eof(c);
    } else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        conn_on_error(c, what);
    }
}

/* ---- connection lifetime ----------------------------------------------- */

static void conn_close(struct conn *c)
{
    if (c->state == CONN_CLOSED) {
        return;
    }
    c->state = CONN_CLOSED;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    TAILQ_REMOVE(&c->srv->conns, c, link);
    TAILQ_INSERT_TAIL(&c->srv->reap, c, link);
    c->srv->stats.conns_open--;
    event_active(c->srv->reaper, EV_TIMEOUT, 0);
}

/* Free @c now. Unanswered replies are detached: they stay with their
 * handlers, and answering them reports ST_ECLOSED. */
static void conn_free(struct conn *c)
{
    struct st_rpc_reply *r;
    while ((r = TAILQ_FIRST(&c->pending)) != NULL) {
        TAILQ_REMOVE(&c->pending, r, pending_link);
        if (r->in_order) {
            TAILQ_REMOVE(&c->order, r, order_link);
        }
        r->conn = NULL;
    }
    while ((r = TAILQ_FIRST(&c->order)) != NULL) {
        TAILQ_REMOVE(&c->order, r, order_link);
        if (r->out != NULL) {
            evbuffer_free(r->out);
        }
        st_free(r);
    }
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    if (ssl != NULL && c->state != CONN_HANDSHAKE) {
        /* Send close_notify so the peer sees a clean end of stream. */
        SSL_set_quiet_shutdown(ssl, 0);
        SSL_shutdown(ssl);
    }
    event_free(c->kick);
    bufferevent_free(c->bev);
    st_free(c);
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_rpc_server *srv = arg;
    struct conn *c;
    while ((c = TAILQ_FIRST(&srv->reap)) != NULL) {
        TAILQ_REMOVE(&srv->reap, c, link);
        conn_free(c);
    }
}

static void format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[64] = "?";
    uint16_t port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        evutil_inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, cap, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        evutil_inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "[%s]:%u", host, port);
    } else {
        snprintf(out, cap, "?");
    }
}

/* Runs on: the loop thread, for each accepted TCP connection. */
static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int socklen, void *arg)
{
    struct st_rpc_server *srv = arg;
    char err[ST_TLS_ERR_BYTES] = "";
    SSL *ssl = NULL;
    struct conn *c = st_calloc(1, sizeof *c);
    if (c == NULL || st_tls_ssl_new(srv->tls, NULL, &ssl, err, sizeof err)) {
        ST_WARN("rpc", "cannot accept connection: %s",
                err[0] ? err : "out of memory");
        st_free(c);
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->srv = srv;
    c->state = CONN_HANDSHAKE;
    TAILQ_INIT(&c->order);
    TAILQ_INIT(&c->pending);
    format_addr(sa, c->addr, sizeof c->addr);
    c->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
                                            BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    c->kick = event_new(srv->base, -1, 0, conn_kick_cb, c);
    if (c->bev == NULL || c->kick == NULL) {
        ST_WARN("rpc", "peer=%s cannot accept connection: out of memory",
                c->addr);
        if (c->bev != NULL) {
            bufferevent_free(c->bev);
        } else {
            SSL_free(ssl);
            evutil_closesocket(fd);
        }
        if (c->kick != NULL) {
            event_free(c->kick);
        }
        st_free(c);
        return;
    }
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, srv->out_bytes_max / 2, 0);
    bufferevent_set_max_single_read(c->bev, 256 * 1024);
    bufferevent_set_max_single_write(c->bev, 256 * 1024);
    struct timeval tv = {HANDSHAKE_TIMEOUT_S, 0};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    TAILQ_INSERT_TAIL(&srv->conns, c, link);
    srv->stats.conns_accepted++;
    srv->stats.conns_open++;
}

/* ---- the server -------------------------------------------------------- */

static int listen_on(struct st_rpc_server *srv, const char *host,
                     uint16_t port)
{
    struct sockaddr_storage ss;
    int len;
    char spec[128];
    snprintf(spec, sizeof spec, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
             port);
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (evutil_inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        len = sizeof *in;
    } else if (evutil_inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        len = sizeof *in6;
    } else {
        ST_WARN("rpc", "listen address %s is not a numeric host:port", spec);
        return ST_EINVAL;
    }
    srv->listener = evconnlistener_new_bind(
        srv->base, accept_cb, srv,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
        (struct sockaddr *)&ss, len);
    if (srv->listener == NULL) {
        int rv = -errno;
        ST_WARN("rpc", "cannot listen on %s: %s", spec, st_strerror(rv));
        return rv ? rv : ST_EIO;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    evutil_socket_t fd = evconnlistener_get_fd(srv->listener);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0) {
        srv->port = bound.ss_family == AF_INET6
                        ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                        : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    }
    return 0;
}

int st_rpc_server_new(struct event_base *base,
                      const struct st_rpc_server_config *cfg,
                      struct st_rpc_server **out)
{
    if (base == NULL || cfg->tls == NULL || cfg->host == NULL) {
        return ST_EINVAL;
    }
    struct st_rpc_server *srv = st_calloc(1, sizeof *srv);
    if (srv == NULL) {
        return ST_ENOMEM;
    }
    srv->base = base;
    srv->tls = cfg->tls;
    srv->frame_bytes_max =
        cfg->frame_bytes_max ? cfg->frame_bytes_max : DEFAULT_FRAME_BYTES_MAX;
    srv->out_bytes_max =
        cfg->out_bytes_max ? cfg->out_bytes_max : DEFAULT_OUT_BYTES_MAX;
    srv->inflight_max =
        cfg->inflight_max ? cfg->inflight_max : DEFAULT_INFLIGHT_MAX;
    TAILQ_INIT(&srv->conns);
    TAILQ_INIT(&srv->reap);
    int rv = ST_ENOMEM;
    srv->reaper = event_new(base, -1, 0, reaper_cb, srv);
    if (srv->reaper == NULL) {
        goto err_after_alloc;
    }
    rv = listen_on(srv, cfg->host, cfg->port);
    if (rv != 0) {
        goto err_after_reaper;
    }
    ST_INFO("rpc", "listening on %s:%u frame_bytes_max=%zu", cfg->host,
            srv->port, srv->frame_bytes_max);
    *out = srv;
    return 0;
err_after_reaper:
    event_free(srv->reaper);
err_after_alloc:
    st_free(srv);
    return rv;
}

int st_rpc_server_register(struct st_rpc_server *srv, uint32_t api,
                           uint32_t version_min, uint32_t version_max,
                           unsigned flags, st_rpc_handler_fn fn, void *arg)
{
    if (api >= API_MAX || fn == NULL || version_min > version_max) {
        return ST_EINVAL;
    }
    if (api >= srv->n_apis) {
        size_t n = api + 1;
        struct api_entry *a = st_realloc(srv->apis, n * sizeof *a);
        if (a == NULL) {
            return ST_ENOMEM;
        }
        memset(a + srv->n_apis, 0, (n - srv->n_apis) * sizeof *a);
        srv->apis = a;
        srv->n_apis = n;
    }
    srv->apis[api] = (struct api_entry){fn, arg, version_min, version_max,
                                        flags};
    return 0;
}

uint16_t st_rpc_server_port(const struct st_rpc_server *srv)
{
    return srv->port;
}

void st_rpc_server_stats(const struct st_rpc_server *srv,
                         struct st_rpc_server_stats *out)
{
    *out = srv->stats;
}

void st_rpc_server_free(struct st_rpc_server *srv)
{
    if (srv == NULL) {
        return;
    }
    evconnlistener_free(srv->listener);
    struct conn *c;
    while ((c = TAILQ_FIRST(&srv->conns)) != NULL) {
        conn_close(c);
    }
    reaper_cb(-1, 0, srv);
    event_free(srv->reaper);
    ST_INFO("rpc", "stopped listening on port %u", srv->port);
    st_free(srv->apis);
    st_free(srv);
}
