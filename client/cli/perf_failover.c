/* strata perf controller-failover [--trials N]: failover time of the
 * controller quorum, measured on a 3-voter quorum this tool starts itself
 * on 127.0.0.1 in a temporary directory (certificates from
 * deploy/gen-certs.sh, default settings otherwise).
 *
 * One trial: find the leader; kill -9 it (t0); keep sending a small write
 * (AlterConfigs of the cluster's retention.ms) to both survivors every
 * 20 ms; the first one answered as committed ends the trial (t1). The
 * killed voter is restarted and the tool waits until it follows the new
 * leader before the next trial. Prints each trial, then median and max of
 * t1 - t0. Every process it started is stopped at the end (SIGTERM, then
 * SIGKILL), also on failure.
 */
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/cli/cli.h"
#include "client/cli/ctl_rpc.h"
#include "common/rpc_client.h"
#include "controller.pb-c.h"

#ifndef STRATA_SOURCE_ROOT
#define STRATA_SOURCE_ROOT "."
#endif

#define VOTERS 3
#define TRIALS_MAX 1000

struct fo;
struct voter {
    struct fo *f;
    int id;
    uint16_t port;
    pid_t pid;
    struct st_rpc_client *client;
    bool busy;
};

struct fo {
    char dir[PATH_MAX];
    char bin[PATH_MAX];
    struct voter v[VOTERS];
    struct cli_ctl *ctl;
    int64_t write_value;
    bool write_ok;
    int leader_seen;
};

static int sh(const char *cmd)
{
    int rv = system(cmd);
    return WIFEXITED(rv) ? WEXITSTATUS(rv) : -1;
}

