/* The RPC client: see rpc_client.h for the contract.
 *
 * Client states:
 *
 *   WAITING --backoff timer--> CONNECTING --TLS handshake done--> OPEN
 *      ^                           |                                |
 *      +---- failure: requests written on the connection get -------+
 *            ST_ECLOSED; the next attempt waits a backoff delay
 *
 * Requests live on one of two lists: `backlog` (encoded into the backlog
 * evbuffer, waiting for a connection) and `inflight` (written on the current
 * connection). A dead bufferevent is freed by the reaper event on a later
 * loop turn, never inside its own callback.
 */
#include "common/rpc_client.h"

#include <ctype.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <openssl/err.h>

#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/frame.h"
#include "header.pb-c.h"

#define DEFAULT_FRAME_BYTES_MAX (100u << 20)
#define DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define DEFAULT_BACKOFF_INITIAL_MS 50u
#define DEFAULT_BACKOFF_MAX_MS 5000u
#define HEALTHY_CONN_MS 1000u /* up this long: the backoff starts over */

enum client_state { C_WAITING, C_CONNECTING, C_OPEN, C_FREEING };

struct request {
    struct st_rpc_client *client;
    uint64_t correlation_id;
    st_rpc_response_fn cb;
    void *arg;
    bool has_timer;
    struct event timer;
    TAILQ_ENTRY(request) link;
};
TAILQ_HEAD(request_list, request);

struct ref_payload {
    void (*done)(void *arg);
    void *arg;
};

struct st_rpc_client {
    struct event_base *base;
    struct st_tls_ctx *tls;
    char *host;
    uint16_t port;
    size_t frame_bytes_max;
    uint32_t connect_timeout_ms;
    uint32_t backoff_initial_ms;
    uint32_t backoff_max_ms;
    void (*on_state)(void *arg, int status, const char *text);
    void *state_arg;

    enum client_state state;
    struct bufferevent *bev;
    struct bufferevent *dead_bev; /* freed by the reaper */
    struct event *reconnect;
    struct event *reaper;
    unsigned attempts;            /* failures since the last healthy conn */
    bool got_frame;               /* on the current connection */
    uint64_t open_since_ms;
    uint64_t rng;

    uint64_t next_correlation_id;
    struct evbuffer *backlog;
    struct request_list backlog_reqs;
    struct request_list inflight;
    size_t n_pending;

    uint32_t common_timeout_ms; /* the last timeout seen, as a libevent */
    const struct timeval *common_tv; /* common timeout (O(1) queueing) */

    char last_error[ST_TLS_ERR_BYTES];
};

static void client_connect(struct st_rpc_client *c);

