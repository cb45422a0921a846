/**
 * @file safetensors.c
 * Validates one safetensors file and appends its tensors to a model.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON, then the
 * data section, which the tensors' data_offsets must tile exactly. Every
 * length and offset is checked with overflow-checked arithmetic before use;
 * nothing here trusts a number from the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int wfs_st_check_prefix(const char *label, const uint8_t prefix[8], uint64_t file_size,
			uint64_t *header_len, struct wfs_error *err)
{
	if (file_size < 8) {
		wfs_error_add(err, "%s: file is %llu bytes, shorter than the 8-byte header length",
			      label, (unsigned long long)file_size);
		return WFS_EINVALID;
	}
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | prefix[i];
	uint64_t end;
	if (n == 0) {
		wfs_error_add(err, "%s: header length is 0", label);
		return WFS_EINVALID;
	}
	if (n > WFS_MAX_HEADER_LEN) {
		wfs_error_add(err, "%s: header length %llu exceeds the limit of %llu bytes", label,
			      (unsigned long long)n, (unsigned long long)WFS_MAX_HEADER_LEN);
		return WFS_EINVALID;
	}
	if (__builtin_add_overflow(n, 8, &end) || end > file_size) {
		wfs_error_add(err, "%s: header length %llu runs past the end of the file (%llu bytes)",
			      label, (unsigned long long)n, (unsigned long long)file_size);
		return WFS_EINVALID;
	}
	*header_len = n;
	return 0;
}

/*
 * Reads a JSON value that must be a non-negative integer below 2^64. json-c
 * reads "-0" as 0 and clamps 2^64 and above; the scanner in json.c has
 * already rejected those spellings, so an int here is what the file says.
 */
static bool get_u64(struct json_object *v, uint64_t *out, char *why, size_t cap)
{
	if (json_object_is_type(v, json_type_int)) {
		int64_t s = json_object_get_int64(v);
		if (s < 0) {
			snprintf(why, cap, "%lld is not a non-negative integer", (long long)s);
			return false;
		}
		*out = json_object_get_uint64(v);
		return true;
	}
	const char *text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	snprintf(why, cap, "%.40s%s is not a non-negative integer", text, strlen(text) > 40 ? "..." : "");
	return false;
}

static int parse_shape(struct wfs_model *m, struct json_object *shape, struct wfs_tensor *t,
		       const char *label, const char *tname, struct wfs_error *err)
{
	if (!json_object_is_type(shape, json_type_array)) {
		wfs_error_add(err, "%s: tensor %s: shape must be an array of non-negative integers", label, tname);
		return WFS_EINVALID;
	}
	size_t n = json_object_array_length(shape);
	if (n > UINT32_MAX || WFS_GROW(m->dims, m->cap.dims, m->ndims, n) < 0)
		return -ENOMEM;
	t->dims = m->ndims;
	t->ndim = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		char why[96];
		if (!get_u64(json_object_array_get_idx(shape, i), &m->dims[t->dims + i], why, sizeof(why))) {
			wfs_error_add(err, "%s: tensor %s: shape must be an array of non-negative integers: %s",
				      label, tname, why);
			return WFS_EINVALID;
		}
	}
	m->ndims += n;
	return 0;
}

static int parse_offsets(struct json_object *v, uint64_t out[2], const char *label,
			 const char *tname, struct wfs_error *err)
{
	char why[96] = "";
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != 2 ||
	    !get_u64(json_object_array_get_idx(v, 0), &out[0], why, sizeof(why)) ||
	    !get_u64(json_object_array_get_idx(v, 1), &out[1], why, sizeof(why))) {
		wfs_error_add(err, "%s: tensor %s: data_offsets must be an array of two non-negative integers%s%s",
			      label, tname, why[0] ? ": " : "", why);
		return WFS_EINVALID;
	}
	if (out[0] > out[1]) {
		wfs_error_add(err, "%s: tensor %s: data_offsets [%llu,%llu] are reversed", label, tname,
			      (unsigned long long)out[0], (unsigned long long)out[1]);
		return WFS_EINVALID;
	}
	return 0;
}

