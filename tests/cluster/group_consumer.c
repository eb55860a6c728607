/* Consumer-group test tool for tests/cluster/group_*.sh, using only the
 * public <strata.h>.
 *
 *   group_consumer BOOTS CERTS create TOPIC PARTITIONS RF
 *   group_consumer BOOTS CERTS produce TOPIC N RATE   (RATE rec/s, 0 max)
 *   group_consumer BOOTS CERTS consume GROUP TOPIC OUT [key=value...]
 *       Subscribes; every record is "processed" by appending
 *       "<partition> <offset> <value>" to OUT (flushed), then the
 *       positions are committed synchronously (commit after processing),
 *       unless enable.auto.commit=true was given. Prints one line per
 *       event on stdout: "assigned t-0,t-3" (the whole set after each
 *       change), "revoked ...", "lost", "commit-failed ...". SIGUSR1 prints
 *       "maxgap_ms=<n> records=<n> window", the longest gap between two
 *       records since the previous SIGUSR1, and starts a new window;
 *       SIGTERM closes cleanly (leaves the group) and prints the same.
 *       The tool's own keys: commit.async=true, hold.after=N (pause all
 *       after N records), stall.after=N stall.ms=M (stop polling M ms
 *       after N records).
 *   group_consumer BOOTS CERTS monitor GROUP TOPIC PARTITIONS SECONDS
 *       Reads the committed offsets every 50 ms; fails if one goes
 *       backwards, prints "monitor ok reads=<n>".
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "strata.h"

static const char *boot;
static const char *certs;
static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reset_gap;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "group_consumer: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set(strata_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (strata_conf_set(c, k, v, err, sizeof err) != STRATA_CONF_OK) {
        die("config %s=%s: %s", k, v, err);
    }
}

static strata_conf_t *base_conf(void)
{
    char p[512];
    strata_conf_t *c = strata_conf_new();
    set(c, "bootstrap.servers", boot);
    snprintf(p, sizeof p, "%s/ca.pem", certs);
    set(c, "ssl.ca.location", p);
    snprintf(p, sizeof p, "%s/client.pem", certs);
    if (access(p, R_OK) == 0) {
        set(c, "ssl.certificate.location", p);
        snprintf(p, sizeof p, "%s/client.key", certs);
        set(c, "ssl.key.location", p);
    }
    return c;
}

static strata_t *make(strata_type_t type, strata_conf_t *c)
{
    char err[512];
    strata_t *rk = strata_new(type, c, err, sizeof err);
    if (rk == NULL) {
        die("strata_new: %s", err);
    }
    if (strata_wait_ready(rk, 15000, err, sizeof err) != 0) {
        die("wait_ready: %s", err);
    }
    return rk;
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1) {
        reset_gap = 1;
    } else {
        stop_flag = 1;
    }
}

/* ---- create ---- */

static int sc_create(char **argv)
{
    strata_t *rk = make(STRATA_ADMIN, base_conf());
    int parts = atoi(argv[1]);
    strata_new_topic_t t = {argv[0], parts, atoi(argv[2]), NULL, 0};
    strata_topic_result_t res;
    char err[512];
    strata_resp_err_t e =
        strata_admin_create_topics(rk, &t, 1, &res, 10000, err, sizeof err);
    if (e != 0 || res.err != 0) {
        die("create %s: %s %s", argv[0], strata_err2str(e ? e : res.err),
            e ? err : res.errstr);
    }
    /* Wait until every partition has a leader. */
    for (int64_t end = now_ms() + 20000; now_ms() < end; usleep(100000)) {
        strata_metadata_t *md;
        const char *names[1] = {argv[0]};
        if (strata_admin_describe_topics(rk, names, 1, &md, 5000, err,
                                         sizeof err) != 0) {
            continue;
        }
        int ok = md->topic_cnt == 1 && md->topics[0].partition_cnt == parts;
        for (int i = 0; ok && i < md->topics[0].partition_cnt; i++) {
            ok = md->topics[0].partitions[i].leader >= 0;
        }
        strata_metadata_destroy(md);
        if (ok) {
            strata_destroy(rk);
            return 0;
        }
    }
    die("topic %s: leaders not elected in time", argv[0]);
    return 1;
}

/* ---- produce ---- */

static long delivered, failed;

static void on_dr(strata_t *rk, const strata_message_t *m, void *opaque)
{
    if (m->err != 0) {
        failed++;
        fprintf(stderr, "delivery failed: %s\n", strata_err2str(m->err));
    } else {
        delivered++;
    }
}

