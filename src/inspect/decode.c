/**
 * @file decode.c
 * Decodes the elements of every safetensors dtype (see decode.h for the bit
 * conventions): to double for every dtype (dec_decode), and to float for the
 * dtypes whose values all are floats (dec_decode_f, what stats uses). The
 * 8-bit and smaller float types go through tables built once from
 * dec_minifloat(), the reference definition; F16, BF16 and C64 have SSE2
 * paths (part of x86-64) beside the portable C, which DECODE_PORTABLE
 * selects for the tests.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "decode.h"

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

static inline uint32_t f2u(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

enum dec_kind dec_kind(enum wfs_dtype dt)
{
	switch (dt) {
	case WFS_DT_BOOL:
		return DEC_BOOL;
	case WFS_DT_I8:
	case WFS_DT_I16:
	case WFS_DT_I32:
	case WFS_DT_I64:
		return DEC_SIGNED;
	case WFS_DT_U8:
	case WFS_DT_U16:
	case WFS_DT_U32:
	case WFS_DT_U64:
		return DEC_UNSIGNED;
	case WFS_DT_C64:
		return DEC_COMPLEX;
	default:
		return DEC_FLOAT;
	}
}

unsigned dec_group(enum wfs_dtype dt)
{
	switch (dt) {
	case WFS_DT_F4:
		return 2;
	case WFS_DT_F6_E2M3:
	case WFS_DT_F6_E3M2:
		return 4;
	default:
		return 1;
	}
}

double dec_minifloat(unsigned bits, unsigned ebits, unsigned mbits, int bias, enum dec_special sp)
{
	unsigned emax = (1u << ebits) - 1, mmax = (1u << mbits) - 1;
	unsigned sign = (bits >> (ebits + mbits)) & 1;
	unsigned e = (bits >> mbits) & emax, m = bits & mmax;
	switch (sp) {
	case DEC_SPECIAL_IEEE:
		if (e == emax)
			return m ? NAN : sign ? -INFINITY : INFINITY;
		break;
	case DEC_SPECIAL_FN:
		if (e == emax && m == mmax)
			return NAN;
		break;
	case DEC_SPECIAL_FNUZ:
		if (sign && e == 0 && m == 0)
			return NAN;
		break;
	case DEC_SPECIAL_NONE:
		break;
	}
	double v = e == 0 ? ldexp((double)m, 1 - bias - (int)mbits)
			  : ldexp((double)(m + (1u << mbits)), (int)e - bias - (int)mbits);
	return sign ? -v : v;
}

double dec_f16(uint16_t h)
{
	/* Shift exponent and mantissa into a float, then rescale by 2^(127-15):
	 * this also normalises subnormals exactly. */
	uint32_t em = h & 0x7fffu;
	float f = u2f(em << 13) * 0x1p112f;
	if (em >= 0x7c00u)
		f = u2f((em << 13) | 0x7f800000u);
	return (double)u2f(f2u(f) | ((uint32_t)(h & 0x8000u) << 16));
}

double dec_bf16(uint16_t h)
{
	return (double)u2f((uint32_t)h << 16);
}

/* Tables: every 8-bit float, F4 by byte (two values), F6 by 6-bit pattern. */
static double t_e5m2[256], t_e4m3[256], t_e8m0[256], t_e4m3fnuz[256], t_e5m2fnuz[256];
static double t_f4[256][2], t_f6e2m3[64], t_f6e3m2[64];
static float f_e5m2[256], f_e4m3[256], f_e8m0[256], f_e4m3fnuz[256], f_e5m2fnuz[256];
static float f_f4[256][2], f_f6e2m3[64], f_f6e3m2[64];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
	for (unsigned b = 0; b < 256; b++) {
		t_e5m2[b] = dec_minifloat(b, 5, 2, 15, DEC_SPECIAL_IEEE);
		t_e4m3[b] = dec_minifloat(b, 4, 3, 7, DEC_SPECIAL_FN);
		t_e4m3fnuz[b] = dec_minifloat(b, 4, 3, 8, DEC_SPECIAL_FNUZ);
		t_e5m2fnuz[b] = dec_minifloat(b, 5, 2, 16, DEC_SPECIAL_FNUZ);
		t_e8m0[b] = b == 0xff ? NAN : ldexp(1.0, (int)b - 127);
		t_f4[b][0] = dec_minifloat(b & 15, 2, 1, 1, DEC_SPECIAL_NONE);
		t_f4[b][1] = dec_minifloat(b >> 4, 2, 1, 1, DEC_SPECIAL_NONE);
	}
	for (unsigned b = 0; b < 64; b++) {
		t_f6e2m3[b] = dec_minifloat(b, 2, 3, 1, DEC_SPECIAL_NONE);
		t_f6e3m2[b] = dec_minifloat(b, 3, 2, 3, DEC_SPECIAL_NONE);
		f_f6e2m3[b] = (float)t_f6e2m3[b];
		f_f6e3m2[b] = (float)t_f6e3m2[b];
	}
	/* Every value of these types is a float exactly. */
	for (unsigned b = 0; b < 256; b++) {
		f_e5m2[b] = (float)t_e5m2[b];
		f_e4m3[b] = (float)t_e4m3[b];
		f_e8m0[b] = (float)t_e8m0[b];
		f_e4m3fnuz[b] = (float)t_e4m3fnuz[b];
		f_e5m2fnuz[b] = (float)t_e5m2fnuz[b];
		f_f4[b][0] = (float)t_f4[b][0];
		f_f4[b][1] = (float)t_f4[b][1];
	}
}

void dec_init(void)
{
	pthread_once(&tables_once, build_tables);
}

static void dec_table8(const double *t, const uint8_t *src, size_t n, double *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = t[src[i]];
}

