/* strata quorum describe: the controller quorum as one voter sees it
 * (leader, term, commit/last index, each voter's log end and lag as the
 * leader knows them). */
#include <inttypes.h>
#include <string.h>

#include "client/cli/cli.h"
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

int cmd_quorum(const struct cli_opts *o, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "describe") != 0) {
        fprintf(stderr, "usage: strata quorum describe\n");
        return 2;
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
