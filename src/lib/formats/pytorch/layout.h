/**
 * @file layout.h
 * Where a tensor's elements lie in its storage: torch's view rule (element
 * i0,i1,... is at storage_offset + sum(ik * stride[k]), in elements;
 * c10/core/TensorImpl.h) checked against the storage, and whether the view
 * is contiguous (row-major strides, dims of size 1 ignored, as
 * TensorImpl::compute_contiguous).
 */
#ifndef WEIGHTFS_PT_LAYOUT_H
#define WEIGHTFS_PT_LAYOUT_H

#include "torch.h"

struct wfs_pt_layout {
	bool contiguous;   /**< a plain byte range: no gather needed */
	uint64_t offset;   /**< absolute offset of element 0: base + storage_offset * element size */
	uint64_t nbytes;   /**< numel * element size */
};

/**
 * Lays tensor @p t out over its storage of @p bytes bytes at absolute
 * offset @p base. Returns 0, or -1 with *why set to a static phrase
 * ("its view reaches past its storage", "its size overflows 64 bits", ...).
 */
int wfs_pt_layout(const struct wfs_pt_tensor *t, uint64_t base, uint64_t bytes, struct wfs_pt_layout *out,
		  const char **why);

#endif
