/**
 * @file gen_tables.c
 * Build-time program: writes decode_tables.h, the constant tables of every
 * 8-bit and smaller float type, as float bits (for F32 views and
 * statistics) and as half bits (for npy_float=f16), from
 * wfs_dec_minifloat(), the reference definition. It fails (and so the
 * build does) when a value it writes is not exactly a float, or, for the
 * half tables, not exactly a half: the tables are exact by construction.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weightfs/decode.h"

static FILE *out;

static uint32_t f32_bits(double v, const char *what, unsigned b)
{
	if (isnan(v))
		return 0x7fc00000u;
	float f = (float)v;
	if ((double)f != v) {
		fprintf(stderr, "gen_tables: %s[%u] = %a is not a float\n", what, b, v);
		exit(1);
	}
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

/* The half with the value v exactly (checked by decoding it back). */
static uint16_t f16_bits(double v, const char *what, unsigned b)
{
	if (isnan(v))
		return 0x7e00u;
	uint16_t sign = signbit(v) ? 0x8000u : 0;
	double a = fabs(v);
	uint16_t h;
	if (isinf(a)) {
		h = 0x7c00u;
	} else if (a == 0) {
		h = 0;
	} else {
		int e;
		frexp(a, &e); /* a = f * 2^e, f in [0.5, 1) */
		int exp = e - 1 + 15; /* biased exponent of 1.m * 2^(e-1) */
		if (exp <= 0) /* subnormal: a = m * 2^-24 */
			h = (uint16_t)ldexp(a, 24);
		else
			h = (uint16_t)((unsigned)(exp < 31 ? exp : 31) << 10 |
				       ((unsigned)(ldexp(a, 10 - (e - 1))) & 0x3ffu));
	}
	h |= sign;
	double back = wfs_dec_f16(h);
	if (back != v || signbit(back) != signbit(v)) {
		fprintf(stderr, "gen_tables: %s[%u] = %a is not a half\n", what, b, v);
		exit(1);
	}
	return h;
}

struct fmt {
	const char *name;
	unsigned ebits, mbits;
	int bias;
	enum wfs_dec_special sp;
	unsigned count; /* 256 for 8-bit, 64 for 6-bit, 16 for 4-bit */
	int half;       /* also a half table */
};

static double value(const struct fmt *f, unsigned b)
{
	if (f->ebits == 8) /* E8M0: 2^(b-127), 0xFF NaN */
		return b == 0xff ? NAN : ldexp(1.0, (int)b - 127);
	return wfs_dec_minifloat(b, f->ebits, f->mbits, f->bias, f->sp);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (out = fopen(argv[1], "w")) == NULL) {
		fprintf(stderr, "usage: gen_tables OUTPUT\n");
		return 1;
	}
	static const struct fmt fmts[] = {
		{"e5m2", 5, 2, 15, WFS_DEC_SPECIAL_IEEE, 256, 1},
		{"e4m3", 4, 3, 7, WFS_DEC_SPECIAL_FN, 256, 1},
		{"e8m0", 8, 0, 127, WFS_DEC_SPECIAL_NONE, 256, 0},
		{"e4m3fnuz", 4, 3, 8, WFS_DEC_SPECIAL_FNUZ, 256, 1},
		{"e5m2fnuz", 5, 2, 16, WFS_DEC_SPECIAL_FNUZ, 256, 1},
		{"f4", 2, 1, 1, WFS_DEC_SPECIAL_NONE, 16, 1},
		{"f6e2m3", 2, 3, 1, WFS_DEC_SPECIAL_NONE, 64, 1},
		{"f6e3m2", 3, 2, 3, WFS_DEC_SPECIAL_NONE, 64, 1},
	};
	fprintf(out, "/* Written by gen_tables.c at build time from wfs_dec_minifloat(); do not edit. */\n");
	for (size_t k = 0; k < sizeof(fmts) / sizeof(fmts[0]); k++) {
		const struct fmt *f = &fmts[k];
		fprintf(out, "static const uint32_t f32_%s[%u] = {", f->name, f->count);
		for (unsigned b = 0; b < f->count; b++)
			fprintf(out, "%s0x%08xu,", b % 8 ? " " : "\n\t", f32_bits(value(f, b), f->name, b));
		fprintf(out, "\n};\n");
		if (!f->half)
			continue;
		fprintf(out, "static const uint16_t f16_%s[%u] = {", f->name, f->count);
		for (unsigned b = 0; b < f->count; b++)
			fprintf(out, "%s0x%04xu,", b % 8 ? " " : "\n\t", f16_bits(value(f, b), f->name, b));
		fprintf(out, "\n};\n");
	}
	return fclose(out) == 0 ? 0 : 1;
}
