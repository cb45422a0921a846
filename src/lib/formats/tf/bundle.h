/**
 * @file bundle.h
 * TensorFlow tensor bundle values (tensor_bundle.proto): BundleHeaderProto
 * (the value of key "") and BundleEntryProto (every other key), read with
 * the bounded protobuf cursor. Only the fields needed to find and check a
 * tensor's bytes are kept.
 */
#ifndef WEIGHTFS_TF_BUNDLE_H
#define WEIGHTFS_TF_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weightfs/dtype.h"

#define WFS_TF_MAX_DIMS 64
#define WFS_TF_MAX_SHARDS 100000  /**< data shard file names have five digits */

struct wfs_tf_header {
	int64_t num_shards;
	int64_t endianness;   /**< 0 LITTLE, 1 BIG */
	int64_t producer;     /**< version.producer */
};

/** One TensorSliceProto extent: start, and length (-1: the whole dimension). */
struct wfs_tf_extent {
	int64_t start, length;
};

struct wfs_tf_entry {
	int64_t dtype;        /**< TensorFlow's DataType enum */
	uint32_t ndim;
	uint64_t dims[WFS_TF_MAX_DIMS];
	int64_t shard_id;
	uint64_t offset, size;
	uint32_t crc32c;      /**< masked, as stored */
	bool has_crc32c;
	uint32_t nslices;     /**< TensorSliceProtos of a partitioned variable */
};

/** Reads a BundleHeaderProto. NULL, or what is wrong (static text). */
const char *wfs_tf_read_header(const uint8_t *p, size_t len, struct wfs_tf_header *h);

/** Reads a BundleEntryProto. NULL, or what is wrong (static text). */
const char *wfs_tf_read_entry(const uint8_t *p, size_t len, struct wfs_tf_entry *e);

/**
 * The project's dtype for a TensorFlow DataType: 0; 1 for types that are
 * not tensors of fixed-size elements (DT_STRING, DT_RESOURCE, DT_VARIANT);
 * -1 for unknown ones.
 */
int wfs_tf_dtype(int64_t tf_dtype, enum wfs_dtype *out);

/** TensorFlow's name of a DataType ("DT_FLOAT"), or NULL. */
const char *wfs_tf_dtype_name(int64_t tf_dtype);

#endif
