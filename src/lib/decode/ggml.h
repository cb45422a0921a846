/**
 * @file ggml.h
 * Dequantizing ggml's block types to float32, written from the published
 * block layouts (ggml-common.h block_* structs, ggml-quants.c
 * dequantize_row_*), checked against the values ggml's reference C
 * dequantizer produces (tests/data/gguf-samples/manifest.json).
 */
#ifndef WEIGHTFS_DECODE_GGML_H
#define WEIGHTFS_DECODE_GGML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weightfs/dtype.h"

/** True when wfs_ggml_to_f32() decodes @p dt (a ggml block type). */
bool wfs_ggml_decodes(enum wfs_dtype dt);

/**
 * Decodes @p nblocks whole blocks of type @p dt at @p src
 * (nblocks * wfs_dtype_block_bytes(dt) bytes) into nblocks *
 * wfs_dtype_block_elems(dt) floats at @p dst (the two must not overlap).
 * Every bit pattern is accepted (no input can make it fail or read out of
 * bounds); the floats are bit for bit those of ggml's reference
 * dequantizer, special scales included (an Inf or NaN f16 scale gives
 * Inf/NaN by IEEE arithmetic, as in ggml; see ggml_blocks.h). Decoding
 * any run of whole blocks gives the same floats as decoding the tensor.
 * Returns 0, or -ENOTSUP for a type it does not decode (the grid-based
 * IQ1/IQ2/IQ3 types), in which case @p dst is untouched.
 */
int wfs_ggml_to_f32(enum wfs_dtype dt, const uint8_t *src, size_t nblocks, float *dst);

#endif
