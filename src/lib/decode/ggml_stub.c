/**
 * @file ggml_stub.c
 * Stands in for ggml.c (the ggml dequantizers) in a tree that does not
 * have it yet: no ggml type is decoded. meson.build compiles this file
 * only when src/lib/decode/ggml.c is absent.
 */
#include <errno.h>

#include "ggml.h"

bool wfs_ggml_decodes(enum wfs_dtype dt)
{
	(void)dt;
	return false;
}

int wfs_ggml_to_f32(enum wfs_dtype dt, const uint8_t *src, size_t nblocks, float *dst)
{
	(void)dt, (void)src, (void)nblocks, (void)dst;
	return -ENOTSUP;
}
