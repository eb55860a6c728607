/* strata cluster status | health: the cluster as the brokers see it (the
 * active controller, brokers and their state, partition counts) plus the
 * controller voters and their lag, which brokers forward from the active
 * controller (DescribeQuorum), so no controller address is needed. When
 * bootstrap.controllers (or --bootstrap-controller) names the voters, they
 * are asked directly instead (an override for when brokers are down).
 *
 * Health is one verdict with its reasons: unhealthy when no broker
 * answers, no controller is active, a broker is fenced, a partition has no
 * leader (offline) or fewer in-sync replicas than replicas
 * (under-replicated), or a known voter lags by more than VOTER_LAG_MAX.
 * --allow-under-replicated makes the last a warning (scripts that wait
 * for a cluster to serve, before follower replication has caught up). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/cli/client.h"
#include "client/cli/ctl_rpc.h"

#define VOTER_LAG_MAX 1000
#define REASONS_MAX 16
#define VOTERS_MAX 16

/* The quorum from either source (brokers or the voters themselves). */
struct voter_view {
    int32_t id;
    char host[256];
    uint32_t port;
    int64_t log_end_offset, lag; /* -1: unknown */
};

struct quorum_view {
    int32_t leader_id;
    char answered_role[32];
    size_t n;
    struct voter_view v[VOTERS_MAX];
};

struct snapshot {
    strata_metadata_t *cluster; /* brokers, controller */
    strata_metadata_t *topics;
    int partitions, under_replicated, offline;
    struct quorum_view *quorum; /* NULL: failed */
    char quorum_err[512];
    char reasons[REASONS_MAX][256];
    int n_reasons;
    bool allow_urp;
    char warning[256];
};

static void reason(struct snapshot *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reason(struct snapshot *s, const char *fmt, ...)
{
    if (s->n_reasons >= REASONS_MAX) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->reasons[s->n_reasons++], sizeof s->reasons[0], fmt, ap);
    va_end(ap);
}

static void snapshot_free(struct snapshot *s)
{
    strata_metadata_destroy(s->cluster);
    strata_metadata_destroy(s->topics);
    free(s->quorum);
    memset(s, 0, sizeof *s);
}

static void count_partitions(struct snapshot *s)
{
    for (int t = 0; t < s->topics->topic_cnt; t++) {
        const strata_topic_info_t *ti = &s->topics->topics[t];
        for (int p = 0; p < ti->partition_cnt; p++) {
            const strata_partition_info_t *pi = &ti->partitions[p];
            s->partitions++;
            if (pi->leader < 0) {
                s->offline++;
            } else if (pi->isr_cnt < pi->replica_cnt) {
                s->under_replicated++;
            }
        }
    }
}

static void judge(struct snapshot *s)
{
    if (s->cluster->controller_id < 0) {
        reason(s, "no active controller");
    }
    if (s->cluster->broker_cnt == 0) {
        reason(s, "no broker registered");
    }
    for (int i = 0; i < s->cluster->broker_cnt; i++) {
        if (s->cluster->brokers[i].fenced) {
            reason(s, "broker %" PRId32 " fenced", s->cluster->brokers[i].id);
        }
    }
    if (s->offline > 0) {
        reason(s, "%d offline partitions (no leader)", s->offline);
    }
    if (s->under_replicated > 0 && s->allow_urp) {
        snprintf(s->warning, sizeof s->warning,
                 "%d under-replicated partitions", s->under_replicated);
    } else if (s->under_replicated > 0) {
        reason(s, "%d under-replicated partitions", s->under_replicated);
    }
    if (s->quorum_err[0] != '\0') {
        reason(s, "controller quorum: %s", s->quorum_err);
    }
    for (size_t i = 0; s->quorum != NULL && i < s->quorum->n; i++) {
        const struct voter_view *v = &s->quorum->v[i];
        if (v->lag < 0 || v->lag > VOTER_LAG_MAX) {
            reason(s, "voter %" PRId32 " lags (%s)", v->id,
                   v->lag < 0 ? "log end unknown" : "behind");
        }
    }
}

