/**
 * @file internal_onnx.h
 * Shared by the ONNX reader's files: the reader's state and its messages.
 */
#ifndef WEIGHTFS_INTERNAL_ONNX_H
#define WEIGHTFS_INTERNAL_ONNX_H

#include "onnx.h"

struct wfs_onnx_reader {
	const char *label;
	const struct wfs_onnx_sink *sink;
	struct wfs_error *err;
	char path[256];    /**< where the reader is: "graph.node[2].attribute[0].g.initializer[1]" */
	size_t path_len;
	char graph[256];   /**< the subgraph being read: "NODE.ATTRIBUTE" pairs joined by '/', "" for the main graph */
	size_t graph_len;
	const uint8_t *tensor_name; /**< the TensorProto being read, when its name is known: messages name it */
	size_t tensor_name_len;
};

/** Adds "LABEL: PATH: message" to the problems; returns WFS_EINVALID. */
int wfs_onnx_fail(struct wfs_onnx_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** A malformed field in @p what: @p why and the offset the cursor stopped at. */
int wfs_onnx_bad(struct wfs_onnx_reader *r, const struct wfs_cursor *c, const char *what, const char *why);

/** Field @p name has the wrong wire type. */
int wfs_onnx_wire(struct wfs_onnx_reader *r, const char *name, const struct wfs_pb_field *f, uint8_t want);

/** Reads one TensorProto held by @p c into @p t (@p named: its name is required). 0 or WFS_EINVALID. */
int wfs_onnx_read_tensor(struct wfs_onnx_reader *r, struct wfs_cursor c, struct wfs_onnx_tensor *t, bool named);

/** One dims field (varint or packed) appended to dims. 0 or WFS_EINVALID. */
int wfs_onnx_read_dims(struct wfs_onnx_reader *r, const struct wfs_pb_field *f, uint32_t *ndim, uint64_t *dims);

/** The TensorProto field's name ("raw_data"). */
const char *wfs_onnx_field_name(enum wfs_onnx_field f);

#endif