static pid_t spawn(struct fo *f, struct voter *v)
{
    char conf[PATH_MAX + 32], log[PATH_MAX + 32];
    snprintf(conf, sizeof conf, "%s/c%d.properties", f->dir, v->id);
    snprintf(log, sizeof log, "%s/c%d.log", f->dir, v->id);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(f->bin, f->bin, "--config", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* A port the kernel considers free on 127.0.0.1 now (bound to 0, read
 * back, released). */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static int setup(struct fo *f, const char *gen_certs)
{
    char cmd[PATH_MAX * 3];
    snprintf(cmd, sizeof cmd, "bash '%s' '%s/certs' c1 c2 c3 >/dev/null",
             gen_certs, f->dir);
    if (sh(cmd) != 0) {
        fprintf(stderr, "strata: perf: %s failed\n", gen_certs);
        return -1;
    }
    char voters[256] = "";
    for (int i = 0; i < VOTERS; i++) {
        f->v[i].id = i + 1;
        f->v[i].port = free_port();
        if (f->v[i].port == 0) {
            fprintf(stderr, "strata: perf: no free port\n");
            return -1;
        }
        char one[64];
        snprintf(one, sizeof one, "%s%d@127.0.0.1:%u", i ? "," : "", i + 1,
                 f->v[i].port);
        strcat(voters, one);
    }
    for (int i = 0; i < VOTERS; i++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/c%d.properties", f->dir, i + 1);
        FILE *out = fopen(path, "w");
        if (out == NULL) {
            return -1;
        }
        fprintf(out, "node.id=%d\ncontroller.quorum.voters=%s\n"
                "listeners=127.0.0.1:%u\ndata.dir=%s/d%d\n"
                "tls.ca.file=%s/certs/ca.pem\n"
                "tls.cert.file=%s/certs/c%d.pem\n"
                "tls.key.file=%s/certs/c%d.key\n",
                i + 1, voters, f->v[i].port, f->dir, i + 1, f->dir, f->dir,
                i + 1, f->dir, i + 1);
        fclose(out);
        snprintf(cmd, sizeof cmd, "'%s' format --config '%s' --cluster-id "
                 "perf-failover >/dev/null", f->bin, path);
        if (sh(cmd) != 0) {
            fprintf(stderr, "strata: perf: format failed: %s\n", cmd);
            return -1;
        }
        f->v[i].pid = spawn(f, &f->v[i]);
    }
    return 0;
}

static void stop_all(struct fo *f)
{
    for (int i = 0; i < VOTERS; i++) {
        if (f->v[i].pid > 0) {
            kill(f->v[i].pid, SIGTERM);
        }
    }
    for (int i = 0; i < VOTERS; i++) {
        if (f->v[i].pid <= 0) {
            continue;
        }
        for (int k = 0; k < 300; k++) {
            if (waitpid(f->v[i].pid, NULL, WNOHANG) == f->v[i].pid) {
                f->v[i].pid = 0;
                break;
            }
            usleep(10000);
        }
        if (f->v[i].pid > 0) {
            kill(f->v[i].pid, SIGKILL);
            waitpid(f->v[i].pid, NULL, 0);
            f->v[i].pid = 0;
        }
    }
}

/* Interrupted (Ctrl-C): stop exactly the voters we started, then exit. */
static struct fo *running_fo;

static void on_interrupt(int sig)
{
    for (int i = 0; running_fo != NULL && i < VOTERS; i++) {
        if (running_fo->v[i].pid > 0) {
            kill(running_fo->v[i].pid, SIGKILL);
        }
    }
    _exit(128 + sig);
}

/* ---- asynchronous probes ---- */

static void write_cb(void *arg, int status, const struct st_rpc_response *r)
{
    struct voter *v = arg;
    v->busy = false;
    if (status != 0 || r->error != 0) {
        return;
    }
    Strata__Ctl__AlterConfigsResponse *m =
        strata__ctl__alter_configs_response__unpack(NULL, r->body.len,
                                                    r->body.base);
    if (m != NULL && (m->error == NULL || m->error->error == 0)) {
        v->f->write_ok = true;
        v->f->leader_seen = v->id;
    }
    if (m != NULL) {
        strata__ctl__alter_configs_response__free_unpacked(m, NULL);
    }
}

static void send_write(struct fo *f, struct voter *v)
{
    char value[32];
    snprintf(value, sizeof value, "%" PRId64, 86400000 + f->write_value++);
    Strata__Ctl__ConfigAlteration a = STRATA__CTL__CONFIG_ALTERATION__INIT;
    a.key = "retention.ms";
    a.value = value;
    Strata__Ctl__ConfigAlteration *ap = &a;
    Strata__Ctl__AlterConfigsRequest req =
        STRATA__CTL__ALTER_CONFIGS_REQUEST__INIT;
    req.resource = STRATA__CTL__RESOURCE_TYPE__RESOURCE_CLUSTER;
    req.name = "";
    req.configs = &ap;
    req.n_configs = 1;
    uint8_t buf[256];
    size_t n = strata__ctl__alter_configs_request__pack(&req, buf);
    struct st_rpc_call call = {0};
    call.api = STRATA__CTL__API__ALTER_CONFIGS;
    call.body = (struct st_bytes){buf, n};
    call.timeout_ms = 1000;
    if (st_rpc_client_send(v->client, &call, write_cb, v, NULL) == 0) {
        v->busy = true;
    }
}

static void run_for_ms(struct fo *f, uint32_t ms)
{
    struct event_base *b = cli_ctl_base(f->ctl);
    struct timeval tv = {0, (suseconds_t)ms * 1000};
    event_base_loopexit(b, &tv);
    event_base_dispatch(b);
}

/* Write to every live voter (skip @dead) until one commits; returns the
 * id of the voter that answered, or -1 after @limit_ms. */
static int write_until_ok(struct fo *f, int dead, uint64_t limit_ms)
{
    uint64_t deadline = cli_now_ms() + limit_ms;
    f->write_ok = false;
    while (!f->write_ok && cli_now_ms() < deadline) {
        for (int i = 0; i < VOTERS; i++) {
            if (f->v[i].id != dead && !f->v[i].busy) {
                send_write(f, &f->v[i]);
            }
        }
        run_for_ms(f, 20);
    }
    return f->write_ok ? f->leader_seen : -1;
}

struct caught {
    bool done;
    bool ok;
    int32_t leader;
    int64_t lag_of;
    int target;
};

static void describe_cb(void *arg, int status, const struct st_rpc_response *r)
{
    struct caught *c = arg;
    c->done = true;
    if (status != 0 || r->error != 0) {
        return;
    }
    Strata__Ctl__DescribeQuorumResponse *m =
        strata__ctl__describe_quorum_response__unpack(NULL, r->body.len,
                                                      r->body.base);
    if (m == NULL) {
        return;
    }
    c->leader = m->controller ? m->controller->leader_id : -1;
    for (size_t i = 0; i < m->n_voters; i++) {
        if (m->voters[i]->id == c->target) {
            c->lag_of = m->voters[i]->lag;
        }
    }
    c->ok = true;
    strata__ctl__describe_quorum_response__free_unpacked(m, NULL);
}

/* Wait until the leader @leader reports voter @target with lag 0. */
static bool wait_caught_up(struct fo *f, int leader, int target,
                           uint64_t limit_ms)
{
    uint64_t deadline = cli_now_ms() + limit_ms;
    struct voter *v = &f->v[leader - 1];
    while (cli_now_ms() < deadline) {
        struct caught c = {.lag_of = -1, .target = target};
        Strata__Ctl__DescribeQuorumRequest req =
            STRATA__CTL__DESCRIBE_QUORUM_REQUEST__INIT;
        uint8_t buf[16];
        size_t n = strata__ctl__describe_quorum_request__pack(&req, buf);
        struct st_rpc_call call = {0};
        call.api = STRATA__CTL__API__DESCRIBE_QUORUM;
        call.body = (struct st_bytes){buf, n};
        call.timeout_ms = 1000;
        if (st_rpc_client_send(v->client, &call, describe_cb, &c, NULL) != 0) {
            return false;
        }
        while (!c.done) {
            event_base_loop(cli_ctl_base(f->ctl), EVLOOP_ONCE);
        }
        if (c.ok && c.leader == leader && c.lag_of == 0) {
            return true;
        }
        run_for_ms(f, 50);
    }
    return false;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void default_bin(const struct cli_opts *o, char *out, size_t cap)
{
    const char *env = getenv("STRATA_CONTROLLER_BIN");
    if (env != NULL) {
        snprintf(out, cap, "%s", env);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        /* build tree: <build>/client/cli/strata -> <build>/controller/ */
        snprintf(out, cap, "%s/../../controller/strata-controller",
                 dirname(self));
        if (access(out, X_OK) == 0) {
            return;
        }
    }
    (void)o;
    snprintf(out, cap, "strata-controller");
}

int perf_failover(const struct cli_opts *o, int argc, char **argv)
{
    static struct fo f;
    int trials = 20;
    const char *gen_certs = STRATA_SOURCE_ROOT "/deploy/gen-certs.sh";
    const char *dir = NULL;
    bool keep = false;
    default_bin(o, f.bin, sizeof f.bin);
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--keep") == 0) {
            keep = true;
        } else if (v && strcmp(argv[i], "--trials") == 0) {
            trials = atoi(v);
            i++;
        } else if (v && strcmp(argv[i], "--controller-bin") == 0) {
            snprintf(f.bin, sizeof f.bin, "%s", v);
            i++;
        } else if (v && strcmp(argv[i], "--gen-certs") == 0) {
            gen_certs = v;
            i++;
        } else if (v && strcmp(argv[i], "--dir") == 0) {
            dir = v;
            i++;
        } else {
            fprintf(stderr, "strata: perf controller-failover: bad argument "
                    "'%s'\n", argv[i]);
            return 2;
        }
    }
    if (trials < 1 || trials > TRIALS_MAX) {
        fprintf(stderr, "strata: --trials 1..%d\n", TRIALS_MAX);
        return 2;
    }
    if (dir != NULL) {
        snprintf(f.dir, sizeof f.dir, "%s", dir);
        mkdir(f.dir, 0755);
    } else {
        snprintf(f.dir, sizeof f.dir, "/tmp/strata-failover-XXXXXX");
        if (mkdtemp(f.dir) == NULL) {
            perror("strata: mkdtemp");
            return 1;
        }
    }
    int code = 1;
    uint64_t times[TRIALS_MAX];
    running_fo = &f;
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    int done = 0;
    if (setup(&f, gen_certs) != 0) {
        goto out;
    }
    char ca[PATH_MAX + 32], cert[PATH_MAX + 32], key[PATH_MAX + 32],
        boot[64];
    snprintf(ca, sizeof ca, "%s/certs/ca.pem", f.dir);
    snprintf(cert, sizeof cert, "%s/certs/client.pem", f.dir);
    snprintf(key, sizeof key, "%s/certs/client.key", f.dir);
    snprintf(boot, sizeof boot, "127.0.0.1:%u", f.v[0].port);
    struct cli_opts co = *o;
    co.bootstrap_controller = boot;
    co.ca_file = ca;
    co.cert_file = cert;
    co.key_file = key;
    char err[1024];
    if (cli_ctl_open(&co, &f.ctl, err, sizeof err) != 0) {
        fprintf(stderr, "strata: %s\n", err);
        goto out;
    }
    for (int i = 0; i < VOTERS; i++) {
        f.v[i].f = &f;
        f.v[i].client = cli_ctl_client(f.ctl, "127.0.0.1", f.v[i].port);
    }
    printf("quorum of %d voters in %s (%s)\n", VOTERS, f.dir, f.bin);
    for (int t = 0; t < trials; t++) {
        int leader = write_until_ok(&f, -1, 20000);
        if (leader < 0) {
            fprintf(stderr, "strata: perf: no leader before trial %d\n",
                    t + 1);
            goto out;
        }
        struct voter *lv = &f.v[leader - 1];
        uint64_t t0 = cli_now_ms();
        kill(lv->pid, SIGKILL);
        waitpid(lv->pid, NULL, 0);
        lv->pid = 0;
        int next = write_until_ok(&f, leader, 30000);
        uint64_t t1 = cli_now_ms();
        if (next < 0) {
            fprintf(stderr, "strata: perf: no new leader in trial %d\n",
                    t + 1);
            goto out;
        }
        times[done++] = t1 - t0;
        printf("trial %2d: killed leader %d, voter %d committed after %"
               PRIu64 " ms\n", t + 1, leader, next, t1 - t0);
        fflush(stdout);
        /* Bring the killed voter back with a fresh client connection. */
        st_rpc_client_free(lv->client);
        lv->busy = false;
        lv->pid = spawn(&f, lv);
        lv->client = cli_ctl_client(f.ctl, "127.0.0.1", lv->port);
        if (!wait_caught_up(&f, next, leader, 20000)) {
            fprintf(stderr, "strata: perf: voter %d did not catch up\n",
                    leader);
            goto out;
        }
    }
    qsort(times, (size_t)done, sizeof times[0], cmp_u64);
    uint64_t median = done % 2 ? times[done / 2]
                               : (times[done / 2 - 1] + times[done / 2]) / 2;
    if (o->json) {
        printf("{\"trials\":%d,\"median_ms\":%" PRIu64 ",\"max_ms\":%" PRIu64
               ",\"min_ms\":%" PRIu64 "}\n", done, median, times[done - 1],
               times[0]);
    } else {
        printf("failover over %d trials: median %" PRIu64 " ms, max %" PRIu64
               " ms, min %" PRIu64 " ms\n", done, median, times[done - 1],
               times[0]);
    }
    code = 0;
out:
    for (int i = 0; i < VOTERS; i++) {
        st_rpc_client_free(f.v[i].client);
        f.v[i].client = NULL;
    }
    cli_ctl_close(f.ctl);
    stop_all(&f);
    if (!keep && code == 0) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f.dir);
        sh(cmd);
    } else {
        printf("left %s for inspection\n", f.dir);
    }
    return code;
}
