/* strata group list|describe|reset-offsets|delete: consumer groups through
 * their coordinators (proto/group.proto), with the lag of every partition
 * (log end offset = the high watermark from the partition leader).
 *
 *   group list                       ListGroups on every broker
 *   group describe G                 members (client id, host, assigned
 *                                    partitions) and the table GROUP TOPIC
 *                                    PARTITION CURRENT-OFFSET
 *                                    LOG-END-OFFSET LAG MEMBER
 *   group reset-offsets G --topic T (--to-earliest | --to-latest |
 *       --to-datetime T | --to-offset N | --shift-by N) [--dry-run |
 *       --execute]                   refused while the group has members;
 *                                    --dry-run (the default) prints the
 *                                    plan only
 *   group delete G                   refused while the group has members
 * Every command takes --json. Runs on: the main thread. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli/client.h"
#include "client/lib/group.h"
#include "client/lib/handle.h"
#include "common/alloc.h"
#include "group.pb-c.h"

/* ---- plumbing ---- */

/* Call @api for @group through its coordinator; *@out is unpacked by the
 * caller. Returns 0 or prints why and returns 1. */
static int call(const struct cli_opts *o, strata_t *rk, const char *what,
                const char *group, uint32_t api, const ProtobufCMessage *req,
                uint8_t **out, size_t *out_len)
{
    size_t len = protobuf_c_message_get_packed_size(req);
    uint8_t *body = malloc(len + 1);
    if (body == NULL) {
        return cli_fail(what, "out of memory");
    }
    protobuf_c_message_pack(req, body);
    char err[512] = "";
    int32_t coord;
    strata_resp_err_t e = cl_group_call(rk, group, api, body, len,
                                        cli_timeout_ms(o), out, out_len,
                                        &coord, err, sizeof err);
    free(body);
    if (e != STRATA_ERR_NO_ERROR) {
        return cli_fail(what, "group %s: %s%s%s", group, strata_err2str(e),
                        err[0] ? ": " : "", err);
    }
    return 0;
}

static Strata__Group__DescribeGroupsResponse *describe(
    const struct cli_opts *o, strata_t *rk, const char *what,
    const char *group)
{
    Strata__Group__DescribeGroupsRequest q =
        STRATA__GROUP__DESCRIBE_GROUPS_REQUEST__INIT;
    q.group_id = (char *)group;
    uint8_t *buf;
    size_t len;
    if (call(o, rk, what, group, STRATA__GROUP__API__DESCRIBE_GROUPS,
             &q.base, &buf, &len) != 0) {
        return NULL;
    }
    Strata__Group__DescribeGroupsResponse *r =
        strata__group__describe_groups_response__unpack(NULL, len, buf);
    st_free(buf);
    if (r == NULL) {
        cli_fail(what, "group %s: the answer does not parse", group);
    }
    return r;
}

/* The high watermark of @topic/@p, or -1. */
static int64_t log_end(const struct cli_opts *o, strata_t *rk,
                       const char *topic, int32_t p, int64_t *low)
{
    int64_t lo = -1, hi = -1;
    if (strata_query_watermark_offsets(rk, topic, p, &lo, &hi,
                                       cli_timeout_ms(o)) != 0) {
        return -1;
    }
    if (low != NULL) {
        *low = lo;
    }
    return hi;
}

/* ---- list ---- */

