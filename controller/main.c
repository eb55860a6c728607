/* strata-controller: one voter of the controller quorum.
 *
 *   strata-controller format --config FILE --cluster-id ID
 *   strata-controller --config FILE [--set key=value ...] [--print-config]
 *
 * Exit codes: 0 clean stop (SIGTERM/SIGINT), 1 runtime failure (storage,
 * bind), 2 bad usage or configuration (one line on stderr names it).
 * A clean stop on the leader first hands leadership to the most
 * up-to-date voter (bounded wait), then flushes the Raft log.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/jobq.h"
#include "common/rpc_server.h"
#include "common/tls.h"
#include "controller/admin_http.h"
#include "controller/controller_config.h"
#include "controller/raft_driver.h"
#include "controller/service.h"

#define ARGS_MAX 64

struct args {
    bool format;
    bool print_config;
    const char *config;
    const char *cluster_id;
    char *sets[ARGS_MAX];
    size_t n_sets;
};

struct proc {
    struct event_base *base;
    struct st_conf *conf;
    struct st_raft_driver *driver;
    struct st_ctl_service *svc;
    struct event *sig_term, *sig_int, *stop_timer;
    uint64_t stop_deadline_ms;
    int exit_code;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: strata-controller format --config FILE --cluster-id ID\n"
            "       strata-controller --config FILE [--set key=value ...] "
            "[--print-config]\n"
            "keys (see deploy/controller.properties):\n");
    for (const struct st_conf_key *k = st_ctl_config_schema; k->name; k++) {
        fprintf(out, "  %-34s %s%s%s\n", k->name, k->doc,
                k->def ? "; default " : " (required)", k->def ? k->def : "");
    }
}

static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    int i = 1;
    if (i < argc && strcmp(argv[i], "format") == 0) {
        a->format = true;
        i++;
    }
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            a->config = argv[++i];
        } else if (strcmp(argv[i], "--cluster-id") == 0 && i + 1 < argc &&
                   a->format) {
            a->cluster_id = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc &&
                   a->n_sets < ARGS_MAX) {
            a->sets[a->n_sets++] = argv[++i];
        } else if (strcmp(argv[i], "--print-config") == 0) {
            a->print_config = true;
        } else if (strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "strata-controller: unexpected argument '%s'\n",
                    argv[i]);
            return ST_EINVAL;
        }
    }
    if (a->config == NULL || (a->format && a->cluster_id == NULL)) {
        fprintf(stderr, "strata-controller: %s is required (try --help)\n",
                a->config == NULL ? "--config FILE" : "--cluster-id ID");
        return ST_EINVAL;
    }
    return 0;
}

/* ---- stopping ---- */

static void stop_poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proc *p = arg;
    (void)fd;
    (void)what;
    const struct raft *r = st_raft_driver_core(p->driver);
    bool handed_over = raft_role(r) != RAFT_LEADER;
    if (handed_over || st_mono_ms(st_clock_real()) >= p->stop_deadline_ms) {
        ST_INFO("controller", "stopping: leadership %s",
                handed_over ? "handed over" : "not handed over in time");
        event_base_loopbreak(p->base);
        return;
    }
    struct timeval tv = {0, 10000};
    evtimer_add(p->stop_timer, &tv);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct proc *p = arg;
    (void)what;
    if (p->stop_deadline_ms != 0) {
        return; /* already stopping */
    }
    ST_INFO("controller", "signal %d: stopping", (int)sig);
    uint64_t t = st_conf_ms(p->conf, "controller.election.timeout.ms");
    p->stop_deadline_ms = st_mono_ms(st_clock_real()) + 2 * t + 200;
    if (st_raft_driver_transfer(p->driver) != 0) {
        event_base_loopbreak(p->base);
        return;
    }
    struct timeval tv = {0, 0};
    evtimer_add(p->stop_timer, &tv);
}

static void fatal_cb(void *arg, int rv, const char *what)
{
    struct proc *p = arg;
    ST_ERROR("controller", "stopping after a storage failure: %s: %s", what,
             st_strerror(rv));
    p->exit_code = 1;
    event_base_loopbreak(p->base);
}

/* Driver callbacks forward to the service (created before the driver). */
static void apply_cb(void *arg, const struct raft_entry *e)
{
    st_ctl_service_apply(((struct proc *)arg)->svc, e);
}
static int restore_cb(void *arg, raft_index index, struct st_bytes data)
{
    return st_ctl_service_restore(((struct proc *)arg)->svc, index, data);
}
static void role_cb(void *arg)
{
    struct proc *p = arg;
    if (p->driver != NULL) {
        st_ctl_service_role_changed(p->svc);
    }
}

