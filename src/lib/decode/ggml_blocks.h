/**
 * @file ggml_blocks.h
 * Private to src/lib/decode: the per-type block decoders that ggml.c
 * dispatches to, and the little-endian loads and the exact half -> float
 * conversion they share.
 *
 * Every decoder takes @p nblocks whole blocks at @p src and writes
 * nblocks * block_elems floats at @p dst; the two must not overlap. Every
 * bit pattern is accepted: integer arithmetic stays in unsigned or small
 * int ranges and every shift count is below the operand's width, so no
 * input reaches undefined behaviour.
 *
 * Float operations follow ggml's reference dequantizers
 * (ggml/src/ggml-quants.c, dequantize_row_*) in order and in type, so that
 * results are bit-identical: e.g. Q4_K computes d1 = d * sc and m1 = min * m
 * once per sub-block, then d1 * q - m1 per element, as two roundings. These
 * files must not be compiled with floating-point contraction (a fused
 * multiply-add rounds once and gives other bits): each says so with a
 * pragma (`STDC FP_CONTRACT OFF` for clang, `GCC optimize("fp-contract=off")`
 * for GCC, which would otherwise fuse in gnu modes with -march=haswell).
 * In fact every product that is followed by an addition here is exact (a
 * half's 11 significant bits times integers of at most 6 + 4 bits), so
 * fusing would not change a bit today (checked: a -march=haswell gnu17
 * build with FMA passes test_ggml_decode); the pragmas keep that from being
 * an argument the code depends on. Where products do round (Q6_K's
 * (d * sc) * q, IQ4_XS's (d * (ls - 32)) * kvalue), the grouping is ggml's,
 * and the tests fail on the other grouping.
 *
 * Special scales decode by plain IEEE arithmetic, as in ggml: an Inf scale
 * gives +-Inf, and NaN where the quant is 0 (0 * Inf) or where Inf - Inf
 * occurs; a NaN scale gives NaN (on x86 the scale's own quieted NaN; which
 * of two NaN operands survives a sum is the compiler's choice, in ggml as
 * here); subnormal scales give exact products.
 */
#ifndef WEIGHTFS_DECODE_GGML_BLOCKS_H
#define WEIGHTFS_DECODE_GGML_BLOCKS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t wfs_ggml_ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t wfs_ggml_ld32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline float wfs_ggml_bits_f32(uint32_t bits)
{
	float f;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

/**
 * IEEE 754 binary16 -> binary32, exactly (every half is a float).
 *
 * - Normal halves: the exponent is rebiased (15 -> 127) and the 10 mantissa
 *   bits become the top of the float's 23.
 * - Subnormal halves (exponent field 0, mantissa m != 0) are m * 2^-24,
 *   which are normal floats: m is normalised with integer operations (so
 *   the result does not depend on the FPU's flush-to-zero mode).
 * - +-0 stays signed zero; +-Inf stays +-Inf.
 * - NaN keeps its sign and its payload (shifted up 13 bits) and comes out
 *   quiet (bit 22 set): that is what ggml's own conversion
 *   (ggml_compute_fp16_to_fp32 in ggml-impl.h, which multiplies the
 *   rebiased NaN by 2^-112 and so quiets it on x86 SSE) and x86's F16C
 *   vcvtph2ps give, so a NaN scale produces the same NaN bits as ggml.
 */
static inline float wfs_ggml_f16(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t man = h & 0x3ffu;
	uint32_t bits;
	if (exp == 0) {
		if (man == 0) {
			bits = sign;
		} else {
			/* m * 2^-24 with m's top bit at position p (0..9): 1.f * 2^(p - 24) */
			unsigned p = 31u - (unsigned)__builtin_clz(man);
			bits = sign | (p + 103u) << 23 | ((man << (23u - p)) & 0x7fffffu);
		}
	} else if (exp == 0x1f) {
		bits = sign | 0x7f800000u | man << 13 | (man ? 0x00400000u : 0);
	} else {
		bits = sign | (exp + 112u) << 23 | man << 13;
	}
	return wfs_ggml_bits_f32(bits);
}

/* Legacy 32-element blocks and the other 32-element types (ggml_legacy.c). */
void wfs_ggml_q4_0(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_q4_1(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_q5_0(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_q5_1(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_q8_0(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_q8_1(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_iq4_nl(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_mxfp4(const uint8_t *restrict src, size_t nblocks, float *restrict dst);

/* K-quants and IQ4_XS, 256-element super-blocks (ggml_kquants.c). */
void wfs_ggml_q2_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_q3_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_q4_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_q5_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_q6_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_q8_k(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_iq4_xs(const uint8_t *restrict src, size_t nblocks, float *restrict dst);

/* Ternary types (ggml_ternary.c). */
void wfs_ggml_tq1_0(const uint8_t *restrict src, size_t nblocks, float *restrict dst);
void wfs_ggml_tq2_0(const uint8_t *restrict src, size_t nblocks, float *restrict dst);

/** The IQ4_NL / IQ4_XS code book (ggml-common.h, kvalues_iq4nl). */
extern const int8_t wfs_ggml_iq4nl_values[16];

#endif
