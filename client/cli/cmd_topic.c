/* strata topic create|list|describe|delete|alter-config|add-partitions:
 * topic administration through the brokers (which forward to the active
 * controller), with start and end offsets from the partition leaders. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/client.h"

#define CONFIGS_MAX 64

struct topic_args {
    const char *name;
    int partitions, replication, total;
    strata_config_entry_t configs[CONFIGS_MAX];
    size_t n_configs;
};

static int parse_int(const char *what, const char *v, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n <= 0 || n > 1000000) {
        cli_fail(what, "bad value '%s': expected a positive number", v);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static int add_config(struct topic_args *a, char *kv, bool remove)
{
    if (a->n_configs == CONFIGS_MAX) {
        cli_fail("-c", "more than %d configs", CONFIGS_MAX);
        return -1;
    }
    strata_config_entry_t *c = &a->configs[a->n_configs];
    c->key = kv;
    c->value = "";
    c->remove = remove;
    if (!remove) {
        char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv) {
            cli_fail("-c", "expected key=value, got '%s'", kv);
            return -1;
        }
        *eq = '\0';
        c->value = eq + 1;
    }
    a->n_configs++;
    return 0;
}

/* Parse "NAME [options]" for @cmd. Returns 0, or 2 (usage, printed). */
static int parse(const char *cmd, int argc, char **argv, struct topic_args *a)
{
    memset(a, 0, sizeof *a);
    a->partitions = -1;
    a->replication = -1;
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (o[0] != '-') {
            if (a->name != NULL) {
                cli_fail(cmd, "unexpected argument '%s'", o);
                return 2;
            }
            a->name = o;
            continue;
        }
        bool takes = strcmp(o, "-p") == 0 || strcmp(o, "--partitions") == 0 ||
                     strcmp(o, "-r") == 0 ||
                     strcmp(o, "--replication-factor") == 0 ||
                     strcmp(o, "-c") == 0 || strcmp(o, "--config-entry") == 0 ||
                     strcmp(o, "--delete") == 0 || strcmp(o, "--total") == 0;
        if (!takes) {
            cli_fail(cmd, "unknown option '%s'", o);
            return 2;
        }
        if (v == NULL) {
            cli_fail(cmd, "%s needs a value", o);
            return 2;
        }
        i++;
        int rv;
        if (o[1] == 'p' || strcmp(o, "--partitions") == 0) {
            rv = parse_int(o, v, &a->partitions);
        } else if (o[1] == 'r' || strcmp(o, "--replication-factor") == 0) {
            rv = parse_int(o, v, &a->replication);
        } else if (strcmp(o, "--total") == 0) {
            rv = parse_int(o, v, &a->total);
        } else {
            rv = add_config(a, argv[i], strcmp(o, "--delete") == 0);
        }
        if (rv != 0) {
            return 2;
        }
    }
    if (a->name == NULL) {
        cli_fail(cmd, "missing topic NAME");
        return 2;
    }
    return 0;
}

static int result(const struct cli_opts *o, const char *cmd,
                  const strata_topic_result_t *r, const char *done)
{
    if (r->err != 0) {
        return cli_fail(cmd, "%s: %s", r->name,
                        r->errstr[0] ? r->errstr : strata_err2str(r->err));
    }
    if (o->json) {
        printf("{\"topic\":");
        cli_json_str(stdout, r->name);
        printf(",\"result\":\"%s\"}\n", done);
    } else {
        printf("%s topic %s\n", done, r->name);
    }
    return 0;
}

static int topic_create(struct cli_opts *o, strata_t *rk,
                        const struct topic_args *a)
{
    strata_new_topic_t t = {a->name, a->partitions, a->replication,
                            a->configs, a->n_configs};
    strata_topic_result_t r;
    char err[512];
    if (strata_admin_create_topics(rk, &t, 1, &r, cli_timeout_ms(o), err,
                                   sizeof err) != 0) {
        return cli_fail("topic create", "%s", err);
    }
    return result(o, "topic create", &r, "created");
}

static int topic_delete(struct cli_opts *o, strata_t *rk,
                        const struct topic_args *a)
{
    strata_topic_result_t r;
    char err[512];
    if (strata_admin_delete_topics(rk, &a->name, 1, &r, cli_timeout_ms(o),
                                   err, sizeof err) != 0) {
        return cli_fail("topic delete", "%s", err);
    }
    return result(o, "topic delete", &r, "deleted");
}

