/**
 * @file ggml.c
 * wfs_ggml_to_f32(): one table from dtype to block decoder. The decoders
 * are in ggml_legacy.c (32-element blocks), ggml_kquants.c (K-quants and
 * IQ4_XS) and ggml_ternary.c (TQ1_0, TQ2_0); ggml_blocks.h says what they
 * share. The grid-based IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and
 * IQ3_S are not decoded (-ENOTSUP).
 */
#include <errno.h>

#include "ggml.h"
#include "ggml_blocks.h"

typedef void (*decoder)(const uint8_t *restrict src, size_t nblocks, float *restrict dst);

static decoder decoder_of(enum wfs_dtype dt)
{
	switch (dt) {
	case WFS_DT_Q4_0: return wfs_ggml_q4_0;
	case WFS_DT_Q4_1: return wfs_ggml_q4_1;
	case WFS_DT_Q5_0: return wfs_ggml_q5_0;
	case WFS_DT_Q5_1: return wfs_ggml_q5_1;
	case WFS_DT_Q8_0: return wfs_ggml_q8_0;
	case WFS_DT_Q8_1: return wfs_ggml_q8_1;
	case WFS_DT_Q2_K: return wfs_ggml_q2_k;
	case WFS_DT_Q3_K: return wfs_ggml_q3_k;
	case WFS_DT_Q4_K: return wfs_ggml_q4_k;
	case WFS_DT_Q5_K: return wfs_ggml_q5_k;
	case WFS_DT_Q6_K: return wfs_ggml_q6_k;
	case WFS_DT_Q8_K: return wfs_ggml_q8_k;
	case WFS_DT_IQ4_NL: return wfs_ggml_iq4_nl;
	case WFS_DT_IQ4_XS: return wfs_ggml_iq4_xs;
	case WFS_DT_TQ1_0: return wfs_ggml_tq1_0;
	case WFS_DT_TQ2_0: return wfs_ggml_tq2_0;
	case WFS_DT_MXFP4: return wfs_ggml_mxfp4;
	default: return NULL;
	}
}

bool wfs_ggml_decodes(enum wfs_dtype dt)
{
	return decoder_of(dt) != NULL;
}

int wfs_ggml_to_f32(enum wfs_dtype dt, const uint8_t *src, size_t nblocks, float *dst)
{
	decoder dec = decoder_of(dt);
	if (dec == NULL)
		return -ENOTSUP;
	dec(src, nblocks, dst);
	return 0;
}
