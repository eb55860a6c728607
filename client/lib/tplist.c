/* strata_topic_partition_list_t: a growable array of topic+partition. */
#include <string.h>

#include "common/alloc.h"
#include "strata.h"

strata_topic_partition_list_t *strata_topic_partition_list_new(int size)
{
    strata_topic_partition_list_t *l = st_calloc(1, sizeof *l);
    if (l == NULL) {
        return NULL;
    }
    l->size = size > 0 ? size : 4;
    l->elems = st_calloc((size_t)l->size, sizeof *l->elems);
    if (l->elems == NULL) {
        st_free(l);
        return NULL;
    }
    return l;
}

void strata_topic_partition_list_destroy(strata_topic_partition_list_t *l)
{
    if (l == NULL) {
        return;
    }
    for (int i = 0; i < l->cnt; i++) {
        st_free(l->elems[i].topic);
    }
    st_free(l->elems);
    st_free(l);
}

strata_topic_partition_t *
strata_topic_partition_list_add(strata_topic_partition_list_t *l,
                                const char *topic, int32_t partition)
{
    if (l->cnt == l->size) {
        strata_topic_partition_t *e =
            st_realloc(l->elems, (size_t)l->size * 2 * sizeof *e);
        if (e == NULL) {
            return NULL;
        }
        l->elems = e;
        l->size *= 2;
    }
    strata_topic_partition_t *e = &l->elems[l->cnt];
    memset(e, 0, sizeof *e);
    e->topic = st_strdup(topic);
    if (e->topic == NULL) {
        return NULL;
    }
    e->partition = partition;
    e->offset = STRATA_OFFSET_INVALID;
    l->cnt++;
    return e;
}

strata_topic_partition_t *
strata_topic_partition_list_find(const strata_topic_partition_list_t *l,
                                 const char *topic, int32_t partition)
{
    for (int i = 0; i < l->cnt; i++) {
        if (l->elems[i].partition == partition &&
            strcmp(l->elems[i].topic, topic) == 0) {
            return &l->elems[i];
        }
    }
    return NULL;
}
