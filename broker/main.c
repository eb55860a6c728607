/* strata-broker: the broker daemon.
 *
 *   strata-broker format --config FILE --cluster-id ID [--set key=value...]
 *   strata-broker --config FILE [--set key=value ...] [--print-config]
 *
 * Exit codes: 0 clean stop (SIGTERM/SIGINT: a controlled shutdown through
 * the controller so leaderships move at once, then logs flushed and
 * clean-shutdown markers written; a second signal skips the wait), 1 runtime failure (storage, bind), 2 bad usage or
 * configuration (one line on stderr names it), 3 stopped because the
 * controller retired this broker's incarnation (another process registered
 * the same node.id).
 */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/broker_config.h"
#include "common/alloc.h"
#include "common/config.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/jobq.h"

#define SETS_MAX 128

struct args {
    bool format;
    bool print_config;
    const char *config;
    const char *cluster_id;
    char *sets[SETS_MAX];
    size_t n_sets;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: strata-broker format --config FILE --cluster-id ID "
            "[--set key=value ...]\n"
            "       strata-broker --config FILE [--set key=value ...] "
            "[--print-config]\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
    int i = 1;
    if (argc > 1 && strcmp(argv[1], "format") == 0) {
        a->format = true;
        i = 2;
    }
    for (; i < argc; i++) {
        const char *arg = argv[i];
        bool has_next = i + 1 < argc;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(arg, "--config") == 0 && has_next) {
            a->config = argv[++i];
        } else if (strcmp(arg, "--cluster-id") == 0 && has_next) {
            a->cluster_id = argv[++i];
        } else if (strcmp(arg, "--set") == 0 && has_next) {
            if (a->n_sets == SETS_MAX) {
                fprintf(stderr, "strata-broker: too many --set\n");
                return 2;
            }
            a->sets[a->n_sets++] = argv[++i];
        } else if (strcmp(arg, "--print-config") == 0) {
            a->print_config = true;
        } else {
            fprintf(stderr, "strata-broker: unexpected argument '%s'\n", arg);
            usage(stderr);
            return 2;
        }
    }
    if (a->config == NULL || (a->format && a->cluster_id == NULL)) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The first signal asks the controller for a controlled shutdown (bounded
 * wait); a second one stops at once. */
static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    ST_INFO("broker", "signal %d: stopping", (int)sig);
    st_broker_stop(arg);
}

static int run(struct st_conf *conf, const char *cluster_id)
{
    int rv = st_jobq_threads_init();
    struct event_base *base = rv == 0 ? event_base_new() : NULL;
    if (base == NULL) {
        fprintf(stderr, "strata-broker: cannot make the event loop\n");
        return 1;
    }
    struct st_broker *b = NULL;
    rv = st_broker_new(base, conf, cluster_id, &b);
    if (rv != 0) {
        fprintf(stderr, "strata-broker: cannot start: %s\n",
                st_strerror(rv));
        event_base_free(base);
        return 1;
    }
    struct event *term = evsignal_new(base, SIGTERM, signal_cb, b);
    struct event *intr = evsignal_new(base, SIGINT, signal_cb, b);
    evsignal_add(term, NULL);
    evsignal_add(intr, NULL);
    event_base_dispatch(base);
    int code = b->exit_code;
    st_broker_free(b); /* flushes every log and writes clean markers */
    event_free(term);
    event_free(intr);
    event_base_free(base);
    ST_INFO("broker", "stopped exit=%d", code);
    return code;
}

int main(int argc, char **argv)
{
    struct args a = {0};
    int rv = parse_args(argc, argv, &a);
    if (rv != 0) {
        return rv;
    }
    signal(SIGPIPE, SIG_IGN);
    char err[512];
    struct st_conf *conf;
    rv = st_broker_config_load(a.config, a.sets, a.n_sets, &conf, err,
                               sizeof err);
    if (rv != 0) {
        fprintf(stderr, "strata-broker: %s\n", err);
        return 2;
    }
    if (a.print_config) {
        st_conf_print(conf, stdout);
        st_conf_free(conf);
        return 0;
    }
    if (a.format) {
        rv = st_broker_format(conf, a.cluster_id, err, sizeof err);
        if (rv != 0) {
            fprintf(stderr, "strata-broker: format: %s\n", err);
        } else {
            printf("formatted log.dirs=%s for cluster %s node.id %lld\n",
                   st_conf_str(conf, "log.dirs"), a.cluster_id,
                   (long long)st_conf_int(conf, "node.id"));
        }
        st_conf_free(conf);
        return rv == 0 ? 0 : 2;
    }
    enum st_level level = ST_LEVEL_INFO;
    st_diag_parse_level(st_conf_str(conf, "log.level"), &level);
    st_diag_set_level(level);
    char name[64];
    snprintf(name, sizeof name, "broker-%lld",
             (long long)st_conf_int(conf, "node.id"));
    st_diag_set_process(name);
    const char *log_file = st_conf_str(conf, "log.file");
    if (log_file[0] != '\0' && st_diag_open_file(log_file) != 0) {
        fprintf(stderr, "strata-broker: log.file: cannot open '%s'\n",
                log_file);
        st_conf_free(conf);
        return 2;
    }
    char cluster_id[ST_BROKER_CLUSTER_ID_MAX + 1];
    rv = st_broker_stamp_check(conf, cluster_id, err, sizeof err);
    if (rv != 0) {
        fprintf(stderr, "strata-broker: %s\n", err);
        st_conf_free(conf);
        return 2;
    }
    st_conf_log(conf, "broker");
    int code = run(conf, cluster_id);
    st_conf_free(conf);
    return code;
}
