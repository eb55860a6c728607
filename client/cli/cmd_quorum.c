/* strata quorum describe: the controller quorum as one voter sees it
 * (leader, term, commit/last index, each voter's log end and lag as the
 * leader knows them). Asked of the voters when bootstrap.controllers (or
 * --bootstrap-controller) names them, else through a broker, which
 * forwards to the active controller. */
#include <inttypes.h>
#include <string.h>

#include "client/cli/cli.h"
#include "client/cli/client.h"
#include "client/cli/ctl_rpc.h"
#include "controller.pb-c.h"

static void print_human(const Strata__Ctl__DescribeQuorumResponse *r)
{
    const Strata__Ctl__ControllerInfo *ci = r->controller;
    printf("cluster %s  leader %" PRId32 "  term %" PRIu64 "  answered by %"
           PRId32 " (%s)  commit %" PRIu64 "  last %" PRIu64 "\n",
           r->cluster_id, ci ? ci->leader_id : -1, ci ? ci->term : 0,
           r->answered_by, r->role, r->commit_index, r->last_index);
    printf("%-6s %-24s %-8s %14s %8s\n", "VOTER", "ADDRESS", "ROLE",
           "LOG-END", "LAG");
    for (size_t i = 0; i < r->n_voters; i++) {
        const Strata__Ctl__VoterState *v = r->voters[i];
        char addr[300];
        snprintf(addr, sizeof addr, "%s:%" PRIu32, v->host, v->port);
        char end[32], lag[32];
        snprintf(end, sizeof end, "%" PRId64, v->log_end_offset);
        snprintf(lag, sizeof lag, "%" PRId64, v->lag);
        printf("%-6" PRId32 " %-24s %-8s %14s %8s\n", v->id, addr,
               ci && v->id == ci->leader_id ? "leader" : "voter",
               v->log_end_offset < 0 ? "?" : end, v->lag < 0 ? "?" : lag);
    }
}

static void print_json(const Strata__Ctl__DescribeQuorumResponse *r)
{
    const Strata__Ctl__ControllerInfo *ci = r->controller;
    printf("{\"cluster_id\":");
    cli_json_str(stdout, r->cluster_id);
    printf(",\"leader_id\":%" PRId32 ",\"term\":%" PRIu64
           ",\"answered_by\":%" PRId32 ",\"role\":",
           ci ? ci->leader_id : -1, ci ? ci->term : 0, r->answered_by);
    cli_json_str(stdout, r->role);
    printf(",\"commit_index\":%" PRIu64 ",\"last_index\":%" PRIu64
           ",\"applied_offset\":%" PRId64 ",\"voters\":[",
           r->commit_index, r->last_index, r->applied_offset);
    for (size_t i = 0; i < r->n_voters; i++) {
        const Strata__Ctl__VoterState *v = r->voters[i];
        printf("%s{\"id\":%" PRId32 ",\"host\":", i ? "," : "", v->id);
        cli_json_str(stdout, v->host);
        printf(",\"port\":%" PRIu32 ",\"log_end_offset\":%" PRId64
               ",\"lag\":%" PRId64 "}", v->port, v->log_end_offset, v->lag);
    }
    printf("]}\n");
}

