/**
 * @file ggml_kquants.c
 * ggml's K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K) and IQ4_XS: 256
 * elements per super-block, with 6- or 8-bit sub-block scales.
 *
 * Layouts: the block_* structs of ggml/src/ggml-common.h (QK_K = 256,
 * K_SCALE_SIZE = 12; fields in declaration order, no padding,
 * little-endian). Values and float operation order: dequantize_row_* of
 * ggml/src/ggml-quants.c, cited per type. Each sub-block's float scale and
 * min are computed once as ggml does (one rounding each), then every element
 * is one product (and one subtraction), so the inner loops are plain
 * vectorisable loops over 16 or 32 elements.
 */
/* No fused multiply-add: ggml rounds every product (see ggml_blocks.h). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "ggml_blocks.h"

/*
 * Q2_K: block_q2_K (84 bytes): scales[16] (low nibble: scale, high nibble:
 * min, per 16 elements), qs[64] (2-bit quants), d, dmin (f16).
 * dequantize_row_q2_K: for each half h (0, 1) of the block, qs[32h..32h+31]
 * hold four 32-element groups in bit pairs (shift 0, 2, 4, 6); group g of
 * half h covers elements 128h + 32g: its first 16 use bytes 0..15 and scale
 * 8h + 2g, its second 16 bytes 16..31 and scale 8h + 2g + 1.
 * y = dl * q - ml with dl = d * (sc & 15), ml = dmin * (sc >> 4).
 */
void wfs_ggml_q2_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 84) {
		const uint8_t *scales = src;
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src + 80));
		const float min = wfs_ggml_f16(wfs_ggml_ld16(src + 82));
		for (int h = 0; h < 2; h++) {
			const uint8_t *q = src + 16 + 32 * h;
			for (int g = 0; g < 4; g++) {
				const unsigned shift = 2u * (unsigned)g;
				for (int k = 0; k < 2; k++, dst += 16) {
					const uint8_t sc = scales[8 * h + 2 * g + k];
					const float dl = d * (float)(sc & 0x0f);
					const float ml = min * (float)(sc >> 4);
					const uint8_t *qk = q + 16 * k;
					for (int l = 0; l < 16; l++)
						dst[l] = dl * (float)((qk[l] >> shift) & 3) - ml;
				}
			}
		}
	}
}

/*
 * Q3_K: block_q3_K (110 bytes): hmask[32] (third bit of each quant),
 * qs[64] (low two bits), scales[12] (sixteen 6-bit scales), d (f16).
 * dequantize_row_q3_K unpacks the scales with 32-bit masks; written per
 * scale k (0..15): its low four bits are the low nibble of byte k for
 * k < 8, the high nibble of byte k - 8 otherwise; its high two bits are
 * bits 2(k/4), 2(k/4)+1 of byte 8 + k%4. Then as Q2_K's bit-pair walk, with
 * hmask bit 4h + g of byte l (the same l as the quant byte) subtracting 4
 * when clear: y = dl * (q - (hbit ? 0 : 4)), dl = d * (scale - 32).
 */
void wfs_ggml_q3_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 110) {
		const uint8_t *hmask = src;
		const uint8_t *sb = src + 96;
		const float d_all = wfs_ggml_f16(wfs_ggml_ld16(src + 108));
		int scale[16];
		for (unsigned k = 0; k < 16; k++) {
			unsigned lo = k < 8 ? sb[k] & 0x0fu : (unsigned)sb[k - 8] >> 4;
			unsigned hi = ((unsigned)sb[8 + k % 4] >> (2 * (k / 4))) & 3u;
			scale[k] = (int)(lo | hi << 4) - 32;
		}
		for (int h = 0; h < 2; h++) {
			const uint8_t *q = src + 32 + 32 * h;
			for (int g = 0; g < 4; g++) {
				const unsigned shift = 2u * (unsigned)g;
				const uint8_t m = (uint8_t)(1u << (4 * h + g));
				for (int k = 0; k < 2; k++, dst += 16) {
					const float dl = d_all * (float)scale[8 * h + 2 * g + k];
					const uint8_t *qk = q + 16 * k;
					const uint8_t *hk = hmask + 16 * k;
					for (int l = 0; l < 16; l++) {
						int v = (int)((qk[l] >> shift) & 3) - ((hk[l] & m) ? 0 : 4);
						dst[l] = dl * (float)v;
					}
				}
			}
		}
	}
}

