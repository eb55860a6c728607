/* Echo round trips per second and MB/s over mutual TLS on loopback.
 *
 *   bench_transport [CERT_DIR]
 *
 * The server runs its own libevent loop on a second thread; the client
 * keeps WINDOW requests in flight on the main thread for about 3 s per
 * case. MB/s counts payload bytes echoed back (one direction). Certificates
 * come from CERT_DIR (ca.pem, localhost.pem/.key, client.pem/.key), else
 * deploy/gen-certs.sh makes them in a temporary directory. Build it without
 * sanitizers for figures worth quoting:
 *   meson setup build-rel -Dbuildtype=release -Dsanitize=false
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/diag.h"
#include "common/rpc_client.h"
#include "common/rpc_server.h"
#include "common/tls.h"
#include "echo.pb-c.h"

#define RUN_NS 3000000000ull

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void echo_handler(void *arg, const struct st_rpc_request *req,
                         struct st_rpc_reply *reply)
{
    st_rpc_reply_send(reply, 0, NULL, req->body, req->payload);
}

static void *server_main(void *arg)
{
    event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static struct {
    struct event_base *base;
    struct st_rpc_client *cli;
    uint8_t *payload;
    size_t size;
    unsigned window;
    unsigned inflight;
    uint64_t done;
    uint64_t failed;
    uint64_t start_ns;
    bool stopping;
} b;

static void send_more(void);

static void done_cb(void *arg, int status, const struct st_rpc_response *r)
{
    b.inflight--;
    if (status != 0 || r->error != 0 || r->payload.len != b.size) {
        b.failed++;
    } else {
        b.done++;
    }
    if (!b.stopping && now_ns() - b.start_ns >= RUN_NS) {
        b.stopping = true;
    }
    if (b.stopping) {
        if (b.inflight == 0) {
            event_base_loopbreak(b.base);
        }
        return;
    }
    send_more();
}

static void send_more(void)
{
    while (b.inflight < b.window) {
        struct st_rpc_call call = {
            .api = STRATA__ECHO__API__ECHO,
            .version = 1,
            .payload = {b.payload, b.size},
            .timeout_ms = 30000,
        };
        if (st_rpc_client_send(b.cli, &call, done_cb, NULL, NULL) != 0) {
            fprintf(stderr, "send failed\n");
            exit(1);
        }
        b.inflight++;
    }
}

static void state_cb(void *arg, int status, const char *text)
{
    if (status == 0) {
        event_base_loopbreak(b.base); /* connected */
    } else {
        fprintf(stderr, "bench: connection failed: %s\n", text);
        exit(1);
    }
}

static void run_case(size_t size, unsigned window)
{
    b.size = size;
    b.window = window;
    b.done = b.failed = 0;
    b.stopping = false;
    b.start_ns = now_ns();
    send_more();
    event_base_dispatch(b.base);
    double secs = (double)(now_ns() - b.start_ns) / 1e9;
    printf("echo %6zu B x %4u in flight: %9.0f round trips/s  %8.1f MB/s"
           "  (%" PRIu64 " in %.2f s, %" PRIu64 " failed)\n",
           size, window, (double)b.done / secs,
           (double)b.done * (double)size / secs / 1e6, b.done, secs,
           b.failed);
}

static struct st_tls_ctx *make_ctx(enum st_tls_role role, const char *dir,
                                   const char *name)
{
    char ca[600], cert[600], key[600], err[ST_TLS_ERR_BYTES];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/%s.pem", dir, name);
    snprintf(key, sizeof key, "%s/%s.key", dir, name);
    struct st_tls_files files = {ca, cert, key};
    struct st_tls_ctx *ctx = NULL;
    if (st_tls_ctx_new(role, &files, true, &ctx, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    return ctx;
}

int main(int argc, char **argv)
{
    char dir[512];
    if (argc > 1) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    } else {
        snprintf(dir, sizeof dir, "/tmp/strata-bench-XXXXXX");
        char cmd[1200];
        if (mkdtemp(dir) == NULL) {
            perror("mkdtemp");
            return 1;
        }
        snprintf(cmd, sizeof cmd,
                 "'%s/deploy/gen-certs.sh' '%s' localhost >/dev/null",
                 STRATA_SOURCE_ROOT, dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "bench: gen-certs.sh failed\n");
            return 1;
        }
    }
    st_diag_set_level(ST_LEVEL_WARN);
    evthread_use_pthreads();
    struct st_tls_ctx *srv_tls = make_ctx(ST_TLS_SERVER, dir, "localhost");
    struct st_tls_ctx *cli_tls = make_ctx(ST_TLS_CLIENT, dir, "client");

    struct event_base *srv_base = event_base_new();
    struct st_rpc_server_config scfg = {.host = "127.0.0.1", .tls = srv_tls};
    struct st_rpc_server *srv = NULL;
    if (st_rpc_server_new(srv_base, &scfg, &srv) != 0 ||
        st_rpc_server_register(srv, STRATA__ECHO__API__ECHO, 0, 1, 0,
                               echo_handler, NULL) != 0) {
        return 1;
    }
    pthread_t thread;
    pthread_create(&thread, NULL, server_main, srv_base);

    b.base = event_base_new();
    b.payload = calloc(1, 1 << 20);
    struct st_rpc_client_config ccfg = {
        .host = "127.0.0.1",
        .port = st_rpc_server_port(srv),
        .tls = cli_tls,
        .on_state = state_cb,
    };
    if (st_rpc_client_new(b.base, &ccfg, &b.cli) != 0) {
        return 1;
    }
    event_base_dispatch(b.base); /* until connected */
    run_case(100, 1);
    run_case(100, 256);
    run_case(64 * 1024, 1);
    run_case(64 * 1024, 32);

    st_rpc_client_free(b.cli);
    event_base_free(b.base);
    event_base_loopbreak(srv_base);
    pthread_join(thread, NULL);
    st_rpc_server_free(srv);
    event_base_free(srv_base);
    st_tls_ctx_free(cli_tls);
    st_tls_ctx_free(srv_tls);
    free(b.payload);
    return 0;
}
