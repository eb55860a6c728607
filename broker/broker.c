/* The broker process object: wiring of server, controller link, partitions
 * and API handlers (see broker.h). */
#include "broker/broker.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "broker/coordinator.h"
#include "broker/metadata_follower.h"
#include "broker/partition.h"
#include "broker/partition_manager.h"
#include "broker/replica_driver.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/jobq.h"
#include "common/rpc_server.h"
#include "common/tls.h"
#include "common/vfs.h"
#include "errors.pb-c.h"

#define HOUSEKEEPING_MS 5000
#define DISK_THREADS 2
#define STOP_TIMEOUT_MS 5000

void st_broker_reply_error(struct st_rpc_reply *reply, int32_t code,
                           const char *msg)
{
    struct st_bytes none = {NULL, 0};
    st_rpc_reply_send(reply, code, msg, none, none);
}

int32_t st_broker_error_code(int rv)
{
    switch (rv) {
    case 0:
        return STRATA__ERROR_CODE__NONE;
    case ST_ENOTLEADER:
        return STRATA__ERROR_CODE__NOT_LEADER;
    case ST_ECRC:
    case ST_ECORRUPT:
    case ST_EAGAIN:
    case ST_EUNSUPPORTED:
        return STRATA__ERROR_CODE__CORRUPT_RECORD;
    case ST_ETOOBIG:
        return STRATA__ERROR_CODE__MESSAGE_TOO_LARGE;
    case ST_EFENCED:
        return STRATA__ERROR_CODE__INVALID_PRODUCER_EPOCH;
    case ST_ERANGE:
        return STRATA__ERROR_CODE__OUT_OF_ORDER_SEQUENCE;
    case ST_ETIMEDOUT:
        return STRATA__ERROR_CODE__REQUEST_TIMED_OUT;
    default:
        return STRATA__ERROR_CODE__UNKNOWN;
    }
}

bool st_broker_fenced(const struct st_broker *b)
{
    return st_meta_follower_fenced(b->follower, st_mono_ms(st_clock_real()));
}

static void hw_advanced(void *arg, struct st_partition *p)
{
    struct st_broker *b = arg;
    st_fetch_waits_kick(b->fetches);
}

static struct st_partition *find_partition(void *arg, const char *topic,
                                           int32_t index)
{
    struct st_broker *b = arg;
    return b->pm != NULL ? st_pm_find(b->pm, topic, index) : NULL;
}

static void meta_changed(void *arg)
{
    struct st_broker *b = arg;
    st_pm_reconcile(b->pm, st_meta_follower_meta(b->follower),
                    st_meta_follower_caught_up(b->follower));
    st_fetch_waits_kick(b->fetches); /* leadership may have moved */
    st_coord_meta_changed(b->coord);
}

static void meta_fatal(void *arg, const char *why)
{
    struct st_broker *b = arg;
    ST_ERROR("broker", "node=%d stopping: %s", b->node_id, why);
    b->exit_code = 3;
    event_base_loopbreak(b->base);
}

static void stop_now(void *arg)
{
    struct st_broker *b = arg;
    event_base_loopbreak(b->base);
}

static void stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_broker *b = arg;
    ST_WARN("broker", "node=%d controlled shutdown not acknowledged in "
            "%d ms; stopping anyway", b->node_id, STOP_TIMEOUT_MS);
    stop_now(b);
}

void st_broker_stop(struct st_broker *b)
{
    if (b->stopping || b->stop_ev == NULL) {
        stop_now(b);
        return;
    }
    b->stopping = true;
    struct timeval tv = {STOP_TIMEOUT_MS / 1000,
                         (STOP_TIMEOUT_MS % 1000) * 1000};
    evtimer_add(b->stop_ev, &tv);
    st_meta_follower_shutdown(b->follower, stop_now, b);
}

static void housekeeping_one(void *arg, struct st_partition *p)
{
    st_partition_housekeeping(p, st_wall_ms(st_clock_real()),
                              st_mono_ms(st_clock_real()));
}

static void housekeeping_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_broker *b = arg;
    st_pm_foreach(b->pm, housekeeping_one, NULL);
}

static int make_tls(struct st_broker *b)
{
    struct st_tls_files files = {st_conf_str(b->conf, "tls.ca.file"),
                                 st_conf_str(b->conf, "tls.cert.file"),
                                 st_conf_str(b->conf, "tls.key.file")};
    char err[ST_TLS_ERR_BYTES];
    int rv = st_tls_ctx_new(ST_TLS_SERVER, &files, true, &b->tls_server, err,
                            sizeof err);
    if (rv == 0) {
        rv = st_tls_ctx_new(ST_TLS_CLIENT, &files, false, &b->tls_client,
                            err, sizeof err);
    }
    if (rv != 0) {
        ST_ERROR("broker", "tls: %s", err);
    }
    return rv;
}

