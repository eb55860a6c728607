/* strata produce TOPIC: one record per stdin line (the newline dropped),
 * split into key and value at the first --key-separator when given, with
 * the same -H headers on every record. Waits for every delivery report;
 * exit 1 when any record failed (the first failure is printed). */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/client.h"

#define HEADERS_MAX 32

struct produce_state {
    long delivered, failed;
    char first_err[512];
};

static void dr_cb(strata_t *rk, const strata_message_t *m, void *opaque)
{
    struct produce_state *st = opaque;
    if (m->err == 0) {
        st->delivered++;
        return;
    }
    if (st->failed++ == 0) {
        snprintf(st->first_err, sizeof st->first_err, "%s [%" PRId32 "]: %s",
                 m->topic, m->partition,
                 m->errstr && m->errstr[0] ? m->errstr
                                           : strata_err2str(m->err));
    }
}

/* The topic must exist: fail at once rather than after
 * delivery.timeout.ms. Returns its partition count or -1 (printed). */
int cli_topic_partitions(struct cli_opts *o, strata_t *rk, const char *what,
                         const char *topic)
{
    strata_metadata_t *md;
    char err[512];
    if (strata_admin_describe_topics(rk, &topic, 1, &md, cli_timeout_ms(o),
                                     err, sizeof err) != 0) {
        cli_fail(what, "%s", err);
        return -1;
    }
    int n = -1;
    if (md->topic_cnt == 1 && md->topics[0].err == 0) {
        n = md->topics[0].partition_cnt;
    } else {
        cli_fail(what, "%s: unknown topic", topic);
    }
    strata_metadata_destroy(md);
    return n;
}

static int produce_line(strata_t *rk, const char *topic, int32_t part,
                        char *line, size_t len, const char *sep,
                        const strata_header_t *h, size_t nh)
{
    const char *key = NULL, *val = line;
    size_t klen = 0, vlen = len;
    if (sep != NULL) {
        char *at = strstr(line, sep);
        if (at != NULL) {
            key = line;
            klen = (size_t)(at - line);
            val = at + strlen(sep);
            vlen = len - klen - strlen(sep);
        }
    }
    for (;;) {
        strata_resp_err_t e =
            strata_produce(rk, topic, part, key, klen, val, vlen, h, nh,
                           STRATA_MSG_F_COPY, NULL);
        if (e != STRATA_ERR__QUEUE_FULL) {
            return e;
        }
        strata_poll(rk, 100); /* serve reports until there is room */
    }
}

int cmd_produce(struct cli_opts *o, int argc, char **argv)
{
    const char *topic = NULL, *sep = NULL, *acks = "all", *comp = "none";
    int32_t part = STRATA_PARTITION_ANY;
    strata_header_t hdr[HEADERS_MAX];
    size_t nh = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            if (topic != NULL) {
                cli_fail("produce", "unexpected argument '%s'", a);
                return 2;
            }
            topic = a;
            continue;
        }
        if (v == NULL) {
            cli_fail("produce", "unknown option or missing value: '%s'", a);
            return 2;
        }
        i++;
        if (strcmp(a, "-p") == 0 || strcmp(a, "--partition") == 0) {
            char *end;
            part = (int32_t)strtol(v, &end, 10);
            if (*end != '\0' || part < 0) {
                cli_fail("produce", "bad partition '%s'", v);
                return 2;
            }
        } else if (strcmp(a, "--key-separator") == 0 ||
                   strcmp(a, "-K") == 0) {
            sep = v;
        } else if (strcmp(a, "--acks") == 0) {
            acks = v;
        } else if (strcmp(a, "--compression") == 0) {
            comp = v;
        } else if (strcmp(a, "-H") == 0 || strcmp(a, "--header") == 0) {
            char *eq = strchr(argv[i], '=');
            if (eq == NULL || nh == HEADERS_MAX) {
                cli_fail("produce", "-H wants key=value (at most %d): '%s'",
                         HEADERS_MAX, v);
                return 2;
            }
            *eq = '\0';
            hdr[nh++] = (strata_header_t){argv[i], eq + 1, strlen(eq + 1)};
        } else {
            cli_fail("produce", "unknown option '%s'", a);
            return 2;
        }
    }
    if (topic == NULL) {
        cli_fail("produce", "missing TOPIC");
        return 2;
    }
    if (sep != NULL && sep[0] == '\0') {
        cli_fail("produce", "--key-separator must not be empty");
        return 2;
    }
    struct produce_state st = {0};
    const char *extra[] = {"acks", acks, "compression.type", comp,
                           "linger.ms", "5", NULL};
    char err[1024];
    strata_t *rk = cli_client_open(o, STRATA_PRODUCER, extra, dr_cb, &st,
                                   err, sizeof err);
    if (rk == NULL) {
        return cli_fail("produce", "%s", err);
    }
    int nparts = cli_topic_partitions(o, rk, "produce", topic);
    if (nparts < 0) {
        strata_destroy(rk);
        return 1;
    }
    if (part != STRATA_PARTITION_ANY && part >= nparts) {
        strata_destroy(rk);
        return cli_fail("produce", "%s: no partition %" PRId32 " (it has %d)",
                        topic, part, nparts);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long sent = 0;
    int rv = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') {
            line[--n] = '\0';
        }
        strata_resp_err_t e =
            produce_line(rk, topic, part, line, (size_t)n, sep, hdr, nh);
        if (e != 0) {
            rv = cli_fail("produce", "record %ld: %s", sent + 1,
                          strata_err2str(e));
            break;
        }
        sent++;
        strata_poll(rk, 0);
    }
    free(line);
    if (strata_flush(rk, cli_timeout_ms(o)) != 0 && rv == 0) {
        rv = cli_fail("produce", "%d records not delivered within %d ms%s",
                      strata_outq_len(rk), cli_timeout_ms(o),
                      strcmp(acks, "all") == 0 || strcmp(acks, "-1") == 0
                          ? " (acks=all waits for every in-sync replica; "
                            "--acks 1 waits for the leader only)"
                          : "");
    }
    cli_client_close(rk, 1000);
    if (st.failed > 0 && rv == 0) {
        rv = cli_fail("produce", "%ld of %ld records failed; first: %s",
                      st.failed, sent, st.first_err);
    }
    if (rv == 0) {
        if (o->json) {
            printf("{\"topic\":");
            cli_json_str(stdout, topic);
            printf(",\"records\":%ld,\"failed\":0}\n", st.delivered);
        } else {
            fprintf(stderr, "produced %ld records to %s\n", st.delivered,
                    topic);
        }
    }
    return rv;
}
