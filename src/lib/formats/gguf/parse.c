/**
 * @file gguf/parse.c
 * Reads and validates a GGUF file's header, key/value section and tensor
 * infos from bytes in memory, through the bounded cursor only (see
 * parse.h for the rules and where they come from).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cursor.h"
#include "../../internal.h"
#include "parse.h"

static const char *const type_names[WFS_GGUF_TYPE_COUNT] = {
	"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
	"BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
};

static const unsigned char type_sizes[WFS_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *wfs_gguf_type_name(uint32_t type)
{
	return type < WFS_GGUF_TYPE_COUNT ? type_names[type] : "?";
}

unsigned wfs_gguf_type_size(uint32_t type)
{
	return type < WFS_GGUF_TYPE_COUNT ? type_sizes[type] : 0;
}

/* The fewest bytes one value of a type can take (a string: its length; an array: type and count). */
static unsigned min_size(uint32_t type)
{
	if (type == WFS_GGUF_STRING)
		return 8;
	if (type == WFS_GGUF_ARRAY)
		return 12;
	return wfs_gguf_type_size(type);
}

enum fail { OK, TRUNCATED, INVALID, NOMEM };

struct parser {
	struct wfs_cursor c;
	uint64_t file_size;
	const char *label;
	struct wfs_error *err;
	enum fail fail;
	char where[WFS_QUOTE_MAX + 64]; /* "key 3 \"general.name\"", for truncation messages */
};

/* Bytes of the file after the cursor (the buffer may hold fewer). */
static uint64_t file_left(const struct parser *p)
{
	uint64_t pos = wfs_cur_offset(&p->c);
	return pos < p->file_size ? p->file_size - pos : 0;
}

static bool truncated(struct parser *p)
{
	if (p->fail == OK)
		p->fail = TRUNCATED;
	return false;
}

/* Reads a u64 length and that many bytes of valid UTF-8 (no NUL when @p no_nul). */
static bool read_string(struct parser *p, const char *what, bool no_nul, const char **s, size_t *len)
{
	size_t at = wfs_cur_offset(&p->c);
	uint64_t n = wfs_cur_u64le(&p->c);
	if (p->c.bad)
		return truncated(p);
	if (n > file_left(p)) {
		wfs_error_add(p->err, "%s: %s: string length %" PRIu64 " at byte %zu runs past the end of the file (%" PRIu64 " bytes)",
			      p->label, what, n, at, p->file_size);
		p->fail = INVALID;
		return false;
	}
	const uint8_t *b = wfs_cur_take(&p->c, n);
	if (b == NULL)
		return truncated(p);
	size_t valid = wfs_utf8_valid_prefix(b, (size_t)n);
	if (valid != n) {
		wfs_error_add(p->err, "%s: %s: string at byte %zu is not valid UTF-8 (byte %zu of it)", p->label, what,
			      at, valid);
		p->fail = INVALID;
		return false;
	}
	if (no_nul && memchr(b, '\0', (size_t)n) != NULL) {
		wfs_error_add(p->err, "%s: %s: name at byte %zu contains a NUL byte", p->label, what, at);
		p->fail = INVALID;
		return false;
	}
	*s = (const char *)b;
	*len = (size_t)n;
	return true;
}

