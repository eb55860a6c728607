/* Broker connections of a handle, and synchronous requests from
 * application threads (admin calls, list offsets) carried by the loop.
 *
 * Each broker has one st_rpc_client (TLS, pipelining, reconnect with
 * backoff), created on the loop thread by cl_brokers_connect(). Its state
 * callback keeps @up and @last_err current for wait_ready() and for the
 * reasons given in delivery reports.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/lib/errors.h"
#include "client/lib/handle.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_client.h"

static struct cl_broker *broker_add(strata_t *rk, int32_t id,
                                    const char *host, uint16_t port,
                                    bool bootstrap)
{
    struct cl_broker *b = st_calloc(1, sizeof *b);
    if (b == NULL) {
        return NULL;
    }
    b->id = id;
    snprintf(b->host, sizeof b->host, "%s", host);
    b->port = port;
    b->bootstrap = bootstrap;
    b->rk = rk;
    struct cl_broker **at = &rk->brokers;
    while (*at != NULL) {
        at = &(*at)->next;
    }
    *at = b;
    return b;
}

int cl_brokers_init(strata_t *rk)
{
    const struct st_endpoints *e = rk->cc.bootstrap;
    for (size_t i = 0; i < e->n; i++) {
        if (broker_add(rk, -1 - (int32_t)i, e->v[i].host, e->v[i].port,
                       true) == NULL) {
            return ST_ENOMEM;
        }
    }
    return 0;
}

struct cl_broker *cl_broker_find(strata_t *rk, int32_t id)
{
    for (struct cl_broker *b = rk->brokers; b != NULL; b = b->next) {
        if (b->id == id) {
            return b;
        }
    }
    return NULL;
}

struct cl_broker *cl_broker_learn(strata_t *rk, int32_t id, const char *host,
                                  uint16_t port)
{
    struct cl_broker *b = cl_broker_find(rk, id);
    if (b != NULL) {
        return b; /* an address change needs a restart of the client */
    }
    return broker_add(rk, id, host, port, false);
}

struct cl_broker *cl_broker_any(strata_t *rk)
{
    struct cl_broker *boot_up = NULL;
    for (struct cl_broker *b = rk->brokers; b != NULL; b = b->next) {
        if (b->up && !b->bootstrap) {
            return b;
        }
        if (b->up && boot_up == NULL) {
            boot_up = b;
        }
    }
    if (boot_up != NULL) {
        return boot_up;
    }
    /* None up: rotate over the brokers so a dead first one does not
     * swallow every request's backlog. */
    unsigned n = 0;
    for (struct cl_broker *b = rk->brokers; b != NULL; b = b->next) {
        n++;
    }
    unsigned k = n ? rk->broker_rr++ % n : 0;
    struct cl_broker *b = rk->brokers;
    while (k-- > 0 && b != NULL) {
        b = b->next;
    }
    return b;
}

bool cl_brokers_any_up(strata_t *rk)
{
    for (struct cl_broker *b = rk->brokers; b != NULL; b = b->next) {
        if (b->up) {
            return true;
        }
    }
    return false;
}

void cl_brokers_describe_down(strata_t *rk, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (struct cl_broker *b = rk->brokers; b != NULL && n < cap;
         b = b->next) {
        if (b->up) {
            continue;
        }
        int w = snprintf(out + n, cap - n, "%s%s:%u: %s", n ? "; " : "",
                         b->host, b->port,
                         b->last_err[0] ? b->last_err : "not connected yet");
        if (w < 0) {
            break;
        }
        n += (size_t)w;
    }
}

/* Runs on: loop (rpc client callback); takes @lock. */
static void on_state(void *arg, int status, const char *text)
{
    struct cl_broker *b = arg;
    strata_t *rk = b->rk;
    pthread_mutex_lock(&rk->lock);
    if (b->up && status != 0 && !b->bootstrap) {
        /* Its partitions may be led elsewhere by now. */
        cl_md_want(rk);
    }
    b->up = status == 0;
    if (status != 0) {
        b->ever_failed = true;
        snprintf(b->last_err, sizeof b->last_err, "%s",
                 text != NULL && text[0] ? text : st_strerror(status));
        ST_DEBUG("client", "client=%s broker=%" PRId32 " addr=%s:%u down "
                 "reason=\"%s\"", rk->name, b->id, b->host, b->port,
                 b->last_err);
    } else {
        b->last_err[0] = '\0';
    }
    pthread_cond_broadcast(&rk->cond);
    pthread_mutex_unlock(&rk->lock);
    cl_wake(rk);
}

void cl_brokers_connect(strata_t *rk)
{
    for (struct cl_broker *b = rk->brokers; b != NULL; b = b->next) {
        if (b->rpc != NULL) {
            continue;
        }
        struct st_rpc_client_config cfg = {
            .host = b->host,
            .port = b->port,
            .tls = rk->tls,
            .connect_timeout_ms = (uint32_t)rk->cc.request_timeout_ms,
            .backoff_initial_ms = 50,
            .backoff_max_ms = 1000,
            .on_state = on_state,
            .state_arg = b,
        };
        if (st_rpc_client_new(rk->base, &cfg, &b->rpc) != 0) {
            snprintf(b->last_err, sizeof b->last_err, "%s",
                     "cannot create an RPC client (bad address?)");
            b->ever_failed = true;
        }
    }
}

void cl_brokers_disconnect(strata_t *rk)
{
    /* The list itself only grows while the loop runs, and only on this
     * thread, so walking it without the lock is safe here. */
    for (struct cl_broker *b = rk->brokers; b != NULL; b = b->next) {
        struct st_rpc_client *c = b->rpc;
        b->rpc = NULL;
        st_rpc_client_free(c); /* callbacks take @lock themselves */
        pthread_mutex_lock(&rk->lock);
        b->up = false;
        pthread_mutex_unlock(&rk->lock);
    }
}