int cli_quorum_fetch(const struct cli_opts *o,
                     Strata__Ctl__DescribeQuorumResponse **out, char *err,
                     size_t cap)
{
    struct cli_ctl *c;
    if (cli_ctl_open(o, &c, err, cap) != 0) {
        return -1;
    }
    Strata__Ctl__DescribeQuorumRequest req =
        STRATA__CTL__DESCRIBE_QUORUM_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    int32_t error = 0;
    int rv = cli_ctl_call(c, STRATA__CTL__API__DESCRIBE_QUORUM, &req.base,
                          &strata__ctl__describe_quorum_response__descriptor,
                          &resp, &error, err, cap);
    /* Only the leader knows every voter's log end: ask it when known. */
    Strata__Ctl__DescribeQuorumResponse *first = (void *)resp;
    if (rv == 0 && error == 0 && strcmp(first->role, "leader") != 0 &&
        first->controller != NULL && first->controller->leader_id >= 0) {
        char boot[300];
        snprintf(boot, sizeof boot, "%s:%" PRIu32, first->controller->host,
                 first->controller->port);
        struct cli_opts lo = *o;
        lo.bootstrap_controller = boot;
        struct cli_ctl *lc;
        ProtobufCMessage *lresp = NULL;
        int32_t lerror = 0;
        char lerr[1024];
        lo.timeout_ms = 2000;
        if (cli_ctl_open(&lo, &lc, lerr, sizeof lerr) == 0) {
            if (cli_ctl_call(lc, STRATA__CTL__API__DESCRIBE_QUORUM, &req.base,
                             &strata__ctl__describe_quorum_response__descriptor,
                             &lresp, &lerror, lerr, sizeof lerr) == 0 &&
                lerror == 0) {
                protobuf_c_message_free_unpacked(resp, NULL);
                resp = lresp;
            } else if (lresp != NULL) {
                protobuf_c_message_free_unpacked(lresp, NULL);
            }
            cli_ctl_close(lc);
        }
    }
    cli_ctl_close(c);
    if (rv != 0 || error != 0) {
        if (resp != NULL) {
            protobuf_c_message_free_unpacked(resp, NULL);
        }
        return -1;
    }
    *out = (void *)resp;
    return 0;
}

/* Without controller addresses: through a broker, printed by the same
 * printers from a view in the controller message's shape (pointing into
 * the library's answer, so nothing of it is freed separately). */
static int quorum_via_brokers(const struct cli_opts *o)
{
    char err[1024];
    strata_t *rk = cli_client_open(o, STRATA_ADMIN, NULL, NULL, NULL, err,
                                   sizeof err);
    if (rk == NULL) {
        return cli_fail("quorum describe", "%s", err);
    }
    strata_quorum_info_t *q;
    strata_resp_err_t e = strata_admin_describe_quorum(rk, &q,
                                                       cli_timeout_ms(o), err,
                                                       sizeof err);
    strata_destroy(rk);
    if (e != 0) {
        return cli_fail("quorum describe", "%s", err);
    }
    size_t n = (size_t)q->voter_cnt;
    Strata__Ctl__VoterState vs[n ? n : 1];
    Strata__Ctl__VoterState *vps[n ? n : 1];
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    Strata__Ctl__DescribeQuorumResponse r =
        STRATA__CTL__DESCRIBE_QUORUM_RESPONSE__INIT;
    ci.leader_id = q->leader_id;
    ci.term = q->term;
    for (size_t i = 0; i < n; i++) {
        const strata_voter_info_t *v = &q->voters[i];
        strata__ctl__voter_state__init(&vs[i]);
        vs[i].id = v->id;
        vs[i].host = v->host;
        vs[i].port = (uint32_t)v->port;
        vs[i].log_end_offset = v->log_end_offset;
        vs[i].lag = v->lag;
        vps[i] = &vs[i];
    }
    r.controller = &ci;
    r.answered_by = q->answered_by;
    r.role = q->answered_role;
    r.commit_index = q->commit_index;
    r.last_index = q->last_index;
    r.applied_offset = q->applied_offset;
    r.cluster_id = q->cluster_id;
    r.voters = vps;
    r.n_voters = n;
    if (o->json) {
        print_json(&r);
    } else {
        print_human(&r);
    }
    strata_quorum_info_destroy(q);
    return 0;
}

int cmd_quorum(const struct cli_opts *o, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "describe") != 0) {
        fprintf(stderr, "usage: strata quorum describe\n");
        return 2;
    }
    if (o->bootstrap_controller == NULL) {
        return quorum_via_brokers(o);
    }
    char err[1024];
    Strata__Ctl__DescribeQuorumResponse *resp;
    if (cli_quorum_fetch(o, &resp, err, sizeof err) != 0) {
        fprintf(stderr, "strata: quorum describe: %s\n", err);
        return 1;
    }
    if (o->json) {
        print_json(resp);
    } else {
        print_human(resp);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}
