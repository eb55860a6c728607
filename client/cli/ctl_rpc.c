/* Controller RPC plumbing for the CLI (see ctl_rpc.h). */
#include "client/cli/ctl_rpc.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jobq.h"
#include "common/rpc_client.h"
#include "common/tls.h"
#include "controller.pb-c.h"
#include "errors.pb-c.h"

#define CALL_TIMEOUT_MS 2000
#define RETRY_DELAY_MS 50

#define BOOT_MAX 16

struct cli_ctl {
    struct event_base *base;
    struct st_tls_ctx *tls;
    char boot_host[BOOT_MAX][256]; /* --bootstrap-controller list */
    uint16_t boot_port[BOOT_MAX];
    unsigned n_boot, next_boot;
    char host[256];          /* where calls go now */
    uint16_t port;
    struct st_rpc_client *client;
    uint32_t timeout_ms;
    bool conn_failed; /* the current client's connection attempt failed */
};

uint64_t cli_now_ms(void)
{
    return st_mono_ms(st_clock_real());
}

int cli_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= cap || colon == s) {
        return -1;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535) {
        return -1;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *port = (uint16_t)p;
    return 0;
}

static const char *pick(const char *opt, const char *env, const char *def)
{
    if (opt != NULL) {
        return opt;
    }
    const char *e = getenv(env);
    return e ? e : def;
}

int cli_ctl_open(const struct cli_opts *o, struct cli_ctl **out, char *err,
                 size_t cap)
{
    if (o->bootstrap_controller == NULL) {
        snprintf(err, cap, "--bootstrap-controller HOST:PORT is required");
        return -1;
    }
    struct cli_ctl *c = st_calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    char list[4096];
    snprintf(list, sizeof list, "%s", o->bootstrap_controller);
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (c->n_boot == BOOT_MAX ||
            cli_parse_hostport(tok, c->boot_host[c->n_boot],
                               sizeof c->boot_host[0],
                               &c->boot_port[c->n_boot]) != 0) {
            snprintf(err, cap, "--bootstrap-controller '%s': expected "
                     "HOST:PORT[,HOST:PORT...]", o->bootstrap_controller);
            st_free(c);
            return -1;
        }
        c->n_boot++;
    }
    if (c->n_boot == 0) {
        snprintf(err, cap, "--bootstrap-controller: empty");
        st_free(c);
        return -1;
    }
    struct st_tls_files files = {
        pick(o->ca_file, "STRATA_TLS_CA", "ca.pem"),
        pick(o->cert_file, "STRATA_TLS_CERT", "client.pem"),
        pick(o->key_file, "STRATA_TLS_KEY", "client.key")};
    st_jobq_threads_init();
    c->base = event_base_new();
    if (c->base == NULL ||
        st_tls_ctx_new(ST_TLS_CLIENT, &files, false, &c->tls, err, cap) != 0) {
        cli_ctl_close(c);
        return -1;
    }
    snprintf(c->host, sizeof c->host, "%s", c->boot_host[0]);
    c->port = c->boot_port[0];
    c->next_boot = 1 % c->n_boot;
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : 15000;
    *out = c;
    return 0;
}

void cli_ctl_close(struct cli_ctl *c)
{
    if (c == NULL) {
        return;
    }
    st_rpc_client_free(c->client);
    st_tls_ctx_free(c->tls);
    if (c->base != NULL) {
        event_base_free(c->base);
    }
    st_free(c);
}

struct event_base *cli_ctl_base(struct cli_ctl *c)
{
    return c->base;
}

struct st_tls_ctx *cli_ctl_tls(struct cli_ctl *c)
{
    return c->tls;
}

static void conn_state_cb(void *arg, int status, const char *text)
{
    struct cli_ctl *c = arg;
    (void)text;
    if (status < 0) {
        c->conn_failed = true;
    }
}

/* The client used by cli_ctl_call: like cli_ctl_client, plus connection
 * failures reported so that a dead voter is left at once instead of
 * waiting for the request timeout. */
static struct st_rpc_client *call_client(struct cli_ctl *c)
{
    struct st_rpc_client_config cc = {0};
    cc.host = c->host;
    cc.port = c->port;
    cc.tls = c->tls;
    cc.connect_timeout_ms = 1000;
    cc.backoff_initial_ms = 20;
    cc.backoff_max_ms = 200;
    cc.on_state = conn_state_cb;
    cc.state_arg = c;
    struct st_rpc_client *cl = NULL;
    st_rpc_client_new(c->base, &cc, &cl);
    return cl;
}

struct st_rpc_client *cli_ctl_client(struct cli_ctl *c, const char *host,
                                     uint16_t port)
{
    struct st_rpc_client_config cc = {0};
    cc.host = host;
    cc.port = port;
    cc.tls = c->tls;
    cc.connect_timeout_ms = 1000;
    cc.backoff_initial_ms = 20;
    cc.backoff_max_ms = 200;
    struct st_rpc_client *cl = NULL;
    st_rpc_client_new(c->base, &cc, &cl);
    return cl;
}

