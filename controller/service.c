/* The controller service core: proposals and the requests waiting for them,
 * leadership changes, applying committed records, broker session fencing
 * and metadata snapshots (see service.h). */
#include "controller/service.h"

#include <event2/event.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/diag.h"
#include "common/err.h"
#include "controller/decide_preferred.h"
#include "controller/service_int.h"

static uint64_t now_ms(void)
{
    return st_mono_ms(st_clock_real());
}

/* ---- replies ---- */

void svc_reply(struct st_rpc_reply *r, int32_t error, const char *text,
               const ProtobufCMessage *msg)
{
    uint8_t stackbuf[512];
    uint8_t *buf = stackbuf;
    size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    if (n > sizeof stackbuf) {
        buf = st_malloc(n);
        if (buf == NULL) {
            st_rpc_reply_send(r, STRATA__ERROR_CODE__UNKNOWN, "no memory",
                              (struct st_bytes){0}, (struct st_bytes){0});
            return;
        }
    }
    if (msg != NULL) {
        protobuf_c_message_pack(msg, buf);
    }
    st_rpc_reply_send(r, error, text, (struct st_bytes){buf, n},
                      (struct st_bytes){0});
    if (buf != stackbuf) {
        st_free(buf);
    }
}

bool svc_is_active(struct st_ctl_service *s)
{
    return s->driver != NULL && s->pending != NULL &&
           raft_role(st_raft_driver_core(s->driver)) == RAFT_LEADER;
}

void svc_controller_info(struct st_ctl_service *s,
                         Strata__Ctl__ControllerInfo *ci, char *host,
                         size_t cap)
{
    const struct raft *r = st_raft_driver_core(s->driver);
    raft_id leader = raft_leader(r);
    const struct st_raft_peer_addr *a =
        leader ? st_raft_driver_addr(s->driver, leader) : NULL;
    ci->leader_id = a ? (int32_t)leader : -1;
    snprintf(host, cap, "%s", a ? a->host : "");
    ci->host = host;
    ci->port = a ? a->port : 0;
    ci->term = raft_current_term(r);
}

/* Every response message of controller.proto has `ControllerInfo
 * controller = 1`, so a body holding only field 1 decodes as any of them. */
void svc_not_controller(struct st_ctl_service *s, struct st_rpc_reply *r)
{
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    char host[256];
    svc_controller_info(s, &ci, host, sizeof host);
    Strata__Ctl__DescribeQuorumResponse any =
        STRATA__CTL__DESCRIBE_QUORUM_RESPONSE__INIT;
    any.controller = &ci;
    char text[320];
    if (ci.leader_id >= 0) {
        snprintf(text, sizeof text, "not the active controller; leader is "
                 "%" PRId32 " at %s:%" PRIu32, ci.leader_id, ci.host,
                 ci.port);
    } else {
        snprintf(text, sizeof text, "not the active controller; no leader "
                 "known yet");
    }
    svc_reply(r, STRATA__ERROR_CODE__NOT_CONTROLLER, text, &any.base);
}

void svc_count(struct st_ctl_service *s, uint32_t api)
{
    if (api >= API_FIRST && api < API_FIRST + API_COUNT) {
        s->requests[api - API_FIRST]++;
    }
}

/* ---- heartbeat times (soft state of the active controller) ---- */

void svc_hb_touch(struct st_ctl_service *s, int32_t broker_id)
{
    for (size_t i = 0; i < s->n_hb; i++) {
        if (s->hb[i].broker_id == broker_id) {
            s->hb[i].last_ms = now_ms();
            return;
        }
    }
    if (s->n_hb == s->cap_hb) {
        size_t cap = s->cap_hb ? s->cap_hb * 2 : 16;
        struct st_meta_heartbeat_time *v = st_realloc(s->hb, cap * sizeof *v);
        if (v == NULL) {
            return; /* not tracked: never fenced by timeout */
        }
        s->hb = v;
        s->cap_hb = cap;
    }
    s->hb[s->n_hb++] =
        (struct st_meta_heartbeat_time){broker_id, now_ms()};
}

