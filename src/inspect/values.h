/**
 * @file values.h
 * Values of a tensor of any dtype, in runs of whole groups: element types
 * through decode.c, ggml's block types through the library's dequantizers
 * (wfs_ggml_to_f32, src/lib/decode/ggml.h). stats and diff use these so a
 * chunk of a Q4_K tensor starts on a block as one of BF16 starts on an
 * element.
 */
#ifndef INSPECT_VALUES_H
#define INSPECT_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weightfs/dtype.h"

/** Values decoded per call: a multiple of every ggml block size (32, 256). */
#define VAL_RUN 1024

/** True when the values of @p dt can be decoded (every element type; the ggml types the library dequantizes). */
bool val_decodable(enum wfs_dtype dt);

/** Elements per whole-byte group: the block size of a ggml type, else dec_group(). */
unsigned val_group(enum wfs_dtype dt);

/** Byte offset of element @p i (a multiple of val_group()). */
uint64_t val_byte_offset(enum wfs_dtype dt, uint64_t i);

/** Elements per chunk of about @p bytes bytes: a multiple of VAL_RUN for ggml types, of 4 otherwise. */
uint64_t val_chunk_elems(enum wfs_dtype dt, uint64_t bytes);

/** True when every value fits a float exactly (narrow element types and every ggml type). */
bool val_narrow(enum wfs_dtype dt);

/**
 * Decodes @p n elements (at most VAL_RUN; for ggml types a whole number of
 * blocks) from @p src into @p out. ggml types must be val_decodable().
 */
void val_decode_f(enum wfs_dtype dt, const uint8_t *src, size_t n, float *out);
void val_decode(enum wfs_dtype dt, const uint8_t *src, size_t n, double *out);

#endif
