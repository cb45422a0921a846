/**
 * @file onnx.h
 * Reading an ONNX ModelProto from bytes in memory: the graph's
 * initializers (TensorProto), those of subgraphs (If/Loop bodies in node
 * attributes) and sparse_initializer, and the model's metadata. Nothing is
 * copied: a tensor's data is reported as where it lies in the file (or in
 * an external file); onnx.c (the format) turns that into extents.
 *
 * Field numbers are onnx.proto's (ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, SparseTensorProto, StringStringEntryProto,
 * OperatorSetIdProto).
 */
#ifndef WEIGHTFS_ONNX_H
#define WEIGHTFS_ONNX_H

#include <stdbool.h>
#include <stdint.h>

#include "weightfs/dtype.h"
#include "weightfs/error.h"

#include "../protobuf.h"

/** The most dimensions a TensorProto may have here. */
#define WFS_ONNX_MAX_DIMS 64

/** TensorProto.DataType values (onnx.proto). */
enum wfs_onnx_type {
	WFS_ONNX_UNDEFINED = 0,
	WFS_ONNX_FLOAT = 1,
	WFS_ONNX_UINT8 = 2,
	WFS_ONNX_INT8 = 3,
	WFS_ONNX_UINT16 = 4,
	WFS_ONNX_INT16 = 5,
	WFS_ONNX_INT32 = 6,
	WFS_ONNX_INT64 = 7,
	WFS_ONNX_STRING = 8,
	WFS_ONNX_BOOL = 9,
	WFS_ONNX_FLOAT16 = 10,
	WFS_ONNX_DOUBLE = 11,
	WFS_ONNX_UINT32 = 12,
	WFS_ONNX_UINT64 = 13,
	WFS_ONNX_COMPLEX64 = 14,
	WFS_ONNX_COMPLEX128 = 15,
	WFS_ONNX_BFLOAT16 = 16,
	WFS_ONNX_FLOAT8E4M3FN = 17,
	WFS_ONNX_FLOAT8E4M3FNUZ = 18,
	WFS_ONNX_FLOAT8E5M2 = 19,
	WFS_ONNX_FLOAT8E5M2FNUZ = 20,
	WFS_ONNX_UINT4 = 21,
	WFS_ONNX_INT4 = 22,
	WFS_ONNX_FLOAT4E2M1 = 23,
	WFS_ONNX_FLOAT8E8M0 = 24,
};

/** TensorProto field numbers that hold data. */
enum wfs_onnx_field {
	WFS_ONNX_F_NONE = 0,
	WFS_ONNX_F_FLOAT_DATA = 4,
	WFS_ONNX_F_INT32_DATA = 5,
	WFS_ONNX_F_STRING_DATA = 6,
	WFS_ONNX_F_INT64_DATA = 7,
	WFS_ONNX_F_RAW_DATA = 9,
	WFS_ONNX_F_DOUBLE_DATA = 10,
	WFS_ONNX_F_UINT64_DATA = 11,
	WFS_ONNX_F_EXTERNAL = 13, /**< external_data (data_location = EXTERNAL) */
};

/** One TensorProto as found: where its data is, not the data. */
struct wfs_onnx_tensor {
	const uint8_t *name;
	size_t name_len;
	int32_t data_type;
	uint32_t ndim;
	uint64_t dims[WFS_ONNX_MAX_DIMS];
	enum wfs_onnx_field field;  /**< the field holding the data (NONE: no data) */
	struct wfs_cursor data;     /**< that field's bytes (packed values, raw_data), absolute offsets */
	/* external_data */
	const uint8_t *location;
	size_t location_len;
	uint64_t ext_offset;
	uint64_t ext_length;
	bool has_ext_length;
	/* sparse_initializer: this is its values or indices tensor */
	const char *sparse_part;    /**< NULL, "values" or "indices" */
	const uint8_t *sparse_name; /**< the sparse tensor's name (its values' name) */
	size_t sparse_name_len;
	uint32_t sparse_ndim;
	uint64_t sparse_dims[WFS_ONNX_MAX_DIMS];
	const char *where;          /**< "graph.initializer[3]"-style path, for messages */
	const char *graph;          /**< NULL in the main graph; in a subgraph "NODE.ATTRIBUTE" (joined by '/' when nested) */
};

/** What the reader reports, as it finds it. Each returns 0, WFS_EINVALID (lines added) or -ENOMEM. */
struct wfs_onnx_sink {
	int (*tensor)(void *ctx, const struct wfs_onnx_tensor *t, struct wfs_error *err);
	/** ModelProto's scalar fields: "ir_version", "producer_name", "producer_version", "domain", "model_version". */
	int (*field)(void *ctx, const char *key, const char *value, size_t len);
	/** metadata_props entries. */
	int (*metadata)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen);
	/** opset_import entries (domain "" is ai.onnx). */
	int (*opset)(void *ctx, const uint8_t *domain, size_t dlen, int64_t version);
	void *ctx;
};

/**
 * Reads the ModelProto held in @p len bytes at @p buf, calling @p sink for
 * what it finds. Problems go to @p err prefixed with @p label. Returns 0,
 * WFS_EINVALID or -ENOMEM.
 */
int wfs_onnx_read_model(const uint8_t *buf, size_t len, const char *label, const struct wfs_onnx_sink *sink,
			struct wfs_error *err);

/**
 * The project's dtype of an ONNX data type: 0, or -1 for STRING, UNDEFINED
 * and types this reader does not know.
 */
int wfs_onnx_dtype(int32_t data_type, enum wfs_dtype *out);

/**
 * Checks that @p t's data field fits its data_type and holds exactly the
 * @p nbytes bytes its shape needs (raw_data, float_data, double_data: that
 * many bytes; the varint fields: that many values). Returns NULL, or what
 * is wrong (a static string, or one written into @p msg of @p msg_len).
 */
const char *wfs_onnx_check_data(const struct wfs_onnx_tensor *t, enum wfs_dtype dt, uint64_t numel,
				uint64_t nbytes, char *msg, size_t msg_len);

/** True when the data is a zero-copy byte range of the file (raw_data, float_data, double_data). */
bool wfs_onnx_zero_copy(const struct wfs_onnx_tensor *t);

/**
 * Decodes the varints of int32_data, int64_data or uint64_data into
 * @p nbytes little-endian bytes at @p out (checked by
 * wfs_onnx_check_data first), each value checked to fit its type. NULL,
 * or what is wrong (written into @p msg).
 */
const char *wfs_onnx_decode(const struct wfs_onnx_tensor *t, enum wfs_dtype dt, uint8_t *out, uint64_t nbytes,
			    char *msg, size_t msg_len);

/** ONNX's name of a data type ("FLOAT", "BFLOAT16"), or NULL when unknown. */
const char *wfs_onnx_type_name(int32_t data_type);

#endif
