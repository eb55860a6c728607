/* The `strata` CLI: shared options, output helpers and the command entry
 * points (one file per command group). Broker-facing groups (cluster,
 * topic, produce, consume, perf produce/consume) use libstrata through
 * client.h; controller-facing groups (quorum, topics, configs, brokers,
 * perf controller-failover/metadata) talk to the voters (ctl_rpc.h).
 * Runs on: the main thread. */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct cli_opts {
    const char *bootstrap_controller; /* HOST:PORT */
    const char *ca_file, *cert_file, *key_file;
    bool json;
    uint32_t timeout_ms;              /* whole command, with redirects */
    const char *argv0;
    /* Broker-facing commands (client.h). */
    const char *bootstrap;            /* -b: overrides bootstrap.servers */
    const char *config_file;          /* --config FILE */
    char **conf_kv;                   /* key, value, key, value... */
    size_t conf_n;                    /* pairs in conf_kv */
    char *conf_path;                  /* the file they came from */
    char *bootstrap_controllers;      /* bootstrap.controllers key */
};

/* Command groups: @argc/@argv start after the group word. Return the
 * process exit code (0 ok, 1 failed, 2 usage). */
int cmd_quorum(const struct cli_opts *o, int argc, char **argv);
int cmd_topics(const struct cli_opts *o, int argc, char **argv);
int cmd_brokers(const struct cli_opts *o, int argc, char **argv);
int cmd_configs(const struct cli_opts *o, int argc, char **argv);
int cmd_perf(struct cli_opts *o, int argc, char **argv);
int cmd_cluster(struct cli_opts *o, int argc, char **argv);
int cmd_topic(struct cli_opts *o, int argc, char **argv);
int cmd_produce(struct cli_opts *o, int argc, char **argv);
int cmd_consume(struct cli_opts *o, int argc, char **argv);
int cmd_group(struct cli_opts *o, int argc, char **argv); /* cmd_group.c */
/* perf produce / perf consume (perf_client.c), dispatched by cmd_perf. */
int perf_produce(struct cli_opts *o, int argc, char **argv);
int perf_consume(struct cli_opts *o, int argc, char **argv);
/* perf tools (perf_failover.c, perf_metadata.c), dispatched by cmd_perf. */
int perf_failover(const struct cli_opts *o, int argc, char **argv);
int perf_metadata(const struct cli_opts *o, int argc, char **argv);

struct cli_ctl;
/* Register a placeholder broker @id (fresh incarnation) at @host:@port and
 * heartbeat once as caught up, so it is unfenced and can hold replicas
 * (cmd_brokers.c). *epoch gets its broker epoch. Returns 0, or -1 with
 * @err filled. */
int cli_broker_register(struct cli_ctl *c, int32_t id, const char *host,
                        uint16_t port, const char *rack, int64_t *epoch,
                        char *err, size_t cap);

/* Print @s as a JSON string (quoted, escaped). */
void cli_json_str(FILE *out, const char *s);
/* Print @n bytes as lowercase hex. */
void cli_hex(FILE *out, const uint8_t *b, size_t n);
/* Parse "HOST:PORT" into @host (@cap) and *port. Returns 0 or -1. */
int cli_parse_hostport(const char *s, char *host, size_t cap,
                       uint16_t *port);

#endif
