/**
 * @file dtype.h
 * Element types of every format, under one set of names.
 *
 * Element types use the safetensors specification's names (F32, BF16,
 * F8_E4M3, ...); ggml's block-quantized types use ggml's own names (Q4_0,
 * Q4_K, IQ2_XXS, ...; ggml/include/ggml.h, enum ggml_type). A type's storage
 * is described by blocks: @c block_elems elements take @c block_bytes bytes
 * (1 element / 4 bytes for F32, 2 / 1 for F4, 4 / 3 for the F6 types,
 * 256 / 144 for Q4_K), so a tensor of N elements takes N / block_elems *
 * block_bytes bytes and N must be a multiple of block_elems.
 */
#ifndef WEIGHTFS_DTYPE_H
#define WEIGHTFS_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wfs_dtype {
	/* the safetensors types (names accepted in a safetensors header) */
	WFS_DT_BOOL,
	WFS_DT_U8,
	WFS_DT_I8,
	WFS_DT_F8_E5M2,
	WFS_DT_F8_E4M3,
	WFS_DT_F8_E8M0,
	WFS_DT_F8_E4M3FNUZ,
	WFS_DT_F8_E5M2FNUZ,
	WFS_DT_I16,
	WFS_DT_U16,
	WFS_DT_F16,
	WFS_DT_BF16,
	WFS_DT_I32,
	WFS_DT_U32,
	WFS_DT_F32,
	WFS_DT_I64,
	WFS_DT_U64,
	WFS_DT_F64,
	WFS_DT_C64,
	WFS_DT_F4,
	WFS_DT_F6_E2M3,
	WFS_DT_F6_E3M2,
	/* element types of other formats */
	WFS_DT_C128,  /**< complex double: PyTorch ComplexDouble, ONNX COMPLEX128 */
	WFS_DT_I4,    /**< ONNX INT4: two per byte, element 0 in the low nibble */
	WFS_DT_U4,    /**< ONNX UINT4: likewise */
	/* ggml's block-quantized types (ggml.h) */
	WFS_DT_Q4_0,
	WFS_DT_Q4_1,
	WFS_DT_Q5_0,
	WFS_DT_Q5_1,
	WFS_DT_Q8_0,
	WFS_DT_Q8_1,
	WFS_DT_Q2_K,
	WFS_DT_Q3_K,
	WFS_DT_Q4_K,
	WFS_DT_Q5_K,
	WFS_DT_Q6_K,
	WFS_DT_Q8_K,
	WFS_DT_IQ2_XXS,
	WFS_DT_IQ2_XS,
	WFS_DT_IQ3_XXS,
	WFS_DT_IQ1_S,
	WFS_DT_IQ4_NL,
	WFS_DT_IQ3_S,
	WFS_DT_IQ2_S,
	WFS_DT_IQ4_XS,
	WFS_DT_IQ1_M,
	WFS_DT_TQ1_0,
	WFS_DT_TQ2_0,
	WFS_DT_MXFP4,
	WFS_DT_COUNT
};

/** The type's name: safetensors' for element types ("BF16"), ggml's for blocks ("Q4_K"). */
const char *wfs_dtype_name(enum wfs_dtype dt);

/**
 * Bits per element of an element type (4 for F4/I4/U4, 6 for the F6 types);
 * 0 for ggml block types, whose elements have no whole bit size.
 */
unsigned wfs_dtype_bits(enum wfs_dtype dt);

/** Elements per block (1 for most element types, 2 for F4, 32 or 256 for ggml). */
unsigned wfs_dtype_block_elems(enum wfs_dtype dt);

/** Bytes per block (the element size for byte-sized element types). */
unsigned wfs_dtype_block_bytes(enum wfs_dtype dt);

/** True for ggml's block-quantized types (Q4_0 ... MXFP4). */
bool wfs_dtype_is_ggml_block(enum wfs_dtype dt);

/**
 * Bytes that @p numel elements take: 0, -EINVAL when @p numel is not a whole
 * number of blocks, -EOVERFLOW past 2^64.
 */
int wfs_dtype_nbytes(enum wfs_dtype dt, uint64_t numel, uint64_t *out);

/**
 * Finds a safetensors dtype by its exact (case-sensitive) name; 0 or -EINVAL.
 * Only the names a safetensors header may use are found (not "Q4_K", "C128").
 */
int wfs_dtype_parse(const char *name, size_t len, enum wfs_dtype *out);

/** Maps ggml's type id (enum ggml_type) to a dtype; 0, or -EINVAL for ids ggml no longer has or never had. */
int wfs_dtype_from_ggml(uint32_t ggml_type, enum wfs_dtype *out);

#endif
