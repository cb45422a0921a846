/**
 * @file decode.c
 * One decoder per dtype (see weightfs/decode.h for the bit conventions):
 * per element to double (wfs_dec_decode) or float (wfs_dec_decode_f, what
 * statistics use), and per block to what a view shows
 * (wfs_decode_blocks). The 8-bit and smaller float types go through the
 * constant tables of decode_tables.h (built from wfs_dec_minifloat());
 * BF16 is a shift; F16, BF16 and C64 have SSE2 paths (part of x86-64)
 * beside the portable C, which DECODE_PORTABLE selects for the tests.
 * ggml's block types are decoded by ggml.c (wfs_ggml_to_f32).
 */
#include <errno.h>
#include <string.h>

#include "weightfs/decode.h"
#include "decode_tables.h"
#include "ggml.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE16(x) __builtin_bswap16(x)
#define LE32(x) __builtin_bswap32(x)
#define LE64(x) __builtin_bswap64(x)
#else
#define HOST_LITTLE_ENDIAN 1
#define LE16(x) (x)
#define LE32(x) (x)
#define LE64(x) (x)
#endif

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return LE16(v);
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return LE32(v);
}

static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return LE64(v);
}

static inline float u2f(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

enum wfs_dec_kind wfs_dec_kind(enum wfs_dtype dt)
{
	switch (dt) {
	case WFS_DT_BOOL:
		return WFS_DEC_BOOL;
	case WFS_DT_I8:
	case WFS_DT_I16:
	case WFS_DT_I32:
	case WFS_DT_I64:
	case WFS_DT_I4:
		return WFS_DEC_SIGNED;
	case WFS_DT_U8:
	case WFS_DT_U16:
	case WFS_DT_U32:
	case WFS_DT_U64:
	case WFS_DT_U4:
		return WFS_DEC_UNSIGNED;
	case WFS_DT_C64:
	case WFS_DT_C128:
		return WFS_DEC_COMPLEX;
	default:
		return WFS_DEC_FLOAT;
	}
}

unsigned wfs_dec_group(enum wfs_dtype dt)
{
	switch (dt) {
	case WFS_DT_F4:
	case WFS_DT_I4:
	case WFS_DT_U4:
		return 2;
	case WFS_DT_F6_E2M3:
	case WFS_DT_F6_E3M2:
		return 4;
	default:
		return 1;
	}
}

/* The float-bits table of an 8-bit float type, or NULL. */
static const uint32_t *table8(enum wfs_dtype dt)
{
	switch (dt) {
	case WFS_DT_F8_E5M2:
		return f32_e5m2;
	case WFS_DT_F8_E4M3:
		return f32_e4m3;
	case WFS_DT_F8_E8M0:
		return f32_e8m0;
	case WFS_DT_F8_E4M3FNUZ:
		return f32_e4m3fnuz;
	case WFS_DT_F8_E5M2FNUZ:
		return f32_e5m2fnuz;
	default:
		return NULL;
	}
}

/* The half-bits table of a type whose every value is a half, or NULL. */
static const uint16_t *table8_f16(enum wfs_dtype dt)
{
	switch (dt) {
	case WFS_DT_F8_E5M2:
		return f16_e5m2;
	case WFS_DT_F8_E4M3:
		return f16_e4m3;
	case WFS_DT_F8_E4M3FNUZ:
		return f16_e4m3fnuz;
	case WFS_DT_F8_E5M2FNUZ:
		return f16_e5m2fnuz;
	default:
		return NULL;
	}
}

/* ---- kernels: one per storage layout, float and half outputs ------------- */

static void k_table8(const uint32_t *restrict t, const uint8_t *restrict src, size_t n, float *restrict out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = u2f(t[src[i]]);
}

static void k_table8_h(const uint16_t *restrict t, const uint8_t *restrict src, size_t n,
		       uint16_t *restrict out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = t[src[i]];
}

/* F4: n elements (even), two per byte, the first in the low nibble. */
static void k_f4(const uint8_t *restrict src, size_t n, float *restrict out)
{
	for (size_t i = 0; i + 1 < n; i += 2) {
		out[i] = u2f(f32_f4[src[i / 2] & 15]);
		out[i + 1] = u2f(f32_f4[src[i / 2] >> 4]);
	}
}

static void k_f4_h(const uint8_t *restrict src, size_t n, uint16_t *restrict out)
{
	for (size_t i = 0; i + 1 < n; i += 2) {
		out[i] = f16_f4[src[i / 2] & 15];
		out[i + 1] = f16_f4[src[i / 2] >> 4];
	}
}

/* F6: n elements; whole groups of four in three bytes, then a partial
 * group reading only the bytes its elements touch. */
#define K_F6(conv)                                                                          \
	size_t i = 0;                                                                       \
	for (; i + 4 <= n; i += 4, src += 3) {                                              \
		uint32_t v = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16; \
		out[i] = conv(t[v & 63]);                                                   \
		out[i + 1] = conv(t[(v >> 6) & 63]);                                        \
		out[i + 2] = conv(t[(v >> 12) & 63]);                                       \
		out[i + 3] = conv(t[v >> 18]);                                              \
	}                                                                                   \
	for (unsigned k = 0; i < n; i++, k++) {                                             \
		unsigned bit = 6 * k, v = (unsigned)src[bit / 8] >> (bit % 8);              \
		if (bit % 8 > 2)                                                            \
			v |= (unsigned)src[bit / 8 + 1] << (8 - bit % 8);                   \
		out[i] = conv(t[v & 63]);                                                   \
	}
#define AS_IS(x) (x)

static void k_f6(const uint32_t *restrict t, const uint8_t *restrict src, size_t n, float *restrict out)
{
	K_F6(u2f)
}

static void k_f6_h(const uint16_t *restrict t, const uint8_t *restrict src, size_t n, uint16_t *restrict out)
{
	K_F6(AS_IS)
}

/* I4 and U4: n elements (even), the first in the low nibble. */
static void k_i4(const uint8_t *restrict src, size_t n, int8_t *restrict out)
{
	for (size_t i = 0; i + 1 < n; i += 2) {
		out[i] = (int8_t)((int8_t)(uint8_t)(src[i / 2] << 4) >> 4);
		out[i + 1] = (int8_t)((int8_t)src[i / 2] >> 4);
	}
}

static void k_u4(const uint8_t *restrict src, size_t n, uint8_t *restrict out)
{
	for (size_t i = 0; i + 1 < n; i += 2) {
		out[i] = src[i / 2] & 15;
		out[i + 1] = src[i / 2] >> 4;
	}
}

#if defined(__SSE2__) && defined(HOST_LITTLE_ENDIAN) && !defined(DECODE_PORTABLE)
#include <emmintrin.h>
#define DECODE_SSE2 1

/* Eight BF16 at a time: each becomes the high half of a float. */
static size_t bf16_sse2(const uint8_t *src, size_t n, float *out)
{
	size_t i = 0;
	const __m128i zero = _mm_setzero_si128();
	for (; i + 8 <= n; i += 8) {
		__m128i h = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i));
		_mm_storeu_si128((__m128i *)(void *)(out + i), _mm_unpacklo_epi16(zero, h));
		_mm_storeu_si128((__m128i *)(void *)(out + i + 4), _mm_unpackhi_epi16(zero, h));
	}
	return i;
}