/* ---- running ---- */

static void dump_key(void *arg, const char *key, const char *value,
                     const char *origin)
{
    (void)arg;
    ST_INFO("config", "%s=%s (%s)", key, value, origin);
}

static int make_tls(const struct st_conf *c, struct st_tls_ctx **srv,
                    struct st_tls_ctx **cli, char *err, size_t cap)
{
    struct st_tls_files files = {st_conf_str(c, "tls.ca.file"),
                                 st_conf_str(c, "tls.cert.file"),
                                 st_conf_str(c, "tls.key.file")};
    int rv = st_tls_ctx_new(ST_TLS_SERVER, &files, true, srv, err, cap);
    if (rv == 0) {
        rv = st_tls_ctx_new(ST_TLS_CLIENT, &files, false, cli, err, cap);
    }
    return rv;
}

static int run(struct proc *p, const char *cluster_id)
{
    const struct st_conf *c = p->conf;
    char err[1024];
    int32_t id = (int32_t)st_conf_int(c, "node.id");
    struct st_tls_ctx *tls_srv = NULL, *tls_cli = NULL;
    struct st_rpc_server *srv = NULL;
    struct st_ctl_admin *admin = NULL;
    int code = 2;
    st_conf_dump(c, dump_key, NULL);
    if (make_tls(c, &tls_srv, &tls_cli, err, sizeof err) != 0) {
        fprintf(stderr, "strata-controller: %s\n", err);
        goto out;
    }
    code = 1;
    const struct st_endpoint *l = &st_conf_endpoints(c, "listeners")->v[0];
    struct st_rpc_server_config sc = {0};
    sc.host = l->host;
    sc.port = l->port;
    sc.tls = tls_srv;
    sc.frame_bytes_max = st_conf_size(c, "max.frame.bytes");
    int rv = st_rpc_server_new(p->base, &sc, &srv);
    if (rv != 0) {
        fprintf(stderr, "strata-controller: listeners %s:%u: %s\n", l->host,
                l->port, st_strerror(rv));
        goto out;
    }
    struct st_ctl_service_config svc_cfg = {0};
    svc_cfg.base = p->base;
    svc_cfg.server = srv;
    svc_cfg.id = (raft_id)id;
    svc_cfg.cluster_id = cluster_id;
    svc_cfg.session_timeout_ms = st_conf_ms(c, "broker.session.timeout.ms");
    svc_cfg.auto_leader_rebalance =
        st_conf_bool(c, "auto.leader.rebalance.enable");
    svc_cfg.heartbeat_interval_ms =
        st_conf_ms(c, "broker.heartbeat.interval.ms");
    svc_cfg.snapshot_max_records =
        st_conf_int(c, "metadata.snapshot.max.records");
    if ((rv = st_ctl_service_new(&svc_cfg, &p->svc)) != 0) {
        fprintf(stderr, "strata-controller: service: %s\n", st_strerror(rv));
        goto out;
    }
    const struct st_endpoints *v =
        st_conf_endpoints(c, "controller.quorum.voters");
    struct st_raft_peer_addr voters[RAFT_VOTERS_MAX];
    for (size_t i = 0; i < v->n; i++) {
        voters[i].id = (raft_id)v->v[i].id;
        snprintf(voters[i].host, sizeof voters[i].host, "%s", v->v[i].host);
        voters[i].port = v->v[i].port;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/raft", st_conf_str(c, "data.dir"));
    struct st_raft_driver_config dc = {0};
    dc.base = p->base;
    dc.server = srv;
    dc.client_tls = tls_cli;
    dc.id = (raft_id)id;
    dc.voters = voters;
    dc.n_voters = (unsigned)v->n;
    dc.dir = dir;
    dc.cluster_id = cluster_id;
    dc.election_timeout_ms = st_conf_ms(c, "controller.election.timeout.ms");
    dc.heartbeat_ms = st_conf_ms(c, "controller.heartbeat.interval.ms");
    dc.frame_bytes_max = sc.frame_bytes_max;
    dc.cbs = (struct st_raft_driver_cbs){apply_cb, restore_cb, role_cb,
                                         fatal_cb, p};
    rv = st_raft_driver_new(&dc, &p->driver, err, sizeof err);
    if (rv != 0) {
        fprintf(stderr, "strata-controller: %s\n", err);
        goto out;
    }
    st_ctl_service_attach(p->svc, p->driver);
    st_ctl_service_role_changed(p->svc);
    const struct st_endpoints *adm = st_conf_endpoints(c, "admin.listener");
    if (adm->n == 1 &&
        st_ctl_admin_new(p->base, adm->v[0].host, adm->v[0].port, p->driver,
                         p->svc, &admin) != 0) {
        fprintf(stderr, "strata-controller: admin.listener %s:%u: cannot "
                "listen\n", adm->v[0].host, adm->v[0].port);
        goto out;
    }
    p->sig_term = evsignal_new(p->base, SIGTERM, signal_cb, p);
    p->sig_int = evsignal_new(p->base, SIGINT, signal_cb, p);
    p->stop_timer = evtimer_new(p->base, stop_poll_cb, p);
    evsignal_add(p->sig_term, NULL);
    evsignal_add(p->sig_int, NULL);
    ST_INFO("controller", "node=%" PRId32 " cluster=%s listening on %s:%u "
            "voters=%zu", id, cluster_id, l->host, st_rpc_server_port(srv),
            v->n);
    p->exit_code = 0;
    event_base_dispatch(p->base);
    code = p->exit_code;
out:
    st_ctl_admin_free(admin);
    if (p->svc != NULL) {
        st_ctl_service_free(p->svc); /* answers every waiting request */
    }
    st_raft_driver_close(p->driver);  /* flushes the Raft log */
    st_rpc_server_free(srv);
    if (p->sig_term != NULL) {
        event_free(p->sig_term);
        event_free(p->sig_int);
        event_free(p->stop_timer);
    }
    st_tls_ctx_free(tls_srv);
    st_tls_ctx_free(tls_cli);
    if (code == 0) {
        ST_INFO("controller", "node=%" PRId32 " stopped cleanly", id);
    }
    return code;
}

int main(int argc, char **argv)
{
    struct args a;
    if (parse_args(argc, argv, &a) != 0) {
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char err[1024];
    struct proc p = {0};
    if (st_ctl_config_load(a.config, a.sets, a.n_sets, &p.conf, err,
                           sizeof err) != 0) {
        fprintf(stderr, "strata-controller: %s\n", err);
        return 2;
    }
    if (a.print_config) {
        st_conf_print(p.conf, stdout); /* effective values, with origins */
        st_conf_free(p.conf);
        return 0;
    }
    int32_t id = (int32_t)st_conf_int(p.conf, "node.id");
    const char *dir = st_conf_str(p.conf, "data.dir");
    if (a.format) {
        int rv = st_ctl_format(dir, a.cluster_id, id, err, sizeof err);
        if (rv != 0) {
            fprintf(stderr, "strata-controller: %s\n", err);
        } else {
            printf("formatted %s for cluster %s node %" PRId32 "\n", dir,
                   a.cluster_id, id);
        }
        st_conf_free(p.conf);
        return rv == 0 ? 0 : 2;
    }
    enum st_level level = ST_LEVEL_INFO;
    st_diag_parse_level(st_conf_str(p.conf, "log.level"), &level);
    st_diag_set_level(level);
    char name[32];
    snprintf(name, sizeof name, "controller-%" PRId32, id);
    st_diag_set_process(name);
    const char *log_file = st_conf_str(p.conf, "log.file");
    if (log_file[0] != '\0' && st_diag_open_file(log_file) != 0) {
        fprintf(stderr, "strata-controller: log.file: cannot open '%s'\n",
                log_file);
        st_conf_free(p.conf);
        return 2;
    }
    struct st_ctl_stamp stamp;
    if (st_ctl_stamp_read(dir, id, st_conf_str(p.conf, "cluster.id"), &stamp,
                          err, sizeof err) != 0) {
        fprintf(stderr, "strata-controller: %s\n", err);
        st_conf_free(p.conf);
        return 2;
    }
    if (st_jobq_threads_init() != 0 || (p.base = event_base_new()) == NULL) {
        fprintf(stderr, "strata-controller: cannot create the event loop\n");
        st_conf_free(p.conf);
        return 1;
    }
    int code = run(&p, stamp.cluster_id);
    event_base_free(p.base);
    st_conf_free(p.conf);
    return code;
}