/*
 * The 6-bit scale and min of sub-block j (0..7) of Q4_K and Q5_K: twelve
 * bytes hold eight scales and eight mins (ggml-quants.c, get_scale_min_k4).
 * For j < 4: scale = b[j] & 63, min = b[j + 4] & 63. Otherwise the low four
 * bits come from byte j + 4 (scale: low nibble, min: high nibble) and the
 * high two from the top bits of byte j - 4 (scale) and byte j (min).
 */
static inline void scale_min_k4(unsigned j, const uint8_t *b, unsigned *sc, unsigned *m)
{
	if (j < 4) {
		*sc = b[j] & 63u;
		*m = b[j + 4] & 63u;
	} else {
		*sc = (b[j + 4] & 0x0fu) | ((unsigned)b[j - 4] >> 6) << 4;
		*m = ((unsigned)b[j + 4] >> 4) | ((unsigned)b[j] >> 6) << 4;
	}
}

/*
 * Q4_K: block_q4_K (144 bytes): d, dmin (f16), scales[12], qs[128].
 * dequantize_row_q4_K: chunk c (0..3) of 64 elements uses qs[32c..32c+31],
 * low nibbles for sub-block 2c, high nibbles for 2c + 1;
 * y = d1 * q - m1 with d1 = d * scale, m1 = dmin * min.
 */
void wfs_ggml_q4_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 144) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src));
		const float min = wfs_ggml_f16(wfs_ggml_ld16(src + 2));
		const uint8_t *scales = src + 4;
		const uint8_t *q = src + 16;
		for (unsigned c = 0; c < 4; c++, q += 32, dst += 64) {
			unsigned sc, m;
			scale_min_k4(2 * c, scales, &sc, &m);
			const float d1 = d * (float)sc, m1 = min * (float)m;
			scale_min_k4(2 * c + 1, scales, &sc, &m);
			const float d2 = d * (float)sc, m2 = min * (float)m;
			for (int l = 0; l < 32; l++)
				dst[l] = d1 * (float)(q[l] & 0x0f) - m1;
			for (int l = 0; l < 32; l++)
				dst[l + 32] = d2 * (float)(q[l] >> 4) - m2;
		}
	}
}

/*
 * Q5_K: block_q5_K (176 bytes): d, dmin (f16), scales[12], qh[32],
 * qs[128]. dequantize_row_q5_K: as Q4_K, and bit 2c (low nibbles) or
 * 2c + 1 (high nibbles) of qh[l] adds 16 to the quant of byte l of chunk c.
 */
void wfs_ggml_q5_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 176) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src));
		const float min = wfs_ggml_f16(wfs_ggml_ld16(src + 2));
		const uint8_t *scales = src + 4;
		const uint8_t *qh = src + 16;
		const uint8_t *q = src + 48;
		for (unsigned c = 0; c < 4; c++, q += 32, dst += 64) {
			unsigned sc, m;
			scale_min_k4(2 * c, scales, &sc, &m);
			const float d1 = d * (float)sc, m1 = min * (float)m;
			scale_min_k4(2 * c + 1, scales, &sc, &m);
			const float d2 = d * (float)sc, m2 = min * (float)m;
			const unsigned s1 = 2 * c, s2 = 2 * c + 1;
			for (int l = 0; l < 32; l++)
				dst[l] = d1 * (float)((q[l] & 0x0fu) | ((qh[l] >> s1) & 1u) << 4) - m1;
			for (int l = 0; l < 32; l++)
				dst[l + 32] = d2 * (float)(((unsigned)q[l] >> 4) | ((qh[l] >> s2) & 1u) << 4) - m2;
		}
	}
}

