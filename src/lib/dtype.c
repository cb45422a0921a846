/**
 * @file dtype.c
 * Names and storage sizes of every element type: one table.
 *
 * Block sizes of the ggml types are those of ggml's type traits
 * (ggml/src/ggml.c, type_traits[]: blck_size and type_size, from the block
 * structs of ggml-common.h); the ggml ids are enum ggml_type of ggml.h.
 */
#include <string.h>

#include "internal.h"
#include "weightfs/dtype.h"

static const struct {
	const char *name;
	unsigned bits;        /* per element; 0 for block types */
	unsigned block_elems; /* elements per block */
	unsigned block_bytes; /* bytes per block */
	int ggml_id;          /* enum ggml_type, or -1 */
	bool safetensors;     /* a name a safetensors header may use */
} dtypes[WFS_DT_COUNT] = {
	[WFS_DT_BOOL] = {"BOOL", 8, 1, 1, -1, true},
	[WFS_DT_U8] = {"U8", 8, 1, 1, -1, true},
	[WFS_DT_I8] = {"I8", 8, 1, 1, 24, true},
	[WFS_DT_F8_E5M2] = {"F8_E5M2", 8, 1, 1, -1, true},
	[WFS_DT_F8_E4M3] = {"F8_E4M3", 8, 1, 1, -1, true},
	[WFS_DT_F8_E8M0] = {"F8_E8M0", 8, 1, 1, -1, true},
	[WFS_DT_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8, 1, 1, -1, true},
	[WFS_DT_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8, 1, 1, -1, true},
	[WFS_DT_I16] = {"I16", 16, 1, 2, 25, true},
	[WFS_DT_U16] = {"U16", 16, 1, 2, -1, true},
	[WFS_DT_F16] = {"F16", 16, 1, 2, 1, true},
	[WFS_DT_BF16] = {"BF16", 16, 1, 2, 30, true},
	[WFS_DT_I32] = {"I32", 32, 1, 4, 26, true},
	[WFS_DT_U32] = {"U32", 32, 1, 4, -1, true},
	[WFS_DT_F32] = {"F32", 32, 1, 4, 0, true},
	[WFS_DT_I64] = {"I64", 64, 1, 8, 27, true},
	[WFS_DT_U64] = {"U64", 64, 1, 8, -1, true},
	[WFS_DT_F64] = {"F64", 64, 1, 8, 28, true},
	[WFS_DT_C64] = {"C64", 64, 1, 8, -1, true},
	[WFS_DT_F4] = {"F4", 4, 2, 1, -1, true},
	[WFS_DT_F6_E2M3] = {"F6_E2M3", 6, 4, 3, -1, true},
	[WFS_DT_F6_E3M2] = {"F6_E3M2", 6, 4, 3, -1, true},
	[WFS_DT_C128] = {"C128", 128, 1, 16, -1, false},
	[WFS_DT_I4] = {"I4", 4, 2, 1, -1, false},
	[WFS_DT_U4] = {"U4", 4, 2, 1, -1, false},
	[WFS_DT_Q4_0] = {"Q4_0", 0, 32, 18, 2, false},
	[WFS_DT_Q4_1] = {"Q4_1", 0, 32, 20, 3, false},
	[WFS_DT_Q5_0] = {"Q5_0", 0, 32, 22, 6, false},
	[WFS_DT_Q5_1] = {"Q5_1", 0, 32, 24, 7, false},
	[WFS_DT_Q8_0] = {"Q8_0", 0, 32, 34, 8, false},
	[WFS_DT_Q8_1] = {"Q8_1", 0, 32, 36, 9, false},
	[WFS_DT_Q2_K] = {"Q2_K", 0, 256, 84, 10, false},
	[WFS_DT_Q3_K] = {"Q3_K", 0, 256, 110, 11, false},
	[WFS_DT_Q4_K] = {"Q4_K", 0, 256, 144, 12, false},
	[WFS_DT_Q5_K] = {"Q5_K", 0, 256, 176, 13, false},
	[WFS_DT_Q6_K] = {"Q6_K", 0, 256, 210, 14, false},
	[WFS_DT_Q8_K] = {"Q8_K", 0, 256, 292, 15, false},
	[WFS_DT_IQ2_XXS] = {"IQ2_XXS", 0, 256, 66, 16, false},
	[WFS_DT_IQ2_XS] = {"IQ2_XS", 0, 256, 74, 17, false},
	[WFS_DT_IQ3_XXS] = {"IQ3_XXS", 0, 256, 98, 18, false},
	[WFS_DT_IQ1_S] = {"IQ1_S", 0, 256, 50, 19, false},
	[WFS_DT_IQ4_NL] = {"IQ4_NL", 0, 32, 18, 20, false},
	[WFS_DT_IQ3_S] = {"IQ3_S", 0, 256, 110, 21, false},
	[WFS_DT_IQ2_S] = {"IQ2_S", 0, 256, 82, 22, false},
	[WFS_DT_IQ4_XS] = {"IQ4_XS", 0, 256, 136, 23, false},
	[WFS_DT_IQ1_M] = {"IQ1_M", 0, 256, 56, 29, false},
	[WFS_DT_TQ1_0] = {"TQ1_0", 0, 256, 54, 34, false},
	[WFS_DT_TQ2_0] = {"TQ2_0", 0, 256, 66, 35, false},
	[WFS_DT_MXFP4] = {"MXFP4", 0, 32, 17, 39, false},
};

const char *wfs_dtype_name(enum wfs_dtype dt)
{
	return (unsigned)dt < WFS_DT_COUNT ? dtypes[dt].name : "?";
}

unsigned wfs_dtype_bits(enum wfs_dtype dt)
{
	return (unsigned)dt < WFS_DT_COUNT ? dtypes[dt].bits : 0;
}

unsigned wfs_dtype_block_elems(enum wfs_dtype dt)
{
	return (unsigned)dt < WFS_DT_COUNT ? dtypes[dt].block_elems : 1;
}

unsigned wfs_dtype_block_bytes(enum wfs_dtype dt)
{
	return (unsigned)dt < WFS_DT_COUNT ? dtypes[dt].block_bytes : 0;
}

bool wfs_dtype_is_ggml_block(enum wfs_dtype dt)
{
	return (unsigned)dt < WFS_DT_COUNT && dtypes[dt].bits == 0;
}

int wfs_dtype_nbytes(enum wfs_dtype dt, uint64_t numel, uint64_t *out)
{
	if ((unsigned)dt >= WFS_DT_COUNT)
		return -EINVAL;
	if (numel % dtypes[dt].block_elems)
		return -EINVAL;
	if (__builtin_mul_overflow(numel / dtypes[dt].block_elems, (uint64_t)dtypes[dt].block_bytes, out))
		return -EOVERFLOW;
	return 0;
}

int wfs_dtype_parse(const char *name, size_t len, enum wfs_dtype *out)
{
	for (unsigned i = 0; i < WFS_DT_COUNT; i++) {
		if (dtypes[i].safetensors && strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, name, len) == 0) {
			*out = (enum wfs_dtype)i;
			return 0;
		}
	}
	return -EINVAL;
}

int wfs_dtype_from_ggml(uint32_t ggml_type, enum wfs_dtype *out)
{
	for (unsigned i = 0; i < WFS_DT_COUNT; i++) {
		if (dtypes[i].ggml_id >= 0 && (uint32_t)dtypes[i].ggml_id == ggml_type) {
			*out = (enum wfs_dtype)i;
			return 0;
		}
	}
	return -EINVAL;
}
