/* strata: the admin and test CLI.
 *
 *   strata [global options] quorum describe
 *   strata [global options] topics create NAME --partitions N
 *                                  --replication-factor R [--config k=v]...
 *   strata [global options] topics list | describe NAME | delete NAME
 *   strata [global options] configs describe|alter --cluster|--topic N ...
 *   strata [global options] brokers register --id N [--host H --port P]
 *   strata [global options] perf controller-failover [--trials N] ...
 *   strata [global options] perf metadata --topics N ...
 *
 * Global options: --bootstrap-controller HOST:PORT[,HOST:PORT...]
 * (voters to try), --ca F, --cert F, --key F (or STRATA_TLS_CA/CERT/KEY),
 * --json, --timeout-ms N.
 * Exit codes: 0 ok, 1 the request failed, 2 usage.
 */
#include <stdlib.h>
#include <string.h>

#include "client/cli/cli.h"
#include "common/diag.h"

static void usage(FILE *out)
{
    fprintf(out,
        "usage: strata [--bootstrap-controller HOST:PORT[,...]] "
        "[--ca F --cert F --key F]\n"
        "              [--json] [--timeout-ms N] COMMAND\n"
        "commands:\n"
        "  quorum describe\n"
        "  topics create NAME --partitions N --replication-factor R "
        "[--config k=v]... [--validate-only]\n"
        "  topics list\n"
        "  topics describe NAME\n"
        "  topics delete NAME\n"
        "  configs describe --cluster | --topic NAME | --broker ID\n"
        "  configs alter --cluster | --topic NAME | --broker ID "
        "[--set k=v]... [--delete k]...\n"
        "  brokers register --id N [--host H] [--port P] [--rack R]\n"
        "      (a placeholder broker for tests before strata-broker exists)\n"
        "  perf controller-failover [--trials N] [--controller-bin PATH] "
        "[--gen-certs PATH] [--dir DIR]\n"
        "  perf metadata --topics N [--partitions P] "
        "[--replication-factor R] [--inflight K]\n"
        "TLS files default to $STRATA_TLS_CA/CERT/KEY, else ca.pem, "
        "client.pem, client.key.\n");
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

int main(int argc, char **argv)
{
    struct cli_opts o = {0};
    o.argv0 = argv[0];
    st_diag_set_level(ST_LEVEL_ERROR); /* retries and redirects stay quiet */
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o.json = true;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "strata: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--bootstrap-controller") == 0) {
            o.bootstrap_controller = v;
        } else if (strcmp(a, "--ca") == 0) {
            o.ca_file = v;
        } else if (strcmp(a, "--cert") == 0) {
            o.cert_file = v;
        } else if (strcmp(a, "--key") == 0) {
            o.key_file = v;
        } else if (strcmp(a, "--timeout-ms") == 0) {
            o.timeout_ms = (uint32_t)strtoul(v, NULL, 10);
        } else {
            fprintf(stderr, "strata: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *group = argv[i];
    int sub_argc = argc - i - 1;
    char **sub_argv = argv + i + 1;
    if (strcmp(group, "quorum") == 0) {
        return cmd_quorum(&o, sub_argc, sub_argv);
    }
    if (strcmp(group, "topics") == 0) {
        return cmd_topics(&o, sub_argc, sub_argv);
    }
    if (strcmp(group, "configs") == 0) {
        return cmd_configs(&o, sub_argc, sub_argv);
    }
    if (strcmp(group, "brokers") == 0) {
        return cmd_brokers(&o, sub_argc, sub_argv);
    }
    if (strcmp(group, "perf") == 0) {
        return cmd_perf(&o, sub_argc, sub_argv);
    }
    fprintf(stderr, "strata: unknown command '%s'\n", group);
    usage(stderr);
    return 2;
}