static int group_list(struct cli_opts *o, strata_t *rk)
{
    char err[512];
    strata_metadata_t *md;
    strata_resp_err_t e = strata_admin_describe_cluster(rk, &md,
                                                        cli_timeout_ms(o),
                                                        err, sizeof err);
    if (e != 0) {
        return cli_fail("group list", "%s", err);
    }
    Strata__Group__ListGroupsRequest q =
        STRATA__GROUP__LIST_GROUPS_REQUEST__INIT;
    uint8_t body[16];
    size_t len = strata__group__list_groups_request__pack(&q, body);
    if (o->json) {
        printf("[");
    } else {
        printf("%-32s %-12s %8s %12s\n", "GROUP", "STATE", "MEMBERS",
               "COORDINATOR");
    }
    int n = 0, rv = 0;
    for (int i = 0; i < md->broker_cnt; i++) {
        const strata_broker_info_t *bi = &md->brokers[i];
        pthread_mutex_lock(&rk->lock);
        cl_broker_learn(rk, bi->id, bi->host, (uint16_t)bi->port);
        pthread_mutex_unlock(&rk->lock);
        struct cl_req *r;
        e = cl_req_sync(rk, STRATA__GROUP__API__LIST_GROUPS, body, len,
                        bi->id, cli_timeout_ms(o), &r, err, sizeof err);
        if (e != 0) {
            rv = cli_fail("group list", "broker %d: %s", bi->id, err);
            continue;
        }
        Strata__Group__ListGroupsResponse *resp =
            r->error == 0 ? strata__group__list_groups_response__unpack(
                                NULL, r->resp_body.len, r->resp_body.base)
                          : NULL;
        cl_req_release(rk, r);
        for (size_t k = 0; resp != NULL && k < resp->n_groups; k++) {
            const Strata__Group__GroupListing *g = resp->groups[k];
            if (o->json) {
                printf("%s{\"group\":", n ? "," : "");
                cli_json_str(stdout, g->group_id);
                printf(",\"state\":\"%s\",\"members\":%u,"
                       "\"coordinator\":%d}", g->state, g->members,
                       g->coordinator);
            } else {
                printf("%-32s %-12s %8u %12d\n", g->group_id, g->state,
                       g->members, g->coordinator);
            }
            n++;
        }
        if (resp != NULL) {
            strata__group__list_groups_response__free_unpacked(resp, NULL);
        }
    }
    if (o->json) {
        printf("]\n");
    }
    strata_metadata_destroy(md);
    return rv;
}

/* ---- describe ---- */

/* The member holding @topic/@p, or "-". */
static const char *owner_of(const Strata__Group__DescribeGroupsResponse *d,
                            const char *topic, int32_t p)
{
    for (size_t i = 0; i < d->n_members; i++) {
        const Strata__Group__DescribedMember *m = d->members[i];
        for (size_t k = 0; k < m->n_assigned; k++) {
            if (strcmp(m->assigned[k]->topic, topic) != 0) {
                continue;
            }
            for (size_t j = 0; j < m->assigned[k]->n_partitions; j++) {
                if (m->assigned[k]->partitions[j] == p) {
                    return m->member_id;
                }
            }
        }
    }
    return "-";
}

struct row {
    const char *topic;
    int32_t partition;
    int64_t current, end;
};

static int row_cmp(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c != 0 ? c : (x->partition > y->partition) -
                            (x->partition < y->partition);
}

static void add_row(struct row *rows, size_t *n, const char *topic,
                    int32_t p, int64_t current)
{
    for (size_t i = 0; i < *n; i++) {
        if (rows[i].partition == p && strcmp(rows[i].topic, topic) == 0) {
            if (current >= 0) {
                rows[i].current = current;
            }
            return;
        }
    }
    rows[*n] = (struct row){topic, p, current, -1};
    (*n)++;
}

static void print_tps(Strata__Group__TopicPartitions **v, size_t n,
                      bool json)
{
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < v[i]->n_partitions; j++) {
            if (json) {
                printf("%s{\"topic\":", k ? "," : "");
                cli_json_str(stdout, v[i]->topic);
                printf(",\"partition\":%d}", v[i]->partitions[j]);
            } else {
                printf("%s%s-%d", k ? "," : "", v[i]->topic,
                       v[i]->partitions[j]);
            }
            k++;
        }
    }
    if (!json && k == 0) {
        printf("-");
    }
}