static int topic_list(struct cli_opts *o, strata_t *rk)
{
    strata_metadata_t *md;
    char err[512];
    if (strata_admin_list_topics(rk, &md, cli_timeout_ms(o), err,
                                 sizeof err) != 0) {
        return cli_fail("topic list", "%s", err);
    }
    if (o->json) {
        printf("{\"topics\":[");
    } else {
        printf("%-40s %10s\n", "TOPIC", "PARTITIONS");
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        const strata_topic_info_t *t = &md->topics[i];
        if (o->json) {
            printf("%s{\"name\":", i ? "," : "");
            cli_json_str(stdout, t->name);
            printf(",\"partitions\":%d}", t->partition_cnt);
        } else {
            printf("%-40s %10d\n", t->name, t->partition_cnt);
        }
    }
    if (o->json) {
        printf("]}\n");
    }
    strata_metadata_destroy(md);
    return 0;
}

/* "1,2,3" into @buf (@cap bytes). */
static void ids(char *buf, size_t cap, const int32_t *v, int n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++) {
        len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId32,
                                i ? "," : "", v[i]);
    }
}

/* Print one topic with its offsets. Returns 0, or 1 with the error
 * printed. */
static int describe_one(struct cli_opts *o, strata_t *rk,
                        const strata_topic_info_t *t)
{
    if (t->err != 0) {
        return cli_fail("topic describe", "%s: %s", t->name,
                        t->err == STRATA_ERR_UNKNOWN_TOPIC_OR_PARTITION
                            ? "unknown topic"
                            : (t->errstr && t->errstr[0]
                                   ? t->errstr
                                   : strata_err2str(t->err)));
    }
    int n = t->partition_cnt;
    strata_topic_partition_list_t *lo = strata_topic_partition_list_new(n);
    strata_topic_partition_list_t *hi = strata_topic_partition_list_new(n);
    if (lo == NULL || hi == NULL) {
        strata_topic_partition_list_destroy(lo);
        strata_topic_partition_list_destroy(hi);
        return cli_fail("topic describe", "out of memory");
    }
    for (int i = 0; i < n; i++) {
        strata_topic_partition_list_add(lo, t->name, t->partitions[i].id)
            ->offset = STRATA_OFFSET_BEGINNING;
        strata_topic_partition_list_add(hi, t->name, t->partitions[i].id)
            ->offset = STRATA_OFFSET_END;
    }
    if (n > 0) {
        /* Per-partition errors (a leaderless partition) show as "?". */
        strata_admin_list_offsets(rk, lo, cli_timeout_ms(o));
        strata_admin_list_offsets(rk, hi, cli_timeout_ms(o));
    }
    if (o->json) {
        printf("{\"name\":");
        cli_json_str(stdout, t->name);
        printf(",\"partitions\":[");
    } else {
        printf("topic %s  partitions %d", t->name, n);
        for (int i = 0; i < t->config_cnt; i++) {
            printf("%s%s=%s", i ? " " : "  configs ", t->configs[i].key,
                   t->configs[i].value);
        }
        printf("\n%-9s %-6s %-6s %-14s %-14s %12s %12s\n", "PARTITION",
               "LEADER", "EPOCH", "REPLICAS", "ISR", "START", "END");
    }
    for (int i = 0; i < n; i++) {
        const strata_partition_info_t *p = &t->partitions[i];
        char rep[128], isr[128];
        ids(rep, sizeof rep, p->replicas, p->replica_cnt);
        ids(isr, sizeof isr, p->isrs, p->isr_cnt);
        int64_t start = lo->elems[i].err ? -1 : lo->elems[i].offset;
        int64_t end = hi->elems[i].err ? -1 : hi->elems[i].offset;
        if (o->json) {
            printf("%s{\"partition\":%" PRId32 ",\"leader\":%" PRId32
                   ",\"leader_epoch\":%" PRId32 ",\"replicas\":[%s],"
                   "\"isr\":[%s],\"start_offset\":%" PRId64
                   ",\"end_offset\":%" PRId64 "}",
                   i ? "," : "", p->id, p->leader, p->leader_epoch, rep, isr,
                   start, end);
        } else {
            char s1[32] = "?", s2[32] = "?";
            if (start >= 0) {
                snprintf(s1, sizeof s1, "%" PRId64, start);
            }
            if (end >= 0) {
                snprintf(s2, sizeof s2, "%" PRId64, end);
            }
            char lead[16] = "none";
            if (p->leader >= 0) {
                snprintf(lead, sizeof lead, "%" PRId32, p->leader);
            }
            printf("%-9" PRId32 " %-6s %-6" PRId32 " %-14s %-14s %12s %12s\n",
                   p->id, lead, p->leader_epoch, rep, isr, s1, s2);
        }
    }
    if (o->json) {
        printf("],\"configs\":{");
        for (int i = 0; i < t->config_cnt; i++) {
            printf("%s", i ? "," : "");
            cli_json_str(stdout, t->configs[i].key);
            printf(":");
            cli_json_str(stdout, t->configs[i].value);
        }
        printf("}}\n");
    }
    strata_topic_partition_list_destroy(lo);
    strata_topic_partition_list_destroy(hi);
    return 0;
}

