/* strata_t: creation, the I/O thread and its loop, strata_poll(),
 * strata_wait_ready(), close and destroy.
 *
 * The loop runs one pass (cl_loop_pass) whenever an application thread
 * wakes it, a response arrives, or its timer fires; the pass sends what
 * is queued (requests, metadata, produce batches, fetches) and re-arms the
 * timer for the next deadline (linger, backoff), at most 100 ms away.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "client/lib/errors.h"
#include "client/lib/group.h"
#include "client/lib/handle.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/jobq.h"
#include "common/tls.h"

#define TICK_MS_MAX 100

uint64_t cl_now_ms(void)
{
    return st_mono_ms(st_clock_real());
}

int64_t cl_wall_ms(void)
{
    return st_wall_ms(st_clock_real());
}

void cl_wake(strata_t *rk)
{
    event_active(rk->wake_ev, EV_READ, 0);
}

void cl_op_push(strata_t *rk, struct cl_op *op)
{
    op->next = NULL;
    if (rk->ops_tail != NULL) {
        rk->ops_tail->next = op;
    } else {
        rk->ops_head = op;
    }
    rk->ops_tail = op;
    pthread_cond_broadcast(&rk->cond);
}

void cl_error_push(strata_t *rk, strata_resp_err_t err, const char *fmt, ...)
{
    struct cl_op *op = st_calloc(1, sizeof *op);
    if (op == NULL) {
        return;
    }
    op->kind = CL_OP_ERROR;
    op->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->reason, sizeof op->reason, fmt, ap);
    va_end(ap);
    ST_WARN("client", "client=%s error=%s reason=\"%s\"", rk->name,
            strata_err2name(err), op->reason);
    cl_op_push(rk, op);
}

/* ---- the loop ---- */

/* Report once when every broker is down (for the error callback). */
static void check_all_down(strata_t *rk)
{
    bool up = cl_brokers_any_up(rk);
    bool all_failed = true;
    for (struct cl_broker *b = rk->brokers; b != NULL; b = b->next) {
        all_failed = all_failed && b->ever_failed && !b->up;
    }
    if (up) {
        rk->all_down_reported = false;
    } else if (all_failed && !rk->all_down_reported) {
        char why[400];
        cl_brokers_describe_down(rk, why, sizeof why);
        rk->all_down_reported = true;
        cl_error_push(rk, STRATA_ERR__ALL_BROKERS_DOWN,
                      "all brokers are down: %s", why);
    }
}

static void loop_pass(strata_t *rk)
{
    uint64_t now = cl_now_ms();
    uint64_t wake = now + TICK_MS_MAX;

    pthread_mutex_lock(&rk->lock);
    if (rk->terminate) {
        pthread_mutex_unlock(&rk->lock);
        cl_brokers_disconnect(rk);
        event_base_loopbreak(rk->base);
        return;
    }
    cl_brokers_connect(rk);
    check_all_down(rk);
    cl_md_tick(rk, now);
    cl_reqs_send(rk);
    if (rk->type == STRATA_PRODUCER) {
        cl_producer_tick(rk, now, &wake);
    } else if (rk->type == STRATA_CONSUMER) {
        cl_fetcher_tick(rk, now, &wake);
        cl_group_tick(rk, now, &wake);
    }
    pthread_mutex_unlock(&rk->lock);

    uint64_t in = wake > now ? wake - now : 0;
    struct timeval tv = {(time_t)(in / 1000),
                         (suseconds_t)((in % 1000) * 1000)};
    evtimer_add(rk->timer_ev, &tv);
}

/* Runs on: the loop thread (wake_ev and timer_ev). */
static void loop_cb(evutil_socket_t fd, short what, void *arg)
{
    loop_pass(arg);
}

static void *thread_main(void *arg)
{
    strata_t *rk = arg;
    loop_pass(rk);
    event_base_dispatch(rk->base);
    return NULL;
}

/* ---- creation ---- */

static void set_err(char *errstr, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *errstr, size_t cap, const char *fmt, ...)
{
    if (errstr == NULL || cap == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, cap, fmt, ap);
    va_end(ap);
}