#define DEC_F6()                                                                            \
	size_t i = 0;                                                                       \
	for (; i + 4 <= n; i += 4, src += 3) {                                              \
		uint32_t v = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16; \
		out[i] = t[v & 63];                                                         \
		out[i + 1] = t[(v >> 6) & 63];                                              \
		out[i + 2] = t[(v >> 12) & 63];                                             \
		out[i + 3] = t[v >> 18];                                                    \
	}                                                                                   \
	/* A partial last group: read only the bytes its elements touch. */                \
	for (unsigned k = 0; i < n; i++, k++) {                                             \
		unsigned bit = 6 * k, v = (unsigned)src[bit / 8] >> (bit % 8);              \
		if (bit % 8 > 2)                                                            \
			v |= (unsigned)src[bit / 8 + 1] << (8 - bit % 8);                   \
		out[i] = t[v & 63];                                                         \
	}

static void dec_f6(const double *t, const uint8_t *src, size_t n, double *out)
{
	DEC_F6()
}

static void dec_f6_f(const float *t, const uint8_t *src, size_t n, float *out)
{
	DEC_F6()
}

void dec_decode(enum wfs_dtype dt, const uint8_t *src, size_t n, double *out)
{
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
	case WFS_DT_F8_E5M2:
		dec_table8(t_e5m2, src, n, out);
		break;
	case WFS_DT_F8_E4M3:
		dec_table8(t_e4m3, src, n, out);
		break;
	case WFS_DT_F8_E8M0:
		dec_table8(t_e8m0, src, n, out);
		break;
	case WFS_DT_F8_E4M3FNUZ:
		dec_table8(t_e4m3fnuz, src, n, out);
		break;
	case WFS_DT_F8_E5M2FNUZ:
		dec_table8(t_e5m2fnuz, src, n, out);
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
			out[i] = dec_f16(ld16(src + 2 * i));
		break;
	case WFS_DT_BF16:
		for (size_t i = 0; i < n; i++)
			out[i] = dec_bf16(ld16(src + 2 * i));
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
			out[i] = t_f4[src[i / 2]][0];
			out[i + 1] = t_f4[src[i / 2]][1];
		}
		if (n % 2)
			out[n - 1] = t_f4[src[n / 2]][0];
		break;
	case WFS_DT_F6_E2M3:
		dec_f6(t_f6e2m3, src, n, out);
		break;
	case WFS_DT_F6_E3M2:
		dec_f6(t_f6e3m2, src, n, out);
		break;
	default: /* block and complex-double types are not decoded here */
		break;
	}
}

int64_t dec_signed(enum wfs_dtype dt, const uint8_t *src, size_t i)
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
	default:
		return (int64_t)dec_unsigned(dt, src, i);
	}
}

uint64_t dec_unsigned(enum wfs_dtype dt, const uint8_t *src, size_t i)
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
	case WFS_DT_I8:
	case WFS_DT_I16:
	case WFS_DT_I32:
	case WFS_DT_I64:
		return (uint64_t)dec_signed(dt, src, i);
	default:
		return 0;
	}
}

bool dec_narrow(enum wfs_dtype dt)
{
	switch (dt) {
	case WFS_DT_I32:
	case WFS_DT_U32:
	case WFS_DT_I64:
	case WFS_DT_U64:
	case WFS_DT_F64:
	case WFS_DT_COUNT:
		return false;
	default:
		return true;
	}
}

static void dec_table8_f(const float *t, const uint8_t *src, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = t[src[i]];
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
		__m128i h = _mm_loadu_si128((const __m128i *)(src + 2 * i));
		_mm_storeu_si128((__m128i *)(out + i), _mm_unpacklo_epi16(zero, h));
		_mm_storeu_si128((__m128i *)(out + i + 4), _mm_unpackhi_epi16(zero, h));
	}
	return i;
}

/* Four F16 (zero-extended in 32-bit lanes) to float, as dec_f16() but branch-free. */
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
		__m128i h = _mm_loadu_si128((const __m128i *)(src + 2 * i));
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

void dec_decode_f(enum wfs_dtype dt, const uint8_t *src, size_t n, float *out)
{
	size_t i = 0;
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
	case WFS_DT_F8_E5M2:
		dec_table8_f(f_e5m2, src, n, out);
		break;
	case WFS_DT_F8_E4M3:
		dec_table8_f(f_e4m3, src, n, out);
		break;
	case WFS_DT_F8_E8M0:
		dec_table8_f(f_e8m0, src, n, out);
		break;
	case WFS_DT_F8_E4M3FNUZ:
		dec_table8_f(f_e4m3fnuz, src, n, out);
		break;
	case WFS_DT_F8_E5M2FNUZ:
		dec_table8_f(f_e5m2fnuz, src, n, out);
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
#ifdef DECODE_SSE2
		i = f16_sse2(src, n, out);
#endif
		for (; i < n; i++)
			out[i] = (float)dec_f16(ld16(src + 2 * i));
		break;
	case WFS_DT_BF16:
#ifdef DECODE_SSE2
		i = bf16_sse2(src, n, out);
#endif
		for (; i < n; i++)
			out[i] = u2f((uint32_t)ld16(src + 2 * i) << 16);
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
		for (; i + 1 < n; i += 2) {
			out[i] = f_f4[src[i / 2]][0];
			out[i + 1] = f_f4[src[i / 2]][1];
		}
		if (n % 2)
			out[n - 1] = f_f4[src[n / 2]][0];
		break;
	case WFS_DT_F6_E2M3:
		dec_f6_f(f_f6e2m3, src, n, out);
		break;
	case WFS_DT_F6_E3M2:
		dec_f6_f(f_f6e3m2, src, n, out);
		break;
	default: /* not narrow: dec_decode() */
		break;
	}
}