static int group_describe(struct cli_opts *o, strata_t *rk,
                          const char *group)
{
    Strata__Group__DescribeGroupsResponse *d =
        describe(o, rk, "group describe", group);
    if (d == NULL) {
        return 1;
    }
    if (d->error != 0) {
        int rv = cli_fail("group describe", "group %s: %s", group,
                          d->error_message);
        strata__group__describe_groups_response__free_unpacked(d, NULL);
        return rv;
    }
    size_t cap = d->n_offsets + 1;
    for (size_t i = 0; i < d->n_members; i++) {
        for (size_t k = 0; k < d->members[i]->n_assigned; k++) {
            cap += d->members[i]->assigned[k]->n_partitions;
        }
    }
    struct row *rows = calloc(cap, sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; rows != NULL && i < d->n_offsets; i++) {
        add_row(rows, &n, d->offsets[i]->topic, d->offsets[i]->partition,
                d->offsets[i]->offset);
    }
    for (size_t i = 0; rows != NULL && i < d->n_members; i++) {
        for (size_t k = 0; k < d->members[i]->n_assigned; k++) {
            const Strata__Group__TopicPartitions *t =
                d->members[i]->assigned[k];
            for (size_t j = 0; j < t->n_partitions; j++) {
                add_row(rows, &n, t->topic, t->partitions[j], -1);
            }
        }
    }
    if (rows == NULL) {
        strata__group__describe_groups_response__free_unpacked(d, NULL);
        return cli_fail("group describe", "out of memory");
    }
    qsort(rows, n, sizeof *rows, row_cmp);
    for (size_t i = 0; i < n; i++) {
        rows[i].end = log_end(o, rk, rows[i].topic, rows[i].partition, NULL);
    }
    if (o->json) {
        printf("{\"group\":");
        cli_json_str(stdout, group);
        printf(",\"state\":\"%s\",\"group_epoch\":%d,\"assignor\":",
               d->state, d->group_epoch);
        cli_json_str(stdout, d->assignor);
        printf(",\"coordinator\":%d,\"members\":[", d->coordinator);
        for (size_t i = 0; i < d->n_members; i++) {
            const Strata__Group__DescribedMember *m = d->members[i];
            printf("%s{\"member_id\":", i ? "," : "");
            cli_json_str(stdout, m->member_id);
            printf(",\"instance_id\":");
            cli_json_str(stdout, m->instance_id);
            printf(",\"client_id\":");
            cli_json_str(stdout, m->client_id);
            printf(",\"host\":");
            cli_json_str(stdout, m->client_host);
            printf(",\"epoch\":%d,\"state\":\"%s\",\"assigned\":[",
                   m->member_epoch, m->state);
            print_tps(m->assigned, m->n_assigned, true);
            printf("]}");
        }
        printf("],\"partitions\":[");
        for (size_t i = 0; i < n; i++) {
            const struct row *r = &rows[i];
            printf("%s{\"topic\":", i ? "," : "");
            cli_json_str(stdout, r->topic);
            printf(",\"partition\":%d,\"current_offset\":%" PRId64
                   ",\"log_end_offset\":%" PRId64 ",\"lag\":%" PRId64
                   ",\"member\":",
                   r->partition, r->current, r->end,
                   r->current >= 0 && r->end >= 0 ? r->end - r->current
                                                  : (int64_t)-1);
            cli_json_str(stdout, owner_of(d, r->topic, r->partition));
            printf("}");
        }
        printf("]}\n");
    } else {
        printf("group %s: state %s, epoch %d, assignor %s, coordinator "
               "broker %d, %zu member(s)\n", group, d->state,
               d->group_epoch, d->assignor, d->coordinator, d->n_members);
        if (d->n_members > 0) {
            printf("\n%-24s %-16s %-16s %-16s %6s %-12s %s\n", "MEMBER",
                   "INSTANCE", "CLIENT-ID", "HOST", "EPOCH", "STATE",
                   "ASSIGNED");
        }
        for (size_t i = 0; i < d->n_members; i++) {
            const Strata__Group__DescribedMember *m = d->members[i];
            printf("%-24s %-16s %-16s %-16s %6d %-12s ", m->member_id,
                   m->instance_id[0] ? m->instance_id : "-", m->client_id,
                   m->client_host, m->member_epoch, m->state);
            print_tps(m->assigned, m->n_assigned, false);
            printf("\n");
        }
        printf("\n%-20s %-20s %9s %14s %14s %8s %s\n", "GROUP", "TOPIC",
               "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
               "MEMBER");
        for (size_t i = 0; i < n; i++) {
            const struct row *r = &rows[i];
            char cur[24] = "-", end[24] = "-", lag[24] = "-";
            if (r->current >= 0) {
                snprintf(cur, sizeof cur, "%" PRId64, r->current);
            }
            if (r->end >= 0) {
                snprintf(end, sizeof end, "%" PRId64, r->end);
            }
            if (r->current >= 0 && r->end >= 0) {
                snprintf(lag, sizeof lag, "%" PRId64, r->end - r->current);
            }
            printf("%-20s %-20s %9d %14s %14s %8s %s\n", group, r->topic,
                   r->partition, cur, end, lag,
                   owner_of(d, r->topic, r->partition));
        }
    }
    free(rows);
    strata__group__describe_groups_response__free_unpacked(d, NULL);
    return 0;
}