static int make_tls(strata_t *rk, char *errstr, size_t cap)
{
    struct st_tls_files files = {
        .ca_file = rk->cc.ca_file,
        .cert_file = rk->cc.cert_file[0] ? rk->cc.cert_file : NULL,
        .key_file = rk->cc.key_file[0] ? rk->cc.key_file : NULL,
    };
    char err[ST_TLS_ERR_BYTES];
    int rv = st_tls_ctx_new(ST_TLS_CLIENT, &files, false, &rk->tls, err,
                            sizeof err);
    if (rv != 0) {
        set_err(errstr, cap, "TLS setup failed: %s", err);
    }
    return rv;
}

static int producer_init(strata_t *rk)
{
    /* An idempotent producer starts with one batch in flight per
     * partition; producer.c raises it to 5 once it holds a producer id
     * and the partition's first batch of the epoch is acknowledged. */
    rk->max_in_flight = rk->cc.idempotence ? 1 : 5;
    struct cl_acc_opts o = {
        .batch_bytes = (size_t)rk->cc.batch_bytes,
        .linger_ms = rk->cc.linger_ms,
        .queue_bytes_max = (size_t)rk->cc.queue_bytes_max,
        .queue_msgs_max = rk->cc.queue_msgs_max,
        .max_in_flight = rk->max_in_flight,
    };
    cl_acc_init(&rk->acc, &o, &rk->budget);
    cl_partitioner_init(&rk->partitioner, rk->cc.partitioner,
                        (uint64_t)cl_wall_ms() ^ (uint64_t)(uintptr_t)rk);
    return st_batch_builder_new(&rk->builder);
}

static int loop_init(strata_t *rk)
{
    if (st_jobq_threads_init() != 0) {
        return ST_ENOMEM;
    }
    rk->base = event_base_new();
    if (rk->base == NULL) {
        return ST_ENOMEM;
    }
    evthread_make_base_notifiable(rk->base);
    rk->wake_ev = event_new(rk->base, -1, 0, loop_cb, rk);
    rk->timer_ev = evtimer_new(rk->base, loop_cb, rk);
    if (rk->wake_ev == NULL || rk->timer_ev == NULL) {
        return ST_ENOMEM;
    }
    return 0;
}

static void handle_free(strata_t *rk)
{
    if (rk->wake_ev != NULL) {
        event_free(rk->wake_ev);
    }
    if (rk->timer_ev != NULL) {
        event_free(rk->timer_ev);
    }
    cl_brokers_free(rk);
    if (rk->base != NULL) {
        event_base_free(rk->base);
    }
    cl_producer_free(rk);
    cl_consumer_free(rk);
    cl_group_free(rk);
    cl_md_free(rk);
    while (rk->reqs != NULL) { /* never sent: their callers gave up */
        struct cl_req *r = rk->reqs;
        rk->reqs = r->next;
        st_buf_close(&r->body);
        st_buf_close(&r->resp_body);
        st_free(r);
    }
    while (rk->ops_head != NULL) {
        struct cl_op *op = rk->ops_head;
        rk->ops_head = op->next;
        if (op->msg != NULL) {
            cl_acc_release(&rk->acc, op->msg);
            cl_msg_free(op->msg);
        }
        st_free(op);
    }
    st_batch_builder_free(rk->builder);
    st_buf_close(&rk->payload);
    st_record_iter_free(rk->iter);
    st_tls_ctx_free(rk->tls);
    pthread_cond_destroy(&rk->cond);
    pthread_mutex_destroy(&rk->lock);
    strata_conf_destroy(rk->conf);
    st_free(rk);
}

