/* strata perf: performance tools (produce and consume through the
 * brokers, controller failover, metadata throughput). Each tool lives in
 * its own file. */
#include <string.h>

#include "client/cli/cli.h"


int cmd_perf(struct cli_opts *o, int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "produce") == 0) {
        return perf_produce(o, argc - 1, argv + 1);
    }
    if (argc >= 1 && strcmp(argv[0], "consume") == 0) {
        return perf_consume(o, argc - 1, argv + 1);
    }
    if (argc >= 1 && strcmp(argv[0], "controller-failover") == 0) {
        return perf_failover(o, argc - 1, argv + 1);
    }
    if (argc >= 1 && strcmp(argv[0], "metadata") == 0) {
        return perf_metadata(o, argc - 1, argv + 1);
    }
    fprintf(stderr, "usage: strata perf produce --topic T --records N "
            "--record-size B | consume --topic T --records N | "
            "controller-failover [--trials N] | metadata --topics N\n");
    return 2;
}
