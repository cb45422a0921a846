/**
 * @file decode.h
 * Element values of every dtype: one decoder per dtype, shared by the
 * typed views of the mount (view=npy, view=f32) and weightfs-inspect.
 *
 * Conventions (also in weightfs-inspect(1) and README "Typed views"):
 * - Everything is little-endian.
 * - A minifloat's bits are, from the most significant: sign, exponent,
 *   mantissa. A zero exponent field is subnormal: m / 2^M * 2^(1 - bias).
 * - F4 (E2M1): two elements per byte, element 2k in the low nibble; I4 and
 *   U4 likewise (I4 is two's complement).
 * - F6_E2M3, F6_E3M2: four elements in three bytes; element i is bits
 *   [6i, 6i + 6) of the little-endian bit stream (bit 0 is the least
 *   significant bit of the first byte, bit 8 the least of the second).
 * - C64 is two F32, real then imaginary.
 * - BOOL is 0 for a zero byte and 1 for any other byte.
 * - A NaN of a format that has no NaN payload (the 8-bit and smaller
 *   floats) decodes to the positive quiet NaN (0x7fc00000 as a float,
 *   0x7e00 as a half); F16 and BF16 keep their sign and payload.
 *
 * Two kinds of entry point:
 * - per element, to double or float (what statistics need): wfs_dec_*;
 * - per block (wfs_dtype_block_elems() elements, block_bytes bytes), to
 *   the dtype a view shows: wfs_decode_blocks(). Any block range of a
 *   tensor decodes on its own, so a read decodes only what it covers.
 */
#ifndef WEIGHTFS_DECODE_H
#define WEIGHTFS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weightfs/dtype.h"

/* ---- per element --------------------------------------------------------- */

enum wfs_dec_kind {
	WFS_DEC_FLOAT,
	WFS_DEC_SIGNED,   /**< I8 ... I64, I4 */
	WFS_DEC_UNSIGNED, /**< U8 ... U64, U4 */
	WFS_DEC_BOOL,
	WFS_DEC_COMPLEX,  /**< C64, C128 */
};

enum wfs_dec_kind wfs_dec_kind(enum wfs_dtype dt);

/**
 * Elements of the smallest whole-byte group (4 for F6, 2 for F4, else 1).
 * A range of elements that starts at a multiple of this starts on a byte.
 */
unsigned wfs_dec_group(enum wfs_dtype dt);

/** Byte offset of element @p i, which must be a multiple of wfs_dec_group(). */
static inline uint64_t wfs_dec_byte_offset(enum wfs_dtype dt, uint64_t i)
{
	return i * wfs_dtype_bits(dt) / 8;
}

/**
 * Decodes @p n elements from @p src (the byte of element 0) into @p out.
 * C64 and C128 are written planar: n real parts, then n imaginary parts.
 * For F4, F6, I4 and U4, the bytes of the last whole group must be
 * readable. ggml's block types are not decoded here (wfs_decode_blocks()).
 */
void wfs_dec_decode(enum wfs_dtype dt, const uint8_t *src, size_t n, double *out);

/** True when every value of @p dt is exactly a float (all but I32, U32, I64, U64, F64, C128). */
bool wfs_dec_narrow(enum wfs_dtype dt);

/** wfs_dec_decode() into floats, for narrow dtypes only; faster. */
void wfs_dec_decode_f(enum wfs_dtype dt, const uint8_t *src, size_t n, float *out);

/** Element @p i of an integer (or BOOL) dtype, exactly. */
int64_t wfs_dec_signed(enum wfs_dtype dt, const uint8_t *src, size_t i);
uint64_t wfs_dec_unsigned(enum wfs_dtype dt, const uint8_t *src, size_t i);

/** One minifloat: @p bits holds 1 + ebits + mbits bits. The reference definition the tables are built from. */
enum wfs_dec_special {
	WFS_DEC_SPECIAL_NONE, /**< every pattern is a number (F4, F6) */
	WFS_DEC_SPECIAL_IEEE, /**< all-ones exponent: Inf (mantissa 0) or NaN (E5M2) */
	WFS_DEC_SPECIAL_FN,   /**< only all-ones exponent and mantissa is NaN, no Inf (E4M3) */
	WFS_DEC_SPECIAL_FNUZ, /**< only the negative-zero pattern is NaN, no Inf (*FNUZ) */
};
double wfs_dec_minifloat(unsigned bits, unsigned ebits, unsigned mbits, int bias, enum wfs_dec_special sp);

/** IEEE half and bfloat16 bit patterns. */
double wfs_dec_f16(uint16_t h);
double wfs_dec_bf16(uint16_t h);

/* ---- per block, for views -------------------------------------------------- */

/**
 * True when wfs_decode_blocks() converts @p from to @p to. The targets:
 * F32 from every floating type (F64 rounded to nearest; ggml types that
 * wfs_ggml_decodes() accepts), F16 from the types whose every value is a
 * half exactly (F8_E4M3, F8_E5M2 and their FNUZ variants, F4, F6_E2M3,
 * F6_E3M2; not BF16 or F8_E8M0, whose exponents are too wide), I8 from I4
 * and U8 from U4.
 */
bool wfs_decode_supported(enum wfs_dtype from, enum wfs_dtype to);

/**
 * Decodes @p nblocks whole blocks of @p from at @p src into @p dst, which
 * must be aligned for @p to and hold nblocks * block_elems elements.
 * Returns 0, or -ENOTSUP (see wfs_decode_supported()).
 */
int wfs_decode_blocks(enum wfs_dtype from, enum wfs_dtype to, const uint8_t *src, size_t nblocks,
		      void *dst);

#endif