strata_t *strata_new(strata_type_t type, strata_conf_t *conf, char *errstr,
                     size_t errstr_size)
{
    static int counter;
    char err[512];
    if (conf == NULL) {
        set_err(errstr, errstr_size, "no configuration given");
        return NULL;
    }
    strata_t *rk = st_calloc(1, sizeof *rk);
    if (rk == NULL) {
        set_err(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&rk->lock, NULL);
    pthread_cond_init(&rk->cond, NULL);
    rk->type = type;
    rk->controller_id = -1;
    if (cl_conf_resolve(conf, &rk->cc, err, sizeof err) != 0) {
        set_err(errstr, errstr_size, "%s", err);
        goto err_after_alloc;
    }
    snprintf(rk->name, sizeof rk->name, "%s#%s-%d", rk->cc.client_id,
             type == STRATA_PRODUCER   ? "producer"
             : type == STRATA_CONSUMER ? "consumer"
                                       : "admin",
             __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    rk->budget.limit = (size_t)rk->cc.memory_bytes_max;
    if (make_tls(rk, errstr, errstr_size) != 0) {
        goto err_after_alloc;
    }
    if (loop_init(rk) != 0 || cl_brokers_init(rk) != 0 ||
        producer_init(rk) != 0 || st_record_iter_new(&rk->iter) != 0 ||
        cl_group_init(rk, conf) != 0) {
        set_err(errstr, errstr_size, "out of memory");
        goto err_after_alloc;
    }
    st_buf_init(&rk->payload);
    rk->conf = conf; /* consumed from here on */
    if (pthread_create(&rk->thread, NULL, thread_main, rk) != 0) {
        rk->conf = NULL;
        set_err(errstr, errstr_size, "cannot start the I/O thread");
        goto err_after_alloc;
    }
    rk->thread_started = true;
    return rk;
err_after_alloc:
    rk->conf = NULL;
    handle_free(rk);
    return NULL;
}

const char *strata_name(const strata_t *rk)
{
    return rk->name;
}

/* ---- waiting ---- */

/* Wait on @cond until @deadline_ms (monotonic); false when it passed.
 * Requires: @lock held. */
static bool wait_until(strata_t *rk, uint64_t deadline_ms)
{
    uint64_t now = cl_now_ms();
    if (now >= deadline_ms) {
        return false;
    }
    uint64_t left = deadline_ms - now;
    if (left > 100) {
        left = 100; /* re-check conditions at least every 100 ms */
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(left / 1000);
    ts.tv_nsec += (long)(left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&rk->cond, &rk->lock, &ts);
    return true;
}

static uint64_t deadline_of(int timeout_ms)
{
    if (timeout_ms < 0) {
        return UINT64_MAX;
    }
    return cl_now_ms() + (uint64_t)timeout_ms;
}

strata_resp_err_t strata_wait_ready(strata_t *rk, int timeout_ms,
                                    char *errstr, size_t errstr_size)
{
    uint64_t deadline = deadline_of(timeout_ms);
    pthread_mutex_lock(&rk->lock);
    rk->md_wanted = !rk->md_ready;
    cl_wake(rk);
    while (!rk->md_ready && wait_until(rk, deadline)) {
    }
    strata_resp_err_t err = STRATA_ERR_NO_ERROR;
    if (!rk->md_ready) {
        char why[400];
        cl_brokers_describe_down(rk, why, sizeof why);
        if (!cl_brokers_any_up(rk)) {
            /* A peer that refused our certificate or whose certificate
             * we refused is a TLS problem, not a dead broker. */
            bool tls = strstr(why, "certificate") != NULL ||
                       strstr(why, "verify") != NULL;
            err = tls ? STRATA_ERR__SSL : STRATA_ERR__ALL_BROKERS_DOWN;
            set_err(errstr, errstr_size, "no broker reachable within %d ms: "
                    "%s", timeout_ms, why[0] ? why : "no attempt finished");
        } else {
            err = STRATA_ERR__TIMED_OUT;
            set_err(errstr, errstr_size, "connected, but no metadata answer "
                    "within %d ms", timeout_ms);
        }
    }
    pthread_mutex_unlock(&rk->lock);
    return err;
}

/* Serve one op with the lock released. */
static void serve(strata_t *rk, struct cl_op *op)
{
    strata_conf_t *c = rk->conf;
    if (op->kind == CL_OP_DR) {
        struct cl_msg *m = op->msg;
        if (c->dr_cb != NULL) {
            strata_header_t hs[m->n_hdrs > 0 ? m->n_hdrs : 1];
            for (size_t i = 0; i < m->n_hdrs; i++) {
                hs[i].key = m->hdrs[i].key;
                hs[i].value = m->hdrs[i].value;
                hs[i].value_len = m->hdrs[i].value_len;
            }
            strata_message_t pub = {
                .err = m->err,
                .errstr = m->errstr != NULL ? m->errstr : "",
                .topic = op->topic,
                .partition = m->partition,
                .offset = m->offset,
                .timestamp_ms = m->timestamp_ms,
                .key = m->key,
                .key_len = m->key_len,
                .value = m->value,
                .value_len = m->value_len,
                .headers = hs,
                .n_headers = m->n_hdrs,
                .opaque = m->opaque,
            };
            c->dr_cb(rk, &pub, c->opaque);
        }
        pthread_mutex_lock(&rk->lock);
        cl_acc_release(&rk->acc, m);
        rk->outq--;
        pthread_cond_broadcast(&rk->cond);
        pthread_mutex_unlock(&rk->lock);
        cl_msg_free(m);
    } else if (c->error_cb != NULL) {
        c->error_cb(rk, op->err, op->reason, c->opaque);
    }
    st_free(op);
}

/* Serve every queued op, waiting up to @deadline for the first. */
static int poll_until(strata_t *rk, uint64_t deadline)
{
    int n = 0;
    pthread_mutex_lock(&rk->lock);
    while (rk->ops_head == NULL && wait_until(rk, deadline)) {
    }
    struct cl_op *list = rk->ops_head;
    rk->ops_head = rk->ops_tail = NULL;
    pthread_mutex_unlock(&rk->lock);
    while (list != NULL) {
        struct cl_op *next = list->next;
        serve(rk, list);
        list = next;
        n++;
    }
    return n;
}

int cl_serve_ops(strata_t *rk)
{
    return poll_until(rk, cl_now_ms());
}

int strata_poll(strata_t *rk, int timeout_ms)
{
    return poll_until(rk, deadline_of(timeout_ms));
}

strata_resp_err_t strata_flush(strata_t *rk, int timeout_ms)
{
    uint64_t deadline = deadline_of(timeout_ms);
    pthread_mutex_lock(&rk->lock);
    rk->flushing = true;
    pthread_mutex_unlock(&rk->lock);
    cl_wake(rk);
    for (;;) {
        poll_until(rk, cl_now_ms()); /* serve what is there */
        pthread_mutex_lock(&rk->lock);
        int64_t left = rk->outq;
        if (left > 0 && rk->ops_head == NULL) {
            wait_until(rk, deadline);
        }
        left = rk->outq;
        bool more_ops = rk->ops_head != NULL;
        if ((left == 0 && !more_ops) || cl_now_ms() >= deadline) {
            rk->flushing = false;
            pthread_mutex_unlock(&rk->lock);
            poll_until(rk, cl_now_ms());
            return left == 0 ? STRATA_ERR_NO_ERROR : STRATA_ERR__TIMED_OUT;
        }
        pthread_mutex_unlock(&rk->lock);
    }
}

int strata_outq_len(strata_t *rk)
{
    pthread_mutex_lock(&rk->lock);
    int n = (int)rk->outq;
    pthread_mutex_unlock(&rk->lock);
    return n;
}

/* ---- closing ---- */

static void stop_thread(strata_t *rk)
{
    if (!rk->thread_started) {
        return;
    }
    pthread_mutex_lock(&rk->lock);
    rk->terminate = true;
    pthread_mutex_unlock(&rk->lock);
    cl_wake(rk);
    pthread_join(rk->thread, NULL);
    rk->thread_started = false;
}

strata_resp_err_t strata_close(strata_t *rk, int timeout_ms)
{
    pthread_mutex_lock(&rk->lock);
    bool was_closed = rk->closed;
    rk->closed = true;
    pthread_mutex_unlock(&rk->lock);
    if (was_closed) {
        return STRATA_ERR_NO_ERROR;
    }
    strata_resp_err_t err = STRATA_ERR_NO_ERROR;
    if (rk->type == STRATA_PRODUCER) {
        err = strata_flush(rk, timeout_ms < 0 ? 0 : timeout_ms);
    } else if (rk->type == STRATA_CONSUMER) {
        cl_group_close(rk, deadline_of(timeout_ms < 0 ? 0 : timeout_ms));
    }
    stop_thread(rk); /* in-flight requests complete as cancelled */
    pthread_mutex_lock(&rk->lock);
    cl_producer_purge(rk, STRATA_ERR__DESTROY,
                      "handle closed before the record was delivered");
    pthread_mutex_unlock(&rk->lock);
    poll_until(rk, cl_now_ms()); /* the __DESTROY reports */
    return err;
}

void strata_destroy(strata_t *rk)
{
    if (rk == NULL) {
        return;
    }
    strata_close(rk, 0);
    stop_thread(rk);
    handle_free(rk);
}