bool svc_hb_alive(struct st_ctl_service *s, int32_t broker_id)
{
    for (size_t i = 0; i < s->n_hb; i++) {
        if (s->hb[i].broker_id == broker_id) {
            return now_ms() - s->hb[i].last_ms < s->session_timeout_ms;
        }
    }
    return false;
}

/* ---- waiters ---- */

static void waiter_finish(struct st_ctl_service *s, struct waiter *w,
                          int error, const char *msg)
{
    w->done(s, w, error, msg);
    st_free(w->ctx);
    st_free(w);
}

static void waiters_fail_all(struct st_ctl_service *s)
{
    while (s->waiters != NULL) {
        struct waiter *w = s->waiters;
        s->waiters = w->next;
        if (w->reply != NULL) {
            svc_not_controller(s, w->reply);
            w->reply = NULL;
        }
        w->done(s, w, -1, NULL); /* reply already sent: only frees state */
        st_free(w->ctx);
        st_free(w);
    }
    s->waiters_tail = NULL;
}

static void waiters_complete(struct st_ctl_service *s, raft_index applied)
{
    while (s->waiters != NULL && s->waiters->index <= applied) {
        struct waiter *w = s->waiters;
        s->waiters = w->next;
        if (s->waiters == NULL) {
            s->waiters_tail = NULL;
        }
        waiter_finish(s, w, 0, NULL);
    }
}

static void drop_pending(struct st_ctl_service *s)
{
    st_meta_free(s->pending);
    s->pending = NULL;
}

static int pending_apply(struct st_ctl_service *s, raft_index first,
                         const struct st_meta_recs *recs)
{
    for (size_t i = 0; i < recs->n; i++) {
        int rv = st_meta_apply(s->pending, (int64_t)(first + i),
                               recs->v[i].base, recs->v[i].len);
        if (rv == ST_ENOMEM || rv == ST_ERANGE) {
            return rv;
        }
        if (rv != 0) {
            ST_WARN("controller", "node=%" PRIu32 " own record at %" PRIu64
                    " refused: %s", s->id, first + i, st_strerror(rv));
        }
    }
    return 0;
}


int svc_propose(struct st_ctl_service *s, const struct st_meta_recs *recs,
                raft_index *last)
{
    *last = 0;
    if (recs->n == 0) {
        return 0;
    }
    if (!svc_is_active(s)) {
        return ST_ENOTLEADER;
    }
    struct st_bytes *data = st_calloc(recs->n, sizeof *data);
    if (data == NULL) {
        return ST_ENOMEM;
    }
    for (size_t i = 0; i < recs->n; i++) {
        data[i] = (struct st_bytes){recs->v[i].base, recs->v[i].len};
    }
    raft_index first;
    raft_term term;
    int rv = st_raft_driver_propose(s->driver, data, (unsigned)recs->n,
                                    &first, &term);
    st_free(data);
    if (rv != 0) {
        return rv;
    }
    if (pending_apply(s, first, recs) != 0) {
        /* The pending state can no longer be trusted: refuse writes until
         * leadership is won again (the records themselves are proposed). */
        drop_pending(s);
    }
    *last = first + recs->n - 1;
    return 0;
}

void svc_wait(struct st_ctl_service *s, raft_index index,
              struct st_rpc_reply *reply, waiter_done_fn done, void *ctx)
{
    struct waiter *w = st_calloc(1, sizeof *w);
    if (w == NULL) {
        st_rpc_reply_send(reply, STRATA__ERROR_CODE__UNKNOWN, "no memory",
                          (struct st_bytes){0}, (struct st_bytes){0});
        st_free(ctx);
        return;
    }
    w->reply = reply;
    w->done = done;
    w->ctx = ctx;
    w->index = index;
    if (index <= st_raft_driver_applied(s->driver)) {
        waiter_finish(s, w, 0, NULL);
        return;
    }
    if (!svc_is_active(s)) {
        /* Leadership was lost while proposing: the waiters were failed. */
        svc_not_controller(s, reply);
        w->reply = NULL;
        waiter_finish(s, w, -1, NULL);
        return;
    }
    if (s->waiters_tail != NULL) {
        s->waiters_tail->next = w;
    } else {
        s->waiters = w;
    }
    s->waiters_tail = w;
}

