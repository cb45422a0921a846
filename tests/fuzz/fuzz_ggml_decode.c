/**
 * @file fuzz_ggml_decode.c
 * libFuzzer harness: the ggml block dequantizers (src/lib/decode/ggml*.c).
 * The input, whatever it holds, is decoded as every ggml block type, as
 * many whole blocks as it has bytes for (a trailing partial block is not
 * handed over).
 *
 * The blocks are copied to a buffer of exactly their size and the floats go
 * to a buffer of exactly theirs, so AddressSanitizer sees any read or write
 * past a block; UBSan (fatal here) sees shifts and overflows on every bit
 * pattern. Invariants: a decoded type returns 0 and a type that is not
 * decoded -ENOTSUP without writing; decoding block by block gives the same
 * bits as decoding all blocks at once (the block-aligned entry point that
 * typed views use for reads at any offset).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/ggml.h"

#define FZ_CHECK(cond, ...)                                          \
	do {                                                          \
		if (!(cond)) {                                        \
			fputs("fuzz invariant broken: ", stderr);     \
			fprintf(stderr, __VA_ARGS__);                 \
			fputc('\n', stderr);                          \
			abort();                                      \
		}                                                     \
	} while (0)

static void *fz_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (unsigned t = 0; t < WFS_DT_COUNT; t++) {
		enum wfs_dtype dt = (enum wfs_dtype)t;
		if (!wfs_dtype_is_ggml_block(dt))
			continue;
		size_t bb = wfs_dtype_block_bytes(dt), be = wfs_dtype_block_elems(dt);
		size_t nblocks = size / bb;
		uint8_t *src = fz_alloc(nblocks * bb);
		memcpy(src, data, nblocks * bb);
		float *out = fz_alloc(nblocks * be * sizeof(float));
		float *again = fz_alloc(nblocks * be * sizeof(float));
		int rc = wfs_ggml_to_f32(dt, src, nblocks, out);
		if (!wfs_ggml_decodes(dt)) {
			FZ_CHECK(rc == -ENOTSUP, "%s: %d, not -ENOTSUP", wfs_dtype_name(dt), rc);
		} else {
			FZ_CHECK(rc == 0, "%s: %d", wfs_dtype_name(dt), rc);
			for (size_t b = 0; b < nblocks; b++)
				FZ_CHECK(wfs_ggml_to_f32(dt, src + b * bb, 1, again + b * be) == 0, "%s block %zu",
					 wfs_dtype_name(dt), b);
			FZ_CHECK(memcmp(out, again, nblocks * be * sizeof(float)) == 0,
				 "%s: block by block differs from all at once", wfs_dtype_name(dt));
		}
		free(src);
		free(out);
		free(again);
	}
	return 0;
}
