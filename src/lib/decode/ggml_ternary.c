/**
 * @file ggml_ternary.c
 * ggml's ternary types TQ1_0 and TQ2_0 (256 elements per block, values
 * -d, 0, +d), decoded to float32.
 *
 * Layouts: block_tq1_0 and block_tq2_0 of ggml/src/ggml-common.h
 * (little-endian, no padding). Values and order: dequantize_row_tq1_0 and
 * dequantize_row_tq2_0 of ggml/src/ggml-quants.c.
 */
/* No fused multiply-add: ggml rounds every product (see ggml_blocks.h). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "ggml_blocks.h"

/*
 * TQ1_0 packs five trits per byte as a fixed-point fraction: the byte is
 * ceil(v * 256 / 243) (ggml's quantize_row_tq1_0_ref) for the base-3
 * number v whose first digit is the most significant. Digit n (0..4) is
 * recovered by multiplying the byte by 3^n modulo 256 (dropping the digits
 * before it) and taking (q * 3) >> 8, which is 0, 1 or 2; the value is that
 * digit minus one.
 */
static inline float trit(uint8_t byte, unsigned pow3)
{
	unsigned q = (byte * pow3) & 0xffu;
	return (float)((int)((q * 3u) >> 8) - 1);
}

/*
 * block_tq1_0 (54 bytes): qs[48] (five trits each), qh[4] (four trits
 * each), d (f16). Element order (dequantize_row_tq1_0): for qs[0..31], digit
 * n of byte m is element 32n + m (160 elements); for qs[32..47], digit n of
 * byte 32 + m is element 160 + 16n + m (80 elements); then digit n (0..3) of
 * qh[j] is element 240 + 4n + j. y = (trit - 1) * d.
 */
void wfs_ggml_tq1_0(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	static const unsigned pow3[5] = {1, 3, 9, 27, 81};
	for (size_t i = 0; i < nblocks; i++, src += 54) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src + 52));
		const uint8_t *qs = src, *qh = src + 48;
		for (int n = 0; n < 5; n++, dst += 32)
			for (int m = 0; m < 32; m++)
				dst[m] = trit(qs[m], pow3[n]) * d;
		for (int n = 0; n < 5; n++, dst += 16)
			for (int m = 0; m < 16; m++)
				dst[m] = trit(qs[32 + m], pow3[n]) * d;
		for (int n = 0; n < 4; n++, dst += 4)
			for (int j = 0; j < 4; j++)
				dst[j] = trit(qh[j], pow3[n]) * d;
	}
}

/*
 * block_tq2_0 (66 bytes): qs[64] (four 2-bit values each), d (f16).
 * dequantize_row_tq2_0: for each 32-byte half h, bit pair l (0..3) of byte
 * m is element 128h + 32l + m; y = (q - 1) * d (q = 3 gives 2 * d: ggml
 * does not reject it).
 */
void wfs_ggml_tq2_0(const uint8_t *restrict src, size_t nblocks, float *restrict dst)
{
	for (size_t i = 0; i < nblocks; i++, src += 66) {
		const float d = wfs_ggml_f16(wfs_ggml_ld16(src + 64));
		for (int h = 0; h < 2; h++) {
			const uint8_t *qs = src + 32 * h;
			for (unsigned l = 0; l < 4; l++, dst += 32)
				for (int m = 0; m < 32; m++)
					dst[m] = (float)((int)((qs[m] >> (2 * l)) & 3u) - 1) * d;
		}
	}
}
