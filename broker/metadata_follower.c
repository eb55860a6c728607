/* The broker's controller link (see metadata_follower.h).
 *
 * Three activities share one RPC client to the current target voter:
 *   registration/heartbeat  driven by a periodic tick (one in flight);
 *   metadata fetch          a long poll, re-sent as soon as it answers;
 *   forwarded admin calls   each retried on redirect until its deadline.
 * Switching target frees the client from a timer callback (never inside
 * the client's own callbacks); its pending requests then complete with
 * ST_ECANCELED, which only clears the in-flight flags (forwards re-arm
 * their retry timer), and the activities restart on the new client.
 */
#include "broker/metadata_follower.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "broker/wire.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_client.h"
#include "controller.pb-c.h"
#include "controller/metadata.h"
#include "errors.pb-c.h"

#define FETCH_WAIT_MS 1000
#define ROTATE_DELAY_MS 200
#define FORWARD_RETRY_MS 100

struct forward {
    struct st_meta_follower *f;
    uint32_t api;
    uint8_t *body;
    size_t len;
    uint64_t deadline_ms;
    st_meta_forward_fn cb;
    void *arg;
    struct event *retry_ev;
    struct forward *prev, *next;
};

struct st_meta_follower {
    struct st_meta_follower_config cfg;
    char *host, *rack;
    struct st_meta *meta;
    struct st_rpc_client *client;
    size_t voter_idx;
    char target_host[256];
    uint16_t target_port;
    char next_host[256];
    uint16_t next_port;
    bool switch_pending;
    struct event *switch_ev, *tick_ev, *fetch_ev;
    bool reg_inflight, hb_inflight, fetch_inflight;
    bool registered, ctl_fenced, caught_up, freeing;
    int64_t epoch;
    int64_t ctl_hw;
    uint64_t hb_sent_ms, last_ok_sent_ms;
    int32_t controller_id;
    uint8_t incarnation[16];
    struct st_buf pb;
    struct forward *forwards;
    bool shutting_down;
    void (*shutdown_done)(void *arg);
    void *shutdown_arg;
    struct event *shutdown_ev;
};

static uint64_t now_ms(void)
{
    return st_mono_ms(st_clock_real());
}

static void send_fetch(struct st_meta_follower *f);
static void send_register(struct st_meta_follower *f);
static void send_heartbeat(struct st_meta_follower *f);
static void forward_send(struct forward *fw);

/* ---- choosing the target voter ---- */

static void switch_to(struct st_meta_follower *f, const char *host,
                      uint16_t port, uint64_t delay_ms)
{
    if (f->switch_pending || f->freeing) {
        return;
    }
    f->switch_pending = true;
    snprintf(f->next_host, sizeof f->next_host, "%s", host);
    f->next_port = port;
    struct timeval tv = {(time_t)(delay_ms / 1000),
                         (suseconds_t)(delay_ms % 1000) * 1000};
    evtimer_add(f->switch_ev, &tv);
}

static void rotate(struct st_meta_follower *f)
{
    const struct st_endpoints *v = f->cfg.voters;
    f->voter_idx = (f->voter_idx + 1) % v->n;
    switch_to(f, v->v[f->voter_idx].host, v->v[f->voter_idx].port,
              ROTATE_DELAY_MS);
}

/* A NOT_CONTROLLER answer: go where it points, else try the next voter. */
static void redirect(struct st_meta_follower *f, struct st_bytes body)
{
    struct st_ctl_leader l;
    if (st_pb_controller_info(body, &l) == 0 && l.leader_id >= 0 &&
        l.host[0] != '\0' && l.port != 0) {
        f->controller_id = l.leader_id;
        if (strcmp(l.host, f->target_host) != 0 || l.port != f->target_port) {
            ST_INFO("broker", "controller redirect to id=%d %s:%u",
                    l.leader_id, l.host, l.port);
            switch_to(f, l.host, l.port, 0);
            return;
        }
    }
    f->controller_id = -1;
    rotate(f);
}