void svc_propose_and_wait(struct st_ctl_service *s, struct st_meta_recs *recs,
                          struct st_rpc_reply *reply, waiter_done_fn done,
                          void *ctx)
{
    raft_index last;
    int rv = svc_propose(s, recs, &last);
    if (rv == ST_ENOTLEADER) {
        svc_not_controller(s, reply);
        st_free(ctx);
        return;
    }
    if (rv != 0) {
        struct waiter w = {.reply = reply, .done = done, .ctx = ctx};
        done(s, &w, STRATA__ERROR_CODE__UNKNOWN, st_strerror(rv));
        st_free(ctx);
        return;
    }
    svc_wait(s, last, reply, done, ctx);
}

/* ---- leadership ---- */

static int build_pending(struct st_ctl_service *s)
{
    const struct raft *r = st_raft_driver_core(s->driver);
    struct st_meta *m;
    int rv = st_meta_new(&m);
    if (rv != 0) {
        return rv;
    }
    st_buf_reset(&s->snap_buf);
    rv = st_meta_snapshot_write(s->applied, &s->snap_buf);
    if (rv == 0) {
        rv = st_meta_snapshot_load(m, s->snap_buf.base, s->snap_buf.len);
    }
    raft_index last = raft_last_index(r);
    for (raft_index i = st_raft_driver_applied(s->driver) + 1;
         rv == 0 && i <= last; i++) {
        const struct raft_entry *e = raft_entry_at(r, i);
        if (e == NULL) {
            rv = ST_ERANGE;
        } else if (e->type == RAFT_ENTRY_COMMAND) {
            int arv = st_meta_apply(m, (int64_t)i, e->data.base, e->data.len);
            rv = (arv == ST_ENOMEM || arv == ST_ERANGE) ? arv : 0;
        }
    }
    if (rv != 0) {
        st_meta_free(m);
        return rv;
    }
    /* A fresh snapshot count for the applied state: snapshot_write above
     * restarted it, which only delays the next snapshot. */
    s->pending = m;
    return 0;
}

/* Propose @recs that no request waits for (leader elections, fencing). */
/* Propose @recs that no request waits for (leader elections, fencing). */
static void propose_unanswered(struct st_ctl_service *s,
                               const struct st_meta_recs *recs)
{
    raft_index last;
    int rv = svc_propose(s, recs, &last);
    if (rv != 0) {
        ST_WARN("controller", "node=%" PRIu32 " could not propose %zu "
                "records: %s", s->id, recs->n, st_strerror(rv));
    }
}

static void became_leader(struct st_ctl_service *s)
{
    const struct raft *r = st_raft_driver_core(s->driver);
    int rv = build_pending(s);
    if (rv != 0) {
        ST_ERROR("controller", "node=%" PRIu32 " cannot build the pending "
                 "state: %s; handing leadership over", s->id,
                 st_strerror(rv));
        st_raft_driver_transfer(s->driver);
        return;
    }
    s->pending_term = raft_current_term(r);
    /* Heartbeat times are soft state: every broker gets one session of
     * grace from now (Kafka's BrokerHeartbeatManager does the same). */
    s->n_hb = 0;
    for (size_t i = 0; i < st_meta_broker_count(s->pending); i++) {
        svc_hb_touch(s, st_meta_broker_at(s->pending, i)->id);
    }
    ST_INFO("controller", "node=%" PRIu32 " term=%" PRIu64 " active "
            "controller brokers=%zu topics=%zu", s->id, s->pending_term,
            st_meta_broker_count(s->pending),
            st_meta_topic_count(s->pending));
    struct st_meta_recs recs;
    st_meta_recs_init(&recs);
    rv = st_meta_decide_elect_leaders(s->pending, &recs);
    if (rv == 0 && recs.n > 0) {
        propose_unanswered(s, &recs);
    }
    st_meta_recs_close(&recs);
}

void st_ctl_service_role_changed(void *arg)
{
    struct st_ctl_service *s = arg;
    const struct raft *r = st_raft_driver_core(s->driver);
    bool leader = raft_role(r) == RAFT_LEADER;
    if (s->pending != NULL &&
        (!leader || raft_current_term(r) != s->pending_term)) {
        drop_pending(s);
        waiters_fail_all(s);
        svc_pollers_wake(s, true);
        ST_INFO("controller", "node=%" PRIu32 " no longer active", s->id);
    }
    if (leader && s->pending == NULL) {
        became_leader(s);
    }
}