/* ---- reset-offsets ---- */

enum reset_kind { R_NONE, R_EARLIEST, R_LATEST, R_DATETIME, R_OFFSET,
                  R_SHIFT };

/* "2026-11-23T19:00:00[.123][Z]" (UTC) or milliseconds since the epoch. */
static int parse_time(const char *s, int64_t *ms)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    if (*end == '\0' && n >= 0) {
        *ms = n;
        return 0;
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL) {
        return -1;
    }
    int64_t frac = 0;
    if (*rest == '.') {
        frac = strtol(rest + 1, &end, 10);
        rest = end;
    }
    if (*rest == 'Z') {
        rest++;
    }
    if (*rest != '\0') {
        return -1;
    }
    *ms = (int64_t)timegm(&tm) * 1000 + frac;
    return 0;
}

static int group_reset(struct cli_opts *o, strata_t *rk, const char *group,
                       int argc, char **argv)
{
    const char *topic = NULL;
    enum reset_kind kind = R_NONE;
    int64_t arg = 0;
    bool execute = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool has_value = strcmp(a, "--topic") == 0 ||
                         strcmp(a, "--to-datetime") == 0 ||
                         strcmp(a, "--to-offset") == 0 ||
                         strcmp(a, "--shift-by") == 0;
        if (has_value && v == NULL) {
            cli_fail("group reset-offsets", "%s needs a value", a);
            return 2;
        }
        char *end = NULL;
        if (strcmp(a, "--topic") == 0) {
            topic = v;
        } else if (strcmp(a, "--to-earliest") == 0) {
            kind = R_EARLIEST;
        } else if (strcmp(a, "--to-latest") == 0) {
            kind = R_LATEST;
        } else if (strcmp(a, "--to-datetime") == 0) {
            kind = R_DATETIME;
            if (parse_time(v, &arg) != 0) {
                cli_fail("group reset-offsets", "--to-datetime: expected "
                         "YYYY-MM-DDTHH:MM:SS[.mmm] (UTC) or epoch ms, got "
                         "'%s'", v);
                return 2;
            }
        } else if (strcmp(a, "--to-offset") == 0 ||
                   strcmp(a, "--shift-by") == 0) {
            kind = a[2] == 't' ? R_OFFSET : R_SHIFT;
            arg = strtoll(v, &end, 10);
            if (*end != '\0' || (kind == R_OFFSET && arg < 0)) {
                cli_fail("group reset-offsets", "%s: bad number '%s'", a, v);
                return 2;
            }
        } else if (strcmp(a, "--execute") == 0) {
            execute = true;
        } else if (strcmp(a, "--dry-run") == 0) {
            execute = false;
        } else {
            cli_fail("group reset-offsets", "unknown option '%s'", a);
            return 2;
        }
        if (has_value) {
            i++;
        }
    }
    if (topic == NULL || kind == R_NONE) {
        cli_fail("group reset-offsets", "needs --topic T and one of "
                 "--to-earliest, --to-latest, --to-datetime, --to-offset, "
                 "--shift-by");
        return 2;
    }
    Strata__Group__DescribeGroupsResponse *d =
        describe(o, rk, "group reset-offsets", group);
    if (d == NULL) {
        return 1;
    }
    size_t members = d->error == 0 ? d->n_members : 0;
    if (members > 0) {
        strata__group__describe_groups_response__free_unpacked(d, NULL);
        return cli_fail("group reset-offsets", "group %s has %zu active "
                        "member(s): offsets can only be reset while it is "
                        "empty (stop its consumers first)", group, members);
    }
    int nparts = cli_topic_partitions(o, rk, "group reset-offsets", topic);
    if (nparts < 0) {
        strata__group__describe_groups_response__free_unpacked(d, NULL);
        return 1;
    }
    Strata__Group__OffsetCommitPartition ps[nparts];
    Strata__Group__OffsetCommitPartition *pv[nparts];
    strata_topic_partition_list_t *times = NULL;
    if (kind == R_DATETIME) {
        times = strata_topic_partition_list_new(nparts);
        for (int p = 0; p < nparts; p++) {
            strata_topic_partition_list_add(times, topic, p)->offset = arg;
        }
        strata_offsets_for_times(rk, times, cli_timeout_ms(o));
    }
    int rv = 0;
    if (o->json) {
        printf("{\"group\":");
        cli_json_str(stdout, group);
        printf(",\"topic\":");
        cli_json_str(stdout, topic);
        printf(",\"executed\":%s,\"partitions\":[", execute ? "true"
                                                              : "false");
    } else {
        printf("%-20s %-20s %9s %14s %14s\n", "GROUP", "TOPIC", "PARTITION",
               "CURRENT-OFFSET", "NEW-OFFSET");
    }
    for (int p = 0; p < nparts; p++) {
        int64_t low = 0, high = log_end(o, rk, topic, p, &low);
        int64_t cur = -1;
        for (size_t i = 0; d->error == 0 && i < d->n_offsets; i++) {
            if (d->offsets[i]->partition == p &&
                strcmp(d->offsets[i]->topic, topic) == 0) {
                cur = d->offsets[i]->offset;
            }
        }
        int64_t nw = kind == R_EARLIEST ? low
                     : kind == R_LATEST ? high
                     : kind == R_OFFSET ? arg
                     : kind == R_SHIFT  ? (cur >= 0 ? cur : low) + arg
                     : times->elems[p].err == 0 && times->elems[p].offset >= 0
                         ? times->elems[p].offset
                         : high;
        if (high < 0) {
            rv = cli_fail("group reset-offsets", "%s-%d: no offsets from "
                          "its leader", topic, p);
            nw = -1;
        } else if (nw < low) {
            nw = low;
        } else if (nw > high) {
            nw = high;
        }
        strata__group__offset_commit_partition__init(&ps[p]);
        ps[p].topic = (char *)topic;
        ps[p].partition = p;
        ps[p].offset = nw;
        ps[p].leader_epoch = -1;
        pv[p] = &ps[p];
        if (o->json) {
            printf("%s{\"partition\":%d,\"current_offset\":%" PRId64
                   ",\"new_offset\":%" PRId64 "}", p ? "," : "", p, cur, nw);
        } else {
            char c[24] = "-";
            if (cur >= 0) {
                snprintf(c, sizeof c, "%" PRId64, cur);
            }
            printf("%-20s %-20s %9d %14s %14" PRId64 "\n", group, topic, p,
                   c, nw);
        }
    }
    if (o->json) {
        printf("]}\n");
    }
    strata_topic_partition_list_destroy(times);
    strata__group__describe_groups_response__free_unpacked(d, NULL);
    if (rv != 0 || !execute) {
        if (!execute && !o->json) {
            printf("(dry run: nothing changed; add --execute to commit "
                   "these offsets)\n");
        }
        return rv;
    }
    Strata__Group__OffsetCommitRequest q =
        STRATA__GROUP__OFFSET_COMMIT_REQUEST__INIT;
    q.group_id = (char *)group;
    q.member_id = "";
    q.member_epoch = -1;
    q.partitions = pv;
    q.n_partitions = (size_t)nparts;
    q.reset = true;
    uint8_t *buf;
    size_t len;
    if (call(o, rk, "group reset-offsets", group,
             STRATA__GROUP__API__OFFSET_COMMIT, &q.base, &buf, &len) != 0) {
        return 1;
    }
    Strata__Group__OffsetCommitResponse *r =
        strata__group__offset_commit_response__unpack(NULL, len, buf);
    st_free(buf);
    if (r == NULL) {
        return cli_fail("group reset-offsets", "the answer does not parse");
    }
    if (r->error != 0) {
        rv = cli_fail("group reset-offsets", "group %s: %s%s", group,
                      r->error_message,
                      r->error == STRATA_ERR_NON_EMPTY_GROUP
                          ? " (a consumer joined meanwhile)"
                          : "");
    }
    for (size_t i = 0; rv == 0 && i < r->n_partitions; i++) {
        if (r->partitions[i]->error != 0) {
            rv = cli_fail("group reset-offsets", "%s-%d: %s",
                          r->partitions[i]->topic,
                          r->partitions[i]->partition,
                          strata_err2str(r->partitions[i]->error));
        }
    }
    strata__group__offset_commit_response__free_unpacked(r, NULL);
    return rv;
}