static int connect_target(struct st_meta_follower *f)
{
    struct st_rpc_client_config cc = {0};
    cc.host = f->target_host;
    cc.port = f->target_port;
    cc.tls = f->cfg.tls;
    cc.frame_bytes_max = f->cfg.frame_bytes_max;
    cc.connect_timeout_ms = 2000;
    cc.backoff_initial_ms = 50;
    cc.backoff_max_ms = 1000;
    return st_rpc_client_new(f->cfg.base, &cc, &f->client);
}

static void switch_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_meta_follower *f = arg;
    f->switch_pending = false;
    struct st_rpc_client *old = f->client;
    f->client = NULL;
    st_rpc_client_free(old); /* pending callbacks: ST_ECANCELED */
    snprintf(f->target_host, sizeof f->target_host, "%s", f->next_host);
    f->target_port = f->next_port;
    int rv = connect_target(f);
    if (rv != 0) {
        ST_ERROR("broker", "controller client %s:%u: %s", f->target_host,
                 f->target_port, st_strerror(rv));
        rotate(f);
        return;
    }
    ST_DEBUG("broker", "controller target %s:%u", f->target_host,
             f->target_port);
    if (!f->registered) {
        send_register(f);
    } else {
        send_heartbeat(f);
    }
    send_fetch(f);
}

/* ---- registration and heartbeats ---- */

static int send_msg(struct st_meta_follower *f, uint32_t api,
                    const ProtobufCMessage *m, uint32_t timeout_ms,
                    st_rpc_response_fn cb)
{
    if (f->client == NULL) {
        return ST_ECLOSED;
    }
    int rv = st_pb_pack(m, &f->pb);
    if (rv != 0) {
        return rv;
    }
    struct st_rpc_call call = {0};
    call.api = api;
    call.body = st_pb_view(&f->pb);
    call.timeout_ms = timeout_ms;
    return st_rpc_client_send(f->client, &call, cb, f, NULL);
}

static void register_cb(void *arg, int status,
                        const struct st_rpc_response *resp)
{
    struct st_meta_follower *f = arg;
    f->reg_inflight = false;
    if (status == ST_ECANCELED || f->freeing) {
        return;
    }
    if (status != 0) {
        rotate(f);
        return;
    }
    if (resp->error == STRATA__ERROR_CODE__NOT_CONTROLLER) {
        redirect(f, resp->body);
        return;
    }
    if (resp->error == STRATA__ERROR_CODE__STALE_BROKER_EPOCH) {
        ST_ERROR("broker", "registration refused as stale: %s",
                 resp->error_message);
        f->cfg.fatal(f->cfg.arg, resp->error_message);
        return;
    }
    if (resp->error != 0) {
        ST_WARN("broker", "registration refused (error=%d): %s; retrying",
                resp->error, resp->error_message);
        return; /* the next tick retries */
    }
    Strata__Ctl__BrokerRegistrationResponse *r =
        strata__ctl__broker_registration_response__unpack(
            NULL, resp->body.len, resp->body.base);
    if (r == NULL) {
        ST_WARN("broker", "registration answer does not parse");
        return;
    }
    f->registered = true;
    f->epoch = r->broker_epoch;
    f->ctl_fenced = true; /* until a heartbeat says otherwise */
    if (r->controller != NULL && r->controller->leader_id >= 0) {
        f->controller_id = r->controller->leader_id;
    }
    strata__ctl__broker_registration_response__free_unpacked(r, NULL);
    ST_INFO("broker", "registered node=%d broker_epoch=%" PRId64,
            f->cfg.node_id, f->epoch);
    send_heartbeat(f);
}