static int sc_produce(char **argv)
{
    strata_conf_t *c = base_conf();
    set(c, "acks", "all");
    set(c, "linger.ms", "5");
    strata_conf_set_dr_msg_cb(c, on_dr);
    strata_t *rk = make(STRATA_PRODUCER, c);
    long n = atol(argv[1]);
    long rate = atol(argv[2]);
    int64_t t0 = now_ms();
    for (long i = 0; i < n; i++) {
        char v[32];
        int len = snprintf(v, sizeof v, "%ld", i);
        for (;;) {
            strata_resp_err_t e = strata_produce(
                rk, argv[0], STRATA_PARTITION_ANY, v, (size_t)len, v,
                (size_t)len, NULL, 0, STRATA_MSG_F_COPY, NULL);
            if (e == 0) {
                break;
            }
            if (e != STRATA_ERR__QUEUE_FULL) {
                die("produce: %s", strata_err2str(e));
            }
            strata_poll(rk, 10);
        }
        strata_poll(rk, 0);
        if (rate > 0) {
            int64_t due = t0 + (i + 1) * 1000 / rate;
            while (now_ms() < due) {
                strata_poll(rk, (int)(due - now_ms()));
            }
        }
    }
    if (strata_flush(rk, 180000) != 0) {
        die("flush timed out: %ld delivered, %ld failed", delivered, failed);
    }
    strata_destroy(rk);
    printf("produced=%ld failed=%ld\n", delivered, failed);
    return failed == 0 && delivered == n ? 0 : 1;
}

/* ---- consume ---- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "<what> <t-p,...> t=<wall ms>" */
static void print_list(const char *what,
                       const strata_topic_partition_list_t *l)
{
    printf("%s ", what);
    for (int i = 0; l != NULL && i < l->cnt; i++) {
        printf("%s%s-%d", i ? "," : "", l->elems[i].topic,
               l->elems[i].partition);
    }
    printf(" t=%lld\n", (long long)wall_ms());
    fflush(stdout);
}

static strata_topic_partition_list_t *owned;

static void on_rebalance(strata_t *rk, strata_resp_err_t err,
                         strata_topic_partition_list_t *parts, void *opaque)
{
    if (err == STRATA_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            strata_topic_partition_list_add(owned, parts->elems[i].topic,
                                            parts->elems[i].partition);
        }
        strata_assign(rk, parts);
    } else {
        print_list(err == STRATA_ERR__REVOKE_PARTITIONS ? "revoked" : "lost",
                   parts);
        strata_topic_partition_list_t *keep =
            strata_topic_partition_list_new(owned->cnt + 1);
        for (int i = 0; i < owned->cnt; i++) {
            if (strata_topic_partition_list_find(parts,
                                                 owned->elems[i].topic,
                                                 owned->elems[i].partition) ==
                NULL) {
                strata_topic_partition_list_add(keep, owned->elems[i].topic,
                                                owned->elems[i].partition);
            }
        }
        strata_topic_partition_list_destroy(owned);
        owned = keep;
        /* Committing here is allowed (the partitions are still ours); the
         * main loop committed after each processed batch already. */
        strata_assign(rk, NULL);
    }
    print_list("assigned", owned);
}

static long async_ok, async_failed;

static void on_commit(strata_t *rk, strata_resp_err_t err,
                      const strata_topic_partition_list_t *offsets,
                      void *opaque)
{
    if (err == 0) {
        async_ok++;
    } else {
        async_failed++;
    }
}