void cli_ctl_current(const struct cli_ctl *c, char *host, size_t cap,
                     uint16_t *port)
{
    snprintf(host, cap, "%s", c->host);
    *port = c->port;
}

struct pending {
    bool done;
    int status;
    int32_t error;
    char text[512];
    uint8_t *body;
    size_t len;
};

static void call_cb(void *arg, int status, const struct st_rpc_response *r)
{
    struct pending *p = arg;
    p->done = true;
    p->status = status;
    if (r != NULL) {
        p->error = r->error;
        snprintf(p->text, sizeof p->text, "%s", r->error_message);
        p->body = st_malloc(r->body.len ? r->body.len : 1);
        if (p->body != NULL) {
            memcpy(p->body, r->body.base, r->body.len);
            p->len = r->body.len;
        }
    }
}

static void wait_ms(struct cli_ctl *c, uint32_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000),
                         (suseconds_t)((ms % 1000) * 1000)};
    event_base_loopexit(c->base, &tv);
    event_base_dispatch(c->base);
}

static void move_to(struct cli_ctl *c, const char *host, uint16_t port)
{
    if (strcmp(host, c->host) == 0 && port == c->port && c->client) {
        return;
    }
    st_rpc_client_free(c->client);
    c->client = NULL;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
}

int cli_ctl_call(struct cli_ctl *c, uint32_t api, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *rd,
                 ProtobufCMessage **resp, int32_t *error, char *err,
                 size_t cap)
{
    size_t n = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = st_malloc(n ? n : 1);
    if (buf == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    protobuf_c_message_pack(req, buf);
    uint64_t deadline = cli_now_ms() + c->timeout_ms;
    int rv = -1;
    snprintf(err, cap, "no answer within %u ms", c->timeout_ms);
    while (cli_now_ms() < deadline) {
        if (c->client == NULL) {
            c->client = call_client(c);
        }
        c->conn_failed = false;
        struct pending p = {0};
        struct st_rpc_call call = {0};
        call.api = api;
        call.body = (struct st_bytes){buf, n};
        call.timeout_ms = CALL_TIMEOUT_MS;
        if (c->client == NULL ||
            st_rpc_client_send(c->client, &call, call_cb, &p, NULL) != 0) {
            snprintf(err, cap, "cannot send to %s:%u", c->host, c->port);
            break;
        }
        while (!p.done && !c->conn_failed) {
            event_base_loop(c->base, EVLOOP_ONCE);
        }
        if (!p.done) {
            /* Connection refused or lost: cancel (the callback runs). */
            snprintf(err, cap, "%s:%u: %s", c->host, c->port,
                     st_rpc_client_last_error(c->client));
            st_rpc_client_free(c->client);
            c->client = NULL;
            st_free(p.body);
            move_to(c, c->boot_host[c->next_boot],
                    c->boot_port[c->next_boot]);
            c->next_boot = (c->next_boot + 1) % c->n_boot;
            wait_ms(c, RETRY_DELAY_MS);
            continue;
        }
        if (p.status != 0) {
            snprintf(err, cap, "%s:%u: %s %s", c->host, c->port,
                     st_strerror(p.status),
                     st_rpc_client_last_error(c->client));
            /* Transport failure: try the next bootstrap voter. */
            move_to(c, c->boot_host[c->next_boot],
                    c->boot_port[c->next_boot]);
            c->next_boot = (c->next_boot + 1) % c->n_boot;
            wait_ms(c, RETRY_DELAY_MS);
            continue;
        }
        if (p.error == STRATA__ERROR_CODE__NOT_CONTROLLER) {
            Strata__Ctl__DescribeQuorumResponse *any =
                strata__ctl__describe_quorum_response__unpack(NULL, p.len,
                                                              p.body);
            snprintf(err, cap, "%s", p.text);
            if (any != NULL && any->controller != NULL &&
                any->controller->leader_id >= 0 &&
                any->controller->host[0] != '\0' &&
                (strcmp(any->controller->host, c->host) != 0 ||
                 any->controller->port != c->port)) {
                move_to(c, any->controller->host,
                        (uint16_t)any->controller->port);
            } else {
                /* No leader yet, or the leader itself is handing over
                 * (a transfer in progress refuses writes): wait. */
                wait_ms(c, RETRY_DELAY_MS);
            }
            if (any != NULL) {
                strata__ctl__describe_quorum_response__free_unpacked(any,
                                                                     NULL);
            }
            st_free(p.body);
            continue;
        }
        *error = p.error;
        snprintf(err, cap, "%s", p.text);
        *resp = protobuf_c_message_unpack(rd, NULL, p.len, p.body);
        st_free(p.body);
        if (*resp == NULL) {
            snprintf(err, cap, "the answer does not decode");
            rv = -1;
        } else {
            rv = 0;
        }
        break;
    }
    st_free(buf);
    return rv;
}