static void send_register(struct st_meta_follower *f)
{
    if (f->reg_inflight) {
        return;
    }
    Strata__Ctl__BrokerRegistrationRequest m =
        STRATA__CTL__BROKER_REGISTRATION_REQUEST__INIT;
    Strata__Ctl__BrokerListener l = STRATA__CTL__BROKER_LISTENER__INIT;
    Strata__Ctl__BrokerListener *ls[1] = {&l};
    l.name = "CLIENT";
    l.host = f->host;
    l.port = f->cfg.port;
    m.broker_id = f->cfg.node_id;
    m.incarnation_id.data = f->incarnation;
    m.incarnation_id.len = sizeof f->incarnation;
    m.listeners = ls;
    m.n_listeners = 1;
    m.rack = f->rack;
    if (send_msg(f, STRATA__CTL__API__BROKER_REGISTRATION, &m.base, 5000,
                 register_cb) == 0) {
        f->reg_inflight = true;
    }
}

static void heartbeat_cb(void *arg, int status,
                         const struct st_rpc_response *resp)
{
    struct st_meta_follower *f = arg;
    f->hb_inflight = false;
    if (status == ST_ECANCELED || f->freeing) {
        return;
    }
    if (status != 0) {
        rotate(f);
        return;
    }
    if (resp->error == STRATA__ERROR_CODE__NOT_CONTROLLER) {
        redirect(f, resp->body);
        return;
    }
    if (resp->error == STRATA__ERROR_CODE__STALE_BROKER_EPOCH) {
        ST_WARN("broker", "heartbeat epoch %" PRId64 " is stale: %s; "
                "registering again", f->epoch, resp->error_message);
        f->registered = false;
        send_register(f);
        return;
    }
    if (resp->error != 0) {
        ST_WARN("broker", "heartbeat refused (error=%d): %s", resp->error,
                resp->error_message);
        return;
    }
    Strata__Ctl__BrokerHeartbeatResponse *r =
        strata__ctl__broker_heartbeat_response__unpack(NULL, resp->body.len,
                                                       resp->body.base);
    if (r == NULL) {
        return;
    }
    if (r->fenced != f->ctl_fenced) {
        ST_INFO("broker", "node=%d %s by the controller", f->cfg.node_id,
                r->fenced ? "fenced" : "unfenced");
    }
    f->ctl_fenced = r->fenced;
    f->last_ok_sent_ms = f->hb_sent_ms;
    if (f->shutting_down && r->should_shut_down &&
        f->shutdown_done != NULL) {
        ST_INFO("broker", "node=%d controlled shutdown acknowledged",
                f->cfg.node_id);
        void (*done)(void *) = f->shutdown_done;
        f->shutdown_done = NULL;
        done(f->shutdown_arg);
    }
    if (r->controller != NULL && r->controller->leader_id >= 0) {
        f->controller_id = r->controller->leader_id;
    }
    strata__ctl__broker_heartbeat_response__free_unpacked(r, NULL);
}

static void send_heartbeat(struct st_meta_follower *f)
{
    if (f->hb_inflight || !f->registered) {
        return;
    }
    Strata__Ctl__BrokerHeartbeatRequest m =
        STRATA__CTL__BROKER_HEARTBEAT_REQUEST__INIT;
    m.broker_id = f->cfg.node_id;
    m.broker_epoch = f->epoch;
    m.metadata_offset = st_meta_last_offset(f->meta);
    m.want_shut_down = f->shutting_down;
    uint32_t timeout = (uint32_t)(f->cfg.heartbeat_interval_ms * 2);
    f->hb_sent_ms = now_ms();
    if (send_msg(f, STRATA__CTL__API__BROKER_HEARTBEAT, &m.base,
                 timeout < 1000 ? 1000 : timeout, heartbeat_cb) == 0) {
        f->hb_inflight = true;
    }
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_meta_follower *f = arg;
    if (!f->registered) {
        send_register(f);
    } else {
        send_heartbeat(f);
    }
    if (!f->fetch_inflight) {
        send_fetch(f);
    }
}

/* ---- following the metadata log ---- */

static void fetch_later(struct st_meta_follower *f, uint64_t ms)
{
    struct timeval tv = {0, (suseconds_t)ms * 1000};
    evtimer_add(f->fetch_ev, &tv);
}