static int sc_consume(int argc, char **argv)
{
    const char *group = argv[0], *topic = argv[1], *out_path = argv[2];
    strata_conf_t *c = base_conf();
    set(c, "group.id", group);
    set(c, "auto.offset.reset", "earliest");
    set(c, "enable.auto.commit", "false");
    set(c, "fetch.max.wait.ms", "100");
    int auto_commit = 0, async = 0;
    long hold_after = -1, stall_after = -1, stall_ms = 0;
    for (int i = 3; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL) {
            die("expected key=value: %s", argv[i]);
        }
        *eq = '\0';
        /* The tool's own keys: commit.async=true commits asynchronously
         * (results counted by the offset commit callback); hold.after=N
         * pauses every partition after N records and keeps polling. */
        if (strcmp(argv[i], "commit.async") == 0) {
            async = strcmp(eq + 1, "true") == 0;
            continue;
        }
        if (strcmp(argv[i], "hold.after") == 0) {
            hold_after = atol(eq + 1);
            continue;
        }
        if (strcmp(argv[i], "stall.after") == 0) { /* records, then */
            stall_after = atol(eq + 1);
            continue;
        }
        if (strcmp(argv[i], "stall.ms") == 0) { /* no poll this long */
            stall_ms = atol(eq + 1);
            continue;
        }
        set(c, argv[i], eq + 1);
        if (strcmp(argv[i], "enable.auto.commit") == 0) {
            auto_commit = strcmp(eq + 1, "true") == 0;
        }
    }
    strata_conf_set_rebalance_cb(c, on_rebalance);
    strata_conf_set_offset_commit_cb(c, on_commit);
    FILE *out = fopen(out_path, "a");
    if (out == NULL) {
        die("open %s", out_path);
    }
    owned = strata_topic_partition_list_new(16);
    strata_t *rk = make(STRATA_CONSUMER, c);
    strata_topic_partition_list_t *sub = strata_topic_partition_list_new(1);
    strata_topic_partition_list_add(sub, topic, STRATA_PARTITION_ANY);
    if (strata_subscribe(rk, sub) != 0) {
        die("subscribe failed");
    }
    strata_topic_partition_list_destroy(sub);
    printf("subscribed t=%lld\n", (long long)wall_ms());
    fflush(stdout);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGUSR1, on_signal);
    long records = 0, since_commit = 0;
    int64_t last = 0, maxgap = 0, last_commit = now_ms();
    while (!stop_flag) {
        if (reset_gap) {
            reset_gap = 0;
            printf("maxgap_ms=%lld records=%ld window\n", (long long)maxgap,
                   records);
            fflush(stdout);
            maxgap = 0;
            last = now_ms();
        }
        strata_message_t *m = strata_consumer_poll(rk, 100);
        int64_t now = now_ms();
        if (m != NULL && m->err == 0) {
            if (last > 0 && now - last > maxgap) {
                maxgap = now - last;
            }
            last = now;
            fprintf(out, "%d %lld %.*s\n", m->partition,
                    (long long)m->offset, (int)m->value_len,
                    (const char *)m->value);
            records++;
            since_commit++;
            if (records == stall_after) {
                printf("stalling %ld ms t=%lld\n", stall_ms,
                       (long long)wall_ms());
                fflush(stdout);
                usleep((useconds_t)stall_ms * 1000);
            }
            if (records == hold_after) {
                strata_pause(rk, owned);
                printf("held after %ld records\n", records);
                fflush(stdout);
            }
        } else if (m != NULL) {
            printf("event %s: %s\n", strata_err2str(m->err), m->errstr);
            fflush(stdout);
        }
        if (m != NULL) {
            strata_message_destroy(m);
        }
        if (!auto_commit && since_commit > 0 &&
            (since_commit >= 500 || now - last_commit >= 200)) {
            fflush(out); /* processed before committed */
            strata_resp_err_t e = strata_commit(rk, NULL, async);
            if (e != 0 && e != STRATA_ERR__NO_OFFSET) {
                printf("commit-failed %s\n", strata_err2str(e));
                fflush(stdout);
            }
            since_commit = 0;
            last_commit = now;
        }
    }
    fflush(out);
    if (!auto_commit && since_commit > 0) {
        strata_commit(rk, NULL, 0);
    }
    strata_close(rk, 10000);
    printf("maxgap_ms=%lld records=%ld async_ok=%ld async_failed=%ld\n",
           (long long)maxgap, records, async_ok, async_failed);
    fflush(stdout);
    strata_destroy(rk);
    strata_topic_partition_list_destroy(owned);
    fclose(out);
    return 0;
}

/* ---- monitor ---- */

static int sc_monitor(char **argv)
{
    strata_conf_t *c = base_conf();
    set(c, "group.id", argv[0]);
    strata_t *rk = make(STRATA_CONSUMER, c);
    int parts = atoi(argv[2]);
    int64_t end = now_ms() + atol(argv[3]) * 1000;
    int64_t last[parts];
    long reads = 0;
    for (int i = 0; i < parts; i++) {
        last[i] = -1;
    }
    signal(SIGTERM, on_signal);
    while (!stop_flag && now_ms() < end) {
        strata_topic_partition_list_t *l =
            strata_topic_partition_list_new(parts);
        for (int i = 0; i < parts; i++) {
            strata_topic_partition_list_add(l, argv[1], i);
        }
        if (strata_committed(rk, l, 5000) == 0) {
            reads++;
            for (int i = 0; i < parts; i++) {
                int64_t o = l->elems[i].offset;
                if (o >= 0 && o < last[i]) {
                    die("committed offset of %s-%d went back from %lld to "
                        "%lld", argv[1], i, (long long)last[i],
                        (long long)o);
                }
                if (o >= 0) {
                    last[i] = o;
                }
            }
        }
        strata_topic_partition_list_destroy(l);
        usleep(50000);
    }
    printf("monitor ok reads=%ld", reads);
    for (int i = 0; i < parts; i++) {
        printf(" %d:%lld", i, (long long)last[i]);
    }
    printf("\n");
    strata_destroy(rk);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        die("usage: group_consumer BOOTS CERTS create|produce|consume|"
            "monitor ...");
    }
    boot = argv[1];
    certs = argv[2];
    const char *cmd = argv[3];
    if (strcmp(cmd, "create") == 0 && argc == 7) {
        return sc_create(argv + 4);
    }
    if (strcmp(cmd, "produce") == 0 && argc == 7) {
        return sc_produce(argv + 4);
    }
    if (strcmp(cmd, "consume") == 0 && argc >= 7) {
        return sc_consume(argc - 4, argv + 4);
    }
    if (strcmp(cmd, "monitor") == 0 && argc == 8) {
        return sc_monitor(argv + 4);
    }
    die("bad arguments for %s", cmd);
    return 2;
}
