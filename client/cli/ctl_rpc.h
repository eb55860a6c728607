/* Controller RPC plumbing for the CLI: a TLS client context, synchronous
 * calls that follow NOT_CONTROLLER redirects to the leader the answering
 * voter names (retrying while no leader is known) until the command's
 * timeout, and raw access to the loop for tools that pipeline (perf).
 * Runs on: the main thread (one event loop owned here). */
#ifndef STRATA_CLI_CTL_RPC_H
#define STRATA_CLI_CTL_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/cli/cli.h"
#include "controller.pb-c.h"

struct event_base;
struct st_rpc_client;
struct st_tls_ctx;
struct cli_ctl;

/* Make the loop and TLS context from @o (files from the options or the
 * STRATA_TLS_CA / STRATA_TLS_CERT / STRATA_TLS_KEY environment).
 * Errors: -1 with @err filled. Ownership: *out is the caller's. */
int cli_ctl_open(const struct cli_opts *o, struct cli_ctl **out, char *err,
                 size_t cap);
void cli_ctl_close(struct cli_ctl *c); /* NULL-safe */

/* Send @req on @api (version 0) and decode the answer as @rd into *resp
 * (the caller frees it with protobuf_c_message_free_unpacked). Follows
 * NOT_CONTROLLER redirects and retries transport failures until the
 * timeout. Returns 0 with *error the header error (0 on success; never
 * NOT_CONTROLLER unless time ran out) and @err its text, or -1 when no
 * answer came (@err says why). */
int cli_ctl_call(struct cli_ctl *c, uint32_t api, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *rd,
                 ProtobufCMessage **resp, int32_t *error, char *err,
                 size_t cap);

/* For pipelining tools: the loop, the TLS context, and a new client to
 * @host:@port (the caller frees it with st_rpc_client_free). */
struct event_base *cli_ctl_base(struct cli_ctl *c);
struct st_tls_ctx *cli_ctl_tls(struct cli_ctl *c);
struct st_rpc_client *cli_ctl_client(struct cli_ctl *c, const char *host,
                                     uint16_t port);
/* Host and port the last successful call was answered from (the leader
 * after a redirect). */
void cli_ctl_current(const struct cli_ctl *c, char *host, size_t cap,
                     uint16_t *port);

/* DescribeQuorum from the voters in @o, re-asked of the leader when a
 * follower answered (only the leader knows every voter's lag). Returns 0
 * with *out (protobuf_c_message_free_unpacked() it), or -1 with @err
 * (cmd_quorum.c). */
int cli_quorum_fetch(const struct cli_opts *o,
                     Strata__Ctl__DescribeQuorumResponse **out, char *err,
                     size_t cap);

/* Monotonic milliseconds. */
uint64_t cli_now_ms(void);

#endif