/* Apply the answer; returns whether anything changed. */
static bool apply_fetch(struct st_meta_follower *f,
                        const Strata__Ctl__FetchMetadataResponse *r)
{
    bool changed = false;
    if (r->snapshot_offset >= 0 && r->snapshot.len > 0 &&
        r->snapshot_offset > st_meta_last_offset(f->meta)) {
        int rv = st_meta_snapshot_load(f->meta, r->snapshot.data,
                                       r->snapshot.len);
        if (rv != 0) {
            ST_ERROR("broker", "metadata snapshot at %" PRId64
                     " does not load: %s", r->snapshot_offset,
                     st_strerror(rv));
            return false;
        }
        ST_INFO("broker", "loaded metadata snapshot offset=%" PRId64,
                st_meta_last_offset(f->meta));
        changed = true;
    }
    for (size_t i = 0; i < r->n_records; i++) {
        const Strata__Ctl__MetadataRecordAt *rec = r->records[i];
        if (rec->offset <= st_meta_last_offset(f->meta)) {
            continue;
        }
        int rv = st_meta_apply(f->meta, rec->offset, rec->record.data,
                               rec->record.len);
        if (rv == ST_ENOMEM) {
            break;
        }
        if (rv != 0) {
            ST_DEBUG("broker", "metadata record offset=%" PRId64
                     " refused: %s", rec->offset, st_strerror(rv));
        }
        changed = true;
    }
    return changed;
}

static void fetch_cb(void *arg, int status,
                     const struct st_rpc_response *resp)
{
    struct st_meta_follower *f = arg;
    f->fetch_inflight = false;
    if (status == ST_ECANCELED || f->freeing) {
        return;
    }
    if (status != 0) {
        rotate(f);
        fetch_later(f, ROTATE_DELAY_MS * 2);
        return;
    }
    if (resp->error == STRATA__ERROR_CODE__NOT_CONTROLLER) {
        redirect(f, resp->body);
        fetch_later(f, ROTATE_DELAY_MS * 2);
        return;
    }
    Strata__Ctl__FetchMetadataResponse *r =
        resp->error ? NULL
                    : strata__ctl__fetch_metadata_response__unpack(
                          NULL, resp->body.len, resp->body.base);
    if (r == NULL) {
        ST_WARN("broker", "metadata fetch failed (error=%d): %s",
                resp->error, resp->error_message);
        fetch_later(f, 500);
        return;
    }
    bool changed = apply_fetch(f, r);
    f->ctl_hw = r->high_watermark;
    strata__ctl__fetch_metadata_response__free_unpacked(r, NULL);
    if (!f->caught_up && st_meta_last_offset(f->meta) >= f->ctl_hw) {
        f->caught_up = true;
        ST_INFO("broker", "metadata caught up offset=%" PRId64,
                st_meta_last_offset(f->meta));
        changed = true;
    }
    if (changed) {
        f->cfg.changed(f->cfg.arg);
    }
    if (f->registered && f->ctl_fenced) {
        send_heartbeat(f); /* unfence as soon as we caught up */
    }
    send_fetch(f);
}

static void send_fetch(struct st_meta_follower *f)
{
    if (f->fetch_inflight) {
        return;
    }
    Strata__Ctl__FetchMetadataRequest m =
        STRATA__CTL__FETCH_METADATA_REQUEST__INIT;
    m.offset = st_meta_last_offset(f->meta);
    m.max_wait_ms = FETCH_WAIT_MS;
    if (send_msg(f, STRATA__CTL__API__FETCH_METADATA, &m.base,
                 FETCH_WAIT_MS + 4000, fetch_cb) == 0) {
        f->fetch_inflight = true;
    }
}

static void fetch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    send_fetch(arg);
}

/* ---- forwarding ---- */

static void forward_finish(struct forward *fw, int status,
                           const struct st_rpc_response *resp)
{
    struct st_meta_follower *f = fw->f;
    if (fw->prev) {
        fw->prev->next = fw->next;
    } else {
        f->forwards = fw->next;
    }
    if (fw->next) {
        fw->next->prev = fw->prev;
    }
    event_free(fw->retry_ev);
    fw->cb(fw->arg, status, resp);
    st_free(fw->body);
    st_free(fw);
}