/* ---- applying ---- */

static void maybe_snapshot(struct st_ctl_service *s, raft_index index)
{
    if (!st_meta_snapshot_due(s->applied, s->snapshot_max_records)) {
        return;
    }
    st_buf_reset(&s->snap_buf);
    int rv = st_meta_snapshot_write(s->applied, &s->snap_buf);
    if (rv == 0) {
        rv = st_raft_driver_snapshot(s->driver, index,
                                     (struct st_bytes){s->snap_buf.base,
                                                       s->snap_buf.len});
    }
    if (rv != 0) {
        ST_WARN("controller", "node=%" PRIu32 " snapshot at %" PRIu64
                " failed: %s", s->id, index, st_strerror(rv));
        return;
    }
    s->snapshots_taken++;
}

void st_ctl_service_apply(void *arg, const struct raft_entry *e)
{
    struct st_ctl_service *s = arg;
    if (e->type == RAFT_ENTRY_COMMAND) {
        int rv = st_meta_apply(s->applied, (int64_t)e->index, e->data.base,
                               e->data.len);
        if (rv == ST_ENOMEM) {
            ST_ERROR("controller", "node=%" PRIu32 " out of memory applying "
                     "%" PRIu64, s->id, e->index);
            _exit(1); /* a restart re-applies from the durable log */
        }
        if (rv != 0) {
            ST_DEBUG("controller", "node=%" PRIu32 " record %" PRIu64
                     " refused: %s", s->id, e->index, st_strerror(rv));
        }
        maybe_snapshot(s, e->index);
    }
    waiters_complete(s, e->index);
    event_active(s->wake_ev, EV_READ, 0);
}

int st_ctl_service_restore(void *arg, raft_index index, struct st_bytes data)
{
    struct st_ctl_service *s = arg;
    int rv = st_meta_snapshot_load(s->applied, data.base, data.len);
    if (rv != 0) {
        ST_ERROR("controller", "node=%" PRIu32 " snapshot at %" PRIu64
                 " does not load: %s", s->id, index, st_strerror(rv));
        return rv;
    }
    ST_INFO("controller", "node=%" PRIu32 " restored snapshot index=%" PRIu64
            " topics=%zu", s->id, index, st_meta_topic_count(s->applied));
    return 0;
}

/* ---- fencing ---- */

static void fence_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_ctl_service *s = arg;
    (void)fd;
    (void)what;
    if (!svc_is_active(s)) {
        return;
    }
    struct st_meta_recs recs;
    st_meta_recs_init(&recs);
    int rv = st_meta_decide_session_timeouts(s->pending, now_ms(),
                                             s->session_timeout_ms, s->hb,
                                             s->n_hb, &recs);
    if (rv == 0 && recs.n > 0) {
        ST_INFO("controller", "node=%" PRIu32 " fencing: %zu records for "
                "expired broker sessions", s->id, recs.n);
        propose_unanswered(s, &recs);
    }
    size_t fenced = recs.n;
    st_meta_recs_close(&recs);
    /* Preferred leaders, every two session timeouts, and only while no
     * fencing is being proposed above. */
    if (rv == 0 && fenced == 0 && s->auto_leader_rebalance &&
        now_ms() >= s->rebalance_at_ms) {
        s->rebalance_at_ms = now_ms() + 2 * s->session_timeout_ms;
        st_meta_recs_init(&recs);
        rv = st_meta_decide_preferred_leaders(s->pending, 16, &recs);
        if (rv == 0 && recs.n > 0) {
            ST_INFO("controller", "node=%" PRIu32 " preferred leaders: "
                    "moving %zu partition(s) back", s->id, recs.n);
            propose_unanswered(s, &recs);
        }
        st_meta_recs_close(&recs);
    }
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    svc_pollers_wake(arg, false);
}

/* ---- life cycle ---- */

