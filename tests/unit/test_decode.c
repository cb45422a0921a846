/**
 * @file test_decode.c
 * The library's decoders (weightfs/decode.h), which weightfs-inspect and
 * the typed views share: known values of every minifloat, every bit
 * pattern of the 8-bit and smaller types through every decoder, all 65536
 * F16 patterns, the packing of F4 and F6, integers and C64; the block
 * decoders of the views against the element decoders, F16 targets exact,
 * and what is refused.
 */
#include <errno.h>
#include <math.h>

#include "check.h"
#include "weightfs/decode.h"

/* Same value, NaN equal to NaN, and the same sign of zero. */
static int same(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return a == b && signbit(a) == signbit(b);
}

static double one(enum wfs_dtype dt, const uint8_t *src)
{
	double out[2];
	wfs_dec_decode(dt, src, 1, out);
	return out[0];
}

static double byte_value(enum wfs_dtype dt, unsigned b)
{
	uint8_t x = (uint8_t)b;
	return one(dt, &x);
}

static void known_values(void)
{
	/* F8_E4M3 (OCP e4m3fn): bias 7, NaN only at S.1111.111, no Inf. */
	CHECK(same(byte_value(WFS_DT_F8_E4M3, 0x00), 0.0));
	CHECK(same(byte_value(WFS_DT_F8_E4M3, 0x80), -0.0));
	CHECK(same(byte_value(WFS_DT_F8_E4M3, 0x38), 1.0));
	CHECK(same(byte_value(WFS_DT_F8_E4M3, 0x01), ldexp(1, -9)));
	CHECK(same(byte_value(WFS_DT_F8_E4M3, 0x07), 7 * ldexp(1, -9)));
	CHECK(same(byte_value(WFS_DT_F8_E4M3, 0x08), ldexp(1, -6)));
	CHECK(same(byte_value(WFS_DT_F8_E4M3, 0x7e), 448.0));
	CHECK(same(byte_value(WFS_DT_F8_E4M3, 0xfe), -448.0));
	CHECK(same(byte_value(WFS_DT_F8_E4M3, 0x78), 256.0));
	CHECK(isnan(byte_value(WFS_DT_F8_E4M3, 0x7f)));
	CHECK(isnan(byte_value(WFS_DT_F8_E4M3, 0xff)));
	/* F8_E5M2: bias 15, IEEE-like. */
	CHECK(same(byte_value(WFS_DT_F8_E5M2, 0x3c), 1.0));
	CHECK(same(byte_value(WFS_DT_F8_E5M2, 0x7b), 57344.0));
	CHECK(same(byte_value(WFS_DT_F8_E5M2, 0x7c), INFINITY));
	CHECK(same(byte_value(WFS_DT_F8_E5M2, 0xfc), -INFINITY));
	CHECK(isnan(byte_value(WFS_DT_F8_E5M2, 0x7d)));
	CHECK(isnan(byte_value(WFS_DT_F8_E5M2, 0xff)));
	CHECK(same(byte_value(WFS_DT_F8_E5M2, 0x01), ldexp(1, -16)));
	CHECK(same(byte_value(WFS_DT_F8_E5M2, 0x80), -0.0));
	/* F8_E8M0: 2^(e-127), 0xFF NaN, no zero, no sign. */
	CHECK(same(byte_value(WFS_DT_F8_E8M0, 0x7f), 1.0));
	CHECK(same(byte_value(WFS_DT_F8_E8M0, 0x00), ldexp(1, -127)));
	CHECK(same(byte_value(WFS_DT_F8_E8M0, 0xfe), ldexp(1, 127)));
	CHECK(same(byte_value(WFS_DT_F8_E8M0, 0x80), 2.0));
	CHECK(isnan(byte_value(WFS_DT_F8_E8M0, 0xff)));
	/* F8_E4M3FNUZ: bias 8, 0x80 the only NaN, no -0, no Inf. */
	CHECK(isnan(byte_value(WFS_DT_F8_E4M3FNUZ, 0x80)));
	CHECK(same(byte_value(WFS_DT_F8_E4M3FNUZ, 0x40), 1.0));
	CHECK(same(byte_value(WFS_DT_F8_E4M3FNUZ, 0x7f), 240.0));
	CHECK(same(byte_value(WFS_DT_F8_E4M3FNUZ, 0xff), -240.0));
	CHECK(same(byte_value(WFS_DT_F8_E4M3FNUZ, 0x01), ldexp(1, -10)));
	CHECK(same(byte_value(WFS_DT_F8_E4M3FNUZ, 0x00), 0.0));
	/* F8_E5M2FNUZ: bias 16, 0x80 the only NaN. */
	CHECK(isnan(byte_value(WFS_DT_F8_E5M2FNUZ, 0x80)));
	CHECK(same(byte_value(WFS_DT_F8_E5M2FNUZ, 0x40), 1.0));
	CHECK(same(byte_value(WFS_DT_F8_E5M2FNUZ, 0x7f), 57344.0));
	CHECK(same(byte_value(WFS_DT_F8_E5M2FNUZ, 0x7c), 32768.0));
	CHECK(same(byte_value(WFS_DT_F8_E5M2FNUZ, 0x01), ldexp(1, -17)));
	/* BF16 and F16. */
	CHECK(same(wfs_dec_bf16(0x3f80), 1.0));
	CHECK(same(wfs_dec_bf16(0xc000), -2.0));
	CHECK(same(wfs_dec_bf16(0x7f80), INFINITY));
	CHECK(isnan(wfs_dec_bf16(0x7fc0)));
	CHECK(same(wfs_dec_bf16(0x0001), ldexp(1, -133)));
	CHECK(same(wfs_dec_f16(0x3c00), 1.0));
	CHECK(same(wfs_dec_f16(0x7bff), 65504.0));
	CHECK(same(wfs_dec_f16(0x0001), ldexp(1, -24)));
	CHECK(same(wfs_dec_f16(0x03ff), 1023 * ldexp(1, -24)));
	CHECK(same(wfs_dec_f16(0x8000), -0.0));
	CHECK(same(wfs_dec_f16(0xfc00), -INFINITY));
	CHECK(isnan(wfs_dec_f16(0x7e00)));
	CHECK(isnan(wfs_dec_f16(0x7c01)));
}