/* Four F16 (zero-extended in 32-bit lanes) to float, as wfs_dec_f16() but branch-free. */
static inline __m128 f16x4(__m128i h)
{
	const __m128i em = _mm_and_si128(h, _mm_set1_epi32(0x7fff));
	const __m128i sign = _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x8000)), 16);
	/* normal: rebias the exponent by 127 - 15 */
	__m128i normal = _mm_add_epi32(_mm_slli_epi32(em, 13), _mm_set1_epi32(112 << 23));
	/* subnormal (exponent 0): mantissa * 2^-24, exact */
	__m128i sub = _mm_castps_si128(_mm_mul_ps(_mm_cvtepi32_ps(em), _mm_set1_ps(0x1p-24f)));
	/* Inf and NaN (exponent 31): exponent 255, mantissa kept */
	__m128i special = _mm_or_si128(_mm_slli_epi32(em, 13), _mm_set1_epi32(0x7f800000));
	__m128i is_sub = _mm_cmplt_epi32(em, _mm_set1_epi32(0x400));
	__m128i is_special = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7bff));
	__m128i r = _mm_or_si128(_mm_and_si128(is_sub, sub), _mm_andnot_si128(is_sub, normal));
	r = _mm_or_si128(_mm_and_si128(is_special, special), _mm_andnot_si128(is_special, r));
	return _mm_castsi128_ps(_mm_or_si128(r, sign));
}