/*
 * Q6_K: block_q6_K (210 bytes): ql[128] (low four bits), qh[64] (high two
 * bits), scales[16] (int8, one per 16 elements), d (f16).
 * dequantize_row_q6_K: half h (0, 1) uses ql[64h..], qh[32h..], scales[8h..];
 * for l in 0..31, byte qh[l] gives the high bits of four quants:
 *   element l      : ql[l] low nibble,      qh bits 0-1, scale l/16
 *   element l + 32 : ql[l + 32] low nibble, qh bits 2-3, scale l/16 + 2
 *   element l + 64 : ql[l] high nibble,     qh bits 4-5, scale l/16 + 4
 *   element l + 96 : ql[l + 32] high nibble, qh bits 6-7, scale l/16 + 6
 * y = d * scale * (q - 32), evaluated as ggml does: (d * scale) * q.
 */
void wfs_ggml_q6_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 210) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src + 208));
		const uint8_t *ql = src;
		const uint8_t *qh = src + 128;
		const int8_t *sc = (const int8_t *)(src + 192);
		for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, dst += 128) {
			for (int part = 0; part < 2; part++) {
				/* 16 elements share each scale: ggml computes d * sc per element;
				 * the product is the same float for all 16, so hoist it. */
				const float d0 = d * (float)sc[part + 0], d2 = d * (float)sc[part + 2];
				const float d4 = d * (float)sc[part + 4], d6 = d * (float)sc[part + 6];
				for (int l = 16 * part; l < 16 * part + 16; l++) {
					int q1 = (int)((ql[l] & 0x0fu) | ((qh[l] >> 0) & 3u) << 4) - 32;
					int q2 = (int)((ql[l + 32] & 0x0fu) | ((qh[l] >> 2) & 3u) << 4) - 32;
					int q3 = (int)(((unsigned)ql[l] >> 4) | ((qh[l] >> 4) & 3u) << 4) - 32;
					int q4 = (int)(((unsigned)ql[l + 32] >> 4) | ((qh[l] >> 6) & 3u) << 4) - 32;
					dst[l] = d0 * (float)q1;
					dst[l + 32] = d2 * (float)q2;
					dst[l + 64] = d4 * (float)q3;
					dst[l + 96] = d6 * (float)q4;
				}
			}
		}
	}
}

/*
 * Q8_K: block_q8_K (292 bytes): d (float32, not f16), qs[256] (int8),
 * bsums[16] (int16 sums of 16 quants, for dot products; not used).
 * dequantize_row_q8_K: y = d * q. ggml's type traits give Q8_K no to_float
 * (it is an intermediate type), but that function defines its values.
 */
void wfs_ggml_q8_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 292, dst += 256) {
		const float d = wfs_ggml_bits_f32(wfs_ggml_ld32(src));
		const int8_t *qs = (const int8_t *)(src + 4);
		for (int j = 0; j < 256; j++)
			dst[j] = d * (float)qs[j];
	}
}

/*
 * IQ4_XS: block_iq4_xs (136 bytes): d (f16), scales_h (u16), scales_l[4],
 * qs[128]. dequantize_row_iq4_xs: sub-block b (0..7) of 32 elements has the
 * 6-bit scale ls = (nibble b%2 of scales_l[b/2]) | (bits 2b, 2b+1 of
 * scales_h) << 4; dl = d * (ls - 32); its 16 bytes qs[16b..] give element j
 * (low nibble) and j + 16 (high nibble): y = dl * kvalues_iq4nl[q].
 */
void wfs_ggml_iq4_xs(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 136) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src));
		const unsigned scales_h = wfs_ggml_ld16(src + 2);
		const uint8_t *scales_l = src + 4;
		const uint8_t *qs = src + 8;
		for (unsigned b = 0; b < 8; b++, qs += 16, dst += 32) {
			unsigned ls = (((unsigned)scales_l[b / 2] >> (4 * (b % 2))) & 0x0fu) |
				      ((scales_h >> (2 * b)) & 3u) << 4;
			const float dl = d * (float)((int)ls - 32);
			for (int j = 0; j < 16; j++) {
				dst[j] = dl * (float)wfs_ggml_iq4nl_values[qs[j] & 0x0f];
				dst[j + 16] = dl * (float)wfs_ggml_iq4nl_values[qs[j] >> 4];
			}
		}
	}
}