static void sub_byte(void)
{
	static const double f4[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
	for (unsigned b = 0; b < 256; b++) {
		uint8_t x = (uint8_t)b;
		double out[2];
		wfs_dec_decode(WFS_DT_F4, &x, 2, out);
		/* The first element is the low nibble. */
		double lo = (b & 8) ? -f4[b & 7] : f4[b & 7];
		double hi = (b & 0x80) ? -f4[(b >> 4) & 7] : f4[(b >> 4) & 7];
		CHECK(same(out[0], lo));
		CHECK(same(out[1], hi));
	}
	/* F6: element i is bits [6i, 6i+6) of the little-endian bit stream. */
	unsigned e[4] = {0x08, 0x1f, 0x01, 0x3f};
	uint32_t v = e[0] | e[1] << 6 | e[2] << 12 | e[3] << 18;
	uint8_t packed[3] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16)};
	double out[4];
	wfs_dec_decode(WFS_DT_F6_E2M3, packed, 4, out);
	CHECK(same(out[0], 1.0));
	CHECK(same(out[1], 7.5));
	CHECK(same(out[2], 0.125));
	CHECK(same(out[3], -7.5));
	wfs_dec_decode(WFS_DT_F6_E3M2, packed, 4, out);
	CHECK(same(out[0], 0.5)); /* 0b001000: e=2, m=0: 2^(2-3) */
	CHECK(same(out[1], 28.0));
	CHECK(same(out[2], 0.0625));
	CHECK(same(out[3], -28.0));
	CHECK(same(wfs_dec_minifloat(0x0c, 3, 2, 3, WFS_DEC_SPECIAL_NONE), 1.0));
	CHECK(same(wfs_dec_minifloat(0x08, 2, 3, 1, WFS_DEC_SPECIAL_NONE), 1.0));

	/* Every 6-bit pattern at every position of a group, and a partial group
	 * (five elements in four bytes) that reads no byte past the fourth. */
	for (unsigned pos = 0; pos < 4; pos++) {
		for (unsigned p = 0; p < 64; p++) {
			uint32_t w = (uint32_t)p << (6 * pos);
			uint8_t g[3] = {(uint8_t)w, (uint8_t)(w >> 8), (uint8_t)(w >> 16)};
			double o[4];
			float of[4];
			wfs_dec_decode(WFS_DT_F6_E2M3, g, 4, o);
			wfs_dec_decode_f(WFS_DT_F6_E2M3, g, 4, of);
			CHECK(same(o[pos], wfs_dec_minifloat(p, 2, 3, 1, WFS_DEC_SPECIAL_NONE)));
			CHECK(same(of[pos], o[pos]));
			wfs_dec_decode(WFS_DT_F6_E3M2, g, 4, o);
			CHECK(same(o[pos], wfs_dec_minifloat(p, 3, 2, 3, WFS_DEC_SPECIAL_NONE)));
			for (unsigned k = 0; k < 4; k++)
				if (k != pos)
					CHECK(same(o[k], 0.0));
		}
	}
	uint8_t five[4] = {0x41, 0x10, 0x04, 0x01}; /* elements 1, 1, 1, 1, 1 */
	double o5[5];
	wfs_dec_decode(WFS_DT_F6_E3M2, five, 5, o5);
	for (unsigned k = 0; k < 5; k++)
		CHECK(same(o5[k], 0.0625));
}

