/**
 * @file torch.h
 * What PyTorch's pickles mean: storage classes and dtypes, the persistent
 * id of a storage, and the REDUCE calls that rebuild a tensor.
 *
 * Sources of the rules (torch 1.13 to 2.x): torch/serialization.py
 * (_save's persistent_id: ('storage', storage_type, key, location, numel),
 * numel in elements of the storage class, or in bytes for UntypedStorage;
 * the legacy stream adds a sixth item, view_metadata), torch/_utils.py
 * (_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]), _rebuild_tensor_v3(..., dtype[, metadata]),
 * _rebuild_parameter(data, requires_grad, backward_hooks),
 * _rebuild_parameter_with_state(data, requires_grad, backward_hooks,
 * state)), torch/_tensor.py (_rebuild_from_type_v2(func, new_type, args,
 * state)), torch/storage.py (the storage classes and _new_dtypes).
 */
#ifndef WEIGHTFS_PT_TORCH_H
#define WEIGHTFS_PT_TORCH_H

#include <stdbool.h>
#include <stdint.h>

#include "pickle.h"
#include "weightfs/dtype.h"

/** Most dimensions of a tensor (torch's own limit is 64, as here). */
#define WFS_PT_MAX_NDIM 64

/** A storage a tensor views: the persistent id's fields. */
struct wfs_pt_storage {
	const char *key;       /**< into the pickle's bytes, not NUL-terminated */
	size_t key_len;
	enum wfs_dtype dtype;  /**< of the storage class (U8 for UntypedStorage) */
	uint64_t numel;        /**< elements of dtype */
};

/** A tensor as _rebuild_tensor_v2/_v3 describe it (sizes and strides in elements). */
struct wfs_pt_tensor {
	struct wfs_pt_storage storage;
	enum wfs_dtype dtype;          /**< the tensor's: the storage class's, or _v3's dtype argument */
	uint64_t storage_offset;
	uint32_t ndim;
	uint64_t shape[WFS_PT_MAX_NDIM];
	uint64_t stride[WFS_PT_MAX_NDIM];
};

/**
 * Recognises value @p id of @p p as a tensor. Returns 1 and fills @p t; 0
 * when it is no tensor at all (any other value, an opaque call); or
 * WFS_EINVALID with one message naming @p name when it is a tensor that
 * cannot be read (quantized or sparse, malformed arguments, negative
 * sizes, an unknown storage class).
 */
int wfs_pt_tensor_from(const struct wfs_pickle *p, uint32_t id, struct wfs_pt_tensor *t, const char *label,
		       const char *what, const char *name, struct wfs_error *err);

/**
 * The dtype of storage class @p name of module torch ("FloatStorage"):
 * 0, -ENOTSUP for a quantized class (QInt8Storage...), -ENOENT otherwise.
 */
int wfs_pt_storage_dtype(const char *name, size_t len, enum wfs_dtype *out);

/** The dtype of torch.@p name ("float32", "bfloat16", "float8_e4m3fn"): 0, -ENOTSUP (quantized), -ENOENT. */
int wfs_pt_dtype_named(const char *name, size_t len, enum wfs_dtype *out);

#endif