static void forward_retry_later(struct forward *fw)
{
    if (now_ms() + FORWARD_RETRY_MS >= fw->deadline_ms) {
        forward_finish(fw, ST_ETIMEDOUT, NULL);
        return;
    }
    struct timeval tv = {0, FORWARD_RETRY_MS * 1000};
    evtimer_add(fw->retry_ev, &tv);
}

static void forward_cb(void *arg, int status,
                       const struct st_rpc_response *resp)
{
    struct forward *fw = arg;
    struct st_meta_follower *f = fw->f;
    if (f->freeing) {
        forward_finish(fw, ST_ECANCELED, NULL);
        return;
    }
    if (status == ST_ECANCELED) {
        forward_retry_later(fw); /* the client was switched */
        return;
    }
    if (status != 0) {
        rotate(f);
        forward_retry_later(fw);
        return;
    }
    if (resp->error == STRATA__ERROR_CODE__NOT_CONTROLLER) {
        redirect(f, resp->body);
        forward_retry_later(fw);
        return;
    }
    forward_finish(fw, 0, resp);
}

static void forward_send(struct forward *fw)
{
    struct st_meta_follower *f = fw->f;
    uint64_t now = now_ms();
    if (now >= fw->deadline_ms) {
        forward_finish(fw, ST_ETIMEDOUT, NULL);
        return;
    }
    struct st_rpc_call call = {0};
    call.api = fw->api;
    call.body = (struct st_bytes){fw->body, fw->len};
    call.timeout_ms = (uint32_t)(fw->deadline_ms - now);
    if (f->client == NULL ||
        st_rpc_client_send(f->client, &call, forward_cb, fw, NULL) != 0) {
        forward_retry_later(fw);
    }
}

static void forward_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    forward_send(arg);
}

int st_meta_follower_forward(struct st_meta_follower *f, uint32_t api,
                             struct st_bytes body, uint32_t timeout_ms,
                             st_meta_forward_fn cb, void *arg)
{
    struct forward *fw = st_calloc(1, sizeof *fw);
    if (fw == NULL) {
        return ST_ENOMEM;
    }
    fw->body = st_malloc(body.len + 1);
    fw->retry_ev = evtimer_new(f->cfg.base, forward_timer_cb, fw);
    if (fw->body == NULL || fw->retry_ev == NULL) {
        st_free(fw->body);
        if (fw->retry_ev) {
            event_free(fw->retry_ev);
        }
        st_free(fw);
        return ST_ENOMEM;
    }
    if (body.len > 0) {
        memcpy(fw->body, body.base, body.len);
    }
    fw->len = body.len;
    fw->f = f;
    fw->api = api;
    fw->cb = cb;
    fw->arg = arg;
    fw->deadline_ms = now_ms() + timeout_ms;
    fw->next = f->forwards;
    if (f->forwards) {
        f->forwards->prev = fw;
    }
    f->forwards = fw;
    /* Send from the timer so that cb never runs inside this call. */
    struct timeval tv = {0, 0};
    evtimer_add(fw->retry_ev, &tv);
    return 0;
}

/* ---- controlled shutdown ---- */

static void shutdown_now_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_meta_follower *f = arg;
    void (*done)(void *) = f->shutdown_done;
    f->shutdown_done = NULL;
    if (done != NULL) {
        done(f->shutdown_arg);
    }
}

void st_meta_follower_shutdown(struct st_meta_follower *f,
                               void (*done)(void *arg), void *arg)
{
    f->shutting_down = true;
    f->shutdown_done = done;
    f->shutdown_arg = arg;
    if (!f->registered) {
        struct timeval tv = {0, 0};
        evtimer_add(f->shutdown_ev, &tv);
        return;
    }
    ST_INFO("broker", "node=%d asking the controller for a controlled "
            "shutdown", f->cfg.node_id);
    send_heartbeat(f); /* or the tick's next one, if one is in flight */
}