/* The float decoder and the double decoder agree on every 8-bit pattern,
 * every F16 and BF16 pattern (through the vector paths, at every offset). */
static void all_patterns(void)
{
	static const enum wfs_dtype bytes8[] = {
		WFS_DT_BOOL, WFS_DT_U8, WFS_DT_I8, WFS_DT_F8_E5M2, WFS_DT_F8_E4M3, WFS_DT_F8_E8M0,
		WFS_DT_F8_E4M3FNUZ, WFS_DT_F8_E5M2FNUZ, WFS_DT_F4,
	};
	uint8_t all[256];
	for (unsigned b = 0; b < 256; b++)
		all[b] = (uint8_t)b;
	for (size_t k = 0; k < sizeof(bytes8) / sizeof(bytes8[0]); k++) {
		enum wfs_dtype dt = bytes8[k];
		size_t n = dt == WFS_DT_F4 ? 512 : 256;
		double d[512];
		float f[512];
		wfs_dec_decode(dt, all, n, d);
		wfs_dec_decode_f(dt, all, n, f);
		for (size_t i = 0; i < n; i++)
			CHECK(same(d[i], f[i]));
	}
	static const struct {
		enum wfs_dtype dt;
		unsigned ebits, mbits;
		int bias;
		enum wfs_dec_special sp;
	} mini[] = {
		{WFS_DT_F8_E5M2, 5, 2, 15, WFS_DEC_SPECIAL_IEEE},
		{WFS_DT_F8_E4M3, 4, 3, 7, WFS_DEC_SPECIAL_FN},
		{WFS_DT_F8_E4M3FNUZ, 4, 3, 8, WFS_DEC_SPECIAL_FNUZ},
		{WFS_DT_F8_E5M2FNUZ, 5, 2, 16, WFS_DEC_SPECIAL_FNUZ},
	};
	for (size_t k = 0; k < sizeof(mini) / sizeof(mini[0]); k++)
		for (unsigned b = 0; b < 256; b++)
			CHECK(same(byte_value(mini[k].dt, b),
				   wfs_dec_minifloat(b, mini[k].ebits, mini[k].mbits, mini[k].bias, mini[k].sp)));

	static uint8_t h[2 * 65536 + 16];
	static double d[65536 + 8];
	static float f[65536 + 8];
	for (unsigned off = 0; off < 3; off++) { /* unaligned starts, odd lengths */
		for (unsigned i = 0; i < 65536; i++) {
			h[2 * off + 2 * i] = (uint8_t)i;
			h[2 * off + 2 * i + 1] = (uint8_t)(i >> 8);
		}
		size_t n = 65536 - off;
		int bad = 0;
		wfs_dec_decode(WFS_DT_F16, h + 2 * off, n, d);
		wfs_dec_decode_f(WFS_DT_F16, h + 2 * off, n, f);
		for (size_t i = 0; i < n; i++) {
			double ref = wfs_dec_minifloat((unsigned)i, 5, 10, 15, WFS_DEC_SPECIAL_IEEE);
			bad += !same(d[i], ref) || !same(f[i], ref) || !same(wfs_dec_f16((uint16_t)i), ref);
		}
		CHECK(bad == 0);
		bad = 0;
		wfs_dec_decode(WFS_DT_BF16, h + 2 * off, n, d);
		wfs_dec_decode_f(WFS_DT_BF16, h + 2 * off, n, f);
		for (size_t i = 0; i < n; i++) {
			double ref = wfs_dec_minifloat((unsigned)i, 8, 7, 127, WFS_DEC_SPECIAL_IEEE);
			bad += !same(d[i], ref) || !same(f[i], ref);
		}
		CHECK(bad == 0);
	}
}