static int describe(struct cli_opts *o, strata_t *rk, const char *name,
                    strata_metadata_t **mdp, const char *cmd)
{
    char err[512];
    if (strata_admin_describe_topics(rk, &name, 1, mdp, cli_timeout_ms(o),
                                     err, sizeof err) != 0) {
        return cli_fail(cmd, "%s", err);
    }
    if ((*mdp)->topic_cnt != 1) {
        strata_metadata_destroy(*mdp);
        return cli_fail(cmd, "%s: unknown topic", name);
    }
    return 0;
}

static int topic_describe(struct cli_opts *o, strata_t *rk,
                          const struct topic_args *a)
{
    strata_metadata_t *md;
    if (describe(o, rk, a->name, &md, "topic describe") != 0) {
        return 1;
    }
    int rv = describe_one(o, rk, &md->topics[0]);
    strata_metadata_destroy(md);
    return rv;
}

static int topic_alter(struct cli_opts *o, strata_t *rk,
                       const struct topic_args *a)
{
    if (a->n_configs == 0) {
        cli_fail("topic alter-config", "give -c key=value or --delete key");
        return 2;
    }
    char err[512];
    if (strata_admin_alter_configs(rk, a->name, a->configs, a->n_configs,
                                   cli_timeout_ms(o), err, sizeof err) != 0) {
        return cli_fail("topic alter-config", "%s", err);
    }
    strata_topic_result_t r = {.name = a->name};
    return result(o, "topic alter-config", &r, "altered");
}

/* Grow the topic to --total partitions (the controller refuses a total
 * not above the current count, and an unknown topic, in its own words). */
static int topic_add_partitions(struct cli_opts *o, strata_t *rk,
                                const struct topic_args *a)
{
    if (a->total <= 0) {
        cli_fail("topic add-partitions", "give --total N");
        return 2;
    }
    strata_new_partitions_t np = {a->name, a->total};
    strata_topic_result_t r;
    char err[512];
    if (strata_admin_create_partitions(rk, &np, 1, &r, cli_timeout_ms(o),
                                       err, sizeof err) != 0) {
        return cli_fail("topic add-partitions", "%s", err);
    }
    if (r.err != 0) {
        return result(o, "topic add-partitions", &r, NULL);
    }
    if (o->json) {
        printf("{\"topic\":");
        cli_json_str(stdout, a->name);
        printf(",\"result\":\"grown\",\"partitions\":%d}\n", a->total);
    } else {
        printf("topic %s now has %d partitions\n", a->name, a->total);
    }
    return 0;
}

int cmd_topic(struct cli_opts *o, int argc, char **argv)
{
    const char *cmds = "create|list|describe|delete|alter-config|"
                       "add-partitions";
    if (argc < 1) {
        cli_fail("usage", "strata topic %s ...", cmds);
        return 2;
    }
    const char *sub = argv[0];
    bool list = strcmp(sub, "list") == 0;
    if (!list && strcmp(sub, "create") != 0 && strcmp(sub, "describe") != 0 &&
        strcmp(sub, "delete") != 0 && strcmp(sub, "alter-config") != 0 &&
        strcmp(sub, "add-partitions") != 0) {
        cli_fail("usage", "unknown topic command '%s' (%s)", sub, cmds);
        return 2;
    }
    char what[64];
    snprintf(what, sizeof what, "topic %s", sub);
    struct topic_args a;
    if (list && argc > 1) {
        cli_fail(what, "unexpected argument '%s'", argv[1]);
        return 2;
    }
    if (!list && parse(what, argc - 1, argv + 1, &a) != 0) {
        return 2;
    }
    char err[1024];
    strata_t *rk = cli_client_open(o, STRATA_ADMIN, NULL, NULL, NULL, err,
                                   sizeof err);
    if (rk == NULL) {
        return cli_fail(what, "%s", err);
    }
    int rv;
    if (list) {
        rv = topic_list(o, rk);
    } else if (strcmp(sub, "create") == 0) {
        rv = topic_create(o, rk, &a);
    } else if (strcmp(sub, "describe") == 0) {
        rv = topic_describe(o, rk, &a);
    } else if (strcmp(sub, "delete") == 0) {
        rv = topic_delete(o, rk, &a);
    } else if (strcmp(sub, "alter-config") == 0) {
        rv = topic_alter(o, rk, &a);
    } else {
        rv = topic_add_partitions(o, rk, &a);
    }
    strata_destroy(rk);
    return rv;
}
