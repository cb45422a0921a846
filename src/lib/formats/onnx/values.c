/**
 * @file values.c
 * An initializer's values: the project's dtype for its data_type, whether
 * the field holding them fits, and decoding the varint fields (int32_data,
 * int64_data, uint64_data) into little-endian bytes.
 *
 * ONNX stores in int32_data: INT32, INT16, INT8, UINT16, UINT8, BOOL, and
 * the bit patterns of FLOAT16, BFLOAT16 and the FLOAT8 types, one value per
 * varint; INT4, UINT4 and FLOAT4E2M1 packed two per byte, one byte per
 * varint. int64_data holds INT64; uint64_data UINT32 and UINT64.
 * float_data (FLOAT, COMPLEX64) and double_data (DOUBLE, COMPLEX128) are
 * packed fixed-width little-endian values: shown as they lie in the file.
 */
#include <stdio.h>
#include <string.h>

#include "internal_onnx.h"

int wfs_onnx_dtype(int32_t t, enum wfs_dtype *out)
{
	static const int8_t map[] = {
		[WFS_ONNX_FLOAT] = WFS_DT_F32,
		[WFS_ONNX_UINT8] = WFS_DT_U8,
		[WFS_ONNX_INT8] = WFS_DT_I8,
		[WFS_ONNX_UINT16] = WFS_DT_U16,
		[WFS_ONNX_INT16] = WFS_DT_I16,
		[WFS_ONNX_INT32] = WFS_DT_I32,
		[WFS_ONNX_INT64] = WFS_DT_I64,
		[WFS_ONNX_STRING] = -1,
		[WFS_ONNX_BOOL] = WFS_DT_BOOL,
		[WFS_ONNX_FLOAT16] = WFS_DT_F16,
		[WFS_ONNX_DOUBLE] = WFS_DT_F64,
		[WFS_ONNX_UINT32] = WFS_DT_U32,
		[WFS_ONNX_UINT64] = WFS_DT_U64,
		[WFS_ONNX_COMPLEX64] = WFS_DT_C64,
		[WFS_ONNX_COMPLEX128] = WFS_DT_C128,
		[WFS_ONNX_BFLOAT16] = WFS_DT_BF16,
		[WFS_ONNX_FLOAT8E4M3FN] = WFS_DT_F8_E4M3,
		[WFS_ONNX_FLOAT8E4M3FNUZ] = WFS_DT_F8_E4M3FNUZ,
		[WFS_ONNX_FLOAT8E5M2] = WFS_DT_F8_E5M2,
		[WFS_ONNX_FLOAT8E5M2FNUZ] = WFS_DT_F8_E5M2FNUZ,
		[WFS_ONNX_UINT4] = WFS_DT_U4,
		[WFS_ONNX_INT4] = WFS_DT_I4,
		[WFS_ONNX_FLOAT4E2M1] = WFS_DT_F4,
		[WFS_ONNX_FLOAT8E8M0] = WFS_DT_F8_E8M0,
	};
	if (t <= 0 || (size_t)t >= sizeof(map) / sizeof(map[0]) || map[t] < 0)
		return -1;
	*out = (enum wfs_dtype)map[t];
	return 0;
}

/* The typed field ONNX uses for a dtype. */
static enum wfs_onnx_field typed_field(enum wfs_dtype dt)
{
	switch (dt) {
	case WFS_DT_F32:
	case WFS_DT_C64:
		return WFS_ONNX_F_FLOAT_DATA;
	case WFS_DT_F64:
	case WFS_DT_C128:
		return WFS_ONNX_F_DOUBLE_DATA;
	case WFS_DT_I64:
		return WFS_ONNX_F_INT64_DATA;
	case WFS_DT_U32:
	case WFS_DT_U64:
		return WFS_ONNX_F_UINT64_DATA;
	default:
		return WFS_ONNX_F_INT32_DATA;
	}
}

/* Bytes one varint of a typed field becomes: the element size, 1 for the packed 4-bit types. */
static unsigned value_bytes(enum wfs_dtype dt)
{
	unsigned bits = wfs_dtype_bits(dt);
	return bits < 8 ? 1 : bits / 8;
}

