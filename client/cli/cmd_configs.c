/* strata configs describe | alter: dynamic config overrides kept in the
 * metadata log (topic, cluster-wide default, or one broker). Alter follows
 * NOT_CONTROLLER to the leader; describe shows the voter's applied state. */
#include <inttypes.h>
#include <string.h>

#include "client/cli/cli.h"
#include "client/cli/ctl_rpc.h"
#include "common/alloc.h"
#include "controller.pb-c.h"

#define ALTER_MAX 64

struct target {
    Strata__Ctl__ResourceType type;
    const char *name;
};

/* Parse --cluster | --topic NAME | --broker ID at argv[*i]. */
static bool parse_target(int argc, char **argv, int *i, struct target *t)
{
    if (strcmp(argv[*i], "--cluster") == 0) {
        t->type = STRATA__CTL__RESOURCE_TYPE__RESOURCE_CLUSTER;
        t->name = "";
        return true;
    }
    if (*i + 1 < argc && strcmp(argv[*i], "--topic") == 0) {
        t->type = STRATA__CTL__RESOURCE_TYPE__RESOURCE_TOPIC;
        t->name = argv[++*i];
        return true;
    }
    if (*i + 1 < argc && strcmp(argv[*i], "--broker") == 0) {
        t->type = STRATA__CTL__RESOURCE_TYPE__RESOURCE_BROKER;
        t->name = argv[++*i];
        return true;
    }
    return false;
}

static int run_call(const struct cli_opts *o, uint32_t api,
                    const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *rd,
                    ProtobufCMessage **resp, const char *what)
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

static int configs_describe(const struct cli_opts *o, int argc, char **argv)
{
    struct target t = {0};
    for (int i = 0; i < argc; i++) {
        if (!parse_target(argc, argv, &i, &t)) {
            fprintf(stderr, "strata: configs describe: bad argument '%s'\n",
                    argv[i]);
            return 2;
        }
    }
    if (t.type == 0) {
        fprintf(stderr, "usage: strata configs describe --cluster | --topic "
                "NAME | --broker ID\n");
        return 2;
    }
    Strata__Ctl__DescribeConfigsRequest req =
        STRATA__CTL__DESCRIBE_CONFIGS_REQUEST__INIT;
    req.resource = t.type;
    req.name = (char *)t.name;
    ProtobufCMessage *resp = NULL;
    int code = run_call(o, STRATA__CTL__API__DESCRIBE_CONFIGS, &req.base,
                        &strata__ctl__describe_configs_response__descriptor,
                        &resp, "configs describe");
    if (code != 0) {
        return code;
    }
    Strata__Ctl__DescribeConfigsResponse *r = (void *)resp;
    if (r->error != NULL && r->error->error != 0) {
        fprintf(stderr, "strata: configs describe: %s\n", r->error->message);
        code = 1;
    } else if (o->json) {
        printf("{");
        for (size_t i = 0; i < r->n_configs; i++) {
            printf("%s", i ? "," : "");
            cli_json_str(stdout, r->configs[i]->key);
            printf(":");
            cli_json_str(stdout, r->configs[i]->value);
        }
        printf("}\n");
    } else {
        printf("%-36s %s\n", "KEY", "VALUE");
        for (size_t i = 0; i < r->n_configs; i++) {
            printf("%-36s %s\n", r->configs[i]->key, r->configs[i]->value);
        }
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return code;
}

static int configs_alter(const struct cli_opts *o, int argc, char **argv)
{
    struct target t = {0};
    Strata__Ctl__ConfigAlteration alts[ALTER_MAX];
    Strata__Ctl__ConfigAlteration *aps[ALTER_MAX];
    char *owned[ALTER_MAX] = {0};
    size_t n = 0;
    Strata__Ctl__AlterConfigsRequest req =
        STRATA__CTL__ALTER_CONFIGS_REQUEST__INIT;
    int code = 2;
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (parse_target(argc, argv, &i, &t)) {
            continue;
        }
        if (strcmp(argv[i], "--validate-only") == 0) {
            req.validate_only = true;
            continue;
        }
        if (v == NULL || n == ALTER_MAX ||
            (strcmp(argv[i], "--set") != 0 &&
             strcmp(argv[i], "--delete") != 0) ||
            (strcmp(argv[i], "--set") == 0 && strchr(v, '=') == NULL)) {
            fprintf(stderr, "strata: configs alter: bad argument '%s'\n",
                    argv[i]);
            goto out;
        }
        strata__ctl__config_alteration__init(&alts[n]);
        owned[n] = st_strdup(v);
        if (strcmp(argv[i], "--set") == 0) {
            char *eq = strchr(owned[n], '=');
            *eq = '\0';
            alts[n].value = eq + 1;
        } else {
            alts[n].remove = true;
        }
        alts[n].key = owned[n];
        aps[n] = &alts[n];
        n++;
        i++;
    }
    if (t.type == 0 || n == 0) {
        fprintf(stderr, "usage: strata configs alter --cluster | --topic "
                "NAME | --broker ID [--set k=v]... [--delete k]... "
                "[--validate-only]\n");
        goto out;
    }
    req.resource = t.type;
    req.name = (char *)t.name;
    req.configs = aps;
    req.n_configs = n;
    ProtobufCMessage *resp = NULL;
    code = run_call(o, STRATA__CTL__API__ALTER_CONFIGS, &req.base,
                    &strata__ctl__alter_configs_response__descriptor, &resp,
                    "configs alter");
    if (code == 0) {
        Strata__Ctl__AlterConfigsResponse *r = (void *)resp;
        int e = r->error ? r->error->error : 0;
        if (e != 0) {
            fprintf(stderr, "strata: configs alter: %s (error %d)\n",
                    r->error->message, e);
            code = 1;
        } else if (o->json) {
            printf("{\"altered\":%zu,\"validate_only\":%s}\n", n,
                   req.validate_only ? "true" : "false");
        } else {
            printf("altered %zu config%s%s\n", n, n == 1 ? "" : "s",
                   req.validate_only ? " [validate only]" : "");
        }
        protobuf_c_message_free_unpacked(resp, NULL);
    }
out:
    for (size_t k = 0; k < n; k++) {
        st_free(owned[k]);
    }
    return code;
}

int cmd_configs(const struct cli_opts *o, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    if (strcmp(sub, "describe") == 0) {
        return configs_describe(o, argc - 1, argv + 1);
    }
    if (strcmp(sub, "alter") == 0) {
        return configs_alter(o, argc - 1, argv + 1);
    }
    fprintf(stderr, "usage: strata configs describe|alter ...\n");
    return 2;
}