void cl_brokers_free(strata_t *rk)
{
    struct cl_broker *b = rk->brokers;
    while (b != NULL) {
        struct cl_broker *next = b->next;
        st_rpc_client_free(b->rpc);
        st_free(b);
        b = next;
    }
    rk->brokers = NULL;
}

int cl_broker_send(struct cl_broker *b, uint32_t api, const void *body,
                   size_t body_len, const void *payload, size_t payload_len,
                   uint32_t timeout_ms,
                   void (*cb)(void *, int, const struct st_rpc_response *),
                   void *arg)
{
    if (b->rpc == NULL) {
        return ST_ECLOSED;
    }
    struct st_rpc_call call = {
        .api = api,
        .version = 0,
        .body = {body, body_len},
        .payload = {payload, payload_len},
        .timeout_ms = timeout_ms,
    };
    return st_rpc_client_send(b->rpc, &call, cb, arg, NULL);
}

/* ---- synchronous requests ---- */

void cl_req_release(strata_t *rk, struct cl_req *r)
{
    pthread_mutex_lock(&rk->lock);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&rk->lock);
    if (last) {
        st_buf_close(&r->body);
        st_buf_close(&r->resp_body);
        st_free(r);
    }
}

/* Runs on: loop (rpc callback). */
static void req_done(void *arg, int status, const struct st_rpc_response *rs)
{
    struct cl_req *r = arg;
    strata_t *rk = r->rk;
    pthread_mutex_lock(&rk->lock);
    r->status = status;
    if (status == 0) {
        r->error = rs->error;
        snprintf(r->error_message, sizeof r->error_message, "%s",
                 rs->error_message);
        if (st_buf_append(&r->resp_body, rs->body.base, rs->body.len) != 0) {
            r->status = ST_ENOMEM;
        }
    }
    r->done = true;
    pthread_cond_broadcast(&rk->cond);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&rk->lock);
    if (last) {
        st_buf_close(&r->body);
        st_buf_close(&r->resp_body);
        st_free(r);
    }
}

void cl_reqs_send(strata_t *rk)
{
    struct cl_req **at = &rk->reqs;
    while (*at != NULL) {
        struct cl_req *r = *at;
        if (r->refs == 1) { /* the caller gave up before it was sent */
            *at = r->next;
            st_buf_close(&r->body);
            st_buf_close(&r->resp_body);
            st_free(r);
            continue;
        }
        struct cl_broker *b = r->broker_id >= 0
                                  ? cl_broker_find(rk, r->broker_id)
                                  : cl_broker_any(rk);
        if (b != NULL && r->broker_id < 0 && !b->up) {
            at = &r->next; /* wait for a broker to come up */
            continue;
        }
        *at = r->next;
        r->next = NULL;
        int rv = b == NULL ? ST_ENOENT
                           : cl_broker_send(b, r->api, r->body.base,
                                            r->body.len, NULL, 0,
                                            r->timeout_ms, req_done, r);
        if (rv != 0) {
            r->status = rv;
            r->done = true;
            r->refs--;
            pthread_cond_broadcast(&rk->cond);
        }
    }
}

strata_resp_err_t cl_req_sync(strata_t *rk, uint32_t api,
                              const uint8_t *body, size_t len,
                              int32_t broker_id, int timeout_ms,
                              struct cl_req **out, char *errstr,
                              size_t errstr_size)
{
    struct cl_req *r = st_calloc(1, sizeof *r);
    if (r == NULL) {
        return STRATA_ERR__NOMEM;
    }
    st_buf_init(&r->body);
    st_buf_init(&r->resp_body);
    if (st_buf_append(&r->body, body, len) != 0) {
        st_free(r);
        return STRATA_ERR__NOMEM;
    }
    r->api = api;
    r->rk = rk;
    r->broker_id = broker_id;
    r->timeout_ms = timeout_ms > 0 ? (uint32_t)timeout_ms : 1;
    r->refs = 2;
    uint64_t deadline = cl_now_ms() + r->timeout_ms;

    pthread_mutex_lock(&rk->lock);
    if (rk->terminate) {
        pthread_mutex_unlock(&rk->lock);
        r->refs = 1;
        cl_req_release(rk, r);
        return STRATA_ERR__STATE;
    }
    r->next = rk->reqs;
    rk->reqs = r;
    pthread_mutex_unlock(&rk->lock);
    cl_wake(rk);

    pthread_mutex_lock(&rk->lock);
    while (!r->done && cl_now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rk->cond, &rk->lock, &ts);
    }
    strata_resp_err_t err = STRATA_ERR_NO_ERROR;
    char why[300];
    if (!r->done || r->status == ST_ETIMEDOUT) {
        cl_brokers_describe_down(rk, why, sizeof why);
        err = cl_brokers_any_up(rk) ? STRATA_ERR__TIMED_OUT
                                    : STRATA_ERR__ALL_BROKERS_DOWN;
        if (errstr != NULL) {
            snprintf(errstr, errstr_size, "no answer within %d ms%s%s",
                     timeout_ms,
                     err == STRATA_ERR__ALL_BROKERS_DOWN ? ": " : "",
                     err == STRATA_ERR__ALL_BROKERS_DOWN ? why : "");
        }
    } else if (r->status != 0) {
        err = cl_err_from_st(r->status);
        if (errstr != NULL) {
            snprintf(errstr, errstr_size, "request failed: %s",
                     st_strerror(r->status));
        }
    }
    pthread_mutex_unlock(&rk->lock);
    if (err != STRATA_ERR_NO_ERROR) {
        cl_req_release(rk, r);
        return err;
    }
    *out = r;
    return STRATA_ERR_NO_ERROR;
}