static void integers_and_complex(void)
{
	uint8_t b[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x80};
	CHECK(wfs_dec_signed(WFS_DT_I64, b, 0) == INT64_MAX);
	CHECK(wfs_dec_signed(WFS_DT_I64, b, 1) == INT64_MIN);
	CHECK(wfs_dec_unsigned(WFS_DT_U64, b, 0) == 0x7fffffffffffffffull);
	CHECK(wfs_dec_signed(WFS_DT_I8, b, 0) == -1);
	CHECK(wfs_dec_signed(WFS_DT_I16, b, 0) == -1);
	CHECK(wfs_dec_signed(WFS_DT_I32, b, 1) == 0x7fffffff);
	CHECK(wfs_dec_unsigned(WFS_DT_U32, b, 0) == 0xffffffffu);
	CHECK(wfs_dec_unsigned(WFS_DT_U16, b, 7) == 0x8000);
	CHECK(wfs_dec_unsigned(WFS_DT_BOOL, b, 0) == 1 && wfs_dec_unsigned(WFS_DT_BOOL, b, 8) == 0);
	double d[4];
	wfs_dec_decode(WFS_DT_I64, b, 2, d);
	CHECK(d[0] == 9223372036854775807.0 && d[1] == -9223372036854775808.0);
	wfs_dec_decode(WFS_DT_I16, b + 6, 1, d);
	CHECK(d[0] == 32767);
	wfs_dec_decode(WFS_DT_BOOL, b + 6, 3, d);
	CHECK(d[0] == 1 && d[1] == 1 && d[2] == 0);

	/* C64: (re, im) pairs come out planar. */
	float c[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, -10};
	uint8_t raw[40];
	memcpy(raw, c, sizeof(raw));
	double cd[10];
	float cf[10];
	wfs_dec_decode(WFS_DT_C64, raw, 5, cd);
	wfs_dec_decode_f(WFS_DT_C64, raw, 5, cf);
	for (int i = 0; i < 5; i++) {
		CHECK(cd[i] == c[2 * i] && cd[5 + i] == c[2 * i + 1]);
		CHECK(cf[i] == c[2 * i] && cf[5 + i] == c[2 * i + 1]);
	}
	CHECK(wfs_dec_kind(WFS_DT_C64) == WFS_DEC_COMPLEX && wfs_dec_kind(WFS_DT_I8) == WFS_DEC_SIGNED &&
	      wfs_dec_kind(WFS_DT_U64) == WFS_DEC_UNSIGNED && wfs_dec_kind(WFS_DT_BOOL) == WFS_DEC_BOOL &&
	      wfs_dec_kind(WFS_DT_F6_E2M3) == WFS_DEC_FLOAT);
	CHECK(wfs_dec_group(WFS_DT_F4) == 2 && wfs_dec_group(WFS_DT_F6_E3M2) == 4 && wfs_dec_group(WFS_DT_F32) == 1);
	CHECK(wfs_dec_byte_offset(WFS_DT_F6_E2M3, 8) == 6 && wfs_dec_byte_offset(WFS_DT_F4, 6) == 3);
	/* I4, U4 (low nibble first) and C128 (planar doubles) */
	uint8_t nib[2] = {0x8f, 0x70};
	CHECK(wfs_dec_signed(WFS_DT_I4, nib, 0) == -1 && wfs_dec_signed(WFS_DT_I4, nib, 1) == -8 &&
	      wfs_dec_signed(WFS_DT_I4, nib, 2) == 0 && wfs_dec_signed(WFS_DT_I4, nib, 3) == 7);
	CHECK(wfs_dec_unsigned(WFS_DT_U4, nib, 0) == 15 && wfs_dec_unsigned(WFS_DT_U4, nib, 1) == 8);
	CHECK(wfs_dec_kind(WFS_DT_I4) == WFS_DEC_SIGNED && wfs_dec_kind(WFS_DT_U4) == WFS_DEC_UNSIGNED &&
	      wfs_dec_kind(WFS_DT_C128) == WFS_DEC_COMPLEX && wfs_dec_group(WFS_DT_U4) == 2);
	double d4[4];
	float f4v[4];
	wfs_dec_decode(WFS_DT_I4, nib, 4, d4);
	wfs_dec_decode_f(WFS_DT_U4, nib, 4, f4v);
	CHECK(d4[0] == -1 && d4[1] == -8 && d4[3] == 7 && f4v[0] == 15 && f4v[1] == 8 && f4v[3] == 7);
	double c128[4] = {1.5, -2.5, 1e300, -0.0}, cp[4];
	wfs_dec_decode(WFS_DT_C128, (const uint8_t *)c128, 2, cp);
	CHECK(cp[0] == 1.5 && cp[1] == 1e300 && cp[2] == -2.5 && cp[3] == 0 && signbit(cp[3]));
	CHECK(!wfs_dec_narrow(WFS_DT_C128));
	CHECK(!wfs_dec_narrow(WFS_DT_F64) && !wfs_dec_narrow(WFS_DT_I32) && wfs_dec_narrow(WFS_DT_F32) && wfs_dec_narrow(WFS_DT_U16));
}

