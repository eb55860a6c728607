/* Zigzag varint encode and bounds-checked decode. */
#include "varint.h"

#include "err.h"

static inline uint64_t zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzigzag64(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

static size_t uvar_size(uint64_t u)
{
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}

static size_t uvar_put(uint8_t *p, uint64_t u)
{
    size_t n = 0;
    while (u >= 0x80) {
        p[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (uint8_t)u;
    return n;
}

/* Read at most @max_bytes; the last allowed byte may only carry
 * @bits - 7 * (max_bytes - 1) value bits. */
static int uvar_get(const uint8_t **pp, const uint8_t *end, int max_bytes,
                    int bits, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t u = 0;

    for (int i = 0; i < max_bytes; i++) {
        if (p >= end) {
            return ST_ECORRUPT; /* truncated */
        }
        uint8_t b = *p++;
        if (i == max_bytes - 1) {
            int top = bits - 7 * i;
            if ((b & 0x80) != 0 || (b >> top) != 0) {
                return ST_ECORRUPT; /* overlong or out of range */
            }
        }
        u |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *pp = p;
            *out = u;
            return 0;
        }
    }
    return ST_ECORRUPT; /* not reached: the last byte returns above */
}

size_t st_varint_size(int32_t v)
{
    return uvar_size((uint32_t)zigzag64(v));
}

size_t st_varlong_size(int64_t v)
{
    return uvar_size(zigzag64(v));
}

size_t st_varint_put(uint8_t *p, int32_t v)
{
    return uvar_put(p, (uint32_t)zigzag64(v));
}

size_t st_varlong_put(uint8_t *p, int64_t v)
{
    return uvar_put(p, zigzag64(v));
}

int st_varint_get(const uint8_t **pp, const uint8_t *end, int32_t *out)
{
    uint64_t u;
    int rv = uvar_get(pp, end, ST_VARINT_MAX_BYTES, 32, &u);
    if (rv != 0) {
        return rv;
    }
    *out = (int32_t)unzigzag64(u);
    return 0;
}

int st_varlong_get(const uint8_t **pp, const uint8_t *end, int64_t *out)
{
    uint64_t u;
    int rv = uvar_get(pp, end, ST_VARLONG_MAX_BYTES, 64, &u);
    if (rv != 0) {
        return rv;
    }
    *out = unzigzag64(u);
    return 0;
}
