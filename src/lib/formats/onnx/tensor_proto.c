/**
 * @file tensor_proto.c
 * One TensorProto: its name, data_type, dims and where its data lies
 * (raw_data, a packed typed field, or external_data), with every field's
 * wire type, count and length checked. The values are not read here.
 */
#include <stdio.h>
#include <string.h>

#include "internal_onnx.h"

/* A decimal number of at most 19 digits (no sign, no spaces): 0, or -1. */
static int parse_decimal(const uint8_t *s, size_t len, uint64_t *out)
{
	if (len == 0 || len > 19)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* external_data: a StringStringEntryProto. */
static int read_external_entry(struct wfs_onnx_reader *r, struct wfs_cursor c, struct wfs_onnx_tensor *t,
			       unsigned *seen)
{
	const uint8_t *key = NULL, *value = NULL;
	size_t klen = 0, vlen = 0;
	struct wfs_pb_field f;
	const char *why;
	int more;
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		if (f.number != 1 && f.number != 2)
			continue;
		if (f.wire != WFS_PB_LEN)
			return wfs_onnx_wire(r, "external_data", &f, WFS_PB_LEN);
		if (f.number == 1) {
			key = f.sub.p;
			klen = wfs_pb_len(&f);
		} else {
			value = f.sub.p;
			vlen = wfs_pb_len(&f);
		}
	}
	if (more < 0)
		return wfs_onnx_bad(r, &c, "external_data", why);
	unsigned bit;
	if (klen == 8 && memcmp(key, "location", 8) == 0)
		bit = 1;
	else if (klen == 6 && memcmp(key, "offset", 6) == 0)
		bit = 2;
	else if (klen == 6 && memcmp(key, "length", 6) == 0)
		bit = 4;
	else
		return 0; /* checksum, basepath...: not needed to find the bytes */
	if (*seen & bit)
		return wfs_onnx_fail(r, "external_data key \"%.*s\" appears twice", (int)klen, (const char *)key);
	*seen |= bit;
	if (bit == 1) {
		t->location = value;
		t->location_len = vlen;
		if (vlen == 0)
			return wfs_onnx_fail(r, "external_data location is empty");
		return 0;
	}
	uint64_t v = 0;
	if (parse_decimal(value, vlen, &v) < 0)
		return wfs_onnx_fail(r, "external_data %s \"%.*s\" is not a decimal number below 10^19",
				     bit == 2 ? "offset" : "length", (int)(vlen > 40 ? 40 : vlen), (const char *)value);
	if (bit == 2) {
		t->ext_offset = v;
	} else {
		t->ext_length = v;
		t->has_ext_length = true;
	}
	return 0;
}

static int add_dim(struct wfs_onnx_reader *r, uint32_t *ndim, uint64_t *dims, uint64_t v)
{
	if (*ndim >= WFS_ONNX_MAX_DIMS)
		return wfs_onnx_fail(r, "more than %d dims", WFS_ONNX_MAX_DIMS);
	if ((int64_t)v < 0)
		return wfs_onnx_fail(r, "negative dim %lld", (long long)(int64_t)v);
	dims[(*ndim)++] = v;
	return 0;
}

/* dims: repeated int64, unpacked (one varint per field) or packed. */
int wfs_onnx_read_dims(struct wfs_onnx_reader *r, const struct wfs_pb_field *f, uint32_t *ndim, uint64_t *dims)
{
	if (f->wire == WFS_PB_VARINT)
		return add_dim(r, ndim, dims, f->value);
	if (f->wire != WFS_PB_LEN)
		return wfs_onnx_wire(r, "dims", f, WFS_PB_VARINT);
	struct wfs_cursor c = f->sub;
	while (wfs_cur_left(&c)) {
		uint64_t v = wfs_cur_varint(&c);
		if (c.bad)
			return wfs_onnx_fail(r, "dims: truncated or overlong varint at offset %zu", wfs_cur_offset(&c));
		int rc = add_dim(r, ndim, dims, v);
		if (rc)
			return rc;
	}
	return 0;
}

static const char *field_name(uint32_t n)
{
	switch (n) {
	case WFS_ONNX_F_FLOAT_DATA:
		return "float_data";
	case WFS_ONNX_F_INT32_DATA:
		return "int32_data";
	case WFS_ONNX_F_STRING_DATA:
		return "string_data";
	case WFS_ONNX_F_INT64_DATA:
		return "int64_data";
	case WFS_ONNX_F_RAW_DATA:
		return "raw_data";
	case WFS_ONNX_F_DOUBLE_DATA:
		return "double_data";
	case WFS_ONNX_F_UINT64_DATA:
		return "uint64_data";
	case WFS_ONNX_F_EXTERNAL:
		return "external_data";
	default:
		return "?";
	}
}

const char *wfs_onnx_field_name(enum wfs_onnx_field f)
{
	return field_name(f);
}

