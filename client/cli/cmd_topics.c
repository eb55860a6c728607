/* strata topics create | list | describe | delete, through the controller
 * quorum. Writes follow NOT_CONTROLLER to the leader; list and describe
 * show the applied state of the voter asked (--bootstrap-controller). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/cli.h"
#include "client/cli/ctl_rpc.h"
#include "common/alloc.h"
#include "controller.pb-c.h"
#include "errors.pb-c.h"

#define CONFIGS_MAX 64

static int call(const struct cli_opts *o, uint32_t api,
                const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp,
                const char *what)
{
    char err[1024];
    struct cli_ctl *c;
    if (cli_ctl_open(o, &c, err, sizeof err) != 0) {
        fprintf(stderr, "strata: %s\n", err);
        return 2;
    }
    int32_t error = 0;
    int rv = cli_ctl_call(c, api, req, rd, resp, &error, err, sizeof err);
    cli_ctl_close(c);
    if (rv != 0 || error != 0) {
        fprintf(stderr, "strata: %s: %s\n", what, err);
        if (*resp != NULL) {
            protobuf_c_message_free_unpacked(*resp, NULL);
            *resp = NULL;
        }
        return 1;
    }
    return 0;
}

static void print_ints(FILE *out, const int32_t *v, size_t n, bool json)
{
    fputs(json ? "[" : "", out);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s%" PRId32, i ? "," : "", v[i]);
    }
    fputs(json ? "]" : "", out);
}

/* ---- create ---- */

static int topics_create(const struct cli_opts *o, int argc, char **argv)
{
    if (argc < 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: strata topics create NAME --partitions N "
                "--replication-factor R [--config k=v]...\n");
        return 2;
    }
    Strata__Ctl__CreatableTopic t = STRATA__CTL__CREATABLE_TOPIC__INIT;
    Strata__Ctl__ConfigEntry cfg[CONFIGS_MAX];
    Strata__Ctl__ConfigEntry *cps[CONFIGS_MAX];
    char *kv[CONFIGS_MAX] = {0};
    t.name = argv[0];
    t.partitions = -1;
    t.replication_factor = -1;
    Strata__Ctl__CreateTopicsRequest req =
        STRATA__CTL__CREATE_TOPICS_REQUEST__INIT;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--validate-only") == 0) {
            req.validate_only = true;
        } else if (v && strcmp(argv[i], "--partitions") == 0) {
            t.partitions = atoi(v);
            i++;
        } else if (v && strcmp(argv[i], "--replication-factor") == 0) {
            t.replication_factor = atoi(v);
            i++;
        } else if (v && strcmp(argv[i], "--config") == 0 &&
                   t.n_configs < CONFIGS_MAX && strchr(v, '=') != NULL) {
            size_t k = t.n_configs++;
            kv[k] = st_strdup(v);
            char *eq = strchr(kv[k], '=');
            *eq = '\0';
            strata__ctl__config_entry__init(&cfg[k]);
            cfg[k].key = kv[k];
            cfg[k].value = eq + 1;
            cps[k] = &cfg[k];
            i++;
        } else {
            fprintf(stderr, "strata: topics create: bad argument '%s'\n",
                    argv[i]);
            return 2;
        }
    }
    t.configs = cps;
    Strata__Ctl__CreatableTopic *tp = &t;
    req.topics = &tp;
    req.n_topics = 1;
    ProtobufCMessage *resp = NULL;
    int code = call(o, STRATA__CTL__API__CREATE_TOPICS, &req.base,
                    &strata__ctl__create_topics_response__descriptor, &resp,
                    "topics create");
    for (size_t k = 0; k < t.n_configs; k++) {
        st_free(kv[k]);
    }
    if (code != 0) {
        return code;
    }
    Strata__Ctl__CreateTopicsResponse *r = (void *)resp;
    for (size_t i = 0; i < r->n_topics; i++) {
        const Strata__Ctl__CreateTopicResult *x = r->topics[i];
        int e = x->error ? x->error->error : 0;
        if (o->json) {
            printf("{\"name\":");
            cli_json_str(stdout, x->name);
            printf(",\"topic_id\":\"");
            cli_hex(stdout, x->topic_id.data, x->topic_id.len);
            printf("\",\"error\":%d,\"message\":", e);
            cli_json_str(stdout, x->error ? x->error->message : "");
            printf("}\n");
        } else if (e == 0) {
            printf("created topic %s (id ", x->name);
            cli_hex(stdout, x->topic_id.data, x->topic_id.len);
            printf(")%s\n", req.validate_only ? " [validate only]" : "");
        } else {
            fprintf(stderr, "strata: topics create %s: %s (error %d)\n",
                    x->name, x->error->message, e);
        }
        code = e ? 1 : code;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return code;
}