/* ---- delete ---- */

static int group_delete(struct cli_opts *o, strata_t *rk, const char *group)
{
    Strata__Group__DeleteGroupsRequest q =
        STRATA__GROUP__DELETE_GROUPS_REQUEST__INIT;
    q.group_id = (char *)group;
    uint8_t *buf;
    size_t len;
    if (call(o, rk, "group delete", group, STRATA__GROUP__API__DELETE_GROUPS,
             &q.base, &buf, &len) != 0) {
        return 1;
    }
    Strata__Group__DeleteGroupsResponse *r =
        strata__group__delete_groups_response__unpack(NULL, len, buf);
    st_free(buf);
    if (r == NULL) {
        return cli_fail("group delete", "the answer does not parse");
    }
    int rv = 0;
    if (r->error != 0) {
        rv = cli_fail("group delete", "group %s: %s", group,
                      r->error_message);
    } else if (o->json) {
        printf("{\"group\":");
        cli_json_str(stdout, group);
        printf(",\"deleted\":true}\n");
    } else {
        printf("group %s deleted\n", group);
    }
    strata__group__delete_groups_response__free_unpacked(r, NULL);
    return rv;
}

int cmd_group(struct cli_opts *o, int argc, char **argv)
{
    if (argc < 1) {
        cli_fail("group", "expected list | describe G | reset-offsets G "
                 "... | delete G");
        return 2;
    }
    const char *sub = argv[0];
    bool needs_group = strcmp(sub, "list") != 0;
    if (needs_group && argc < 2) {
        cli_fail("group", "%s: missing GROUP", sub);
        return 2;
    }
    if (strcmp(sub, "list") != 0 && strcmp(sub, "describe") != 0 &&
        strcmp(sub, "reset-offsets") != 0 && strcmp(sub, "delete") != 0) {
        cli_fail("group", "unknown command '%s'", sub);
        return 2;
    }
    if ((strcmp(sub, "describe") == 0 || strcmp(sub, "delete") == 0) &&
        argc > 2) {
        cli_fail("group", "unexpected argument '%s'", argv[2]);
        return 2;
    }
    char err[1024];
    /* The handle's own group.id makes cl_group_call available; it never
     * subscribes, so it never joins. */
    const char *extra[] = {"group.id", needs_group ? argv[1] : "strata-cli",
                           NULL};
    strata_t *rk = cli_client_open(o, STRATA_CONSUMER, extra, NULL, NULL,
                                   err, sizeof err);
    if (rk == NULL) {
        return cli_fail("group", "%s", err);
    }
    int rv;
    if (strcmp(sub, "list") == 0) {
        rv = group_list(o, rk);
    } else if (strcmp(sub, "describe") == 0) {
        rv = group_describe(o, rk, argv[1]);
    } else if (strcmp(sub, "delete") == 0) {
        rv = group_delete(o, rk, argv[1]);
    } else {
        rv = group_reset(o, rk, argv[1], argc - 2, argv + 2);
    }
    fflush(stdout);
    strata_destroy(rk);
    return rv;
}