static size_t f16_sse2(const uint8_t *src, size_t n, float *out)
{
	size_t i = 0;
	const __m128i zero = _mm_setzero_si128();
	for (; i + 8 <= n; i += 8) {
		__m128i h = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i));
		_mm_storeu_ps(out + i, f16x4(_mm_unpacklo_epi16(h, zero)));
		_mm_storeu_ps(out + i + 4, f16x4(_mm_unpackhi_epi16(h, zero)));
	}
	return i;
}

/* C64: (re, im) pairs to planar real and imaginary parts. */
static size_t c64_sse2(const uint8_t *src, size_t n, float *out)
{
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		__m128 a = _mm_loadu_ps((const float *)(const void *)(src + 8 * i));
		__m128 b = _mm_loadu_ps((const float *)(const void *)(src + 8 * i + 16));
		_mm_storeu_ps(out + i, _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
		_mm_storeu_ps(out + n + i, _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
	}
	return i;
}
#endif

static void k_bf16(const uint8_t *src, size_t n, float *out)
{
	size_t i = 0;
#ifdef DECODE_SSE2
	i = bf16_sse2(src, n, out);
#endif
	for (; i < n; i++)
		out[i] = u2f((uint32_t)ld16(src + 2 * i) << 16);
}

static void k_f16(const uint8_t *src, size_t n, float *out)
{
	size_t i = 0;
#ifdef DECODE_SSE2
	i = f16_sse2(src, n, out);
#endif
	for (; i < n; i++)
		out[i] = (float)wfs_dec_f16(ld16(src + 2 * i));
}

static void k_f64(const uint8_t *src, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t u = ld64(src + 8 * i);
		double d;
		memcpy(&d, &u, 8);
		out[i] = (float)d;
	}
}

/* ---- per element ------------------------------------------------------------ */

static void dec_table8(const uint32_t *t, const uint8_t *src, size_t n, double *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = u2f(t[src[i]]);
}

static void dec_f6(const uint32_t *t, const uint8_t *src, size_t n, double *out)
{
	K_F6(u2f)
}

void wfs_dec_decode(enum wfs_dtype dt, const uint8_t *src, size_t n, double *out)
{
	const uint32_t *t8 = table8(dt);
	if (t8) {
		dec_table8(t8, src, n, out);
		return;
	}
	switch (dt) {
	case WFS_DT_BOOL:
		for (size_t i = 0; i < n; i++)
			out[i] = src[i] != 0;
		break;
	case WFS_DT_U8:
		for (size_t i = 0; i < n; i++)
			out[i] = src[i];
		break;
	case WFS_DT_I8:
		for (size_t i = 0; i < n; i++)
			out[i] = (int8_t)src[i];
		break;
	case WFS_DT_I16:
		for (size_t i = 0; i < n; i++)
			out[i] = (int16_t)ld16(src + 2 * i);
		break;
	case WFS_DT_U16:
		for (size_t i = 0; i < n; i++)
			out[i] = ld16(src + 2 * i);
		break;
	case WFS_DT_F16:
		for (size_t i = 0; i < n; i++)
			out[i] = wfs_dec_f16(ld16(src + 2 * i));
		break;
	case WFS_DT_BF16:
		for (size_t i = 0; i < n; i++)
			out[i] = wfs_dec_bf16(ld16(src + 2 * i));
		break;
	case WFS_DT_I32:
		for (size_t i = 0; i < n; i++)
			out[i] = (int32_t)ld32(src + 4 * i);
		break;
	case WFS_DT_U32:
		for (size_t i = 0; i < n; i++)
			out[i] = ld32(src + 4 * i);
		break;
	case WFS_DT_F32:
		for (size_t i = 0; i < n; i++)
			out[i] = u2f(ld32(src + 4 * i));
		break;
	case WFS_DT_I64:
		for (size_t i = 0; i < n; i++)
			out[i] = (double)(int64_t)ld64(src + 8 * i);
		break;
	case WFS_DT_U64:
		for (size_t i = 0; i < n; i++)
			out[i] = (double)ld64(src + 8 * i);
		break;
	case WFS_DT_F64:
#ifdef HOST_LITTLE_ENDIAN
		memcpy(out, src, 8 * n);
#else
		for (size_t i = 0; i < n; i++) {
			uint64_t u = ld64(src + 8 * i);
			memcpy(&out[i], &u, 8);
		}
#endif
		break;
	case WFS_DT_C64:
		for (size_t i = 0; i < n; i++) {
			out[i] = u2f(ld32(src + 8 * i));
			out[n + i] = u2f(ld32(src + 8 * i + 4));
		}
		break;
	case WFS_DT_F4:
		for (size_t i = 0; i + 1 < n; i += 2) {
			out[i] = u2f(f32_f4[src[i / 2] & 15]);
			out[i + 1] = u2f(f32_f4[src[i / 2] >> 4]);
		}
		if (n % 2)
			out[n - 1] = u2f(f32_f4[src[n / 2] & 15]);
		break;
	case WFS_DT_F6_E2M3:
		dec_f6(f32_f6e2m3, src, n, out);
		break;
	case WFS_DT_F6_E3M2:
		dec_f6(f32_f6e3m2, src, n, out);
		break;
	case WFS_DT_I4:
	case WFS_DT_U4:
		for (size_t i = 0; i < n; i++)
			out[i] = dt == WFS_DT_I4 ? (double)wfs_dec_signed(dt, src, i) : (double)wfs_dec_unsigned(dt, src, i);
		break;
	case WFS_DT_C128:
		for (size_t i = 0; i < n; i++) {
			uint64_t re = ld64(src + 16 * i), im = ld64(src + 16 * i + 8);
			memcpy(&out[i], &re, 8);
			memcpy(&out[n + i], &im, 8);
		}
		break;
	default: /* ggml block types are decoded by wfs_decode_blocks() */
		break;
	}
}