static uint64_t now_ms(struct st_rpc_client *c)
{
    struct timeval tv;
    event_base_gettimeofday_cached(c->base, &tv);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* splitmix64: jitter needs spread, not secrecy. */
static uint64_t next_rand(struct st_rpc_client *c)
{
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- requests ---------------------------------------------------------- */

static void request_finish(struct request *r, int status,
                           const struct st_rpc_response *resp)
{
    struct st_rpc_client *c = r->client;
    if (r->has_timer) {
        event_del(&r->timer);
    }
    c->n_pending--;
    r->cb(r->arg, status, resp);
    st_free(r);
}

/* Complete every request on @list with @status. Callbacks may add new
 * requests to the client's lists, so @list must be a detached copy. */
static void fail_list(struct request_list *list, int status)
{
    struct request *r;
    while ((r = TAILQ_FIRST(list)) != NULL) {
        TAILQ_REMOVE(list, r, link);
        request_finish(r, status, NULL);
    }
}

static void move_list(struct request_list *to, struct request_list *from)
{
    TAILQ_INIT(to);
    TAILQ_CONCAT(to, from, link);
}

/* Runs on: the loop thread, when a request's timeout passes. */
static void request_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct request *r = arg;
    struct st_rpc_client *c = r->client;
    struct request *it;
    /* It is on one of the two lists; find which. */
    TAILQ_FOREACH(it, &c->inflight, link)
    {
        if (it == r) {
            TAILQ_REMOVE(&c->inflight, r, link);
            goto found;
        }
    }
    TAILQ_REMOVE(&c->backlog_reqs, r, link);
found:
    r->has_timer = false;
    request_finish(r, ST_ETIMEDOUT, NULL);
}

static void ref_payload_cleanup(const void *data, size_t len, void *extra)
{
    struct ref_payload *r = extra;
    r->done(r->arg);
    st_free(r);
}

/* Append the request frame to @out. Errors: ST_ETOOBIG, ST_ENOMEM (nothing
 * appended; @ref not taken), ST_EIO (cut short: @ref not taken). */
static int encode_request(struct evbuffer *out, const struct st_rpc_call *call,
                          uint64_t correlation_id, struct ref_payload *ref,
                          bool *ref_taken)
{
    Strata__Header h = STRATA__HEADER__INIT;
    h.kind = STRATA__FRAME_KIND__FRAME_REQUEST;
    h.api = call->api;
    h.version = call->version;
    h.correlation_id = correlation_id;
    h.body.data = (uint8_t *)call->body.base;
    h.body.len = call->body.len;
    size_t head = st_frame_head_bytes(&h);
    size_t total = head + call->payload.len;
    if (total < head || total - 4 > UINT32_MAX) {
        return ST_ETOOBIG;
    }
    size_t reserve = ref != NULL ? head : total;
    struct evbuffer_iovec vec;
    if (evbuffer_reserve_space(out, (ev_ssize_t)reserve, &vec, 1) != 1) {
        return ST_ENOMEM;
    }
    int rv = st_frame_encode_head(&h, call->payload.len, vec.iov_base);
    if (rv != 0) {
        return rv;
    }
    if (ref == NULL && call->payload.len > 0) {
        memcpy((uint8_t *)vec.iov_base + head, call->payload.base,
               call->payload.len);
    }
    vec.iov_len = reserve;
    if (evbuffer_commit_space(out, &vec, 1) != 0) {
        return ST_ENOMEM;
    }
    if (ref != NULL && evbuffer_add_reference(out, call->payload.base,
                                              call->payload.len,
                                              ref_payload_cleanup, ref) != 0) {
        return ST_EIO;
    }
    *ref_taken = ref != NULL;
    return 0;
}

static void request_arm_timer(struct st_rpc_client *c, struct request *r,
                              uint32_t timeout_ms)
{
    if (timeout_ms == 0) {
        return;
    }
    struct timeval tv = {timeout_ms / 1000u, (timeout_ms % 1000u) * 1000};
    if (c->common_tv == NULL || c->common_timeout_ms != timeout_ms) {
        /* libevent keeps one O(1) queue per distinct common duration. */
        const struct timeval *common =
            event_base_init_common_timeout(c->base, &tv);
        if (common != NULL) {
            c->common_tv = common;
            c->common_timeout_ms = timeout_ms;
        }
    }
    const struct timeval *use =
        c->common_tv && c->common_timeout_ms == timeout_ms ? c->common_tv
                                                           : &tv;
    event_assign(&r->timer, c->base, -1, 0, request_timeout_cb, r);
    evtimer_add(&r->timer, use);
    r->has_timer = true;
}

static void client_fail(struct st_rpc_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int st_rpc_client_send(struct st_rpc_client *c, const struct st_rpc_call *call,
                       st_rpc_response_fn cb, void *arg,
                       uint64_t *correlation_id)
{
    struct ref_payload *ref = NULL;
    bool taken = false;
    int rv = ST_ECLOSED;
    if (c->state == C_FREEING) {
        goto err_before_alloc;
    }
    rv = ST_ENOMEM;
    struct request *r = st_calloc(1, sizeof *r);
    if (r == NULL) {
        goto err_before_alloc;
    }
    if (call->payload_done != NULL && call->payload.len > 0) {
        ref = st_malloc(sizeof *ref);
        if (ref == NULL) {
            goto err_after_alloc;
        }
        ref->done = call->payload_done;
        ref->arg = call->done_arg;
    }
    r->client = c;
    r->correlation_id = c->next_correlation_id++;
    r->cb = cb;
    r->arg = arg;
    bool open = c->state == C_OPEN;
    struct evbuffer *out = open ? bufferevent_get_output(c->bev) : c->backlog;
    rv = encode_request(out, call, r->correlation_id, ref, &taken);
    if (rv == ST_EIO) {
        /* The stream holds half a frame: it cannot be used any more. */
        TAILQ_INSERT_TAIL(open ? &c->inflight : &c->backlog_reqs, r, link);
        c->n_pending++;
        if (open) {
            client_fail(c, "out of memory writing a request");
        } else {
            evbuffer_drain(c->backlog, evbuffer_get_length(c->backlog));
            struct request_list all;
            move_list(&all, &c->backlog_reqs);
            fail_list(&all, ST_ECLOSED);
        }
        rv = 0; /* accepted: its callback has run or will run */
    } else if (rv != 0) {
        goto err_after_alloc;
    } else {
        TAILQ_INSERT_TAIL(open ? &c->inflight : &c->backlog_reqs, r, link);
        c->n_pending++;
        request_arm_timer(c, r, call->timeout_ms);
    }
    if (correlation_id != NULL) {
        *correlation_id = r->correlation_id;
    }
    if (!taken && call->payload_done != NULL) {
        st_free(ref);
        call->payload_done(call->done_arg);
    }
    return rv;
err_after_alloc:
    st_free(r);
err_before_alloc:
    st_free(ref);
    if (call->payload_done != NULL) {
        call->payload_done(call->done_arg);
    }
    return rv;
}

/* ---- responses --------------------------------------------------------- */

static struct request *find_inflight(struct st_rpc_client *c, uint64_t id)
{
    /* Responses mostly come in order: the match is usually the head. */
    struct request *r;
    TAILQ_FOREACH(r, &c->inflight, link)
    {
        if (r->correlation_id == id) {
            return r;
        }
    }
    return NULL;
}

/* Returns false when the connection was failed. */
static bool client_on_frame(struct st_rpc_client *c, const struct st_frame *f)
{
    Strata__Header *h = NULL;
    if (st_frame_header_decode(f, &h) != 0) {
        client_fail(c, "response header (%zu bytes) is not a valid "
                       "strata.Header", f->header.len);
        return false;
    }
    c->got_frame = true;
    if (h->correlation_id == 0 || h->kind != STRATA__FRAME_KIND__FRAME_RESPONSE) {
        /* The server refused the stream itself (correlation id 0). */
        client_fail(c, "server error %d: %s", (int)h->error,
                    h->error_message ? h->error_message : "");
        st_frame_header_free(h);
        return false;
    }
    struct request *r = find_inflight(c, h->correlation_id);
    if (r == NULL) {
        ST_DEBUG("rpc", "server=%s:%u correlation_id=%" PRIu64
                 " late response dropped", c->host, c->port,
                 h->correlation_id);
    } else {
        TAILQ_REMOVE(&c->inflight, r, link);
        struct st_rpc_response resp = {
            .api = h->api,
            .version = h->version,
            .correlation_id = h->correlation_id,
            .error = h->error,
            .error_message = h->error_message ? h->error_message : "",
            .body = {h->body.data, h->body.len},
            .payload = f->payload,
        };
        request_finish(r, 0, &resp);
    }
    st_frame_header_free(h);
    return true;
}

static void client_process_input(struct st_rpc_client *c)
{
    struct bufferevent *bev = c->bev;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (c->state == C_OPEN && c->bev == bev) {
        size_t n = evbuffer_get_length(in);
        uint8_t prefix[ST_FRAME_PREFIX_BYTES];
        size_t k = n < sizeof prefix ? n : sizeof prefix;
        struct st_frame f;
        evbuffer_copyout(in, prefix, k);
        int rv = st_frame_peek(prefix, k, c->frame_bytes_max, &f);
        if (rv == ST_EAGAIN && k == sizeof prefix && f.total_bytes <= n) {
            const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)f.total_bytes);
            if (p == NULL) {
                client_fail(c, "out of memory reading a response");
                return;
            }
            rv = st_frame_peek(p, f.total_bytes, c->frame_bytes_max, &f);
        }
        if (rv == ST_EAGAIN) {
            return;
        }
        if (rv == ST_ETOOBIG) {
            client_fail(c, "response frame of %zu bytes exceeds "
                           "max.frame.bytes %zu", f.total_bytes - 4,
                        c->frame_bytes_max);
            return;
        }
        if (rv != 0) {
            client_fail(c, "bad response frame prefix");
            return;
        }
        if (!client_on_frame(c, &f)) {
            return;
        }
        evbuffer_drain(in, f.total_bytes);
    }
}

