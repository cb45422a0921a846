/**
 * @file layout.c
 * Lays a tensor view out over its storage (see layout.h).
 */
#include "layout.h"

int wfs_pt_layout(const struct wfs_pt_tensor *t, uint64_t base, uint64_t bytes, struct wfs_pt_layout *out,
		  const char **why)
{
	unsigned esize = wfs_dtype_block_bytes(t->dtype);
	if (esize == 0 || wfs_dtype_block_elems(t->dtype) != 1) {
		*why = "its dtype has no whole element size";
		return -1;
	}
	uint64_t numel = 1;
	bool overflow = false;
	for (uint32_t d = 0; d < t->ndim; d++)
		overflow |= __builtin_mul_overflow(numel, t->shape[d], &numel);
	if (overflow || __builtin_mul_overflow(numel, (uint64_t)esize, &out->nbytes)) {
		*why = "its size overflows 64 bits";
		return -1;
	}
	uint64_t first;
	if (__builtin_mul_overflow(t->storage_offset, (uint64_t)esize, &first) ||
	    __builtin_add_overflow(base, first, &out->offset)) {
		*why = "its storage offset overflows 64 bits";
		return -1;
	}
	out->contiguous = true;
	if (numel == 0) { /* no element is read: only the offset must be sane */
		if (first > bytes)
			out->offset = base;
		return 0;
	}
	/* The last element the view reaches, and whether the strides are row-major. */
	uint64_t last = t->storage_offset, expect = 1;
	for (uint32_t d = t->ndim; d-- > 0;) {
		uint64_t step;
		if (__builtin_mul_overflow(t->shape[d] - 1, t->stride[d], &step) ||
		    __builtin_add_overflow(last, step, &last)) {
			*why = "its strides overflow 64 bits";
			return -1;
		}
		if (t->shape[d] != 1) {
			if (t->stride[d] != expect)
				out->contiguous = false;
			if (__builtin_mul_overflow(expect, t->shape[d], &expect))
				expect = UINT64_MAX;
		}
	}
	uint64_t end;
	if (__builtin_add_overflow(last, 1, &end) || __builtin_mul_overflow(end, (uint64_t)esize, &end) ||
	    end > bytes) {
		*why = "its view (storage offset, sizes and strides) reaches past its storage";
		return -1;
	}
	return 0;
}