/* ---- list ---- */

static int topics_list(const struct cli_opts *o)
{
    Strata__Ctl__ListTopicsRequest req = STRATA__CTL__LIST_TOPICS_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    int code = call(o, STRATA__CTL__API__LIST_TOPICS, &req.base,
                    &strata__ctl__list_topics_response__descriptor, &resp,
                    "topics list");
    if (code != 0) {
        return code;
    }
    Strata__Ctl__ListTopicsResponse *r = (void *)resp;
    if (o->json) {
        printf("{\"applied_offset\":%" PRId64 ",\"topics\":[",
               r->applied_offset);
    } else {
        printf("%-40s %10s  %s\n", "TOPIC", "PARTITIONS", "ID");
    }
    for (size_t i = 0; i < r->n_topics; i++) {
        const Strata__Ctl__TopicInfo *t = r->topics[i];
        if (o->json) {
            printf("%s{\"name\":", i ? "," : "");
            cli_json_str(stdout, t->name);
            printf(",\"partitions\":%zu,\"topic_id\":\"", t->n_partitions);
            cli_hex(stdout, t->topic_id.data, t->topic_id.len);
            printf("\"}");
        } else {
            printf("%-40s %10zu  ", t->name, t->n_partitions);
            cli_hex(stdout, t->topic_id.data, t->topic_id.len);
            printf("\n");
        }
    }
    if (o->json) {
        printf("]}\n");
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* ---- describe ---- */

static int topics_describe(const struct cli_opts *o, int argc, char **argv)
{
    Strata__Ctl__DescribeTopicsRequest req =
        STRATA__CTL__DESCRIBE_TOPICS_REQUEST__INIT;
    req.names = argv;
    req.n_names = (size_t)argc;
    ProtobufCMessage *resp = NULL;
    int code = call(o, STRATA__CTL__API__DESCRIBE_TOPICS, &req.base,
                    &strata__ctl__describe_topics_response__descriptor,
                    &resp, "topics describe");
    if (code != 0) {
        return code;
    }
    Strata__Ctl__DescribeTopicsResponse *r = (void *)resp;
    if (o->json) {
        printf("{\"applied_offset\":%" PRId64 ",\"topics\":[",
               r->applied_offset);
    }
    for (size_t i = 0; i < r->n_topics; i++) {
        const Strata__Ctl__TopicInfo *t = r->topics[i];
        int e = t->error ? t->error->error : 0;
        if (e != 0) {
            fprintf(stderr, "strata: topics describe %s: %s\n", t->name,
                    t->error->message);
            code = 1;
        }
        if (o->json) {
            printf("%s{\"name\":", i ? "," : "");
            cli_json_str(stdout, t->name);
            printf(",\"error\":%d,\"topic_id\":\"", e);
            cli_hex(stdout, t->topic_id.data, t->topic_id.len);
            printf("\",\"configs\":{");
            for (size_t k = 0; k < t->n_configs; k++) {
                printf("%s", k ? "," : "");
                cli_json_str(stdout, t->configs[k]->key);
                printf(":");
                cli_json_str(stdout, t->configs[k]->value);
            }
            printf("},\"partitions\":[");
        } else if (e == 0) {
            printf("topic %s  id ", t->name);
            cli_hex(stdout, t->topic_id.data, t->topic_id.len);
            printf("  partitions %zu", t->n_partitions);
            for (size_t k = 0; k < t->n_configs; k++) {
                printf("  %s=%s", t->configs[k]->key, t->configs[k]->value);
            }
            printf("\n%-10s %-8s %-13s %-16s %-16s %s\n", "PARTITION",
                   "LEADER", "LEADER-EPOCH", "PARTITION-EPOCH", "REPLICAS",
                   "ISR");
        }
        for (size_t p = 0; p < t->n_partitions; p++) {
            const Strata__Ctl__PartitionInfo *pi = t->partitions[p];
            if (o->json) {
                printf("%s{\"partition\":%" PRId32 ",\"leader\":%" PRId32
                       ",\"leader_epoch\":%" PRId32
                       ",\"partition_epoch\":%" PRId32 ",\"replicas\":",
                       p ? "," : "", pi->partition, pi->leader,
                       pi->leader_epoch, pi->partition_epoch);
                print_ints(stdout, pi->replicas, pi->n_replicas, true);
                printf(",\"isr\":");
                print_ints(stdout, pi->isr, pi->n_isr, true);
                printf("}");
            } else {
                printf("%-10" PRId32 " %-8" PRId32 " %-13" PRId32
                       " %-16" PRId32 " ", pi->partition, pi->leader,
                       pi->leader_epoch, pi->partition_epoch);
                char reps[128];
                FILE *m = fmemopen(reps, sizeof reps, "w");
                if (m != NULL) {
                    print_ints(m, pi->replicas, pi->n_replicas, false);
                    fclose(m);
                    printf("%-16s ", reps);
                }
                print_ints(stdout, pi->isr, pi->n_isr, false);
                printf("\n");
            }
        }
        if (o->json) {
            printf("]}");
        }
    }
    if (o->json) {
        printf("]}\n");
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return code;
}

/* ---- delete ---- */

static int topics_delete(const struct cli_opts *o, int argc, char **argv)
{
    Strata__Ctl__DeleteTopicsRequest req =
        STRATA__CTL__DELETE_TOPICS_REQUEST__INIT;
    req.names = argv;
    req.n_names = (size_t)argc;
    ProtobufCMessage *resp = NULL;
    int code = call(o, STRATA__CTL__API__DELETE_TOPICS, &req.base,
                    &strata__ctl__delete_topics_response__descriptor, &resp,
                    "topics delete");
    if (code != 0) {
        return code;
    }
    Strata__Ctl__DeleteTopicsResponse *r = (void *)resp;
    for (size_t i = 0; i < r->n_topics; i++) {
        const Strata__Ctl__DeleteTopicResult *x = r->topics[i];
        int e = x->error ? x->error->error : 0;
        if (o->json) {
            printf("{\"name\":");
            cli_json_str(stdout, x->name);
            printf(",\"error\":%d}\n", e);
        } else if (e == 0) {
            printf("deleted topic %s\n", x->name);
        } else {
            fprintf(stderr, "strata: topics delete %s: %s (error %d)\n",
                    x->name, x->error->message, e);
        }
        code = e ? 1 : code;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return code;
}

int cmd_topics(const struct cli_opts *o, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    if (strcmp(sub, "create") == 0) {
        return topics_create(o, argc - 1, argv + 1);
    }
    if (strcmp(sub, "list") == 0) {
        return topics_list(o);
    }
    if (strcmp(sub, "describe") == 0 && argc >= 2) {
        return topics_describe(o, argc - 1, argv + 1);
    }
    if (strcmp(sub, "delete") == 0 && argc >= 2) {
        return topics_delete(o, argc - 1, argv + 1);
    }
    fprintf(stderr, "usage: strata topics create|list|describe NAME|"
            "delete NAME\n");
    return 2;
}