/* ---- lifetime and queries ---- */

int st_meta_follower_new(const struct st_meta_follower_config *cfg,
                         struct st_meta_follower **out)
{
    if (cfg->voters == NULL || cfg->voters->n == 0) {
        return ST_EINVAL;
    }
    struct st_meta_follower *f = st_calloc(1, sizeof *f);
    if (f == NULL) {
        return ST_ENOMEM;
    }
    f->cfg = *cfg;
    f->host = st_strdup(cfg->host);
    f->rack = st_strdup(cfg->rack ? cfg->rack : "");
    f->controller_id = -1;
    f->epoch = -1;
    f->ctl_hw = -1;
    st_buf_init(&f->pb);
    if (getrandom(f->incarnation, sizeof f->incarnation, 0) !=
        (ssize_t)sizeof f->incarnation) {
        for (size_t i = 0; i < sizeof f->incarnation; i++) {
            f->incarnation[i] = (uint8_t)(now_ms() * 2654435761u >> i);
        }
    }
    f->switch_ev = evtimer_new(cfg->base, switch_cb, f);
    f->tick_ev = event_new(cfg->base, -1, EV_PERSIST, tick_cb, f);
    f->fetch_ev = evtimer_new(cfg->base, fetch_timer_cb, f);
    f->shutdown_ev = evtimer_new(cfg->base, shutdown_now_cb, f);
    int rv = f->host && f->rack && f->switch_ev && f->tick_ev && f->fetch_ev &&
                     f->shutdown_ev
                 ? st_meta_new(&f->meta)
                 : ST_ENOMEM;
    if (rv != 0) {
        st_meta_follower_free(f);
        return rv;
    }
    char hex[33];
    for (size_t i = 0; i < 16; i++) {
        snprintf(hex + 2 * i, 3, "%02x", f->incarnation[i]);
    }
    ST_INFO("broker", "node=%d incarnation=%s", cfg->node_id, hex);
    uint64_t iv = cfg->heartbeat_interval_ms;
    struct timeval tv = {(time_t)(iv / 1000), (suseconds_t)(iv % 1000) * 1000};
    event_add(f->tick_ev, &tv);
    f->voter_idx = 0;
    switch_to(f, cfg->voters->v[0].host, cfg->voters->v[0].port, 0);
    *out = f;
    return 0;
}

void st_meta_follower_free(struct st_meta_follower *f)
{
    if (f == NULL) {
        return;
    }
    f->freeing = true;
    st_rpc_client_free(f->client);
    f->client = NULL;
    while (f->forwards != NULL) {
        forward_finish(f->forwards, ST_ECANCELED, NULL);
    }
    if (f->switch_ev) {
        event_free(f->switch_ev);
    }
    if (f->tick_ev) {
        event_free(f->tick_ev);
    }
    if (f->fetch_ev) {
        event_free(f->fetch_ev);
    }
    if (f->shutdown_ev) {
        event_free(f->shutdown_ev);
    }
    st_meta_free(f->meta);
    st_buf_close(&f->pb);
    st_free(f->host);
    st_free(f->rack);
    st_free(f);
}

const struct st_meta *st_meta_follower_meta(const struct st_meta_follower *f)
{
    return f->meta;
}

bool st_meta_follower_caught_up(const struct st_meta_follower *f)
{
    return f->caught_up;
}

bool st_meta_follower_fenced(const struct st_meta_follower *f,
                             uint64_t now)
{
    return !f->registered || f->ctl_fenced ||
           now - f->last_ok_sent_ms >= f->cfg.session_timeout_ms;
}

int64_t st_meta_follower_broker_epoch(const struct st_meta_follower *f)
{
    return f->epoch;
}

int32_t st_meta_follower_controller_id(const struct st_meta_follower *f)
{
    return f->controller_id;
}

const uint8_t *st_meta_follower_incarnation(const struct st_meta_follower *f)
{
    return f->incarnation;
}