bool wfs_onnx_zero_copy(const struct wfs_onnx_tensor *t)
{
	return t->field == WFS_ONNX_F_RAW_DATA || t->field == WFS_ONNX_F_FLOAT_DATA ||
	       t->field == WFS_ONNX_F_DOUBLE_DATA;
}

const char *wfs_onnx_check_data(const struct wfs_onnx_tensor *t, enum wfs_dtype dt, uint64_t numel,
				uint64_t nbytes, char *msg, size_t msg_len)
{
	switch (t->field) {
	case WFS_ONNX_F_NONE:
		if (numel)
			return "no data (no raw_data, typed field or external_data)";
		return NULL;
	case WFS_ONNX_F_EXTERNAL:
		if (t->has_ext_length && t->ext_length != nbytes) {
			snprintf(msg, msg_len, "external_data length %llu, but %s %s needs %llu bytes",
				 (unsigned long long)t->ext_length, wfs_dtype_name(dt),
				 wfs_onnx_type_name(t->data_type), (unsigned long long)nbytes);
			return msg;
		}
		return NULL;
	case WFS_ONNX_F_STRING_DATA:
		return "string_data in a tensor that is not STRING";
	default:
		break;
	}
	if (t->field != WFS_ONNX_F_RAW_DATA && t->field != typed_field(dt)) {
		snprintf(msg, msg_len, "%s cannot hold %s", wfs_onnx_field_name(t->field),
			 wfs_onnx_type_name(t->data_type));
		return msg;
	}
	uint64_t have = wfs_cur_left(&t->data);
	if (wfs_onnx_zero_copy(t)) {
		if (have != nbytes) {
			snprintf(msg, msg_len, "%s holds %llu bytes, but shape and dtype need %llu",
				 wfs_onnx_field_name(t->field), (unsigned long long)have, (unsigned long long)nbytes);
			return msg;
		}
		return NULL;
	}
	uint64_t count;
	if (wfs_pb_count_varints(t->data, &count) < 0)
		return "a varint of the typed field is truncated or longer than 10 bytes";
	uint64_t want = nbytes / value_bytes(dt);
	if (count != want) {
		snprintf(msg, msg_len, "%s holds %llu values, but shape and dtype need %llu",
			 wfs_onnx_field_name(t->field), (unsigned long long)count, (unsigned long long)want);
		return msg;
	}
	return NULL;
}

static bool is_signed(enum wfs_dtype dt)
{
	return dt == WFS_DT_I8 || dt == WFS_DT_I16 || dt == WFS_DT_I32 || dt == WFS_DT_I64;
}

const char *wfs_onnx_decode(const struct wfs_onnx_tensor *t, enum wfs_dtype dt, uint8_t *out, uint64_t nbytes,
			    char *msg, size_t msg_len)
{
	unsigned w = value_bytes(dt);
	struct wfs_cursor c = t->data;
	for (uint64_t i = 0; i < nbytes / w; i++) {
		uint64_t v = wfs_cur_varint(&c);
		if (c.bad)
			return "a varint of the typed field is truncated or longer than 10 bytes";
		bool fits;
		if (w == 8)
			fits = true;
		else if (is_signed(dt)) {
			int64_t s = (int64_t)v, lim = (int64_t)1 << (8 * w - 1);
			fits = s >= -lim && s < lim;
		} else if (dt == WFS_DT_BOOL) {
			fits = v <= 1;
		} else {
			fits = v < (uint64_t)1 << (8 * w);
		}
		if (!fits) {
			snprintf(msg, msg_len, "value %llu of %s (%lld) does not fit %s", (unsigned long long)i,
				 wfs_onnx_field_name(t->field), (long long)v, wfs_onnx_type_name(t->data_type));
			return msg;
		}
		for (unsigned k = 0; k < w; k++)
			out[i * w + k] = (uint8_t)(v >> (8 * k));
	}
	return NULL;
}
