/**
 * @file bundle.c
 * BundleHeaderProto and BundleEntryProto (bundle.h), and TensorFlow's
 * DataType enum (types.proto) mapped to the project's dtypes.
 */
#include <string.h>

#include "../protobuf.h"
#include "bundle.h"

/* TensorShapeProto: dim (2) { size (1) }, unknown_rank (3). */
static const char *read_shape(struct wfs_cursor c, struct wfs_tf_entry *e)
{
	struct wfs_pb_field f;
	const char *why;
	int more;
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		if (f.number == 3) {
			if (f.wire != WFS_PB_VARINT)
				return "TensorShapeProto.unknown_rank has the wrong wire type";
			if (f.value)
				return "the shape has an unknown rank";
			continue;
		}
		if (f.number != 2)
			continue;
		if (f.wire != WFS_PB_LEN)
			return "TensorShapeProto.dim has the wrong wire type";
		if (e->ndim >= WFS_TF_MAX_DIMS)
			return "the shape has more than 64 dimensions";
		struct wfs_cursor d = f.sub;
		struct wfs_pb_field g;
		uint64_t size = 0;
		while ((more = wfs_pb_next(&d, &g, &why)) > 0) {
			if (g.number != 1)
				continue;
			if (g.wire != WFS_PB_VARINT)
				return "TensorShapeProto.Dim.size has the wrong wire type";
			size = g.value;
		}
		if (more < 0)
			return why;
		if ((int64_t)size < 0)
			return "a dimension is negative (unknown)";
		e->dims[e->ndim++] = size;
	}
	return more < 0 ? why : NULL;
}

/* TensorSliceProto: extent (1) { start (1), length (2) }: checked, counted. */
static const char *read_slice(struct wfs_cursor c)
{
	struct wfs_pb_field f;
	const char *why;
	int more;
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		if (f.number != 1)
			continue;
		if (f.wire != WFS_PB_LEN)
			return "TensorSliceProto.extent has the wrong wire type";
		struct wfs_cursor x = f.sub;
		struct wfs_pb_field g;
		while ((more = wfs_pb_next(&x, &g, &why)) > 0)
			if ((g.number == 1 || g.number == 2) && g.wire != WFS_PB_VARINT)
				return "TensorSliceProto.Extent has a field of the wrong wire type";
		if (more < 0)
			return why;
	}
	return more < 0 ? why : NULL;
}

const char *wfs_tf_read_entry(const uint8_t *p, size_t len, struct wfs_tf_entry *e)
{
	memset(e, 0, sizeof(*e));
	struct wfs_cursor c = wfs_cursor_make(p, len);
	struct wfs_pb_field f;
	const char *why, *bad;
	int more;
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		switch (f.number) {
		case 1: /* dtype */
		case 3: /* shard_id */
		case 4: /* offset */
		case 5: /* size */
			if (f.wire != WFS_PB_VARINT)
				return "BundleEntryProto: dtype, shard_id, offset or size has the wrong wire type";
			if (f.number == 1)
				e->dtype = (int64_t)f.value;
			else if (f.number == 3)
				e->shard_id = (int64_t)f.value;
			else if (f.number == 4)
				e->offset = f.value;
			else
				e->size = f.value;
			break;
		case 2: /* shape */
			if (f.wire != WFS_PB_LEN)
				return "BundleEntryProto.shape has the wrong wire type";
			e->ndim = 0;
			if ((bad = read_shape(f.sub, e)) != NULL)
				return bad;
			break;
		case 6: /* crc32c (fixed32) */
			if (f.wire != WFS_PB_I32)
				return "BundleEntryProto.crc32c has the wrong wire type";
			e->crc32c = (uint32_t)f.value;
			e->has_crc32c = true;
			break;
		case 7: /* slices */
			if (f.wire != WFS_PB_LEN)
				return "BundleEntryProto.slices has the wrong wire type";
			if ((bad = read_slice(f.sub)) != NULL)
				return bad;
			if (e->nslices == UINT32_MAX)
				return "too many slices";
			e->nslices++;
			break;
		default:
			break;
		}
	}
	if (more < 0)
		return why;
	if ((int64_t)e->offset < 0 || (int64_t)e->size < 0)
		return "BundleEntryProto: negative offset or size";
	return NULL;
}

