/* Read-only views of a group: the description the CLI's `group describe`
 * shows, and a canonical dump for tests that compare two cores. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/group/group_int.h"
#include "common/alloc.h"
#include "common/err.h"

static char *dup_or_null(const char *s, bool *enomem)
{
    if (s == NULL) {
        return NULL;
    }
    char *c = st_strdup(s);
    *enomem |= c == NULL;
    return c;
}

static struct st_group_tp *tps_copy(const struct st_group *g,
                                    const struct pset *s, bool *enomem)
{
    struct st_group_tp *v = st_calloc(s->n ? s->n : 1, sizeof *v);
    if (v == NULL) {
        *enomem = true;
        return NULL;
    }
    /* Topic names point at the core's table; st_group_desc_free knows. A
     * description must not outlive its core. */
    for (unsigned i = 0; i < s->n; i++) {
        v[i].topic = g->topics[st_assign_key_topic(s->v[i])].name;
        v[i].partition = st_assign_key_partition(s->v[i]);
    }
    return v;
}

int st_group_describe(const struct st_group *g, struct st_group_desc **out)
{
    bool enomem = false;
    struct st_group_desc *d = st_calloc(1, sizeof *d);
    if (d == NULL) {
        return ST_ENOMEM;
    }
    d->group_id = dup_or_null(g->group_id, &enomem);
    d->state = st_group_state(g);
    d->group_epoch = g->group_epoch;
    d->target_epoch = g->target_epoch;
    d->assignor = dup_or_null(g->assignor->name, &enomem);
    d->members = st_calloc(g->n_members ? g->n_members : 1,
                           sizeof *d->members);
    d->offsets = st_calloc(g->n_offsets ? g->n_offsets : 1,
                           sizeof *d->offsets);
    enomem |= d->members == NULL || d->offsets == NULL;
    for (unsigned i = 0; !enomem && i < g->n_members; i++) {
        const struct member *m = g->members[i];
        struct st_group_member_desc *md = &d->members[d->n_members++];
        md->member_id = dup_or_null(m->id, &enomem);
        md->instance_id = dup_or_null(m->instance_id, &enomem);
        md->client_id = dup_or_null(m->client_id ? m->client_id : "",
                                    &enomem);
        md->client_host = dup_or_null(m->client_host ? m->client_host : "",
                                      &enomem);
        md->assignor = dup_or_null(m->assignor, &enomem);
        md->member_epoch = m->epoch;
        md->state = m->state;
        md->static_left = m->static_left;
        md->topics = st_calloc(m->n_topics ? m->n_topics : 1,
                               sizeof *md->topics);
        enomem |= md->topics == NULL;
        for (unsigned j = 0; !enomem && j < m->n_topics; j++) {
            md->topics[md->n_topics++] = dup_or_null(m->topics[j], &enomem);
        }
        md->regex = dup_or_null(m->regex, &enomem);
        md->assigned = tps_copy(g, &m->assigned, &enomem);
        md->n_assigned = md->assigned ? m->assigned.n : 0;
        md->revoking = tps_copy(g, &m->revoking, &enomem);
        md->n_revoking = md->revoking ? m->revoking.n : 0;
        md->target = tps_copy(g, &m->target, &enomem);
        md->n_target = md->target ? m->target.n : 0;
    }
    for (unsigned i = 0; !enomem && i < g->n_offsets; i++) {
        const struct offset *o = &g->offsets[i];
        struct st_group_offset_desc *od = &d->offsets[d->n_offsets++];
        od->tp.topic = dup_or_null(o->topic, &enomem);
        od->tp.partition = o->partition;
        od->offset = o->offset;
        od->leader_epoch = o->leader_epoch;
        od->metadata = dup_or_null(o->metadata, &enomem);
        od->commit_ms = o->commit_ms;
    }
    if (enomem) {
        st_group_desc_free(d);
        return ST_ENOMEM;
    }
    *out = d;
    return 0;
}

void st_group_desc_free(struct st_group_desc *d)
{
    if (d == NULL) {
        return;
    }
    for (unsigned i = 0; i < d->n_members; i++) {
        struct st_group_member_desc *md = &d->members[i];
        st_free(md->member_id);
        st_free(md->instance_id);
        st_free(md->client_id);
        st_free(md->client_host);
        st_free(md->assignor);
        for (unsigned j = 0; j < md->n_topics; j++) {
            st_free(md->topics[j]);
        }
        st_free(md->topics);
        st_free(md->regex);
        st_free(md->assigned);
        st_free(md->revoking);
        st_free(md->target);
    }
    for (unsigned i = 0; i < d->n_offsets; i++) {
        st_free((char *)d->offsets[i].tp.topic);
        st_free(d->offsets[i].metadata);
    }
    st_free(d->members);
    st_free(d->offsets);
    st_free(d->group_id);
    st_free(d->assignor);
    st_free(d);
}