static bool invalid(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool invalid(struct parser *p, const char *fmt, ...)
{
	char line[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	wfs_error_add(p->err, "%s: %s: %s", p->label, p->where, line);
	p->fail = INVALID;
	return false;
}

/* Checks that @p count values of at least @p each bytes can fit in the rest of the file. */
static bool count_fits(struct parser *p, uint64_t count, unsigned each, const char *what)
{
	if (each && count > file_left(p) / each)
		return invalid(p, "%s count %" PRIu64 " cannot fit in the %" PRIu64 " bytes left in the file", what,
			       count, file_left(p));
	return true;
}

static bool parse_value(struct parser *p, uint32_t type, unsigned depth);

static bool parse_array(struct parser *p, unsigned depth, uint32_t *item_type, uint64_t *count)
{
	uint32_t it = wfs_cur_u32le(&p->c);
	uint64_t n = wfs_cur_u64le(&p->c);
	if (p->c.bad)
		return truncated(p);
	if (it >= WFS_GGUF_TYPE_COUNT)
		return invalid(p, "array of unknown value type %" PRIu32, it);
	if (it == WFS_GGUF_ARRAY && depth + 1 >= WFS_GGUF_MAX_NESTING)
		return invalid(p, "arrays nested more than %d deep", WFS_GGUF_MAX_NESTING);
	if (!count_fits(p, n, min_size(it), "array item"))
		return false;
	if (item_type)
		*item_type = it;
	if (count)
		*count = n;
	unsigned size = wfs_gguf_type_size(it);
	if (size && it != WFS_GGUF_BOOL) {
		if (!wfs_cur_skip(&p->c, n * size)) /* n * size <= file_left: no overflow */
			return truncated(p);
		return true;
	}
	for (uint64_t i = 0; i < n; i++)
		if (!parse_value(p, it, depth + 1))
			return false;
	return true;
}

static bool parse_value(struct parser *p, uint32_t type, unsigned depth)
{
	if (type >= WFS_GGUF_TYPE_COUNT)
		return invalid(p, "unknown value type %" PRIu32, type);
	if (type == WFS_GGUF_STRING) {
		const char *s;
		size_t len;
		return read_string(p, p->where, false, &s, &len);
	}
	if (type == WFS_GGUF_ARRAY)
		return parse_array(p, depth, NULL, NULL);
	if (type == WFS_GGUF_BOOL) {
		uint8_t b = wfs_cur_u8(&p->c);
		if (p->c.bad)
			return truncated(p);
		if (b > 1)
			return invalid(p, "bool value %u is neither 0 nor 1", b);
		return true;
	}
	if (!wfs_cur_skip(&p->c, wfs_gguf_type_size(type)))
		return truncated(p);
	return true;
}

/* A u64 at the value's offset, when its type is an unsigned or signed integer that is not negative. */
static bool kv_uint(const uint8_t *buf, const struct wfs_gguf_kv *kv, uint64_t *out)
{
	const uint8_t *v = buf + kv->value_off;
	switch (kv->type) {
	case WFS_GGUF_UINT8: *out = v[0]; return true;
	case WFS_GGUF_UINT16: *out = wfs_ld16(v); return true;
	case WFS_GGUF_UINT32: *out = wfs_ld32(v); return true;
	case WFS_GGUF_UINT64: *out = wfs_ld64(v); return true;
	case WFS_GGUF_INT8: *out = (uint64_t)(int64_t)(int8_t)v[0]; return (int8_t)v[0] >= 0;
	case WFS_GGUF_INT16: *out = (uint64_t)(int64_t)(int16_t)wfs_ld16(v); return (int16_t)wfs_ld16(v) >= 0;
	case WFS_GGUF_INT32: *out = (uint64_t)(int64_t)(int32_t)wfs_ld32(v); return (int32_t)wfs_ld32(v) >= 0;
	case WFS_GGUF_INT64: *out = wfs_ld64(v); return (int64_t)wfs_ld64(v) >= 0;
	default: return false;
	}
}

static bool key_is(const struct wfs_gguf_kv *kv, const char *key)
{
	return kv->key_len == strlen(key) && memcmp(kv->key, key, kv->key_len) == 0;
}

const struct wfs_gguf_kv *wfs_gguf_find_kv(const struct wfs_gguf *g, const char *key)
{
	for (uint64_t i = 0; i < g->n_kv; i++)
		if (key_is(&g->kv[i], key))
			return &g->kv[i];
	return NULL;
}

static int cmp_kv(const void *a, const void *b)
{
	const struct wfs_gguf_kv *x = *(const struct wfs_gguf_kv *const *)a, *y = *(const struct wfs_gguf_kv *const *)b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static int cmp_name(const void *a, const void *b)
{
	const struct wfs_gguf_tensor *x = *(const struct wfs_gguf_tensor *const *)a,
				     *y = *(const struct wfs_gguf_tensor *const *)b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);
	return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static int cmp_offset(const void *a, const void *b)
{
	const struct wfs_gguf_tensor *x = *(const struct wfs_gguf_tensor *const *)a,
				     *y = *(const struct wfs_gguf_tensor *const *)b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

static bool parse_kvs(struct parser *p, struct wfs_gguf *g)
{
	for (uint64_t i = g->resume.kv_done; i < g->n_kv; i++) {
		snprintf(p->where, sizeof(p->where), "key %" PRIu64 " of %" PRIu64, i, g->n_kv);
		char what[64];
		snprintf(what, sizeof(what), "key %" PRIu64, i);
		struct wfs_gguf_kv kv = {0};
		if (!read_string(p, what, true, &kv.key, &kv.key_len))
			return false;
		kv.key_off = (size_t)((const uint8_t *)kv.key - p->c.base);
		char q[WFS_QUOTE_MAX];
		snprintf(p->where, sizeof(p->where), "key %s", wfs_quote(kv.key, kv.key_len, q));
		if (kv.key_len == 0)
			return invalid(p, "empty key");
		if (kv.key_len > WFS_GGUF_MAX_KEY)
			return invalid(p, "key of %zu bytes (at most %d)", kv.key_len, WFS_GGUF_MAX_KEY);
		kv.type = wfs_cur_u32le(&p->c);
		if (p->c.bad)
			return truncated(p);
		if (kv.type >= WFS_GGUF_TYPE_COUNT)
			return invalid(p, "unknown value type %" PRIu32, kv.type);
		kv.value_off = wfs_cur_offset(&p->c);
		bool ok = kv.type == WFS_GGUF_ARRAY ? parse_array(p, 0, &kv.item_type, &kv.count)
						    : parse_value(p, kv.type, 0);
		if (!ok)
			return false;
		kv.value_len = wfs_cur_offset(&p->c) - kv.value_off;
		if (WFS_GROW(g->kv, g->resume.kv_cap, (size_t)i, 1) != 0) {
			p->fail = NOMEM;
			return false;
		}
		g->kv[i] = kv;
		g->resume.kv_done = i + 1;
		g->resume.at = wfs_cur_offset(&p->c);
	}
	return true;
}

static bool parse_infos(struct parser *p, struct wfs_gguf *g)
{
	for (uint64_t i = g->resume.t_done; i < g->n_tensors; i++) {
		snprintf(p->where, sizeof(p->where), "tensor info %" PRIu64 " of %" PRIu64, i, g->n_tensors);
		char what[64];
		snprintf(what, sizeof(what), "tensor info %" PRIu64, i);
		struct wfs_gguf_tensor t = {0};
		if (!read_string(p, what, true, &t.name, &t.name_len))
			return false;
		t.name_off = (size_t)((const uint8_t *)t.name - p->c.base);
		char q[WFS_QUOTE_MAX];
		snprintf(p->where, sizeof(p->where), "tensor %s", wfs_quote(t.name, t.name_len, q));
		if (t.name_len == 0)
			return invalid(p, "empty tensor name");
		t.n_dims = wfs_cur_u32le(&p->c);
		if (p->c.bad)
			return truncated(p);
		if (t.n_dims > WFS_GGUF_MAX_DIMS)
			return invalid(p, "n_dims %" PRIu32 " is more than GGML_MAX_DIMS (%d)", t.n_dims,
				       WFS_GGUF_MAX_DIMS);
		for (unsigned d = 0; d < WFS_GGUF_MAX_DIMS; d++)
			t.ne[d] = d < t.n_dims ? wfs_cur_u64le(&p->c) : 1;
		t.ggml_type = wfs_cur_u32le(&p->c);
		t.offset = wfs_cur_u64le(&p->c);
		if (p->c.bad)
			return truncated(p);
		if (WFS_GROW(g->tensors, g->resume.t_cap, (size_t)i, 1) != 0) {
			p->fail = NOMEM;
			return false;
		}
		g->tensors[i] = t;
		g->resume.t_done = i + 1;
		g->resume.at = wfs_cur_offset(&p->c);
	}
	return true;
}

/* general.alignment and split.*: types and values. */
static bool read_special_keys(struct parser *p, const uint8_t *buf, struct wfs_gguf *g)
{
	g->alignment = WFS_GGUF_DEFAULT_ALIGNMENT;
	const struct wfs_gguf_kv *a = wfs_gguf_find_kv(g, "general.alignment");
	if (a) {
		snprintf(p->where, sizeof(p->where), "key \"general.alignment\"");
		if (a->type != WFS_GGUF_UINT32)
			return invalid(p, "type %s, not UINT32", wfs_gguf_type_name(a->type));
		uint32_t v = wfs_ld32(buf + a->value_off);
		if (v == 0 || (v & (v - 1)) != 0)
			return invalid(p, "%" PRIu32 " is not a power of two", v);
		g->alignment = v;
	}
	static const char *const split_keys[] = {"split.no", "split.count", "split.tensors.count"};
	bool *has[] = {&g->has_split_no, &g->has_split_count, &g->has_split_tensors};
	uint64_t *val[] = {&g->split_no, &g->split_count, &g->split_tensors};
	for (unsigned k = 0; k < 3; k++) {
		const struct wfs_gguf_kv *kv = wfs_gguf_find_kv(g, split_keys[k]);
		if (kv == NULL)
			continue;
		snprintf(p->where, sizeof(p->where), "key \"%s\"", split_keys[k]);
		if (!kv_uint(buf, kv, val[k]))
			return invalid(p, "type %s is not a non-negative integer", wfs_gguf_type_name(kv->type));
		*has[k] = true;
	}
	return true;
}

/* Every tensor: type, ne, size, alignment, inside the data section. Reports every problem. */
static bool check_tensors(struct parser *p, struct wfs_gguf *g)
{
	bool ok = true;
	uint64_t data_size = p->file_size > g->data_offset ? p->file_size - g->data_offset : 0;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		struct wfs_gguf_tensor *t = &g->tensors[i];
		char q[WFS_QUOTE_MAX];
		snprintf(p->where, sizeof(p->where), "tensor %s", wfs_quote(t->name, t->name_len, q));
		if (wfs_dtype_from_ggml(t->ggml_type, &t->dtype) != 0) {
			ok = invalid(p, "unknown ggml type %" PRIu32, t->ggml_type);
			continue;
		}
		uint64_t numel = 1;
		bool dims_ok = true;
		for (unsigned d = 0; d < t->n_dims && dims_ok; d++) {
			if (t->ne[d] > (uint64_t)INT64_MAX) {
				dims_ok = invalid(p, "ne[%u] = %" PRIu64 " is not below 2^63", d, t->ne[d]);
			} else if (t->ne[d] && numel > (uint64_t)INT64_MAX / t->ne[d]) {
				dims_ok = invalid(p, "the element count overflows 2^63 (ne[%u] = %" PRIu64 ")", d, t->ne[d]);
			} else {
				numel *= t->ne[d];
			}
		}
		if (!dims_ok) {
			ok = false;
			continue;
		}
		unsigned block = wfs_dtype_block_elems(t->dtype);
		if (t->ne[0] % block != 0) {
			ok = invalid(p, "ne[0] = %" PRIu64 " is not a multiple of the %s block size %u", t->ne[0],
				     wfs_dtype_name(t->dtype), block);
			continue;
		}
		if (wfs_dtype_nbytes(t->dtype, numel, &t->nbytes) != 0) {
			ok = invalid(p, "%" PRIu64 " elements of %s have no byte size below 2^64", numel,
				     wfs_dtype_name(t->dtype));
			continue;
		}
		if (t->offset % g->alignment != 0) {
			ok = invalid(p, "offset %" PRIu64 " is not a multiple of the alignment %" PRIu32, t->offset,
				     g->alignment);
			continue;
		}
	}
	if (!ok)
		return false;
	/* A truncated file puts many tensors past its end: one line says so. */
	uint64_t past = 0;
	const struct wfs_gguf_tensor *first = NULL;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct wfs_gguf_tensor *t = &g->tensors[i];
		if (t->offset > data_size || t->nbytes > data_size - t->offset) {
			if (first == NULL)
				first = t;
			past++;
		}
	}
	if (first) {
		char q[WFS_QUOTE_MAX], more[96] = "";
		if (past > 1)
			snprintf(more, sizeof(more), "; %" PRIu64 " tensors end past it (truncated?)", past);
		wfs_error_add(p->err, "%s: tensor %s: %" PRIu64 " bytes at offset %" PRIu64 " of the data section run past the end of the file (the data section has %" PRIu64 " bytes%s)",
			      p->label, wfs_quote(first->name, first->name_len, q), first->nbytes, first->offset,
			      data_size, more);
		return false;
	}
	return true;
}

/* Duplicate keys, duplicate tensor names, overlapping tensors. */
static bool check_unique(struct parser *p, struct wfs_gguf *g)
{
	bool ok = true;
	size_t n = g->n_kv > g->n_tensors ? (size_t)g->n_kv : (size_t)g->n_tensors;
	if (n < 2)
		return true;
	const void **v = malloc(n * sizeof(*v));
	if (v == NULL) {
		p->fail = NOMEM;
		return false;
	}
	char q[WFS_QUOTE_MAX];
	for (size_t i = 0; i < g->n_kv; i++)
		v[i] = &g->kv[i];
	qsort(v, (size_t)g->n_kv, sizeof(*v), cmp_kv);
	for (size_t i = 1; i < g->n_kv; i++) {
		const struct wfs_gguf_kv *b = v[i];
		if (cmp_kv(&v[i - 1], &v[i]) == 0 && (i < 2 || cmp_kv(&v[i - 2], &v[i]) != 0)) {
			wfs_error_add(p->err, "%s: key %s appears more than once", p->label,
				      wfs_quote(b->key, b->key_len, q));
			ok = false;
		}
	}
	for (size_t i = 0; i < g->n_tensors; i++)
		v[i] = &g->tensors[i];
	qsort(v, (size_t)g->n_tensors, sizeof(*v), cmp_name);
	for (size_t i = 1; i < g->n_tensors; i++) {
		const struct wfs_gguf_tensor *b = v[i];
		if (cmp_name(&v[i - 1], &v[i]) == 0 && (i < 2 || cmp_name(&v[i - 2], &v[i]) != 0)) {
			wfs_error_add(p->err, "%s: tensor %s appears more than once", p->label,
				      wfs_quote(b->name, b->name_len, q));
			ok = false;
		}
	}
	if (ok) {
		qsort(v, (size_t)g->n_tensors, sizeof(*v), cmp_offset);
		const struct wfs_gguf_tensor *prev = NULL;
		for (size_t i = 0; i < g->n_tensors; i++) {
			const struct wfs_gguf_tensor *t = v[i];
			if (t->nbytes == 0)
				continue;
			if (prev && t->offset < prev->offset + prev->nbytes) {
				char q2[WFS_QUOTE_MAX];
				wfs_error_add(p->err, "%s: tensor %s [%" PRIu64 ", %" PRIu64 ") overlaps tensor %s [%" PRIu64 ", %" PRIu64 ") in the data section",
					      p->label, wfs_quote(t->name, t->name_len, q), t->offset,
					      t->offset + t->nbytes, wfs_quote(prev->name, prev->name_len, q2),
					      prev->offset, prev->offset + prev->nbytes);
				ok = false;
			}
			if (prev == NULL || t->offset + t->nbytes > prev->offset + prev->nbytes)
				prev = t;
		}
	}
	free(v);
	return ok;
}

static int parse_header(struct parser *p, struct wfs_gguf *g)
{
	const uint8_t *magic = wfs_cur_take(&p->c, 4);
	if (magic == NULL) {
		if (p->file_size < 4) {
			wfs_error_add(p->err, "%s: %" PRIu64 " bytes are too short for a GGUF file", p->label, p->file_size);
			return WFS_EINVALID;
		}
		return -EAGAIN;
	}
	if (memcmp(magic, WFS_GGUF_MAGIC, 4) != 0) {
		wfs_error_add(p->err, "%s: not a GGUF file (the magic is not \"GGUF\")", p->label);
		return WFS_EINVALID;
	}
	g->version = wfs_cur_u32le(&p->c);
	if (p->c.bad)
		return 1;
	if (g->version == 1) {
		wfs_error_add(p->err, "%s: GGUF version 1 is not supported (only 2 and 3)", p->label);
		return WFS_EINVALID;
	}
	if ((g->version & 0xffff) == 0 && (g->version >> 16) != 0) {
		wfs_error_add(p->err, "%s: a big-endian GGUF file (version field byte-swapped: %" PRIu32 ") is not supported",
			      p->label, __builtin_bswap32(g->version));
		return WFS_EINVALID;
	}
	if (g->version != 2 && g->version != 3) {
		wfs_error_add(p->err, "%s: GGUF version %" PRIu32 " is not supported (only 2 and 3)", p->label,
			      g->version);
		return WFS_EINVALID;
	}
	g->n_tensors = wfs_cur_u64le(&p->c);
	g->n_kv = wfs_cur_u64le(&p->c);
	if (p->c.bad)
		return 1;
	snprintf(p->where, sizeof(p->where), "header");
	/* A KV takes at least 13 bytes (key length, type, one byte), a tensor info 24. */
	if (!count_fits(p, g->n_kv, 13, "KV") || !count_fits(p, g->n_tensors, 24, "tensor"))
		return WFS_EINVALID;
	if (g->n_kv > 0 && g->n_tensors > (file_left(p) - 13 * g->n_kv) / 24) {
		invalid(p, "%" PRIu64 " KVs and %" PRIu64 " tensor infos cannot fit in the %" PRIu64 " bytes left in the file",
			g->n_kv, g->n_tensors, file_left(p));
		return WFS_EINVALID;
	}
	return 0;
}

int wfs_gguf_parse(const uint8_t *buf, size_t len, uint64_t file_size, const char *label,
		   struct wfs_gguf *g, struct wfs_error *err, uint64_t *need)
{
	if (len > file_size)
		len = (size_t)file_size;
	struct parser p = {wfs_cursor_make(buf, len), file_size, label, err, OK, ""};
	*need = 0;

	int rc = 0;
	if (!g->resume.started) {
		memset(g, 0, sizeof(*g));
		rc = parse_header(&p, g);
		if (rc == 0) {
			g->resume.started = true;
			g->resume.at = wfs_cur_offset(&p.c);
		}
	} else if (g->resume.at > len) {
		rc = 1; /* a shorter prefix than last time */
	} else { /* go on where the last call stopped; the buffer may have moved */
		p.c.p = buf + g->resume.at;
		for (uint64_t i = 0; i < g->resume.kv_done; i++)
			g->kv[i].key = (const char *)buf + g->kv[i].key_off;
		for (uint64_t i = 0; i < g->resume.t_done; i++)
			g->tensors[i].name = (const char *)buf + g->tensors[i].name_off;
	}
	if (rc == 0 && parse_kvs(&p, g) && read_special_keys(&p, buf, g) && parse_infos(&p, g))
		rc = 0;
	else if (rc == 0)
		rc = p.fail == INVALID ? WFS_EINVALID : p.fail == NOMEM ? -ENOMEM : 1;

	if (rc == 1 || rc == -EAGAIN) { /* the buffer ended */
		if (len < file_size) {
			uint64_t want = len < 65536 ? 65536 : (uint64_t)len * 2;
			if (len >= WFS_GGUF_HEADER_MAX) {
				wfs_error_add(err, "%s: the header, KVs and tensor infos take more than %llu MiB",
					      label, WFS_GGUF_HEADER_MAX >> 20);
				return WFS_EINVALID;
			}
			if (want > WFS_GGUF_HEADER_MAX)
				want = WFS_GGUF_HEADER_MAX;
			*need = want < file_size ? want : file_size;
			return -EAGAIN;
		}
		if (p.where[0] == '\0')
			wfs_error_add(err, "%s: the file ends (at %" PRIu64 " bytes) inside the GGUF header", label,
				      file_size);
		else
			wfs_error_add(err, "%s: %s: the file ends (at %" PRIu64 " bytes) inside it", label, p.where,
				      file_size);
		return WFS_EINVALID;
	}
	if (rc != 0)
		return rc;

	g->infos_end = wfs_cur_offset(&p.c);
	uint64_t pad = (g->alignment - g->infos_end % g->alignment) % g->alignment;
	g->data_offset = g->infos_end + pad; /* infos_end < 2^63: no overflow */
	if (g->n_tensors > 0 && g->data_offset > file_size) {
		wfs_error_add(err, "%s: the data section would begin at byte %" PRIu64 ", past the end of the file (%" PRIu64 " bytes)",
			      label, g->data_offset, file_size);
		return WFS_EINVALID;
	}
	bool ok = check_tensors(&p, g);
	if (ok)
		ok = check_unique(&p, g);
	if (p.fail == NOMEM)
		return -ENOMEM;
	return ok ? 0 : WFS_EINVALID;
}

void wfs_gguf_release(struct wfs_gguf *g)
{
	free(g->kv);
	free(g->tensors);
	memset(g, 0, sizeof(*g));
}
