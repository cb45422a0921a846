/**
 * @file minifloat.c
 * The reference definitions of the small float formats, value by value.
 * The decoding tables (decode_tables.h, written at build time by
 * gen_tables.c) are computed from these, so every table entry has one
 * definition; the decoders use the tables.
 */
#include <math.h>
#include <string.h>

#include "weightfs/decode.h"

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

double wfs_dec_minifloat(unsigned bits, unsigned ebits, unsigned mbits, int bias, enum wfs_dec_special sp)
{
	unsigned emax = (1u << ebits) - 1, mmax = (1u << mbits) - 1;
	unsigned sign = (bits >> (ebits + mbits)) & 1;
	unsigned e = (bits >> mbits) & emax, m = bits & mmax;
	switch (sp) {
	case WFS_DEC_SPECIAL_IEEE:
		if (e == emax)
			return m ? NAN : sign ? -INFINITY : INFINITY;
		break;
	case WFS_DEC_SPECIAL_FN:
		if (e == emax && m == mmax)
			return NAN;
		break;
	case WFS_DEC_SPECIAL_FNUZ:
		if (sign && e == 0 && m == 0)
			return NAN;
		break;
	case WFS_DEC_SPECIAL_NONE:
		break;
	}
	double v = e == 0 ? ldexp((double)m, 1 - bias - (int)mbits)
			  : ldexp((double)(m + (1u << mbits)), (int)e - bias - (int)mbits);
	return sign ? -v : v;
}

double wfs_dec_f16(uint16_t h)
{
	/* Shift exponent and mantissa into a float, then rescale by 2^(127-15):
	 * this also normalises subnormals exactly. */
	uint32_t em = h & 0x7fffu;
	float f = u2f(em << 13) * 0x1p112f;
	if (em >= 0x7c00u)
		f = u2f((em << 13) | 0x7f800000u);
	return (double)u2f(f2u(f) | ((uint32_t)(h & 0x8000u) << 16));
}

double wfs_dec_bf16(uint16_t h)
{
	return (double)u2f((uint32_t)h << 16);
}
