/**
 * @file fuzz_onnx.c
 * libFuzzer harness: a whole `.onnx` file (ModelProto). It is opened with
 * wfs_model_open_memory (the ONNX format: initializers, decoded typed
 * fields, metadata; external data cannot be opened from memory and is
 * refused) from a buffer of exactly its length. An accepted model's RANGE
 * tensors lie inside the file and MEMORY tensors inside the blob; every
 * tensor's first and last byte are read, and the namespace of every layout
 * is built and checked (fuzz_check.h).
 */
#include "fuzz_check.h"

#include "weightfs/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = fz_malloc(size ? size : 1);
	memcpy(copy, data, size);
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	int rc = wfs_model_open_memory(copy, size, "fuzz.onnx", &m, &err);
	FZ_CHECK(rc == 0 || rc == WFS_EINVALID || rc == -ENOMEM, "unexpected return %d", rc);
	FZ_CHECK(rc == 0 || err.count > 0, "refused without a reason");
	if (rc == 0) {
		for (size_t i = 0; i < m->ntensors; i++) {
			const struct wfs_tensor *t = &m->tensors[i];
			if (t->extent == WFS_EXTENT_RANGE)
				FZ_CHECK(t->offset <= size && t->nbytes <= size - t->offset, "a range outside the file");
			else
				FZ_CHECK(t->extent == WFS_EXTENT_MEMORY && t->offset <= m->blob_len &&
					 t->nbytes <= m->blob_len - t->offset, "a decoded tensor outside the blob");
			uint8_t b;
			if (t->nbytes) {
				FZ_CHECK(wfs_tensor_read(m, t, &b, 1, 0) == 1, "first byte");
				FZ_CHECK(wfs_tensor_read(m, t, &b, 1, t->nbytes - 1) == 1, "last byte");
			}
		}
		fz_check_layouts(m, true);
		wfs_model_free(m);
	}
	wfs_error_clear(&err);
	free(copy);
	return 0;
}
