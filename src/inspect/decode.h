/**
 * @file decode.h
 * Element values of every safetensors dtype, decoded to double.
 *
 * Conventions (also in weightfs-inspect(1) and `stats --help`):
 * - Everything is little-endian.
 * - A minifloat's bits are, from the most significant: sign, exponent,
 *   mantissa. A zero exponent field is subnormal: m / 2^M * 2^(1 - bias).
 * - F4 (E2M1): two elements per byte, element 2k in the low nibble.
 * - F6_E2M3, F6_E3M2: four elements in three bytes; element i is bits
 *   [6i, 6i + 6) of the little-endian bit stream (bit 0 is the least
 *   significant bit of the first byte, bit 8 the least of the second).
 * - C64 is two F32, real then imaginary.
 * - BOOL is 0 for a zero byte and 1 for any other byte.
 */
#ifndef INSPECT_DECODE_H
#define INSPECT_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weightfs/dtype.h"

enum dec_kind {
	DEC_FLOAT,
	DEC_SIGNED,   /**< I8 ... I64 */
	DEC_UNSIGNED, /**< U8 ... U64 */
	DEC_BOOL,
	DEC_COMPLEX,  /**< C64 */
};

enum dec_kind dec_kind(enum wfs_dtype dt);

/**
 * Elements of the smallest whole-byte group (4 for F6, 2 for F4, else 1).
 * A range of elements that starts at a multiple of this starts on a byte.
 */
unsigned dec_group(enum wfs_dtype dt);

/** Byte offset of element @p i, which must be a multiple of dec_group(). */
static inline uint64_t dec_byte_offset(enum wfs_dtype dt, uint64_t i)
{
	return i * wfs_dtype_bits(dt) / 8;
}

/** Builds the lookup tables; called once before any decoding (thread-safe). */
void dec_init(void);

/**
 * Decodes @p n elements from @p src (the byte of element 0) into @p out.
 * A C64 block is written planar: n real parts, then n imaginary parts.
 * For F4 and F6, the bytes of the last whole group must be readable.
 */
void dec_decode(enum wfs_dtype dt, const uint8_t *src, size_t n, double *out);

/** True when every value of @p dt is exactly a float (all but I32, U32, I64, U64, F64). */
bool dec_narrow(enum wfs_dtype dt);

/** dec_decode() into floats, for narrow dtypes only; faster. */
void dec_decode_f(enum wfs_dtype dt, const uint8_t *src, size_t n, float *out);

/** Element @p i of an integer (or BOOL) dtype, exactly. */
int64_t dec_signed(enum wfs_dtype dt, const uint8_t *src, size_t i);
uint64_t dec_unsigned(enum wfs_dtype dt, const uint8_t *src, size_t i);

/** One minifloat: @p bits holds 1 + ebits + mbits bits. Used for the tables and the tests. */
enum dec_special {
	DEC_SPECIAL_NONE, /**< every pattern is a number (F4, F6) */
	DEC_SPECIAL_IEEE, /**< all-ones exponent: Inf (mantissa 0) or NaN (E5M2) */
	DEC_SPECIAL_FN,   /**< only all-ones exponent and mantissa is NaN, no Inf (E4M3) */
	DEC_SPECIAL_FNUZ, /**< only the negative-zero pattern is NaN, no Inf (*FNUZ) */
};
double dec_minifloat(unsigned bits, unsigned ebits, unsigned mbits, int bias, enum dec_special sp);

/** IEEE half and bfloat16 bit patterns. */
double dec_f16(uint16_t h);
double dec_bf16(uint16_t h);

#endif