/* Writes "[2,2]" (at most @p cap bytes, cut with "...") for messages. */
static void shape_for_message(const struct wfs_model *m, const struct wfs_tensor *t, char *buf, size_t cap)
{
	size_t o = (size_t)snprintf(buf, cap, "[");
	for (uint32_t i = 0; i < t->ndim && o + 24 < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%llu", i ? "," : "",
				      (unsigned long long)m->dims[t->dims + i]);
	snprintf(buf + o, cap - o, "%s]", o + 24 >= cap ? ",..." : "");
}

/* Checks that [begin,end) holds exactly numel x dtype-size bytes; sets nbytes. */
static int check_length(struct wfs_model *m, struct wfs_tensor *t, const uint64_t off[2],
			const char *label, const char *tname, struct wfs_error *err)
{
	char shape[160];
	uint64_t numel = 1;
	bool overflow = false;
	for (uint32_t i = 0; i < t->ndim; i++)
		overflow |= __builtin_mul_overflow(numel, m->dims[t->dims + i], &numel);
	shape_for_message(m, t, shape, sizeof(shape));
	if (overflow) {
		wfs_error_add(err, "%s: tensor %s: element count of shape %s overflows 64 bits", label, tname, shape);
		return WFS_EINVALID;
	}
	unsigned bits = wfs_dtype_bits(t->dtype);
	uint64_t total_bits;
	if (__builtin_mul_overflow(numel, bits, &total_bits)) {
		wfs_error_add(err, "%s: tensor %s: size of %s %s overflows 64 bits", label, tname,
			      wfs_dtype_name(t->dtype), shape);
		return WFS_EINVALID;
	}
	if (total_bits % 8) {
		wfs_error_add(err, "%s: tensor %s: %s %s is %llu bits, not a whole number of bytes", label,
			      tname, wfs_dtype_name(t->dtype), shape, (unsigned long long)total_bits);
		return WFS_EINVALID;
	}
	t->nbytes = total_bits / 8;
	if (off[1] - off[0] != t->nbytes) {
		wfs_error_add(err, "%s: tensor %s: data_offsets [%llu,%llu] do not match %s %s (%llu bytes)",
			      label, tname, (unsigned long long)off[0], (unsigned long long)off[1],
			      wfs_dtype_name(t->dtype), shape, (unsigned long long)t->nbytes);
		return WFS_EINVALID;
	}
	return 0;
}

static int add_metadata(struct wfs_model *m, struct json_object *meta, const char *label,
			const struct wfs_warn *warn, struct wfs_error *err)
{
	if (json_object_is_type(meta, json_type_null))
		return 0;
	if (!json_object_is_type(meta, json_type_object)) {
		wfs_error_add(err, "%s: __metadata__ must be null or an object of strings", label);
		return WFS_EINVALID;
	}
	int rc = 0;
	json_object_object_foreach(meta, key, val) {
		char q[WFS_QUOTE_MAX];
		wfs_quote(key, strlen(key), q);
		if (!json_object_is_type(val, json_type_string)) {
			wfs_error_add(err, "%s: __metadata__ must be null or an object of strings: the value of %s is not a string",
				      label, q);
			rc = WFS_EINVALID;
			continue;
		}
		if (rc < 0)
			continue;
		/* The first shard to define a key wins. Shards repeat the same few
		 * keys ({"format": "pt"}), so a linear search is enough. */
		size_t klen = strlen(key);
		const char *value = json_object_get_string(val);
		size_t vlen = (size_t)json_object_get_string_len(val);
		const struct wfs_kv *seen = NULL;
		for (size_t i = 0; i < m->nmetadata && !seen; i++)
			if (m->metadata[i].key.len == klen &&
			    memcmp(wfs_model_str(m, m->metadata[i].key), key, klen) == 0)
				seen = &m->metadata[i];
		if (seen) {
			if (seen->value.len != vlen || memcmp(wfs_model_str(m, seen->value), value, vlen) != 0)
				wfs_warnf(warn, "%s: __metadata__ %s differs from an earlier shard's; the earlier value is shown",
					  label, q);
			continue;
		}
		if (WFS_GROW(m->metadata, m->cap.metadata, m->nmetadata, 1) < 0)
			return -ENOMEM;
		struct wfs_kv *kv = &m->metadata[m->nmetadata];
		if (wfs_arena_add(m, key, klen, &kv->key) < 0 ||
		    wfs_arena_add(m, value, vlen, &kv->value) < 0)
			return -ENOMEM;
		m->nmetadata++;
	}
	return rc;
}