static void voter_set(struct voter_view *v, int32_t id, const char *host,
                      uint32_t port, int64_t log_end_offset, int64_t lag)
{
    v->id = id;
    snprintf(v->host, sizeof v->host, "%s", host ? host : "");
    v->port = port;
    v->log_end_offset = log_end_offset;
    v->lag = lag;
}

/* The quorum through a broker (the default) or, with
 * bootstrap.controllers, from the voters. -1 with @err on failure. */
static int quorum_take(struct cli_opts *o, strata_t *rk,
                       struct quorum_view **out, char *err, size_t cap)
{
    struct quorum_view *q = calloc(1, sizeof *q);
    if (q == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    if (o->bootstrap_controller != NULL) {
        Strata__Ctl__DescribeQuorumResponse *r;
        if (cli_quorum_fetch(o, &r, err, cap) != 0) {
            free(q);
            return -1;
        }
        q->leader_id = r->controller ? r->controller->leader_id : -1;
        snprintf(q->answered_role, sizeof q->answered_role, "%s", r->role);
        for (size_t i = 0; i < r->n_voters && q->n < VOTERS_MAX; i++) {
            const Strata__Ctl__VoterState *v = r->voters[i];
            voter_set(&q->v[q->n++], v->id, v->host, v->port,
                      v->log_end_offset, v->lag);
        }
        protobuf_c_message_free_unpacked(&r->base, NULL);
    } else {
        strata_quorum_info_t *r;
        if (strata_admin_describe_quorum(rk, &r, cli_timeout_ms(o), err,
                                         cap) != 0) {
            free(q);
            return -1;
        }
        q->leader_id = r->leader_id;
        snprintf(q->answered_role, sizeof q->answered_role, "%s",
                 r->answered_role);
        for (int i = 0; i < r->voter_cnt && q->n < VOTERS_MAX; i++) {
            const strata_voter_info_t *v = &r->voters[i];
            voter_set(&q->v[q->n++], v->id, v->host, (uint32_t)v->port,
                      v->log_end_offset, v->lag);
        }
        strata_quorum_info_destroy(r);
    }
    *out = q;
    return 0;
}

/* Fill @s; -1 with @err when the brokers could not be asked. */
static int snapshot_take(struct cli_opts *o, struct snapshot *s, char *err,
                         size_t cap)
{
    bool allow_urp = s->allow_urp;
    memset(s, 0, sizeof *s);
    s->allow_urp = allow_urp;
    strata_t *rk = cli_client_open(o, STRATA_ADMIN, NULL, NULL, NULL, err, cap);
    if (rk == NULL) {
        return -1;
    }
    int tmo = cli_timeout_ms(o);
    char why[512];
    strata_resp_err_t e =
        strata_admin_describe_cluster(rk, &s->cluster, tmo, why, sizeof why);
    if (e == 0) {
        e = strata_admin_describe_topics(rk, NULL, 0, &s->topics, tmo, why,
                                         sizeof why);
    }
    if (e == 0 && quorum_take(o, rk, &s->quorum, s->quorum_err,
                              sizeof s->quorum_err) != 0) {
        s->quorum = NULL;
    }
    strata_destroy(rk);
    if (e != 0) {
        snprintf(err, cap, "%s", why);
        snapshot_free(s);
        return -1;
    }
    count_partitions(s);
    judge(s);
    return 0;
}

static const char *leader_host(const struct snapshot *s, int32_t id,
                               char *buf, size_t cap)
{
    for (size_t i = 0; s->quorum != NULL && i < s->quorum->n; i++) {
        const struct voter_view *v = &s->quorum->v[i];
        if (v->id == id) {
            snprintf(buf, cap, " (%s:%" PRIu32 ")", v->host, v->port);
            return buf;
        }
    }
    return "";
}

static void status_human(const struct snapshot *s)
{
    char buf[300];
    const strata_metadata_t *c = s->cluster;
    printf("cluster %s\n", c->cluster_id ? c->cluster_id : "?");
    if (c->controller_id >= 0) {
        printf("active controller: %" PRId32 "%s\n", c->controller_id,
               leader_host(s, c->controller_id, buf, sizeof buf));
    } else {
        printf("active controller: none\n");
    }
    if (s->quorum != NULL) {
        printf("\n%-6s %-22s %-8s %10s %6s\n", "VOTER", "ADDRESS", "ROLE",
               "LOG-END", "LAG");
        int32_t lid = s->quorum->leader_id;
        for (size_t i = 0; i < s->quorum->n; i++) {
            const struct voter_view *v = &s->quorum->v[i];
            char addr[300], end[32], lag[32];
            snprintf(addr, sizeof addr, "%s:%" PRIu32, v->host, v->port);
            snprintf(end, sizeof end, "%" PRId64, v->log_end_offset);
            snprintf(lag, sizeof lag, "%" PRId64, v->lag);
            printf("%-6" PRId32 " %-22s %-8s %10s %6s\n", v->id, addr,
                   v->id == lid ? "leader" : "follower",
                   v->log_end_offset < 0 ? "?" : end, v->lag < 0 ? "?" : lag);
        }
    } else {
        printf("voters: %s\n", s->quorum_err);
    }
    printf("\n%-6s %-22s %-8s %s\n", "BROKER", "ADDRESS", "STATE", "RACK");
    for (int i = 0; i < c->broker_cnt; i++) {
        const strata_broker_info_t *b = &c->brokers[i];
        char addr[300];
        snprintf(addr, sizeof addr, "%s:%d", b->host ? b->host : "?",
                 b->port);
        printf("%-6" PRId32 " %-22s %-8s %s\n", b->id, addr,
               b->fenced ? "fenced" : "active",
               b->rack && b->rack[0] ? b->rack : "-");
    }
    printf("\ntopics %d  partitions %d  under-replicated %d  offline %d\n",
           s->topics->topic_cnt, s->partitions, s->under_replicated,
           s->offline);
}

static void reasons_json(const struct snapshot *s)
{
    printf("\"healthy\":%s,\"reasons\":[", s->n_reasons ? "false" : "true");
    for (int i = 0; i < s->n_reasons; i++) {
        printf("%s", i ? "," : "");
        cli_json_str(stdout, s->reasons[i]);
    }
    printf("]");
}

static void status_json(const struct snapshot *s)
{
    const strata_metadata_t *c = s->cluster;
    printf("{\"cluster_id\":");
    cli_json_str(stdout, c->cluster_id ? c->cluster_id : "");
    printf(",\"controller_id\":%" PRId32 ",\"voters\":", c->controller_id);
    if (s->quorum == NULL) {
        printf("null");
    } else {
        int32_t lid = s->quorum->leader_id;
        printf("[");
        for (size_t i = 0; i < s->quorum->n; i++) {
            const struct voter_view *v = &s->quorum->v[i];
            printf("%s{\"id\":%" PRId32 ",\"host\":", i ? "," : "", v->id);
            cli_json_str(stdout, v->host);
            printf(",\"port\":%" PRIu32 ",\"leader\":%s,\"log_end_offset\":%"
                   PRId64 ",\"lag\":%" PRId64 "}", v->port,
                   v->id == lid ? "true" : "false", v->log_end_offset,
                   v->lag);
        }
        printf("]");
    }
    printf(",\"brokers\":[");
    for (int i = 0; i < c->broker_cnt; i++) {
        const strata_broker_info_t *b = &c->brokers[i];
        printf("%s{\"id\":%" PRId32 ",\"host\":", i ? "," : "", b->id);
        cli_json_str(stdout, b->host ? b->host : "");
        printf(",\"port\":%d,\"rack\":", b->port);
        cli_json_str(stdout, b->rack ? b->rack : "");
        printf(",\"state\":\"%s\"}", b->fenced ? "fenced" : "active");
    }
    printf("],\"topics\":%d,\"partitions\":%d,"
           "\"under_replicated_partitions\":%d,\"offline_partitions\":%d,",
           s->topics->topic_cnt, s->partitions, s->under_replicated,
           s->offline);
    reasons_json(s);
    printf("}\n");
}

static int cluster_status(struct cli_opts *o)
{
    char err[1024];
    struct snapshot s = {0};
    if (snapshot_take(o, &s, err, sizeof err) != 0) {
        return cli_fail("cluster status", "%s", err);
    }
    if (o->json) {
        status_json(&s);
    } else {
        status_human(&s);
    }
    snapshot_free(&s);
    return 0;
}

/* One verdict; returns 0 healthy, 1 not. */
static int health_once(struct cli_opts *o, bool print, bool allow_urp)
{
    char err[1024];
    struct snapshot s = {.allow_urp = allow_urp};
    int healthy;
    if (snapshot_take(o, &s, err, sizeof err) != 0) {
        reason(&s, "%s", err);
    }
    healthy = s.n_reasons == 0;
    if (print && o->json) {
        printf("{");
        reasons_json(&s);
        printf(",\"warning\":");
        cli_json_str(stdout, s.warning);
        printf("}\n");
    } else if (print) {
        char line[REASONS_MAX * 260] = "";
        for (int i = 0; i < s.n_reasons; i++) {
            strncat(line, i ? "; " : "", sizeof line - strlen(line) - 1);
            strncat(line, s.reasons[i], sizeof line - strlen(line) - 1);
        }
        if (healthy) {
            printf("healthy: %d brokers active, controller %" PRId32
                   ", %d partitions %s%s\n",
                   s.cluster->broker_cnt, s.cluster->controller_id,
                   s.partitions,
                   s.warning[0] ? "with leaders; warning: " : "all in sync",
                   s.warning);
        } else {
            printf("unhealthy: %s\n", line);
        }
    }
    fflush(stdout);
    snapshot_free(&s);
    return healthy ? 0 : 1;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int cluster_health(struct cli_opts *o, int argc, char **argv)
{
    bool watch = false, until_healthy = false, allow_urp = false;
    long interval_ms = 1000, max_wait_ms = 60000;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--watch") == 0) {
            watch = true;
        } else if (strcmp(argv[i], "--allow-under-replicated") == 0) {
            allow_urp = true;
        } else if (strcmp(argv[i], "--exit-when-healthy") == 0) {
            until_healthy = true;
        } else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc) {
            interval_ms = atol(argv[++i]);
        } else if (strcmp(argv[i], "--max-wait-ms") == 0 && i + 1 < argc) {
            max_wait_ms = atol(argv[++i]);
        } else {
            cli_fail("cluster health", "unknown option '%s'", argv[i]);
            return 2;
        }
    }
    if (interval_ms <= 0 || max_wait_ms <= 0) {
        cli_fail("cluster health", "--interval-ms and --max-wait-ms must be "
                 "positive");
        return 2;
    }
    if (!watch && !until_healthy) {
        return health_once(o, true, allow_urp);
    }
    /* --exit-when-healthy: quiet polls until healthy or --max-wait-ms;
     * --watch alone: a verdict every interval until interrupted. */
    uint64_t deadline = mono_ms() + (uint64_t)max_wait_ms;
    struct cli_opts po = *o;
    for (;;) {
        uint64_t now = mono_ms();
        if (until_healthy) {
            uint64_t left = deadline > now ? deadline - now : 1;
            uint64_t per_call = (uint64_t)cli_timeout_ms(o);
            po.timeout_ms = (uint32_t)(left < per_call ? left : per_call);
        }
        bool last = until_healthy && mono_ms() + (uint64_t)interval_ms >=
                                         deadline;
        int rv = health_once(&po, watch || last, allow_urp);
        if (rv == 0 && until_healthy) {
            if (!watch) {
                health_once(&po, true, allow_urp);
            }
            return 0;
        }
        if (last) {
            return 1;
        }
        usleep((useconds_t)interval_ms * 1000);
    }
}

int cmd_cluster(struct cli_opts *o, int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "status") == 0) {
        if (argc > 1) {
            cli_fail("cluster status", "unknown option '%s'", argv[1]);
            return 2;
        }
        return cluster_status(o);
    }
    if (argc >= 1 && strcmp(argv[0], "health") == 0) {
        return cluster_health(o, argc - 1, argv + 1);
    }
    cli_fail("usage", "strata cluster status | health [--watch] "
             "[--exit-when-healthy] [--max-wait-ms N] [--interval-ms N] "
             "[--allow-under-replicated]");
    return 2;
}
