/* CRC32C: SSE4.2 when available, slicing-by-8 tables otherwise.
 *
 * Slicing-by-8 (Intel, Kounavis & Berry 2005) processes eight input bytes per
 * step with eight 256-entry tables: table[0] is the classic byte-at-a-time
 * table and table[k][i] is table[0] applied k more times, so the CRC of eight
 * bytes is the xor of eight lookups. The hardware path feeds the crc32
 * instruction 8 bytes at a time after aligning the pointer.
 */
#include "crc32c.h"

#include <string.h>

#define POLY 0x82F63B78u /* Castagnoli, reflected */

static uint32_t table[8][256];

/* Built before main() so that st_crc32c is safe from any thread without a
 * once-flag on the hot path. */
__attribute__((constructor)) static void table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        }
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = table[0][i];
        for (int t = 1; t < 8; t++) {
            c = (c >> 8) ^ table[0][c & 0xff];
            table[t][i] = c;
        }
    }
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint32_t st_crc32c_sw(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    uint32_t c = ~crc;

    while (n > 0 && ((uintptr_t)p & 7) != 0) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        uint64_t w = load_le64(p) ^ c;
        c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
            table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
            table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
            table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
        n--;
    }
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

#define HAVE_HW 1

__attribute__((target("sse4.2"))) static uint32_t
crc_sse42(uint32_t crc, const uint8_t *p, size_t n)
{
    uint64_t c = ~crc;

    while (n > 0 && ((uintptr_t)p & 7) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    return ~(uint32_t)c;
}

static bool hw_ok;

__attribute__((constructor)) static void hw_detect(void)
{
    __builtin_cpu_init();
    hw_ok = __builtin_cpu_supports("sse4.2");
}
#else
#define HAVE_HW 0
static const bool hw_ok = false;
#endif

bool st_crc32c_hw_available(void)
{
    return hw_ok;
}

uint32_t st_crc32c_hw(uint32_t crc, const void *p, size_t n)
{
#if HAVE_HW
    if (hw_ok) {
        return crc_sse42(crc, p, n);
    }
#endif
    return st_crc32c_sw(crc, p, n);
}

uint32_t st_crc32c(uint32_t crc, const void *p, size_t n)
{
#if HAVE_HW
    if (hw_ok) {
        return crc_sse42(crc, p, n);
    }
#endif
    return st_crc32c_sw(crc, p, n);
}