static uint32_t fbits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

/* Half bits to double, written independently of the library: the value of
 * sign, exponent and mantissa fields. */
static double half_value(uint16_t h)
{
	int e = (h >> 10) & 31, m = h & 1023;
	double v = e == 31 ? (m ? NAN : INFINITY) : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
	return (h & 0x8000) ? -v : v;
}

/* wfs_decode_blocks() gives the element decoder's values (NaN as the one
 * quiet NaN), for F32 and, where allowed, F16 targets, on every pattern. */
static void blocks(void)
{
	static const enum wfs_dtype small[] = {
		WFS_DT_F8_E5M2, WFS_DT_F8_E4M3, WFS_DT_F8_E8M0, WFS_DT_F8_E4M3FNUZ, WFS_DT_F8_E5M2FNUZ,
		WFS_DT_F4, WFS_DT_F6_E2M3, WFS_DT_F6_E3M2,
	};
	uint8_t all[256 * 3];
	for (unsigned b = 0; b < sizeof(all); b++)
		all[b] = (uint8_t)(b * 7 + b / 256);
	for (size_t k = 0; k < sizeof(small) / sizeof(small[0]); k++) {
		enum wfs_dtype dt = small[k];
		unsigned be = wfs_dtype_block_elems(dt), bb = wfs_dtype_block_bytes(dt);
		size_t nblocks = sizeof(all) / bb, n = nblocks * be;
		static double d[2048];
		static float f[2048];
		static uint16_t h[2048];
		wfs_dec_decode(dt, all, n, d);
		CHECK(wfs_decode_supported(dt, WFS_DT_F32));
		CHECK(wfs_decode_blocks(dt, WFS_DT_F32, all, nblocks, f) == 0);
		int bad = 0;
		for (size_t i = 0; i < n; i++)
			bad += isnan(d[i]) ? fbits(f[i]) != 0x7fc00000u : !same(f[i], d[i]);
		CHECK(bad == 0);
		/* Blocks decode on their own: block 3 alone equals elements 3*be.. */
		float one_block[4];
		CHECK(wfs_decode_blocks(dt, WFS_DT_F32, all + 3 * bb, 1, one_block) == 0);
		CHECK(memcmp(one_block, f + 3 * be, be * sizeof(float)) == 0);
		bool half = dt != WFS_DT_F8_E8M0;
		CHECK(wfs_decode_supported(dt, WFS_DT_F16) == half);
		if (!half) {
			CHECK(wfs_decode_blocks(dt, WFS_DT_F16, all, 1, h) == -ENOTSUP);
			continue;
		}
		CHECK(wfs_decode_blocks(dt, WFS_DT_F16, all, nblocks, h) == 0);
		bad = 0;
		for (size_t i = 0; i < n; i++)
			bad += isnan(d[i]) ? h[i] != 0x7e00u : !same(half_value(h[i]), d[i]);
		CHECK(bad == 0);
	}
	/* BF16, F16 and F64 to F32; BF16 and F8_E8M0 never to F16. */
	static uint8_t h16[2 * 65536];
	static float f[65536];
	for (unsigned i = 0; i < 65536; i++) {
		h16[2 * i] = (uint8_t)i;
		h16[2 * i + 1] = (uint8_t)(i >> 8);
	}
	CHECK(wfs_decode_blocks(WFS_DT_BF16, WFS_DT_F32, h16, 65536, f) == 0);
	int bad = 0;
	for (unsigned i = 0; i < 65536; i++)
		bad += fbits(f[i]) != (uint32_t)i << 16;
	CHECK(bad == 0);
	CHECK(wfs_decode_blocks(WFS_DT_F16, WFS_DT_F32, h16, 65536, f) == 0);
	bad = 0;
	for (unsigned i = 0; i < 65536; i++)
		bad += !same(f[i], half_value((uint16_t)i));
	CHECK(bad == 0);
	CHECK(!wfs_decode_supported(WFS_DT_BF16, WFS_DT_F16));
	double dd[3] = {1.0 / 3, -1e300, 0x1p-149};
	float f3[3];
	CHECK(wfs_decode_blocks(WFS_DT_F64, WFS_DT_F32, (const uint8_t *)dd, 3, f3) == 0);
	CHECK(f3[0] == (float)(1.0 / 3) && f3[1] == -INFINITY && f3[2] == 0x1p-149f);
	/* I4 and U4: the low nibble first, I4 sign-extended. */
	uint8_t nib[2] = {0x8f, 0x70};
	int8_t i4[4];
	uint8_t u4[4];
	CHECK(wfs_decode_blocks(WFS_DT_I4, WFS_DT_I8, nib, 2, i4) == 0);
	CHECK(i4[0] == -1 && i4[1] == -8 && i4[2] == 0 && i4[3] == 7);
	CHECK(wfs_decode_blocks(WFS_DT_U4, WFS_DT_U8, nib, 2, u4) == 0);
	CHECK(u4[0] == 15 && u4[1] == 8 && u4[2] == 0 && u4[3] == 7);
	/* Nothing else converts. */
	CHECK(wfs_decode_blocks(WFS_DT_I32, WFS_DT_F32, nib, 1, f) == -ENOTSUP);
	CHECK(wfs_decode_blocks(WFS_DT_C64, WFS_DT_F32, nib, 1, f) == -ENOTSUP);
	CHECK(!wfs_decode_supported(WFS_DT_F32, WFS_DT_F32));
	CHECK(!wfs_decode_supported(WFS_DT_I4, WFS_DT_F32));
}

int main(void)
{
	known_values();
	sub_byte();
	all_patterns();
	integers_and_complex();
	blocks();
	return check_report("test_decode");
}
