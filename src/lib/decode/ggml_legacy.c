/**
 * @file ggml_legacy.c
 * ggml's 32-element block types: the legacy quants Q4_0, Q4_1, Q5_0, Q5_1,
 * Q8_0, Q8_1, and the non-linear IQ4_NL and MXFP4, decoded to float32.
 *
 * Block layouts are those of ggml's block_* structs (ggml/src/ggml-common.h,
 * fields in declaration order, no padding, little-endian, "ggml_half" an
 * IEEE binary16); the value rules and their float operation order are those
 * of dequantize_row_* in ggml/src/ggml-quants.c, cited per type. Nibble
 * types put element j in the low nibble of byte j and element j + 16 in its
 * high nibble.
 */
/* No fused multiply-add: ggml rounds every product (see ggml_blocks.h). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "ggml_blocks.h"

/* ggml-common.h, kvalues_iq4nl: the 16 IQ4_NL code points. */
const int8_t wfs_ggml_iq4nl_values[16] = {
	-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};

/*
 * ggml-common.h, kvalues_mxfp4 (kvalues_fp4): the E2M1 values doubled
 * (0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives, times two), which is why
 * MXFP4's scale is halved below.
 */
static const int8_t mxfp4_values[16] = {
	0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
};

/* block_q4_0 (18 bytes): d (f16), qs[16]. dequantize_row_q4_0: y = (q - 8) * d. */
void wfs_ggml_q4_0(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 18, dst += 32) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src));
		const uint8_t *qs = src + 2;
		for (int j = 0; j < 16; j++) {
			dst[j] = (float)((qs[j] & 0x0f) - 8) * d;
			dst[j + 16] = (float)((qs[j] >> 4) - 8) * d;
		}
	}
}

/* block_q4_1 (20 bytes): d, m (f16), qs[16]. dequantize_row_q4_1: y = q * d + m. */
void wfs_ggml_q4_1(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 20, dst += 32) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src));
		const float m = wfs_ggml_f16(wfs_ggml_ld16(src + 2));
		const uint8_t *qs = src + 4;
		for (int j = 0; j < 16; j++) {
			dst[j] = (float)(qs[j] & 0x0f) * d + m;
			dst[j + 16] = (float)(qs[j] >> 4) * d + m;
		}
	}
}

/*
 * Bit j of Q5's qh word, as a table rather than a shift by j: a test against
 * a vector of masks vectorises (SSE2 has no per-lane variable shift).
 */
static const uint32_t bit[32] = {
	1u << 0, 1u << 1, 1u << 2, 1u << 3, 1u << 4, 1u << 5, 1u << 6, 1u << 7,
	1u << 8, 1u << 9, 1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15,
	1u << 16, 1u << 17, 1u << 18, 1u << 19, 1u << 20, 1u << 21, 1u << 22, 1u << 23,
	1u << 24, 1u << 25, 1u << 26, 1u << 27, 1u << 28, 1u << 29, 1u << 30, 1u << 31,
};

/*
 * block_q5_0 (22 bytes): d (f16), qh[4] (a little-endian 32-bit word whose
 * bit j is the fifth bit of element j), qs[16]. dequantize_row_q5_0:
 * y = (q - 16) * d.
 */
void wfs_ggml_q5_0(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 22, dst += 32) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src));
		const uint32_t qh = wfs_ggml_ld32(src + 2);
		const uint8_t *qs = src + 6;
		for (int j = 0; j < 16; j++) {
			int lo = (int)((qs[j] & 0x0fu) | ((qh & bit[j]) ? 0x10u : 0));
			int hi = (int)(((unsigned)qs[j] >> 4) | ((qh & bit[j + 16]) ? 0x10u : 0));
			dst[j] = (float)(lo - 16) * d;
			dst[j + 16] = (float)(hi - 16) * d;
		}
	}
}

/* block_q5_1 (24 bytes): d, m (f16), qh[4], qs[16]. dequantize_row_q5_1: y = q * d + m. */
void wfs_ggml_q5_1(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 24, dst += 32) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src));
		const float m = wfs_ggml_f16(wfs_ggml_ld16(src + 2));
		const uint32_t qh = wfs_ggml_ld32(src + 4);
		const uint8_t *qs = src + 8;
		for (int j = 0; j < 16; j++) {
			unsigned lo = (qs[j] & 0x0fu) | ((qh & bit[j]) ? 0x10u : 0);
			unsigned hi = ((unsigned)qs[j] >> 4) | ((qh & bit[j + 16]) ? 0x10u : 0);
			dst[j] = (float)lo * d + m;
			dst[j + 16] = (float)hi * d + m;
		}
	}
}

/* block_q8_0 (34 bytes): d (f16), qs[32] (int8). dequantize_row_q8_0: y = q * d. */
void wfs_ggml_q8_0(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 34, dst += 32) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src));
		const int8_t *qs = (const int8_t *)(src + 2);
		for (int j = 0; j < 32; j++)
			dst[j] = (float)qs[j] * d;
	}
}

/*
 * block_q8_1 (36 bytes): d (f16), s (f16, d times the sum of the quants,
 * kept for dot products), qs[32] (int8). ggml has no to_float for Q8_1 (it
 * is an intermediate type of matrix products); its values are q * d as for
 * Q8_0 (quantize_row_q8_1_ref stores q = round(x / d)), and s is not used.
 */
void wfs_ggml_q8_1(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 36, dst += 32) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src));
		const int8_t *qs = (const int8_t *)(src + 4);
		for (int j = 0; j < 32; j++)
			dst[j] = (float)qs[j] * d;
	}
}

/* block_iq4_nl (18 bytes): d (f16), qs[16]. dequantize_row_iq4_nl: y = d * kvalues_iq4nl[q]. */
void wfs_ggml_iq4_nl(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 18, dst += 32) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src));
		const uint8_t *qs = src + 2;
		for (int j = 0; j < 16; j++) {
			dst[j] = d * (float)wfs_ggml_iq4nl_values[qs[j] & 0x0f];
			dst[j + 16] = d * (float)wfs_ggml_iq4nl_values[qs[j] >> 4];
		}
	}
}

/*
 * MXFP4's E8M0 scale halved (ggml-impl.h, ggml_e8m0_to_fp32_half): 2^(e-128)
 * as a float; e = 0 and 1 give the subnormals 2^-128 and 2^-127. e = 255
 * gives 2^127, not NaN: ggml does not treat the OCP MX NaN encoding
 * specially, and neither does this.
 */
static inline float e8m0_half(uint8_t e)
{
	uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
	return wfs_ggml_bits_f32(bits);
}

/* block_mxfp4 (17 bytes): e (E8M0), qs[16]. dequantize_row_mxfp4: y = kvalues_mxfp4[q] * d. */
void wfs_ggml_mxfp4(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 17, dst += 32) {
		const float d = e8m0_half(src[0]);
		const uint8_t *qs = src + 1;
		for (int j = 0; j < 16; j++) {
			dst[j] = (float)mxfp4_values[qs[j] & 0x0f] * d;
			dst[j + 16] = (float)mxfp4_values[qs[j] >> 4] * d;
		}
	}
}
