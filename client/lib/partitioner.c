/* Partition choice: murmur2 for keys, sticky batches for null keys. */
#include "client/lib/partitioner.h"

#include "client/lib/murmur2.h"

static uint64_t next_rand(uint64_t *state)
{
    /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cl_partitioner_init(struct cl_partitioner *p, enum cl_part_kind kind,
                         uint64_t seed)
{
    p->kind = kind;
    p->rng = seed;
}

void cl_sticky_init(struct cl_sticky *s)
{
    s->partition = -1;
}

static int32_t random_partition(struct cl_partitioner *p, int32_t n)
{
    return (int32_t)(next_rand(&p->rng) % (uint64_t)n);
}

static int32_t sticky(struct cl_partitioner *p, struct cl_sticky *s,
                      int32_t n)
{
    if (s->partition >= 0 && s->partition < n) {
        return s->partition;
    }
    /* -1: never picked; -2 - k: partition k's batch was just sent. */
    int32_t prev = s->partition <= -2 ? -2 - s->partition : -1;
    if (prev < 0 || prev >= n || n < 2) {
        s->partition = random_partition(p, n);
    } else {
        s->partition = (prev + 1 + random_partition(p, n - 1)) % n;
    }
    return s->partition;
}

int32_t cl_partitioner_pick(struct cl_partitioner *p, struct cl_sticky *s,
                            const void *key, size_t key_len,
                            int32_t n_partitions)
{
    if (key == NULL || p->kind == CL_PART_RANDOM) {
        return sticky(p, s, n_partitions);
    }
    return cl_murmur2_partition(key, key_len, n_partitions);
}

void cl_partitioner_batch_sent(struct cl_sticky *s, int32_t partition)
{
    if (s->partition == partition) {
        /* Pick lazily on the next record, but never this one again right
         * away: remember it negatively. */
        s->partition = -2 - partition;
    }
}