int st_ctl_service_new(const struct st_ctl_service_config *cfg,
                       struct st_ctl_service **out)
{
    struct st_ctl_service *s = st_calloc(1, sizeof *s);
    if (s == NULL) {
        return ST_ENOMEM;
    }
    s->base = cfg->base;
    s->server = cfg->server;
    s->id = cfg->id;
    snprintf(s->cluster_id, sizeof s->cluster_id, "%s", cfg->cluster_id);
    s->session_timeout_ms = cfg->session_timeout_ms;
    s->auto_leader_rebalance = cfg->auto_leader_rebalance;
    s->heartbeat_interval_ms = cfg->heartbeat_interval_ms;
    s->snapshot_max_records = cfg->snapshot_max_records;
    s->rng = now_ms() ^ ((uint64_t)getpid() << 20) ^ cfg->id;
    st_buf_init(&s->snap_buf);
    int rv = st_meta_new(&s->applied);
    s->fence_timer = event_new(cfg->base, -1, EV_PERSIST, fence_cb, s);
    s->wake_ev = event_new(cfg->base, -1, 0, wake_cb, s);
    if (rv == 0 && (s->fence_timer == NULL || s->wake_ev == NULL)) {
        rv = ST_ENOMEM;
    }
    if (rv == 0) {
        rv = svc_admin_register(s);
    }
    if (rv == 0) {
        rv = svc_broker_register(s);
    }
    if (rv != 0) {
        st_ctl_service_free(s);
        return rv;
    }
    *out = s;
    return 0;
}

void st_ctl_service_attach(struct st_ctl_service *s,
                           struct st_raft_driver *d)
{
    s->driver = d;
    uint64_t period = s->session_timeout_ms / 8;
    period = period < 50 ? 50 : period > 1000 ? 1000 : period;
    struct timeval tv = {(time_t)(period / 1000),
                         (suseconds_t)((period % 1000) * 1000)};
    event_add(s->fence_timer, &tv);
}

void st_ctl_service_free(struct st_ctl_service *s)
{
    if (s == NULL) {
        return;
    }
    if (s->driver != NULL) {
        waiters_fail_all(s);
        svc_pollers_wake(s, true);
    }
    if (s->fence_timer != NULL) {
        event_free(s->fence_timer);
    }
    if (s->wake_ev != NULL) {
        event_free(s->wake_ev);
    }
    st_meta_free(s->pending);
    st_meta_free(s->applied);
    st_free(s->hb);
    st_buf_close(&s->snap_buf);
    st_free(s);
}

void st_ctl_service_metrics(const struct st_ctl_service *s, FILE *out)
{
    static const char *names[API_COUNT] = {
        "describe_quorum", "create_topics", "delete_topics",
        "describe_topics", "list_topics", "alter_configs",
        "describe_configs", NULL, NULL, NULL, "broker_registration",
        "broker_heartbeat", "fetch_metadata", "alter_partition",
        "allocate_producer_ids", "create_partitions"};
    fprintf(out, "# HELP strata_controller_requests_total Controller "
            "requests received, by API.\n"
            "# TYPE strata_controller_requests_total counter\n");
    for (size_t i = 0; i < API_COUNT; i++) {
        if (names[i] != NULL) {
            fprintf(out, "strata_controller_requests_total{api=\"%s\"} %"
                    PRIu64 "\n", names[i], s->requests[i]);
        }
    }
    fprintf(out, "# TYPE strata_controller_metadata_applied_offset gauge\n"
            "strata_controller_metadata_applied_offset %" PRId64 "\n",
            st_meta_last_offset(s->applied));
    fprintf(out, "# TYPE strata_controller_brokers gauge\n"
            "strata_controller_brokers %zu\n",
            st_meta_broker_count(s->applied));
    fprintf(out, "# TYPE strata_controller_topics gauge\n"
            "strata_controller_topics %zu\n",
            st_meta_topic_count(s->applied));
    fprintf(out, "# TYPE strata_controller_snapshots_total counter\n"
            "strata_controller_snapshots_total %" PRIu64 "\n",
            s->snapshots_taken);
    fprintf(out, "# TYPE strata_controller_active gauge\n"
            "strata_controller_active %d\n", s->pending != NULL);
}
