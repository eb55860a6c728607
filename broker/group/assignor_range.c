/* The "range" assignor: Kafka's RangeAssignor layout. For each topic on its
 * own, the members subscribed to it are sorted (by instance id when they
 * have one, else by member id) and given contiguous ranges of partitions;
 * with P partitions and N members each gets P / N and the first P % N get
 * one more. Two topics of equal size are thus co-partitioned: member i gets
 * the same partition numbers of both, which joins across topics need. Not
 * sticky: a membership change shifts the ranges. */
#include <stdlib.h>
#include <string.h>

#include "broker/group/group.h"
#include "common/alloc.h"
#include "common/err.h"

static const struct st_assign_member *sort_base;

static const char *sort_key(const struct st_assign_member *m)
{
    return m->instance_id != NULL ? m->instance_id : m->member_id;
}

static int cmp_member(const void *a, const void *b)
{
    const struct st_assign_member *x = &sort_base[*(const unsigned *)a];
    const struct st_assign_member *y = &sort_base[*(const unsigned *)b];
    int c = strcmp(sort_key(x), sort_key(y));
    return c != 0 ? c : strcmp(x->member_id, y->member_id);
}

static bool subscribes(const struct st_assign_member *m, uint32_t t)
{
    for (unsigned i = 0; i < m->n_topics; i++) {
        if (m->topics[i] == t) {
            return true;
        }
    }
    return false;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int range_assign(const struct st_assign_input *in,
                        struct st_assign_output *out)
{
    unsigned n = in->n_members;
    out->n_members = n;
    out->parts = st_calloc(n ? n : 1, sizeof *out->parts);
    out->n_parts = st_calloc(n ? n : 1, sizeof *out->n_parts);
    unsigned *order = st_calloc(n ? n : 1, sizeof *order);
    unsigned *cap = st_calloc(n ? n : 1, sizeof *cap);
    int rv = ST_ENOMEM;
    if (out->parts == NULL || out->n_parts == NULL || order == NULL ||
        cap == NULL) {
        goto done;
    }
    for (uint32_t t = 0; t < in->n_topics; t++) {
        unsigned k = 0;
        for (unsigned i = 0; i < n; i++) {
            if (subscribes(&in->members[i], t)) {
                order[k++] = i;
            }
        }
        if (k == 0) {
            continue;
        }
        /* qsort has no context argument in C11; the assignor runs on one
         * thread at a time (the group's), so a file-static base is safe. */
        sort_base = in->members;
        qsort(order, k, sizeof *order, cmp_member);
        int32_t np = in->topics[t].partitions;
        int32_t per = np / (int32_t)k, extra = np % (int32_t)k;
        for (unsigned j = 0; j < k; j++) {
            unsigned m = order[j];
            int32_t start = per * (int32_t)j +
                            ((int32_t)j < extra ? (int32_t)j : extra);
            int32_t len = per + ((int32_t)j < extra ? 1 : 0);
            if (len == 0) {
                continue;
            }
            if (out->n_parts[m] + (unsigned)len > cap[m]) {
                unsigned c = cap[m] ? cap[m] : 8;
                while (c < out->n_parts[m] + (unsigned)len) {
                    c *= 2;
                }
                uint64_t *p = st_realloc(out->parts[m], c * sizeof *p);
                if (p == NULL) {
                    goto done;
                }
                out->parts[m] = p;
                cap[m] = c;
            }
            for (int32_t p = start; p < start + len; p++) {
                out->parts[m][out->n_parts[m]++] = st_assign_key(t, p);
            }
        }
    }
    for (unsigned i = 0; i < n; i++) {
        qsort(out->parts[i], out->n_parts[i], sizeof(uint64_t), cmp_u64);
    }
    rv = 0;
done:
    st_free(order);
    st_free(cap);
    return rv;
}

const struct st_group_assignor st_group_assignor_range = {
    .name = "range",
    .assign = range_assign,
};