const char *wfs_tf_read_header(const uint8_t *p, size_t len, struct wfs_tf_header *h)
{
	memset(h, 0, sizeof(*h));
	struct wfs_cursor c = wfs_cursor_make(p, len);
	struct wfs_pb_field f;
	const char *why;
	int more;
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		if (f.number == 1 || f.number == 2) {
			if (f.wire != WFS_PB_VARINT)
				return "BundleHeaderProto: num_shards or endianness has the wrong wire type";
			if (f.number == 1)
				h->num_shards = (int64_t)f.value;
			else
				h->endianness = (int64_t)f.value;
		} else if (f.number == 3) {
			if (f.wire != WFS_PB_LEN)
				return "BundleHeaderProto.version has the wrong wire type";
			struct wfs_cursor v = f.sub;
			struct wfs_pb_field g;
			while ((more = wfs_pb_next(&v, &g, &why)) > 0)
				if (g.number == 1 && g.wire == WFS_PB_VARINT)
					h->producer = (int64_t)g.value;
			if (more < 0)
				return why;
		}
	}
	return more < 0 ? why : NULL;
}

struct tf_type {
	int8_t dtype;  /* enum wfs_dtype, -1: unknown, -2: not a tensor of fixed-size elements */
	const char *name;
};

static const struct tf_type tf_types[] = {
	[1] = {WFS_DT_F32, "DT_FLOAT"},
	[2] = {WFS_DT_F64, "DT_DOUBLE"},
	[3] = {WFS_DT_I32, "DT_INT32"},
	[4] = {WFS_DT_U8, "DT_UINT8"},
	[5] = {WFS_DT_I16, "DT_INT16"},
	[6] = {WFS_DT_I8, "DT_INT8"},
	[7] = {-2, "DT_STRING"},
	[8] = {WFS_DT_C64, "DT_COMPLEX64"},
	[9] = {WFS_DT_I64, "DT_INT64"},
	[10] = {WFS_DT_BOOL, "DT_BOOL"},
	[11] = {WFS_DT_I8, "DT_QINT8"},
	[12] = {WFS_DT_U8, "DT_QUINT8"},
	[13] = {WFS_DT_I32, "DT_QINT32"},
	[14] = {WFS_DT_BF16, "DT_BFLOAT16"},
	[15] = {WFS_DT_I16, "DT_QINT16"},
	[16] = {WFS_DT_U16, "DT_QUINT16"},
	[17] = {WFS_DT_U16, "DT_UINT16"},
	[18] = {WFS_DT_C128, "DT_COMPLEX128"},
	[19] = {WFS_DT_F16, "DT_HALF"},
	[20] = {-2, "DT_RESOURCE"},
	[21] = {-2, "DT_VARIANT"},
	[22] = {WFS_DT_U32, "DT_UINT32"},
	[23] = {WFS_DT_U64, "DT_UINT64"},
	[24] = {WFS_DT_F8_E5M2, "DT_FLOAT8_E5M2"},
	[25] = {WFS_DT_F8_E4M3, "DT_FLOAT8_E4M3FN"},
	[26] = {WFS_DT_F8_E4M3FNUZ, "DT_FLOAT8_E4M3FNUZ"},
	[27] = {-1, "DT_FLOAT8_E4M3B11FNUZ"},
	[28] = {WFS_DT_F8_E5M2FNUZ, "DT_FLOAT8_E5M2FNUZ"},
	[29] = {-1, "DT_INT4"}, /* one element per byte in TensorFlow: not ONNX's packing */
	[30] = {-1, "DT_UINT4"},
};

int wfs_tf_dtype(int64_t t, enum wfs_dtype *out)
{
	if (t <= 0 || (uint64_t)t >= sizeof(tf_types) / sizeof(tf_types[0]) || tf_types[t].name == NULL ||
	    tf_types[t].dtype == -1)
		return -1;
	if (tf_types[t].dtype == -2)
		return 1;
	*out = (enum wfs_dtype)tf_types[t].dtype;
	return 0;
}

const char *wfs_tf_dtype_name(int64_t t)
{
	if (t <= 0 || (uint64_t)t >= sizeof(tf_types) / sizeof(tf_types[0]))
		return NULL;
	return tf_types[t].name;
}