/* ---- connection lifetime ----------------------------------------------- */

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_rpc_client *c = arg;
    if (c->dead_bev != NULL) {
        bufferevent_free(c->dead_bev);
        c->dead_bev = NULL;
    }
}

/* Retire the current bufferevent (freed on a later turn). */
static void client_drop_bev(struct st_rpc_client *c)
{
    if (c->bev == NULL) {
        return;
    }
    bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    if (c->dead_bev != NULL) {
        bufferevent_free(c->dead_bev); /* not in its callback chain */
    }
    c->dead_bev = c->bev;
    c->bev = NULL;
    event_active(c->reaper, EV_TIMEOUT, 0);
}

static void schedule_reconnect(struct st_rpc_client *c)
{
    uint64_t d = c->backoff_initial_ms;
    for (unsigned i = 0; i < c->attempts && d < c->backoff_max_ms; i++) {
        d *= 2;
    }
    if (d > c->backoff_max_ms) {
        d = c->backoff_max_ms;
    }
    /* Jitter: uniform in [d/2, d], so clients restarted together spread. */
    uint64_t ms = d / 2 + next_rand(c) % (d / 2 + 1);
    c->attempts++;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    c->state = C_WAITING;
    evtimer_add(c->reconnect, &tv);
}

/* The connection (or the attempt) failed: say why, fail what was written
 * on it, and try again after a backoff delay. */
