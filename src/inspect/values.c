/**
 * @file values.c
 * Element types through the library's decoders (weightfs/decode.h), ggml
 * block types through wfs_ggml_to_f32.
 */
#include "values.h"

#include "decode.h"
#include "decode/ggml.h"

bool val_decodable(enum wfs_dtype dt)
{
	return !wfs_dtype_is_ggml_block(dt) || wfs_ggml_decodes(dt);
}

unsigned val_group(enum wfs_dtype dt)
{
	return wfs_dtype_is_ggml_block(dt) ? wfs_dtype_block_elems(dt) : dec_group(dt);
}

uint64_t val_byte_offset(enum wfs_dtype dt, uint64_t i)
{
	if (wfs_dtype_is_ggml_block(dt))
		return i / wfs_dtype_block_elems(dt) * wfs_dtype_block_bytes(dt);
	return dec_byte_offset(dt, i);
}

uint64_t val_chunk_elems(enum wfs_dtype dt, uint64_t bytes)
{
	if (wfs_dtype_is_ggml_block(dt)) {
		uint64_t n = bytes / wfs_dtype_block_bytes(dt) * wfs_dtype_block_elems(dt);
		n -= n % VAL_RUN;
		return n ? n : VAL_RUN;
	}
	return (bytes * 8 / wfs_dtype_bits(dt)) & ~(uint64_t)3;
}

bool val_narrow(enum wfs_dtype dt)
{
	return wfs_dtype_is_ggml_block(dt) || dec_narrow(dt);
}

void val_decode_f(enum wfs_dtype dt, const uint8_t *src, size_t n, float *out)
{
	if (wfs_dtype_is_ggml_block(dt))
		(void)wfs_ggml_to_f32(dt, src, n / wfs_dtype_block_elems(dt), out);
	else
		dec_decode_f(dt, src, n, out);
}

void val_decode(enum wfs_dtype dt, const uint8_t *src, size_t n, double *out)
{
	if (!wfs_dtype_is_ggml_block(dt)) {
		dec_decode(dt, src, n, out);
		return;
	}
	float f[VAL_RUN];
	(void)wfs_ggml_to_f32(dt, src, n / wfs_dtype_block_elems(dt), f);
	for (size_t i = 0; i < n; i++)
		out[i] = f[i];
}