/* Parses one tensor entry; on success appends it to m->tensors and its range to @p ranges. */
static int add_tensor(struct wfs_model *m, uint32_t shard, const char *name, struct json_object *entry,
		      uint64_t data_start, const char *label, struct wfs_error *err, uint64_t off[2])
{
	char tname[WFS_QUOTE_MAX];
	wfs_quote(name, strlen(name), tname);
	if (!json_object_is_type(entry, json_type_object)) {
		wfs_error_add(err, "%s: tensor %s: entry is not an object", label, tname);
		return WFS_EINVALID;
	}
	struct json_object *dtype = NULL, *shape = NULL, *offsets = NULL;
	int rc = 0;
	json_object_object_foreach(entry, key, val) {
		if (strcmp(key, "dtype") == 0)
			dtype = val;
		else if (strcmp(key, "shape") == 0)
			shape = val;
		else if (strcmp(key, "data_offsets") == 0)
			offsets = val;
		else {
			char q[WFS_QUOTE_MAX];
			wfs_error_add(err, "%s: tensor %s: unknown key %s", label, tname, wfs_quote(key, strlen(key), q));
			rc = WFS_EINVALID;
		}
	}
	const char *missing = !dtype ? "dtype" : !shape ? "shape" : !offsets ? "data_offsets" : NULL;
	if (missing) {
		wfs_error_add(err, "%s: tensor %s: missing \"%s\"", label, tname, missing);
		return WFS_EINVALID;
	}
	if (rc < 0)
		return rc;

	struct wfs_tensor t = {.shard = shard};
	if (!json_object_is_type(dtype, json_type_string) ||
	    wfs_dtype_parse(json_object_get_string(dtype), (size_t)json_object_get_string_len(dtype), &t.dtype) < 0) {
		const char *text = json_object_to_json_string_ext(dtype, JSON_C_TO_STRING_PLAIN);
		wfs_error_add(err, "%s: tensor %s: unknown dtype %.60s", label, tname, text);
		return WFS_EINVALID;
	}
	size_t dims_mark = m->ndims;
	if ((rc = parse_shape(m, shape, &t, label, tname, err)) < 0 ||
	    (rc = parse_offsets(offsets, off, label, tname, err)) < 0 ||
	    (rc = check_length(m, &t, off, label, tname, err)) < 0) {
		m->ndims = dims_mark;
		return rc;
	}
	/* data_start + end cannot overflow: the tiling check later bounds end by the file size. */
	if (__builtin_add_overflow(data_start, off[0], &t.offset)) {
		wfs_error_add(err, "%s: tensor %s: data_offsets run past the end of the data section", label, tname);
		return WFS_EINVALID;
	}
	if (WFS_GROW(m->tensors, m->cap.tensors, m->ntensors, 1) < 0 ||
	    wfs_arena_add(m, name, strlen(name), &t.name) < 0)
		return -ENOMEM;
	/* Shape text, e.g. "[2048,2048]", kept for user.shape. */
	size_t mark = m->arena_len;
	if (WFS_GROW(m->arena, m->arena_cap, m->arena_len, 2 + (size_t)t.ndim * 21 + 1) < 0)
		return -ENOMEM;
	char *p = m->arena + mark;
	*p++ = '[';
	for (uint32_t i = 0; i < t.ndim; i++)
		p += sprintf(p, "%s%llu", i ? "," : "", (unsigned long long)m->dims[t.dims + i]);
	*p++ = ']';
	*p = '\0';
	t.shape_text.off = mark;
	t.shape_text.len = (size_t)(p - (m->arena + mark));
	m->arena_len = mark + t.shape_text.len + 1;
	m->tensors[m->ntensors++] = t;
	return 0;
}

struct range {
	uint64_t begin, end;
	size_t tensor;
};

