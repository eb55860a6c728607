/* strata consume TOPIC: records of every partition (or -p P) from the end
 * (default), the beginning or an offset, printed with a kcat-style -f
 * format or, with --json, one JSON object per line. Stops after -n COUNT
 * records, with -e once every partition reached the end offset it had
 * when consuming started, after --idle-ms without a record, or on
 * SIGINT/SIGTERM. With --group G the partitions come from the group
 * (subscribe; --from-beginning picks auto.offset.reset=earliest for
 * partitions without a committed offset) and positions are auto-committed;
 * -p, --offset and -e do not apply then. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/client.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void put_bytes(const void *b, size_t n, const char *null_text)
{
    if (b == NULL) {
        fputs(null_text, stdout);
        return;
    }
    fwrite(b, 1, n, stdout);
}

static void put_json_bytes(const void *b, size_t n)
{
    if (b == NULL) {
        printf("null");
        return;
    }
    /* Records are bytes; show them as text, escaping what JSON needs. */
    char *s = malloc(n + 1);
    if (s == NULL) {
        printf("null");
        return;
    }
    memcpy(s, b, n);
    s[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0') {
            s[i] = '?';
        }
    }
    cli_json_str(stdout, s);
    free(s);
}

static void print_json(const strata_message_t *m)
{
    printf("{\"topic\":");
    cli_json_str(stdout, m->topic);
    printf(",\"partition\":%" PRId32 ",\"offset\":%" PRId64
           ",\"timestamp\":%" PRId64 ",\"key\":",
           m->partition, m->offset, m->timestamp_ms);
    put_json_bytes(m->key, m->key_len);
    printf(",\"value\":");
    put_json_bytes(m->value, m->value_len);
    printf(",\"headers\":{");
    for (size_t i = 0; i < m->n_headers; i++) {
        printf("%s", i ? "," : "");
        cli_json_str(stdout, m->headers[i].key);
        printf(":");
        put_json_bytes(m->headers[i].value, m->headers[i].value_len);
    }
    printf("}}\n");
}

/* kcat's format letters; \n \t \\ escapes. */
static void print_fmt(const char *f, const strata_message_t *m)
{
    for (; *f; f++) {
        if (*f == '\\' && f[1]) {
            f++;
            putchar(*f == 'n' ? '\n' : *f == 't' ? '\t' : *f);
            continue;
        }
        if (*f != '%' || !f[1]) {
            putchar(*f);
            continue;
        }
        switch (*++f) {
        case 't':
            fputs(m->topic, stdout);
            break;
        case 'p':
            printf("%" PRId32, m->partition);
            break;
        case 'o':
            printf("%" PRId64, m->offset);
            break;
        case 'k':
            put_bytes(m->key, m->key_len, "");
            break;
        case 'v':
            put_bytes(m->value, m->value_len, "");
            break;
        case 'T':
            printf("%" PRId64, m->timestamp_ms);
            break;
        case 'h':
            for (size_t i = 0; i < m->n_headers; i++) {
                printf("%s%s=", i ? "," : "", m->headers[i].key);
                put_bytes(m->headers[i].value, m->headers[i].value_len, "");
            }
            break;
        case '%':
            putchar('%');
            break;
        default:
            putchar('%');
            putchar(*f);
        }
    }
}

struct consume_args {
    const char *topic, *format;
    int32_t part;
    int64_t start;
    long count, idle_ms;
    bool to_end;
    const char *group;
};

static int parse(int argc, char **argv, struct consume_args *a)
{
    *a = (struct consume_args){.format = "%v\\n", .part = -1,
                               .start = STRATA_OFFSET_END, .idle_ms = -1};
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (o[0] != '-') {
            if (a->topic != NULL) {
                cli_fail("consume", "unexpected argument '%s'", o);
                return 2;
            }
            a->topic = o;
            continue;
        }
        if (strcmp(o, "--from-beginning") == 0) {
            a->start = STRATA_OFFSET_BEGINNING;
            continue;
        }
        if (strcmp(o, "-e") == 0 || strcmp(o, "--exit-at-end") == 0) {
            a->to_end = true;
            continue;
        }
        if ((strcmp(o, "--group") == 0 || strcmp(o, "-G") == 0) && v) {
            a->group = v;
            i++;
            continue;
        }
        bool known = strcmp(o, "-p") == 0 || strcmp(o, "--offset") == 0 ||
                     strcmp(o, "-o") == 0 || strcmp(o, "-n") == 0 ||
                     strcmp(o, "-f") == 0 || strcmp(o, "--idle-ms") == 0;
        if (!known) {
            cli_fail("consume", "unknown option '%s'", o);
            return 2;
        }
        if (v == NULL) {
            cli_fail("consume", "%s needs a value", o);
            return 2;
        }
        i++;
        char *end;
        long long n = strtoll(v, &end, 10);
        if (strcmp(o, "-f") == 0) {
            a->format = v;
            continue;
        }
        if (*end != '\0' || n < 0) {
            cli_fail("consume", "%s: bad value '%s'", o, v);
            return 2;
        }
        if (strcmp(o, "-p") == 0) {
            a->part = (int32_t)n;
        } else if (strcmp(o, "-n") == 0) {
            a->count = (long)n;
        } else if (strcmp(o, "--idle-ms") == 0) {
            a->idle_ms = (long)n;
        } else {
            a->start = (int64_t)n;
        }
    }
    if (a->topic == NULL) {
        cli_fail("consume", "missing TOPIC");
        return 2;
    }
    if (a->group != NULL && (a->part >= 0 || a->to_end ||
                             a->start >= 0)) {
        cli_fail("consume", "--group takes its partitions and offsets from "
                 "the group: -p, --offset and -e do not apply");
        return 2;
    }
    return 0;
}

