/* Zigzag varints, as used inside record batches (proto/RECORD_FORMAT.md).
 *
 * A signed value is zigzag-mapped to unsigned ((v << 1) ^ (v >> 63), so
 * 0, -1, 1, -2 become 0, 1, 2, 3) and written as base-128 groups, low group
 * first, high bit set on every byte except the last (protobuf's sint32 /
 * sint64). A varint (32-bit) takes at most 5 bytes, a varlong at most 10.
 *
 * Decoding never reads at or past @end. It refuses truncated input (no
 * final byte before @end), overlong input (more than 5 / 10 bytes) and
 * values that do not fit (bits above 32 / 64 set in the last byte).
 *
 * Runs on: any thread; pure functions.
 */
#ifndef ST_VARINT_H
#define ST_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define ST_VARINT_MAX_BYTES 5
#define ST_VARLONG_MAX_BYTES 10

/* Bytes that st_varint_put / st_varlong_put would write for @v. */
size_t st_varint_size(int32_t v);
size_t st_varlong_size(int64_t v);

/* Write @v at @p, which must have room for ST_VAR*_MAX_BYTES (or the
 * st_var*_size of @v). Returns the bytes written. */
size_t st_varint_put(uint8_t *p, int32_t v);
size_t st_varlong_put(uint8_t *p, int64_t v);

/* Read a value from *@pp (which must be <= @end); on success advance *@pp
 * past it. Errors: ST_ECORRUPT (truncated, overlong or out of range);
 * *@pp is left unchanged on error. */
int st_varint_get(const uint8_t **pp, const uint8_t *end, int32_t *out);
int st_varlong_get(const uint8_t **pp, const uint8_t *end, int64_t *out);

#endif