static int compare_ranges(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

/* The ranges, sorted by offset, must tile [0, data_len) with no gap or overlap. */
static int check_tiling(const struct wfs_model *m, struct range *r, size_t n, uint64_t data_len,
			const char *label, struct wfs_error *err)
{
	qsort(r, n, sizeof(*r), compare_ranges);
	int rc = 0;
	uint64_t covered = 0;
	size_t prev = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct wfs_tensor *t = &m->tensors[r[i].tensor];
		char tname[WFS_QUOTE_MAX], pname[WFS_QUOTE_MAX];
		wfs_quote(wfs_model_str(m, t->name), t->name.len, tname);
		if (r[i].end > data_len) {
			wfs_error_add(err, "%s: tensor %s: data_offsets [%llu,%llu] run past the end of the data section (%llu bytes)",
				      label, tname, (unsigned long long)r[i].begin, (unsigned long long)r[i].end,
				      (unsigned long long)data_len);
			rc = WFS_EINVALID;
		}
		if (r[i].begin > covered) {
			wfs_error_add(err, "%s: tensor %s: data section bytes [%llu,%llu) before it belong to no tensor",
				      label, tname, (unsigned long long)covered, (unsigned long long)r[i].begin);
			rc = WFS_EINVALID;
		} else if (r[i].begin < covered) {
			const struct wfs_tensor *p = &m->tensors[r[prev].tensor];
			wfs_error_add(err, "%s: tensor %s: data_offsets [%llu,%llu] overlap tensor %s [%llu,%llu]",
				      label, tname, (unsigned long long)r[i].begin, (unsigned long long)r[i].end,
				      wfs_quote(wfs_model_str(m, p->name), p->name.len, pname),
				      (unsigned long long)r[prev].begin, (unsigned long long)r[prev].end);
			rc = WFS_EINVALID;
		}
		if (r[i].end > covered) {
			covered = r[i].end;
			prev = i;
		} else if (prev == SIZE_MAX) {
			prev = i;
		}
	}
	if (covered < data_len) {
		wfs_error_add(err, "%s: the data section has %llu bytes after the last tensor (it is %llu bytes, tensors end at %llu)",
			      label, (unsigned long long)(data_len - covered), (unsigned long long)data_len,
			      (unsigned long long)covered);
		rc = WFS_EINVALID;
	}
	return rc;
}

int wfs_st_parse_header(struct wfs_model *m, uint32_t shard, const char *label, const struct wfs_warn *warn,
			const char *header, size_t header_len, uint64_t file_size,
			struct wfs_error *err)
{
	if (header_len == 0 || header[0] != '{') {
		if (header_len && (unsigned char)header[0] >= 0x80)
			wfs_error_add(err, "%s: header is not valid UTF-8 (near byte 0)", label);
		else
			wfs_error_add(err, "%s: header is not a JSON object (it does not start with '{')", label);
		return WFS_EINVALID;
	}
	struct json_object *root;
	int rc = wfs_json_parse(label, header, header_len, WFS_JSON_HEADER, &root, err);
	if (rc < 0)
		return rc;

	uint64_t data_start = 8 + (uint64_t)header_len; /* bounded by wfs_st_check_prefix */
	uint64_t data_len = file_size - data_start;
	size_t first = m->ntensors;
	struct range *ranges = NULL;
	size_t nranges = 0, cap = 0;

	json_object_object_foreach(root, name, entry) {
		if (strcmp(name, "__metadata__") == 0) {
			int r = add_metadata(m, entry, label, warn, err);
			if (r < 0 && rc == 0)
				rc = r;
			continue;
		}
		uint64_t off[2];
		int r = add_tensor(m, shard, name, entry, data_start, label, err, off);
		if (r < 0) {
			if (rc == 0 || r == -ENOMEM)
				rc = r;
			if (r == -ENOMEM)
				break;
			continue;
		}
		if (WFS_GROW(ranges, cap, nranges, 1) < 0) {
			rc = -ENOMEM;
			break;
		}
		ranges[nranges++] = (struct range){off[0], off[1], m->ntensors - 1};
	}
	if (rc == 0)
		rc = check_tiling(m, ranges, nranges, data_len, label, err);
	if (rc < 0)
		m->ntensors = first;
	free(ranges);
	json_object_put(root);
	return rc;
}
