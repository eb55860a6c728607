/* murmur2, Java client flavour: little-endian 4-byte words, the tail
 * mixed in byte by byte from the highest, signed-shift-free arithmetic
 * (Java's >>> is a logical shift, which uint32_t gives us). */
#include "client/lib/murmur2.h"

uint32_t cl_murmur2(const void *data, size_t len)
{
    const uint8_t *p = data;
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    uint32_t h = 0x9747b28c ^ (uint32_t)len;
    size_t words = len / 4;

    for (size_t i = 0; i < words; i++) {
        const uint8_t *w = p + 4 * i;
        uint32_t k = (uint32_t)w[0] | ((uint32_t)w[1] << 8) |
                     ((uint32_t)w[2] << 16) | ((uint32_t)w[3] << 24);
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *t = p + 4 * words;
    switch (len % 4) {
    case 3:
        h ^= (uint32_t)t[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)t[1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)t[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t cl_murmur2_partition(const void *key, size_t len, int32_t n)
{
    return (int32_t)((cl_murmur2(key, len) & 0x7fffffff) % (uint32_t)n);
}