/* ---- dump ---- */

static int put(struct st_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int put(struct st_buf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return ST_EINVAL;
    }
    return st_buf_append(b, line, (size_t)n < sizeof line ? (size_t)n
                                                          : sizeof line - 1);
}

static int cmp_tp(const void *a, const void *b)
{
    const struct st_group_tp *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c != 0 ? c : (x->partition < y->partition ? -1
                                                     : x->partition >
                                                           y->partition);
}

/* Sorted by name, not by topic index: indexes differ between cores. */
static int put_set(const struct st_group *g, struct st_buf *b,
                   const char *name, const struct pset *s)
{
    bool enomem = false;
    struct st_group_tp *v = tps_copy(g, s, &enomem);
    if (enomem) {
        return ST_ENOMEM;
    }
    qsort(v, s->n, sizeof *v, cmp_tp);
    int rv = put(b, " %s=[", name);
    for (unsigned i = 0; i < s->n && rv == 0; i++) {
        rv = put(b, "%s%s-%d", i ? "," : "", v[i].topic, v[i].partition);
    }
    st_free(v);
    return rv ? rv : put(b, "]");
}

static const char *s_or(const char *s)
{
    return s ? s : "-";
}

int st_group_dump(const struct st_group *g, struct st_buf *out)
{
    int rv = put(out, "group %s epoch=%d target=%d assignor=%s\n",
                 g->group_id, g->group_epoch, g->target_epoch,
                 g->assignor->name);
    struct st_group_tp *tv = st_calloc(g->n_sub_meta + 1, sizeof *tv);
    if (tv == NULL) {
        return ST_ENOMEM;
    }
    for (unsigned i = 0; i < g->n_sub_meta; i++) {
        const struct topic *t = &g->topics[st_assign_key_topic(g->sub_meta[i])];
        tv[i] = (struct st_group_tp){t->name, t->partitions};
    }
    qsort(tv, g->n_sub_meta, sizeof *tv, cmp_tp);
    for (unsigned i = 0; i < g->n_sub_meta && rv == 0; i++) {
        rv = put(out, "topic %s partitions=%d\n", tv[i].topic,
                 tv[i].partition);
    }
    st_free(tv);
    for (unsigned i = 0; i < g->n_members && rv == 0; i++) {
        const struct member *m = g->members[i];
        rv = put(out, "member %s instance=%s client=%s host=%s assignor=%s "
                 "rto=%u epoch=%d prev=%d state=%d left=%d regex=%s topics=",
                 m->id, s_or(m->instance_id), s_or(m->client_id),
                 s_or(m->client_host), s_or(m->assignor),
                 m->rebalance_timeout_ms, m->epoch, m->prev_epoch, m->state,
                 m->static_left, s_or(m->regex));
        for (unsigned j = 0; j < m->n_topics && rv == 0; j++) {
            rv = put(out, "%s%s", j ? "," : "", m->topics[j]);
        }
        rv = rv ? rv : put_set(g, out, "assigned", &m->assigned);
        rv = rv ? rv : put_set(g, out, "revoking", &m->revoking);
        rv = rv ? rv : put_set(g, out, "target", &m->target);
        rv = rv ? rv : put(out, "\n");
    }
    for (unsigned i = 0; i < g->n_ghosts && rv == 0; i++) {
        const struct member *m = g->ghosts[i];
        rv = put(out, "ghost %s", m->id);
        rv = rv ? rv : put_set(g, out, "assigned", &m->assigned);
        rv = rv ? rv : put_set(g, out, "revoking", &m->revoking);
        rv = rv ? rv : put(out, "\n");
    }
    for (unsigned i = 0; i < g->n_offsets && rv == 0; i++) {
        const struct offset *o = &g->offsets[i];
        rv = put(out, "offset %s-%d=%" PRId64 " le=%d md=%s ts=%" PRId64 "\n",
                 o->topic, o->partition, o->offset, o->leader_epoch,
                 o->metadata, o->commit_ms);
    }
    return rv;
}
