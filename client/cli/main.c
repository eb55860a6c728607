/* strata: the command-line client.
 *
 * Broker-facing (through libstrata; client keys from --config FILE,
 * $STRATA_CONFIG or ~/.config/strata/client.properties, see client.h):
 *   strata [-b HOST:PORT,...] [--config FILE] [--json] [--timeout-ms N]
 *     cluster status | health [--watch] [--exit-when-healthy]
 *     topic create|list|describe|delete|alter-config|add-partitions ...
 *     produce TOPIC [...]      consume TOPIC [...]
 *     perf produce ... | perf consume ...
 * Controller-facing (--bootstrap-controller HOST:PORT,... or the
 * bootstrap.controllers key; --ca/--cert/--key or the ssl.* keys):
 *     quorum describe, topics ..., configs ..., brokers register ...,
 *     perf controller-failover ..., perf metadata ...
 * Exit codes: 0 ok, 1 the request failed (cluster health: unhealthy),
 * 2 usage. Every error is one line on stderr naming what failed.
 */
#include <stdlib.h>
#include <string.h>

#include "client/cli/cli.h"
#include "client/cli/client.h"
#include "common/diag.h"

static void usage(FILE *out)
{
    fprintf(out,
        "usage: strata [-b HOST:PORT[,...]] [--config FILE] [--json] "
        "[--timeout-ms N] COMMAND\n"
        "client keys: --config FILE, else $STRATA_CONFIG, else "
        "~/.config/strata/client.properties\n"
        "commands (brokers, through libstrata):\n"
        "  cluster status\n"
        "  cluster health [--watch] [--exit-when-healthy] [--max-wait-ms N]\n"
        "                 [--interval-ms N] [--allow-under-replicated]\n"
        "  topic create NAME [-p N] [-r R] [-c key=value]...\n"
        "  topic list\n"
        "  topic describe NAME\n"
        "  topic delete NAME\n"
        "  topic alter-config NAME -c key=value [-c ...] [--delete key]\n"
        "  topic add-partitions NAME --total N\n"
        "  produce TOPIC [-p P] [--key-separator S] [-H k=v]... "
        "[--acks all|1|0] [--compression zstd]\n"
        "  consume TOPIC [-p P] [--from-beginning | --offset N] [-n COUNT] "
        "[-f FORMAT] [--idle-ms N]\n"
        "      FORMAT: %%t topic %%p partition %%o offset %%k key %%v value "
        "%%h headers %%T timestamp \\n \\t\n"
        "  group list | describe G | delete G\n"
        "  group reset-offsets G --topic T (--to-earliest | --to-latest | "
        "--to-datetime T |\n"
        "              --to-offset N | --shift-by N) [--dry-run | --execute]\n"
        "  perf produce --topic T --records N --record-size B "
        "[--acks all|1|0]\n"
        "              [--throughput R] [--compression zstd] "
        "[--linger-ms N] [--batch-size B]\n"
        "  perf consume --topic T --records N\n"
        "commands (controller voters: --bootstrap-controller HOST:PORT[,...] "
        "[--ca F --cert F --key F]):\n"
        "  quorum describe\n"
        "  topics create NAME --partitions N --replication-factor R "
        "[--config k=v]... [--validate-only]\n"
        "  topics list | describe NAME | delete NAME\n"
        "  configs describe --cluster | --topic NAME | --broker ID\n"
        "  configs alter --cluster | --topic NAME | --broker ID "
        "[--set k=v]... [--delete k]...\n"
        "  brokers register --id N [--host H] [--port P] [--rack R]\n"
        "  perf controller-failover [--trials N] [--controller-bin PATH] "
        "[--gen-certs PATH] [--dir DIR]\n"
        "  perf metadata --topics N [--partitions P] "
        "[--replication-factor R] [--inflight K]\n");
}

void cli_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            fprintf(out, "\\%c", ch);
        } else if (ch < 0x20) {
            fprintf(out, "\\u%04x", ch);
        } else {
            fputc(ch, out);
        }
    }
    fputc('"', out);
}

void cli_hex(FILE *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%02x", b[i]);
    }
}

static bool broker_facing(int argc, char **argv)
{
    static const char *const groups[] = {"cluster", "topic", "produce",
                                         "consume", "group", NULL};
    for (int k = 0; groups[k] != NULL; k++) {
        if (strcmp(argv[0], groups[k]) == 0) {
            return true;
        }
    }
    return strcmp(argv[0], "perf") == 0 && argc >= 2 &&
           (strcmp(argv[1], "produce") == 0 ||
            strcmp(argv[1], "consume") == 0);
}

static int dispatch(struct cli_opts *o, const char *group, int argc,
                    char **argv)
{
    if (strcmp(group, "cluster") == 0) {
        return cmd_cluster(o, argc, argv);
    }
    if (strcmp(group, "topic") == 0) {
        return cmd_topic(o, argc, argv);
    }
    if (strcmp(group, "produce") == 0) {
        return cmd_produce(o, argc, argv);
    }
    if (strcmp(group, "consume") == 0) {
        return cmd_consume(o, argc, argv);
    }
    if (strcmp(group, "perf") == 0) {
        return cmd_perf(o, argc, argv);
    }
    if (strcmp(group, "group") == 0) {
        return cmd_group(o, argc, argv);
    }
    if (strcmp(group, "quorum") == 0) {
        return cmd_quorum(o, argc, argv);
    }
    if (strcmp(group, "topics") == 0) {
        return cmd_topics(o, argc, argv);
    }
    if (strcmp(group, "configs") == 0) {
        return cmd_configs(o, argc, argv);
    }
    if (strcmp(group, "brokers") == 0) {
        return cmd_brokers(o, argc, argv);
    }
    cli_fail("usage", "unknown command '%s' (strata --help lists them)",
             group);
    return 2;
}

int main(int argc, char **argv)
{
    struct cli_opts o = {0};
    o.argv0 = argv[0];
    st_diag_set_level(ST_LEVEL_ERROR); /* retries and redirects stay quiet */
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        int rv = cli_global_opt(&o, argc, argv, &i);
        if (rv < 0) {
            return 2;
        }
        if (rv == 0) {
            cli_fail("usage", "unknown option '%s' (strata --help lists "
                     "them)", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    /* Broker-facing commands also take the global options after the
     * command word (`strata topic list --json`): lift them out here. The
     * controller-facing ones keep their own --config k=v. */
    if (broker_facing(argc - i, argv + i)) {
        int n = i + 1;
        for (int j = i + 1; j < argc; j++) {
            int rv = cli_global_opt(&o, argc, argv, &j);
            if (rv < 0) {
                return 2;
            }
            if (rv == 0) {
                argv[n++] = argv[j];
            }
        }
        argc = n;
    }
    char err[1024];
    if (cli_config_load(&o, err, sizeof err) != 0) {
        cli_fail("config", "%s", err);
        return 2;
    }
    int code = dispatch(&o, argv[i], argc - i - 1, argv + i + 1);
    cli_config_free(&o);
    return code;
}
