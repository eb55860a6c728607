/* The CLI's side of libstrata: where client keys come from, and handles
 * that are ready (metadata fetched) or fail in one line.
 *
 * Client keys are read, in this order, from: --config FILE, else
 * $STRATA_CONFIG, else ~/.config/strata/client.properties when it exists.
 * The file holds libstrata keys (strata.h: bootstrap.servers,
 * ssl.ca.location, ...) as key=value lines; '#' starts a comment. One key
 * is the CLI's own: bootstrap.controllers (HOST:PORT,...) names the
 * controller voters for the controller-facing commands; for `cluster
 * status|health` and `quorum describe` it is an optional override (they
 * otherwise ask a broker, which forwards DescribeQuorum). -b/--bootstrap
 * overrides bootstrap.servers; the ssl.* keys also feed the controller
 * commands' --ca/--cert/--key when those are not given.
 * Runs on: the main thread. */
#ifndef STRATA_CLI_CLIENT_H
#define STRATA_CLI_CLIENT_H

#include <stddef.h>

#include <strata.h>

#include "client/cli/cli.h"

/* Load the client properties into @o (see above) and fill the controller
 * options they imply. A missing default file is not an error; a missing
 * explicit file is. Returns 0, or -1 with @err naming the file and line.
 * Ownership: what @o points to afterwards is freed by cli_config_free(). */
int cli_config_load(struct cli_opts *o, char *err, size_t cap);
void cli_config_free(struct cli_opts *o);

/* A @type handle configured from @o plus @extra ("key", "value" pairs,
 * NULL-terminated; may be NULL) and the delivery report callback @dr (may
 * be NULL; @opaque comes back in it), with request.timeout.ms set to the
 * command timeout, after strata_wait_ready(). Returns NULL with @err one
 * line naming what failed (bad key, TLS file, no broker reachable within
 * the timeout). Ownership: the handle is the caller's; strata_destroy()
 * it (cli_client_close() flushes first). */
strata_t *cli_client_open(const struct cli_opts *o, strata_type_t type,
                          const char *const *extra, strata_dr_msg_cb_t dr,
                          void *opaque, char *err, size_t cap);
void cli_client_close(strata_t *rk, int timeout_ms); /* NULL-safe */

/* The command timeout in ms (--timeout-ms; default 10000). */
int cli_timeout_ms(const struct cli_opts *o);

/* Parse a global option at @argv[*i] into @o (-b, --bootstrap, --config,
 * --json, --timeout-ms, --bootstrap-controller, --ca, --cert, --key),
 * advancing *i past its value. Returns 1 when it was one, 0 when not, -1
 * on a missing or bad value (printed). main.c also lifts them from after a
 * broker-facing command word, so `strata topic list --json` works. */
int cli_global_opt(struct cli_opts *o, int argc, char **argv, int *i);

/* The partition count of @topic, asked through @rk; -1 with a one-line
 * error naming @what when it cannot be had or the topic is unknown
 * (cmd_produce.c). */
int cli_topic_partitions(struct cli_opts *o, strata_t *rk, const char *what,
                         const char *topic);

/* Print "strata: @what: @why" on stderr as one line. Returns 1. */
int cli_fail(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