int64_t wfs_dec_signed(enum wfs_dtype dt, const uint8_t *src, size_t i)
{
	switch (dt) {
	case WFS_DT_I8:
		return (int8_t)src[i];
	case WFS_DT_I16:
		return (int16_t)ld16(src + 2 * i);
	case WFS_DT_I32:
		return (int32_t)ld32(src + 4 * i);
	case WFS_DT_I64:
		return (int64_t)ld64(src + 8 * i);
	case WFS_DT_I4: /* sign-extend the nibble */
		return (int64_t)(int8_t)(uint8_t)(((i % 2 ? src[i / 2] >> 4 : src[i / 2]) & 15) << 4) >> 4;
	default:
		return (int64_t)wfs_dec_unsigned(dt, src, i);
	}
}

uint64_t wfs_dec_unsigned(enum wfs_dtype dt, const uint8_t *src, size_t i)
{
	switch (dt) {
	case WFS_DT_BOOL:
		return src[i] != 0;
	case WFS_DT_U8:
		return src[i];
	case WFS_DT_U16:
		return ld16(src + 2 * i);
	case WFS_DT_U32:
		return ld32(src + 4 * i);
	case WFS_DT_U64:
		return ld64(src + 8 * i);
	case WFS_DT_U4:
		return (i % 2 ? src[i / 2] >> 4 : src[i / 2]) & 15u;
	case WFS_DT_I4:
	case WFS_DT_I8:
	case WFS_DT_I16:
	case WFS_DT_I32:
	case WFS_DT_I64:
		return (uint64_t)wfs_dec_signed(dt, src, i);
	default:
		return 0;
	}
}

bool wfs_dec_narrow(enum wfs_dtype dt)
{
	switch (dt) {
	case WFS_DT_I32:
	case WFS_DT_U32:
	case WFS_DT_I64:
	case WFS_DT_U64:
	case WFS_DT_F64:
	case WFS_DT_C128:
	case WFS_DT_COUNT:
		return false;
	default:
		return true;
	}
}