/* Partitions to read and, for -e, their end offsets now. */
static strata_topic_partition_list_t *assignment(struct cli_opts *o,
                                                 strata_t *rk,
                                                 const struct consume_args *a,
                                                 int nparts, int64_t **ends)
{
    strata_topic_partition_list_t *l = strata_topic_partition_list_new(nparts);
    *ends = calloc((size_t)nparts, sizeof **ends);
    if (l == NULL || *ends == NULL) {
        strata_topic_partition_list_destroy(l);
        free(*ends);
        cli_fail("consume", "out of memory");
        return NULL;
    }
    for (int32_t p = 0; p < nparts; p++) {
        if (a->part >= 0 && p != a->part) {
            continue;
        }
        strata_topic_partition_list_add(l, a->topic, p)->offset = a->start;
        if (a->to_end) {
            int64_t lo, hi;
            strata_resp_err_t e = strata_query_watermark_offsets(
                rk, a->topic, p, &lo, &hi, cli_timeout_ms(o));
            if (e != 0) {
                cli_fail("consume", "%s [%" PRId32 "]: end offset: %s",
                         a->topic, p, strata_err2str(e));
                strata_topic_partition_list_destroy(l);
                free(*ends);
                return NULL;
            }
            (*ends)[p] = hi;
        }
    }
    return l;
}

/* -e: true once every assigned partition's position reached its end. */
static bool at_end(strata_t *rk, strata_topic_partition_list_t *l,
                   const int64_t *ends, const struct consume_args *a)
{
    strata_position(rk, l);
    for (int i = 0; i < l->cnt; i++) {
        int64_t pos = l->elems[i].offset;
        int64_t end = ends[l->elems[i].partition];
        /* Unknown position: nothing read yet; done when it is empty or
         * started past its end. */
        if (pos == STRATA_OFFSET_INVALID || pos < 0) {
            if (end == 0 || a->start == STRATA_OFFSET_END ||
                a->start >= end) {
                continue;
            }
            return false;
        }
        if (pos < end) {
            return false;
        }
    }
    return true;
}

int cmd_consume(struct cli_opts *o, int argc, char **argv)
{
    struct consume_args a;
    if (parse(argc, argv, &a) != 0) {
        return 2;
    }
    char err[1024];
    const char *grp[] = {"group.id", a.group, "auto.offset.reset",
                         a.start == STRATA_OFFSET_BEGINNING ? "earliest"
                                                            : "latest",
                         NULL};
    strata_t *rk = cli_client_open(o, STRATA_CONSUMER,
                                   a.group != NULL ? grp : NULL, NULL, NULL,
                                   err, sizeof err);
    if (rk == NULL) {
        return cli_fail("consume", "%s", err);
    }
    strata_topic_partition_list_t *sub = NULL;
    if (a.group != NULL) {
        sub = strata_topic_partition_list_new(1);
        strata_topic_partition_list_add(sub, a.topic, STRATA_PARTITION_ANY);
        strata_resp_err_t e = strata_subscribe(rk, sub);
        if (e != 0) {
            strata_topic_partition_list_destroy(sub);
            strata_destroy(rk);
            return cli_fail("consume", "subscribe: %s", strata_err2str(e));
        }
    }
    int nparts = cli_topic_partitions(o, rk, "consume", a.topic);
    if (nparts < 0) {
        strata_destroy(rk);
        return 1;
    }
    if (a.part >= nparts) {
        strata_destroy(rk);
        return cli_fail("consume", "%s: no partition %" PRId32
                        " (it has %d)", a.topic, a.part, nparts);
    }
    int64_t *ends;
    strata_topic_partition_list_t *l = assignment(o, rk, &a, nparts, &ends);
    if (l == NULL) {
        strata_destroy(rk);
        return 1;
    }
    if (a.group == NULL) {
        strata_assign(rk, l);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    long got = 0, idle = 0;
    int rv = 0;
    while (!stop && (a.count == 0 || got < a.count)) {
        if (a.to_end && at_end(rk, l, ends, &a)) {
            break;
        }
        strata_message_t *m = strata_consumer_poll(rk, 100);
        if (m == NULL) {
            idle += 100;
            if (a.idle_ms >= 0 && idle >= a.idle_ms) {
                break;
            }
            continue;
        }
        idle = 0;
        if (m->err == STRATA_ERR__ASSIGNMENT_LOST) {
            strata_message_destroy(m); /* the group reassigns */
            continue;
        }
        if (m->err != 0) {
            rv = cli_fail("consume", "%s [%" PRId32 "]: %s", a.topic,
                          m->partition,
                          m->errstr && m->errstr[0] ? m->errstr
                                                    : strata_err2str(m->err));
            strata_message_destroy(m);
            break;
        }
        if (o->json) {
            print_json(m);
        } else {
            print_fmt(a.format, m);
        }
        got++;
        strata_message_destroy(m);
    }
    fflush(stdout);
    strata_topic_partition_list_destroy(l);
    strata_topic_partition_list_destroy(sub);
    free(ends);
    cli_client_close(rk, a.group != NULL ? 10000 : 1000);
    return rv;
}
