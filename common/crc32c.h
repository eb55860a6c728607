/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * record batches (proto/RECORD_FORMAT.md) and of our checkpoint files.
 *
 * The functions take and return the *finished* CRC, so a CRC can be extended
 * piece by piece: st_crc32c(st_crc32c(0, a, n), b, m) equals the CRC of a
 * followed by b. st_crc32c(0, "123456789", 9) == 0xE3069283 (the standard
 * check value). The init and final xor (0xFFFFFFFF) are applied inside.
 *
 * st_crc32c() uses the SSE4.2 crc32 instruction when the CPU has it (checked
 * once at run time, so the build needs no -msse4.2) and a table-driven
 * slicing-by-8 implementation otherwise. Both are exposed so tests can check
 * them against the same vectors.
 *
 * Runs on: any thread; no state besides read-only tables built at load time.
 */
#ifndef ST_CRC32C_H
#define ST_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC32C of @n bytes at @p, continuing from @crc (0 to start). @p may be
 * NULL when @n is 0. */
uint32_t st_crc32c(uint32_t crc, const void *p, size_t n);

/* The portable slicing-by-8 implementation. */
uint32_t st_crc32c_sw(uint32_t crc, const void *p, size_t n);

/* The SSE4.2 implementation. Only call it when st_crc32c_hw_available();
 * on other CPUs (or non-x86 builds) it falls back to st_crc32c_sw. */
uint32_t st_crc32c_hw(uint32_t crc, const void *p, size_t n);

/* True when this CPU has the SSE4.2 crc32 instruction and this build can
 * use it. */
bool st_crc32c_hw_available(void);

#endif