static void client_fail(struct st_rpc_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
    va_end(ap);
    bool was_open = c->state == C_OPEN;
    if (was_open && (c->got_frame ||
                     now_ms(c) - c->open_since_ms >= HEALTHY_CONN_MS)) {
        c->attempts = 0;
    }
    ST_WARN("rpc", "server=%s:%u %s: %s", c->host, c->port,
            was_open ? "connection lost" : "cannot connect", c->last_error);
    client_drop_bev(c);
    schedule_reconnect(c);
    struct request_list written;
    move_list(&written, &c->inflight);
    if (c->on_state != NULL) {
        c->on_state(c->state_arg, ST_ECLOSED, c->last_error);
    }
    fail_list(&written, ST_ECLOSED);
}

static void client_on_connected(struct st_rpc_client *c)
{
    c->state = C_OPEN;
    c->got_frame = false;
    c->open_since_ms = now_ms(c);
    c->last_error[0] = '\0';
    int one = 1;
    setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one,
               sizeof one);
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    evbuffer_add_buffer(bufferevent_get_output(c->bev), c->backlog);
    TAILQ_CONCAT(&c->inflight, &c->backlog_reqs, link);
    ST_INFO("rpc", "server=%s:%u connection open", c->host, c->port);
    if (c->on_state != NULL) {
        c->on_state(c->state_arg, 0, "");
    }
}

/* The socket's own error: errno as libevent left it, else SO_ERROR (a
 * refused or reset connection leaves one there). 0 when none. */