/* A data field: only one of them, once (a packed field split in two is refused). */
static int set_data(struct wfs_onnx_reader *r, struct wfs_onnx_tensor *t, const struct wfs_pb_field *f)
{
	if (f->number != WFS_ONNX_F_STRING_DATA && f->wire != WFS_PB_LEN)
		return wfs_onnx_fail(r, "%s has wire type %s, expected packed (length-delimited)", field_name(f->number),
				     wfs_pb_wire_name(f->wire));
	if (t->field == (enum wfs_onnx_field)f->number && f->number == WFS_ONNX_F_STRING_DATA)
		return 0;
	if (t->field != WFS_ONNX_F_NONE) {
		if (t->field == (enum wfs_onnx_field)f->number)
			return wfs_onnx_fail(r, "%s appears twice (a split packed field is not supported)",
					     field_name(f->number));
		return wfs_onnx_fail(r, "data in both %s and %s", field_name(t->field), field_name(f->number));
	}
	t->field = (enum wfs_onnx_field)f->number;
	if (f->wire == WFS_PB_LEN)
		t->data = f->sub;
	return 0;
}

/* The name (field 8), looked for first so that every message can give it; NULL if none is readable. */
static void find_name(struct wfs_onnx_reader *r, struct wfs_cursor c)
{
	struct wfs_pb_field f;
	const char *why;
	while (wfs_pb_next(&c, &f, &why) > 0) {
		if (f.number == 8 && f.wire == WFS_PB_LEN && wfs_pb_len(&f)) {
			r->tensor_name = f.sub.p;
			r->tensor_name_len = wfs_pb_len(&f);
			return;
		}
	}
}

static int read_tensor(struct wfs_onnx_reader *r, struct wfs_cursor c, struct wfs_onnx_tensor *t, bool named);

int wfs_onnx_read_tensor(struct wfs_onnx_reader *r, struct wfs_cursor c, struct wfs_onnx_tensor *t, bool named)
{
	find_name(r, c);
	int rc = read_tensor(r, c, t, named);
	r->tensor_name = NULL;
	r->tensor_name_len = 0;
	return rc;
}

static int read_tensor(struct wfs_onnx_reader *r, struct wfs_cursor c, struct wfs_onnx_tensor *t, bool named)
{
	memset(t, 0, sizeof(*t));
	t->where = r->path;
	struct wfs_pb_field f;
	const char *why;
	int more, rc = 0;
	bool has_name = false, has_type = false, external = false;
	unsigned ext_seen = 0;
	while (rc == 0 && (more = wfs_pb_next(&c, &f, &why)) > 0) {
		switch (f.number) {
		case 1: /* dims */
			rc = wfs_onnx_read_dims(r, &f, &t->ndim, t->dims);
			break;
		case 2: /* data_type */
			if (f.wire != WFS_PB_VARINT)
				return wfs_onnx_wire(r, "data_type", &f, WFS_PB_VARINT);
			if (has_type)
				return wfs_onnx_fail(r, "data_type appears twice");
			if (f.value > INT32_MAX)
				return wfs_onnx_fail(r, "data_type %llu out of range", (unsigned long long)f.value);
			t->data_type = (int32_t)f.value;
			has_type = true;
			break;
		case 3: /* segment */
			return wfs_onnx_fail(r, "segment (one chunk of a tensor split across TensorProtos) is not supported");
		case 8: /* name */
			if (f.wire != WFS_PB_LEN)
				return wfs_onnx_wire(r, "name", &f, WFS_PB_LEN);
			if (has_name)
				return wfs_onnx_fail(r, "name appears twice");
			t->name = f.sub.p;
			t->name_len = wfs_pb_len(&f);
			has_name = true;
			break;
		case WFS_ONNX_F_FLOAT_DATA:
		case WFS_ONNX_F_INT32_DATA:
		case WFS_ONNX_F_STRING_DATA:
		case WFS_ONNX_F_INT64_DATA:
		case WFS_ONNX_F_RAW_DATA:
		case WFS_ONNX_F_DOUBLE_DATA:
		case WFS_ONNX_F_UINT64_DATA:
			rc = set_data(r, t, &f);
			break;
		case 13: /* external_data */
			if (f.wire != WFS_PB_LEN)
				return wfs_onnx_wire(r, "external_data", &f, WFS_PB_LEN);
			rc = read_external_entry(r, f.sub, t, &ext_seen);
			break;
		case 14: /* data_location */
			if (f.wire != WFS_PB_VARINT)
				return wfs_onnx_wire(r, "data_location", &f, WFS_PB_VARINT);
			if (f.value > 1)
				return wfs_onnx_fail(r, "data_location %llu is neither DEFAULT (0) nor EXTERNAL (1)",
						     (unsigned long long)f.value);
			external = f.value == 1;
			break;
		default: /* doc_string, metadata_props, fields of later versions */
			break;
		}
	}
	if (rc)
		return rc;
	if (more < 0)
		return wfs_onnx_bad(r, &c, "TensorProto", why);
	if (named && (!has_name || t->name_len == 0))
		return wfs_onnx_fail(r, "TensorProto without a name");
	if (!has_type || t->data_type == WFS_ONNX_UNDEFINED)
		return wfs_onnx_fail(r, "no data_type");
	if (external) {
		if (t->field != WFS_ONNX_F_NONE)
			return wfs_onnx_fail(r, "data_location is EXTERNAL but there is data in %s", field_name(t->field));
		if (!(ext_seen & 1))
			return wfs_onnx_fail(r, "data_location is EXTERNAL but external_data has no location");
		t->field = WFS_ONNX_F_EXTERNAL;
	} else if (ext_seen) {
		return wfs_onnx_fail(r, "external_data given but data_location is not EXTERNAL");
	}
	return 0;
}
