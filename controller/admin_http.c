/* The admin HTTP endpoint: /metrics and /health (see admin_http.h). */
#include "controller/admin_http.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/raft_driver.h"
#include "controller/service.h"

struct st_ctl_admin {
    struct evhttp *http;
    struct st_raft_driver *d;
    struct st_ctl_service *s;
};

static void metrics_cb(struct evhttp_request *req, void *arg)
{
    struct st_ctl_admin *a = arg;
    const struct raft *r = st_raft_driver_core(a->d);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL) {
        evhttp_send_error(req, 500, "no memory");
        return;
    }
    enum raft_role role = raft_role(r);
    fprintf(f, "# HELP strata_raft_term Current Raft term.\n"
            "# TYPE strata_raft_term gauge\nstrata_raft_term %" PRIu64 "\n",
            raft_current_term(r));
    fprintf(f, "# HELP strata_raft_role 1 for this voter's current role.\n"
            "# TYPE strata_raft_role gauge\n");
    for (int k = RAFT_FOLLOWER; k <= RAFT_LEADER; k++) {
        fprintf(f, "strata_raft_role{role=\"%s\"} %d\n",
                raft_role_name((enum raft_role)k), role == (enum raft_role)k);
    }
    fprintf(f, "# TYPE strata_raft_leader_id gauge\nstrata_raft_leader_id %"
            PRIu32 "\n", raft_leader(r));
    fprintf(f, "# TYPE strata_raft_commit_index gauge\n"
            "strata_raft_commit_index %" PRIu64 "\n", raft_commit_index(r));
    fprintf(f, "# TYPE strata_raft_last_index gauge\n"
            "strata_raft_last_index %" PRIu64 "\n", raft_last_index(r));
    fprintf(f, "# TYPE strata_raft_applied_index gauge\n"
            "strata_raft_applied_index %" PRIu64 "\n",
            st_raft_driver_applied(a->d));
    fprintf(f, "# TYPE strata_raft_snapshot_index gauge\n"
            "strata_raft_snapshot_index %" PRIu64 "\n",
            raft_snapshot(r).index);
    struct st_raft_driver_stats st;
    st_raft_driver_stats(a->d, &st);
    const struct {
        const char *name;
        uint64_t v;
    } counters[] = {
        {"strata_raft_storage_batches_total", st.batches},
        {"strata_raft_log_fsyncs_total", st.log_syncs},
        {"strata_raft_entries_written_total", st.entries_written},
        {"strata_raft_term_vote_saves_total", st.term_vote_saves},
        {"strata_raft_snapshots_saved_total", st.snapshots_saved},
        {"strata_raft_messages_sent_total", st.msgs_sent},
        {"strata_raft_messages_held_total", st.msgs_held},
        {"strata_raft_messages_dropped_total", st.msgs_dropped},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        fprintf(f, "# TYPE %s counter\n%s %" PRIu64 "\n", counters[i].name,
                counters[i].name, counters[i].v);
    }
    st_ctl_service_metrics(a->s, f);
    fclose(f);
    struct evbuffer *out = evbuffer_new();
    if (out != NULL) {
        evbuffer_add(out, text, len);
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Content-Type", "text/plain; version=0.0.4");
        evhttp_send_reply(req, 200, "OK", out);
        evbuffer_free(out);
    } else {
        evhttp_send_error(req, 500, "no memory");
    }
    free(text);
}

static void health_cb(struct evhttp_request *req, void *arg)
{
    struct st_ctl_admin *a = arg;
    raft_id leader = raft_leader(st_raft_driver_core(a->d));
    struct evbuffer *out = evbuffer_new();
    if (out == NULL) {
        evhttp_send_error(req, 500, "no memory");
        return;
    }
    if (leader != 0) {
        evbuffer_add_printf(out, "ok leader=%" PRIu32 "\n", leader);
        evhttp_send_reply(req, 200, "OK", out);
    } else {
        evbuffer_add_printf(out, "no quorum leader\n");
        evhttp_send_reply(req, 503, "Service Unavailable", out);
    }
    evbuffer_free(out);
}

int st_ctl_admin_new(struct event_base *base, const char *host, uint16_t port,
                     struct st_raft_driver *d, struct st_ctl_service *s,
                     struct st_ctl_admin **out)
{
    struct st_ctl_admin *a = st_calloc(1, sizeof *a);
    if (a == NULL || (a->http = evhttp_new(base)) == NULL) {
        st_free(a);
        return ST_ENOMEM;
    }
    a->d = d;
    a->s = s;
    if (evhttp_bind_socket(a->http, host, port) != 0) {
        evhttp_free(a->http);
        st_free(a);
        return ST_EIO;
    }
    evhttp_set_cb(a->http, "/metrics", metrics_cb, a);
    evhttp_set_cb(a->http, "/health", health_cb, a);
    *out = a;
    return 0;
}

void st_ctl_admin_free(struct st_ctl_admin *a)
{
    if (a == NULL) {
        return;
    }
    evhttp_free(a->http);
    st_free(a);
}