void wfs_dec_decode_f(enum wfs_dtype dt, const uint8_t *src, size_t n, float *out)
{
	size_t i = 0;
	const uint32_t *t8 = table8(dt);
	if (t8) {
		k_table8(t8, src, n, out);
		return;
	}
	switch (dt) {
	case WFS_DT_BOOL:
		for (; i < n; i++)
			out[i] = src[i] != 0;
		break;
	case WFS_DT_U8:
		for (; i < n; i++)
			out[i] = src[i];
		break;
	case WFS_DT_I8:
		for (; i < n; i++)
			out[i] = (int8_t)src[i];
		break;
	case WFS_DT_I16:
		for (; i < n; i++)
			out[i] = (int16_t)ld16(src + 2 * i);
		break;
	case WFS_DT_U16:
		for (; i < n; i++)
			out[i] = ld16(src + 2 * i);
		break;
	case WFS_DT_F16:
		k_f16(src, n, out);
		break;
	case WFS_DT_BF16:
		k_bf16(src, n, out);
		break;
	case WFS_DT_F32:
#ifdef HOST_LITTLE_ENDIAN
		memcpy(out, src, 4 * n);
#else
		for (; i < n; i++)
			out[i] = u2f(ld32(src + 4 * i));
#endif
		break;
	case WFS_DT_C64:
#ifdef DECODE_SSE2
		i = c64_sse2(src, n, out);
#endif
		for (; i < n; i++) {
			out[i] = u2f(ld32(src + 8 * i));
			out[n + i] = u2f(ld32(src + 8 * i + 4));
		}
		break;
	case WFS_DT_F4:
		k_f4(src, n, out);
		if (n % 2)
			out[n - 1] = u2f(f32_f4[src[n / 2] & 15]);
		break;
	case WFS_DT_F6_E2M3:
		k_f6(f32_f6e2m3, src, n, out);
		break;
	case WFS_DT_F6_E3M2:
		k_f6(f32_f6e3m2, src, n, out);
		break;
	case WFS_DT_I4:
	case WFS_DT_U4:
		for (; i < n; i++)
			out[i] = dt == WFS_DT_I4 ? (float)wfs_dec_signed(dt, src, i) : (float)wfs_dec_unsigned(dt, src, i);
		break;
	default: /* not narrow: wfs_dec_decode() */
		break;
	}
}

/* ---- per block ---------------------------------------------------------- */

bool wfs_decode_supported(enum wfs_dtype from, enum wfs_dtype to)
{
	switch (to) {
	case WFS_DT_F32:
		if (wfs_dtype_is_ggml_block(from))
			return wfs_ggml_decodes(from);
		return table8(from) != NULL || from == WFS_DT_F4 || from == WFS_DT_F6_E2M3 ||
		       from == WFS_DT_F6_E3M2 || from == WFS_DT_BF16 || from == WFS_DT_F16 ||
		       from == WFS_DT_F64;
	case WFS_DT_F16:
		return table8_f16(from) != NULL || from == WFS_DT_F4 || from == WFS_DT_F6_E2M3 ||
		       from == WFS_DT_F6_E3M2;
	case WFS_DT_I8:
		return from == WFS_DT_I4;
	case WFS_DT_U8:
		return from == WFS_DT_U4;
	default:
		return false;
	}
}

int wfs_decode_blocks(enum wfs_dtype from, enum wfs_dtype to, const uint8_t *src, size_t nblocks,
		      void *dst)
{
	if (!wfs_decode_supported(from, to))
		return -ENOTSUP;
	if (wfs_dtype_is_ggml_block(from))
		return wfs_ggml_to_f32(from, src, nblocks, dst);
	size_t n = nblocks * wfs_dtype_block_elems(from);
	if (to == WFS_DT_I8) {
		k_i4(src, n, dst);
		return 0;
	}
	if (to == WFS_DT_U8) {
		k_u4(src, n, dst);
		return 0;
	}
	if (to == WFS_DT_F16) {
		const uint16_t *t8 = table8_f16(from);
		if (t8)
			k_table8_h(t8, src, n, dst);
		else if (from == WFS_DT_F4)
			k_f4_h(src, n, dst);
		else
			k_f6_h(from == WFS_DT_F6_E2M3 ? f16_f6e2m3 : f16_f6e3m2, src, n, dst);
		return 0;
	}
	const uint32_t *t8 = table8(from);
	if (t8)
		k_table8(t8, src, n, dst);
	else if (from == WFS_DT_F4)
		k_f4(src, n, dst);
	else if (from == WFS_DT_F6_E2M3 || from == WFS_DT_F6_E3M2)
		k_f6(from == WFS_DT_F6_E2M3 ? f32_f6e2m3 : f32_f6e3m2, src, n, dst);
	else if (from == WFS_DT_BF16)
		k_bf16(src, n, dst);
	else if (from == WFS_DT_F16)
		k_f16(src, n, dst);
	else
		k_f64(src, n, dst);
	return 0;
}