static int socket_error(struct bufferevent *bev, int sock_err)
{
    if (sock_err != 0) {
        return sock_err;
    }
    int so = 0;
    socklen_t len = sizeof so;
    if (getsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_ERROR, &so,
                   &len) != 0) {
        return 0;
    }
    return so;
}

/* Why the connection failed. A failure with no TLS reason is a transport
 * one and gets the socket's errno text ("connection refused" when nothing
 * listens): libevent queues SSL_get_error() values such as
 * SSL_ERROR_SYSCALL next to real OpenSSL reasons, and those alone do not
 * make a TLS failure. Only when neither side says anything does the text
 * blame the handshake. */
static void describe_bev_error(struct st_rpc_client *c, short what,
                               char *out, size_t cap)
{
    unsigned long errs[8];
    size_t n = 0, reasons = 0;
    unsigned long e;
    while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
        if (n < 8) {
            errs[n++] = e;
        }
        if (ERR_GET_LIB(e) != 0 || e > SSL_ERROR_WANT_CLIENT_HELLO_CB) {
            reasons++;
        }
    }
    int sock_err = EVUTIL_SOCKET_ERROR();
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    bool tls_silent = reasons == 0 && ERR_peek_error() == 0 &&
                      SSL_get_verify_result(ssl) == X509_V_OK;
    int os_err = tls_silent ? socket_error(c->bev, sock_err) : 0;
    if (what & BEV_EVENT_TIMEOUT) {
        snprintf(out, cap, "timed out after %u ms %s", c->connect_timeout_ms,
                 "connecting (TCP and TLS handshake)");
    } else if (os_err != 0) {
        snprintf(out, cap, "%s", evutil_socket_error_to_string(os_err));
        out[0] = (char)tolower((unsigned char)out[0]); /* "connection refused" */
    } else if (tls_silent && c->state == C_OPEN) {
        snprintf(out, cap, "closed without a TLS close_notify");
    } else {
        st_tls_describe(c->tls, ssl, errs, n, out, cap);
    }
}

/* Runs on: the loop thread. */
static void client_read_cb(struct bufferevent *bev, void *arg)
{
    client_process_input(arg);
}

/* Runs on: the loop thread. */
static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct st_rpc_client *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        client_on_connected(c);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        client_fail(c, "server closed the connection");
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        char text[ST_TLS_ERR_BYTES];
        describe_bev_error(c, what, text, sizeof text);
        client_fail(c, "%s", text);
    }
}