static int start_server(struct st_broker *b)
{
    const struct st_endpoint *l = &st_conf_endpoints(b->conf,
                                                     "listeners")->v[0];
    const struct st_endpoints *adv = st_conf_endpoints(b->conf,
                                                       "advertised.listeners");
    const struct st_endpoint *a = adv->n > 0 ? &adv->v[0] : l;
    snprintf(b->host, sizeof b->host, "%s", a->host);
    b->port = a->port;
    struct st_rpc_server_config sc = {0};
    sc.host = l->host;
    sc.port = l->port;
    sc.tls = b->tls_server;
    sc.frame_bytes_max = st_conf_size(b->conf, "max.frame.bytes");
    sc.out_bytes_max = 64u << 20;
    int rv = st_rpc_server_new(b->base, &sc, &b->server);
    if (rv != 0) {
        ST_ERROR("broker", "listen %s:%u: %s", l->host, l->port,
                 st_strerror(rv));
        return rv;
    }
    if (a == l && l->port == 0) {
        b->port = st_rpc_server_port(b->server);
    }
    rv = st_broker_metadata_register(b);
    if (rv == 0) {
        rv = st_broker_produce_register(b);
    }
    if (rv == 0) {
        rv = st_broker_fetch_register(b);
    }
    if (rv == 0) {
        rv = st_broker_list_offsets_register(b);
    }
    if (rv == 0) {
        rv = st_broker_admin_register(b);
    }
    return rv;
}

static int start_follower(struct st_broker *b)
{
    struct st_meta_follower_config fc = {0};
    fc.base = b->base;
    fc.tls = b->tls_client;
    fc.voters = st_conf_endpoints(b->conf, "controller.quorum.voters");
    fc.node_id = b->node_id;
    fc.host = b->host;
    fc.port = b->port;
    fc.rack = st_conf_str(b->conf, "rack");
    fc.heartbeat_interval_ms = st_conf_ms(b->conf,
                                          "broker.heartbeat.interval.ms");
    fc.session_timeout_ms = st_conf_ms(b->conf, "broker.session.timeout.ms");
    fc.frame_bytes_max = st_conf_size(b->conf, "max.frame.bytes");
    fc.changed = meta_changed;
    fc.fatal = meta_fatal;
    fc.arg = b;
    return st_meta_follower_new(&fc, &b->follower);
}

int st_broker_new(struct event_base *base, const struct st_conf *conf,
                  const char *cluster_id, struct st_broker **out)
{
    struct st_broker *b = st_calloc(1, sizeof *b);
    if (b == NULL) {
        return ST_ENOMEM;
    }
    b->base = base;
    b->conf = conf;
    b->node_id = (int32_t)st_conf_int(conf, "node.id");
    snprintf(b->cluster_id, sizeof b->cluster_id, "%s", cluster_id);
    st_buf_init(&b->produce_buf);
    int rv = st_jobq_new(base, DISK_THREADS, &b->jobq);
    if (rv == 0) {
        rv = st_fetch_waits_new(b, &b->fetches);
    }
    if (rv == 0) {
        rv = make_tls(b);
    }
    if (rv == 0) {
        struct st_repl_config rc = {0};
        rc.base = base;
        rc.tls = b->tls_client;
        rc.conf = conf;
        rc.node_id = b->node_id;
        rc.find = find_partition;
        rc.find_arg = b;
        rv = st_repl_new(&rc, &b->repl);
    }
    if (rv == 0) {
        struct st_pm_config pc = {base, b->jobq, st_broker_vfs(conf), conf,
                                  b->node_id, hw_advanced, b, b->repl};
        rv = st_pm_new(&pc, &b->pm);
    }
    if (rv == 0) {
        rv = start_server(b);
    }
    if (rv == 0) {
        rv = st_repl_register(b->repl, b->server);
    }
    if (rv == 0) {
        rv = st_coord_new(b, &b->coord);
    }
    if (rv == 0) {
        rv = st_broker_producer_ids_register(b);
    }
    if (rv == 0) {
        rv = st_broker_crash_arm(base, conf);
    }
    if (rv == 0) {
        rv = start_follower(b);
    }
    if (rv == 0) {
        st_repl_set_follower(b->repl, b->follower);
    }
    if (rv == 0) {
        b->housekeeping_ev = event_new(base, -1, EV_PERSIST, housekeeping_cb,
                                       b);
        struct timeval tv = {HOUSEKEEPING_MS / 1000, 0};
        rv = b->housekeeping_ev ? event_add(b->housekeeping_ev, &tv)
                                : ST_ENOMEM;
    }
    if (rv == 0) {
        b->stop_ev = evtimer_new(base, stop_timeout_cb, b);
        rv = b->stop_ev ? 0 : ST_ENOMEM;
    }
    if (rv != 0) {
        st_broker_free(b);
        return rv;
    }
    ST_INFO("broker", "node=%d cluster=%s listening on %s:%u", b->node_id,
            b->cluster_id, b->host, b->port);
    *out = b;
    return 0;
}

void st_broker_free(struct st_broker *b)
{
    if (b == NULL) {
        return;
    }
    if (b->housekeeping_ev) {
        event_free(b->housekeeping_ev);
    }
    if (b->stop_ev) {
        event_free(b->stop_ev);
    }
    st_broker_crash_disarm();
    st_coord_free(b->coord); /* answers responses waiting for the HW */
    /* Stop taking requests first; waiting replies are answered below. */
    st_rpc_server_free(b->server);
    st_fetch_waits_free(b->fetches);
    st_repl_stop(b->repl); /* fetchers dropped, held fetches answered */
    st_broker_producer_ids_free(b);
    st_meta_follower_free(b->follower);
    st_free(b->pids); /* after the follower cancelled its block request */
    st_pm_free(b->pm); /* answers waiting produces, flushes, marks clean */
    st_repl_free(b->repl);
    st_jobq_free(b->jobq);
    st_tls_ctx_free(b->tls_server);
    st_tls_ctx_free(b->tls_client);
    st_buf_close(&b->produce_buf);
    st_free(b);
}