static int resolve(struct st_rpc_client *c, struct sockaddr_storage *ss,
                   int *len)
{
    /* getaddrinfo() may block on DNS; numeric hosts and /etc/hosts names
     * (what cluster configs use) answer at once. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", c->port);
    int rv = getaddrinfo(c->host, port, &hints, &res);
    if (rv != 0 || res == NULL) {
        snprintf(c->last_error, sizeof c->last_error, "cannot resolve %s: %s",
                 c->host, gai_strerror(rv));
        return ST_ENOENT;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = (int)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void client_connect(struct st_rpc_client *c)
{
    struct sockaddr_storage ss;
    int len = 0;
    SSL *ssl = NULL;
    c->state = C_CONNECTING;
    if (resolve(c, &ss, &len) != 0) {
        client_fail(c, "%s", c->last_error);
        return;
    }
    char err[ST_TLS_ERR_BYTES] = "";
    if (st_tls_ssl_new(c->tls, c->host, &ssl, err, sizeof err) != 0) {
        client_fail(c, "%s", err[0] ? err : "out of memory");
        return;
    }
    c->bev = bufferevent_openssl_socket_new(c->base, -1, ssl,
                                            BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        SSL_free(ssl);
        client_fail(c, "out of memory");
        return;
    }
    bufferevent_setcb(c->bev, client_read_cb, NULL, client_event_cb, c);
    bufferevent_set_max_single_read(c->bev, 256 * 1024);
    bufferevent_set_max_single_write(c->bev, 256 * 1024);
    struct timeval tv = {c->connect_timeout_ms / 1000,
                         (c->connect_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss, len) != 0) {
        client_fail(c, "cannot connect: %s",
                    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
}

static void reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
    client_connect(arg);
}

int st_rpc_client_new(struct event_base *base,
                      const struct st_rpc_client_config *cfg,
                      struct st_rpc_client **out)
{
    if (base == NULL || cfg->host == NULL || cfg->tls == NULL ||
        cfg->port == 0) {
        return ST_EINVAL;
    }
    struct st_rpc_client *c = st_calloc(1, sizeof *c);
    if (c == NULL) {
        return ST_ENOMEM;
    }
    c->base = base;
    c->tls = cfg->tls;
    c->port = cfg->port;
    c->frame_bytes_max =
        cfg->frame_bytes_max ? cfg->frame_bytes_max : DEFAULT_FRAME_BYTES_MAX;
    c->connect_timeout_ms = cfg->connect_timeout_ms
                                ? cfg->connect_timeout_ms
                                : DEFAULT_CONNECT_TIMEOUT_MS;
    c->backoff_initial_ms = cfg->backoff_initial_ms
                                ? cfg->backoff_initial_ms
                                : DEFAULT_BACKOFF_INITIAL_MS;
    c->backoff_max_ms =
        cfg->backoff_max_ms ? cfg->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    if (c->backoff_max_ms < c->backoff_initial_ms) {
        c->backoff_max_ms = c->backoff_initial_ms;
    }
    c->on_state = cfg->on_state;
    c->state_arg = cfg->state_arg;
    c->next_correlation_id = 1; /* 0 marks connection-level errors */
    c->rng = (uint64_t)(uintptr_t)c ^ ((uint64_t)getpid() << 32);
    TAILQ_INIT(&c->backlog_reqs);
    TAILQ_INIT(&c->inflight);
    c->host = st_strdup(cfg->host);
    c->backlog = evbuffer_new();
    c->reconnect = evtimer_new(base, reconnect_cb, c);
    c->reaper = event_new(base, -1, 0, reaper_cb, c);
    if (c->host == NULL || c->backlog == NULL || c->reconnect == NULL ||
        c->reaper == NULL) {
        goto err_after_alloc;
    }
    /* Connect from the loop, so no callback runs inside this call. */
    c->state = C_WAITING;
    struct timeval now = {0, 0};
    evtimer_add(c->reconnect, &now);
    *out = c;
    return 0;
err_after_alloc:
    if (c->reaper != NULL) {
        event_free(c->reaper);
    }
    if (c->reconnect != NULL) {
        event_free(c->reconnect);
    }
    if (c->backlog != NULL) {
        evbuffer_free(c->backlog);
    }
    st_free(c->host);
    st_free(c);
    return ST_ENOMEM;
}

bool st_rpc_client_connected(const struct st_rpc_client *c)
{
    return c->state == C_OPEN;
}

const char *st_rpc_client_last_error(const struct st_rpc_client *c)
{
    return c->last_error;
}

size_t st_rpc_client_pending(const struct st_rpc_client *c)
{
    return c->n_pending;
}

void st_rpc_client_free(struct st_rpc_client *c)
{
    if (c == NULL) {
        return;
    }
    enum client_state state_before_free = c->state;
    c->state = C_FREEING;
    event_free(c->reconnect);
    if (c->bev != NULL) {
        if (state_before_free == C_OPEN) {
            /* A clean end of stream for the server: close_notify. */
            SSL_shutdown(bufferevent_openssl_get_ssl(c->bev));
        }
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    reaper_cb(-1, 0, c);
    event_free(c->reaper);
    evbuffer_free(c->backlog);
    struct request_list all;
    move_list(&all, &c->inflight);
    TAILQ_CONCAT(&all, &c->backlog_reqs, link);
    fail_list(&all, ST_ECANCELED);
    st_free(c->host);
    st_free(c);
}
